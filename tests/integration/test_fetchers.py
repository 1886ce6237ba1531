"""Fetching processes ([fetch] fetchers): feed requests made by child processes,
against real servers on several loopback hosts and a real SQLite file."""

from __future__ import annotations

import asyncio
import itertools
import os
import sqlite3
from pathlib import Path

import pytest
from conftest import write_config
from feedserver import FeedServer
from integration_support import RSS20_FIRST, rss20

from feedd.config import Config, load_config
from feedd.errors import BlockedAddressError, FetchError
from feedd.fetchers import FetcherLost, Fetchers, Settings, route
from feedd.pipeline import fetch_once
from feedd.types import FeedSource, Fetched, NotModified, Status

HOSTS = ("127.0.0.1", "127.0.0.2", "127.0.0.3")


@pytest.fixture
def servers():
    started = [FeedServer(host) for host in HOSTS]
    yield started
    for server in started:
        server.close()


def make_config(tmp_path: Path, urls: list[str], extra: str) -> Config:
    return load_config(write_config(tmp_path, urls, extra))


def settings(allow_private: bool = True) -> Settings:
    return Settings("feedd-test", 10.0, 4, allow_private, ())


async def test_several_processes_never_exceed_per_host_on_any_host(servers, tmp_path):
    urls = [
        server.add(f"/f{n}.xml", rss20(RSS20_FIRST, title=f"F{n}"), latency=0.2)
        for server in servers
        for n in range(4)
    ]
    config = make_config(tmp_path, urls, "fetchers = 2\nconcurrency = 16\nper_host = 1")
    outcomes = await fetch_once(config)
    assert [o.status for o in outcomes] == [Status.OK] * len(urls)
    # Each server counts the requests it answers at once: one per host, ever.
    assert [server.max_in_flight for server in servers] == [1, 1, 1]
    # ... while the hosts were fetched side by side.
    spans = sorted((start, end) for server in servers for _, start, end in server.spans)
    assert any(b_start < a_end for (_, a_end), (b_start, _) in itertools.pairwise(spans))


async def test_per_host_two_across_processes(servers, tmp_path):
    urls = [
        servers[0].add(f"/f{n}.xml", rss20(RSS20_FIRST, title=f"F{n}"), latency=0.3)
        for n in range(6)
    ]
    config = make_config(tmp_path, urls, "fetchers = 2\nper_host = 2")
    outcomes = await fetch_once(config)
    assert all(o.status is Status.OK for o in outcomes)
    assert servers[0].max_in_flight == 2


async def test_304s_are_recorded_in_batches_and_all_of_them(servers, tmp_path):
    urls = [
        server.add(f"/f{n}.xml", rss20(RSS20_FIRST, title=f"F{n}"), etag=f'"v{n}"')
        for server in servers
        for n in range(10)
    ]
    config = make_config(tmp_path, urls, "fetchers = 2")
    await fetch_once(config)
    with sqlite3.connect(config.database) as conn:
        first = dict(conn.execute("SELECT url, last_fetched_at FROM feeds"))
    outcomes = await fetch_once(config)
    assert [o.status for o in outcomes] == [Status.NOT_MODIFIED] * len(urls)
    with sqlite3.connect(config.database) as conn:
        rows = conn.execute("SELECT url, last_fetched_at, etag, last_ok_at FROM feeds").fetchall()
    assert len(rows) == len(urls)
    assert all(etag and ok for _, _, etag, ok in rows)
    assert all(first[url] is not None for url, *_ in rows)


async def test_a_child_answers_as_fetch_feed_does(servers):
    server = servers[0]
    fresh = server.add("/fresh.xml", rss20(RSS20_FIRST), etag='"e1"')
    busy = server.add("/busy.xml", status=429, headers={"Retry-After": "120"})
    pool = Fetchers(1, settings())
    pool.start()
    try:
        fetched = await pool.fetch(FeedSource(fresh), deadline=10, max_body_size=2**20)
        assert isinstance(fetched, Fetched)
        assert fetched.body == rss20(RSS20_FIRST)
        assert fetched.etag == '"e1"'
        again = await pool.fetch(FeedSource(fresh, etag='"e1"'), deadline=10, max_body_size=2**20)
        assert isinstance(again, NotModified)
        with pytest.raises(FetchError) as failed:
            await pool.fetch(FeedSource(busy), deadline=10, max_body_size=2**20)
        assert failed.value.status == 429
        assert failed.value.retry_after == "120"
        assert len(pool.pids()) == 1
        assert pool.pids()[0] != os.getpid()
    finally:
        await pool.close()


async def test_the_private_network_guard_holds_in_the_child(servers):
    url = servers[0].add("/f.xml", rss20(RSS20_FIRST))
    pool = Fetchers(1, settings(allow_private=False))
    try:
        with pytest.raises(BlockedAddressError):
            await pool.fetch(FeedSource(url), deadline=10, max_body_size=2**20)
    finally:
        await pool.close()


async def test_a_child_killed_loses_its_requests_and_is_replaced(servers):
    server = servers[0]
    slow = server.add("/slow.xml", rss20(RSS20_FIRST), latency=5)
    quick = server.add("/quick.xml", rss20(RSS20_FIRST))
    pool = Fetchers(1, settings())
    pool.start()
    try:
        request = asyncio.create_task(
            pool.fetch(FeedSource(slow), deadline=10, max_body_size=2**20)
        )
        for _ in range(100):  # until the request reached the server
            if server.requests:
                break
            await asyncio.sleep(0.05)
        (pid,) = pool.pids()
        os.kill(pid, 9)
        with pytest.raises(FetcherLost):
            await request
        # The next request starts a new child.
        assert isinstance(
            await pool.fetch(FeedSource(quick), deadline=10, max_body_size=2**20), Fetched
        )
        assert pool.pids() and pool.pids() != (pid,)
    finally:
        await pool.close()


def test_requests_of_one_host_go_to_one_child():
    assert route("http://a.example/1", 2) == route("https://a.example:8443/2", 2)
    chosen = {route(f"http://h{n}.example/", 2) for n in range(50)}
    assert chosen == {0, 1}


def test_wire_tuples_carry_every_field():
    # Requests and 304s travel as tuples of their fields in order: a field added
    # to FeedSource or NotModified must come through, or this fails.
    from dataclasses import fields

    from feedd.fetchers import NOT_MODIFIED, _not_modified, _Request

    source = FeedSource(
        "http://a.test/f", "e", "lm", "h", "http://b.test/f", (("x-k", "v"),), ("u", "p")
    )
    assert len(fields(FeedSource)) == 7
    request = _Request(7, source, 12.5, 1024)
    assert _Request.of_wire(request.wire()) == request
    answer = NotModified("http://a.test/f", 304, "e", "lm", (("cache-control", "x"),), "m")
    assert len(fields(NotModified)) == 6
    wired = _not_modified(3, answer)
    assert wired[:2] == (3, NOT_MODIFIED)
    assert NotModified(*wired[2:]) == answer
