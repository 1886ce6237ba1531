"""Run the stages for one feed: fetch -> parse -> links -> normalize -> dedupe -> store.

The only module that puts stages together. Network work is async (many feeds
and links in flight on one client); everything else runs on a single worker
thread that holds the only write connection, so parsing never blocks the
event loop and writes never contend with each other.

One feed, one poll:
1. fetch the feed (async);
2. prepare (db thread): parse, find each item's link (absolute, unwrapped
   offline), and which links need following: new items only, on the feed's
   resolve mode, not fresh in the links cache;
3. resolve those links hop by hop (async; links decides, fetch requests);
4. finish (db thread), in one transaction: cache the resolutions, normalize,
   dedupe, store the items and the feed's new validators.

Errors become Outcome values: one bad feed never stops the batch.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar
from urllib.parse import urlsplit

import httpx

from . import dedupe, fetch, links, normalize, parse, schedule
from .config import Config, LinksConfig
from .errors import BlockedAddressError, FeeddError, FetchError, ParseError
from .store import DueFeed, Store
from .types import (
    CachedLink,
    Entry,
    Fetched,
    Hop,
    NotModified,
    Outcome,
    ParsedFeed,
    Probe,
    RawEntry,
    Resolution,
    Status,
)

log = logging.getLogger("feedd")
T = TypeVar("T")

RESOLVE_READ_LIMIT = 256 * 1024  # bytes of a page read to find a meta refresh or canonical link
PERMANENT_REDIRECTS = frozenset({301, 308})


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def open_store(config: Config) -> Store:
    """Open (creating or migrating) the database and sync the configured feeds into it."""
    store = Store(config.database)
    store.sync_feeds(config.feeds, utcnow())
    return store


def item_links(raw: RawEntry, base_url: str) -> tuple[str | None, str | None]:
    """(the item link made absolute, the link to follow: feedburner's origLink or the
    item link, with redirect wrappers unwrapped offline)."""
    link = links.absolute_url(raw.link, base_url)
    origin = links.absolute_url(dict(raw.extra).get("feedburner_origlink"), base_url)
    target = origin or link
    return link, links.unwrap(target) if target else None


def entries_of(
    parsed: ParsedFeed, base_url: str, resolved: Mapping[str, str] | None = None
) -> tuple[Entry, ...]:
    """links + normalize for every item of a parsed feed (pure).

    ``resolved`` maps links to where link resolution found they lead.
    """
    entries = []
    for raw in parsed.entries:
        link, target = item_links(raw, base_url)
        if target and resolved:
            target = resolved.get(target, target)
        url = links.canonical_url(target)
        entries.append(normalize.normalize_entry(raw, link=link, url=url, base_url=base_url))
    return tuple(entries)


# -- link resolution


class LinkResolver:
    """Follows links hop by hop: fetch makes each request, links decides what it means."""

    def __init__(
        self, client: httpx.AsyncClient, settings: LinksConfig, *, allow_private: bool
    ) -> None:
        self.client = client
        self.settings = settings
        self.allow_private = allow_private
        self.slots = asyncio.Semaphore(settings.concurrency)
        self.host_slots: dict[str, asyncio.Semaphore] = {}

    async def resolve_all(self, urls: Iterable[str]) -> tuple[Resolution, ...]:
        async def one(url: str) -> Resolution:
            async with self.slots:
                return await self.resolve(url)

        return tuple(await asyncio.gather(*(one(url) for url in dict.fromkeys(urls))))

    async def _probe(self, url: str, method: str) -> Probe:
        host = urlsplit(url).hostname or ""
        slot = self.host_slots.setdefault(host, asyncio.Semaphore(self.settings.per_host))
        async with slot:
            return await fetch.probe(
                self.client,
                url,
                method=method,
                max_bytes=RESOLVE_READ_LIMIT,
                allow_private=self.allow_private,
            )

    async def _step(self, url: str) -> tuple[Probe, str | None]:
        """HEAD first; GET when HEAD is refused or cannot tell (an HTML page may
        hold a meta refresh, a script redirect or a canonical link)."""
        head = await self._probe(url, "HEAD")
        target = links.redirect_target(url, head.status, head.headers, None)
        if target is not None:
            return head, target
        content_type = (head.header("content-type") or "").lower()
        if 200 <= head.status < 300 and content_type and "html" not in content_type:
            return head, None
        page = await self._probe(url, "GET")
        return page, links.redirect_target(url, page.status, page.headers, page.body)

    async def resolve(self, url: str) -> Resolution:
        """Where url leads. Never raises for the link's fault: failures are outcomes."""
        hops: list[Hop] = []
        current = url
        seen = {url}
        permanent = True
        last: Probe | None = None
        try:
            async with asyncio.timeout(self.settings.timeout):
                for _ in range(self.settings.max_hops + 1):
                    last, target = await self._step(current)
                    if target is not None:
                        target = links.unwrap(target)
                    hops.append(Hop(current, last.status, target))
                    if target is None:
                        return self._ended(url, current, last, tuple(hops), permanent)
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
            canonical = links.canonical_link(current, probe.body) if probe.body else None
            return Resolution(url, canonical or current, "ok", probe.status, hops, permanent)
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


