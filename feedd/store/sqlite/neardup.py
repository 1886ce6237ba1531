"""Near-duplicate signatures, band keys and groups (the decisions are neardup's and dedupe's)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from ...types import (
    format_timestamp,
    parse_timestamp,
)
from .connection import Connection, chunks


class NearDuplicates(Connection):
    def signature_of(self, article_id: int) -> bytes | None:
        row = self.conn.execute(
            "SELECT signature FROM article_signatures WHERE article_id = ?", (article_id,)
        ).fetchone()
        return None if row is None else bytes(row[0])

    def save_signature(
        self,
        article_id: int,
        signature: bytes | None,
        bands: Sequence[str],
        old_bands: Sequence[str] = (),
    ) -> None:
        """Replace an article's signature and band keys (old_bands: those it had)."""
        for chunk in chunks(list(old_bands)):
            marks = ",".join("?" * len(chunk))
            self.conn.execute(
                f"DELETE FROM article_bands WHERE article_id = ? AND band IN ({marks})",
                (article_id, *chunk),
            )
        if signature is None:
            self.conn.execute("DELETE FROM article_signatures WHERE article_id = ?", (article_id,))
            return
        self.conn.execute(
            "INSERT OR REPLACE INTO article_signatures (article_id, signature) VALUES (?, ?)",
            (article_id, signature),
        )
        self.conn.executemany(
            "INSERT OR IGNORE INTO article_bands (band, article_id) VALUES (?, ?)",
            [(band, article_id) for band in bands],
        )

    def near_candidates(
        self, article_id: int, bands: Sequence[str], window: timedelta
    ) -> tuple[tuple[int, bytes], ...]:
        """Articles sharing a band key with this one, published within ``window`` of it,
        that no feed of this article also carries (a feed's own items are its own
        stories, however alike: templated posts). (id, signature) pairs."""
        if not bands:
            return ()
        # An undated article is compared around the time it was first seen.
        row = self.conn.execute(
            "SELECT coalesce(published_at, first_seen_at) FROM articles WHERE id = ?",
            (article_id,),
        ).fetchone()
        center = parse_timestamp(row[0]) if row else None
        if center is None:
            return ()
        marks = ",".join("?" * len(bands))
        rows = self.conn.execute(
            f"""
            SELECT DISTINCT s.article_id, s.signature
            FROM article_bands b
            JOIN article_signatures s ON s.article_id = b.article_id
            JOIN articles a ON a.id = b.article_id
            WHERE b.band IN ({marks}) AND b.article_id != ?
              AND coalesce(a.published_at, a.first_seen_at) BETWEEN ? AND ?
              AND NOT EXISTS (
                  SELECT 1 FROM article_feeds mine JOIN article_feeds theirs
                      ON theirs.feed_id = mine.feed_id
                  WHERE mine.article_id = ? AND theirs.article_id = a.id
              )
            """,
            (
                *bands,
                article_id,
                format_timestamp(center - window),
                format_timestamp(center + window),
                article_id,
            ),
        ).fetchall()
        return tuple((id_, bytes(blob)) for id_, blob in rows)

    def duplicate_group(
        self, article_ids: Iterable[int]
    ) -> tuple[tuple[int, datetime | None], ...]:
        """Every article in the near-duplicate groups of these: them, the articles they
        point at, and every article pointing at those. (id, published_at) pairs."""
        ids = set(article_ids)
        for chunk in chunks(list(ids)):
            marks = ",".join("?" * len(chunk))
            ids.update(
                r[0]
                for r in self.conn.execute(
                    f"SELECT duplicate_of FROM articles WHERE id IN ({marks}) "
                    "AND duplicate_of IS NOT NULL",
                    chunk,
                )
            )
        members: dict[int, datetime | None] = {}
        for chunk in chunks(list(ids)):
            marks = ",".join("?" * len(chunk))
            for id_, published in self.conn.execute(
                f"SELECT id, published_at FROM articles WHERE id IN ({marks}) "
                f"OR duplicate_of IN ({marks})",
                (*chunk, *chunk),
            ):
                members[id_] = parse_timestamp(published)
        return tuple(members.items())

    def point_group(self, members: Iterable[int], root: int) -> None:
        """Make root the group's original and every other member point at it."""
        others = [m for m in members if m != root]
        self.conn.execute("UPDATE articles SET duplicate_of = NULL WHERE id = ?", (root,))
        for chunk in chunks(others):
            marks = ",".join("?" * len(chunk))
            self.conn.execute(
                f"UPDATE articles SET duplicate_of = ? WHERE id IN ({marks}) "
                "AND duplicate_of IS NOT ?",
                (root, *chunk, root),
            )
