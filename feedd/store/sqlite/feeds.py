"""Feeds and their schedule; recording a poll."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from ... import schedule
from ...errors import StoreError
from ...types import (
    DueFeed,
    FeedSchedule,
    FeedSettings,
    FeedSource,
    FeedUpdate,
    format_timestamp,
    parse_timestamp,
)
from ..fingerprints import settings_hash
from ..rows import TIMESTAMP_COLUMNS, poll_columns
from .connection import Connection, chunks

# A configured feed, added: due at once (next_fetch_at NULL, state 'new').
_INSERT_FEED = """
INSERT INTO feeds (url, name, tags, enabled, interval_seconds, settings_hash, created_at)
VALUES (:url, :name, :tags, :enabled, :interval, :settings, :created)
"""
# A configured feed whose entry changed: its settings, and its schedule as
# schedule.resync left it.
_UPDATE_FEED = """
UPDATE feeds SET name = :name, tags = :tags, enabled = :enabled,
    interval_seconds = :interval, settings_hash = :settings, state = :state,
    next_fetch_at = :next_fetch_at, poll_interval_seconds = :poll_interval
WHERE id = :id
"""
# What every poll writes (FeedUpdate), then what an answer adds (FeedAnswer),
# then what a new body adds (FeedDocument). A document without a title, a
# site link or a dated item keeps the ones stored.
_POLLED = (
    "state = :state, last_status = :status, last_fetched_at = :fetched_at, "
    "error_count = :error_count, last_error = :error, next_fetch_at = :next_fetch_at"
)
_ANSWERED = (
    ", last_ok_at = :fetched_at, etag = :etag, last_modified = :last_modified, "
    "poll_interval_seconds = :poll_interval, final_url = :final_url, moved_to = :moved_to, "
    "moved_count = :moved_count"
)
_DOCUMENT = (
    ", body_hash = :body_hash, title = coalesce(:title, title), "
    "site_url = coalesce(:site_url, site_url), posting_gap_seconds = :posting_gap, "
    "last_post_at = coalesce(:last_post_at, last_post_at)"
)
_RECORD_FAILURE = f"UPDATE feeds SET {_POLLED} WHERE id = :id"
_RECORD_NOT_MODIFIED = f"UPDATE feeds SET {_POLLED}{_ANSWERED} WHERE id = :id"
_RECORD_DOCUMENT = f"UPDATE feeds SET {_POLLED}{_ANSWERED}{_DOCUMENT} WHERE id = :id"
_RECORD = {
    "failure": _RECORD_FAILURE,
    "not_modified": _RECORD_NOT_MODIFIED,
    "document": _RECORD_DOCUMENT,
}


def _poll_values(feed_id: int, update: FeedUpdate) -> tuple[str, dict[str, Any]]:
    """The statement and parameters that write ``update`` to the feed's row."""
    kind, values = poll_columns(feed_id, update)
    for column in TIMESTAMP_COLUMNS:
        if column in values:
            values[column] = format_timestamp(values[column])
    return _RECORD[kind], values


def _settings_values(feed: FeedSettings, fingerprint: str) -> dict[str, Any]:
    """The columns a feed's config entry sets."""
    return {
        "url": feed.url,
        "name": feed.name,
        "tags": json.dumps(list(feed.tags), ensure_ascii=False),
        "enabled": int(feed.enabled),
        "interval": round(feed.interval),
        "settings": fingerprint,
    }


def _resynced(
    feed_id: int, stored: FeedSchedule, feed: FeedSettings, *, edited: bool
) -> dict[str, Any]:
    """The schedule columns of a stored feed whose entry changed, as resync decides."""
    after = schedule.resync(stored, feed, edited=edited)
    return {
        "id": feed_id,
        "state": after.state,
        "next_fetch_at": format_timestamp(after.next_fetch_at),
        "poll_interval": None if after.poll_interval is None else round(after.poll_interval),
    }