# -- polling feeds


@dataclass(frozen=True, slots=True)
class Prepared:
    """A parsed feed, and the links it needs followed before it is stored."""

    parsed: ParsedFeed
    cached: Mapping[str, CachedLink]
    to_resolve: tuple[str, ...]


class Pipeline:
    """Polls feeds for one Config against one Store."""

    def __init__(self, config: Config, store: Store, client: httpx.AsyncClient) -> None:
        self.config = config
        self.store = store
        self.client = client
        self.resolver = LinkResolver(
            client, config.links, allow_private=config.fetch.allow_private_networks
        )
        self.resolve_modes = {feed.url: feed.resolve for feed in config.feeds}
        # One thread: the only one that touches the write connection.
        self.db_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="feedd-db")

    def reconfigure(self, config: Config) -> None:
        """Take a reloaded config; applies from the next poll (same database)."""
        self.config = config
        self.resolve_modes = {feed.url: feed.resolve for feed in config.feeds}
        self.resolver.settings = config.links
        self.resolver.allow_private = config.fetch.allow_private_networks

    async def run_in_db(self, func: Callable[..., T], *args: object) -> T:
        """Run func on the database thread."""
        return await asyncio.get_running_loop().run_in_executor(self.db_thread, func, *args)

    async def poll(self, feed: DueFeed) -> Outcome:
        started = time.monotonic()
        result: Fetched | NotModified | FetchError
        try:
            result = await fetch.fetch_feed(
                self.client,
                feed.source,
                deadline=self.config.fetch.timeout,
                max_body_size=self.config.fetch.max_body_size,
                allow_private=self.config.fetch.allow_private_networks,
            )
        except FetchError as exc:
            result = exc
        except Exception as exc:
            # A bug in fetching, not the feed's fault: keep the traceback, go on.
            log.exception("%s: unexpected error while fetching", feed.url)
            result = FetchError(f"unexpected error: {type(exc).__name__}: {exc}")
        if not isinstance(result, Fetched):
            return await self.run_in_db(
                self.guarded, feed, started, self._record, feed, result, started
            )
        prepared = await self.run_in_db(self.guarded, feed, started, self.prepare, feed, result)
        if isinstance(prepared, Outcome):
            return prepared
        resolutions = await self.resolver.resolve_all(prepared.to_resolve)
        return await self.run_in_db(
            self.guarded, feed, started, self.finish, feed, result, prepared, resolutions, started
        )

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
        self.store.record_not_modified(
            feed.id,
            status=result.status,
            etag=result.etag,
            last_modified=result.last_modified,
            now=now,
            next_fetch_at=schedule.next_fetch_at(now, feed.interval, 0),
        )
        return Outcome(
            feed.url, Status.NOT_MODIFIED, http_status=result.status, duration=_since(started)
        )

    def prepare(self, feed: DueFeed, fetched: Fetched) -> Prepared:
        """Parse; find the links of new items that need following (db thread)."""
        try:
            parsed = parse.parse_feed(
                fetched.body, url=fetched.final_url, content_type=fetched.header("content-type")
            )
        except ParseError as exc:
            exc.status = fetched.status
            raise
        mode = self.resolve_modes.get(feed.url, self.config.links.resolve)
        if mode == "off":
            return Prepared(parsed, {}, ())
        wanted: dict[str, str] = {}  # guid -> link to follow
        for raw in parsed.entries:
            link, target = item_links(raw, fetched.final_url)
            if target and links.needs_resolution(target, mode, self.config.links.shorteners):
                wanted[normalize.entry_key(raw, link)] = target
        if not wanted:
            return Prepared(parsed, {}, ())
        # An item already stored is never resolved again.
        stored = self.store.stored_guids(feed.id, tuple(wanted))
        targets = [target for guid, target in wanted.items() if guid not in stored]
        cached = self.store.cached_links(targets)
        now = datetime.now(UTC)
        to_resolve = tuple(
            dict.fromkeys(t for t in targets if t not in cached or cached[t].expires_at <= now)
        )
        return Prepared(parsed, cached, to_resolve)

    def finish(
        self,
        feed: DueFeed,
        fetched: Fetched,
        prepared: Prepared,
        resolutions: Sequence[Resolution],
        started: float,
    ) -> Outcome:
        """Store a fetched feed, its items and its link resolutions in one transaction."""
        now = utcnow()
        resolved = {url: cached.resolved_url for url, cached in prepared.cached.items()}
        resolved.update((r.url, r.resolved_url) for r in resolutions)
        parsed = prepared.parsed
        entries = entries_of(parsed, fetched.final_url, resolved)
        with self.store.transaction():
            for resolution in resolutions:
                previous = prepared.cached.get(resolution.url)
                failures = (
                    0 if resolution.outcome == "ok" else 1 + (previous.failures if previous else 0)
                )
                self.store.save_link(
                    resolution,
                    failures=failures,
                    checked_at=now,
                    expires_at=links.link_expiry(
                        resolution.outcome,
                        permanent=resolution.permanent,
                        failures=failures,
                        now=now,
                    ),
                )
            known = self.store.known(feed.id, entries)
            intents = dedupe.decide(known, entries, links.canonical_url(parsed.site_url))
            counts = self.store.apply(feed.id, intents, language=parsed.language, now=now)
            # The validators go in the same transaction as the items they cover.
            self.store.record_success(
                feed.id,
                status=fetched.status,
                final_url=fetched.final_url,
                etag=fetched.etag,
                last_modified=fetched.last_modified,
                body_hash=fetched.body_hash,
                title=parsed.title,
                site_url=parsed.site_url,
                now=now,
                next_fetch_at=schedule.next_fetch_at(now, feed.interval, 0),
            )
        if parsed.warning:
            log.debug("%s: parsed despite: %s", feed.url, parsed.warning)
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
        )

    def _failed(
        self, feed: DueFeed, exc: BaseException, started: float, status: int | None
    ) -> Outcome:
        now = utcnow()
        message = str(exc) or type(exc).__name__
        try:
            self.store.record_failure(
                feed.id,
                error=message,
                status=status,
                now=now,
                next_fetch_at=schedule.next_fetch_at(now, feed.interval, feed.error_count + 1),
            )
        except Exception:
            log.exception("%s: could not record the failure", feed.url)
        return Outcome(
            feed.url, Status.FAILED, error=message, http_status=status, duration=_since(started)
        )

    def close(self) -> None:
        """Wait for the write in progress (if any) to commit."""
        self.db_thread.shutdown(wait=True, cancel_futures=True)


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)


