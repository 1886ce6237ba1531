"""The worker processes (workers.Digesters): the same results as this process, a dead
worker replaced, and no worker outliving a daemon killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import write_config
from integration_support import Item, rss20

from feedd import digest, workers
from feedd.config import load_config
from feedd.pipeline import (
    WORKERS_AFTER_BODIES,
    Pipeline,
    fetch_once,
    make_client,
    make_digesters,
    make_guard,
    open_store,
)
from feedd.store.sqlite import SQLiteStore as Store
from feedd.types import Status

FEEDD = str(Path(sys.executable).parent / "feedd")
FEED_URL = "https://blog.example/feed.xml"


def document(n: int, words: int = 80) -> bytes:
    text = " ".join(f"word{(n * 7 + i) % 997}" for i in range(words))
    return rss20(
        *(
            Item(
                title=f"Story {n}-{i}",
                link=f"/posts/{n}/{i}?utm_source=rss",
                description=f"<p>{text} <img src='/pixel.gif' width='1' height='1'></p>",
                guid=f"g-{n}-{i}",
            )
            for i in range(5)
        )
    )


async def test_workers_digest_as_this_process_does():
    digesters = workers.Digesters(2)
    try:
        for n in range(4):
            body = document(n)
            here = digest.digest(body, FEED_URL, "application/rss+xml")
            there = await digesters.digest(body, FEED_URL, "application/rss+xml")
            assert there is not None and there == here
            assert there.entries[0].url == f"https://blog.example/posts/{n}/0"
            assert all(s is not None for s in there.signatures)
    finally:
        digesters.close()


async def test_a_worker_keeps_max_items_of_a_document():
    digesters = workers.Digesters(1)
    try:
        there = await digesters.digest(document(0), FEED_URL, "application/rss+xml", None, 2)
        assert there is not None
        assert (len(there.entries), there.feed.dropped_items) == (2, 3)
        assert there == digest.digest(document(0), FEED_URL, "application/rss+xml", None, 2)
    finally:
        digesters.close()


async def test_a_parse_error_comes_back_from_the_worker():
    digesters = workers.Digesters(1)
    try:
        try:
            await digesters.digest(b"<html><body>no feed</body></html>", FEED_URL, "text/html")
        except Exception as exc:
            assert type(exc).__name__ == "ParseError"
        else:
            raise AssertionError("no ParseError")
    finally:
        digesters.close()


async def test_a_killed_worker_is_replaced():
    digesters = workers.Digesters(1)
    try:
        await digesters.digest(document(1), FEED_URL, None)
        assert digesters.pool is not None
        for pid in list(digesters.pool._processes):
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
        # The body the dead worker would have had goes to new workers (never to
        # the caller: a body that kills workers must not reach the daemon).
        first = await digesters.digest(document(2), FEED_URL, None)
        assert first is not None and len(first.entries) == 5
        second = await digesters.digest(document(3), FEED_URL, None)
        assert second is not None and len(second.entries) == 5
        assert digesters.pool is not None
    finally:
        digesters.close()


def session_processes(session: int) -> list[int]:
    """Live (not zombie) processes of a session."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[3]) == session:
            found.append(int(entry.name))
    return found


def test_no_worker_outlives_a_killed_daemon(server, tmp_path):
    urls = [server.add(f"/f{n}.xml", document(n)) for n in range(24)]
    config = write_config(tmp_path, urls, "workers = 2")
    daemon = subprocess.Popen(
        [FEEDD, "run", "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if (tmp_path / "feedd.db").exists():
                store = Store(tmp_path / "feedd.db")
                try:
                    stored = store.count("articles")
                finally:
                    store.close()
                if stored and len(session_processes(daemon.pid)) > 2:
                    break
            time.sleep(0.1)
        workers = [p for p in session_processes(daemon.pid) if p != daemon.pid]
        assert len(workers) >= 2, "the workers did not start"
    finally:
        daemon.send_signal(signal.SIGKILL)
        daemon.wait()
    deadline = time.monotonic() + 10
    while session_processes(daemon.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert session_processes(daemon.pid) == []


async def test_without_workers_or_before_start_after_the_caller_digests():
    assert await workers.Digesters(0).digest(document(1), FEED_URL, None) is None
    digesters = workers.Digesters(1, start_after=2)
    try:
        assert await digesters.digest(document(1), FEED_URL, None) is None
        assert await digesters.digest(document(2), FEED_URL, None) is None
        assert digesters.pool is None  # not started for the first two
        assert await digesters.digest(document(3), FEED_URL, None) is not None
    finally:
        digesters.close()


async def test_feedd_fetch_settles_bodies_that_changed_nothing_without_workers(server, tmp_path):
    """`feedd fetch` tries the pre-scan itself first: a poll whose bodies changed in
    nothing feedparser would show (a new lastBuildDate) starts no worker process,
    and stores what the workers' digest would (nothing new, every item kept)."""
    count = WORKERS_AFTER_BODIES + 4
    urls = [server.add(f"/f{n}.xml", document(n)) for n in range(count)]
    config = load_config(write_config(tmp_path, urls, "workers = 1"))
    cold = await fetch_once(config)
    assert [o.new for o in cold] == [5] * count
    for n in range(count):
        touched = document(n).replace(
            b"<channel>", b"<channel><lastBuildDate>Mon, 07 Dec 2026 10:00:00 GMT</lastBuildDate>"
        )
        server.add(f"/f{n}.xml", touched)
    store = open_store(config)
    digesters = make_digesters(config, start_after=WORKERS_AFTER_BODIES)
    assert digesters is not None
    try:
        guard = make_guard(config)
        async with make_client(config, guard) as client:
            pipeline = Pipeline(config, store, client, guard, digesters)
            try:
                outcomes = await pipeline.poll_many(store.feeds_by_url(urls))
            finally:
                pipeline.close()
        assert [(o.status, o.new) for o in outcomes] == [(Status.OK, 0)] * count
        assert digesters.bodies == 0  # none handed to the workers' side: none started
        assert store.count("articles") == 5 * count
    finally:
        store.close()


def test_a_spawned_worker_does_not_import_the_cli():
    """A spawned process runs the main script's top level again (as __mp_main__,
    multiprocessing.spawn): the `feedd` script must leave the CLI (httpx, click,
    apscheduler; ~12 MB) out of every worker. Done here as spawn does it."""
    code = (
        "import runpy, sys; runpy.run_path(sys.argv[1], run_name='__mp_main__'); "
        "print(sorted(m for m in ('apscheduler', 'click', 'feedd.cli', 'httpx') "
        "if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, FEEDD], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]", result.stdout


def test_the_daemon_process_does_not_load_the_parser():
    """`feedd run` (the CLI, every subcommand registered, and the daemon) leaves
    feedparser, lxml and dateutil to the workers: a few MB of every daemon."""
    code = (
        "import sys, feedd.cli, feedd.daemon; "
        "print(sorted(m for m in ('feedparser', 'lxml', 'dateutil') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]", result.stdout
