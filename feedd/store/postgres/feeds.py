"""Feeds and their schedule, claimed under leases; recording a poll."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from ... import schedule
from ...errors import StoreError
from ...types import DueFeed, FeedSchedule, FeedSettings, FeedSource, FeedUpdate
from ..fingerprints import settings_hash
from ..rows import TIMESTAMP_COLUMNS, poll_columns
from .connection import Connection, stamp, utc
from .schema import SYNC_LOCK

_INSERT_FEED = """
INSERT INTO feeds (url, name, tags, enabled, interval_seconds, settings_hash, created_at)
VALUES (%(url)s, %(name)s, %(tags)s, %(enabled)s, %(interval)s, %(settings)s, %(created)s)
"""
_UPDATE_FEED = """
UPDATE feeds SET name = %(name)s, tags = %(tags)s, enabled = %(enabled)s,
    interval_seconds = %(interval)s, settings_hash = %(settings)s, state = %(state)s,
    next_fetch_at = %(next_fetch_at)s, poll_interval_seconds = %(poll_interval)s
WHERE id = %(id)s
"""
# As SQLite's (feedd/store/sqlite/feeds.py), and the poll's lease ends with it.
_POLLED = (
    "state = %(state)s, last_status = %(status)s, last_fetched_at = %(fetched_at)s, "
    "error_count = %(error_count)s, last_error = %(error)s, next_fetch_at = %(next_fetch_at)s, "
    "lease_owner = NULL, lease_until = NULL"
)
_ANSWERED = (
    ", last_ok_at = %(fetched_at)s, etag = %(etag)s, last_modified = %(last_modified)s, "
    "poll_interval_seconds = %(poll_interval)s, final_url = %(final_url)s, "
    "moved_to = %(moved_to)s, moved_count = %(moved_count)s"
)
_DOCUMENT = (
    ", body_hash = %(body_hash)s, title = coalesce(%(title)s, title), "
    "site_url = coalesce(%(site_url)s, site_url), posting_gap_seconds = %(posting_gap)s, "
    "last_post_at = coalesce(%(last_post_at)s, last_post_at)"
)
_RECORD_FAILURE = f"UPDATE feeds SET {_POLLED} WHERE id = %(id)s"
_RECORD_NOT_MODIFIED = f"UPDATE feeds SET {_POLLED}{_ANSWERED} WHERE id = %(id)s"
_RECORD_DOCUMENT = f"UPDATE feeds SET {_POLLED}{_ANSWERED}{_DOCUMENT} WHERE id = %(id)s"
_RECORD = {
    "failure": _RECORD_FAILURE,
    "not_modified": _RECORD_NOT_MODIFIED,
    "document": _RECORD_DOCUMENT,
}

_DUE_COLUMNS = (
    "id, url, interval_seconds, error_count, etag, last_modified, body_hash, final_url, "
    "poll_interval_seconds, posting_gap_seconds, last_post_at, moved_to, moved_count, state"
)
# Where the claim statements put the lease token, after the DueFeed columns.
_TOKEN = 14
_LEASE = "now() + make_interval(secs => %(lease)s)"
# The claim: due feeds nobody holds, in SQLite's order (never fetched first,
# then the most overdue), locked with SKIP LOCKED so that two pollers claiming
# at once take different feeds instead of waiting on each other; a feed whose
# lease expired is free again. The CTE puts the claimed rows back in due order
# (UPDATE ... RETURNING keeps none).
_CLAIM_DUE = f"""
WITH claimed AS (
    UPDATE feeds SET lease_owner = %(owner)s, lease_until = {_LEASE},
        lease_token = lease_token + 1
    WHERE id IN (
        SELECT id FROM feeds
        WHERE enabled AND state != 'gone'
          AND (next_fetch_at IS NULL OR next_fetch_at <= %(now)s)
          AND (lease_until IS NULL OR lease_until < now())
          AND NOT (id = ANY(%(exclude)s))
        ORDER BY next_fetch_at NULLS FIRST, id
        LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    )
    RETURNING {_DUE_COLUMNS}, lease_token, next_fetch_at
)
SELECT * FROM claimed ORDER BY next_fetch_at NULLS FIRST, id
"""
# The named feeds, whatever their state; one another poller holds is left out
# (this poller's own are claimed again: a new token).
_CLAIM_NAMED = f"""
WITH claimed AS (
    UPDATE feeds SET lease_owner = %(owner)s, lease_until = {_LEASE},
        lease_token = lease_token + 1
    WHERE id IN (
        SELECT id FROM feeds
        WHERE url = ANY(%(urls)s) AND NOT imported
          AND (lease_until IS NULL OR lease_until < now() OR lease_owner = %(owner)s)
        FOR UPDATE SKIP LOCKED
    )
    RETURNING {_DUE_COLUMNS}, lease_token
)
SELECT * FROM claimed
"""


def _poll_values(feed_id: int, update: FeedUpdate) -> tuple[str, dict[str, Any]]:
    """The statement and parameters that write ``update`` to the feed's row."""
    kind, values = poll_columns(feed_id, update)
    for column in TIMESTAMP_COLUMNS:
        if column in values:
            values[column] = stamp(values[column])
    return _RECORD[kind], values


