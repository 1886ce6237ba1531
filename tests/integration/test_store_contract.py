"""The Storage protocol's behaviour, the same on every backend.

Each test runs on SQLite (a file in tmp_path) and on PostgreSQL (a fresh
database on the session's throwaway server, tests/pgserver.py). They go
through the protocol; where a row must be checked, ``Backend.rows`` runs a
SELECT written with ``%s`` placeholders (turned into ``?`` for SQLite).
What only PostgreSQL does (leases, locks, slots) is in test_postgres_store.py.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from feedd import dedupe, normalize
from feedd.errors import StoreError
from feedd.store import Storage, open_store
from feedd.store.sqlite import SQLiteStore
from feedd.types import (
    Action,
    Entry,
    Extracted,
    FeedAnswer,
    FeedDocument,
    FeedSettings,
    FeedUpdate,
    Hop,
    Intent,
    Known,
    Merge,
    Page,
    PageJob,
    RawEntry,
    Relocation,
    Resolution,
    parse_timestamp,
)

NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
STAYED = Relocation(None, None, 0)


@dataclass
class Backend:
    name: str
    store: Storage
    target: str  # the file or the URL

    def rows(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        if self.name == "sqlite":
            with closing(sqlite3.connect(self.target)) as conn:
                return conn.execute(sql.replace("%s", "?"), params).fetchall()
        import psycopg

        with psycopg.connect(self.target) as conn:
            return conn.execute(sql, params).fetchall()

    def scalar(self, sql: str, *params: object) -> Any:
        return self.rows(sql, *params)[0][0]


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        path = tmp_path / "feedd.db"
        store: Storage = SQLiteStore(path)
        target = str(path)
    else:
        target = request.getfixturevalue("postgres_url")
        store = open_store(target)
    try:
        yield Backend(request.param, store, target)
    finally:
        store.close()


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


def entry(
    guid: str,
    title: str,
    url: str | None,
    text: str = "Some body text",
    published: datetime | None = NOW - timedelta(days=1),
) -> Entry:
    raw = RawEntry(
        id=guid,
        link=url,
        title=title,
        summary=None,
        content=f"<p>{text}</p>",
        author="Ann",
        published=published,
        updated=None,
        published_raw=None,
        updated_raw=None,
        tags=("t1",),
    )
    return normalize.normalize_entry(raw, link=url, url=url)


def add_feeds(backend: Backend, *urls: str) -> list[int]:
    """Configure these feeds; their ids (read, not claimed: feeds_by_url would
    lease them on PostgreSQL, and due_feeds would leave them out)."""
    backend.store.sync_feeds([settings(u) for u in urls], NOW)
    by_url = dict(backend.rows("SELECT url, id FROM feeds"))
    return [by_url[u] for u in urls]


def write(store: Storage, fid: int, entries: list[Entry], now: datetime = NOW, **options: Any):
    """What the pipeline does for one feed: lock, read Known, decide, apply."""
    with store.transaction():
        store.lock_identity(dedupe.identity_keys(entries))
        intents = dedupe.decide(store.known(fid, entries), entries)
        counts, written = store.apply(fid, intents, language="en", now=now, **options)
    return intents, counts, written


def poll_update(next_at: datetime, etag: str = '"e1"') -> FeedUpdate:
    return FeedUpdate(
        "ok",
        200,
        NOW,
        0,
        None,
        next_at,
        FeedAnswer(
            etag,
            "Mon, 01 Jan 2024 00:00:00 GMT",
            1800,
            Relocation("https://a.example/new-feed", None, 0),
            FeedDocument("abc", "A feed", "https://a.example/", 3600, NOW - timedelta(hours=2)),
        ),
    )


# -- feeds


def test_sync_feeds_adds_updates_and_disables(backend: Backend):
    store = backend.store
    store.sync_feeds(
        [
            settings("https://a.example/feed", name="A", tags=("news", "x")),
            settings("https://b.example/feed", interval=60.4),
        ],
        NOW,
    )
    feeds = {
        url: (id_, name, bool(enabled), state, interval, next_at)
        for id_, url, name, enabled, state, interval, next_at in backend.rows(
            "SELECT id, url, name, enabled, state, interval_seconds, next_fetch_at FROM feeds"
        )
    }
    a_id = feeds["https://a.example/feed"][0]
    assert feeds["https://a.example/feed"][1:] == ("A", True, "new", 1800, None)
    assert feeds["https://b.example/feed"][4] == 60
    assert store.feed_states() == {"new": 2}

    store.sync_feeds(
        [
            settings("https://a.example/feed", name="A2", interval=900.0),
            settings("https://c.example/feed", enabled=False),
        ],
        NOW + timedelta(hours=1),
    )
    edited = {
        url: (id_, name, bool(enabled), interval)
        for id_, url, name, enabled, interval in backend.rows(
            "SELECT id, url, name, enabled, interval_seconds FROM feeds"
        )
    }
    assert edited == {
        "https://a.example/feed": (a_id, "A2", True, 900),
        "https://b.example/feed": (edited["https://b.example/feed"][0], None, False, 60),
        "https://c.example/feed": (edited["https://c.example/feed"][0], None, False, 1800),
    }
    assert store.feed_states() == {"new": 1, "disabled": 2}
    # Configured again: enabled again, same row.
    store.sync_feeds([settings("https://b.example/feed")], NOW)
    assert bool(
        backend.scalar("SELECT enabled FROM feeds WHERE url = %s", "https://b.example/feed")
    )
    assert store.count("feeds") == 3


def test_due_feeds_order_and_exclusion(backend: Backend):
    store = backend.store
    urls = [f"https://{name}.example/feed" for name in "abcdef"]
    a, b, c, d, _e, f = add_feeds(backend, *urls)
    # a: never fetched; b due an hour ago; c due a minute ago; d not due; e disabled; f gone.
    for fid, when in ((b, NOW - timedelta(hours=1)), (c, NOW - timedelta(minutes=1))):
        store.record_poll(fid, FeedUpdate("failing", 500, NOW, 1, "x", when))
    store.record_poll(
        d,
        FeedUpdate(
            "ok", 304, NOW, 0, None, NOW + timedelta(1), FeedAnswer(None, None, 1800, STAYED)
        ),
    )
    store.record_poll(f, FeedUpdate("gone", 410, NOW, 1, "HTTP 410", None))
    store.sync_feeds([settings(u) for u in urls[:4]] + [settings(urls[4], enabled=False)]
                     + [settings(urls[5])], NOW)  # fmt: skip

    due = store.due_feeds(NOW, limit=2, exclude=[a])
    assert [feed.id for feed in due] == [b, c]
    assert [feed.url for feed in due] == urls[1:3]
    assert due[0].error_count == 1
    assert due[0].state == "failing"
    # The never-fetched feed comes first (PostgreSQL leased b and c to this store
    # above: they are left out there, SQLite returns them again).
    again = store.due_feeds(NOW + timedelta(1), limit=10)
    assert again[0].id == a
    assert {feed.id for feed in again} <= {a, b, c, d}
    assert d in {feed.id for feed in again}


def test_feeds_by_url_includes_disabled_and_keeps_order(backend: Backend):
    store = backend.store
    a, b = add_feeds(backend, "https://a.example/feed", "https://b.example/feed")
    store.sync_feeds([settings("https://b.example/feed")], NOW)
    found = store.feeds_by_url(
        ["https://b.example/feed", "https://x.example/", "https://a.example/feed"]
    )
    assert [feed.id for feed in found] == [b, a]


def test_record_success_then_failure(backend: Backend):
    store = backend.store
    (fid,) = add_feeds(backend, "https://a.example/feed")
    assert not store.has_polled(fid)
    next_at = NOW + timedelta(minutes=30)
    with store.transaction():
        store.record_poll(fid, poll_update(next_at))
    assert store.has_polled(fid)
    (due,) = store.feeds_by_url(["https://a.example/feed"])
    assert due.source.etag == '"e1"'
    assert due.source.last_modified == "Mon, 01 Jan 2024 00:00:00 GMT"
    assert due.source.body_hash == "abc"
    assert due.source.fetch_url == "https://a.example/new-feed"
    assert (due.poll_interval, due.posting_gap) == (1800, 3600)
    assert due.last_post_at == NOW - timedelta(hours=2)
    assert due.state == "ok"

    for errors in (1, 2):
        store.record_poll(fid, FeedUpdate("failing", 500, NOW, errors, "HTTP 500", next_at))
    (due,) = store.feeds_by_url(["https://a.example/feed"])
    assert (due.state, due.error_count) == ("failing", 2)
    assert due.source.etag == '"e1"'  # a failure keeps the validators
    assert backend.scalar("SELECT title FROM feeds") == "A feed"
    assert store.feed_states() == {"failing": 1}


def test_digest_state_round_trip(backend: Backend):
    store = backend.store
    (fid,) = add_feeds(backend, "https://a.example/feed")
    assert store.digest_state(fid) is None
    with store.transaction():
        store.save_digest_state(fid, '{"a": 1}')
    with store.transaction():
        store.save_digest_state(fid, '{"a": 2}')
    assert store.digest_state(fid) == '{"a": 2}'


# -- articles


def test_apply_new_then_same_again(backend: Backend):
    store = backend.store
    (fid,) = add_feeds(backend, "https://a.example/feed")
    entries = [
        entry("g1", "Aardvarks at dawn", "https://a.example/1", "Burrowing mammals"),
        entry("g2", "Bees", "https://a.example/2", "Pollinators of the meadow"),
        entry("g1", "Aardvarks at dawn", "https://a.example/1", "repeated in the document"),
    ]
    intents, counts, written = write(store, fid, entries)
    assert [i.action for i in intents] == [Action.INSERT, Action.INSERT, Action.SKIP]
    assert (counts.new, counts.linked, counts.unchanged, counts.updated) == (2, 0, 1, 0)
    assert [e.guid for _, e in written] == ["g1", "g2"]
    assert store.count("articles") == 2
    rows = backend.rows(
        "SELECT id, title, content_text, author, word_count FROM articles ORDER BY id"
    )
    assert [row[1:] for row in rows] == [
        ("Aardvarks at dawn", "Burrowing mammals", "Ann", 2),
        ("Bees", "Pollinators of the meadow", "Ann", 4),
    ]
    assert [article_id for article_id, _ in written] == [row[0] for row in rows]
    assert store.stored_guids(fid, ["g1", "g9"]) == frozenset({"g1"})

    intents, counts, written = write(store, fid, entries[:2], NOW + timedelta(hours=1))
    assert [i.action for i in intents] == [Action.SKIP, Action.SKIP]
    assert (counts.unchanged, written) == (2, ())
    assert store.count("articles") == 2


def test_same_url_from_two_feeds_is_one_article(backend: Backend):
    store = backend.store
    a, b = add_feeds(backend, "https://a.example/feed", "https://b.example/feed")
    write(store, a, [entry("a-1", "Shared story", "https://news.example/story")])
    intents, counts, _ = write(
        store, b, [entry("b-9", "Shared story", "https://news.example/story")]
    )
    assert [i.action for i in intents] == [Action.LINK]
    assert counts.linked == 1
    assert store.count("articles") == 1
    assert backend.rows("SELECT feed_id, guid FROM article_feeds ORDER BY feed_id") == [
        (a, "a-1"),
        (b, "b-9"),
    ]


def test_update_keeps_revisions_up_to_max_revisions(backend: Backend):
    store = backend.store
    (fid,) = add_feeds(backend, "https://a.example/feed")
    write(store, fid, [entry("g1", "Version 0", "https://a.example/1", "Text 0")])
    for n in range(1, 5):
        intents, counts, written = write(
            store,
            fid,
            [entry("g1", f"Version {n}", "https://a.example/1", f"Text {n}")],
            NOW + timedelta(hours=n),
            max_revisions=2,
        )
        assert [i.action for i in intents] == [Action.UPDATE]
        assert counts.updated == 1
        assert len(written) == 1
    assert backend.rows("SELECT title, content_text FROM articles") == [("Version 4", "Text 4")]
    revisions = backend.rows(
        "SELECT revision, title, reason, feed_id, replaced_by FROM article_revisions "
        "ORDER BY revision"
    )
    assert revisions == [
        (3, "Version 2", "update", fid, fid),
        (4, "Version 3", "update", fid, fid),
    ]
    # The same words again: no revision.
    write(store, fid, [entry("g1", "Version 4", "https://a.example/1", "Text 4")])
    assert store.count("article_revisions") == 2
    # Lowered later: housekeeping trims to the newest.
    assert store.housekeeping(NOW, max_revisions=1) == 0
    assert backend.rows("SELECT revision FROM article_revisions") == [(4,)]


def test_enrichment_from_another_feed(backend: Backend):
    store = backend.store
    a, b = add_feeds(backend, "https://a.example/feed", "https://b.example/feed")
    short = entry("a-1", "Story", "https://news.example/story", "Short.")
    _, _, ((article_id, _),) = write(store, a, [short])
    full = entry("b-1", "Story", "https://news.example/story", "Short. And a great deal more.")
    with store.transaction():
        counts, written = store.apply(
            b,
            [Intent(Action.ENRICH, full, "fuller", article_id=article_id)],
            language=None,
            now=NOW + timedelta(hours=1),
        )
    assert (counts.updated, counts.linked) == (1, 1)
    assert written == ((article_id, full),)
    assert backend.rows("SELECT content_text FROM articles") == [(full.content_text,)]
    assert backend.rows(
        "SELECT revision, content_text, reason, feed_id, replaced_by FROM article_revisions"
    ) == [(1, "Short.", "enrichment", a, b)]
    assert store.count("article_feeds") == 2


def test_known_reads_items_urls_and_texts(backend: Backend):
    store = backend.store
    a, b = add_feeds(backend, "https://a.example/feed", "https://b.example/feed")
    first = replace(
        entry("g1", "One", "https://a.example/1", "Alpha text"), text_hash="h1", raw_hash="r1"
    )
    second = entry("g2", "Two", "https://a.example/2", "Beta text")
    _, _, ((one_id, _), (two_id, _)) = write(store, a, [first, second])
    same_text = replace(entry("x", "Other", "https://other.example/x"), text_hash="h1")
    same_url = entry("y", "Two again", "https://a.example/2")
    known = store.known(b, [same_url, same_text])
    assert known.items == ()  # feed b has no items
    assert sorted((k.id, k.url, k.text_hash, k.title, k.lead) for k in known.articles) == [
        (one_id, "https://a.example/1", "h1", "One", "Alpha text"),
        (two_id, "https://a.example/2", None, "Two", "Beta text"),
    ]
    known = store.known(a, [first])
    assert [(i.guid, i.article_id, i.content_hash, i.raw_hash) for i in known.items] == [
        ("g1", one_id, first.content_hash, "r1")
    ]
    assert store.still_stored(a, [("g1", "r1")])
    assert not store.still_stored(a, [("g1", "r2")])
    assert not store.still_stored(a, [("g9", "r1")])


def test_articles_sharing_urls_and_merge(backend: Backend):
    store = backend.store
    (fid,) = add_feeds(backend, "https://a.example/feed")
    intents = [
        Intent(Action.INSERT, entry("g1", "Short", "https://a.example/s", "Short."), "new"),
        Intent(
            Action.INSERT,
            entry("g2", "Long", "https://a.example/s", "Short. With much more text."),
            "new",
        ),
        Intent(Action.INSERT, entry("g3", "Alone", "https://a.example/alone"), "new"),
    ]
    with store.transaction():
        _, written = store.apply(fid, intents, language=None, now=NOW)
    keep, other, _alone = (article_id for article_id, _ in written)
    store.save_signature(other, b"\x01" * 8, ["band-1"])
    sharing = store.articles_sharing_urls()
    assert [article.id for article in sharing] == [keep, other]
    with store.transaction():
        store.merge_articles(Merge(keep=keep, merged=(other,), text_from=other), NOW)
    assert store.count("articles") == 2
    assert backend.rows("SELECT content_text FROM articles WHERE id = %s", keep) == [
        ("Short. With much more text.",)
    ]
    assert backend.rows("SELECT DISTINCT article_id FROM article_feeds WHERE guid != 'g3'") == [
        (keep,)
    ]
    assert store.signature_of(keep) == b"\x01" * 8
    assert store.articles_sharing_urls() == ()


def test_failed_transaction_rolls_back_everything(backend: Backend):
    store = backend.store
    (fid,) = add_feeds(backend, "https://a.example/feed")
    entries = [entry("g1", "Doomed okapi", "https://a.example/1")]

    class Boom(Exception):
        pass

    with pytest.raises(Boom), store.transaction():
        intents = dedupe.decide(store.known(fid, entries), entries)
        store.apply(fid, intents, language=None, now=NOW)
        store.record_poll(fid, poll_update(NOW))
        store.save_digest_state(fid, "{}")
        raise Boom
    assert store.count("articles") == 0
    assert store.count("article_feeds") == 0
    assert backend.rows("SELECT etag, body_hash, title, state FROM feeds") == [
        (None, None, None, "new")
    ]
    assert store.digest_state(fid) is None
    # Usable afterwards.
    write(store, fid, entries)
    assert store.count("articles") == 1


def test_apply_outside_a_transaction_and_nested_transactions(backend: Backend):
    store = backend.store
    (fid,) = add_feeds(backend, "https://a.example/feed")
    e = entry("g1", "One", "https://a.example/1")
    with pytest.raises(StoreError, match="inside a transaction"):
        store.apply(fid, dedupe.decide(Known(), [e]), language=None, now=NOW)
    assert store.count("articles") == 0
    with store.transaction(), pytest.raises(StoreError, match="nested"), store.transaction():
        pass


# -- links


def test_links_cache_round_trip(backend: Backend):
    store = backend.store
    resolution = Resolution(
        "https://t.example/x",
        "https://news.example/story",
        "ok",
        200,
        (Hop("https://t.example/x", 301, "https://news.example/story"),
         Hop("https://news.example/story", 200, None)),
        permanent=True,
    )  # fmt: skip
    expires = NOW + timedelta(days=30)
    with store.transaction():
        store.save_link(resolution, failures=0, checked_at=NOW, expires_at=expires)
    cached = store.cached_links(["https://t.example/x", "https://t.example/missing"])
    assert list(cached) == ["https://t.example/x"]
    link = cached["https://t.example/x"]
    assert (link.resolved_url, link.outcome, link.failures, link.expires_at) == (
        "https://news.example/story",
        "ok",
        0,
        expires,
    )
    assert backend.scalar("SELECT hops FROM links") == 1
    failed = Resolution("https://t.example/x", "https://t.example/x", "timeout", None, (), False)
    with store.transaction():
        store.save_link(failed, failures=2, checked_at=NOW, expires_at=NOW + timedelta(hours=1))
    link = store.cached_links(["https://t.example/x"])["https://t.example/x"]
    assert (link.outcome, link.failures) == ("timeout", 2)
    assert store.count("links") == 1


# -- near-duplicates


def test_signatures_candidates_and_groups(backend: Backend):
    store = backend.store
    a, b = add_feeds(backend, "https://a.example/feed", "https://b.example/feed")
    _, _, ((first, _), (sibling, _)) = write(
        store,
        a,
        [entry("a1", "One", "https://a.example/1"), entry("a2", "Two", "https://a.example/2")],
    )
    _, _, ((copy, _),) = write(store, b, [entry("b1", "Copy", "https://b.example/1")])
    _, _, ((old, _),) = write(
        store,
        b,
        [entry("b2", "Old", "https://b.example/2", published=NOW - timedelta(days=60))],
    )
    for article_id in (first, sibling, copy, old):
        store.save_signature(article_id, bytes([article_id]) * 4, ["k1", f"own{article_id}"])
    assert store.signature_of(first) == bytes([first]) * 4
    assert store.signature_of(12345) is None
    # The sibling is from the same feed, the old one out of the window.
    window = timedelta(days=7)
    assert store.near_candidates(first, ["k1"], window) == ((copy, bytes([copy]) * 4),)
    assert store.near_candidates(first, [], window) == ()
    # New bands replace the old.
    store.save_signature(copy, bytes([copy]) * 4, ["k2"], old_bands=["k1", f"own{copy}"])
    assert store.near_candidates(first, ["k1"], window) == ()
    store.save_signature(copy, None, [], old_bands=["k2"])
    assert store.signature_of(copy) is None

    store.point_group([first, copy], first)
    group = dict(store.duplicate_group([copy]))
    assert set(group) == {first, copy}
    assert group[first] == NOW - timedelta(days=1)
    store.point_group([first, copy, old], copy)
    assert backend.rows("SELECT id, duplicate_of FROM articles ORDER BY id") == [
        (first, copy),
        (sibling, None),
        (copy, None),
        (old, copy),
    ]
    assert set(dict(store.duplicate_group([first]))) == {first, copy, old}


# -- maintenance


def add(store: Storage, fid: int, entries: list[Entry], now: datetime) -> None:
    with store.transaction():
        known = store.known(fid, entries)
        store.apply(fid, dedupe.decide(known, entries), language=None, now=now)


def test_housekeeping_max_age(backend: Backend):
    store = backend.store
    (fid,) = add_feeds(backend, "https://a.example/f")
    add(store, fid, [entry("old", "Old", "https://a.example/old")], NOW - timedelta(days=200))
    add(store, fid, [entry("new", "New", "https://a.example/new")], NOW - timedelta(days=10))
    assert store.housekeeping(NOW, max_age=180 * 86400) == 1
    assert backend.rows("SELECT title FROM articles") == [("New",)]
    assert store.count("article_feeds") == 1


def test_housekeeping_max_per_feed_keeps_shared_articles(backend: Backend):
    store = backend.store
    a, b = add_feeds(backend, "https://a.example/f", "https://b.example/f")
    day = timedelta(days=1)
    add(
        store,
        a,
        [
            entry(f"a{n}", f"T{n}", f"https://a.example/{n}", published=NOW - n * day)
            for n in range(5)
        ],
        NOW,
    )
    add(store, b, [entry("b0", "T4", "https://a.example/4", published=NOW - 4 * day)], NOW)
    assert store.housekeeping(NOW, max_per_feed=2) == 2
    assert backend.rows("SELECT url FROM articles ORDER BY url") == [
        ("https://a.example/0",),
        ("https://a.example/1",),
        ("https://a.example/4",),
    ]


def test_housekeeping_unlinks_copies_and_takes_revisions_along(backend: Backend):
    store = backend.store
    (fid,) = add_feeds(backend, "https://a.example/f")
    add(store, fid, [entry("orig", "O", "https://a.example/o")], NOW - timedelta(days=300))
    add(store, fid, [entry("orig", "O2", "https://a.example/o")], NOW - timedelta(days=299))
    add(store, fid, [entry("copy", "C", "https://a.example/c")], NOW)
    (orig,) = backend.rows("SELECT id FROM articles WHERE title = 'O2'")[0]
    (copy,) = backend.rows("SELECT id FROM articles WHERE title = 'C'")[0]
    store.point_group([orig, copy], orig)
    assert store.count("article_revisions") == 1
    assert store.housekeeping(NOW, max_age=30 * 86400) == 1
    assert backend.rows("SELECT id, duplicate_of FROM articles") == [(copy, None)]
    assert store.count("article_revisions") == 0
    assert store.housekeeping(NOW + timedelta(hours=1)) == 0


def test_check_writable_and_upkeep(backend: Backend):
    store = backend.store
    store.check_writable()
    assert store.upkeep_due() is False
    store.after_poll()


# -- imported sources (feedd import applet) and partial dates


def test_an_imported_source_is_never_polled_nor_disabled(backend: Backend):
    store = backend.store
    [configured] = add_feeds(backend, "https://example.org/feed.xml")
    with store.transaction():
        imported = store.source_feed("RT \u2013 Daily news", "applet:RT \u2013 Daily news", NOW)
    with store.transaction():
        again = store.source_feed("RT \u2013 Daily news", "applet:RT \u2013 Daily news", NOW)
    assert imported == again != configured
    assert [feed.id for feed in store.due_feeds(NOW, 10)] == [configured]
    assert store.feeds_by_url(["applet:RT \u2013 Daily news"]) == ()
    store.sync_feeds([], NOW)  # the configured feed goes; the imported source stays as it was
    assert backend.rows("SELECT id, state FROM feeds ORDER BY id") == [
        (configured, "new"),
        (imported, "imported"),
    ]
    assert store.feed_states() == {"disabled": 1, "imported": 1}
    assert bool(backend.scalar("SELECT imported FROM feeds WHERE id = %s", imported))
    assert store.due_feeds(NOW + timedelta(days=400), 10) == ()


def test_an_imported_story_joins_the_configured_feed_of_that_name(backend: Backend):
    store = backend.store
    store.sync_feeds([settings("https://example.org/rt.xml", name="RT")], NOW)
    [configured] = [row[0] for row in backend.rows("SELECT id FROM feeds")]
    with store.transaction():
        assert store.source_feed("RT", "applet:RT", NOW) == configured
    assert backend.scalar("SELECT count(*) FROM feeds") == 1


def test_a_partial_date_yields_to_any_full_one(backend: Backend):
    """The imported copy (no date, flag "partial") is stored first; the feed's
    copy, shorter, is linked to it and brings its full date."""
    store = backend.store
    [feed] = add_feeds(backend, "https://example.org/feed.xml")
    with store.transaction():
        source = store.source_feed("Wire", "applet:Wire", NOW)
    url = "https://example.org/story"
    long_text = " ".join(["word"] * 80)
    imported = replace(
        entry("applet:1", "A story", url, long_text, published=None),
        date_flag="partial",
        published_raw="28, 2021 at 02:46PM",
    )
    with store.transaction():
        intents = dedupe.decide(store.known(source, [imported]), [imported])
        store.apply(source, intents, language=None, now=NOW, estimate_dates=False)
    assert backend.rows("SELECT published_at, date_flag FROM articles") == [(None, "partial")]
    [known] = store.known(source, [imported]).articles
    assert known.published_at is None  # a partial date completes nothing
    copy = entry(
        "g1", "A story", url, "word word", published=datetime(2021, 12, 28, 11, 46, tzinfo=UTC)
    )
    with store.transaction():
        known_now = store.known(feed, [copy])
        [intent] = dedupe.decide(known_now, [copy])
        assert intent.action is Action.LINK
        store.apply(feed, [intent], language=None, now=NOW)
    [(published, flag)] = backend.rows("SELECT published_at, date_flag FROM articles")
    assert flag is None
    assert (published if isinstance(published, str) else published.astimezone(UTC)) in (
        "2021-12-28T11:46:00Z",
        datetime(2021, 12, 28, 11, 46, tzinfo=UTC),
    )
    [known] = store.known(feed, [copy]).articles
    assert known.published_at == datetime(2021, 12, 28, 11, 46, tzinfo=UTC)


# -- article pages ([fulltext])

PAGE_TEXT = " ".join(f"page{n}" for n in range(60))  # a text_hash's worth of words


def when(value: Any) -> datetime | None:
    """A timestamp as either backend returns it (text in SQLite), as a datetime."""
    if value is None or isinstance(value, datetime):
        return None if value is None else value.astimezone(UTC)
    return parse_timestamp(value)


def as_list(value: Any) -> Any:
    """A JSON column as either backend returns it (text in SQLite)."""
    return json.loads(value) if isinstance(value, str) else value


def queue(
    backend: Backend, fid: int, article_ids: list[int], now: datetime = NOW, reason: str = "short"
) -> int:
    url_of = dict(backend.rows("SELECT id, url FROM articles"))
    with backend.store.transaction():
        return backend.store.queue_pages(
            fid, [(article_id, url_of[article_id], reason) for article_id in article_ids], now
        )


def page_of(job: PageJob, text: str | None, **fields: Any) -> Page:
    """What PageReader would hand save_page for this page text."""
    words = normalize.word_count(text)
    extracted = Extracted(
        url=job.url,
        text=text,
        html=f"<p>{text}</p>" if text else None,
        word_count=words,
        **fields,
    )
    return Page(job, f"{job.url}?page", 200, extracted, dedupe.text_hash_of(text, words))


def save(store: Storage, page: Page, now: datetime = NOW + timedelta(minutes=5)):
    with store.transaction():
        return store.save_page(page, now, 20)


def one_page(backend: Backend, **changes: Any) -> tuple[int, int, PageJob]:
    """A feed and one article from it (a teaser: one word), its page queued and
    claimed; ``changes`` go into the feed's entry."""
    (fid,) = add_feeds(backend, "https://a.example/feed")
    teaser = replace(entry("g1", "Story", "https://news.example/story", "Teaser."), **changes)
    _, _, ((article_id, _),) = write(backend.store, fid, [teaser])
    assert queue(backend, fid, [article_id]) == 1
    (job,) = backend.store.claim_pages(NOW, 10, hold=300)
    return fid, article_id, job


