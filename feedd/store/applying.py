"""How dedupe's intents become writes: one policy for every backend.

``IntentWriter.apply`` is ``Storage.apply``: the order the intents are
written in, which of them keep a revision, complete a date or count as what,
and which articles come back for near-duplicate marking. A backend supplies
the writes themselves (``_insert_article``, ``_link``, ...) in its own SQL
and its own form of a timestamp (``Stamp``: text in SQLite, a datetime in
PostgreSQL).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from datetime import datetime
from typing import Generic, TypeVar

from ..errors import StoreError
from ..types import DEFAULT_MAX_REVISIONS, Action, Counts, Entry, Intent

Stamp = TypeVar("Stamp")


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
                        target, entry, feed_id, "enrichment", seen_at, max_revisions
                    )
                    self._update_article(target, entry, seen_at)
                    written.append((target, entry))
            elif intent.action is Action.UPDATE:
                if intent.article_id is None:
                    raise StoreError(f"update without an article id: {entry.guid!r}")
                self._keep_revision(
                    intent.article_id, entry, feed_id, "update", seen_at, max_revisions
                )
                self._update_article(intent.article_id, entry, seen_at)
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
        entry: Entry,
        feed_id: int,
        reason: str,
        seen_at: Stamp,
        max_revisions: int,
    ) -> None:
        """The version the entry replaces, when it differs (at most max_revisions)."""

    @abstractmethod
    def _update_article(self, article_id: int, entry: Entry, seen_at: Stamp) -> None:
        """The article's text and fields from the entry (never its URL)."""

    @abstractmethod
    def _item_changed(self, feed_id: int, entry: Entry) -> None:
        """The feed's item as it now is: its content hash, link and raw hash."""

    @abstractmethod
    def _item_read_whole(self, feed_id: int, entry: Entry) -> None:
        """The feed's unchanged item's raw hash, where it differs."""