def _settings_values(feed: FeedSettings, fingerprint: str) -> dict[str, Any]:
    return {
        "url": feed.url,
        "name": feed.name,
        "tags": Jsonb(list(feed.tags)),
        "enabled": feed.enabled,
        "interval": round(feed.interval),
        "settings": fingerprint,
    }


def _resynced(
    feed_id: int, stored: FeedSchedule, feed: FeedSettings, *, edited: bool
) -> dict[str, Any]:
    after = schedule.resync(stored, feed, edited=edited)
    return {
        "id": feed_id,
        "state": after.state,
        "next_fetch_at": stamp(after.next_fetch_at),
        "poll_interval": None if after.poll_interval is None else round(after.poll_interval),
    }


def _due_feed(row: Sequence[Any]) -> DueFeed:
    (id_, url, interval, errors, etag, last_modified, body_hash, final_url, poll_interval,
     gap, last_post_at, moved_to, moved_count, state) = row[:14]  # fmt: skip
    return DueFeed(
        id=id_,
        url=url,
        interval=float(interval),
        error_count=errors,
        source=FeedSource(url, etag, last_modified, body_hash, final_url),
        poll_interval=None if poll_interval is None else float(poll_interval),
        posting_gap=None if gap is None else float(gap),
        last_post_at=utc(last_post_at),
        moved_to=moved_to,
        moved_count=moved_count,
        state=state,
    )


