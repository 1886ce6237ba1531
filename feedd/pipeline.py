"""Run the stages for one feed: fetch -> digest (parse, links, normalize) ->
resolve links -> dedupe -> store, and schedule the next poll.

The only module that puts stages together. Network work is async (many feeds
and links in flight on one client); parsing and normalizing run in worker
processes (workers.Digesters), so they use every core and never block the event
loop; the database is written by a single thread that holds the only write
connection, so writes never contend with each other.

One feed, one poll (``Pipeline`` shows it as pseudocode):
1. fetch the feed (async); a 304 or a failure goes straight to 6;
2. digest (a worker process, else the db thread): parse, find each item's
   link (absolute, unwrapped offline), normalize, sign the texts;
3. prepare (db thread): which links need following: new items only, on the
   feed's resolve mode, not fresh in the links cache;
4. resolve those links hop by hop (async; links decides, fetch requests);
5. finish (db thread), in one transaction: cache the resolutions, read what
   is known, dedupe, apply the intents, mark near-duplicates, and
6. record the poll: schedule decides the feed's FeedUpdate (validators,
   interval, next poll, backoff, Retry-After, gone, moved), the store writes it.

Errors become Outcome values: one bad feed never stops the batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import NoReturn, TypeVar
from urllib.parse import urlsplit

import httpx

from . import (
    applet,
    dedupe,
    digest,
    fetch,
    fetchers,
    fulltext,
    links,
    neardup,
    normalize,
    schedule,
    workers,
)
from . import store as storage
from .config import Config, LinksConfig, default_workers
from .errors import (
    BlockedAddressError,
    FeeddError,
    FetchError,
    LeaseLost,
    ParseError,
    StoreConflict,
    StoreError,
)
from .store import transfer
from .types import (
    Action,
    CachedLink,
    DueFeed,
    Entry,
    Extracted,
    FeedSource,
    FeedUpdate,
    Fetched,
    Hop,
    Intent,
    Kept,
    Merge,
    NotModified,
    Outcome,
    Page,
    PageJob,
    PageResult,
    Probe,
    Resolution,
    Status,
)

log = logging.getLogger("feedd")
T = TypeVar("T")

RESOLVE_READ_LIMIT = 256 * 1024  # bytes of a page read to find a meta refresh or canonical link
PAGE_READ_LIMIT = 4 * 1024 * 1024  # bytes of an article page read (extract.MAX_PAGE_BYTES)
PERMANENT_REDIRECTS = frozenset({301, 308})
MOVED_AFTER = schedule.MOVED_AFTER  # named in the log when a feed moves
# Near-duplicates are looked for among articles published this close: the
# same story is republished within days; older look-alikes are other stories
# (yearly lists, templated posts).
NEAR_DUPLICATE_WINDOW = timedelta(days=7)
# The first wait for a per-host slot that other pollers hold (doubling to 1 s).
SHARED_SLOT_WAIT = 0.05
# How many times a poll's transaction is run when other writers' keep winning.
CONFLICT_ATTEMPTS = 5
# `feedd fetch` starts its worker processes when it has this many bodies to parse.
WORKERS_AFTER_BODIES = 8


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def open_store(config: Config) -> storage.Storage:
    """Open (creating or migrating) the database and sync the configured feeds into
    it, unless this poller is poll-only ([cluster] poll_only: another owns the list)."""
    store = storage.open_store(
        config.database,
        password=config.database_password,
        owner=config.cluster.name,
        lease_seconds=config.cluster.lease,
    )
    try:
        if not config.cluster.poll_only:
            store.sync_feeds(config.feeds, utcnow())
    except BaseException:
        store.close()
        raise
    return store


# -- link resolution


class LinkResolver:
    """Follows links hop by hop: fetch makes each request, links decides what it means."""

    def __init__(self, client: httpx.AsyncClient, settings: LinksConfig) -> None:
        self.client = client
        self.settings = settings
        self.slots = asyncio.Semaphore(settings.concurrency)
        self.host_slots: dict[str, asyncio.Semaphore] = {}

    async def resolve_all(
        self, urls: Iterable[str], keep_pages: Iterable[str] = ()
    ) -> tuple[Resolution, ...]:
        """Each link resolved, ``settings.concurrency`` at a time; for the links in
        ``keep_pages``, the final page's HTML is kept (``Resolution.page``): its
        article is wanted, and it is not requested again."""
        keep = frozenset(keep_pages)

        async def one(url: str) -> Resolution:
            async with self.slots:
                return await self.resolve(url, keep_page=url in keep)

        return tuple(await asyncio.gather(*(one(url) for url in dict.fromkeys(urls))))

    async def _probe(self, url: str, method: str, max_bytes: int) -> Probe:
        host = urlsplit(url).hostname or ""
        slot = self.host_slots.setdefault(host, asyncio.Semaphore(self.settings.per_host))
        async with slot:
            return await fetch.probe(self.client, url, method=method, max_bytes=max_bytes)

    async def _step(self, url: str, keep_page: bool, page_first: bool) -> tuple[Probe, str | None]:
        """HEAD first; GET when HEAD is refused or cannot tell (an HTML page may
        hold a meta refresh, a script redirect or a canonical link). For a page
        wanted whole, only GETs, each reading up to extract.MAX_PAGE_BYTES."""
        if not page_first:
            head = await self._probe(url, "HEAD", RESOLVE_READ_LIMIT)
            target = links.redirect_target(url, head.status, head.headers, None)
            if target is not None:
                return head, target
            content_type = (head.header("content-type") or "").lower()
            if 200 <= head.status < 300 and content_type and "html" not in content_type:
                return head, None
        page = await self._probe(url, "GET", PAGE_READ_LIMIT if keep_page else RESOLVE_READ_LIMIT)
        return page, links.redirect_target(url, page.status, page.headers, page.body)

    async def fetch_page(self, url: str) -> Resolution:
        """An article page: GET hop by hop (redirects, meta refreshes, the guard on
        every address), its HTML kept in ``Resolution.page`` when it ends in one."""
        return await self.resolve(url, keep_page=True, page_first=True)

    async def resolve(
        self, url: str, *, keep_page: bool = False, page_first: bool = False
    ) -> Resolution:
        """Where url leads. Never raises for the link's fault: failures are outcomes.
        ``keep_page``: the final hop's HTML page in ``Resolution.page``; ``page_first``:
        no HEAD requests (a page is wanted, not only an address)."""
        hops: list[Hop] = []
        current = url
        seen = {url}
        permanent = True
        last: Probe | None = None
        try:
            async with asyncio.timeout(self.settings.timeout):
                for _ in range(self.settings.max_hops + 1):
                    last, target = await self._step(current, keep_page, page_first)
                    if target is not None:
                        target = links.unwrap(target)
                    hops.append(Hop(current, last.status, target))
                    if target is None:
                        ended = self._ended(url, current, last, tuple(hops), permanent)
                        if (
                            keep_page
                            and ended.outcome == "ok"
                            and _is_html_page(last)
                            and not links.is_interstitial(current)
                        ):
                            return dataclasses.replace(ended, page=last.body)
                        return ended
                    permanent = permanent and last.status in PERMANENT_REDIRECTS
                    if target in seen:
                        return self._failed(url, url, "loop", last, hops, permanent, target)
                    seen.add(target)
                    current = target
                return self._failed(url, url, "too_many_hops", last, hops, permanent)
        except TimeoutError:
            hops.append(Hop(current, None, None))
            return self._failed(url, current, "timeout", last, hops, permanent)
        except BlockedAddressError as exc:
            hops.append(Hop(current, None, None))
            return self._failed(url, current, "blocked", last, hops, permanent, str(exc))
        except FetchError as exc:
            hops.append(Hop(current, None, None))
            return self._failed(url, current, "error", last, hops, permanent, str(exc))

    def _ended(
        self, url: str, current: str, probe: Probe, hops: tuple[Hop, ...], permanent: bool
    ) -> Resolution:
        if 200 <= probe.status < 300:
            if links.is_interstitial(current) and len(hops) > 1:
                # A consent page with no target in its URL: stop at the last good hop.
                return Resolution(url, hops[-2].url, "ok", probe.status, hops, False)
            # Both are in the page's head: what link resolution reads of any page.
            head = probe.body[:RESOLVE_READ_LIMIT] if probe.body else None
            canonical = links.canonical_link(current, head) if head else None
            published = links.published_time(head) if head else None
            return Resolution(
                url, canonical or current, "ok", probe.status, hops, permanent, None, published
            )
        outcome = "not_found" if probe.status in (404, 410) else "error"
        # The address reached is still the best known: the article may be gone.
        return Resolution(
            url, current, outcome, probe.status, hops, permanent, f"HTTP {probe.status}"
        )

    @staticmethod
    def _failed(
        url: str,
        best: str,
        outcome: str,
        probe: Probe | None,
        hops: list[Hop],
        permanent: bool,
        error: str | None = None,
    ) -> Resolution:
        return Resolution(
            url,
            best,
            outcome,
            probe.status if probe else None,
            tuple(hops),
            permanent,
            error or outcome.replace("_", " "),
        )


# -- article pages


def page_settings(config: Config) -> LinksConfig:
    """How article pages are requested: link resolution's hops and checks, under
    [fulltext]'s own concurrency and per-host limits and [fetch]'s deadline."""
    return dataclasses.replace(
        config.links,
        timeout=config.fetch.timeout,
        concurrency=config.fulltext.concurrency,
        per_host=config.fulltext.per_host,
    )


class PageReader:
    """Fetches the queued article pages ([fulltext]) and stores what they give.

    A page is queued in its feed's poll transaction (``Pipeline._finish``), so the
    poll is recorded with the feed's text whatever becomes of the page. Then::

        jobs = store.claim_pages(now, n, hold)            # db thread: due pages, held
        page = resolution.page if link resolution kept it else
               resolver.fetch_page(job.url)               # async: GET hop by hop, the
                                                          # guard, [fulltext] limits
        read = digest.read_page(page, selector)           # a worker: extract, hash, sign
        with store.transaction():                         # db thread
            store.save_page(page)                         # the fuller text wins
            mark_near_duplicates(article, read.signature)
        on failure: store.page_failed(job, retry_at=fulltext.retry_after(...))
    """

    # Pages that link resolution fetched, kept for their article: at most this
    # many bytes (a page another poller claims is never taken from here).
    PREFETCHED_BYTES = 64 * 1024 * 1024

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.resolver = LinkResolver(pipeline.client, page_settings(pipeline.config))
        self.prefetched: dict[int, tuple[str, int, bytes]] = {}  # article id -> page
        self.prefetched_lock = threading.Lock()  # kept on the db thread, taken on the loop
        self.wake = asyncio.Event()
        # Pages are read here when there are no worker processes: on one thread,
        # as trafilatura shares an lxml parser between calls (two threads crash it).
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="feedd-page")

    def close(self) -> None:
        self.thread.shutdown(wait=True, cancel_futures=True)

    def reconfigure(self, config: Config) -> None:
        self.resolver.settings = page_settings(config)
        self.resolver.host_slots.clear()

    @property
    def hold(self) -> float:
        """How long a claimed page is no one else's: its fetch, its reading, a margin."""
        return max(300.0, 4 * self.pipeline.config.fetch.timeout)

    def keep(self, article_id: int, resolution: Resolution) -> None:
        """Link resolution's final page, for the article's page job."""
        if resolution.page is None:
            return
        with self.prefetched_lock:
            self.prefetched[article_id] = (
                resolution.hops[-1].url,
                resolution.status or 200,
                resolution.page,
            )
            total = sum(len(body) for _, _, body in self.prefetched.values())
            for oldest in list(self.prefetched):
                if total <= self.PREFETCHED_BYTES:
                    break
                total -= len(self.prefetched.pop(oldest)[2])

    def _take(self, article_id: int) -> tuple[str, int, bytes] | None:
        with self.prefetched_lock:
            return self.prefetched.pop(article_id, None)

    async def run_due(
        self, on_page: Callable[[PageResult], None] | None = None
    ) -> list[PageResult]:
        """Claim and read due pages until none is due; what became of each."""
        pipeline = self.pipeline
        results: list[PageResult] = []
        while not pipeline.closed:
            self.wake.clear()
            jobs = await pipeline.run_in_db(
                pipeline.store.claim_pages,
                utcnow(),
                2 * pipeline.config.fulltext.concurrency,
                self.hold,
            )
            if not jobs:
                break
            for result in await asyncio.gather(*(self.read(job) for job in jobs)):
                results.append(result)
                if on_page is not None:
                    on_page(result)
        return results

    async def read(self, job: PageJob) -> PageResult:
        """One page: fetched, read, stored; a failure recorded. Never raises but
        for cancellation (a page held and not finished is due again after ``hold``)."""
        try:
            result = await self._read(job)
        except Exception as exc:
            log.exception("%s: unexpected error while reading the page", job.url)
            result = await self._failed(job, "error", f"unexpected error: {exc}", None)
        if result.outcome == "stored":
            log.info("%s: the page's text stored (%d words)", job.url, result.words)
        elif result.outcome == "not_fuller":
            log.info("%s: the page's text is not fuller than the feed's; kept", job.url)
        elif result.outcome in ("retry", "failed"):
            log.info(
                "%s: page not read: %s%s",
                job.url,
                result.error,
                "; tried again later" if result.outcome == "retry" else "",
            )
        return result

    async def _read(self, job: PageJob) -> PageResult:
        pipeline = self.pipeline
        kept = self._take(job.article_id)
        if kept is None:
            async with self.resolver.slots:
                resolution = await self.resolver.fetch_page(job.url)
            if resolution.page is None:
                if resolution.outcome == "ok":
                    return await self._failed(
                        job, "not_html", "not an HTML page", resolution.status
                    )
                error = resolution.error or resolution.outcome
                return await self._failed(job, resolution.outcome, error, resolution.status)
            kept = (resolution.hops[-1].url, resolution.status or 200, resolution.page)
        final_url, status, body = kept
        settings = pipeline.settings.get(job.feed_url) if job.feed_url else None
        selector = settings.fulltext_selector if settings else None
        read = None
        if pipeline.digesters is not None:
            read = await pipeline.digesters.read_page(body, final_url, selector)
        if read is None:
            read = await asyncio.get_running_loop().run_in_executor(
                self.thread, digest.read_page, body, final_url, selector
            )
        page = Page(job, final_url, status, read.extracted, read.text_hash)
        return await pipeline.run_in_db(self._save, page, read.signature)

    def _save(self, page: Page, signed: bytes | None) -> PageResult:
        """Store a page and mark near-duplicates of its text, in one transaction
        (db thread); again from the same values on StoreConflict."""
        store = self.pipeline.store
        bands = neardup.band_keys(neardup.Signature.from_bytes(signed)) if signed else ()
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            try:
                with store.transaction():
                    store.lock_identity(dedupe.identity_keys((), bands))
                    result = store.save_page(
                        page, utcnow(), self.pipeline.config.retention.max_revisions
                    )
                    if result.outcome == "stored":
                        mark_near_duplicates(store, page.job.article_id, signed)
                return result
            except StoreConflict:
                if attempt == CONFLICT_ATTEMPTS:
                    raise
                time.sleep(0.05 * attempt)
        raise AssertionError("unreachable")

    async def _failed(
        self, job: PageJob, outcome: str, error: str, status: int | None
    ) -> PageResult:
        now = utcnow()
        delay = fulltext.retry_after(outcome, job.attempts, self.pipeline.config.fulltext.attempts)
        retry_at = now + delay if delay is not None else None
        try:
            await self.pipeline.run_in_db(
                functools.partial(
                    self.pipeline.store.page_failed,
                    job,
                    error=error,
                    http_status=status,
                    now=now,
                    retry_at=retry_at,
                )
            )
        except StoreError as exc:
            # Held, the page is due again after the hold: nothing is lost.
            log.error("%s: could not record the page's failure: %s", job.url, exc)
        return PageResult(
            job.article_id,
            job.url,
            "retry" if retry_at is not None else "failed",
            error=error,
            http_status=status,
        )


