"""Run the stages for one feed: fetch -> parse -> links -> normalize -> dedupe -> store.

The only module that puts stages together. Fetching is async (many feeds in
flight on one client); everything after the body arrives runs on a single
worker thread that holds the only write connection, so parsing never blocks
the event loop and writes never contend with each other.

Errors become Outcome values: one bad feed never stops the batch.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TypeVar

import httpx

from . import dedupe, fetch, links, normalize, parse, schedule
from .config import Config
from .errors import FeeddError, FetchError, ParseError
from .store import DueFeed, Store
from .types import Entry, Fetched, NotModified, Outcome, ParsedFeed, Status

log = logging.getLogger("feedd")
T = TypeVar("T")


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def open_store(config: Config) -> Store:
    """Open (creating or migrating) the database and sync the configured feeds into it."""
    store = Store(config.database)
    store.sync_feeds(config.feeds, utcnow())
    return store


def entries_of(parsed: ParsedFeed, base_url: str) -> tuple[Entry, ...]:
    """links + normalize for every item of a parsed feed (pure)."""
    entries = []
    for raw in parsed.entries:
        link = links.absolute_url(raw.link, base_url)
        origin = dict(raw.extra).get("feedburner_origlink")
        url = links.canonical_url(links.absolute_url(origin, base_url) if origin else link)
        entries.append(normalize.normalize_entry(raw, link=link, url=url, base_url=base_url))
    return tuple(entries)


class Pipeline:
    """Polls feeds for one Config against one Store."""

    def __init__(self, config: Config, store: Store, client: httpx.AsyncClient) -> None:
        self.config = config
        self.store = store
        self.client = client
        # One thread: the only one that touches the write connection.
        self.db_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="feedd-db")

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
        return await self.run_in_db(self.process, feed, result, started)

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

    def process(
        self, feed: DueFeed, result: Fetched | NotModified | FetchError, started: float
    ) -> Outcome:
        """Everything after the network, on the DB thread. Never raises for a feed's fault."""
        now = utcnow()
        try:
            if isinstance(result, FetchError):
                raise result
            if isinstance(result, NotModified):
                self.store.record_not_modified(
                    feed.id,
                    status=result.status,
                    etag=result.etag,
                    last_modified=result.last_modified,
                    now=now,
                    next_fetch_at=schedule.next_fetch_at(now, feed.interval, 0),
                )
                return Outcome(
                    feed.url,
                    Status.NOT_MODIFIED,
                    http_status=result.status,
                    duration=_since(started),
                )
            return self._store_fetched(feed, result, now, started)
        except (FetchError, ParseError) as exc:
            return self._failed(
                feed,
                exc,
                now,
                started,
                status=getattr(exc, "status", None)
                or (result.status if isinstance(result, Fetched) else None),
            )
        except FeeddError as exc:
            log.error("%s: %s", feed.url, exc)
            return self._failed(feed, exc, now, started, status=None)
        except Exception as exc:
            # A bug, not the feed's fault: keep the traceback, keep the daemon running.
            log.exception("%s: unexpected error", feed.url)
            return self._failed(feed, exc, now, started, status=None)

    def _store_fetched(
        self, feed: DueFeed, fetched: Fetched, now: datetime, started: float
    ) -> Outcome:
        parsed = parse.parse_feed(
            fetched.body, url=fetched.final_url, content_type=fetched.header("content-type")
        )
        entries = entries_of(parsed, fetched.final_url)
        with self.store.transaction():
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
        )

    def _failed(
        self, feed: DueFeed, exc: BaseException, now: datetime, started: float, status: int | None
    ) -> Outcome:
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
        client = fetch.make_client(
            user_agent=config.fetch.user_agent,
            timeout=config.fetch.timeout,
            concurrency=config.fetch.concurrency,
        )
        async with client:
            pipeline = Pipeline(config, store, client)
            try:
                return await pipeline.poll_many(feeds, on_outcome)
            finally:
                pipeline.close()
    finally:
        store.close()
