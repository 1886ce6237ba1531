"""The long-running service: a scheduler tick that claims due feeds, signals.

The only module that imports apscheduler. One job, the tick, runs every
TICK_SECONDS (max_instances=1, coalesced): it asks the database which feeds
are due (feeds.next_fetch_at, so the schedule survives restarts) and starts
a task for each, never more than the worker pool can take.

Signal handlers only set a flag (as uvicorn does). On SIGTERM or SIGINT the
daemon stops claiming, cancels fetches in flight (nothing of theirs is written
yet), lets the write in progress commit, closes the database and exits 0.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from .config import Config
from .pipeline import Pipeline, make_client, open_store, utcnow
from .store import DueFeed
from .types import Outcome, Status

log = logging.getLogger("feedd")

TICK_SECONDS = 2.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def log_outcome(outcome: Outcome) -> None:
    if outcome.status is Status.FAILED:
        log.warning("%s: failed: %s", outcome.url, outcome.error)
    elif outcome.status is Status.NOT_MODIFIED:
        log.info("%s: not modified", outcome.url)
    else:
        log.info(
            "%s: %d new, %d updated, %d seen in another feed (%.2fs)",
            outcome.url,
            outcome.new,
            outcome.updated,
            outcome.linked,
            outcome.duration,
        )


class Daemon:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.stopping = asyncio.Event()
        self.in_flight: dict[int, asyncio.Task[Outcome]] = {}
        self.workers = asyncio.Semaphore(config.fetch.concurrency)
        self.last_tick_at: datetime | None = None

    def request_stop(self, signum: int) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        self.stopping.set()

    async def serve(self) -> int:
        loop = asyncio.get_running_loop()
        store = open_store(self.config)
        client = make_client(self.config)
        self.pipeline = Pipeline(self.config, store, client)
        for signum in STOP_SIGNALS:
            loop.add_signal_handler(signum, self.request_stop, signum)
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
        log.info(
            "feedd running: %d feeds (%d enabled), database %s",
            len(self.config.feeds),
            len(self.config.enabled_feeds),
            self.config.database,
        )
        scheduler.start()
        try:
            await self.stopping.wait()
        finally:
            scheduler.shutdown(wait=False)
            tasks = list(self.in_flight.values())
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            # Blocks until the write in progress (if any) has committed.
            await asyncio.to_thread(self.pipeline.close)
            await client.aclose()
            store.close()
            for signum in STOP_SIGNALS:
                loop.remove_signal_handler(signum)
            log.info("feedd stopped")
        return 0

    async def tick(self) -> None:
        if self.stopping.is_set():
            return
        self.last_tick_at = utcnow()
        room = self.config.fetch.concurrency - len(self.in_flight)
        if room <= 0:
            return
        due = await self.pipeline.run_in_db(
            self.pipeline.store.due_feeds, self.last_tick_at, room, tuple(self.in_flight)
        )
        for feed in due:
            if self.stopping.is_set():
                break
            task = asyncio.create_task(self._poll(feed), name=f"poll {feed.url}")
            self.in_flight[feed.id] = task
            task.add_done_callback(functools.partial(self._done, feed.id))

    def _done(self, feed_id: int, _task: asyncio.Task[Outcome]) -> None:
        self.in_flight.pop(feed_id, None)

    async def _poll(self, feed: DueFeed) -> Outcome:
        async with self.workers:
            outcome = await self.pipeline.poll(feed)
        log_outcome(outcome)
        return outcome


def run(config: Config) -> int:
    """Run the daemon until SIGTERM/SIGINT. Returns the exit status."""
    return asyncio.run(Daemon(config).serve())
