"""Articles and their identity: what dedupe needs, applying its intents, repairs."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from ...errors import StoreError
from ...types import (
    Entry,
    Kept,
    Known,
    KnownArticle,
    KnownItem,
    Merge,
    Page,
    format_timestamp,
    parse_timestamp,
)
from ..applying import IntentWriter, PageTarget, Version
from ..fingerprints import revision_hash
from .connection import Connection, chunks

# dedupe compares a new copy with the start of a stored text (dedupe.is_lead).
_LEAD_CHARS = 2_000


class Articles(IntentWriter[str], Connection):
    def lock_identity(self, keys: Iterable[str]) -> None:
        """Nothing to hold: the transaction (BEGIN IMMEDIATE) already keeps every
        other writer out."""

    def known(self, feed_id: int, entries: Sequence[Entry], kept: Sequence[Kept] = ()) -> Known:
        """What dedupe needs: this feed's stored items (of the entries and the kept
        items), the articles with the same URL or the same text (from any feed), and
        other feeds' episodes with the entries' guids."""
        url_of: dict[str, str | None] = {}
        for guid, url in [*((e.guid, e.url) for e in entries), *((k.guid, k.url) for k in kept)]:
            url_of.setdefault(guid, url)  # dedupe reads a repeated guid's first
        items = self._stored_items(feed_id, url_of)
        # A stored item is compared with the new ones (dedupe.same_story) only when
        # it carries the URL of one: its article's title and lead are read for those.
        stored = {item.guid for item in items}
        new_urls = {e.url for e in entries if e.url and e.guid not in stored}
        compared = {i.article_id for i in items if url_of.get(i.guid) in new_urls}
        articles: dict[int, tuple[str | None, str | None, int]] = {}
        for chunk in chunks(sorted(compared)):
            marks = ",".join("?" * len(chunk))
            for id_, title, lead, words in self.conn.execute(
                f"SELECT id, title, substr(coalesce(content_text, summary), 1, {_LEAD_CHARS}), "
                f"word_count FROM articles WHERE id IN ({marks})",
                chunk,
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
            for chunk in chunks(list(dict.fromkeys(values))):
                marks = ",".join("?" * len(chunk))
                for id_, url, text_hash, words, title, lead, published in self.conn.execute(
                    f"SELECT id, url, text_hash, word_count, title, "
                    f"substr(coalesce(content_text, summary), 1, {_LEAD_CHARS}), "
                    f"CASE WHEN date_flag IS NULL THEN published_at END FROM articles "
                    f"WHERE {column} IN ({marks})",
                    chunk,
                ):
                    found[id_] = KnownArticle(
                        id_, url, text_hash, words, title, lead, parse_timestamp(published)
                    )
        episodes: list[tuple[str, str, int]] = []
        with_enclosures = [e.guid for e in entries if e.enclosures]
        for chunk in chunks(list(dict.fromkeys(with_enclosures))):
            marks = ",".join("?" * len(chunk))
            for guid, article_id, enclosures, words, url in self.conn.execute(
                f"SELECT f.guid, a.id, a.enclosures, a.word_count, a.url "
                f"FROM article_feeds f JOIN articles a ON a.id = f.article_id "
                f"WHERE f.guid IN ({marks}) AND f.feed_id != ? AND a.enclosures != '[]'",
                (*chunk, feed_id),
            ):
                for enclosure in json.loads(enclosures):
                    if enclosure.get("url"):
                        episodes.append((guid, enclosure["url"], article_id))
                found.setdefault(article_id, KnownArticle(article_id, url, None, words))
        return Known(items=tuple(items), articles=tuple(found.values()), episodes=tuple(episodes))

    def _article_values(
        self, entry: Entry, seen_at: str | None, estimate: str | None = None
    ) -> dict[str, Any]:
        return {
            "title": entry.title,
            "summary": entry.summary,
            "content_text": entry.content_text,
            "content_html": entry.content_html,
            "author": entry.author,
            # No usable date: the estimate, if any, stands in; date_flag says so.
            "published_at": format_timestamp(entry.published_at) or estimate,
            "updated_at": format_timestamp(entry.updated_at),
            "tags": json.dumps(list(entry.tags), ensure_ascii=False),
            "date_flag": entry.date_flag,
            "published_raw": entry.published_raw,
            "word_count": entry.word_count,
            "enclosures": json.dumps(
                [{"url": e.url, "type": e.type, "length": e.length} for e in entry.enclosures],
                ensure_ascii=False,
            ),
            "text_hash": entry.text_hash,
            "seen_at": seen_at,
        }

    def _start_apply(self, feed_id: int, now: datetime) -> str:
        if not self.conn.in_transaction:
            raise StoreError("apply() must run inside a transaction")
        return format_timestamp(now)

    def _item_changed(self, feed_id: int, entry: Entry) -> None:
        self.conn.execute(
            "UPDATE article_feeds SET content_hash = ?, link = ?, raw_hash = ? "
            "WHERE feed_id = ? AND guid = ?",
            (entry.content_hash, entry.link, entry.raw_hash, feed_id, entry.guid),
        )

    def _item_read_whole(self, feed_id: int, entry: Entry) -> None:
        self.conn.execute(
            "UPDATE article_feeds SET raw_hash = ? "
            "WHERE feed_id = ? AND guid = ? AND raw_hash IS NOT ?",
            (entry.raw_hash, feed_id, entry.guid, entry.raw_hash),
        )

    def _insert_article(
        self, entry: Entry, language: str | None, seen_at: str | None, estimate: str | None
    ) -> int:
        values = self._article_values(entry, seen_at, estimate)
        cursor = self.conn.execute(
            """
            INSERT INTO articles (url, title, summary, content_text, content_html, author,
                published_at, updated_at, first_seen_at, modified_at, language, tags,
                date_flag, published_raw, word_count, enclosures, text_hash)
            VALUES (:url, :title, :summary, :content_text, :content_html, :author,
                :published_at, :updated_at, :seen_at, :seen_at, :language, :tags,
                :date_flag, :published_raw, :word_count, :enclosures, :text_hash)
            """,
            {**values, "url": entry.url, "language": entry.language or language},
        )
        if cursor.lastrowid is None:
            raise StoreError("INSERT INTO articles returned no rowid")
        return cursor.lastrowid

    def _link(self, article_id: int, feed_id: int, entry: Entry, seen_at: str | None) -> None:
        self.conn.execute(
            """
            INSERT INTO article_feeds (article_id, feed_id, guid, link, content_hash,
                first_seen_at, raw_hash)
            VALUES (?, ?, ?, ?, ?, ?, ?)
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
        seen_at: str | None,
        max_revisions: int,
    ) -> None:
        """Before ``version`` overwrites the article: keep the version it replaces, when
        its title, summary or text differ (a re-delivery of the same words adds
        nothing), and drop the oldest beyond ``max_revisions``."""
        if max_revisions <= 0:
            return
        row = self.conn.execute(
            "SELECT title, summary, content_text, first_seen_at FROM articles WHERE id = ?",
            (article_id,),
        ).fetchone()
        if row is None or tuple(row[:3]) == version:
            return
        title, summary, text, article_seen = row
        last = self.conn.execute(
            "SELECT revision, replaced_at, replaced_by FROM article_revisions "
            "WHERE article_id = ? ORDER BY revision DESC LIMIT 1",
            (article_id,),
        ).fetchone()
        if last is not None:
            # The version now replaced is the one the last revision's replacement brought.
            number, first_seen, brought_by = last[0] + 1, last[1], last[2]
        else:
            # The first version: stored by the feed that inserted the article.
            number, first_seen = 1, article_seen
            first = self.conn.execute(
                "SELECT feed_id FROM article_feeds WHERE article_id = ? "
                "ORDER BY first_seen_at, rowid LIMIT 1",
                (article_id,),
            ).fetchone()
            brought_by = first[0] if first else None
        # No poll records each re-delivery of an unchanged item: the last
        # successful poll of the feed that brought the version (before this
        # one, which is recorded after apply) is when it was last seen.
        polled = self.conn.execute(
            "SELECT last_ok_at FROM feeds WHERE id = ?", (brought_by,)
        ).fetchone()
        last_seen = max(first_seen, polled[0] or first_seen) if polled else first_seen
        self.conn.execute(
            """
            INSERT INTO article_revisions (article_id, revision, title, summary, content_text,
                content_hash, first_seen_at, last_seen_at, feed_id, reason, replaced_at,
                replaced_by)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
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
        self.conn.execute(
            "DELETE FROM article_revisions WHERE article_id = ? AND revision <= ?",
            (article_id, number - max_revisions),
        )

    def _complete_date(self, article_id: int, entry: Entry) -> None:
        """A partial date (an imported story's, month lost) yields to the full date of
        any copy, whatever the copies' lengths."""
        if entry.published_at is None or entry.date_flag is not None:
            return
        self.conn.execute(
            "UPDATE articles SET published_at = ?, date_flag = NULL, published_raw = ? "
            "WHERE id = ? AND date_flag = 'partial'",
            (format_timestamp(entry.published_at), entry.published_raw, article_id),
        )

    def _update_article(
        self, article_id: int, entry: Entry, seen_at: str | None, *, keep_text: bool
    ) -> None:
        # The URL is the article's identity (and may come from link
        # resolution, which an update does not repeat): it never changes here.
        # A date the new version lacks keeps the stored one.
        text = (
            ""
            if keep_text
            else """content_text = :content_text, content_html = :content_html,
                word_count = :word_count, text_hash = :text_hash, content_source = 'feed',"""
        )
        self.conn.execute(
            f"""
            UPDATE articles SET
                title = :title, summary = :summary, {text}
                author = coalesce(:author, author),
                published_at = CASE WHEN :date_flag IS NULL THEN :published_at
                                    ELSE published_at END,
                date_flag = CASE WHEN :date_flag IS NULL THEN NULL ELSE date_flag END,
                published_raw = coalesce(:published_raw, published_raw),
                updated_at = :updated_at, tags = :tags, enclosures = :enclosures,
                language = coalesce(:language, language), modified_at = :seen_at
            WHERE id = :id
            """,
            {**self._article_values(entry, seen_at), "id": article_id, "language": entry.language},
        )

    def _page_text(self, article_id: int) -> tuple[int, str | None] | None:
        row = self.conn.execute(
            "SELECT word_count, content_text FROM articles "
            "WHERE id = ? AND content_source = 'page'",
            (article_id,),
        ).fetchone()
        return (row[0], row[1]) if row else None

    def _start_page(self, now: datetime) -> str:
        if not self.conn.in_transaction:
            raise StoreError("save_page() must run inside a transaction")
        return format_timestamp(now)

    def _page_target(self, article_id: int) -> PageTarget | None:
        row = self.conn.execute(
            "SELECT title, summary, content_text, word_count, author, date_flag, image "
            "FROM articles WHERE id = ?",
            (article_id,),
        ).fetchone()
        return PageTarget(*row) if row else None

    def _write_page(self, page: Page, filled: tuple[str, ...], fuller: bool, at: str) -> None:
        extracted, article_id = page.extracted, page.job.article_id
        values: dict[str, Any] = {"id": article_id, "at": at}
        sets = ["modified_at = :at"]
        if fuller:
            sets.append(
                "content_text = :text, content_html = :html, word_count = :words, "
                "text_hash = :text_hash, content_source = 'page'"
            )
            values.update(
                text=extracted.text,
                html=extracted.html,
                words=extracted.word_count,
                text_hash=page.text_hash,
            )
        if "author" in filled:
            sets.append("author = :author")
            values["author"] = extracted.author
        if "published_at" in filled:
            sets.append("published_at = :published_at, date_flag = 'page'")
            values["published_at"] = format_timestamp(extracted.published_at)
        if "image" in filled:
            sets.append("image = :image")
            values["image"] = extracted.image
        if fuller or filled:
            self.conn.execute(f"UPDATE articles SET {', '.join(sets)} WHERE id = :id", values)
        self.conn.execute(
            """
            UPDATE pages SET state = ?, next_attempt_at = NULL, fetched_at = ?, final_url = ?,
                http_status = ?, error = NULL, words = ?, filled = ?
            WHERE article_id = ?
            """,
            (
                "stored" if fuller else "not_fuller",
                at,
                page.final_url,
                page.http_status,
                extracted.word_count,
                json.dumps(list(filled)),
                article_id,
            ),
        )

    def articles_sharing_urls(self) -> tuple[KnownArticle, ...]:
        """Articles whose canonical URL another article has too (dedupe.repairs)."""
        rows = self.conn.execute(
            f"""
            SELECT id, url, text_hash, word_count, title,
                substr(coalesce(content_text, summary), 1, {_LEAD_CHARS})
            FROM articles WHERE url IN (
                SELECT url FROM articles WHERE url IS NOT NULL GROUP BY url HAVING count(*) > 1
            ) ORDER BY url, id
            """
        )
        return tuple(KnownArticle(*row) for row in rows)

    def merge_articles(self, merge: Merge, now: datetime) -> None:
        """One article out of several (dedupe.repairs): the kept one takes the fullest
        one's text and signature, every item of the others, and the near-duplicates
        that pointed at them. Call inside transaction()."""
        if not self.conn.in_transaction:
            raise StoreError("merge_articles() must run inside a transaction")
        keep, merged = merge.keep, list(merge.merged)
        if merge.text_from != keep:
            self.conn.execute(
                """
                UPDATE articles SET (title, summary, content_text, content_html, author,
                    updated_at, tags, word_count, enclosures, text_hash, language,
                    content_source, image) =
                    (SELECT f.title, f.summary, f.content_text, f.content_html,
                        coalesce(f.author, articles.author), f.updated_at, f.tags,
                        f.word_count, f.enclosures, f.text_hash,
                        coalesce(f.language, articles.language), f.content_source,
                        coalesce(f.image, articles.image)
                     FROM articles f WHERE f.id = :source)
                WHERE id = :keep
                """,
                {"source": merge.text_from, "keep": keep},
            )
            self.conn.execute("DELETE FROM article_bands WHERE article_id = ?", (keep,))
            self.conn.execute("DELETE FROM article_signatures WHERE article_id = ?", (keep,))
            for table in ("article_signatures", "article_bands"):
                self.conn.execute(
                    f"UPDATE {table} SET article_id = ? WHERE article_id = ?",
                    (keep, merge.text_from),
                )
        for chunk in chunks(merged):
            marks = ",".join("?" * len(chunk))
            self.conn.execute(
                f"UPDATE article_feeds SET article_id = ? WHERE article_id IN ({marks})",
                (keep, *chunk),
            )
            self.conn.execute(
                f"UPDATE articles SET duplicate_of = ? WHERE duplicate_of IN ({marks})",
                (keep, *chunk),
            )
            self.conn.execute(f"DELETE FROM articles WHERE id IN ({marks})", chunk)
        self.conn.execute(
            "UPDATE articles SET modified_at = ?, duplicate_of = nullif(duplicate_of, id) "
            "WHERE id = ?",
            (format_timestamp(now), keep),
        )

    def still_stored(self, feed_id: int, items: Sequence[tuple[str, str]]) -> bool:
        """Whether every (guid, raw_hash) is stored for the feed as it was: retention,
        or another writer, may have deleted some since a digest relied on them."""
        stored = {
            item.guid: item.raw_hash for item in self._stored_items(feed_id, (g for g, _ in items))
        }
        return all(stored.get(guid) == hashed for guid, hashed in items)

    def stored_guids(self, feed_id: int, guids: Sequence[str]) -> frozenset[str]:
        """Which of these guids this feed already has stored (never resolved again)."""
        return frozenset(item.guid for item in self._stored_items(feed_id, guids))

    def _stored_items(self, feed_id: int, guids: Iterable[str]) -> list[KnownItem]:
        items: list[KnownItem] = []
        for chunk in chunks(list(dict.fromkeys(guids))):
            marks = ",".join("?" * len(chunk))
            items.extend(
                KnownItem(guid, article_id, content_hash, raw_hash)
                for guid, article_id, content_hash, raw_hash in self.conn.execute(
                    f"SELECT guid, article_id, content_hash, raw_hash FROM article_feeds "
                    f"WHERE feed_id = ? AND guid IN ({marks})",
                    (feed_id, *chunk),
                )
            )
        return items
