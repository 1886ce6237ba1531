"""What the pipeline, the daemon and the CLI need of a database: the protocol.

Typed with values from feedd.types only; one implementation per backend
(``feedd.store.sqlite``). Grouped by topic, in the order an item meets them:
feeds and their schedule, recording a poll, articles and their identity,
links, near-duplicates, maintenance.

Every method runs on the store's own thread (the pipeline's database
thread), except ``upkeep_due``, a cheap check callable from anywhere, and
``host_slots``, whose object has its own connection. Writes that belong to
one feed's poll run inside one ``transaction()``.

Several pollers may share one database (PostgreSQL). The store keeps them
apart without the pipeline's help: ``due_feeds`` and ``feeds_by_url`` lease
each feed they return to this poller until ``record_poll`` writes its result,
and a write for a feed whose lease was lost raises ``LeaseLost`` and rolls
back. The pipeline's part is ``lock_identity``: the keys of the stories a
transaction decides on, so that two pollers never decide on one story at
once. A backend with one writer (SQLite) has nothing to do for either.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Protocol

from ..types import (
    DEFAULT_MAX_REVISIONS,
    CachedLink,
    Counts,
    DueFeed,
    Entry,
    FeedSettings,
    FeedUpdate,
    Intent,
    Kept,
    Known,
    KnownArticle,
    Merge,
    Page,
    PageJob,
    PageResult,
    Resolution,
)


class HostSlots(Protocol):
    """[fetch] per_host for every poller on the database. Thread-safe."""

    def take(self, host: str, limit: int) -> int | None:
        """One of the host's ``limit`` slots, held until given back or expired;
        None when all are taken (the caller waits and asks again)."""
        ...

    def give_back(self, host: str, slot: int) -> None: ...

    def close(self) -> None: ...


class Storage(Protocol):
    def close(self) -> None: ...

    def transaction(self) -> AbstractContextManager[None]:
        """All of it or none of it: one feed's poll, one merge. Raises
        StoreConflict when the database undid it for another writer's sake
        (run it again from the same values: nothing is fetched again)."""
        ...

    def host_slots(self) -> HostSlots | None:
        """Per-host slots shared with the other pollers; None when this process
        is the only writer (its own per-host limit is the whole cluster's)."""
        ...

    # -- feeds and their schedule

    def sync_feeds(self, feeds: Sequence[FeedSettings], now: datetime) -> None:
        """Make the stored feeds match the config (added due at once, removed disabled)."""
        ...

    def due_feeds(
        self, now: datetime, limit: int, exclude: Iterable[int] = ()
    ) -> tuple[DueFeed, ...]:
        """Enabled feeds whose time has come, never-fetched first; each leased to
        this poller (no other poller gets it until its poll is recorded or the
        lease expires)."""
        ...

    def feeds_by_url(self, urls: Iterable[str]) -> tuple[DueFeed, ...]:
        """The stored feeds with these URLs, leased like ``due_feeds``'s (a feed
        another poller is polling now is left out)."""
        ...

    def source_feed(self, name: str, url: str, now: datetime) -> int:
        """The feed an imported story joins (``feedd import applet``): the first
        configured, enabled feed whose name or title is ``name``; else the imported
        feed at ``url``, created if missing: a row marked imported, never polled
        (``due_feeds`` never claims it, ``sync_feeds`` never disables it,
        ``feeds_by_url`` never returns it). Inside the story's transaction."""
        ...

    def has_polled(self, feed_id: int) -> bool:
        """Whether a poll of this feed has succeeded before."""
        ...

    # -- recording a poll

    def record_poll(self, feed_id: int, update: FeedUpdate) -> None:
        """Write what one poll decided (schedule.answered / failed) to the feed,
        as it is: the fields the update leaves unset keep their stored values.
        Inside the poll's transaction when it stored items, else on its own.
        Ends the feed's lease (at commit)."""
        ...

    def digest_state(self, feed_id: int) -> str | None:
        """What the feed's last digest left for the next (digest.Memory, as JSON)."""
        ...

    def save_digest_state(self, feed_id: int, state: str) -> None: ...

    # -- articles and their identity

    def still_stored(self, feed_id: int, items: Sequence[tuple[str, str]]) -> bool:
        """Whether these (guid, raw hash) items are stored for the feed, as they are."""
        ...

    def stored_guids(self, feed_id: int, guids: Sequence[str]) -> frozenset[str]: ...

    def lock_identity(self, keys: Iterable[str]) -> None:
        """Hold these story keys (dedupe.identity_keys) until the transaction ends:
        a concurrent writer deciding on a story with one of them waits, then sees
        what this one stored. Call first in the transaction, before ``known``."""
        ...

    def known(self, feed_id: int, entries: Sequence[Entry], kept: Sequence[Kept] = ()) -> Known:
        """The slice of the database dedupe decides a batch on."""
        ...

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
        """Write dedupe's intents; the counts, and the articles whose text was written.
        An update or enrichment that changes an article's title, summary or text
        keeps the version it replaces (at most ``max_revisions`` per article)."""
        ...

    def articles_sharing_urls(self) -> tuple[KnownArticle, ...]: ...

    def merge_articles(self, merge: Merge, now: datetime) -> None: ...

    # -- links

    def cached_links(self, urls: Sequence[str]) -> dict[str, CachedLink]: ...

    def save_link(
        self, resolution: Resolution, *, failures: int, checked_at: datetime, expires_at: datetime
    ) -> None: ...

    # -- near-duplicates

    def signature_of(self, article_id: int) -> bytes | None: ...

    def save_signature(
        self,
        article_id: int,
        signature: bytes | None,
        bands: Sequence[str],
        old_bands: Sequence[str] = (),
    ) -> None: ...

    def near_candidates(
        self, article_id: int, bands: Sequence[str], window: timedelta
    ) -> tuple[tuple[int, bytes], ...]: ...

    def duplicate_group(
        self, article_ids: Iterable[int]
    ) -> tuple[tuple[int, datetime | None], ...]: ...

    def point_group(self, members: Iterable[int], root: int) -> None: ...

    # -- article pages ([fulltext]): a queue in the database, so that a page
    # wanted survives a restart and any poller sharing the database may fetch it

    def queue_pages(
        self, feed_id: int, pages: Sequence[tuple[int, str, str]], now: datetime
    ) -> int:
        """Queue (article id, page URL, reason) rows, once per article. Call inside
        transaction() (the feed's poll's). Returns how many were queued."""
        ...

    def claim_pages(self, now: datetime, limit: int, hold: float) -> tuple[PageJob, ...]:
        """Due queued pages, longest waiting first, each held ``hold`` seconds (its
        attempt counted) so that no one else takes it meanwhile."""
        ...

    def save_page(self, page: Page, now: datetime, max_revisions: int) -> PageResult:
        """What a fetched page gave (applying.IntentWriter.save_page). Call inside
        transaction()."""
        ...

    def page_failed(
        self,
        job: PageJob,
        *,
        error: str,
        http_status: int | None,
        now: datetime,
        retry_at: datetime | None,
    ) -> None:
        """A page that gave nothing: due again at ``retry_at``; None: never."""
        ...

    def next_page_at(self) -> datetime | None:
        """When the next queued page is due; None: none is queued."""
        ...

    # -- maintenance

    def housekeeping(
        self,
        now: datetime,
        max_age: float | None = None,
        max_per_feed: int | None = None,
        max_revisions: int | None = None,
    ) -> int:
        """Retention and the backend's own upkeep; how many articles were deleted.
        An article deleted takes its revisions along; ``max_revisions`` trims
        each article's history to its newest N."""
        ...

    def upkeep_due(self) -> bool:
        """Whether after_poll has work (cheap; callable from any thread)."""
        ...

    def after_poll(self) -> None:
        """The backend's upkeep between polls (none for a backend that needs none)."""
        ...

    def check_writable(self) -> None:
        """Raise StoreError unless a write could start now."""
        ...

    def feed_states(self) -> dict[str, int]: ...

    def count(self, table: str) -> int: ...
