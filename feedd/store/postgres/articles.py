"""Articles and their identity: the story locks, what dedupe needs, applying its
intents, repairs. The same rules as SQLite's (feedd/store/sqlite/articles.py)."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from ...errors import StoreError
from ...types import (
    Entry,
    Kept,
    Known,
    KnownArticle,
    KnownItem,
    Merge,
    Page,
)
from ..applying import IntentWriter, PageTarget, Version
from ..fingerprints import revision_hash
from .connection import Connection, stamp, utc
from .schema import IDENTITY_LOCK, IDENTITY_SPACE

# dedupe compares a new copy with the start of a stored text (dedupe.is_lead).
_LEAD_CHARS = 2_000
_LEAD = f"substr(coalesce(content_text, summary), 1, {_LEAD_CHARS})"
# Story keys are hashed into this many lock buckets: two stories sharing a
# bucket wait on each other needlessly, which at 2**20 buckets is rare.
IDENTITY_BUCKETS = 2**20
# A batch with more buckets than this takes IDENTITY_LOCK exclusively instead:
# one lock, not thousands (a feed's first poll, a big digest). An item has ~18
# keys (its URL, text and 16 near-duplicate bands), so a poll bringing up to
# ~14 new items, the usual case, locks only its own stories. Advisory locks
# share the server's lock table (max_locks_per_transaction x max_connections,
# 6,400 by default): a few pollers at 256 each leave it plenty.
MAX_KEY_LOCKS = 256


def identity_buckets(keys: Iterable[str]) -> list[int]:
    """The lock buckets of these story keys, distinct and ascending (every writer
    takes its locks in this order: no two can wait on each other in a cycle)."""
    return sorted(
        {
            int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")
            % IDENTITY_BUCKETS
            for key in keys
        }
    )


class Articles(IntentWriter[datetime], Connection):
    def lock_identity(self, keys: Iterable[str]) -> None:
        """Hold these story keys until the transaction ends (base.Storage.lock_identity)."""
        if not self.in_transaction:
            raise StoreError("lock_identity() must run inside a transaction")
        buckets = identity_buckets(keys)
        if not buckets:
            return
        if len(buckets) > MAX_KEY_LOCKS:
            self.execute("SELECT pg_advisory_xact_lock(%s::int8)", (IDENTITY_LOCK,))
            return
        self.execute("SELECT pg_advisory_xact_lock_shared(%s::int8)", (IDENTITY_LOCK,))
        # One statement per lock, in order (executemany runs them in sequence):
        # a set-returning SELECT would take them in whatever order its plan chose.
        self.executemany(
            "SELECT pg_advisory_xact_lock(%s::int4, %s::int4)",
            [(IDENTITY_SPACE, bucket) for bucket in buckets],
        )

    def lock_all_identities(self) -> None:
        """Hold every story (merges, retention): waits for the writers deciding now."""
        self.execute("SELECT pg_advisory_xact_lock(%s::int8)", (IDENTITY_LOCK,))

    def known(self, feed_id: int, entries: Sequence[Entry], kept: Sequence[Kept] = ()) -> Known:
        """What dedupe needs: this feed's stored items (of the entries and the kept
        items), the articles with the same URL or the same text (from any feed), and
        other feeds' episodes with the entries' guids."""
        url_of: dict[str, str | None] = {}
        for guid, url in [*((e.guid, e.url) for e in entries), *((k.guid, k.url) for k in kept)]:
            url_of.setdefault(guid, url)  # dedupe reads a repeated guid's first
        items = self._stored_items(feed_id, url_of)
        stored = {item.guid for item in items}
        new_urls = {e.url for e in entries if e.url and e.guid not in stored}
        compared = sorted({i.article_id for i in items if url_of.get(i.guid) in new_urls})
        articles: dict[int, tuple[str | None, str | None, int]] = {}
        if compared:
            for id_, title, lead, words in self.execute(
                f"SELECT id, title, {_LEAD}, word_count FROM articles WHERE id = ANY(%s)",
                (compared,),
            ):
                articles[id_] = (title, lead, words)
        items = [
            dataclasses.replace(item, title=a[0], lead=a[1], word_count=a[2])
            if (a := articles.get(item.article_id))
            else item
            for item in items
        ]
        found: dict[int, KnownArticle] = {}
        for column, values in (
            ("url", [e.url for e in entries if e.url]),
            ("text_hash", [e.text_hash for e in entries if e.text_hash]),
        ):
            if not values:
                continue
            for id_, url, text_hash, words, title, lead, published in self.execute(
                f"SELECT id, url, text_hash, word_count, title, {_LEAD}, "
                f"CASE WHEN date_flag IS NULL THEN published_at END FROM articles "
                f"WHERE {column} = ANY(%s) ORDER BY id",
                (list(dict.fromkeys(values)),),
            ):
                found[id_] = KnownArticle(id_, url, text_hash, words, title, lead, utc(published))
        episodes: list[tuple[str, str, int]] = []
        with_enclosures = list(dict.fromkeys(e.guid for e in entries if e.enclosures))
        if with_enclosures:
            for guid, article_id, enclosures, words, url in self.execute(
                "SELECT f.guid, a.id, a.enclosures, a.word_count, a.url "
                "FROM article_feeds f JOIN articles a ON a.id = f.article_id "
                "WHERE f.guid = ANY(%s) AND f.feed_id != %s AND a.enclosures != '[]'::jsonb "
                "ORDER BY a.id",
                (with_enclosures, feed_id),
            ):
                for enclosure in enclosures:
                    if enclosure.get("url"):
                        episodes.append((guid, enclosure["url"], article_id))
                found.setdefault(article_id, KnownArticle(article_id, url, None, words))
        return Known(items=tuple(items), articles=tuple(found.values()), episodes=tuple(episodes))

    def _start_apply(self, feed_id: int, now: datetime) -> datetime:
        """Raises LeaseLost when another poller claimed the feed."""
        if not self.in_transaction:
            raise StoreError("apply() must run inside a transaction")
        self.fence(feed_id)
        return now.replace(microsecond=0)  # as stamp() writes every timestamp

    def _item_changed(self, feed_id: int, entry: Entry) -> None:
        self.execute(
            "UPDATE article_feeds SET content_hash = %s, link = %s, raw_hash = %s "
            "WHERE feed_id = %s AND guid = %s",
            (entry.content_hash, entry.link, entry.raw_hash, feed_id, entry.guid),
        )

    def _item_read_whole(self, feed_id: int, entry: Entry) -> None:
        self.execute(
            "UPDATE article_feeds SET raw_hash = %s "
            "WHERE feed_id = %s AND guid = %s AND raw_hash IS DISTINCT FROM %s",
            (entry.raw_hash, feed_id, entry.guid, entry.raw_hash),
        )

    @staticmethod
    def _article_values(
        entry: Entry, seen_at: datetime | None, estimate: datetime | None = None
    ) -> dict[str, Any]:
        return {
            "title": entry.title,
            "summary": entry.summary,
            "content_text": entry.content_text,
            "content_html": entry.content_html,
            "author": entry.author,
            # No usable date: the estimate, if any, stands in; date_flag says so.
            "published_at": stamp(entry.published_at) or estimate,
            "updated_at": stamp(entry.updated_at),
            "tags": Jsonb(list(entry.tags)),
            "date_flag": entry.date_flag,
            "published_raw": entry.published_raw,
            "word_count": entry.word_count,
            "enclosures": Jsonb(
                [{"url": e.url, "type": e.type, "length": e.length} for e in entry.enclosures]
            ),
            "text_hash": entry.text_hash,
            "seen_at": seen_at,
        }

    def _insert_article(
        self,
        entry: Entry,
        language: str | None,
        seen_at: datetime | None,
        estimate: datetime | None,
    ) -> int:
        values = self._article_values(entry, seen_at, estimate)
        row = self.execute(
            """
            INSERT INTO articles (url, title, summary, content_text, content_html, author,
                published_at, updated_at, first_seen_at, modified_at, language, tags,
                date_flag, published_raw, word_count, enclosures, text_hash)
            VALUES (%(url)s, %(title)s, %(summary)s, %(content_text)s, %(content_html)s,
                %(author)s, %(published_at)s, %(updated_at)s, %(seen_at)s, %(seen_at)s,
                %(language)s, %(tags)s, %(date_flag)s, %(published_raw)s, %(word_count)s,
                %(enclosures)s, %(text_hash)s)
            RETURNING id
            """,
            {**values, "url": entry.url, "language": entry.language or language},
        ).fetchone()
        if row is None:
            raise StoreError("INSERT INTO articles returned no id")
        return int(row[0])

    def _link(self, article_id: int, feed_id: int, entry: Entry, seen_at: datetime | None) -> None:
        self.execute(
            """
            INSERT INTO article_feeds (article_id, feed_id, guid, link, content_hash,
                first_seen_at, raw_hash)
            VALUES (%s, %s, %s, %s, %s, %s, %s)
            """,
            (
                article_id,
                feed_id,
                entry.guid,
                entry.link,
                entry.content_hash,
                seen_at,
                entry.raw_hash,
            ),
        )

    def _keep_revision(
        self,
        article_id: int,
        version: Version,
        feed_id: int | None,
        reason: str,
        seen_at: datetime | None,
        max_revisions: int,
    ) -> None:
        """Keep the version ``version`` replaces when its words differ (SQLite's
        _keep_revision), the oldest beyond ``max_revisions`` dropped."""
        if max_revisions <= 0:
            return
        row = self.execute(
            "SELECT title, summary, content_text, first_seen_at FROM articles WHERE id = %s",
            (article_id,),
        ).fetchone()
        if row is None or tuple(row[:3]) == version:
            return
        title, summary, text, article_seen = row
        last = self.execute(
            "SELECT revision, replaced_at, replaced_by FROM article_revisions "
            "WHERE article_id = %s ORDER BY revision DESC LIMIT 1",
            (article_id,),
        ).fetchone()
        if last is not None:
            number, first_seen, brought_by = last[0] + 1, last[1], last[2]
        else:
            # The first version: stored by the feed that inserted the article. No
            # rowid here to tell apart two links made in the same second; ctid
            # (where the row lies) stands in, right for rows never updated.
            number, first_seen = 1, article_seen
            first = self.execute(
                "SELECT feed_id FROM article_feeds WHERE article_id = %s "
                "ORDER BY first_seen_at, ctid LIMIT 1",
                (article_id,),
            ).fetchone()
            brought_by = first[0] if first else None
        polled = self.execute(
            "SELECT last_ok_at FROM feeds WHERE id = %s", (brought_by,)
        ).fetchone()
        last_seen = max(first_seen, polled[0] or first_seen) if polled else first_seen
        self.execute(
            """
            INSERT INTO article_revisions (article_id, revision, title, summary, content_text,
                content_hash, first_seen_at, last_seen_at, feed_id, reason, replaced_at,
                replaced_by)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            """,
            (
                article_id,
                number,
                title,
                summary,
                text,
                revision_hash(title, summary, text),
                first_seen,
                last_seen,
                brought_by,
                reason,
                seen_at,
                feed_id,
            ),
        )
        self.execute(
            "DELETE FROM article_revisions WHERE article_id = %s AND revision <= %s",
            (article_id, number - max_revisions),
        )

    def _complete_date(self, article_id: int, entry: Entry) -> None:
        """As SQLite's: a partial date yields to any copy's full date."""
        if entry.published_at is None or entry.date_flag is not None:
            return
        self.execute(
            "UPDATE articles SET published_at = %s, date_flag = NULL, published_raw = %s "
            "WHERE id = %s AND date_flag = 'partial'",
            (stamp(entry.published_at), entry.published_raw, article_id),
        )

    def _update_article(
        self, article_id: int, entry: Entry, seen_at: datetime | None, *, keep_text: bool
    ) -> None:
        # As SQLite's: the URL never changes here; a date the new version lacks
        # keeps the stored one; ``keep_text``: a page's fuller text stays.
        text = (
            ""
            if keep_text
            else """content_text = %(content_text)s, content_html = %(content_html)s,
                word_count = %(word_count)s, text_hash = %(text_hash)s,
                content_source = 'feed',"""
        )
        self.execute(
            f"""
            UPDATE articles SET
                title = %(title)s, summary = %(summary)s, {text}
                author = coalesce(%(author)s, author),
                published_at = CASE WHEN %(date_flag)s::text IS NULL
                                    THEN %(published_at)s::timestamptz
                                    ELSE published_at END,
                date_flag = CASE WHEN %(date_flag)s::text IS NULL THEN NULL ELSE date_flag END,
                published_raw = coalesce(%(published_raw)s, published_raw),
                updated_at = %(updated_at)s, tags = %(tags)s, enclosures = %(enclosures)s,
                language = coalesce(%(language)s, language), modified_at = %(seen_at)s
            WHERE id = %(id)s
            """,
            {**self._article_values(entry, seen_at), "id": article_id, "language": entry.language},
        )

    # -- article pages (applying.IntentWriter.save_page): not a poll's write, so
    # no lease is checked; the pages row is this poller's by its claim

    def _page_text(self, article_id: int) -> tuple[int, str | None] | None:
        # The row locked, not filtered on content_source: a page being saved for
        # the article meanwhile is waited for and its text weighed (a filter
        # would read the row as it was and overwrite the page's text unseen).
        row = self.execute(
            "SELECT content_source, word_count, content_text FROM articles "
            "WHERE id = %s FOR UPDATE",
            (article_id,),
        ).fetchone()
        return (row[1], row[2]) if row and row[0] == "page" else None

    def _start_page(self, now: datetime) -> datetime:
        if not self.in_transaction:
            raise StoreError("save_page() must run inside a transaction")
        return now.replace(microsecond=0)  # as stamp() writes every timestamp

    def _page_target(self, article_id: int) -> PageTarget | None:
        # FOR UPDATE: a poll updating the article meanwhile waits for this
        # transaction, and then weighs its text against the page's.
        row = self.execute(
            "SELECT title, summary, content_text, word_count, author, date_flag, image "
            "FROM articles WHERE id = %s FOR UPDATE",
            (article_id,),
        ).fetchone()
        return PageTarget(*row) if row else None

    def _write_page(self, page: Page, filled: tuple[str, ...], fuller: bool, at: datetime) -> None:
        extracted, article_id = page.extracted, page.job.article_id
        values: dict[str, Any] = {"id": article_id, "at": at}
        sets = ["modified_at = %(at)s"]
        if fuller:
            sets.append(
                "content_text = %(text)s, content_html = %(html)s, word_count = %(words)s, "
                "text_hash = %(text_hash)s, content_source = 'page'"
            )
            values.update(
                text=extracted.text,
                html=extracted.html,
                words=extracted.word_count,
                text_hash=page.text_hash,
            )
        if "author" in filled:
            sets.append("author = %(author)s")
            values["author"] = extracted.author
        if "published_at" in filled:
            sets.append("published_at = %(published_at)s, date_flag = 'page'")
            values["published_at"] = stamp(extracted.published_at)
        if "image" in filled:
            sets.append("image = %(image)s")
            values["image"] = extracted.image
        if fuller or filled:
            self.execute(f"UPDATE articles SET {', '.join(sets)} WHERE id = %(id)s", values)
        self.execute(
            """
            UPDATE pages SET state = %s, next_attempt_at = NULL, fetched_at = %s,
                final_url = %s, http_status = %s, error = NULL, words = %s, filled = %s
            WHERE article_id = %s
            """,
            (
                "stored" if fuller else "not_fuller",
                at,
                page.final_url,
                page.http_status,
                extracted.word_count,
                Jsonb(list(filled)),
                article_id,
            ),
        )

    def articles_sharing_urls(self) -> tuple[KnownArticle, ...]:
        """Articles whose canonical URL another article has too (dedupe.repairs)."""
        rows = self.execute(
            f"""
            SELECT id, url, text_hash, word_count, title, {_LEAD}
            FROM articles WHERE url IN (
                SELECT url FROM articles WHERE url IS NOT NULL GROUP BY url HAVING count(*) > 1
            ) ORDER BY url COLLATE "C", id
            """
        )
        return tuple(KnownArticle(*row) for row in rows)

    def merge_articles(self, merge: Merge, now: datetime) -> None:
        """As SQLite's merge_articles; holds every story while it merges (no writer
        decides on the articles it moves). Call inside transaction()."""
        if not self.in_transaction:
            raise StoreError("merge_articles() must run inside a transaction")
        self.lock_all_identities()
        keep, merged = merge.keep, list(merge.merged)
        if merge.text_from != keep:
            self.execute(
                """
                UPDATE articles SET (title, summary, content_text, content_html, author,
                    updated_at, tags, word_count, enclosures, text_hash, language,
                    content_source, image) =
                    (SELECT f.title, f.summary, f.content_text, f.content_html,
                        coalesce(f.author, articles.author), f.updated_at, f.tags,
                        f.word_count, f.enclosures, f.text_hash,
                        coalesce(f.language, articles.language), f.content_source,
                        coalesce(f.image, articles.image)
                     FROM articles f WHERE f.id = %(source)s)
                WHERE id = %(keep)s
                """,
                {"source": merge.text_from, "keep": keep},
            )
            self.execute("DELETE FROM article_bands WHERE article_id = %s", (keep,))
            self.execute("DELETE FROM article_signatures WHERE article_id = %s", (keep,))
            for table in ("article_signatures", "article_bands"):
                self.execute(
                    f"UPDATE {table} SET article_id = %s WHERE article_id = %s",
                    (keep, merge.text_from),
                )
        if merged:
            self.execute(
                "UPDATE article_feeds SET article_id = %s WHERE article_id = ANY(%s)",
                (keep, merged),
            )
            self.execute(
                "UPDATE articles SET duplicate_of = %s WHERE duplicate_of = ANY(%s)",
                (keep, merged),
            )
            self.execute("DELETE FROM articles WHERE id = ANY(%s)", (merged,))
        self.execute(
            "UPDATE articles SET modified_at = %s, duplicate_of = nullif(duplicate_of, id) "
            "WHERE id = %s",
            (stamp(now), keep),
        )

    def still_stored(self, feed_id: int, items: Sequence[tuple[str, str]]) -> bool:
        """Whether every (guid, raw_hash) is stored for the feed as it was."""
        stored = {
            item.guid: item.raw_hash for item in self._stored_items(feed_id, (g for g, _ in items))
        }
        return all(stored.get(guid) == hashed for guid, hashed in items)

    def stored_guids(self, feed_id: int, guids: Sequence[str]) -> frozenset[str]:
        """Which of these guids this feed already has stored."""
        return frozenset(item.guid for item in self._stored_items(feed_id, guids))

    def _stored_items(self, feed_id: int, guids: Iterable[str]) -> list[KnownItem]:
        wanted = list(dict.fromkeys(guids))
        if not wanted:
            return []
        return [
            KnownItem(guid, article_id, content_hash, raw_hash)
            for guid, article_id, content_hash, raw_hash in self.execute(
                "SELECT guid, article_id, content_hash, raw_hash FROM article_feeds "
                "WHERE feed_id = %s AND guid = ANY(%s)",
                (feed_id, wanted),
            )
        ]
