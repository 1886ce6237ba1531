"""The queue of article pages to fetch ([fulltext]), shared by every poller: a
claim takes due rows no other poller holds (FOR UPDATE SKIP LOCKED) and
pushes them ahead, so no two pollers fetch one page. What a page gave is
written by ``IntentWriter.save_page`` (applying.py, articles.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from ...errors import StoreError
from ...types import PageJob
from .connection import Connection, stamp, utc

# One statement: the due rows are locked as they are picked (a row another
# poller is claiming now is skipped, not waited for) and pushed ahead before
# the lock goes; a row another poller claimed and committed meanwhile is
# checked again as it now is (READ COMMITTED) and is no longer due.
_CLAIM = """
WITH claimed AS (
    UPDATE pages p SET attempts = p.attempts + 1, next_attempt_at = %(until)s
    FROM (
        SELECT article_id, next_attempt_at FROM pages
        WHERE state = 'queued' AND next_attempt_at <= %(now)s
        ORDER BY next_attempt_at, article_id
        LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    ) due
    WHERE p.article_id = due.article_id
    RETURNING p.article_id, p.url, p.feed_id, p.attempts, p.reason,
        due.next_attempt_at AS due_at
)
SELECT c.article_id, c.url, f.url, c.attempts, c.reason
FROM claimed c LEFT JOIN feeds f ON f.id = c.feed_id
ORDER BY c.due_at, c.article_id
"""


class Pages(Connection):
    def queue_pages(
        self, feed_id: int, pages: Sequence[tuple[int, str, str]], now: datetime
    ) -> int:
        """As SQLite's: each (article id, page URL, reason) queued from ``now`` on,
        once per article. A write of the feed's poll: raises LeaseLost when
        another poller claimed the feed. Call inside transaction()."""
        if not self.in_transaction:
            raise StoreError("queue_pages() must run inside a transaction")
        if not pages:
            return 0
        self.fence(feed_id)
        at = stamp(now)
        ids, urls, reasons = (list(column) for column in zip(*pages, strict=True))
        return int(
            self.execute(
                """
                INSERT INTO pages (article_id, url, feed_id, reason, next_attempt_at, queued_at)
                SELECT page.article_id, page.url, %s, page.reason, %s, %s
                FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS page (article_id, url, reason)
                ON CONFLICT (article_id) DO NOTHING
                """,
                (feed_id, at, at, ids, urls, reasons),
            ).rowcount
        )

    def claim_pages(self, now: datetime, limit: int, hold: float) -> tuple[PageJob, ...]:
        """Up to ``limit`` queued pages due by ``now``, the longest waiting first,
        none that another poller holds. Each is pushed ``hold`` seconds ahead and
        its attempt counted: no one takes it again meanwhile, and a poller that
        dies leaves it due then."""
        rows = self.execute(
            _CLAIM,
            {
                "now": stamp(now),
                "until": stamp(now + timedelta(seconds=hold)),
                "limit": limit,
            },
        ).fetchall()
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
        """As SQLite's: tried again at ``retry_at``, or never (None)."""
        self.execute(
            """
            UPDATE pages SET state = %s, next_attempt_at = %s, fetched_at = %s, error = %s,
                http_status = %s
            WHERE article_id = %s
            """,
            (
                "queued" if retry_at is not None else "failed",
                stamp(retry_at),
                stamp(now),
                error,
                http_status,
                job.article_id,
            ),
        )

    def next_page_at(self) -> datetime | None:
        """When the next queued page is due (None: none queued)."""
        row = self.execute(
            "SELECT min(next_attempt_at) FROM pages WHERE state = 'queued'"
        ).fetchone()
        return utc(row[0]) if row else None