# -- polling feeds


@dataclass(frozen=True, slots=True)
class Prepared:
    """A digested feed, and the links it needs followed before it is stored."""

    digested: digest.Digest
    cached: Mapping[str, CachedLink]
    to_resolve: tuple[str, ...]
    keep_pages: tuple[str, ...] = ()  # of to_resolve: links whose final page is wanted


class Pipeline:
    """Polls feeds for one Config against one store (any Storage).

    One feed's poll, the whole chain (``poll``; ``process`` is the same
    without the network)::

        result = fetch.fetch_feed(feed)                   # async, per-host slots
        if result is NotModified:                         # _record, db thread
            interval = schedule.interval_after(feed, no dates: the stored pace)
            store.record_poll(feed, schedule.answered(feed, 304, interval))
            return NOT_MODIFIED
        memory = store.digest_state(feed)                 # db thread
        digested = digest.digest(body, memory)            # worker process: parse, item
                                                          # links offline, normalize, sign
        prepared = prepare(feed, digested)                # db thread: links of new items
                                                          # not fresh in store.cached_links
        resolutions = resolver.resolve_all(prepared)      # async, hop by hop
        with store.transaction():                         # finish, db thread (again from
                                                          # here on StoreConflict)
            if not store.still_stored(feed, digested.kept):
                digested = digest.digest(body)            # retention took kept items
            store.lock_identity(dedupe.identity_keys(entries, bands))  # other pollers
            store.save_link(each resolution, links.link_expiry(outcome, failures))
            known = store.known(feed, entries, kept)
            intents = dedupe.decide(known, entries, kept)
            counts, written = store.apply(feed, intents)
            mark_near_duplicates(each written article)    # store.near_candidates, neardup
            store.queue_pages(fulltext.pages_wanted(inserted))  # [fulltext]: PageReader
            interval = schedule.interval_after(feed, the items' dates, ttl, headers)
            document = schedule.document_seen(body_hash, title, dates)
            store.record_poll(feed, schedule.answered(feed, 200, interval, document))
            store.save_digest_state(feed, digested.state)
        return OK(counts)
    the article pages queued (``PageReader``, apart from polls):
        page = resolver.fetch_page(job.url)               # or kept from link resolution
        read = digest.read_page(page)                     # worker: extract, hash, sign
        store.save_page(read)                             # the fuller text wins
    one article page (``extract_page``, `feedd extract URL`; nothing stored):
        page = fetch.fetch_feed(url)                      # the same guarded client
        extracted = extract.extract(page.body, page.final_url)
    on LeaseLost (another poller has the feed now): write nothing, return FAILED
    on FetchError, ParseError or any other exception, at any step:
        store.record_poll(feed, schedule.failed(feed, status, error, Retry-After))
        return FAILED                                     # _failed: backoff, 429/503, 410
    """

    def __init__(
        self,
        config: Config,
        store: storage.Storage,
        client: httpx.AsyncClient,
        guard: fetch.Guard | None = None,
        digesters: workers.Digesters | None = None,
        fetching: fetchers.Fetchers | None = None,
    ) -> None:
        self.config = config
        # None: feeds are fetched on this process's event loop.
        self.fetchers = fetching
        # None ([fetch] workers = 0, tests): the database thread digests.
        self.digesters = digesters
        self.store = store
        self.client = client
        self.guard = guard  # the client's; updated on reconfigure
        self.resolver = LinkResolver(client, config.links)
        self.settings = {feed.url: feed for feed in config.feeds}
        self.host_slots: dict[str, asyncio.Semaphore] = {}
        # Other pollers on the same database count against [fetch] per_host too.
        self.shared_slots = store.host_slots()
        # One thread: the only one that touches the write connection.
        self.db_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="feedd-db")
        self.closed = False
        self.pages = PageReader(self)
        # Polls that brought no body, waiting for the database thread (_record_soon).
        self.unrecorded: list[tuple[DueFeed, NotModified, float, asyncio.Future[Outcome]]] = []
        self.recording = False

    def reconfigure(self, config: Config) -> None:
        """Take a reloaded config; applies from the next poll (same database)."""
        self.config = config
        self.settings = {feed.url: feed for feed in config.feeds}
        self.resolver.settings = config.links
        self.pages.reconfigure(config)
        self.host_slots.clear()  # per_host may have changed; polls in flight keep theirs
        if self.fetchers is not None:
            self.fetchers.reconfigure(fetcher_settings(config))
        if self.guard is not None:
            fresh = make_guard(config)
            self.guard.allow_private = fresh.allow_private
            self.guard.allowed_networks = fresh.allowed_networks

    async def run_in_db(self, func: Callable[..., T], *args: object) -> T:
        """Run func on the database thread."""
        return await asyncio.get_running_loop().run_in_executor(self.db_thread, func, *args)

    def source_of(self, feed: DueFeed) -> FeedSource:
        """What fetch needs: the stored validators plus the config's headers and credentials."""
        settings = self.settings.get(feed.url)
        if settings is None:
            return feed.source
        return dataclasses.replace(feed.source, headers=settings.headers, auth=settings.auth)

    async def poll(self, feed: DueFeed) -> Outcome:
        started = time.monotonic()
        source = self.source_of(feed)
        host = urlsplit(source.fetch_url).hostname or ""
        slot = self.host_slots.setdefault(host, asyncio.Semaphore(self.config.fetch.per_host))
        result: Fetched | NotModified | FetchError
        try:
            async with slot, self._shared_slot(host):
                if self.fetchers is not None:
                    result = await self.fetchers.fetch(
                        source,
                        deadline=self.config.fetch.timeout,
                        max_body_size=self.config.fetch.max_body_size,
                    )
                else:
                    result = await fetch.fetch_feed(
                        self.client,
                        source,
                        deadline=self.config.fetch.timeout,
                        max_body_size=self.config.fetch.max_body_size,
                    )
        except FetchError as exc:
            result = exc
        except fetchers.FetcherLost as exc:
            # Not the feed's fault, and nothing of this poll was written: the
            # feed is still due, and polled again (the next tick, the next fetch).
            log.warning("%s: %s; the feed is polled again later", feed.url, exc)
            return Outcome(feed.url, Status.FAILED, error=str(exc), duration=_since(started))
        except Exception as exc:
            # A bug in fetching, not the feed's fault: keep the traceback, go on.
            log.exception("%s: unexpected error while fetching", feed.url)
            result = FetchError(f"unexpected error: {type(exc).__name__}: {exc}")
        if isinstance(result, NotModified):
            return await self._record_soon(feed, result, started)
        if not isinstance(result, Fetched):
            return await self.run_in_db(
                self.guarded, feed, started, self._record, feed, result, started
            )
        digested: digest.Digest | None = None
        if self.digesters is not None:
            memory = await self.run_in_db(self.guarded, feed, started, self.memory_of, feed)
            if isinstance(memory, Outcome):
                return memory
            if self.digesters.tries_here(memory):
                same = await self.run_in_db(
                    self.guarded,
                    feed,
                    started,
                    digest.unchanged,
                    result.body,
                    result.final_url,
                    result.header("content-type"),
                    memory,
                    self.config.fetch.max_items,
                )
                if isinstance(same, Outcome):
                    return same
                digested = same
            if digested is None:
                try:
                    digested = await self.digesters.digest(
                        result.body,
                        result.final_url,
                        result.header("content-type"),
                        memory,
                        self.config.fetch.max_items,
                    )
                except Exception as exc:
                    # Recorded on the database thread like every other failure.
                    return await self.run_in_db(
                        self.guarded, feed, started, _raise_for, result, exc
                    )
        prepared = await self.run_in_db(
            self.guarded, feed, started, self.prepare, feed, result, digested
        )
        if isinstance(prepared, Outcome):
            return prepared
        resolutions = await self.resolver.resolve_all(prepared.to_resolve, prepared.keep_pages)
        outcome = await self.run_in_db(
            self.guarded, feed, started, self.finish, feed, result, prepared, resolutions, started
        )
        if outcome.pages_queued:
            self.pages.wake.set()
        return outcome

    async def _record_soon(self, feed: DueFeed, result: NotModified, started: float) -> Outcome:
        """Record a poll that brought no body, in one transaction with the others
        that arrive meanwhile: a write of its own per 304 was most of the database
        thread's time in a sweep of unchanged feeds (docs/performance.md). A crash
        can forget the batch being written: those feeds are polled again, and no
        article is in it."""
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self.unrecorded.append((feed, result, started, future))
        if not self.recording:
            self.recording = True
            task = asyncio.create_task(self._record_batches())
            task.add_done_callback(self._recording_ended)
        return await future

    async def _record_batches(self) -> None:
        """Each batch, what queued while the last one was written (group commit)."""
        try:
            while self.unrecorded:
                batch, self.unrecorded = self.unrecorded, []
                try:
                    outcomes = await self.run_in_db(self._record_batch, batch)
                except BaseException as exc:
                    for *_, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    raise
                for (*_, future), outcome in zip(batch, outcomes, strict=True):
                    if not future.done():
                        future.set_result(outcome)
        finally:
            self.recording = False

    def _recording_ended(self, task: asyncio.Task[None]) -> None:
        """When the recording task ended on an error (the database thread was shut
        down) or was cancelled, the polls still waiting end too, not wait forever."""
        if not task.cancelled() and task.exception() is None:
            return
        waiting, self.unrecorded = self.unrecorded, []
        for *_, future in waiting:
            if not future.done():
                future.set_exception(RuntimeError("the pipeline is closed"))

    def _record_batch(
        self, batch: Sequence[tuple[DueFeed, NotModified, float, asyncio.Future[Outcome]]]
    ) -> list[Outcome]:
        if len(batch) > 1:
            try:
                with self.store.transaction():
                    return [
                        self._record(feed, result, started) for feed, result, started, _ in batch
                    ]
            except Exception as exc:
                # Nothing of the batch was written: each again on its own, so that
                # a refusal is the feed's failure as without batching.
                log.debug("recording %d polls at once failed (%s); one by one", len(batch), exc)
        return [
            self.guarded(feed, started, self._record, feed, result, started)
            for feed, result, started, _ in batch
        ]

    @contextlib.asynccontextmanager
    async def _shared_slot(self, host: str) -> AsyncIterator[None]:
        """One of the host's per_host slots among every poller on the database
        (nothing to take when this process is the only one)."""
        shared = self.shared_slots
        if shared is None:
            yield
            return
        wait = SHARED_SLOT_WAIT
        try:
            while (
                number := await asyncio.to_thread(shared.take, host, self.config.fetch.per_host)
            ) is None:
                await asyncio.sleep(wait)
                wait = min(wait * 2, 1.0)
        except StoreError as exc:
            raise FetchError(f"no per-host slot: {exc}") from None
        try:
            yield
        finally:
            try:
                await asyncio.to_thread(shared.give_back, host, number)
            except StoreError as exc:
                # The slot expires with its lease.
                log.warning("%s: could not give back a per-host slot: %s", host, exc)

    async def poll_many(
        self, feeds: Sequence[DueFeed], on_outcome: Callable[[Outcome], None] | None = None
    ) -> list[Outcome]:
        """Poll feeds with at most [fetch] concurrency in flight; outcomes in input order."""
        limit = asyncio.Semaphore(self.config.fetch.concurrency)

        async def one(feed: DueFeed) -> Outcome:
            async with limit:
                outcome = await self.poll(feed)
            if on_outcome is not None:
                on_outcome(outcome)
            return outcome

        return list(await asyncio.gather(*(one(feed) for feed in feeds)))

    def process(self, feed: DueFeed, result: Fetched | NotModified | FetchError) -> Outcome:
        """Everything after the network, without link resolution over the network
        (the links cache still applies). Synchronous; for tests and tools."""
        started = time.monotonic()
        if not isinstance(result, Fetched):
            return self.guarded(feed, started, self._record, feed, result, started)
        prepared = self.guarded(feed, started, self.prepare, feed, result)
        if isinstance(prepared, Outcome):
            return prepared
        return self.guarded(feed, started, self.finish, feed, result, prepared, (), started)

    def guarded(
        self, feed: DueFeed, started: float, func: Callable[..., T], *args: object
    ) -> T | Outcome:
        """Run one db-thread step; a failure becomes the feed's failed Outcome."""
        try:
            return func(*args)
        except LeaseLost as exc:
            # Another poller has the feed now; its poll's result stands, not this one's.
            log.warning("%s: %s; this poll's result is dropped", feed.url, exc)
            return Outcome(
                feed.url, Status.FAILED, error=str(exc), duration=_since(started), lease_lost=True
            )
        except (FetchError, ParseError) as exc:
            return self._failed(feed, exc, started, status=getattr(exc, "status", None))
        except FeeddError as exc:
            log.error("%s: %s", feed.url, exc)
            return self._failed(feed, exc, started, status=None)
        except Exception as exc:
            # A bug, not the feed's fault: keep the traceback, keep the daemon running.
            log.exception("%s: unexpected error", feed.url)
            return self._failed(feed, exc, started, status=None)

    def _record(self, feed: DueFeed, result: NotModified | FetchError, started: float) -> Outcome:
        """A fetch that brought no new body: record a failure or a 304."""
        if isinstance(result, FetchError):
            raise result
        now = utcnow()
        interval = self._interval(feed, now, result.headers, ttl=None, dates=None)
        self._record_poll(
            feed,
            schedule.answered(
                feed,
                status=result.status,
                etag=result.etag,
                last_modified=result.last_modified,
                moved_to=result.moved_to,
                interval=interval,
                now=now,
            ),
        )
        return Outcome(
            feed.url, Status.NOT_MODIFIED, http_status=result.status, duration=_since(started)
        )

    def _interval(
        self,
        feed: DueFeed,
        now: datetime,
        headers: tuple[tuple[str, str], ...],
        *,
        ttl: float | None,
        dates: Sequence[datetime] | None,
    ) -> float:
        """schedule.interval_after under the feed's settings and the [fetch] bounds."""
        settings = self.settings.get(feed.url)
        policy = schedule.IntervalPolicy(
            adaptive=settings is not None and settings.adaptive,
            min_interval=self.config.fetch.min_interval,
            max_interval=self.config.fetch.max_interval,
        )
        return schedule.interval_after(feed, policy, headers=headers, ttl=ttl, dates=dates, now=now)

    def _record_poll(self, feed: DueFeed, update: FeedUpdate) -> None:
        """Store what schedule decided for the poll; tell the user what needs their eye
        (first: it is true even when the database refuses the write)."""
        if update.state == "gone":
            log.warning(
                "%s: %s: the feed is gone; it is not polled again until its entry in "
                "the config changes",
                feed.url,
                update.error,
            )
        moved = update.answer.relocation.final_url if update.answer else feed.source.final_url
        if moved != feed.source.final_url:
            log.warning(
                "%s: moved permanently to %s (%d fetches in a row); fetching the new address "
                "from now on, update the config to silence this",
                feed.url,
                moved,
                MOVED_AFTER,
            )
        self.store.record_poll(feed.id, update)

    def memory_of(self, feed: DueFeed) -> digest.Memory | None:
        """What the feed's last digest left for this one (db thread)."""
        state = self.store.digest_state(feed.id)
        return digest.Memory.from_state(state) if state else None

    def prepare(
        self, feed: DueFeed, fetched: Fetched, digested: digest.Digest | None = None
    ) -> Prepared:
        """Find the links of new items that need following (db thread); digest the
        body here first when no worker did."""
        if digested is None:
            try:
                digested = digest.digest(
                    fetched.body,
                    fetched.final_url,
                    fetched.header("content-type"),
                    self.memory_of(feed),
                    self.config.fetch.max_items,
                )
            except Exception as exc:
                _raise_for(fetched, exc)
        settings = self.settings.get(feed.url)
        mode = settings.resolve if settings else self.config.links.resolve
        if mode == "off":
            return Prepared(digested, {}, ())
        wanted: dict[str, str] = {}  # guid -> link to follow
        for entry, target in zip(digested.entries, digested.targets, strict=True):
            if target and links.needs_resolution(target, mode, self.config.links.shorteners):
                wanted[entry.guid] = target
        if not wanted:
            return Prepared(digested, {}, ())
        # An item already stored is never resolved again.
        stored = self.store.stored_guids(feed.id, tuple(wanted))
        targets = [target for guid, target in wanted.items() if guid not in stored]
        cached = self.store.cached_links(targets)
        now = datetime.now(UTC)
        to_resolve = tuple(
            dict.fromkeys(t for t in targets if t not in cached or cached[t].expires_at <= now)
        )
        # A page link resolution reaches anyway is kept when its article is wanted.
        new = [
            (entry, target)
            for entry, target in zip(digested.entries, digested.targets, strict=True)
            if target in to_resolve and entry.guid not in stored
        ]
        others = [
            e.word_count for e in digested.entries if e.guid in stored or e.guid not in wanted
        ] + [item.word_count for item in digested.kept]
        reasons = fulltext.pages_wanted(self.fulltext_mode(feed), [e for e, _ in new], others)
        keep_pages = tuple(
            dict.fromkeys(t for (_, t), why in zip(new, reasons, strict=True) if why and t)
        )
        return Prepared(digested, cached, to_resolve, keep_pages)

    def fulltext_mode(self, feed: DueFeed) -> str:
        settings = self.settings.get(feed.url)
        return settings.fulltext if settings else self.config.fulltext.mode

    def finish(
        self,
        feed: DueFeed,
        fetched: Fetched,
        prepared: Prepared,
        resolutions: Sequence[Resolution],
        started: float,
    ) -> Outcome:
        """Store a fetched feed, its items and its link resolutions in one transaction;
        when another writer's transaction wins (StoreConflict), again from the same
        values, never by fetching again."""
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            try:
                return self._finish(feed, fetched, prepared, resolutions, started)
            except StoreConflict as exc:
                if attempt == CONFLICT_ATTEMPTS:
                    raise
                log.info("%s: %s; storing the poll again (%d)", feed.url, exc, attempt)
                time.sleep(0.05 * attempt)
        raise AssertionError("unreachable")

    def _finish(
        self,
        feed: DueFeed,
        fetched: Fetched,
        prepared: Prepared,
        resolutions: Sequence[Resolution],
        started: float,
    ) -> Outcome:
        now = utcnow()
        resolved = {url: cached.resolved_url for url, cached in prepared.cached.items()}
        resolved.update((r.url, r.resolved_url) for r in resolutions)
        digested = prepared.digested
        parsed = digested.feed
        with self.store.transaction():
            kept_as = [(item.guid, item.raw_hash) for item in digested.kept]
            if kept_as and not self.store.still_stored(feed.id, kept_as):
                digested = self._whole_again(fetched, resolved)
            entries, kept = digest.with_resolved(digested, resolved)
            signatures = dict(zip((e.guid for e in entries), digested.signatures, strict=True))
            # Before anything is read: a writer deciding on one of these stories now
            # waits for this one, and this one for it.
            self.store.lock_identity(
                dedupe.identity_keys(
                    entries,
                    (
                        band
                        for signed in digested.signatures
                        if signed
                        for band in neardup.band_keys(neardup.Signature.from_bytes(signed))
                    ),
                )
            )
            save_resolutions(self.store, resolutions, prepared.cached, now)
            known = self.store.known(feed.id, entries, kept)
            intents = dedupe.decide(
                known,
                entries,
                links.canonical_url(parsed.site_url),
                kept,
                alike=_alike(signatures),
            )
            # An undated item of a feed's first poll may be years old (a site's
            # "About" page): it stays undated. One that appears later is new, and
            # the time it was first seen is a fair estimate of its date.
            counts, written = self.store.apply(
                feed.id,
                intents,
                language=parsed.language,
                now=now,
                estimate_dates=self.store.has_polled(feed.id),
                max_revisions=self.config.retention.max_revisions,
            )
            counts = dataclasses.replace(counts, unchanged=counts.unchanged + len(kept))
            for article_id, entry in written:
                self.mark_near_duplicates(article_id, signatures.get(entry.guid))
            pages = self._pages_wanted(feed, entries, kept, intents, written)
            queued = self.store.queue_pages(feed.id, pages, now) if pages else 0
            dates = [
                date
                for date in (*(e.published_at for e in entries), *(k.published_at for k in kept))
                if date is not None
            ]
            interval = self._interval(feed, now, fetched.headers, ttl=parsed.ttl, dates=dates)
            # The validators go in the same transaction as the items they cover.
            self._record_poll(
                feed,
                schedule.answered(
                    feed,
                    status=fetched.status,
                    etag=fetched.etag,
                    last_modified=fetched.last_modified,
                    moved_to=fetched.moved_to,
                    interval=interval,
                    now=now,
                    document=schedule.document_seen(
                        fetched.body_hash, parsed.title, parsed.site_url, dates, now
                    ),
                ),
            )
            self.store.save_digest_state(feed.id, digested.state)
        if queued:
            # After the commit: a page kept for an article whose insert was undone
            # would wait for nothing.
            by_link = {r.url: r for r in resolutions if r.page is not None}
            target_of = dict(zip((e.guid for e in digested.entries), digested.targets, strict=True))
            for article_id, entry in written:
                resolution = by_link.get(target_of.get(entry.guid) or "")
                if resolution is not None:
                    self.pages.keep(article_id, resolution)
        if parsed.warning:
            log.debug("%s: parsed despite: %s", feed.url, parsed.warning)
        if parsed.empty_items:
            log.info(
                "%s: %d items with no title, link or text skipped", feed.url, parsed.empty_items
            )
        if parsed.dropped_items:
            log.warning(
                "%s: %d items beyond [fetch] max_items (%d), the oldest, left out",
                feed.url,
                parsed.dropped_items,
                self.config.fetch.max_items,
            )
        failed_links = sum(r.outcome != "ok" for r in resolutions)
        if failed_links:
            log.info(
                "%s: %d of %d links could not be resolved", feed.url, failed_links, len(resolutions)
            )
        return Outcome(
            feed.url,
            Status.OK,
            new=counts.new,
            updated=counts.updated,
            linked=counts.linked,
            unchanged=counts.unchanged,
            http_status=fetched.status,
            duration=_since(started),
            title=parsed.title,
            links_resolved=len(resolutions),
            links_failed=failed_links,
            empty=parsed.empty_items,
            pages_queued=queued,
        )

    def _pages_wanted(
        self,
        feed: DueFeed,
        entries: Sequence[Entry],
        kept: Sequence[Kept],
        intents: Sequence[Intent],
        written: Sequence[tuple[int, Entry]],
    ) -> list[tuple[int, str, str]]:
        """(article id, page URL, reason) for the articles this poll inserted whose
        page is wanted ([fulltext], fulltext.pages_wanted): once per article, so an
        article that later copies link or update is never queued again."""
        mode = self.fulltext_mode(feed)
        if mode == "off":
            return []
        inserted = {i.entry.guid for i in intents if i.action is Action.INSERT}
        new = [(article_id, entry) for article_id, entry in written if entry.guid in inserted]
        if not new:
            return []
        others = [e.word_count for e in entries if e.guid not in inserted]
        others += [item.word_count for item in kept]
        reasons = fulltext.pages_wanted(mode, [entry for _, entry in new], others)
        return [
            (article_id, entry.url or entry.link or "", why)
            for (article_id, entry), why in zip(new, reasons, strict=True)
            if why and (entry.url or entry.link)
        ]

    def _whole_again(self, fetched: Fetched, resolved: dict[str, str]) -> digest.Digest:
        """The body digested whole, on this thread: items the incremental digest kept
        were deleted since (retention, another writer), so they are new again. Their
        links are not followed now: the cache, else the offline canonical URL, stands
        (``resolved`` gets what the cache knows)."""
        log.info("%s: stored items went away during the poll; cleaning every item", fetched.url)
        try:
            redone = digest.digest(
                fetched.body,
                fetched.final_url,
                fetched.header("content-type"),
                max_items=self.config.fetch.max_items,
            )
        except Exception as exc:
            _raise_for(fetched, exc)
        missing = [t for t in redone.targets if t and t not in resolved]
        resolved.update((u, c.resolved_url) for u, c in self.store.cached_links(missing).items())
        return redone

    def mark_near_duplicates(self, article_id: int, signed: bytes | None) -> None:
        """Keep the article's text signature; if it is the same story as articles of
        other feeds, put them in one group pointing at its earliest-published member
        (db thread, inside the feed's transaction)."""
        mark_near_duplicates(self.store, article_id, signed)

    def _failed(
        self, feed: DueFeed, exc: BaseException, started: float, status: int | None
    ) -> Outcome:
        message = str(exc) or type(exc).__name__
        try:
            self._record_poll(
                feed,
                schedule.failed(
                    feed,
                    status=status,
                    error=message,
                    retry_after_value=exc.retry_after if isinstance(exc, FetchError) else None,
                    now=utcnow(),
                ),
            )
        except StoreError as exc:
            # The database refuses writes (disk full): said once per poll, no traceback.
            log.error("%s: could not record the failure: %s", feed.url, exc)
        except Exception:
            log.exception("%s: could not record the failure", feed.url)
        return Outcome(
            feed.url, Status.FAILED, error=message, http_status=status, duration=_since(started)
        )

    def close(self) -> None:
        """Wait for the write in progress (if any) to commit; stop the workers."""
        self.closed = True
        self.db_thread.shutdown(wait=True, cancel_futures=True)
        self.pages.close()
        if self.shared_slots is not None:
            self.shared_slots.close()
        if self.digesters is not None:
            self.digesters.close()


