"""Near-duplicate signatures, band keys and groups (the decisions are neardup's and dedupe's)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from .connection import Connection, utc


class NearDuplicates(Connection):
    def signature_of(self, article_id: int) -> bytes | None:
        row = self.execute(
            "SELECT signature FROM article_signatures WHERE article_id = %s", (article_id,)
        ).fetchone()
        return None if row is None else bytes(row[0])

    def save_signature(
        self,
        article_id: int,
        signature: bytes | None,
        bands: Sequence[str],
        old_bands: Sequence[str] = (),
    ) -> None:
        """Replace an article's signature and band keys (old_bands: those it had).
        The statements go in one round trip (a pipeline): this runs for every
        article stored."""
        with self.atomic(), self.pipeline():
            if old_bands:
                self.execute(
                    "DELETE FROM article_bands WHERE article_id = %s AND band = ANY(%s)",
                    (article_id, list(old_bands)),
                )
            if signature is None:
                self.execute("DELETE FROM article_signatures WHERE article_id = %s", (article_id,))
                return
            self.execute(
                "INSERT INTO article_signatures (article_id, signature) VALUES (%s, %s) "
                "ON CONFLICT (article_id) DO UPDATE SET signature = excluded.signature",
                (article_id, signature),
            )
            if bands:
                self.execute(
                    "INSERT INTO article_bands (band, article_id) "
                    "SELECT band, %s FROM unnest(%s::text[]) AS b (band) "
                    "ON CONFLICT DO NOTHING",
                    (article_id, list(bands)),
                )

    def near_candidates(
        self, article_id: int, bands: Sequence[str], window: timedelta
    ) -> tuple[tuple[int, bytes], ...]:
        """Articles sharing a band key with this one, published within ``window`` of it,
        that no feed of this article also carries. (id, signature) pairs."""
        if not bands:
            return ()
        # One statement, not two: this runs for every article stored. An undated
        # article is compared around the time it was first seen.
        rows = self.execute(
            """
            WITH me AS (
                SELECT coalesce(published_at, first_seen_at) AS center
                FROM articles WHERE id = %(id)s
            ),
            -- Each candidate once before the joins: copies of one story share
            -- most of their bands (16 rows per copy otherwise).
            shared AS (
                SELECT DISTINCT article_id FROM article_bands
                WHERE band = ANY(%(bands)s) AND article_id != %(id)s
            )
            SELECT s.article_id, s.signature
            FROM me, shared c
            JOIN articles a ON a.id = c.article_id
            JOIN article_signatures s ON s.article_id = c.article_id
            WHERE coalesce(a.published_at, a.first_seen_at)
                  BETWEEN me.center - %(window)s AND me.center + %(window)s
              AND NOT EXISTS (
                  SELECT 1 FROM article_feeds mine JOIN article_feeds theirs
                      ON theirs.feed_id = mine.feed_id
                  WHERE mine.article_id = %(id)s AND theirs.article_id = a.id
              )
            ORDER BY s.article_id
            """,
            {"bands": list(bands), "id": article_id, "window": window},
        ).fetchall()
        return tuple((id_, bytes(blob)) for id_, blob in rows)

    def duplicate_group(
        self, article_ids: Iterable[int]
    ) -> tuple[tuple[int, datetime | None], ...]:
        """Every article in the near-duplicate groups of these: them, the articles they
        point at, and every article pointing at those. (id, published_at) pairs."""
        ids = set(article_ids)
        if not ids:
            return ()
        ids.update(
            r[0]
            for r in self.execute(
                "SELECT duplicate_of FROM articles WHERE id = ANY(%s) AND duplicate_of IS NOT NULL",
                (list(ids),),
            )
        )
        members: dict[int, datetime | None] = {}
        for id_, published in self.execute(
            "SELECT id, published_at FROM articles WHERE id = ANY(%(ids)s) "
            "OR duplicate_of = ANY(%(ids)s) ORDER BY id",
            {"ids": list(ids)},
        ):
            members[id_] = utc(published)
        return tuple(members.items())

    def point_group(self, members: Iterable[int], root: int) -> None:
        """Make root the group's original and every other member point at it."""
        others = [m for m in members if m != root]
        with self.atomic():
            self.execute("UPDATE articles SET duplicate_of = NULL WHERE id = %s", (root,))
            if others:
                self.execute(
                    "UPDATE articles SET duplicate_of = %(root)s WHERE id = ANY(%(others)s) "
                    "AND duplicate_of IS DISTINCT FROM %(root)s",
                    {"root": root, "others": others},
                )