def test_pages_are_queued_once_per_article(backend: Backend):
    store = backend.store
    (fid,) = add_feeds(backend, "https://a.example/feed")
    _, _, written = write(
        store,
        fid,
        [entry("g1", "One", "https://a.example/1"), entry("g2", "Two", "https://a.example/2")],
    )
    first, second = (article_id for article_id, _ in written)
    assert store.next_page_at() is None
    assert queue(backend, fid, [first], reason="trailer") == 1
    assert queue(backend, fid, [first, second], NOW + timedelta(hours=1)) == 1
    rows = backend.rows(
        "SELECT article_id, url, feed_id, reason, state, attempts, next_attempt_at, queued_at "
        "FROM pages ORDER BY article_id"
    )
    assert [(*row[:6], when(row[6]), when(row[7])) for row in rows] == [
        (first, "https://a.example/1", fid, "trailer", "queued", 0, NOW, NOW),
        (second, "https://a.example/2", fid, "short", "queued", 0, *[NOW + timedelta(hours=1)] * 2),
    ]
    assert store.next_page_at() == NOW
    with pytest.raises(StoreError, match="inside a transaction"):
        store.queue_pages(fid, [(first, "https://a.example/1", "short")], NOW)


def test_claim_pages_gives_due_pages_longest_waiting_first_and_holds_them(backend: Backend):
    store = backend.store
    (fid,) = add_feeds(backend, "https://a.example/feed")
    _, _, written = write(
        store, fid, [entry(f"g{n}", f"T{n}", f"https://a.example/{n}") for n in range(4)]
    )
    a, b, c, d = (article_id for article_id, _ in written)
    queue(backend, fid, [a])
    queue(backend, fid, [b], NOW - timedelta(hours=1))
    queue(backend, fid, [c], NOW - timedelta(hours=1))
    queue(backend, fid, [d], NOW + timedelta(hours=1))  # not due yet
    assert store.next_page_at() == NOW - timedelta(hours=1)

    first = store.claim_pages(NOW, 2, hold=300)
    assert first == (
        PageJob(b, "https://a.example/1", "https://a.example/feed", 1, "short"),
        PageJob(c, "https://a.example/2", "https://a.example/feed", 1, "short"),
    )
    assert [job.article_id for job in store.claim_pages(NOW, 10, hold=300)] == [a]
    assert store.claim_pages(NOW, 10, hold=300) == ()  # held, every one
    assert store.claim_pages(NOW + timedelta(seconds=299), 10, hold=300) == ()
    assert store.next_page_at() == NOW + timedelta(seconds=300)
    # The hold over (a poller that died with them): due again, the attempt counted.
    again = store.claim_pages(NOW + timedelta(seconds=300), 10, hold=300)
    assert [(job.article_id, job.attempts) for job in again] == [(a, 2), (b, 2), (c, 2)]
    assert backend.rows("SELECT attempts FROM pages WHERE article_id = %s", d) == [(0,)]