def save_resolutions(
    store: storage.Storage,
    resolutions: Iterable[Resolution],
    cached: Mapping[str, CachedLink],
    now: datetime,
) -> None:
    """Cache each resolution for as long as links.link_expiry says (a failure
    counts the ones before it, from the cached row)."""
    for resolution in resolutions:
        previous = cached.get(resolution.url)
        failures = 0 if resolution.outcome == "ok" else 1 + (previous.failures if previous else 0)
        store.save_link(
            resolution,
            failures=failures,
            checked_at=now,
            expires_at=links.link_expiry(
                resolution.outcome, permanent=resolution.permanent, failures=failures, now=now
            ),
        )


def mark_near_duplicates(store: storage.Storage, article_id: int, signed: bytes | None) -> None:
    """Pipeline.mark_near_duplicates, for any writer of articles (the importer too)."""
    signature = neardup.Signature.from_bytes(signed) if signed else None
    old = store.signature_of(article_id)
    old_bands = neardup.band_keys(neardup.Signature.from_bytes(old)) if old else ()
    bands = neardup.band_keys(signature) if signature else ()
    store.save_signature(article_id, signed, bands, old_bands)
    if signature is None:
        return  # too short to judge: a thin item matches nothing
    matches = [
        other
        for other, blob in store.near_candidates(article_id, bands, NEAR_DUPLICATE_WINDOW)
        if neardup.is_near_duplicate(signature, neardup.Signature.from_bytes(blob))
    ]
    if matches:
        members = store.duplicate_group([article_id, *matches])
        store.point_group((m for m, _ in members), dedupe.group_root(members))