class Feeds(Connection):
    def sync_feeds(self, feeds: Sequence[FeedSettings], now: datetime) -> None:
        """As SQLite's: add new feeds (due at once), update edited ones (their
        schedule as schedule.resync decides), disable the ones no longer
        configured. Pollers starting or reloading together sync one at a time
        (SYNC_LOCK): each sees the rows the one before added."""
        with self.transaction():
            self.execute("SELECT pg_advisory_xact_lock(%s::int8)", (SYNC_LOCK,))
            stored = {
                url: (id_, settings, enabled)
                for id_, url, settings, enabled in self.execute(
                    "SELECT id, url, settings_hash, enabled FROM feeds"
                )
            }
            configured = {feed.url: settings_hash(feed) for feed in feeds}
            added, changed = [], []
            for feed in feeds:
                row = stored.get(feed.url)
                if row is None:
                    added.append(
                        {**_settings_values(feed, configured[feed.url]), "created": stamp(now)}
                    )
                elif row[1:] != (configured[feed.url], feed.enabled):
                    changed.append((row[0], feed, row[1] != configured[feed.url]))
            # A config may name a feed twice; SQLite's UNIQUE refuses it the same way.
            self.executemany(_INSERT_FEED, added)
            schedules = self._schedules([id_ for id_, _, _ in changed])
            self.executemany(
                _UPDATE_FEED,
                [
                    {
                        **_settings_values(feed, configured[feed.url]),
                        **_resynced(id_, schedules[id_], feed, edited=edited),
                    }
                    for id_, feed, edited in changed
                ],
            )
            removed = [url for url, row in stored.items() if row[2] and url not in configured]
            if removed:
                # An imported archive's source is never configured, never disabled.
                self.execute(
                    "UPDATE feeds SET enabled = false WHERE url = ANY(%s) AND NOT imported",
                    (removed,),
                )

    def _schedules(self, feed_ids: Sequence[int]) -> dict[int, FeedSchedule]:
        if not feed_ids:
            return {}
        return {
            id_: FeedSchedule(
                state=state,
                interval=float(interval),
                last_fetched_at=utc(fetched),
                next_fetch_at=utc(next_at),
                poll_interval=None if poll is None else float(poll),
            )
            for id_, state, interval, fetched, next_at, poll in self.execute(
                "SELECT id, state, interval_seconds, last_fetched_at, next_fetch_at, "
                "poll_interval_seconds FROM feeds WHERE id = ANY(%s)",
                (list(feed_ids),),
            )
        }

    def due_feeds(
        self, now: datetime, limit: int, exclude: Iterable[int] = ()
    ) -> tuple[DueFeed, ...]:
        """Enabled feeds whose next_fetch_at has come (never-fetched feeds first),
        claimed for this poller (committed at once)."""
        with self.atomic():
            rows = self.execute(
                _CLAIM_DUE,
                {
                    "owner": self.owner,
                    "lease": self.lease_seconds,
                    "now": now,
                    "exclude": list(exclude),
                    "limit": limit,
                },
            ).fetchall()
            self.claimed([(row[0], row[_TOKEN]) for row in rows])
        return tuple(_due_feed(row) for row in rows)

    def feeds_by_url(self, urls: Iterable[str]) -> tuple[DueFeed, ...]:
        """The named feeds (enabled or not), in the order given, claimed for this
        poller; a feed another poller holds is left out."""
        wanted = list(dict.fromkeys(urls))
        if not wanted:
            return ()
        with self.atomic():
            rows = self.execute(
                _CLAIM_NAMED, {"owner": self.owner, "lease": self.lease_seconds, "urls": wanted}
            ).fetchall()
            self.claimed([(row[0], row[_TOKEN]) for row in rows])
        by_url = {row[1]: _due_feed(row) for row in rows}
        return tuple(by_url[url] for url in wanted if url in by_url)

    def source_feed(self, name: str, url: str, now: datetime) -> int:
        """As SQLite's: a configured, enabled feed named or titled ``name``, else the
        imported feed at ``url``, created (never polled). Call inside transaction()."""
        row = self.execute(
            "SELECT id FROM feeds WHERE NOT imported AND enabled "
            "AND (name = %(name)s OR title = %(name)s) ORDER BY id LIMIT 1",
            {"name": name},
        ).fetchone()
        if row is not None:
            return int(row[0])
        # Two importers naming one new source at once: one row, both get its id.
        row = self.execute(
            "INSERT INTO feeds (url, name, title, enabled, interval_seconds, state, created_at, "
            "imported) VALUES (%(url)s, %(name)s, %(name)s, false, 0, 'imported', %(now)s, true) "
            "ON CONFLICT (url) DO UPDATE SET imported = feeds.imported RETURNING id, imported",
            {"url": url, "name": name, "now": stamp(now)},
        ).fetchone()
        if row is None or not row[1]:
            raise StoreError(f"{url} is a configured feed's address, not an imported source")
        return int(row[0])

    # -- recording a poll

    def record_poll(self, feed_id: int, update: FeedUpdate) -> None:
        """Write the poll's result and end the feed's lease (LeaseLost when another
        poller claimed the feed meanwhile: nothing is written)."""
        sql, values = _poll_values(feed_id, update)
        with self.atomic():
            self.fence(feed_id)
            self.execute(sql, values)
            self.end_lease(feed_id)

    def has_polled(self, feed_id: int) -> bool:
        row = self.execute("SELECT last_ok_at FROM feeds WHERE id = %s", (feed_id,)).fetchone()
        return row is not None and row[0] is not None

    def digest_state(self, feed_id: int) -> str | None:
        row = self.execute(
            "SELECT state FROM feed_digests WHERE feed_id = %s", (feed_id,)
        ).fetchone()
        return None if row is None else str(row[0])

    def save_digest_state(self, feed_id: int, state: str) -> None:
        """Call inside the transaction that stores the items the state describes."""
        with self.atomic():
            self.fence(feed_id)
            self.execute(
                "INSERT INTO feed_digests (feed_id, state) VALUES (%s, %s) "
                "ON CONFLICT (feed_id) DO UPDATE SET state = excluded.state",
                (feed_id, state),
            )
