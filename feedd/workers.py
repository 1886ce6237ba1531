"""The daemon's worker processes: ``digest`` (and ``digest.read_page``) run in a
pool of spawned processes, so that parsing and cleaning use every core and never
block the event loop or the database thread.

This module is the parent's side only: a worker imports ``worker`` (its own
set-up, budget and watcher) and ``digest`` (the stage), never this, so it holds
neither asyncio nor the pool's machinery (~2 MB a worker).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import multiprocessing
import multiprocessing.connection
import os
import time
from concurrent.futures.process import BrokenProcessPool

from . import digest, worker
from .digest import Digest, Memory, ReadPage
from .errors import FeeddError, ParseError
from .types import DEFAULT_MAX_ITEMS

log = logging.getLogger(__name__)

# How long closing the workers waits for a document being digested. Its poll was
# cancelled (nothing of it is written), so a worker still busy after this, on a
# hostile body, is terminated: a stop must not wait on what a feed sends.
CLOSE_GRACE_SECONDS = 5.0
# A body this large is digested in a worker even before ``start_after``: only
# there does the memory budget hold (feedparser takes ~20 times a body's size).
ALWAYS_IN_A_WORKER = 1024 * 1024
# A worker's longest task: the corpus's largest documents take under a second,
# a 100,000-item hostile one cut to [fetch] max_items ~2.5 s. A document still
# being read after this fails ("took more than ... s"), and a worker that does
# not give the task up is replaced (worker._watch_task).
TASK_SECONDS = 60.0


class Digesters:
    """A pool of worker processes running ``digest``.

    The processes start with the first body (a run of 304s never starts them),
    or after ``start_after`` bodies. They are spawned: forking the daemon, with
    its threads, is unsafe, and a fork server's children would not be the
    daemon's (they could not see it die).
    Each worker keeps to ``memory_budget`` bytes of data ([fetch] worker_memory):
    a document that needs more fails with a ParseError saying so, as does one
    that takes more than ``task_seconds`` to digest.
    A worker that dies (OOM killer, a library aborting on a failed allocation)
    breaks the pool: the bodies it had are digested again in new workers, once;
    a body that breaks those too fails (FeeddError), never digested by the daemon.
    """

    def __init__(
        self,
        processes: int,
        *,
        start_after: int = 0,
        memory_budget: int = 0,
        task_seconds: float = TASK_SECONDS,
    ) -> None:
        self.processes = processes
        self.memory_budget = memory_budget
        self.task_seconds = task_seconds
        # Bodies left to the caller before the workers start: a `feedd fetch`
        # that gets only a few bodies (the rest 304s) does not pay for starting them.
        self.start_after = start_after
        self.bodies = 0
        self.pool: concurrent.futures.ProcessPoolExecutor | None = None

    def _pool(self) -> concurrent.futures.ProcessPoolExecutor:
        if self.pool is None:
            self.pool = concurrent.futures.ProcessPoolExecutor(
                self.processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=worker.start,
                initargs=(
                    os.getpid(),
                    self.memory_budget,
                    digest.code_version(),
                    self.task_seconds,
                ),
            )
        return self.pool

    def tries_here(self, memory: Memory | None) -> bool:
        """Whether the caller should first try ``unchanged`` itself: where it
        digests its first bodies anyway (``start_after``: `feedd fetch`), a body
        the pre-scan settles costs a tenth of a parse there, and no worker needs
        to start for it (two cost ~0.8 s of CPU). The daemon's own process never
        loads the parser (its memory), so it never does."""
        return self.start_after > 0 and memory is not None and memory.prescanned is not None

    async def digest(
        self,
        body: bytes,
        url: str,
        content_type: str | None,
        memory: Memory | None = None,
        max_items: int = DEFAULT_MAX_ITEMS,
    ) -> Digest | None:
        """The body digested by a worker; None when the caller should digest it
        itself (no workers, before ``start_after`` bodies unless it is large): on
        one thread, as feedparser is not known to be thread-safe."""
        self.bodies += 1
        if not self.processes:
            return None
        if self.bodies <= self.start_after and len(body) < ALWAYS_IN_A_WORKER:
            return None
        loop = asyncio.get_running_loop()
        for _attempt in (1, 2):  # the second in new workers
            pool = self._pool()
            try:
                return await loop.run_in_executor(
                    pool, worker.digest_body, body, url, content_type, memory, max_items
                )
            except BrokenProcessPool:
                # Whichever body killed it, every body it had fails with it: the
                # innocent ones go through new workers; the culprit kills those too.
                log.warning("a worker process died digesting %s; starting new ones", url)
                self._discard(pool)
            except MemoryError:
                # Raised as the worker sent the result back: the digest kept to
                # the budget, its result did not.
                raise ParseError(worker.OVER_BUDGET.format(self.memory_budget // 2**20)) from None
        raise FeeddError("the worker process digesting the document died, twice")

    async def read_page(self, page: bytes, url: str, selector: str | None) -> ReadPage | None:
        """The page read by a worker; None when there are no workers (the caller
        reads it). A worker that dies reading it (the OOM killer) is replaced and
        the page fails: read again here, it could take the daemon down."""
        if not self.processes:
            return None
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool(), worker.read_page, page, url, selector)
        except BrokenProcessPool:
            log.warning("a worker process died reading %s; starting new ones", url)
            self.close()
            raise FeeddError("the worker process reading the page died") from None

    def _discard(self, pool: concurrent.futures.ProcessPoolExecutor) -> None:
        """Shut a broken pool down, unless another caller already replaced it."""
        if self.pool is pool:
            self.close()

    def close(self) -> None:
        pool, self.pool = self.pool, None
        if pool is None:
            return
        # ProcessPoolExecutor has no public way to stop a busy worker before 3.14
        # (terminate_workers): its processes, as the stdlib keeps them.
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        # A process's sentinel is ready once it has exited, whoever reaps it: the
        # executor's own thread joins the same processes, and join() and
        # is_alive() here, racing with it, took an exited process for a live one.
        waiting = {process.sentinel: process for process in processes}
        deadline = time.monotonic() + CLOSE_GRACE_SECONDS
        while waiting and (left := deadline - time.monotonic()) > 0:
            for ready in multiprocessing.connection.wait(list(waiting), left):
                del waiting[ready]
        for process in waiting.values():
            log.warning("a worker process still busy at close: terminated")
            process.terminate()
            process.join(CLOSE_GRACE_SECONDS)