def _raise_for(fetched: Fetched, exc: BaseException) -> NoReturn:
    """Raise a digest's failure as the feed's (a ParseError carries the HTTP status)."""
    if isinstance(exc, ParseError):
        exc.status = fetched.status
    raise exc


def _alike(signatures: dict[str, bytes | None]) -> dedupe.Alike:
    """Whether two entries of one batch are near-duplicates, by their signatures."""

    def alike(a: Entry, b: Entry) -> bool:
        first, second = signatures.get(a.guid), signatures.get(b.guid)
        if not first or not second:
            return False
        return neardup.is_near_duplicate(
            neardup.Signature.from_bytes(first), neardup.Signature.from_bytes(second)
        )

    return alike


def _is_html_page(probe: Probe) -> bool:
    """A GET's body that is an HTML page (a server that names no type is given
    the benefit of the doubt: the extractor finds nothing in what is not)."""
    if probe.method != "GET" or not probe.body or not 200 <= probe.status < 300:
        return False
    content_type = (probe.header("content-type") or "").lower()
    return not content_type or "html" in content_type


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)


async def fetch_once(
    config: Config,
    urls: Iterable[str] = (),
    on_outcome: Callable[[Outcome], None] | None = None,
    on_start: Callable[[int], None] | None = None,
    on_page: Callable[[PageResult], None] | None = None,
) -> list[Outcome]:
    """``feedd fetch``: poll every enabled feed (or the named ones) now, whatever the
    schedule; then read the article pages due ([fulltext]: those of the items just
    stored, and any left waiting), for at most [fulltext] timeout."""
    named = list(urls)
    # Started first: their start-up overlaps this process's (the schema, the feeds).
    fetching = make_fetchers(config, len(named or config.enabled_feeds))
    try:
        return await _fetch_once(config, named, fetching, on_outcome, on_start, on_page)
    finally:
        if fetching is not None:
            await fetching.close()


