"""The commands on PostgreSQL, run as the installed `feedd`: `feedd fetch` into
a PostgreSQL database, every read command giving what it gives on SQLite, and
`feedd migrate-db` moving a SQLite database over.

The same feeds are fetched into a SQLite file and into a PostgreSQL database
by real `feedd fetch` runs from a local server; each read command's output
must then be the same from both (ids, dates and texts included).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from feedserver import FeedServer
from test_cli import feedd
from test_query_cli import channel, item

from feedd.config import load_config

psycopg = pytest.importorskip("psycopg", reason="pip install -e '.[test]' brings psycopg")

NOW = datetime.now(UTC)
STARTED = NOW.replace(microsecond=0)


def config_text(database: str, alpha: str, beta: str) -> str:
    return (
        f'database = "{database}"\n[fetch]\nallow_private_networks = true\ntimeout = "10s"\n'
        f'[[feeds]]\nurl = "{alpha}"\nname = "Alpha"\ntags = ["news"]\n'
        f'[[feeds]]\nurl = "{beta}"\n'
    )


_numbers = iter(range(1, 1_000_000))


def new_database(server_url: str) -> str:
    name = f"feedd_cli_{os.getpid()}_{next(_numbers)}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    return f"{server_url.rpartition('/')[0]}/{name}"


@pytest.fixture(scope="module")
def both(postgres_server: str, tmp_path_factory) -> Iterator[dict[str, Path]]:
    """One config on SQLite, one on PostgreSQL, each filled by `feedd fetch`
    from the same feeds."""
    root = tmp_path_factory.mktemp("both")
    server = FeedServer()
    try:
        alpha = server.add(
            "/alpha.xml",
            channel(
                "Alpha Feed",
                [
                    item("a1", "Climate summit opens", NOW - timedelta(hours=1)),
                    item("a2", "Budget & tax vote", NOW - timedelta(days=3)),
                    item("a3", "Café owners protest", NOW - timedelta(hours=2)),
                ],
            ),
        )
        beta = server.add(
            "/beta.xml",
            channel(
                "Beta Feed",
                [
                    item("b1", "Old climate report", datetime(2024, 1, 5, tzinfo=UTC)),
                    item("b2", "Football final", NOW - timedelta(minutes=30), ("sport",)),
                ],
            ),
        )
        configs = {}
        for backend, database in (
            ("sqlite", "feedd.db"),
            ("postgres", new_database(postgres_server)),
        ):
            folder = root / backend
            folder.mkdir()
            config = folder / "feedd.toml"
            config.write_text(config_text(database, alpha, beta))
            # One feed after the other, so that both databases number articles alike.
            for url in (alpha, beta):
                result = feedd("fetch", "-c", str(config), "--feed", url)
                assert result.returncode == 0, result.stdout + result.stderr
            configs[backend] = config
        yield configs
    finally:
        server.close()


def out(config: Path, *args: str) -> str:
    result = feedd(*args, "-c", str(config), timeout=30)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("articles", "--json"),
        ("articles",),
        ("articles", "--csv", "--feed", "Alpha"),
        ("articles", "--json", "--tag", "sport"),
        ("articles", "--json", "--since", "2025-01-01"),
        ("search", "climate", "--json"),
        ("search", "football"),
        ("show", "1", "--json"),
        ("show", "https://example.org/b2"),
        ("feeds", "--json"),
        ("export", "--format", "jsonl"),
        ("export", "--format", "csv"),
    ],
)
def test_every_read_command_answers_the_same_on_both_backends(both, args):
    assert mask(out(both["postgres"], *args)) == mask(out(both["sqlite"], *args))


STAMP = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d)?Z?")


def mask(text: str) -> str:
    """The output with the times the two fetches ran (first seen, modified,
    fetched: a second apart) masked; the feeds' own dates are the same."""

    def masked(match: re.Match[str]) -> str:
        stamp = datetime.fromisoformat(match[0].replace(" ", "T").rstrip("Z")).replace(tzinfo=UTC)
        return "<fetch time>" if stamp >= STARTED - timedelta(minutes=1) else match[0]

    return STAMP.sub(masked, text)


