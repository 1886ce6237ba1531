"""Shared fixtures: a real HTTP server on 127.0.0.1 and config files in tmp_path."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from feedserver import FeedServer

DATA = Path(__file__).parent / "data"
# The shared corpus sits beside a workplace checkout; a plain clone has none.
CORPUS = Path(os.environ.get("FEEDD_CORPUS", Path(__file__).parents[2] / "shared" / "corpus"))


@pytest.fixture
def server() -> Iterator[FeedServer]:
    feed_server = FeedServer()
    yield feed_server
    feed_server.close()


def write_config(tmp_path: Path, feeds: list[str], extra: str = "", **feed_options: str) -> Path:
    """A config in tmp_path for the given feed URLs, with private networks allowed.

    Without worker processes unless ``extra`` sets ``workers``: they have their own
    tests (integration/test_workers.py, and the reliability suite runs feedd's
    defaults); elsewhere they would add their start-up to every daemon a test starts.
    """
    lines = [
        'database = "feedd.db"',
        "",
        "[fetch]",
        "allow_private_networks = true",
        'timeout = "10s"',
        "" if "workers" in extra else "workers = 0",
        extra,  # may open other tables: last
        "",
    ]
    for url in feeds:
        lines += ["[[feeds]]", f'url = "{url}"']
        lines += [f"{key} = {value}" for key, value in feed_options.items()]
        lines.append("")
    path = tmp_path / "feedd.toml"
    path.write_text("\n".join(lines))
    return path


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"the shared feed corpus is not here ({CORPUS}); set FEEDD_CORPUS to run")
    return CORPUS


# -- PostgreSQL: one throwaway server per test session (tests/pgserver.py), a new
# empty database per test.


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The URL of a session-wide server's maintenance database."""
    from pgserver import ServerUnavailable, postgres_server

    own = os.environ.get("FEEDD_TEST_POSTGRES_URL")
    if own:
        yield own
        return
    try:
        with postgres_server() as url:
            yield url
    except ServerUnavailable as exc:
        pytest.skip(f"no PostgreSQL server can be started here: {exc}")


_databases = iter(range(1, 1_000_000))


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A new, empty database on the session's server, dropped after the test."""
    psycopg = pytest.importorskip("psycopg", reason="pip install -e '.[test]' brings psycopg")
    name = f"feedd_t{os.getpid()}_{next(_databases)}"
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    base, _, _ = postgres_server.rpartition("/")
    yield f"{base}/{name}"
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