async def _fetch_once(
    config: Config,
    named: list[str],
    fetching: fetchers.Fetchers | None,
    on_outcome: Callable[[Outcome], None] | None,
    on_start: Callable[[int], None] | None,
    on_page: Callable[[PageResult], None] | None,
) -> list[Outcome]:
    store = open_store(config)
    try:
        wanted = named or [feed.url for feed in config.enabled_feeds]
        claimed = store.feeds_by_url(wanted)
        if len(claimed) < len(set(wanted)):
            # Leased by a poller sharing the database: it is polling them now.
            log.warning(
                "%d feeds left out: another poller is polling them now",
                len(set(wanted)) - len(claimed),
            )
        # A gone feed (HTTP 410) is polled only when named.
        feeds = claimed if named else tuple(feed for feed in claimed if feed.state != "gone")
        if on_start is not None:
            on_start(len(feeds))
        guard = make_guard(config)
        # A handful of bodies is parsed here: starting worker processes would cost more.
        digesters = make_digesters(config, start_after=WORKERS_AFTER_BODIES)
        async with make_client(config, guard) as client:
            pipeline = Pipeline(config, store, client, guard, digesters, fetching)
            try:
                outcomes = await pipeline.poll_many(feeds, on_outcome)
                await read_pages(pipeline, config.fulltext.timeout, on_page)
                return outcomes
            finally:
                pipeline.close()
    finally:
        store.close()