def test_stats_on_both_backends(both):
    sqlite, postgres = (json.loads(out(both[b], "stats", "--json")) for b in ("sqlite", "postgres"))
    assert postgres.keys() == sqlite.keys()
    for key in sqlite:
        if key != "database_bytes":  # two engines' own sizes
            assert postgres[key] == sqlite[key], key
    assert postgres["database_bytes"]["total"] > 0


def test_search_ignores_accents_on_postgres(both):
    rows = [
        json.loads(line) for line in out(both["postgres"], "search", "cafe", "--json").splitlines()
    ]
    assert [row["title"] for row in rows] == ["Café owners protest"]


def test_a_second_fetch_is_not_modified_on_postgres(both):
    result = feedd("fetch", "-c", str(both["postgres"]))
    assert result.returncode == 0, result.stderr
    assert "0 new" in result.stdout or "not modified" in result.stdout


def test_migrate_db_moves_a_sqlite_database_and_refuses_a_full_target(
    both, postgres_server: str, tmp_path: Path
):
    target = new_database(postgres_server)
    moved = feedd("migrate-db", "-c", str(both["sqlite"]), "--to", target, timeout=60)
    assert moved.returncode == 0, moved.stderr
    assert "articles" in moved.stdout and "counts checked" in moved.stdout
    config = tmp_path / "feedd.toml"
    config.write_text(both["sqlite"].read_text().replace('"feedd.db"', f'"{target}"'))
    for args in (("articles", "--json"), ("show", "2", "--json"), ("feeds", "--json")):
        assert out(config, *args) == out(both["sqlite"], *args)
    # A new article after the move gets a new id, not one of the copied ones.
    with psycopg.connect(target) as conn:
        (max_id,) = conn.execute("SELECT max(id) FROM articles").fetchone()
        (next_id,) = conn.execute(
            "SELECT nextval(pg_get_serial_sequence('articles', 'id'))"
        ).fetchone()
    assert next_id == max_id + 1

    again = feedd("migrate-db", "-c", str(both["sqlite"]), "--to", target, timeout=60)
    assert again.returncode == 1
    assert "must be a new, empty database; nothing was written" in again.stderr
    with psycopg.connect(target) as conn:
        assert conn.execute("SELECT count(*) FROM articles").fetchone() == (5,)


def test_a_server_that_cannot_be_reached_is_a_clear_error(tmp_path: Path):
    config = tmp_path / "feedd.toml"
    config.write_text('database = "postgresql://feedd@127.0.0.1:9/feedd"\n')
    for args in (("fetch",), ("articles",)):
        result = feedd(*args, "-c", str(config), timeout=30)
        assert result.returncode == 1, (args, result.stderr)
        assert "Traceback" not in result.stderr
        assert "127.0.0.1" in result.stderr


def test_fetch_leaves_out_a_feed_another_poller_is_polling(postgres_url: str, tmp_path: Path):
    from feedd.store import open_store

    server = FeedServer()
    try:
        alpha = server.add("/a.xml", channel("A", [item("a1", "Alpha one", NOW)]))
        beta = server.add("/b.xml", channel("B", [item("b1", "Beta one", NOW)]))
        config = tmp_path / "feedd.toml"
        config.write_text(config_text(postgres_url, alpha, beta))
        assert feedd("check", "-c", str(config)).returncode == 0
        other = open_store(postgres_url, owner="other-poller")
        try:
            other.sync_feeds(load_config(config).feeds, NOW)
            assert len(other.feeds_by_url([beta])) == 1  # the other poller is polling beta now
            result = feedd("fetch", "-c", str(config))
        finally:
            other.close()
    finally:
        server.close()
    assert result.returncode == 0, result.stderr
    assert "1 feeds left out: another poller is polling them now" in result.stderr
    assert server.hits("/b.xml") == [] and len(server.hits("/a.xml")) == 1
