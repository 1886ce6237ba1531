"""The link-resolution cache."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from ...types import (
    CachedLink,
    Resolution,
    format_timestamp,
    parse_timestamp,
)
from .connection import Connection, chunks


class Links(Connection):
    def cached_links(self, urls: Sequence[str]) -> dict[str, CachedLink]:
        """The cache rows for these links, fresh or expired."""
        found: dict[str, CachedLink] = {}
        unique = list(dict.fromkeys(urls))
        for chunk in chunks(unique):
            marks = ",".join("?" * len(chunk))
            for url, resolved, outcome, failures, expires in self.conn.execute(
                "SELECT url, resolved_url, outcome, failures, expires_at FROM links "
                f"WHERE url IN ({marks})",
                chunk,
            ):
                expires_at = parse_timestamp(expires)
                if expires_at is not None:
                    found[url] = CachedLink(url, resolved, outcome, failures, expires_at)
        return found

    def save_link(
        self, resolution: Resolution, *, failures: int, checked_at: datetime, expires_at: datetime
    ) -> None:
        """Record a resolution (call inside the feed's transaction)."""
        chain = json.dumps([[hop.status, hop.url] for hop in resolution.hops], ensure_ascii=False)
        self.conn.execute(
            """
            INSERT INTO links (url, resolved_url, outcome, http_status, hops, chain, error,
                failures, checked_at, expires_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
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
                chain,
                resolution.error,
                failures,
                format_timestamp(checked_at),
                format_timestamp(expires_at),
            ),
        )
