"""The long-running service: a scheduler tick that claims due feeds, signals,
reload, housekeeping and systemd notifications.

The only module that imports apscheduler. Jobs:
- the tick, every TICK_SECONDS (max_instances=1, coalesced): asks the
  database which feeds are due (feeds.next_fetch_at, so the schedule survives
  restarts) and starts a task for each, never more than [fetch] concurrency
  in flight; it also tells systemd the daemon is alive (WATCHDOG=1), so a stuck
  tick is a missed watchdog. Between ticks, when half of the polls in flight
  have ended, the same claim runs again: a backlog (a first start, a long
  stop) drains at the speed of the polls, not of the tick;
- housekeeping, every HOUSEKEEPING_SECONDS: retention and the store's own
  upkeep (Storage.housekeeping).

Beside the jobs, one task reads article pages ([fulltext], ``_read_pages``):
the due ones, then it waits until the next is due, a poll queues one, or
PAGE_CHECK_SECONDS pass (a poller sharing the database may have queued some).

After each poll the store does its upkeep (Storage.after_poll: SQLite trims
a WAL that readers kept from restarting). A feed whose failure could not be
written (the disk is full) would still be due at the next tick: it is held
back in memory for its interval instead.

Signal handlers only set a flag (as uvicorn does). SIGTERM/SIGINT: stop
claiming, cancel fetches in flight (nothing of theirs is written yet), let the
write in progress commit, close the database, exit 0. SIGHUP: re-read the
config; if it is invalid, log every problem and keep the old one; if valid,
apply it without a restart.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import os
import signal
import socket
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from . import heap
from .config import Config, load_config
from .errors import ConfigError, StoreError
from .fetchers import Fetchers
from .logs import outcome_fields, setup_logging
from .metrics import Metrics
from .metrics import serve as serve_metrics
from .pipeline import (
    Pipeline,
    make_client,
    make_digesters,
    make_fetchers,
    make_guard,
    open_store,
    utcnow,
)
from .types import DueFeed, Outcome, Status

log = logging.getLogger("feedd")

TICK_SECONDS = 2.0
HOUSEKEEPING_SECONDS = 600.0
PAGE_CHECK_SECONDS = 60.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def sd_notify(message: str) -> bool:
    """Send a state to systemd ($NOTIFY_SOCKET); False when not run by systemd.

    The protocol is one datagram; no dependency is needed.
    """
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
    except OSError as exc:
        log.warning("cannot notify systemd at %s: %s", address, exc)
        return False
    return True


def log_outcome(outcome: Outcome) -> None:
    """One line per poll; structured fields for the JSON format. A feed's failure
    is expected: a warning with its reason, no traceback."""
    fields = outcome_fields(outcome)
    if outcome.status is Status.FAILED:
        log.warning("%s: failed: %s", outcome.url, outcome.error, extra=fields)
    elif outcome.status is Status.NOT_MODIFIED:
        log.info("%s: not modified", outcome.url, extra=fields)
    else:
        log.info(
            "%s: %d new, %d updated, %d seen in another feed (%.2fs)",
            outcome.url,
            outcome.new,
            outcome.updated,
            outcome.linked,
            outcome.duration,
            extra=fields,
        )


def _quiet_at_stop(job: Callable[[Daemon], Awaitable[None]]) -> Callable[[Daemon], Awaitable[None]]:
    """A scheduled job that the scheduler cancels at the stop (a tick waiting for
    the claim lock, housekeeping waiting for the database thread) ends quietly:
    apscheduler would log the cancellation as an error with a traceback."""

    @functools.wraps(job)
    async def run(daemon: Daemon) -> None:
        try:
            await job(daemon)
        except asyncio.CancelledError:
            if daemon.stopping.is_set():
                return
            raise

    return run


class Daemon:
    def __init__(self, config: Config, *, verbose: int = 0, quiet: int = 0) -> None:
        self.config = config
        self.verbosity = (verbose, quiet)  # -v/-q, kept across reloads
        self.metrics = Metrics()
        self.http: asyncio.Server | None = None
        self.stopping = asyncio.Event()
        self.reload_requested = asyncio.Event()
        self.in_flight: dict[int, asyncio.Task[Outcome]] = {}
        self.workers = asyncio.Semaphore(config.fetch.concurrency)
        self.last_tick_at: datetime | None = None
        self.claim_lock = asyncio.Lock()
        self.claim_again = False  # a poll ended during a refill: it claims once more
        self.refill: asyncio.Task[None] | None = None
        self.page_reader: asyncio.Task[None] | None = None
        # feed id -> time.monotonic() before which it is not polled again
        # (failed polls; the database has the real schedule when it could be written)
        self.held_back: dict[int, float] = {}
        self.fetchers: Fetchers | None = None  # [fetch] fetchers, started by serve

    def request_stop(self, signum: int) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        self.stopping.set()

    def request_reload(self) -> None:
        log.info("received SIGHUP, reloading %s", self.config.path)
        self.reload_requested.set()

    async def serve(self) -> int:
        loop = asyncio.get_running_loop()
        # Started before the database is opened: their start-up overlaps ours.
        self.fetchers = make_fetchers(self.config, len(self.config.enabled_feeds))
        store = open_store(self.config)
        guard = make_guard(self.config)
        client = make_client(self.config, guard)
        # Worker processes: [fetch] workers is read at start (a reload keeps them).
        self.pipeline = Pipeline(
            self.config, store, client, guard, make_digesters(self.config), self.fetchers
        )
        for signum in STOP_SIGNALS:
            loop.add_signal_handler(signum, self.request_stop, signum)
        loop.add_signal_handler(signal.SIGHUP, self.request_reload)
        scheduler = AsyncIOScheduler(event_loop=loop, timezone=UTC)
        scheduler.add_job(
            self.tick,
            "interval",
            seconds=TICK_SECONDS,
            next_run_time=datetime.now(UTC),
            max_instances=1,
            coalesce=True,
            misfire_grace_time=int(TICK_SECONDS * 5),
            id="tick",
        )
        scheduler.add_job(
            self.housekeeping,
            "interval",
            seconds=HOUSEKEEPING_SECONDS,
            next_run_time=datetime.now(UTC) + timedelta(seconds=TICK_SECONDS * 5),
            max_instances=1,
            coalesce=True,
            misfire_grace_time=int(HOUSEKEEPING_SECONDS),
            id="housekeeping",
        )
        scheduler.start()
        self.page_reader = asyncio.create_task(self._read_pages(), name="pages")
        await self._serve_http()
        log.info(
            "feedd running: %d feeds (%d enabled), database %s",
            len(self.config.feeds),
            len(self.config.enabled_feeds),
            self.config.database,
        )
        # The config is valid and the database open: ready.
        sd_notify("READY=1\nSTATUS=running")
        try:
            await self._wait_for_signals()
        finally:
            sd_notify("STOPPING=1")
            scheduler.shutdown(wait=False)
            await self._close_http()
            tasks: list[asyncio.Task[Any]] = list(self.in_flight.values())
            if self.refill is not None:
                tasks.append(self.refill)
            if self.page_reader is not None:
                tasks.append(self.page_reader)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self.fetchers is not None:
                await self.fetchers.close()
            # Blocks until the write in progress (if any) has committed.
            await asyncio.to_thread(self.pipeline.close)
            await client.aclose()
            store.close()
            for signum in (*STOP_SIGNALS, signal.SIGHUP):
                loop.remove_signal_handler(signum)
            log.info("feedd stopped")
        return 0

    async def _wait_for_signals(self) -> None:
        stop = asyncio.ensure_future(self.stopping.wait())
        try:
            while not self.stopping.is_set():
                reload = asyncio.ensure_future(self.reload_requested.wait())
                await asyncio.wait({stop, reload}, return_when=asyncio.FIRST_COMPLETED)
                reload.cancel()
                if self.reload_requested.is_set() and not self.stopping.is_set():
                    self.reload_requested.clear()
                    await self.reload()
        finally:
            stop.cancel()

    async def reload(self) -> bool:
        """Apply the config file anew; keep the old config if the new one is invalid."""
        sd_notify("RELOADING=1\nSTATUS=reloading")
        try:
            new = await asyncio.to_thread(load_config, self.config.path)
        except ConfigError as exc:
            for problem in exc.problems:
                log.error("%s: %s", exc.path, problem)
            log.error("reload refused: the config has errors; still running on the old one")
            sd_notify("READY=1\nSTATUS=running (reload refused: config errors)")
            return False
        if new.database != self.config.database:
            log.error(
                "reload: database cannot change while running (%s -> %s); restart feedd "
                "to switch; the rest of the config is applied",
                self.config.database,
                new.database,
            )
            new = dataclasses.replace(new, database=self.config.database)
        if new.cluster != self.config.cluster:
            log.error(
                "reload: [cluster] cannot change while running; restart feedd to apply it; "
                "the rest of the config is applied"
            )
            new = dataclasses.replace(new, cluster=self.config.cluster)
        try:
            if not new.cluster.poll_only:
                await self.pipeline.run_in_db(self.pipeline.store.sync_feeds, new.feeds, utcnow())
        except StoreError as exc:
            log.error("reload failed: %s; still running on the old config", exc)
            sd_notify("READY=1\nSTATUS=running (reload failed: database not writable)")
            return False
        self.held_back.clear()  # the database has the schedule, edited feeds included
        self.pipeline.reconfigure(new)
        if new.fetch.concurrency != self.config.fetch.concurrency:
            self.workers = asyncio.Semaphore(new.fetch.concurrency)
        if new.log != self.config.log:
            verbose, quiet = self.verbosity
            setup_logging(new.log.level, new.log.format, verbose=verbose, quiet=quiet)
        old_listen = self.config.http.listen
        self.config = new
        if new.http.listen != old_listen:
            await self._close_http()
            await self._serve_http()
        log.info("reloaded: %d feeds (%d enabled)", len(new.feeds), len(new.enabled_feeds))
        sd_notify("READY=1\nSTATUS=running")
        return True

    @_quiet_at_stop
    async def tick(self) -> None:
        if self.stopping.is_set():
            return
        self.last_tick_at = utcnow()
        self.metrics.observe_tick(time.time())
        sd_notify("WATCHDOG=1")
        # What the polls since the last tick freed (bodies, digests) goes back to
        # the system: glibc would keep it (heap.py; a few ms at 50,000 feeds).
        heap.release()
        await self.claim()

    async def claim(self) -> None:
        """Start polls for due feeds, up to [fetch] concurrency in flight."""
        async with self.claim_lock:  # one claim at a time: each sees the last one's tasks
            self.claim_again = False
            await self._claim_once()

    async def _refill(self) -> None:
        try:
            await self.claim()
            while self.claim_again and not self.stopping.is_set():
                await self.claim()
        except RuntimeError:
            # The pipeline was closed under us (shutdown): nothing more to claim.
            if not self.pipeline.closed:
                raise

    async def _claim_once(self) -> None:
        room = self.config.fetch.concurrency - len(self.in_flight)
        if room <= 0:
            return
        now = time.monotonic()
        for feed_id, until in list(self.held_back.items()):
            if until <= now:
                del self.held_back[feed_id]
        try:
            due = await self.pipeline.run_in_db(
                self.pipeline.store.due_feeds,
                utcnow(),
                room,
                (*self.in_flight, *self.held_back),
            )
            self.metrics.claim_duration.observe(time.monotonic() - now)
        except asyncio.CancelledError:
            if self.stopping.is_set():
                return  # stopping: the database thread dropped the reads still queued
            raise
        for feed in due:
            if self.stopping.is_set():
                break
            task = asyncio.create_task(self._poll(feed), name=f"poll {feed.url}")
            self.in_flight[feed.id] = task
            task.add_done_callback(functools.partial(self._done, feed.id))

    def _done(self, feed_id: int, _task: asyncio.Task[Outcome]) -> None:
        self.in_flight.pop(feed_id, None)
        # Half the slots free: claim more now rather than at the next tick
        # (one claim per half batch, not one per poll).
        if self.stopping.is_set() or len(self.in_flight) > self.config.fetch.concurrency // 2:
            return
        if self.refill is None or self.refill.done():
            self.refill = asyncio.create_task(self._refill(), name="claim")
        else:
            self.claim_again = True  # the running refill looks once more

    async def _poll(self, feed: DueFeed) -> Outcome:
        async with self.workers:
            outcome = await self.pipeline.poll(feed)
        if outcome.status is Status.FAILED:
            # Recording the failure also set its backoff, unless that write failed too.
            self.held_back[feed.id] = time.monotonic() + (feed.poll_interval or feed.interval)
        else:
            self.held_back.pop(feed.id, None)
        log_outcome(outcome)
        self.metrics.observe_outcome(outcome)
        await self.upkeep()
        return outcome

    async def _read_pages(self) -> None:
        """Article pages in the background, until the daemon stops."""
        pipeline = self.pipeline
        while not self.stopping.is_set():
            delay = PAGE_CHECK_SECONDS
            try:
                await pipeline.pages.run_due(self.metrics.observe_page)
                next_at = await pipeline.run_in_db(pipeline.store.next_page_at)
                if next_at is not None:
                    delay = min(delay, max(1.0, (next_at - utcnow()).total_seconds()))
            except StoreError as exc:
                log.error("article pages: %s", exc)
            except Exception:
                if pipeline.closed:
                    return  # shutting down under us
                log.exception("article pages: unexpected error; trying again later")
            try:
                async with asyncio.timeout(delay):
                    await pipeline.pages.wake.wait()
            except TimeoutError:
                pass

    # -- /healthz and /metrics

    async def _serve_http(self) -> None:
        if self.config.http.listen is None:
            return
        host, port = self.config.http.listen
        try:
            self.http = await serve_metrics(
                host, port, metrics=self.metrics, health=self.health, refresh=self.refresh
            )
        except OSError as exc:
            log.error("cannot serve /healthz and /metrics on %s:%d: %s", host, port, exc)
            return
        bound = self.http.sockets[0].getsockname()
        log.info("serving /healthz and /metrics on %s:%d", bound[0], bound[1])

    async def _close_http(self) -> None:
        if self.http is not None:
            self.http.close()
            await self.http.wait_closed()
            self.http = None

    async def health(self) -> tuple[bool, str]:
        """Healthy while the tick runs and the database takes writes."""
        if self.last_tick_at is None:
            return False, "the scheduler has not ticked yet"
        silent = (utcnow() - self.last_tick_at).total_seconds()
        if silent > TICK_SECONDS * 5 + 5:
            return False, f"the scheduler tick has been silent for {silent:.0f}s"
        try:
            await self.pipeline.run_in_db(self.pipeline.store.check_writable)
        except StoreError as exc:
            return False, str(exc)
        return True, "ok"

    async def refresh(self) -> None:
        """Read the gauges that live in the database before a scrape."""
        store = self.pipeline.store
        states = await self.pipeline.run_in_db(store.feed_states)
        articles = await self.pipeline.run_in_db(store.count, "articles")
        self.metrics.set_feed_states(states)
        self.metrics.set_articles_total(articles)

    @_quiet_at_stop
    async def housekeeping(self) -> None:
        """Retention and the store's own upkeep (Storage.housekeeping, on the db thread)."""
        retention = self.config.retention
        try:
            pruned = await self.pipeline.run_in_db(
                self.pipeline.store.housekeeping,
                utcnow(),
                retention.max_age,
                retention.max_per_feed,
                retention.max_revisions,
            )
        except StoreError as exc:
            log.error("housekeeping failed: %s", exc)
            return
        except Exception:
            log.exception("housekeeping failed")
            return
        if pruned:
            log.info("retention: deleted %d articles", pruned)

    async def upkeep(self) -> None:
        """The store's upkeep between polls (SQLite: an overgrown WAL trimmed)."""
        store = self.pipeline.store
        if not store.upkeep_due():
            return  # most polls: nothing to do, and no trip to the database thread
        try:
            await self.pipeline.run_in_db(store.after_poll)
        except Exception as exc:
            log.warning("store upkeep failed: %s", exc)


def run(config: Config, *, verbose: int = 0, quiet: int = 0) -> int:
    """Run the daemon until SIGTERM/SIGINT. Returns the exit status."""
    heap.limit_arenas()  # before the daemon's threads start
    return asyncio.run(Daemon(config, verbose=verbose, quiet=quiet).serve())
