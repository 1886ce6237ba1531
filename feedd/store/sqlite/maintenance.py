"""Retention, WAL upkeep, integrity checks and counts."""

from __future__ import annotations

import logging
import sqlite3
import time
from datetime import datetime, timedelta
from pathlib import Path

from ...errors import StoreError
from ...types import (
    format_timestamp,
)
from .connection import BUSY_TIMEOUT_MS, Connection

# SQLite checkpoints the WAL every 1000 pages (about 4 MiB) and starts it again
# from the beginning, but only at a moment when no reader is using it. Readers
# that overlap without a break (a dashboard, a few Datasette users) or one long
# read transaction keep that moment from coming, and the file grows with every
# write. Past WAL_LIMIT bytes, trim_wal() waits up to WAL_WAIT_MS for the
# readers to move to the newest snapshot, then truncates it. The writes wait
# meanwhile: while a long read transaction lasts, each try costs WAL_WAIT_MS.
WAL_LIMIT = 8 * 1024 * 1024
WAL_WAIT_MS = 500
# After a reader outlasted WAL_WAIT_MS, the trim is not tried again for this
# long: the writes must not wait on a long read transaction after every poll.
WAL_RETRY_SECONDS = 5.0

log = logging.getLogger("feedd")


class Maintenance(Connection):
    def housekeeping(
        self,
        now: datetime,
        max_age: float | None = None,
        max_per_feed: int | None = None,
        max_revisions: int | None = None,
    ) -> int:
        """Retention, then WAL checkpoint and PRAGMA optimize. Returns articles deleted.

        max_age: delete articles first seen longer ago. max_per_feed: each feed
        keeps its newest N; an article goes when no feed keeps it. Never
        deletes anything younger than the limits. An article deleted takes its
        revisions along (ON DELETE CASCADE). max_revisions: each article keeps
        its newest N revisions (apply trims as it writes; this catches up after
        the limit was lowered).
        """
        deleted = 0
        if max_revisions is not None:
            with self.transaction():
                self.conn.execute(
                    """
                    DELETE FROM article_revisions WHERE rowid IN (
                        SELECT rowid FROM (
                            SELECT rowid, row_number() OVER (
                                PARTITION BY article_id ORDER BY revision DESC
                            ) AS rank FROM article_revisions
                        ) WHERE rank > ?
                    )
                    """,
                    (max_revisions,),
                )
        if max_age is not None or max_per_feed is not None:
            with self.transaction():
                if max_age is not None:
                    cutoff = format_timestamp(now - timedelta(seconds=max_age))
                    self.conn.execute(
                        "DELETE FROM article_feeds WHERE article_id IN "
                        "(SELECT id FROM articles WHERE first_seen_at < ?)",
                        (cutoff,),
                    )
                    self.conn.execute(
                        "DELETE FROM links WHERE checked_at < ? AND expires_at < ?",
                        (cutoff, format_timestamp(now)),
                    )
                if max_per_feed is not None:
                    self.conn.execute(
                        """
                        DELETE FROM article_feeds WHERE rowid IN (
                            SELECT af.rowid FROM (
                                SELECT af.rowid, row_number() OVER (
                                    PARTITION BY af.feed_id
                                    ORDER BY coalesce(a.published_at, a.first_seen_at) DESC,
                                             a.id DESC
                                ) AS rank
                                FROM article_feeds af JOIN articles a ON a.id = af.article_id
                            ) af WHERE af.rank > ?
                        )
                        """,
                        (max_per_feed,),
                    )
                # Articles no feed carries any more; copies pointing at them are
                # no longer copies of anything stored.
                orphans = (
                    "SELECT id FROM articles WHERE id NOT IN (SELECT article_id FROM article_feeds)"
                )
                self.conn.execute(
                    f"UPDATE articles SET duplicate_of = NULL WHERE duplicate_of IN ({orphans})"
                )
                deleted = self.conn.execute(
                    f"DELETE FROM articles WHERE id IN ({orphans})"
                ).rowcount
        self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        self.conn.execute("PRAGMA optimize")
        return deleted

    def wal_size(self) -> int:
        """Bytes of the -wal file (0 when there is none). Reads no table: any thread."""
        try:
            return Path(f"{self.path}-wal").stat().st_size
        except FileNotFoundError:
            return 0

    def trim_wal(self, limit: int = WAL_LIMIT) -> bool | None:
        """Checkpoint the whole WAL and truncate it once its file is over ``limit`` bytes.

        None: the file was not that big. True: truncated. False: a reader still
        holds an older snapshot after WAL_WAIT_MS (the frames before it are
        checkpointed; call again later). Call between transactions.
        """
        if self.wal_size() <= limit:
            return None
        # The checkpoint waits for readers through the busy handler: briefly,
        # as this thread is the one that writes the feeds.
        self.conn.execute(f"PRAGMA busy_timeout = {WAL_WAIT_MS}")
        try:
            busy, _, _ = self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        return not busy

    wal_retry_at = 0.0  # time.monotonic(): trim_wal is not tried before

    def upkeep_due(self) -> bool:
        """Whether after_poll has work: the WAL grew past WAL_LIMIT (a stat, from any
        thread; most polls: no trip to the store's thread)."""
        return time.monotonic() >= self.wal_retry_at and self.wal_size() > WAL_LIMIT

    def after_poll(self) -> None:
        """Keep the WAL from growing while readers never leave it (trim_wal).
        On the store's thread, between transactions."""
        if not self.upkeep_due():
            return  # polls ending together: the first one trimmed
        trimmed = self.trim_wal()
        if trimmed:
            log.info("WAL over %d MiB: checkpointed and truncated", WAL_LIMIT // 2**20)
        elif trimmed is False:
            self.wal_retry_at = time.monotonic() + WAL_RETRY_SECONDS
            log.debug("WAL over %d MiB: a reader holds an older snapshot", WAL_LIMIT // 2**20)

    def integrity_problems(self) -> list[str]:
        """Empty when the file, the FTS index and the links between tables are sound."""
        problems = [row[0] for row in self.conn.execute("PRAGMA integrity_check") if row[0] != "ok"]
        try:
            self.conn.execute(
                "INSERT INTO articles_fts (articles_fts, rank) VALUES ('integrity-check', 1)"
            )
        except sqlite3.DatabaseError as exc:
            problems.append(f"articles_fts: {exc}")
        orphans = self.conn.execute(
            "SELECT count(*) FROM article_feeds WHERE article_id NOT IN (SELECT id FROM articles)"
        ).fetchone()[0]
        if orphans:
            problems.append(f"{orphans} article_feeds rows without their article")
        return problems

    def feed_states(self) -> dict[str, int]:
        """How many feeds are in each state; disabled feeds count as "disabled"."""
        return dict(
            self.conn.execute(
                "SELECT CASE WHEN enabled = 0 AND state != 'imported' "
                "THEN 'disabled' ELSE state END, count(*) "
                "FROM feeds GROUP BY 1"
            ).fetchall()
        )

    def host_slots(self) -> None:
        """None: one process writes a SQLite file, so its own per-host limit holds."""

    def check_writable(self) -> None:
        """Raise StoreError unless a write transaction can start now."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute("ROLLBACK")
        except sqlite3.Error as exc:
            raise StoreError(f"database not writable: {exc}") from None

    def count(self, table: str) -> int:
        return self.db[table].count