async def read_pages(
    pipeline: Pipeline, timeout: float, on_page: Callable[[PageResult], None] | None = None
) -> None:
    """The due article pages, read for at most ``timeout`` seconds; the pages still
    being read then are held, and due again later (the daemon, the next fetch)."""
    try:
        async with asyncio.timeout(timeout):
            await pipeline.pages.run_due(on_page)
    except TimeoutError:
        log.warning(
            "article pages still being read after [fulltext] timeout (%gs); they are read "
            "later (by the daemon or the next fetch)",
            timeout,
        )


def repair_duplicates(config: Config, *, apply: bool) -> tuple[Merge, ...]:
    """``feedd dedupe``: the articles that share a canonical URL and are one story
    (rows that an older feedd split, dedupe.repairs); merged when ``apply``, each
    merge in its own transaction. Safe to run again: the result merges nothing."""
    store = open_store(config)
    try:
        merges = dedupe.repairs(store.articles_sharing_urls())
        if apply:
            for merge in merges:
                with store.transaction():
                    store.merge_articles(merge, utcnow())
        return merges
    finally:
        store.close()


def make_digesters(config: Config, start_after: int = 0) -> workers.Digesters | None:
    """Worker processes for parsing and normalizing ([fetch] workers); None for none
    (the database thread digests: no process to start, for small runs and tests)."""
    processes = config.fetch.workers
    if processes is None:
        processes = default_workers()
    if not processes:
        return None
    return workers.Digesters(
        processes, start_after=start_after, memory_budget=config.fetch.worker_memory
    )


