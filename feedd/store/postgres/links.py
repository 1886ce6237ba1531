"""The link-resolution cache."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from psycopg.types.json import Jsonb

from ...types import CachedLink, Resolution
from .connection import Connection, stamp, utc


class Links(Connection):
    def cached_links(self, urls: Sequence[str]) -> dict[str, CachedLink]:
        """The cache rows for these links, fresh or expired."""
        unique = list(dict.fromkeys(urls))
        if not unique:
            return {}
        found: dict[str, CachedLink] = {}
        for url, resolved, outcome, failures, expires in self.execute(
            "SELECT url, resolved_url, outcome, failures, expires_at FROM links "
            "WHERE url = ANY(%s)",
            (unique,),
        ):
            expires_at = utc(expires)
            if expires_at is not None:
                found[url] = CachedLink(url, resolved, outcome, failures, expires_at)
        return found

    def save_link(
        self, resolution: Resolution, *, failures: int, checked_at: datetime, expires_at: datetime
    ) -> None:
        """Record a resolution (call inside the feed's transaction)."""
        self.execute(
            """
            INSERT INTO links (url, resolved_url, outcome, http_status, hops, chain, error,
                failures, checked_at, expires_at)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT (url) DO UPDATE SET
                resolved_url = excluded.resolved_url, outcome = excluded.outcome,
                http_status = excluded.http_status, hops = excluded.hops,
                chain = excluded.chain, error = excluded.error, failures = excluded.failures,
                checked_at = excluded.checked_at, expires_at = excluded.expires_at
            """,
            (
                resolution.url,
                resolution.resolved_url,
                resolution.outcome,
                resolution.status,
                sum(1 for hop in resolution.hops if hop.location),
                Jsonb([[hop.status, hop.url] for hop in resolution.hops]),
                resolution.error,
                failures,
                stamp(checked_at),
                stamp(expires_at),
            ),
        )