async def fetch_once(
    config: Config,
    urls: Iterable[str] = (),
    on_outcome: Callable[[Outcome], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> list[Outcome]:
    """``feedd fetch``: poll every enabled feed (or the named ones) now, whatever the schedule."""
    store = open_store(config)
    try:
        wanted = list(urls)
        feeds = (
            store.feeds_by_url(wanted)
            if wanted
            else store.feeds_by_url(feed.url for feed in config.enabled_feeds)
        )
        if on_start is not None:
            on_start(len(feeds))
        async with make_client(config) as client:
            pipeline = Pipeline(config, store, client)
            try:
                return await pipeline.poll_many(feeds, on_outcome)
            finally:
                pipeline.close()
    finally:
        store.close()


def make_client(config: Config) -> httpx.AsyncClient:
    return fetch.make_client(
        user_agent=config.fetch.user_agent,
        timeout=config.fetch.timeout,
        concurrency=config.fetch.concurrency,
    )


async def resolve_one(config: Config, url: str) -> Resolution:
    """``feedd resolve``: follow one link now, cache ignored, nothing stored."""
    async with make_client(config) as client:
        resolver = LinkResolver(
            client, config.links, allow_private=config.fetch.allow_private_networks
        )
        return await resolver.resolve(links.unwrap(url))