def test_save_page_with_a_fuller_text_replaces_the_feeds(backend: Backend):
    store = backend.store
    fid, article_id, job = one_page(backend, author=None, published_at=None, date_flag="missing")
    published = NOW - timedelta(days=2)
    page = page_of(job, PAGE_TEXT, author="Bea", published_at=published, image="https://i/1.png")
    with pytest.raises(StoreError, match="inside a transaction"):
        store.save_page(page, NOW, 20)
    result = save(store, page)
    assert (result.article_id, result.url, result.outcome, result.words) == (
        article_id,
        job.url,
        "stored",
        60,
    )
    [row] = backend.rows(
        "SELECT title, content_text, content_html, word_count, text_hash, content_source, "
        "author, published_at, date_flag, image, modified_at FROM articles"
    )
    assert row[:7] == (
        "Story",
        PAGE_TEXT,
        f"<p>{PAGE_TEXT}</p>",
        60,
        page.text_hash,
        "page",
        "Bea",
    )
    assert (when(row[7]), row[8], row[9], when(row[10])) == (
        published,
        "page",
        "https://i/1.png",
        NOW + timedelta(minutes=5),
    )
    # The feed's version is kept (replaced by no feed: by the page).
    assert backend.rows(
        "SELECT revision, content_text, reason, feed_id, replaced_by FROM article_revisions"
    ) == [(1, "Teaser.", "page", fid, None)]
    [done] = backend.rows(
        "SELECT state, next_attempt_at, final_url, http_status, error, words, filled, attempts "
        "FROM pages"
    )
    assert (*done[:6], as_list(done[6]), done[7]) == (
        "stored",
        None,
        f"{job.url}?page",
        200,
        None,
        60,
        ["author", "published_at", "image"],
        1,
    )
    assert store.next_page_at() is None
    assert store.claim_pages(NOW + timedelta(days=1), 10, hold=300) == ()


