"""Store.housekeeping on a real file: retention by age and per feed, checkpoint."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from integration_support import rows, scalar

from feedd import dedupe
from feedd.store.sqlite import SQLiteStore as Store
from feedd.types import Entry, FeedSettings

NOW = datetime(2025, 6, 1, tzinfo=UTC)


def entry(guid: str, url: str, published: datetime | None = None) -> Entry:
    return Entry(
        guid=guid,
        link=url,
        url=url,
        title=f"Title {guid}",
        summary="s",
        content_text=f"text of {guid}",
        content_html=None,
        author=None,
        published_at=published,
        updated_at=None,
        tags=(),
        content_hash=guid,
    )


def setup(tmp_path, feeds=("https://a.example/f",)) -> Store:
    store = Store(tmp_path / "feedd.db")
    store.sync_feeds([FeedSettings(url, None, 60.0, (), True) for url in feeds], NOW)
    return store


def add(store: Store, feed_id: int, entries: list[Entry], now: datetime) -> None:
    with store.transaction():
        known = store.known(feed_id, entries)
        store.apply(feed_id, dedupe.decide(known, entries), language=None, now=now)


def test_max_age_deletes_only_what_is_older(tmp_path):
    store = setup(tmp_path)
    add(store, 1, [entry("old", "https://a.example/old")], NOW - timedelta(days=200))
    add(store, 1, [entry("new", "https://a.example/new")], NOW - timedelta(days=10))
    assert store.housekeeping(NOW, max_age=180 * 86400) == 1
    db = tmp_path / "feedd.db"
    assert [r["title"] for r in rows(db, "SELECT title FROM articles")] == ["Title new"]
    assert scalar(db, "SELECT count(*) FROM article_feeds") == 1
    # The FTS index follows the table.
    assert scalar(db, "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH 'old'") == 0
    assert store.integrity_problems() == []
    store.close()


def test_max_per_feed_keeps_the_newest_and_shared_articles(tmp_path):
    store = setup(tmp_path, ("https://a.example/f", "https://b.example/f"))
    day = timedelta(days=1)
    add(
        store,
        1,
        [entry(f"a{n}", f"https://a.example/{n}", NOW - n * day) for n in range(5)],
        NOW,
    )
    # b carries a's oldest story too: it stays, b keeps it.
    add(store, 2, [entry("b0", "https://a.example/4", NOW - 4 * day)], NOW)
    assert store.housekeeping(NOW, max_per_feed=2) == 2
    db = tmp_path / "feedd.db"
    kept = [r["url"] for r in rows(db, "SELECT url FROM articles ORDER BY url")]
    assert kept == ["https://a.example/0", "https://a.example/1", "https://a.example/4"]
    assert store.integrity_problems() == []
    store.close()


def test_no_limits_deletes_nothing(tmp_path):
    store = setup(tmp_path)
    add(store, 1, [entry("x", "https://a.example/x")], NOW - timedelta(days=9999))
    assert store.housekeeping(NOW) == 0
    assert store.count("articles") == 1
    store.close()


def test_retention_unlinks_copies_of_deleted_articles(tmp_path):
    store = setup(tmp_path)
    add(store, 1, [entry("orig", "https://a.example/o")], NOW - timedelta(days=300))
    add(store, 1, [entry("copy", "https://a.example/c")], NOW)
    store.conn.execute("UPDATE articles SET duplicate_of = 1 WHERE id = 2")
    assert store.housekeeping(NOW, max_age=30 * 86400) == 1
    assert rows(tmp_path / "feedd.db", "SELECT id, duplicate_of FROM articles") == [
        {"id": 2, "duplicate_of": None}
    ]
    store.close()
