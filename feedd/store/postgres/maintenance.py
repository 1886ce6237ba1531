"""Retention (once per cluster), health checks and counts."""

from __future__ import annotations

from datetime import datetime, timedelta

from psycopg import sql

from ...errors import StoreError
from ...types import format_timestamp, parse_timestamp
from .articles import Articles
from .connection import stamp
from .schema import HOUSEKEEPING_LOCK

# Every poller's daemon calls housekeeping every 10 minutes
# (daemon.HOUSEKEEPING_SECONDS); the cluster runs it once in that time. Just
# under 10 minutes, so that one poller alone, whose calls come a little early
# or late, still runs it at each call.
HOUSEKEEPING_EVERY = timedelta(minutes=9)

_TRIM_REVISIONS = """
DELETE FROM article_revisions r USING (
    SELECT article_id, revision,
        row_number() OVER (PARTITION BY article_id ORDER BY revision DESC) AS rank
    FROM article_revisions
) ranked
WHERE r.article_id = ranked.article_id AND r.revision = ranked.revision AND ranked.rank > %s
"""
_TRIM_FEEDS = """
DELETE FROM article_feeds d USING (
    SELECT af.feed_id, af.guid, row_number() OVER (
        PARTITION BY af.feed_id
        ORDER BY coalesce(a.published_at, a.first_seen_at) DESC, a.id DESC
    ) AS rank
    FROM article_feeds af JOIN articles a ON a.id = af.article_id
) ranked
WHERE d.feed_id = ranked.feed_id AND d.guid = ranked.guid AND ranked.rank > %s
"""
# Articles no feed carries any more.
_ORPHANS = (
    "SELECT id FROM articles a WHERE NOT EXISTS "
    "(SELECT 1 FROM article_feeds af WHERE af.article_id = a.id)"
)


class Maintenance(Articles):
    def housekeeping(
        self,
        now: datetime,
        max_age: float | None = None,
        max_per_feed: int | None = None,
        max_revisions: int | None = None,
    ) -> int:
        """Retention as SQLite's (see there), run by one poller of the cluster at a
        time and at most every HOUSEKEEPING_EVERY; 0 from the others. Also drops
        host slots whose poller stopped without giving them back. Returns
        articles deleted."""
        with self.transaction():
            got = self.execute(
                "SELECT pg_try_advisory_xact_lock(%s::int8)", (HOUSEKEEPING_LOCK,)
            ).fetchone()
            if not got or not got[0]:
                return 0
            row = self.execute(
                "SELECT value FROM feedd_meta WHERE key = 'housekeeping_at'"
            ).fetchone()
            last = parse_timestamp(row[0]) if row else None
            # Either way round: a poller whose clock runs a little ahead must not
            # make the others run it again.
            if last is not None and abs(now - last) < HOUSEKEEPING_EVERY:
                return 0
            deleted = self._retention(now, max_age, max_per_feed, max_revisions)
            self.execute("DELETE FROM host_slots WHERE lease_until < now()")
            self.execute(
                "INSERT INTO feedd_meta (key, value) VALUES ('housekeeping_at', %s) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (format_timestamp(now),),
            )
        return deleted

    def _retention(
        self,
        now: datetime,
        max_age: float | None,
        max_per_feed: int | None,
        max_revisions: int | None,
    ) -> int:
        if max_revisions is None and max_age is None and max_per_feed is None:
            return 0
        # Nobody decides on a story while its articles may be deleted under it.
        self.lock_all_identities()
        if max_revisions is not None:
            self.execute(_TRIM_REVISIONS, (max_revisions,))
        if max_age is None and max_per_feed is None:
            return 0
        if max_age is not None:
            cutoff = stamp(now - timedelta(seconds=max_age))
            self.execute(
                "DELETE FROM article_feeds WHERE article_id IN "
                "(SELECT id FROM articles WHERE first_seen_at < %s)",
                (cutoff,),
            )
            self.execute(
                "DELETE FROM links WHERE checked_at < %s AND expires_at < %s",
                (cutoff, stamp(now)),
            )
        if max_per_feed is not None:
            self.execute(_TRIM_FEEDS, (max_per_feed,))
        # Copies pointing at deleted articles are no longer copies of anything stored.
        self.execute(f"UPDATE articles SET duplicate_of = NULL WHERE duplicate_of IN ({_ORPHANS})")
        return int(self.execute(f"DELETE FROM articles WHERE id IN ({_ORPHANS})").rowcount)

    def upkeep_due(self) -> bool:
        """False: the server does its own upkeep (autovacuum)."""
        return False

    def after_poll(self) -> None:
        """Nothing: see upkeep_due."""

    def check_writable(self) -> None:
        """Raise StoreError unless a write transaction can start now (the server
        answers and is not read-only: a standby, or default_transaction_read_only)."""
        with self.transaction():
            row = self.execute("SHOW transaction_read_only").fetchone()
        if row is None or row[0] != "off":
            raise StoreError(f"{self.name} is read-only (transaction_read_only is on)")

    def feed_states(self) -> dict[str, int]:
        """How many feeds are in each state; disabled feeds count as "disabled"."""
        return {
            state: int(count)
            for state, count in self.execute(
                "SELECT CASE WHEN NOT enabled AND state != 'imported' "
                "THEN 'disabled' ELSE state END, count(*) "
                "FROM feeds GROUP BY 1"
            )
        }

    def count(self, table: str) -> int:
        row = self.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
        ).fetchone()
        return 0 if row is None else int(row[0])