def test_a_page_not_fuller_keeps_the_feeds_text_and_fills_only_what_is_missing(
    backend: Backend,
):
    store = backend.store
    long_text = " ".join(["word"] * 80)
    _, _, job = one_page(backend, content_text=long_text, word_count=80)
    page = page_of(
        job, PAGE_TEXT, author="Bea", published_at=NOW - timedelta(days=9), image="https://i/1.png"
    )
    result = save(store, page)
    assert (result.outcome, result.words) == ("not_fuller", 60)
    [row] = backend.rows(
        "SELECT content_text, word_count, content_source, author, published_at, date_flag, "
        "image FROM articles"
    )
    assert (*row[:4], when(row[4]), *row[5:]) == (
        long_text,
        80,
        "feed",
        "Ann",  # the feed's author stays
        NOW - timedelta(days=1),  # and its usable date
        None,
        "https://i/1.png",  # the image it had none of
    )
    assert store.count("article_revisions") == 0
    [(state, filled)] = backend.rows("SELECT state, filled FROM pages")
    assert (state, as_list(filled)) == ("not_fuller", ["image"])
    # An empty page (no article found in it) is not fuller either.
    assert save(store, page_of(job, None)).outcome == "not_fuller"
    assert backend.scalar("SELECT content_text FROM articles") == long_text


