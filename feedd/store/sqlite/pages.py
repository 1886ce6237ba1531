"""The queue of article pages to fetch ([fulltext]); what a page gave is written
by ``IntentWriter.save_page`` (applying.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from ...errors import StoreError
from ...types import PageJob, format_timestamp, parse_timestamp
from .connection import Connection


class Pages(Connection):
    def queue_pages(
        self, feed_id: int, pages: Sequence[tuple[int, str, str]], now: datetime
    ) -> int:
        """Queue each (article id, page URL, reason) to be fetched from ``now`` on, once
        per article: an article queued before keeps its row. Call inside
        transaction(). Returns how many were queued."""
        if not self.conn.in_transaction:
            raise StoreError("queue_pages() must run inside a transaction")
        at = format_timestamp(now)
        queued = 0
        for article_id, url, reason in pages:
            queued += self.conn.execute(
                "INSERT INTO pages (article_id, url, feed_id, reason, next_attempt_at, queued_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (article_id) DO NOTHING",
                (article_id, url, feed_id, reason, at, at),
            ).rowcount
        return queued

    def claim_pages(self, now: datetime, limit: int, hold: float) -> tuple[PageJob, ...]:
        """Up to ``limit`` queued pages due by ``now``, the longest waiting first. Each
        is pushed ``hold`` seconds ahead and its attempt counted, so that no one
        takes it again meanwhile, and a poller that dies leaves it due then."""
        with self.transaction():
            rows = self.conn.execute(
                """
                SELECT p.article_id, p.url, f.url, p.attempts + 1, p.reason
                FROM pages p LEFT JOIN feeds f ON f.id = p.feed_id
                WHERE p.state = 'queued' AND p.next_attempt_at <= ?
                ORDER BY p.next_attempt_at, p.article_id LIMIT ?
                """,
                (format_timestamp(now), limit),
            ).fetchall()
            until = format_timestamp(now + timedelta(seconds=hold))
            self.conn.executemany(
                "UPDATE pages SET attempts = attempts + 1, next_attempt_at = ? "
                "WHERE article_id = ?",
                [(until, row[0]) for row in rows],
            )
        return tuple(PageJob(*row) for row in rows)

    def page_failed(
        self,
        job: PageJob,
        *,
        error: str,
        http_status: int | None,
        now: datetime,
        retry_at: datetime | None,
    ) -> None:
        """A page that gave nothing: tried again at ``retry_at``, or never (None: the
        article keeps the feed's text for good)."""
        self._write(
            """
            UPDATE pages SET state = ?, next_attempt_at = ?, fetched_at = ?, error = ?,
                http_status = ?
            WHERE article_id = ?
            """,
            (
                "queued" if retry_at is not None else "failed",
                format_timestamp(retry_at) if retry_at is not None else None,
                format_timestamp(now),
                error,
                http_status,
                job.article_id,
            ),
        )

    def next_page_at(self) -> datetime | None:
        """When the next queued page is due (None: none queued)."""
        row = self.conn.execute(
            "SELECT min(next_attempt_at) FROM pages WHERE state = 'queued'"
        ).fetchone()
        return parse_timestamp(row[0]) if row else None
