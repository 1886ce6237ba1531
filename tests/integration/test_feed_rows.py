"""The SQLite store writes a FeedUpdate as it is: the columns an update leaves
unset keep their values; sync_feeds writes the schedule schedule.resync decides."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from integration_support import one

from feedd import schedule
from feedd.store.sqlite import SQLiteStore as Store
from feedd.types import (
    FeedAnswer,
    FeedDocument,
    FeedSettings,
    FeedUpdate,
    Relocation,
    format_timestamp,
)

NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
URL = "https://a.example/feed"
MOVED = Relocation("https://b.example/feed", None, 0)
DOCUMENT = FeedDocument("hash1", "A feed", "https://a.example/", 7200.0, NOW - timedelta(hours=3))


def settings(**changes: object) -> FeedSettings:
    values: dict[str, object] = {
        "url": URL,
        "name": None,
        "interval": 1800.0,
        "tags": (),
        "enabled": True,
    }
    values.update(changes)
    return FeedSettings(**values)  # type: ignore[arg-type]


def ok(
    when: datetime, document: FeedDocument | None, etag: str | None = '"e1"', interval: float = 3600
) -> FeedUpdate:
    answer = FeedAnswer(etag, "Mon, 01 Jan 2024 00:00:00 GMT", interval, MOVED, document)
    return FeedUpdate(
        "ok", 200 if document else 304, when, 0, None, when + timedelta(hours=1), answer
    )


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "feedd.db") as opened:
        opened.sync_feeds([settings()], NOW)
        yield opened


@pytest.fixture
def row(store: Store, tmp_path: Path):
    def read() -> dict[str, object]:
        return one(tmp_path / "feedd.db", "SELECT * FROM feeds WHERE url = ?", URL)

    return read


def feed_id(store: Store) -> int:
    (feed,) = store.feeds_by_url([URL])
    return feed.id


# Every column a poll with a new body writes.
DOCUMENT_COLUMNS = (
    "state",
    "last_status",
    "last_fetched_at",
    "last_ok_at",
    "error_count",
    "last_error",
    "next_fetch_at",
    "etag",
    "last_modified",
    "poll_interval_seconds",
    "final_url",
    "moved_to",
    "moved_count",
    "body_hash",
    "title",
    "site_url",
    "posting_gap_seconds",
    "last_post_at",
)


def test_a_new_body_writes_everything(store: Store, row):
    store.record_poll(feed_id(store), ok(NOW, DOCUMENT))
    feed = row()
    assert {key: feed[key] for key in DOCUMENT_COLUMNS} == {
        "state": "ok",
        "last_status": 200,
        "last_fetched_at": format_timestamp(NOW),
        "last_ok_at": format_timestamp(NOW),
        "error_count": 0,
        "last_error": None,
        "next_fetch_at": format_timestamp(NOW + timedelta(hours=1)),
        "etag": '"e1"',
        "last_modified": "Mon, 01 Jan 2024 00:00:00 GMT",
        "poll_interval_seconds": 3600,
        "final_url": "https://b.example/feed",
        "moved_to": None,
        "moved_count": 0,
        "body_hash": "hash1",
        "title": "A feed",
        "site_url": "https://a.example/",
        "posting_gap_seconds": 7200,
        "last_post_at": format_timestamp(NOW - timedelta(hours=3)),
    }


def test_a_304_keeps_the_document_and_takes_the_validators_it_was_given(store: Store, row):
    fid = feed_id(store)
    store.record_poll(fid, ok(NOW, DOCUMENT))
    later = NOW + timedelta(hours=1)
    store.record_poll(fid, ok(later, None, etag=None, interval=5400))
    feed = row()
    assert (feed["state"], feed["last_status"], feed["last_ok_at"]) == (
        "ok",
        304,
        format_timestamp(later),
    )
    assert (feed["etag"], feed["poll_interval_seconds"]) == (None, 5400)
    assert (feed["body_hash"], feed["title"], feed["site_url"]) == (
        "hash1",
        "A feed",
        "https://a.example/",
    )
    assert feed["posting_gap_seconds"] == 7200
    assert feed["last_post_at"] == format_timestamp(NOW - timedelta(hours=3))


def test_a_document_without_title_or_dates_keeps_them_but_not_its_gap(store: Store, row):
    fid = feed_id(store)
    store.record_poll(fid, ok(NOW, DOCUMENT))
    store.record_poll(fid, ok(NOW, FeedDocument("hash2", None, None, None, None)))
    feed = row()
    assert (feed["body_hash"], feed["title"], feed["site_url"]) == (
        "hash2",
        "A feed",
        "https://a.example/",
    )
    assert feed["last_post_at"] == format_timestamp(NOW - timedelta(hours=3))
    assert feed["posting_gap_seconds"] is None  # too few dates now: no gap to go on


def test_a_failure_writes_only_the_attempt(store: Store, row):
    fid = feed_id(store)
    store.record_poll(fid, ok(NOW, DOCUMENT))
    before = row()
    later = NOW + timedelta(hours=2)
    store.record_poll(fid, FeedUpdate("failing", 503, later, 1, "HTTP 503", later))
    after = row()
    written = {"state", "last_status", "last_fetched_at", "error_count", "last_error"}
    written.add("next_fetch_at")
    assert {k: after[k] for k in written} == {
        "state": "failing",
        "last_status": 503,
        "last_fetched_at": format_timestamp(later),
        "error_count": 1,
        "last_error": "HTTP 503",
        "next_fetch_at": format_timestamp(later),
    }
    assert {k: v for k, v in after.items() if k not in written} == {
        k: v for k, v in before.items() if k not in written
    }


def test_gone_is_never_due_until_its_entry_changes(store: Store, row):
    fid = feed_id(store)
    (feed,) = store.feeds_by_url([URL])
    store.record_poll(
        fid,
        schedule.failed(feed, status=410, error="HTTP 410", retry_after_value=None, now=NOW),
    )
    assert (row()["state"], row()["next_fetch_at"]) == ("gone", None)
    assert store.due_feeds(NOW + timedelta(days=365), limit=10) == ()
    store.sync_feeds([settings()], NOW)  # the same entry: still gone
    assert row()["state"] == "gone"
    store.sync_feeds([settings(name="Renamed")], NOW)
    assert (row()["state"], row()["next_fetch_at"]) == ("new", None)
    assert [f.id for f in store.due_feeds(NOW, limit=10)] == [fid]


def test_a_new_interval_counts_from_the_last_fetch(store: Store, row):
    fid = feed_id(store)
    store.record_poll(fid, ok(NOW, DOCUMENT))
    store.sync_feeds([settings(interval=900.0)], NOW + timedelta(days=1))
    feed = row()
    assert feed["interval_seconds"] == 900
    assert feed["next_fetch_at"] == format_timestamp(NOW + timedelta(minutes=15))
    assert feed["poll_interval_seconds"] is None  # learned under the old interval
    assert feed["state"] == "ok"
    # Only the interval decides: a rename leaves the schedule alone.
    store.record_poll(fid, ok(NOW, DOCUMENT))
    store.sync_feeds([settings(interval=900.0, name="A")], NOW + timedelta(days=1))
    feed = row()
    assert feed["next_fetch_at"] == format_timestamp(NOW + timedelta(hours=1))
    assert feed["poll_interval_seconds"] == 3600
