"""[fetch] worker_memory: a document that needs more memory than a worker may use
fails, with the reason, in the worker; the other feeds of the poll are stored
whole, and no body is left to the daemon to digest unbounded."""

from __future__ import annotations

import asyncio
import os
import resource
import time
from concurrent.futures.process import BrokenProcessPool
from contextlib import suppress
from pathlib import Path

import pytest
from conftest import write_config
from integration_support import Item, rss20

from feedd import worker, workers
from feedd.config import load_config
from feedd.errors import ParseError
from feedd.pipeline import fetch_once
from feedd.store.sqlite import SQLiteStore as Store
from feedd.types import Status

ITEMS = 100_000


# What reading the whole hostile document takes: no max_items cuts it first.
WHOLE = 10 * ITEMS


def hostile() -> bytes:
    """100,000 tiny items: ~8.5 MiB, under the 16 MiB body limit. Read whole,
    feedparser builds every one (~200 MiB); cut to max_items first, ~30 MiB."""
    items = "".join(
        f"<item><title>t{i}</title><link>https://h.example/{i}</link><guid>g{i}</guid></item>"
        for i in range(ITEMS)
    )
    return f'<rss version="2.0"><channel><title>T</title>{items}</channel></rss>'.encode()


def good(n: int) -> bytes:
    text = " ".join(f"word{(n * 13 + i) % 991}" for i in range(60))
    return rss20(
        *(
            Item(
                title=f"Story {n}-{i}",
                link=f"/posts/{n}/{i}",
                description=f"<p>{text} {i}</p>",
                guid=f"g-{n}-{i}",
            )
            for i in range(10)
        )
    )


def test_a_document_over_the_budget_fails_and_the_others_are_stored(server, tmp_path):
    good_urls = [server.add(f"/good{n}.xml", good(n)) for n in range(6)]
    bomb_url = server.add("/many.xml", hostile(), content_type="application/rss+xml")
    config_path = write_config(
        tmp_path,
        [*good_urls[:3], bomb_url, *good_urls[3:]],
        f'workers = 1\nworker_memory = "128MiB"\nmax_items = {WHOLE}',
    )
    config = load_config(config_path)
    assert config.fetch.worker_memory == 128 * 2**20
    own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    outcomes = {o.url: o for o in asyncio.run(fetch_once(config))}

    bomb = outcomes[bomb_url]
    assert bomb.status is Status.FAILED
    assert "worker_memory = 128 MiB" in (bomb.error or "")
    assert all(outcomes[url].status is Status.OK for url in good_urls)
    assert all(outcomes[url].new == 10 for url in good_urls)
    with Store(tmp_path / "feedd.db") as store:
        assert store.count("articles") == 60
        state, error = store.conn.execute(
            "SELECT state, last_error FROM feeds WHERE url = ?", (bomb_url,)
        ).fetchone()
    assert state == "failing"
    assert "more memory than a worker may use" in error
    # The large body went to the worker although `feedd fetch` digests its first
    # few bodies itself: this process never held the ~200 MiB document.
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - own_peak) / 1024
    assert grown_mib < 100


async def test_the_worker_goes_on_after_a_document_over_its_budget():
    digesters = workers.Digesters(1, memory_budget=128 * 2**20)
    try:
        try:
            await digesters.digest(
                hostile(), "https://h.example/feed", "application/rss+xml", max_items=WHOLE
            )
        except Exception as exc:
            assert type(exc).__name__ == "ParseError"
            assert "worker_memory = 128 MiB" in str(exc)
        else:
            raise AssertionError("no ParseError")
        pool = digesters.pool
        after = await digesters.digest(good(1), "https://h.example/feed", "application/rss+xml")
        assert after is not None and len(after.entries) == 10
        assert digesters.pool is pool  # the same worker: it raised, it did not die
    finally:
        digesters.close()


async def test_a_document_of_many_items_is_cut_to_max_items_within_the_budget():
    digesters = workers.Digesters(1, memory_budget=128 * 2**20)
    try:
        digested = await digesters.digest(
            hostile(), "https://h.example/feed", "application/rss+xml", max_items=2_000
        )
        assert digested is not None
        assert len(digested.entries) == 2_000
        assert digested.feed.dropped_items == ITEMS - 2_000
        # Undated: the first in document order.
        assert digested.entries[0].title == "t0" and digested.entries[-1].title == "t1999"
    finally:
        digesters.close()


