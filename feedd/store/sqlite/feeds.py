"""Feeds and their schedule; recording a poll."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from ...types import (
    DueFeed,
    FeedSettings,
    FeedSource,
    Relocation,
    format_timestamp,
    parse_timestamp,
)
from .connection import Connection

# A configured feed: added (due at once), or its settings updated.
_UPSERT_FEED = """
INSERT INTO feeds (url, name, tags, enabled, interval_seconds, settings_hash, created_at)
VALUES (:url, :name, :tags, :enabled, :interval, :settings, :created)
ON CONFLICT (url) DO UPDATE SET
    name = excluded.name, tags = excluded.tags,
    enabled = excluded.enabled, interval_seconds = excluded.interval_seconds,
    settings_hash = excluded.settings_hash,
    -- a changed interval counts from the last fetch, not the next one
    next_fetch_at = CASE
        WHEN state = 'gone' AND settings_hash IS NOT excluded.settings_hash
        THEN NULL
        WHEN interval_seconds != excluded.interval_seconds
             AND last_fetched_at IS NOT NULL
        THEN strftime('%Y-%m-%dT%H:%M:%SZ', last_fetched_at,
                      '+' || excluded.interval_seconds || ' seconds')
        ELSE next_fetch_at END,
    poll_interval_seconds = CASE
        WHEN interval_seconds != excluded.interval_seconds THEN NULL
        ELSE poll_interval_seconds END,
    -- a gone feed (HTTP 410) is tried again once its entry is edited
    state = CASE
        WHEN state = 'gone' AND settings_hash IS NOT excluded.settings_hash
        THEN 'new' ELSE state END
"""


def settings_hash(feed: FeedSettings) -> str:
    """Fingerprint of a feed's config entry (credentials and headers left out)."""
    fields = [feed.url, feed.name, feed.interval, feed.tags, feed.enabled, feed.resolve]
    return hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:16]


class Feeds(Connection):
    def sync_feeds(self, feeds: Sequence[FeedSettings], now: datetime) -> None:
        """Make the feeds table match the config: add new feeds (due at once),
        update settings, disable feeds no longer configured (their articles stay).

        Only rows whose settings changed are written: a start or a reload with
        the same config reads the table and writes nothing."""
        created = format_timestamp(now)
        with self.transaction():
            stored = {
                url: (settings, enabled)
                for url, settings, enabled in self.conn.execute(
                    "SELECT url, settings_hash, enabled FROM feeds"
                )
            }
            configured = {feed.url: settings_hash(feed) for feed in feeds}
            self.conn.executemany(
                _UPSERT_FEED,
                (
                    {
                        "url": feed.url,
                        "name": feed.name,
                        "tags": json.dumps(list(feed.tags), ensure_ascii=False),
                        "enabled": int(feed.enabled),
                        "interval": round(feed.interval),
                        "settings": configured[feed.url],
                        "created": created,
                    }
                    for feed in feeds
                    if stored.get(feed.url) != (configured[feed.url], int(feed.enabled))
                ),
            )
            self.conn.executemany(
                "UPDATE feeds SET enabled = 0 WHERE url = ?",
                (
                    (url,)
                    for url, (_, enabled) in stored.items()
                    if enabled and url not in configured
                ),
            )

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
        """The named feeds (enabled or not), in the order given."""
        found = []
        for url in urls:
            row = self.conn.execute(
                f"SELECT {self._DUE_COLUMNS} FROM feeds WHERE url = ?", (url,)
            ).fetchone()
            if row is not None:
                found.append(self._due_feed(row))
        return tuple(found)

    # -- recording a fetch

    def record_not_modified(
        self,
        feed_id: int,
        *,
        status: int,
        etag: str | None,
        last_modified: str | None,
        now: datetime,
        next_fetch_at: datetime,
        poll_interval: float,
        move: Relocation,
    ) -> None:
        self._write(
            """
            UPDATE feeds SET state = 'ok', etag = ?, last_modified = ?, last_status = ?,
                last_fetched_at = ?, last_ok_at = ?, error_count = 0, last_error = NULL,
                next_fetch_at = ?, poll_interval_seconds = ?, final_url = ?, moved_to = ?,
                moved_count = ?
            WHERE id = ?
            """,
            (
                etag,
                last_modified,
                status,
                format_timestamp(now),
                format_timestamp(now),
                format_timestamp(next_fetch_at),
                round(poll_interval),
                move.final_url,
                move.moved_to,
                move.moved_count,
                feed_id,
            ),
        )

    def record_failure(
        self,
        feed_id: int,
        *,
        error: str,
        status: int | None,
        now: datetime,
        next_fetch_at: datetime,
    ) -> None:
        self._write(
            """
            UPDATE feeds SET state = 'failing', last_status = ?, last_fetched_at = ?,
                error_count = error_count + 1, last_error = ?, next_fetch_at = ?
            WHERE id = ?
            """,
            (status, format_timestamp(now), error[:2000], format_timestamp(next_fetch_at), feed_id),
        )

    def record_gone(self, feed_id: int, *, error: str, status: int, now: datetime) -> None:
        """HTTP 410: the feed is not polled again until its config entry changes."""
        self._write(
            """
            UPDATE feeds SET state = 'gone', last_status = ?, last_fetched_at = ?,
                error_count = error_count + 1, last_error = ?, next_fetch_at = NULL
            WHERE id = ?
            """,
            (status, format_timestamp(now), error[:2000], feed_id),
        )

    def record_success(
        self,
        feed_id: int,
        *,
        status: int,
        etag: str | None,
        last_modified: str | None,
        body_hash: str,
        title: str | None,
        site_url: str | None,
        now: datetime,
        next_fetch_at: datetime,
        poll_interval: float,
        posting_gap: float | None,
        last_post_at: datetime | None,
        move: Relocation,
    ) -> None:
        self.conn.execute(
            """
            UPDATE feeds SET state = 'ok', last_status = ?, etag = ?,
                last_modified = ?, body_hash = ?, title = coalesce(?, title),
                site_url = coalesce(?, site_url), last_fetched_at = ?, last_ok_at = ?,
                error_count = 0, last_error = NULL, next_fetch_at = ?,
                poll_interval_seconds = ?, posting_gap_seconds = ?,
                last_post_at = coalesce(?, last_post_at),
                final_url = ?, moved_to = ?, moved_count = ?
            WHERE id = ?
            """,
            (
                status,
                etag,
                last_modified,
                body_hash,
                title,
                site_url,
                format_timestamp(now),
                format_timestamp(now),
                format_timestamp(next_fetch_at),
                round(poll_interval),
                None if posting_gap is None else round(posting_gap),
                format_timestamp(last_post_at),
                move.final_url,
                move.moved_to,
                move.moved_count,
                feed_id,
            ),
        )

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