def make_fetchers(config: Config, feeds: int) -> fetchers.Fetchers | None:
    """Fetching processes for a run of ``feeds`` polls ([fetch] fetchers), started
    now; None when feeds are fetched on the event loop."""
    # Not for one feed or two (`feedd fetch --feed URL`): a process costs ~0.2 s
    # of CPU to start, what the event loop here spends on ~150 polls.
    processes = config.fetch.fetchers if feeds > 2 else 0
    if not processes:
        return None
    pool = fetchers.Fetchers(processes, fetcher_settings(config))
    pool.start()
    return pool


def fetcher_settings(config: Config) -> fetchers.Settings:
    """What a fetching process builds its client from (make_client's settings)."""
    return fetchers.Settings(
        user_agent=config.fetch.user_agent,
        timeout=config.fetch.timeout,
        concurrency=config.fetch.concurrency,
        allow_private=config.fetch.allow_private_networks,
        allowed_networks=tuple(config.fetch.allowed_networks),
    )


def make_guard(config: Config) -> fetch.Guard:
    """Where the client may connect; give it to Pipeline so a reload can change it."""
    return fetch.Guard(
        allow_private=config.fetch.allow_private_networks,
        allowed_networks=config.fetch.allowed_networks,
    )


def make_client(
    config: Config, guard: fetch.Guard | None = None, *, concurrency: int | None = None
) -> httpx.AsyncClient:
    """The HTTP client for the config ([fetch] user agent, timeout, private-network
    guard); ``concurrency`` bounds its connections when not [fetch] concurrency."""
    return fetch.make_client(
        user_agent=config.fetch.user_agent,
        timeout=config.fetch.timeout,
        concurrency=config.fetch.concurrency if concurrency is None else concurrency,
        guard=guard or make_guard(config),
    )


async def resolve_one(config: Config, url: str) -> Resolution:
    """``feedd resolve``: follow one link now, cache ignored, nothing stored."""
    async with make_client(config) as client:
        resolver = LinkResolver(client, config.links)
        return await resolver.resolve(links.unwrap(url))


# What `feedd extract URL` asks for: a page, not a feed.
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"


async def extract_page(config: Config, url: str, selector: str | None = None) -> Extracted:
    """``feedd extract URL``: one article page fetched now and extracted, nothing stored.

    Through the same guarded client as feeds ([fetch] timeout, redirects hop by
    hop, the private-network guard on every dialled address, the body bounded by
    [fetch] max_body_size); raises FetchError (BlockedAddressError for a private
    address) and BadSelector. Extraction itself never fails (extract.extract).
    """
    from . import extract  # trafilatura costs 0.2 s to import: not for the daemon, yet

    if selector is not None:
        extract.check_selector(selector)
    source = FeedSource(url=url, headers=(("accept", PAGE_ACCEPT),))
    async with make_client(config) as client:
        page = await fetch.fetch_feed(
            client, source, deadline=config.fetch.timeout, max_body_size=config.fetch.max_body_size
        )
    if not isinstance(page, Fetched):  # no validator was sent: a 304 is the server's error
        raise FetchError(f"HTTP {page.status} to an unconditional request", status=page.status)
    return extract.extract(page.body, page.final_url, selector=selector)


def move_database(
    config: Config, target: str, progress: Callable[[str, int], None] | None = None
) -> tuple[transfer.Copied, ...]:
    """``feedd migrate-db``: the config's SQLite database copied into the empty
    PostgreSQL database at ``target`` (store.transfer: one transaction, counts
    checked). The password, if any, is libpq's to find."""
    if not isinstance(config.database, Path):
        raise StoreError(f"{config.database} is not a SQLite database")
    return transfer.copy_sqlite_to_postgres(config.database, target, progress=progress)