def long_items() -> bytes:
    """300 items of ~10 kB of text each: a 3 MB document, a blog's whole archive."""
    return rss20(
        *(
            Item(
                title=f"Essay {i}",
                link=f"/essays/{i}",
                description="".join(
                    f"<p>{i} paragraph {j} of a long essay.</p>" for j in range(250)
                ),
                guid=f"essay-{i}",
            )
            for i in range(300)
        )
    )


def private_mib(pid: int) -> float:
    resident, shared = (int(n) for n in Path(f"/proc/{pid}/statm").read_text().split()[1:3])
    return (resident - shared) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs Linux's /proc")
async def test_a_worker_at_rest_gives_back_what_a_large_document_took():
    """Its result and the body are freed only once the result is sent: a worker
    trims its heap then too, not only at the end of the next document."""
    digesters = workers.Digesters(1)
    try:
        await digesters.digest(good(1), "https://h.example/feed", "application/rss+xml")
        assert digesters.pool is not None
        pid = await asyncio.get_running_loop().run_in_executor(digesters.pool, os.getpid)
        rested = private_mib(pid)
        large = await digesters.digest(long_items(), "https://h.example/feed", None)
        assert large is not None and len(large.entries) == 300
        deadline = time.monotonic() + 10  # _watch_parent trims every 0.5 s
        while private_mib(pid) > rested + 8 and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        assert private_mib(pid) <= rested + 8
        # What the daemon's side of the pool needs (asyncio) is not the worker's.
        assert "_asyncio" not in Path(f"/proc/{pid}/maps").read_text()
    finally:
        digesters.close()


async def test_a_document_that_takes_too_long_fails_and_the_worker_goes_on():
    """Read whole, the 100,000-item document takes ~15 s of a worker; given 1 s,
    the worker stops it and says why, and digests the next document."""
    digesters = workers.Digesters(1, task_seconds=1)
    try:
        with pytest.raises(ParseError, match="took more than 1 s of a worker's time"):
            await digesters.digest(
                hostile(), "https://h.example/feed", "application/rss+xml", max_items=WHOLE
            )
        pool = digesters.pool
        after = await digesters.digest(good(1), "https://h.example/feed", "application/rss+xml")
        assert after is not None and len(after.entries) == 10
        assert digesters.pool is pool  # the same worker: the task stopped, not the worker
    finally:
        digesters.close()


async def test_a_worker_stuck_in_c_code_leaves():
    """A task the watcher cannot stop (C code holding the interpreter: a regular
    expression backtracking, an allocation retried forever) ends the worker by
    faulthandler's watchdog once its time and grace are spent; the pool reports
    it, instead of holding the documents queued behind it forever."""
    digesters = workers.Digesters(1, task_seconds=1)
    try:
        await digesters.digest(good(1), "https://h.example/feed", "application/rss+xml")
        assert digesters.pool is not None
        stuck = asyncio.get_running_loop().run_in_executor(
            digesters.pool, worker.task, sum, range(10**12)
        )
        with pytest.raises(BrokenProcessPool):
            await asyncio.wait_for(stuck, 30)
    finally:
        digesters.close()


async def test_closing_terminates_a_busy_worker_only(caplog):
    """A worker that ended is not taken for a busy one (the executor's thread
    reaps it too); one still digesting after the grace is terminated."""
    idle = workers.Digesters(1)
    await idle.digest(good(1), "https://h.example/feed", "application/rss+xml")
    with caplog.at_level("WARNING", logger="feedd.workers"):
        idle.close()
    assert "still busy" not in caplog.text

    busy = workers.Digesters(1, task_seconds=0)
    await busy.digest(good(1), "https://h.example/feed", "application/rss+xml")
    assert busy.pool is not None
    processes = list(busy.pool._processes.values())
    whole = asyncio.ensure_future(
        busy.digest(hostile(), "https://h.example/feed", "application/rss+xml", max_items=WHOLE)
    )
    await asyncio.sleep(1)  # reading the document whole takes ~15 s
    with caplog.at_level("WARNING", logger="feedd.workers"):
        busy.close()
    assert "still busy at close: terminated" in caplog.text
    assert not any(process.is_alive() for process in processes)
    whole.cancel()
    with suppress(asyncio.CancelledError, BrokenProcessPool, RuntimeError):
        await whole
