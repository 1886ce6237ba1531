"""The read side behind its seam: the SQLite Reader on a real file beside a
writer, and the read commands answered by a fake Reader kept in lists."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from feedd import cli_query
from feedd.errors import BadQuery, QueryError
from feedd.store import open_reader
from feedd.store.reading import MARK_END, MARK_START, Filters, Row
from feedd.store.sqlite import SQLiteStore

NOW = datetime(2025, 6, 10, 12, 0, 0, tzinfo=UTC)


def _fill(store: SQLiteStore) -> None:
    """Two feeds, three articles (3 a duplicate of 1), written as the daemon's
    SQLite schema holds them."""
    store.conn.executescript(
        """
        INSERT INTO feeds (id, url, name, title, tags, interval_seconds, state, created_at)
        VALUES (1, 'https://a.example/feed', 'Alpha', 'Feed A', '["news"]', 1800, 'ok',
                '2025-06-01T00:00:00Z'),
               (2, 'https://b.example/feed', NULL, 'Feed B', '[]', 1800, 'failing',
                '2025-06-01T00:00:00Z');
        INSERT INTO articles (id, url, title, summary, content_text, published_at,
                              first_seen_at, modified_at, tags, duplicate_of)
        VALUES (1, 'https://a.example/1', 'Climate summit', 'S1', 'climate talks',
                '2025-06-09T10:00:00Z', '2025-06-09T10:05:00Z', '2025-06-09T10:05:00Z',
                '["science"]', NULL),
               (2, 'https://b.example/2', 'Football final', 'S2', 'a match',
                '2025-06-08T10:00:00Z', '2025-06-08T10:05:00Z', '2025-06-08T10:05:00Z',
                '[]', NULL),
               (3, 'https://b.example/3', 'Climate summit again', 'S3', 'climate again',
                '2025-06-09T09:00:00Z', '2025-06-09T10:06:00Z', '2025-06-09T10:06:00Z',
                '[]', 1);
        INSERT INTO article_feeds (article_id, feed_id, guid, link, first_seen_at)
        VALUES (1, 1, 'g1', 'https://a.example/item/1', '2025-06-09T10:05:00Z'),
               (2, 2, 'g2', NULL, '2025-06-08T10:05:00Z'),
               (3, 2, 'g3', NULL, '2025-06-09T10:06:00Z');
        """
    )


@pytest.fixture
def database(tmp_path):
    path = tmp_path / "feedd.db"
    with SQLiteStore(path) as store:
        _fill(store)
    return path


def test_the_sqlite_reader_answers_the_read_commands(database):
    reader = open_reader(database)
    try:
        rows = reader.articles(Filters(), ("id", "feeds", "tags"))
        assert rows == [
            {"id": 1, "feeds": "Alpha", "tags": ["science"]},
            {"id": 2, "feeds": "Feed B", "tags": []},
        ]
        assert [row["id"] for row in reader.articles(Filters(tags=("news",)), ("id",))] == [1]
        found = reader.search("climate", Filters(include_duplicates=True), ("id",))
        assert sorted(row["id"] for row in found) == [1, 3]
        assert all(f"{MARK_START}climate{MARK_END}" in row["snippet"].lower() for row in found)
        with pytest.raises(BadQuery, match="bad search query"):
            reader.search('"unterminated', Filters(), ("id",))
        article = reader.article("https://a.example/item/1")  # an item link finds it
        assert article is not None
        assert article["id"] == 1
        assert [feed["guid"] for feed in article["feeds"]] == ["g1"]
        assert article["duplicates"] == [
            {"id": 3, "title": "Climate summit again", "url": "https://b.example/3"}
        ]
        assert reader.article("3")["duplicate_of"]["id"] == 1
        assert reader.article("99") is None
        assert reader.max_article_id() == 3
        assert [row["id"] for row in reader.tail(1, Filters(), ("id",))] == [2]
        assert [row["name"] for row in reader.feeds(True, NOW)] == ["Feed B"]
        stats = reader.stats(NOW)
        assert stats["feeds"] == {"total": 2, "failing": 1, "ok": 1}
        assert (stats["articles"], stats["duplicates"], stats["article_feeds"]) == (3, 1, 3)
        assert stats["database_bytes"]["file"] == database.stat().st_size
    finally:
        reader.close()


def test_the_reader_never_writes(database):
    reader = open_reader(database)
    try:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader.conn.execute("DELETE FROM articles")  # SQLite-only handle
    finally:
        reader.close()
    with pytest.raises(QueryError, match="does not exist"):
        open_reader(database.parent / "missing.db")


def test_the_reader_sees_only_committed_polls(database):
    """Beside the writer (WAL): never half a feed, and the write is not blocked."""
    with SQLiteStore(database) as store, store.transaction():
        store.conn.execute(
            "INSERT INTO articles (id, title, first_seen_at, modified_at) "
            "VALUES (4, 'in flight', '2025-06-10T00:00:00Z', '2025-06-10T00:00:00Z')"
        )
        reader = open_reader(database)
        try:
            assert reader.max_article_id() == 3
        finally:
            reader.close()
    reader = open_reader(database)
    try:
        assert reader.max_article_id() == 4
    finally:
        reader.close()


class ListReader:
    """A Reader kept in lists: no database at all."""

    def __init__(self, articles: list[Row]) -> None:
        self.rows = articles
        self.closed = False

    def close(self) -> None:
        self.closed = True

    def _pick(self, row: Row, fields) -> Row:
        return {name: row.get(name) for name in fields}

    def articles(self, filters, fields):
        listed = sorted(self.rows, key=lambda row: row["date"], reverse=True)
        return [self._pick(row, fields) for row in listed][: filters.limit or None]

    def search(self, query, filters, fields):
        return [
            {**self._pick(row, fields), "snippet": f"{MARK_START}{query}{MARK_END}"}
            for row in self.rows
            if query in row["title"]
        ]

    def article(self, ref):
        for row in self.rows:
            if str(row["id"]) == ref:
                return {**row, "feeds": [], "duplicates": [], "duplicate_of": None}
        return None

    def tail(self, after_id, filters, fields):
        return [self._pick(row, fields) for row in self.rows if row["id"] > after_id]

    def revisions(self, article_id):
        return []

    def max_article_id(self):
        return max(row["id"] for row in self.rows)

    def feeds(self, failing_only, now):
        return []

    def stats(self, now):
        return {
            "feeds": {"total": 0},
            "articles": len(self.rows),
            "duplicates": 0,
            "article_feeds": 0,
            "ingest_per_day": [],
            "top_feeds": [],
            "edits": [],
            "links": {},
            "database_bytes": {"file": 0, "wal": 0, "total": 0},
        }


def test_the_read_commands_need_only_a_reader(tmp_path, monkeypatch):
    config = tmp_path / "feedd.toml"
    config.write_text('database = "nowhere.db"\n[[feeds]]\nurl = "https://a.example/feed"\n')
    rows = [
        {"id": 1, "date": "2025-06-01T00:00:00Z", "title": "Older", "url": "u1", "feeds": "A"},
        {"id": 2, "date": "2025-06-02T00:00:00Z", "title": "Newer", "url": "u2", "feeds": "A"},
    ]
    readers: list[ListReader] = []

    def open_list_reader(path, password=None):
        assert path == tmp_path / "nowhere.db"  # never opened: no file, no SQLite
        readers.append(ListReader(rows))
        return readers[-1]

    monkeypatch.setattr(cli_query, "open_reader", open_list_reader)
    runner = CliRunner()

    def run(command, *args):
        result = runner.invoke(command, ["-c", str(config), *args])
        assert result.exit_code == 0, result.output
        return result.output

    listed = [json.loads(line) for line in run(cli_query.articles, "--json").splitlines()]
    assert [row["title"] for row in listed] == ["Newer", "Older"]
    assert "[Older]" in run(cli_query.search, "Older")
    assert json.loads(run(cli_query.show, "2", "--json"))["title"] == "Newer"
    assert json.loads(run(cli_query.stats, "--json"))["articles"] == 2
    assert "<title>Newer</title>" in run(cli_query.export, "--format", "rss")
    assert readers and all(reader.closed for reader in readers)