class Feeds(Connection):
    def sync_feeds(self, feeds: Sequence[FeedSettings], now: datetime) -> None:
        """Make the feeds table match the config: add new feeds (due at once),
        update settings, disable feeds no longer configured (their articles stay).
        What an edited entry does to the feed's schedule is schedule.resync's.

        Only rows whose settings changed are written: a start or a reload with
        the same config reads the table and writes nothing."""
        created = format_timestamp(now)
        with self.transaction():
            stored = {
                url: (id_, settings, enabled)
                for id_, url, settings, enabled in self.conn.execute(
                    "SELECT id, url, settings_hash, enabled FROM feeds"
                )
            }
            configured = {feed.url: settings_hash(feed) for feed in feeds}
            added, changed = [], []
            for feed in feeds:
                row = stored.get(feed.url)
                if row is None:
                    added.append(
                        {**_settings_values(feed, configured[feed.url]), "created": created}
                    )
                elif row[1:] != (configured[feed.url], int(feed.enabled)):
                    changed.append((row[0], feed, row[1] != configured[feed.url]))
            self.conn.executemany(_INSERT_FEED, added)
            schedules = self._schedules([id_ for id_, _, _ in changed])
            self.conn.executemany(
                _UPDATE_FEED,
                (
                    {
                        **_settings_values(feed, configured[feed.url]),
                        **_resynced(id_, schedules[id_], feed, edited=edited),
                    }
                    for id_, feed, edited in changed
                ),
            )
            self.conn.executemany(
                # An imported archive's source is never configured, never disabled.
                "UPDATE feeds SET enabled = 0 WHERE url = ? AND imported = 0",
                ((url,) for url, row in stored.items() if row[2] and url not in configured),
            )

    def _schedules(self, feed_ids: Sequence[int]) -> dict[int, FeedSchedule]:
        """The stored schedules of these feeds (sync_feeds reads them for edited
        entries only: a start with the same config parses no timestamp)."""
        found = {}
        for chunk in chunks(feed_ids):
            marks = ",".join("?" * len(chunk))
            for id_, state, interval, fetched, next_at, poll in self.conn.execute(
                "SELECT id, state, interval_seconds, last_fetched_at, next_fetch_at, "
                f"poll_interval_seconds FROM feeds WHERE id IN ({marks})",
                chunk,
            ):
                found[id_] = FeedSchedule(
                    state=state,
                    interval=float(interval),
                    last_fetched_at=parse_timestamp(fetched),
                    next_fetch_at=parse_timestamp(next_at),
                    poll_interval=None if poll is None else float(poll),
                )
        return found

    def _due_feed(self, row: sqlite3.Row | tuple[Any, ...]) -> DueFeed:
        (id_, url, interval, errors, etag, last_modified, body_hash, final_url, poll_interval,
         gap, last_post_at, moved_to, moved_count, state) = row  # fmt: skip
        return DueFeed(
            id=id_,
            url=url,
            interval=float(interval),
            error_count=errors,
            source=FeedSource(url, etag, last_modified, body_hash, final_url),
            poll_interval=None if poll_interval is None else float(poll_interval),
            posting_gap=None if gap is None else float(gap),
            last_post_at=parse_timestamp(last_post_at),
            moved_to=moved_to,
            moved_count=moved_count,
            state=state,
        )

    _DUE_COLUMNS = (
        "id, url, interval_seconds, error_count, etag, last_modified, body_hash, final_url, "
        "poll_interval_seconds, posting_gap_seconds, last_post_at, moved_to, moved_count, state"
    )

    def due_feeds(
        self, now: datetime, limit: int, exclude: Iterable[int] = ()
    ) -> tuple[DueFeed, ...]:
        """Enabled feeds whose next_fetch_at has come (never-fetched feeds first)."""
        skip = set(exclude)
        wanted = limit + len(skip)
        # Two index range scans (feeds_due: enabled, next_fetch_at), never a sort of
        # every feed: never-fetched feeds first, then the most overdue.
        rows = self.conn.execute(
            f"""
            SELECT {self._DUE_COLUMNS} FROM feeds
            WHERE enabled = 1 AND next_fetch_at IS NULL AND state != 'gone'
            LIMIT ?
            """,
            (wanted,),
        ).fetchall()
        if len(rows) < wanted:
            rows += self.conn.execute(
                f"""
                SELECT {self._DUE_COLUMNS} FROM feeds
                WHERE enabled = 1 AND next_fetch_at <= ? AND state != 'gone'
                ORDER BY next_fetch_at
                LIMIT ?
                """,
                (format_timestamp(now), wanted - len(rows)),
            ).fetchall()
        return tuple(self._due_feed(r) for r in rows if r[0] not in skip)[:limit]

    def feeds_by_url(self, urls: Iterable[str]) -> tuple[DueFeed, ...]:
        """The named feeds (enabled or not; never an imported source), in the order given."""
        found = []
        for url in urls:
            row = self.conn.execute(
                f"SELECT {self._DUE_COLUMNS} FROM feeds WHERE url = ? AND imported = 0", (url,)
            ).fetchone()
            if row is not None:
                found.append(self._due_feed(row))
        return tuple(found)

    def source_feed(self, name: str, url: str, now: datetime) -> int:
        """The feed an imported story joins: the first configured, enabled feed whose
        name or title is ``name``; else the imported feed at ``url``, created (never
        polled: enabled = 0, imported = 1). Call inside transaction()."""
        row = self.conn.execute(
            "SELECT id FROM feeds WHERE imported = 0 AND enabled = 1 AND (name = ? OR title = ?) "
            "ORDER BY id LIMIT 1",
            (name, name),
        ).fetchone()
        if row is None:
            row = self.conn.execute(
                "SELECT id FROM feeds WHERE url = ? AND imported = 1", (url,)
            ).fetchone()
        if row is not None:
            return int(row[0])
        cursor = self.conn.execute(
            "INSERT INTO feeds (url, name, title, enabled, interval_seconds, state, created_at, "
            "imported) VALUES (?, ?, ?, 0, 0, 'imported', ?, 1)",
            (url, name, name, format_timestamp(now)),
        )
        if cursor.lastrowid is None:
            raise StoreError("INSERT INTO feeds returned no rowid")
        return cursor.lastrowid

    # -- recording a poll

    def record_poll(self, feed_id: int, update: FeedUpdate) -> None:
        sql, values = _poll_values(feed_id, update)
        with self._refusals():
            self.conn.execute(sql, values)

    def has_polled(self, feed_id: int) -> bool:
        """Whether a poll of this feed has succeeded before."""
        row = self.conn.execute("SELECT last_ok_at FROM feeds WHERE id = ?", (feed_id,)).fetchone()
        return row is not None and row[0] is not None

    def digest_state(self, feed_id: int) -> str | None:
        """What the feed's last digest left for the next one (``save_digest_state``)."""
        row = self.conn.execute("SELECT state FROM feed_digests WHERE feed_id = ?", (feed_id,))
        found = row.fetchone()
        return None if found is None else str(found[0])

    def save_digest_state(self, feed_id: int, state: str) -> None:
        """Call inside the transaction that stores the items the state describes."""
        self.conn.execute(
            "INSERT INTO feed_digests (feed_id, state) VALUES (?, ?) "
            "ON CONFLICT (feed_id) DO UPDATE SET state = excluded.state",
            (feed_id, state),
        )