def test_an_update_of_the_item_keeps_the_pages_fuller_text(backend: Backend):
    store = backend.store
    fid, _, job = one_page(backend)
    save(store, page_of(job, PAGE_TEXT))
    edited = entry("g1", "Story, corrected", "https://news.example/story", "Teaser, edited.")
    intents, counts, _ = write(store, fid, [edited], NOW + timedelta(hours=1))
    assert [i.action for i in intents] == [Action.UPDATE]
    assert counts.updated == 1
    assert backend.rows("SELECT title, content_text, word_count, content_source FROM articles") == [
        ("Story, corrected", PAGE_TEXT, 60, "page")
    ]
    assert backend.rows(
        "SELECT title, content_text, reason FROM article_revisions ORDER BY revision"
    ) == [("Story", "Teaser.", "page"), ("Story", PAGE_TEXT, "update")]
    # An update with more words than the page's takes the text back.
    fuller = " ".join(["feed"] * 70)
    write(store, fid, [entry("g1", "Story", "https://news.example/story", fuller)])
    assert backend.rows("SELECT content_text, word_count, content_source FROM articles") == [
        (fuller, 70, "feed")
    ]


def test_an_enrichment_by_a_fuller_feed_copy_puts_the_feed_back(backend: Backend):
    store = backend.store
    _, article_id, job = one_page(backend)
    save(store, page_of(job, PAGE_TEXT))
    (b,) = add_feeds(backend, "https://b.example/feed")
    fuller = entry("b-1", "Story", "https://news.example/story", " ".join(["more"] * 90))
    with store.transaction():
        store.apply(
            b,
            [Intent(Action.ENRICH, fuller, "fuller", article_id=article_id)],
            language=None,
            now=NOW + timedelta(hours=1),
        )
    assert backend.rows("SELECT content_text, word_count, content_source FROM articles") == [
        (fuller.content_text, 90, "feed")
    ]
    assert backend.rows(
        "SELECT content_text, reason, replaced_by FROM article_revisions ORDER BY revision"
    ) == [("Teaser.", "page", None), (PAGE_TEXT, "enrichment", b)]


