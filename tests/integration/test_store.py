"""store.Store against a real SQLite file in tmp_path."""

from __future__ import annotations

import gc
import os
import sqlite3
import subprocess
import sys
from contextlib import closing, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlite_utils
from integration_support import one, reader, rows, scalar

from feedd import dedupe, normalize
from feedd.errors import StoreError
from feedd.store.sqlite import SCHEMA_VERSION
from feedd.store.sqlite import SQLiteStore as Store
from feedd.types import (
    Action,
    Entry,
    FeedAnswer,
    FeedDocument,
    FeedSettings,
    FeedUpdate,
    Intent,
    Known,
    RawEntry,
    Relocation,
    format_timestamp,
)

NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
STAYED = Relocation(None, None, 0)


def settings(url: str, **changes: object) -> FeedSettings:
    values: dict[str, object] = {
        "url": url,
        "name": None,
        "interval": 1800.0,
        "tags": (),
        "enabled": True,
    }
    values.update(changes)
    return FeedSettings(**values)  # type: ignore[arg-type]


def entry(guid: str, title: str, url: str | None, text: str = "Some body text") -> Entry:
    raw = RawEntry(
        id=guid,
        link=url,
        title=title,
        summary=None,
        content=f"<p>{text}</p>",
        author="Ann",
        published=NOW - timedelta(days=1),
        updated=None,
        published_raw=None,
        updated_raw=None,
        tags=("t1",),
    )
    return normalize.normalize_entry(raw, link=url, url=url)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "feedd.db"  # the folder does not exist yet


@pytest.fixture
def store(db_path: Path):
    with Store(db_path) as opened:
        yield opened


def feed_id(store: Store, url: str) -> int:
    (feed,) = store.feeds_by_url([url])
    return feed.id


def add_feeds(store: Store, *urls: str) -> list[int]:
    store.sync_feeds([settings(u) for u in urls], NOW)
    return [feed_id(store, u) for u in urls]


def write(store: Store, fid: int, entries: list[Entry], now: datetime = NOW):
    """What pipeline does for one feed: read Known, decide, apply, in one transaction."""
    with store.transaction():
        intents = dedupe.decide(store.known(fid, entries), entries)
        counts, _ = store.apply(fid, intents, language="en", now=now)
    return intents, counts


def fts_ids(path: Path, query: str) -> list[int]:
    return [
        r["rowid"]
        for r in rows(path, "SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?", query)
    ]


# -- schema


def test_new_database_gets_the_schema(store: Store, db_path: Path):
    assert db_path.exists()
    assert store.schema_version == SCHEMA_VERSION
    with reader(db_path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        names = {
            r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table')")
        }
    assert {"feeds", "articles", "article_feeds", "articles_fts"} <= names
    assert store.integrity_problems() == []


def test_reopening_is_idempotent(db_path: Path):
    with Store(db_path) as first:
        add_feeds(first, "https://a.example/feed")
        first_schema = rows(db_path, "SELECT type, name, sql FROM sqlite_master ORDER BY name")
    with Store(db_path) as second:
        assert second.schema_version == SCHEMA_VERSION
        assert second.count("feeds") == 1
        assert second.integrity_problems() == []
    assert rows(db_path, "SELECT type, name, sql FROM sqlite_master ORDER BY name") == first_schema


def test_newer_schema_is_refused(db_path: Path):
    with Store(db_path):
        pass
    with closing(sqlite3.connect(db_path)) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="Upgrade feedd"):
        Store(db_path)
    # The refused open left the file as it was.
    assert scalar(db_path, "PRAGMA user_version") == SCHEMA_VERSION + 1


