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