def test_page_failed_requeues_or_gives_up(backend: Backend):
    store = backend.store
    _, article_id, job = one_page(backend)
    retry = NOW + timedelta(hours=2)
    store.page_failed(job, error="HTTP 503", http_status=503, now=NOW, retry_at=retry)
    [row] = backend.rows("SELECT state, next_attempt_at, fetched_at, error, http_status FROM pages")
    assert (row[0], when(row[1]), when(row[2]), *row[3:]) == (
        "queued",
        retry,
        NOW,
        "HTTP 503",
        503,
    )
    assert store.next_page_at() == retry
    assert store.claim_pages(retry - timedelta(seconds=1), 10, hold=300) == ()
    (again,) = store.claim_pages(retry, 10, hold=300)
    assert (again.article_id, again.attempts) == (article_id, 2)
    store.page_failed(again, error="not an HTML page", http_status=200, now=retry, retry_at=None)
    assert backend.rows("SELECT state, next_attempt_at, error FROM pages") == [
        ("failed", None, "not an HTML page")
    ]
    assert store.next_page_at() is None
    assert store.claim_pages(retry + timedelta(days=30), 10, hold=300) == ()
    assert backend.scalar("SELECT content_source FROM articles") == "feed"


def test_a_deleted_article_takes_its_page_along(backend: Backend):
    store = backend.store
    _, _, job = one_page(backend)
    assert store.housekeeping(NOW + timedelta(days=400), max_age=30 * 86400) == 1
    assert store.count("pages") == 0
    assert store.next_page_at() is None
    # A page fetched for an article deleted meanwhile: nothing to write.
    assert save(store, page_of(job, PAGE_TEXT)).outcome == "gone"
    assert store.count("articles") == 0


def test_a_merge_takes_the_page_text_along(backend: Backend):
    store = backend.store
    fid, keep, job = one_page(backend)
    save(store, page_of(job, PAGE_TEXT, image="https://i/1.png"))
    other = entry("g2", "Story", "https://news.example/other", "Other teaser.")
    _, _, ((merged, _),) = write(store, fid, [other])
    with store.transaction():
        store.merge_articles(Merge(keep=merged, merged=(keep,), text_from=keep), NOW)
    assert backend.rows("SELECT id, content_text, content_source, image FROM articles") == [
        (merged, PAGE_TEXT, "page", "https://i/1.png")
    ]