def open_files(folder: Path) -> list[str]:
    """Files under folder that this process holds open (Linux /proc)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(folder)):
            found.append(target)
    return found


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_refused_open_closes_the_file(db_path: Path):
    with Store(db_path):
        pass
    with closing(sqlite3.connect(db_path)) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    gc.collect()
    gc.disable()  # what matters is an explicit close, not the collector
    try:
        with suppress(StoreError):
            Store(db_path)
        assert open_files(db_path.parent) == []
    finally:
        gc.enable()
        gc.collect()


def test_a_file_that_is_not_a_database(tmp_path: Path):
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot use database"):
        Store(path)


def test_writes_are_visible_to_another_reader_while_open(store: Store, db_path: Path):
    (fid,) = add_feeds(store, "https://a.example/feed")
    write(store, fid, [entry("g1", "Hello", "https://a.example/1")])
    # WAL: a second connection reads committed rows while the writer stays open.
    assert scalar(db_path, "SELECT count(*) FROM articles") == 1


# -- feeds


def test_sync_feeds_adds_updates_and_disables(store: Store, db_path: Path):
    store.sync_feeds(
        [
            settings("https://a.example/feed", name="A", tags=("news", "x")),
            settings("https://b.example/feed", interval=60.4),
        ],
        NOW,
    )
    feeds = {r["url"]: r for r in rows(db_path, "SELECT * FROM feeds")}
    assert set(feeds) == {"https://a.example/feed", "https://b.example/feed"}
    a = feeds["https://a.example/feed"]
    assert (a["name"], a["tags"], a["enabled"], a["state"]) == ("A", '["news", "x"]', 1, "new")
    assert a["created_at"] == "2024-05-06T07:08:09Z"
    assert a["next_fetch_at"] is None  # due at once
    assert feeds["https://b.example/feed"]["interval_seconds"] == 60

    later = NOW + timedelta(hours=1)
    store.sync_feeds(
        [
            settings("https://a.example/feed", name="A2", interval=900.0),
            settings("https://c.example/feed", enabled=False),
        ],
        later,
    )
    feeds = {r["url"]: r for r in rows(db_path, "SELECT * FROM feeds")}
    assert len(feeds) == 3
    a2 = feeds["https://a.example/feed"]
    assert a2["id"] == a["id"]
    assert (a2["name"], a2["tags"], a2["interval_seconds"]) == ("A2", "[]", 900)
    assert a2["created_at"] == a["created_at"]
    assert feeds["https://b.example/feed"]["enabled"] == 0  # removed from the config
    assert feeds["https://c.example/feed"]["enabled"] == 0  # configured as disabled

    # Configured again: enabled again, same row.
    store.sync_feeds([settings("https://b.example/feed")], later)
    b = one(db_path, "SELECT * FROM feeds WHERE url = ?", "https://b.example/feed")
    assert b["enabled"] == 1
    assert b["id"] == feeds["https://b.example/feed"]["id"]


def test_sync_feeds_writes_only_what_changed(store: Store):
    # A start or a reload with the same config (50,000 feeds, say) writes nothing.
    feeds = [settings(f"https://{name}.example/feed") for name in "abcd"]
    store.sync_feeds(feeds, NOW)
    before = store.conn.total_changes
    store.sync_feeds(feeds, NOW + timedelta(hours=1))
    assert store.conn.total_changes == before
    # One feed edited, one removed: two rows written.
    edited = [settings("https://a.example/feed", name="A"), *feeds[1:3]]
    store.sync_feeds(edited, NOW + timedelta(hours=2))
    assert store.conn.total_changes == before + 2


def test_sync_feeds_keeps_articles_of_removed_feeds(store: Store, db_path: Path):
    (fid,) = add_feeds(store, "https://a.example/feed")
    write(store, fid, [entry("g1", "Kept", "https://a.example/1")])
    store.sync_feeds([], NOW)
    assert scalar(db_path, "SELECT enabled FROM feeds") == 0
    assert scalar(db_path, "SELECT count(*) FROM articles") == 1
    assert scalar(db_path, "SELECT count(*) FROM article_feeds") == 1


def test_due_feeds_order_and_exclusion(store: Store):
    urls = [f"https://{name}.example/feed" for name in "abcde"]
    a, b, c, d, _e = add_feeds(store, *urls)
    # a: never fetched; b due an hour ago; c due a minute ago; d not due; e disabled.
    for fid, when in ((b, NOW - timedelta(hours=1)), (c, NOW - timedelta(minutes=1))):
        store.record_poll(fid, FeedUpdate("failing", 500, NOW, 1, "x", when))
    store.record_poll(
        d,
        FeedUpdate(
            "ok", 304, NOW, 0, None, NOW + timedelta(1), FeedAnswer(None, None, 1800, STAYED)
        ),
    )
    store.sync_feeds([settings(u) for u in urls[:4]] + [settings(urls[4], enabled=False)], NOW)

    due = store.due_feeds(NOW, limit=10)
    assert [f.id for f in due] == [a, b, c]
    assert [f.url for f in due] == urls[:3]
    assert due[1].error_count == 1
    assert store.due_feeds(NOW, limit=2) == due[:2]
    assert [f.id for f in store.due_feeds(NOW, limit=10, exclude=[a])] == [b, c]
    assert [f.id for f in store.due_feeds(NOW, limit=2, exclude=[a, b])] == [c]
    # A feed due exactly now is due.
    assert [f.id for f in store.due_feeds(NOW + timedelta(1), limit=10)] == [a, b, c, d]


def test_feeds_by_url_includes_disabled_and_keeps_order(store: Store):
    a, b = add_feeds(store, "https://a.example/feed", "https://b.example/feed")
    store.sync_feeds([settings("https://b.example/feed")], NOW)
    found = store.feeds_by_url(
        ["https://b.example/feed", "https://x.example/", "https://a.example/feed"]
    )
    assert [f.id for f in found] == [b, a]


def test_record_success_then_failure(store: Store, db_path: Path):
    (fid,) = add_feeds(store, "https://a.example/feed")
    next_at = NOW + timedelta(minutes=30)
    with store.transaction():
        store.record_poll(
            fid,
            FeedUpdate(
                "ok",
                200,
                NOW,
                0,
                None,
                next_at,
                FeedAnswer(
                    '"e1"',
                    "Mon, 01 Jan 2024 00:00:00 GMT",
                    1800,
                    Relocation("https://a.example/new-feed", None, 0),
                    FeedDocument(
                        "abc", "A feed", "https://a.example/", 3600, NOW - timedelta(hours=2)
                    ),
                ),
            ),
        )
    feed = one(db_path, "SELECT * FROM feeds WHERE id = ?", fid)
    assert feed["state"] == "ok"
    assert (feed["etag"], feed["body_hash"], feed["title"]) == ('"e1"', "abc", "A feed")
    assert feed["next_fetch_at"] == format_timestamp(next_at)
    (due,) = store.feeds_by_url(["https://a.example/feed"])
    assert due.source.etag == '"e1"'
    assert due.source.last_modified == "Mon, 01 Jan 2024 00:00:00 GMT"
    assert due.source.body_hash == "abc"
    assert due.source.fetch_url == "https://a.example/new-feed"
    assert (due.poll_interval, due.posting_gap) == (1800, 3600)
    assert due.last_post_at == NOW - timedelta(hours=2)

    for errors in (1, 2):
        store.record_poll(fid, FeedUpdate("failing", 500, NOW, errors, "HTTP 500", next_at))
    feed = one(db_path, "SELECT * FROM feeds WHERE id = ?", fid)
    assert (feed["state"], feed["error_count"], feed["last_error"]) == ("failing", 2, "HTTP 500")
    assert feed["etag"] == '"e1"'  # a failure keeps the validators
    assert feed["title"] == "A feed"


# -- articles


def test_apply_writes_articles_links_and_fts(store: Store, db_path: Path):
    (fid,) = add_feeds(store, "https://a.example/feed")
    entries = [
        entry("g1", "Aardvarks at dawn", "https://a.example/1", "Burrowing mammals"),
        entry("g2", "Bees", "https://a.example/2", "Pollinators of the meadow"),
        # Same URL, other guid, same document: the URL is shared, not a story's identity.
        entry("g3", "Bees again", "https://a.example/2", "Same URL, other guid"),
        entry("g1", "Aardvarks at dawn", "https://a.example/1", "repeated in the document"),
    ]
    intents, counts = write(store, fid, entries)
    assert [i.action for i in intents] == [
        Action.INSERT,
        Action.INSERT,
        Action.INSERT,
        Action.SKIP,
    ]
    assert (counts.new, counts.linked, counts.unchanged, counts.updated) == (3, 0, 1, 0)

    articles = rows(db_path, "SELECT * FROM articles ORDER BY id")
    assert [a["url"] for a in articles] == [
        "https://a.example/1",
        "https://a.example/2",
        "https://a.example/2",
    ]
    first = articles[0]
    assert first["title"] == "Aardvarks at dawn"
    assert first["content_text"] == "Burrowing mammals"
    assert first["content_html"] == "<p>Burrowing mammals</p>"
    assert first["published_at"] == "2024-05-05T07:08:09Z"
    assert first["first_seen_at"] == first["modified_at"] == "2024-05-06T07:08:09Z"
    assert (first["language"], first["tags"], first["author"]) == ("en", '["t1"]', "Ann")

    links = rows(db_path, "SELECT * FROM article_feeds ORDER BY guid")
    assert [(lf["guid"], lf["article_id"]) for lf in links] == [
        ("g1", articles[0]["id"]),
        ("g2", articles[1]["id"]),
        ("g3", articles[2]["id"]),
    ]
    assert fts_ids(db_path, "aardvarks") == [articles[0]["id"]]
    assert fts_ids(db_path, "pollinators") == [articles[1]["id"]]
    assert fts_ids(db_path, "meadow OR burrowing") != []
    assert store.integrity_problems() == []


def test_same_entries_again_are_skipped(store: Store, db_path: Path):
    (fid,) = add_feeds(store, "https://a.example/feed")
    entries = [entry("g1", "One", "https://a.example/1")]
    write(store, fid, entries)
    intents, counts = write(store, fid, entries, NOW + timedelta(hours=1))
    assert [i.action for i in intents] == [Action.SKIP]
    assert counts.unchanged == 1
    assert scalar(db_path, "SELECT count(*) FROM articles") == 1
    assert scalar(db_path, "SELECT modified_at FROM articles") == "2024-05-06T07:08:09Z"


def test_same_url_from_two_feeds_is_one_article(store: Store, db_path: Path):
    a, b = add_feeds(store, "https://a.example/feed", "https://b.example/feed")
    write(store, a, [entry("a-1", "Shared story", "https://news.example/story")])
    intents, counts = write(store, b, [entry("b-9", "Shared story", "https://news.example/story")])
    assert [i.action for i in intents] == [Action.LINK]
    assert counts.linked == 1
    assert scalar(db_path, "SELECT count(*) FROM articles") == 1
    links = rows(db_path, "SELECT feed_id, guid FROM article_feeds ORDER BY feed_id")
    assert links == [{"feed_id": a, "guid": "a-1"}, {"feed_id": b, "guid": "b-9"}]


def test_update_rewrites_the_article_and_the_fts_index(store: Store, db_path: Path):
    (fid,) = add_feeds(store, "https://a.example/feed")
    write(store, fid, [entry("g1", "Original walrus", "https://a.example/1")])
    later = NOW + timedelta(hours=2)
    intents, counts = write(
        store, fid, [entry("g1", "Corrected pelican", "https://a.example/1", "New body")], later
    )
    assert [i.action for i in intents] == [Action.UPDATE]
    assert counts.updated == 1
    article = one(db_path, "SELECT * FROM articles")
    assert article["title"] == "Corrected pelican"
    assert article["content_text"] == "New body"
    assert article["modified_at"] == format_timestamp(later)
    assert article["first_seen_at"] == format_timestamp(NOW)
    assert fts_ids(db_path, "walrus") == []
    assert fts_ids(db_path, "pelican") == [article["id"]]
    link = one(db_path, "SELECT * FROM article_feeds")
    assert link["content_hash"] == intents[0].entry.content_hash
    assert store.integrity_problems() == []


def test_an_update_never_moves_the_articles_url(store: Store, db_path: Path):
    (fid,) = add_feeds(store, "https://a.example/feed")
    write(
        store,
        fid,
        [entry("g1", "One", "https://a.example/1"), entry("g2", "Two", "https://a.example/2")],
    )
    # g1 now points at g2's URL: dedupe says update (same guid), the URL stays.
    intents, _ = write(store, fid, [entry("g1", "One, moved", "https://a.example/2")])
    assert [i.action for i in intents] == [Action.UPDATE]
    articles = rows(db_path, "SELECT title, url FROM articles ORDER BY id")
    assert articles == [
        {"title": "One, moved", "url": "https://a.example/1"},
        {"title": "Two", "url": "https://a.example/2"},
    ]
    # Nor to a free URL: the URL is the article's identity, set when it is stored.
    write(store, fid, [entry("g1", "One, moved again", "https://a.example/3")])
    assert scalar(db_path, "SELECT url FROM articles WHERE title = 'One, moved again'") == (
        "https://a.example/1"
    )
    assert store.integrity_problems() == []


def test_article_without_url(store: Store, db_path: Path):
    (fid,) = add_feeds(store, "https://a.example/feed")
    write(store, fid, [entry("g1", "No link", None), entry("g2", "No link either", None)])
    assert scalar(db_path, "SELECT count(*) FROM articles WHERE url IS NULL") == 2


def test_failed_transaction_rolls_back_everything(store: Store, db_path: Path):
    (fid,) = add_feeds(store, "https://a.example/feed")
    entries = [entry("g1", "Doomed okapi", "https://a.example/1")]

    class Boom(Exception):
        pass

    with pytest.raises(Boom), store.transaction():
        intents = dedupe.decide(store.known(fid, entries), entries)
        store.apply(fid, intents, language=None, now=NOW)
        store.record_poll(
            fid,
            FeedUpdate(
                "ok",
                200,
                NOW,
                0,
                None,
                NOW,
                FeedAnswer(
                    '"doomed"',
                    None,
                    1800,
                    STAYED,
                    FeedDocument("doomed", "Doomed", None, None, None),
                ),
            ),
        )
        raise Boom
    assert not store.conn.in_transaction
    assert scalar(db_path, "SELECT count(*) FROM articles") == 0
    assert scalar(db_path, "SELECT count(*) FROM article_feeds") == 0
    assert fts_ids(db_path, "okapi") == []
    feed = one(db_path, "SELECT etag, body_hash, title, state FROM feeds")
    assert feed == {"etag": None, "body_hash": None, "title": None, "state": "new"}
    assert store.integrity_problems() == []
    # The connection is usable afterwards.
    write(store, fid, entries)
    assert fts_ids(db_path, "okapi") != []


def test_a_constraint_failure_rolls_back_the_whole_batch(store: Store, db_path: Path):
    (fid,) = add_feeds(store, "https://a.example/feed")
    good = entry("g1", "Good", "https://a.example/1")
    clash = entry("g1", "Clash", "https://a.example/2")
    # An intent dedupe would never make: a second INSERT of the same (feed, guid).
    intents = [Intent(Action.INSERT, good, "new"), Intent(Action.INSERT, clash, "new")]
    with pytest.raises(sqlite3.IntegrityError), store.transaction():
        store.apply(fid, intents, language=None, now=NOW)
    assert scalar(db_path, "SELECT count(*) FROM articles") == 0


def test_apply_outside_a_transaction(store: Store):
    (fid,) = add_feeds(store, "https://a.example/feed")
    e = entry("g1", "One", "https://a.example/1")
    with pytest.raises(StoreError, match="inside a transaction"):
        store.apply(fid, dedupe.decide(Known(), [e]), language=None, now=NOW)
    assert store.count("articles") == 0


def test_nested_transaction_is_refused(store: Store):
    with store.transaction(), pytest.raises(StoreError, match="nested"), store.transaction():
        pass


def test_sqlite_utils_finds_the_fts_index(store: Store, db_path: Path):
    (fid,) = add_feeds(store, "https://a.example/feed")
    write(
        store,
        fid,
        [
            entry("g1", "Quokkas smile", "https://a.example/1", "Small marsupials"),
            entry("g2", "Otters hold hands", "https://a.example/2", "They sleep afloat"),
        ],
    )
    with closing(sqlite3.connect(db_path)) as conn:
        db = sqlite_utils.Database(conn)
        table = db["articles"]
        assert isinstance(table, sqlite_utils.db.Table)
        assert table.detect_fts() == "articles_fts"
        found = list(table.search("marsupials"))
        assert [r["title"] for r in found] == ["Quokkas smile"]
        assert [r["title"] for r in table.search("otters")] == ["Otters hold hands"]
        assert list(table.search("wombat")) == []


def test_update_to_a_url_shared_later_in_the_same_document(store: Store, db_path: Path):
    # g1 moves to /b, and g2 carries /b in the same document: /b is shared, so
    # the two items stay two stories.
    (fid,) = add_feeds(store, "https://a.example/feed")
    write(store, fid, [entry("g1", "One", "https://a.example/a")])
    write(
        store,
        fid,
        [entry("g1", "One", "https://a.example/b"), entry("g2", "Two", "https://a.example/b")],
    )
    found = rows(
        db_path,
        "SELECT af.guid, a.title, a.url FROM article_feeds af "
        "JOIN articles a ON a.id = af.article_id ORDER BY af.guid",
    )
    assert [(r["guid"], r["title"], r["url"]) for r in found] == [
        ("g1", "One", "https://a.example/a"),  # an update keeps the article's URL
        ("g2", "Two", "https://a.example/b"),
    ]
    assert store.integrity_problems() == []


def test_opening_the_store_leaves_sqlite_utils_until_it_is_used(tmp_path):
    """The polls write with sqlite3: sqlite_utils (with dateutil) is imported by
    the first use of ``store.db``, not by every process that opens the store."""
    code = (
        "import sys; from pathlib import Path; from feedd.store.sqlite import SQLiteStore; "
        "store = SQLiteStore(Path(sys.argv[1])); "
        "before = sorted(m for m in ('sqlite_utils', 'dateutil') if m in sys.modules); "
        "print(before, store.count('feeds'), 'sqlite_utils' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "feedd.db")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.split() == ["[]", "0", "True"]