# -- importing the applet's archive


@dataclass(frozen=True, slots=True)
class ImportedStory:
    """What importing one story did (in a dry run: would do)."""

    story: applet.Story
    action: Action
    reason: str
    url: str | None  # canonical: where the short link led, else the link itself
    published_at: datetime | None  # completed, or None (date_flag "partial")
    date_flag: str | None
    link_outcome: str | None  # of following the short link; None: not followed now


@dataclass(frozen=True, slots=True)
class ImportReport:
    """``feedd import applet``: each story's result and each damaged block."""

    files: int
    stories: tuple[ImportedStory, ...]
    damaged: tuple[applet.Damaged, ...]
    links_resolved: int  # followed over the network for this import
    links_failed: int


class _DryRun(Exception):
    """Raised inside a story's transaction in a dry run: everything it did is undone."""

    def __init__(self, result: ImportedStory) -> None:
        super().__init__("dry run")
        self.result = result


def archive_files(paths: Iterable[Path]) -> tuple[Path, ...]:
    """The files to import: each file named, and every *.txt under each folder
    named (recursively, in name order)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*.txt") if p.is_file()))
        else:
            found.append(path)
    return tuple(dict.fromkeys(found))


def read_archive(
    files: Iterable[Path],
) -> tuple[tuple[applet.Story, ...], tuple[applet.Damaged, ...]]:
    """Every block of every file, parsed (applet.parse_archive): stories and damaged blocks."""
    stories: list[applet.Story] = []
    damaged: list[applet.Damaged] = []
    for path in files:
        for block in applet.parse_archive(applet.decode(path.read_bytes()), str(path)):
            if isinstance(block, applet.Story):
                stories.append(block)
            else:
                damaged.append(block)
    return tuple(stories), tuple(damaged)


def import_applet(
    config: Config,
    paths: Sequence[Path],
    *,
    zone: tzinfo,
    dry_run: bool = False,
    on_phase: Callable[[str, int], None] | None = None,
    on_step: Callable[[], None] | None = None,
    guard: fetch.Guard | None = None,
) -> ImportReport:
    """``feedd import applet``: parse the files, follow the stories' short links
    (the links cache, resolver and guard feeds use), then store each story in a
    transaction of its own, as a feed item of its source feed: normalize, date
    completed (applet.complete_date), dedupe, apply. A dry run does all of it and
    undoes each story's transaction (the links it followed are not cached either).

    ``on_phase(label, steps)`` starts a phase ("resolving", "importing");
    ``on_step()`` ends one of its steps. ``guard``: the client's (tests)."""
    files = archive_files(paths)
    stories, damaged = read_archive(files)
    store = open_store(config)
    try:
        targets = {story.guid: links.unwrap(story.link) for story in stories}
        wanted = [
            target
            for target in dict.fromkeys(targets.values())
            if links.needs_resolution(target, config.links.resolve, config.links.shorteners)
        ]
        cached = store.cached_links(wanted)
        now = datetime.now(UTC)
        to_resolve = [t for t in wanted if t not in cached or cached[t].expires_at <= now]
        if on_phase is not None and to_resolve:
            on_phase("resolving", len(to_resolve))
        resolutions = asyncio.run(_resolve_links(config, to_resolve, guard, on_step))
        if resolutions and not dry_run:
            with store.transaction():
                save_resolutions(store, resolutions, cached, utcnow())
        resolved = {url: link.resolved_url for url, link in cached.items()}
        resolved.update((r.url, r.resolved_url) for r in resolutions)
        outcomes = {r.url: r.outcome for r in resolutions}
        published = {r.url: r.published_at for r in resolutions if r.published_at}
        if on_phase is not None:
            on_phase("importing", len(stories))
        results = []
        for story in stories:
            target = targets[story.guid]
            results.append(
                _store_story(
                    config,
                    store,
                    story,
                    zone,
                    resolved.get(target, target),
                    published.get(target),
                    outcomes.get(target),
                    dry_run=dry_run,
                )
            )
            if on_step is not None:
                on_step()
        return ImportReport(
            len(files),
            tuple(results),
            damaged,
            links_resolved=len(resolutions),
            links_failed=sum(r.outcome != "ok" for r in resolutions),
        )
    finally:
        store.close()


async def _resolve_links(
    config: Config,
    urls: Sequence[str],
    guard: fetch.Guard | None,
    on_step: Callable[[], None] | None,
) -> tuple[Resolution, ...]:
    if not urls:
        return ()
    async with make_client(config, guard) as client:
        resolver = LinkResolver(client, config.links)

        async def one(url: str) -> Resolution:
            async with resolver.slots:
                resolution = await resolver.resolve(url)
            if on_step is not None:
                on_step()
            return resolution

        return tuple(await asyncio.gather(*(one(url) for url in urls)))


def _store_story(
    config: Config,
    store: storage.Storage,
    story: applet.Story,
    zone: tzinfo,
    resolved_url: str,
    page_date: datetime | None,
    outcome: str | None,
    *,
    dry_run: bool,
) -> ImportedStory:
    """One story in one transaction (again from the same values on StoreConflict)."""
    url = links.canonical_url(resolved_url)
    entry = normalize.normalize_entry(applet.raw_entry(story), link=story.link, url=url)
    entry = dataclasses.replace(entry, text_hash=dedupe.text_hash(entry))
    signature = neardup.signature(entry.content_text or "")
    signed = signature.to_bytes() if signature else None
    bands = neardup.band_keys(signature) if signature else ()
    for attempt in range(1, CONFLICT_ATTEMPTS + 1):
        now = utcnow()
        try:
            with store.transaction():
                feed_id = store.source_feed(story.source, applet.source_url(story.source), now)
                store.lock_identity(dedupe.identity_keys([entry], bands))
                known = store.known(feed_id, [entry])
                # The month the trailer lost: from the stored copy of the story (its
                # URL or its text), else from the page the link led to.
                references = [
                    article.published_at
                    for article in known.articles
                    if article.published_at is not None
                    and (
                        (url is not None and article.url == url)
                        or (entry.text_hash is not None and article.text_hash == entry.text_hash)
                    )
                ]
                if page_date is not None:
                    references.append(page_date)
                date = applet.complete_date(story.date, zone, references)
                dated = dataclasses.replace(
                    entry,
                    published_at=date,
                    date_flag=None if date else "partial",
                    published_raw=story.date.raw,
                )
                [intent] = dedupe.decide(known, [dated])
                _, written = store.apply(
                    feed_id,
                    [intent],
                    language=None,
                    now=now,
                    estimate_dates=False,  # a partial date is never replaced by a guess
                    max_revisions=config.retention.max_revisions,
                )
                for article_id, _ in written:
                    mark_near_duplicates(store, article_id, signed)
                result = ImportedStory(
                    story, intent.action, intent.reason, url, date, dated.date_flag, outcome
                )
                if dry_run:
                    raise _DryRun(result)
            return result
        except _DryRun as undone:
            return undone.result
        except StoreConflict as exc:
            if attempt == CONFLICT_ATTEMPTS:
                raise
            log.info("%s:%d: %s; storing the story again", story.path, story.line, exc)
            time.sleep(0.05 * attempt)
    raise AssertionError("unreachable")
