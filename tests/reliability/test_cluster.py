"""Several pollers on one PostgreSQL database: races, leases, politeness.

Real parts only: a throwaway PostgreSQL (tests/pgserver.py), feeds served on
127.0.0.1, and for the daemon tests `feedd run` processes. What is asserted
is counted where it happens: requests at the feed server, rows in the
database.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from feedd.config import load_config
from feedd.pipeline import Pipeline
from feedd.store import open_store
from feedd.types import Status

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from integration_support import Item, fetched, rss20

psycopg = pytest.importorskip("psycopg", reason="pip install -e '.[test]' brings psycopg")

FEEDD = str(Path(sys.executable).with_name("feedd"))
LONG_TEXT = " ".join(f"word{n} " * 2 for n in range(200))


def cluster_config(
    tmp_path: Path, url: str, feeds: list[str], extra: str = "", name: str = "feedd.toml"
) -> Path:
    lines = [
        f'database = "{url}"',
        "",
        "[fetch]",
        "allow_private_networks = true",
        'timeout = "10s"',
        "workers = 0",
        extra,
        "",
    ]
    for feed in feeds:
        lines += ["[[feeds]]", f'url = "{feed}"', ""]
    path = tmp_path / name
    path.write_text("\n".join(lines))
    return path


def query(url: str, sql: str, *params: object) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def wait_for(check: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.1)


# -- identity: the same story reaching two pollers at the same moment


@pytest.mark.parametrize("shared", ["url", "text"])
def test_the_same_story_raced_by_two_pollers_is_one_article(
    postgres_url: str, tmp_path: Path, shared: str
):
    """Each round, two pollers (two stores, two connections, two threads) store
    two feeds carrying one new story at once: by its canonical URL, or by its
    long text under two URLs. Every round ends with one article in both feeds."""
    rounds = 30
    feeds = [f"http://127.0.0.1:9/{side}{n}.xml" for n in range(rounds) for side in "ab"]
    config = load_config(cluster_config(tmp_path, postgres_url, feeds))
    setup = open_store(postgres_url)
    setup.sync_feeds(config.feeds, _now())
    setup.close()

    def body(side: str, n: int) -> bytes:
        link = f"https://news.example/story-{n}"
        if shared == "text":
            link += f"?copy={side}"  # two URLs: only the text says it is one story
        text = f"<p>Story {n}. {LONG_TEXT}</p>"
        return rss20(Item(f"{side}-{n}", f"Story {n}", link, text), title=side)

    barrier = threading.Barrier(2)
    failures: list[BaseException] = []

    def poller(side: str) -> None:
        store = open_store(postgres_url, owner=f"poller-{side}")
        pipeline = Pipeline(config, store, httpx.AsyncClient())
        try:
            for n in range(rounds):
                (feed,) = store.feeds_by_url([f"http://127.0.0.1:9/{side}{n}.xml"])
                barrier.wait(timeout=30)
                outcome = pipeline.process(feed, fetched(feed.url, body(side, n)))
                assert outcome.status is Status.OK, outcome.error
        except BaseException as exc:
            failures.append(exc)
            barrier.abort()
        finally:
            pipeline.close()
            store.close()

    threads = [threading.Thread(target=poller, args=(side,)) for side in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    assert query(postgres_url, "SELECT count(*) FROM articles") == [(rounds,)]
    per_article = query(
        postgres_url, "SELECT article_id, count(*) FROM article_feeds GROUP BY article_id"
    )
    assert sorted(count for _, count in per_article) == [2] * rounds


# -- the daemons


def _now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def pollers() -> Iterator[list[subprocess.Popen]]:
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in started:
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def start_poller(config: Path, pollers: list[subprocess.Popen]) -> subprocess.Popen:
    process = subprocess.Popen(
        [FEEDD, "run", "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"},
    )
    pollers.append(process)
    return process


def test_three_pollers_poll_each_feed_once_within_the_cluster_wide_per_host_limit(
    postgres_url: str, server, tmp_path: Path, pollers: list[subprocess.Popen]
):
    """60 feeds on one host, each answering slowly; three pollers, each allowed
    16 feeds at once but 2 per host for the whole cluster. Every feed is
    requested once (an hour's interval), never more than 2 at the same time
    at the server, and its items stored once."""
    feeds = [
        server.add(
            f"/f{n}.xml",
            rss20(Item(f"f{n}", f"Feed {n} story", f"https://news.example/f{n}", "<p>Text.</p>")),
            latency=0.15,
        )
        for n in range(60)
    ]
    extra = 'interval = "1h"\nadaptive = false\nper_host = 2\nconcurrency = 16'
    owner = cluster_config(tmp_path, postgres_url, feeds, extra)
    start_poller(owner, pollers)
    wait_for(lambda: _table_exists(postgres_url, "feeds"))
    follower = cluster_config(
        tmp_path, postgres_url, [], extra + "\n[cluster]\npoll_only = true", name="follower.toml"
    )
    for _ in range(2):
        start_poller(follower, pollers)
    wait_for(
        lambda: (
            query(postgres_url, "SELECT count(*) FROM feeds WHERE last_fetched_at IS NOT NULL")
            == [(60,)]
        ),
        timeout=90,
    )
    hits = Counter(path for path, _, _ in server.spans)
    assert {path: count for path, count in hits.items() if count != 1} == {}
    assert len(hits) == 60
    assert server.max_in_flight <= 2
    assert query(postgres_url, "SELECT count(*) FROM articles") == [(60,)]
    owners = query(postgres_url, "SELECT count(*) FROM feeds WHERE lease_owner IS NOT NULL")
    assert owners == [(0,)]  # every lease ended with its poll


def _table_exists(url: str, table: str) -> bool:
    try:
        return bool(query(url, "SELECT to_regclass(%s) IS NOT NULL", table)[0][0])
    except psycopg.Error:
        return False


def test_a_killed_pollers_feeds_are_polled_after_its_lease(
    postgres_url: str, server, tmp_path: Path, pollers: list[subprocess.Popen]
):
    """A poller is SIGKILLed while its polls are in flight (each feed answers
    after 3 s). After its lease (3 s here) another poller polls those feeds:
    every feed's story stored once, no feed left unpolled."""
    feeds = [
        server.add(
            f"/slow{n}.xml",
            rss20(Item(f"s{n}", f"Slow {n}", f"https://news.example/s{n}", "<p>Text.</p>")),
            latency=3.0,
        )
        for n in range(6)
    ]
    extra = 'interval = "1h"\nadaptive = false\nper_host = 6\n[cluster]\nlease = "3s"'
    config = cluster_config(tmp_path, postgres_url, feeds, extra)
    doomed = start_poller(config, pollers)
    wait_for(
        lambda: (
            _table_exists(postgres_url, "feeds")
            and query(postgres_url, "SELECT count(*) FROM feeds WHERE lease_owner IS NOT NULL")
            == [(6,)]
        )
    )
    wait_for(lambda: len(server.requests) == 6)  # every poll is in flight
    doomed.kill()
    doomed.wait()
    killed_at = time.monotonic()
    assert query(postgres_url, "SELECT count(*) FROM articles") == [(0,)]
    follower = cluster_config(
        tmp_path, postgres_url, [], extra.replace("[cluster]", "[cluster]\npoll_only = true"),
        name="follower.toml",
    )  # fmt: skip
    survivor = start_poller(follower, pollers)
    wait_for(
        lambda: (
            query(postgres_url, "SELECT count(*) FROM feeds WHERE last_fetched_at IS NOT NULL")
            == [(6,)]
        ),
        timeout=60,
    )
    assert query(postgres_url, "SELECT count(*) FROM articles") == [(6,)]
    survivor.send_signal(signal.SIGTERM)
    _, log = survivor.communicate(timeout=30)
    assert "lease" not in log, log  # the survivor lost none: no other poller was alive
    hits = Counter(path for path, _ in server.requests)
    assert set(hits.values()) == {2}  # the killed poll, then the follower's
    # Not before the killed poller's leases expired (3 s, renewed at most 1 s before the kill).
    second_starts = [started for _, started, _ in server.spans if started > killed_at]
    assert min(second_starts) >= killed_at + 1.5
