"""How dedupe's intents, and article pages, become writes: one policy for
every backend.

``IntentWriter.apply`` is ``Storage.apply``: the order the intents are
written in, which of them keep a revision, complete a date or count as what,
and which articles come back for near-duplicate marking. ``save_page`` is
``Storage.save_page``: when a page's text replaces the feed's, and which of
the article's missing fields the page fills. A backend supplies the writes
themselves (``_insert_article``, ``_link``, ...) in its own SQL and its own
form of a timestamp (``Stamp``: text in SQLite, a datetime in PostgreSQL).

The text rule, both ways: a version replaces the stored text only when it has
more words. A page's text replaces a feed's teaser; an update of the feed's
item (a corrected title, the teaser edited) keeps a page's fuller text.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from datetime import datetime
from typing import Generic, NamedTuple, TypeVar

from ..errors import StoreError
from ..types import DEFAULT_MAX_REVISIONS, Action, Counts, Entry, Intent, Page, PageResult

Stamp = TypeVar("Stamp")
Version = tuple[str | None, str | None, str | None]  # title, summary, content_text


class PageTarget(NamedTuple):
    """What save_page reads of the article a page is for."""

    title: str | None
    summary: str | None
    content_text: str | None
    word_count: int
    author: str | None
    date_flag: str | None  # a flagged date (missing, partial, ...) yields to the page's
    image: str | None


class IntentWriter(ABC, Generic[Stamp]):
    def apply(
        self,
        feed_id: int,
        intents: Iterable[Intent],
        *,
        language: str | None,
        now: datetime,
        estimate_dates: bool = True,
        max_revisions: int = DEFAULT_MAX_REVISIONS,
    ) -> tuple[Counts, tuple[tuple[int, Entry], ...]]:
        """Write the intents of one feed. Call inside transaction().

        ``estimate_dates``: an article inserted without a usable date is dated by
        ``now`` (its date_flag says so); else it is stored undated.

        ``max_revisions``: an update or enrichment that changes an article's
        title, summary or text keeps the version it replaces in
        article_revisions, at most this many per article (the oldest dropped;
        0: none kept).

        Returns the counts and the articles whose text was written (inserted,
        updated, enriched), for near-duplicate detection.
        """
        seen_at = self._start_apply(feed_id, now)
        counts = dict.fromkeys(Action, 0)
        written: list[tuple[int, Entry]] = []
        inserted: dict[str, int] = {}  # guid -> article: for copies of a story in this batch
        # Inserts first: a copy of the same story may stand before its inserted copy.
        ordered = sorted(intents, key=lambda i: i.action is not Action.INSERT)
        for intent in ordered:
            entry = intent.entry
            if intent.action is Action.INSERT:
                estimate = seen_at if estimate_dates else None
                article_id = self._insert_article(entry, language, seen_at, estimate)
                self._link(article_id, feed_id, entry, seen_at)
                written.append((article_id, entry))
                inserted[entry.guid] = article_id
            elif intent.action in (Action.LINK, Action.ENRICH):
                target = intent.article_id
                if target is None and intent.same_as is not None:
                    target = inserted.get(intent.same_as)
                if target is None:
                    raise StoreError(f"link without an article id: {entry.guid!r}")
                self._link(target, feed_id, entry, seen_at)
                self._complete_date(target, entry)
                if intent.action is Action.ENRICH:
                    self._keep_revision(
                        target, _version(entry), feed_id, "enrichment", seen_at, max_revisions
                    )
                    self._update_article(target, entry, seen_at, keep_text=False)
                    written.append((target, entry))
            elif intent.action is Action.UPDATE:
                if intent.article_id is None:
                    raise StoreError(f"update without an article id: {entry.guid!r}")
                page = self._page_text(intent.article_id)
                keep_text = page is not None and page[0] > entry.word_count
                version = (entry.title, entry.summary, entry.content_text)
                if keep_text and page is not None:
                    version = (entry.title, entry.summary, page[1])
                self._keep_revision(
                    intent.article_id, version, feed_id, "update", seen_at, max_revisions
                )
                self._update_article(intent.article_id, entry, seen_at, keep_text=keep_text)
                self._item_changed(feed_id, entry)
                written.append((intent.article_id, entry))
            elif intent.article_id is not None and entry.raw_hash is not None:
                # Unchanged, and read whole: its raw hash may be new (stored before
                # raw hashes were, or cleaned with other learned lines, to the same text).
                self._item_read_whole(feed_id, entry)
            counts[intent.action] += 1
        totals = Counts(
            new=counts[Action.INSERT],
            updated=counts[Action.UPDATE] + counts[Action.ENRICH],
            linked=counts[Action.LINK] + counts[Action.ENRICH],
            unchanged=counts[Action.SKIP],
        )
        return totals, tuple(written)

    def save_page(self, page: Page, now: datetime, max_revisions: int) -> PageResult:
        """Store what an article's page gave. Call inside transaction().

        Its text replaces the article's when it has more words (the version
        replaced kept as a revision, reason "page"; content_source becomes
        "page"); the page's author, date and lead image fill the article's
        where it has none (a flagged date: missing, partial, too old, in the
        future), listed in the page's row (``filled``). Returns "stored" or
        "not_fuller" ("gone": the article was deleted meanwhile).
        """
        stamp = self._start_page(now)
        job, extracted = page.job, page.extracted
        target = self._page_target(job.article_id)
        if target is None:
            return PageResult(job.article_id, job.url, "gone")
        filled: list[str] = []
        if extracted.author and not target.author:
            filled.append("author")
        if extracted.published_at is not None and target.date_flag is not None:
            filled.append("published_at")
        if extracted.image and not target.image:
            filled.append("image")
        fuller = bool(extracted.text) and extracted.word_count > target.word_count
        if fuller:
            version = (target.title, target.summary, extracted.text)
            self._keep_revision(job.article_id, version, None, "page", stamp, max_revisions)
        self._write_page(page, tuple(filled), fuller, stamp)
        outcome = "stored" if fuller else "not_fuller"
        return PageResult(job.article_id, job.url, outcome, extracted.word_count)

    # -- what each backend writes

    @abstractmethod
    def _start_apply(self, feed_id: int, now: datetime) -> Stamp:
        """Refuse to write outside a transaction (or for a feed this poller no
        longer holds); ``now`` as the backend stores it."""

    @abstractmethod
    def _insert_article(
        self, entry: Entry, language: str | None, seen_at: Stamp, estimate: Stamp | None
    ) -> int:
        """A new article; its id."""

    @abstractmethod
    def _link(self, article_id: int, feed_id: int, entry: Entry, seen_at: Stamp) -> None:
        """The feed's item, pointing at the article."""

    @abstractmethod
    def _complete_date(self, article_id: int, entry: Entry) -> None:
        """A partial or missing date of the article yields to the entry's full one."""

    @abstractmethod
    def _keep_revision(
        self,
        article_id: int,
        version: Version,
        feed_id: int | None,
        reason: str,
        seen_at: Stamp,
        max_revisions: int,
    ) -> None:
        """The stored version ``version`` replaces, when it differs (at most
        max_revisions); ``feed_id``: the feed that brought the replacement."""

    @abstractmethod
    def _update_article(
        self, article_id: int, entry: Entry, seen_at: Stamp, *, keep_text: bool
    ) -> None:
        """The article's fields from the entry (never its URL); its text too unless
        ``keep_text`` (content_source back to "feed" when the text is written)."""

    @abstractmethod
    def _page_text(self, article_id: int) -> tuple[int, str | None] | None:
        """(words, content_text) of the article when its text came from its page."""

    @abstractmethod
    def _start_page(self, now: datetime) -> Stamp:
        """Refuse to write outside a transaction; ``now`` as the backend stores it."""

    @abstractmethod
    def _page_target(self, article_id: int) -> PageTarget | None:
        """The article a page is for, as save_page weighs it; None when deleted."""

    @abstractmethod
    def _write_page(self, page: Page, filled: tuple[str, ...], fuller: bool, at: Stamp) -> None:
        """The page's text into the article when ``fuller`` (text, HTML, words, text
        hash, content_source "page"); the ``filled`` fields from the page (a date
        with date_flag "page"); the page's row done ("stored" or "not_fuller")."""

    @abstractmethod
    def _item_changed(self, feed_id: int, entry: Entry) -> None:
        """The feed's item as it now is: its content hash, link and raw hash."""

    @abstractmethod
    def _item_read_whole(self, feed_id: int, entry: Entry) -> None:
        """The feed's unchanged item's raw hash, where it differs."""


def _version(entry: Entry) -> Version:
    return (entry.title, entry.summary, entry.content_text)
