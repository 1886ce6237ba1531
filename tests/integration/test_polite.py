"""Polite fetching through the whole pipeline: Retry-After, 410, moves, backoff,
the per-host limit, per-feed headers and credentials, adaptive intervals.

Each test polls real feeds on a real server (127.0.0.1) into a real database
with fetch_once, and reads the schedule back from the feeds table.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from conftest import write_config
from feedserver import FeedServer
from integration_support import RSS20_FIRST, Item, one, rss20

from feedd.config import Config, load_config
from feedd.pipeline import MOVED_AFTER, fetch_once
from feedd.schedule import MAX_BACKOFF
from feedd.store.sqlite import SQLiteStore as Store
from feedd.types import Status, parse_timestamp

HOUR = 3600.0


def make_config(tmp_path: Path, urls: list[str], extra: str = "", **options: str) -> Config:
    return load_config(write_config(tmp_path, urls, extra, **options))


def feed_row(config: Config, url: str) -> dict[str, object]:
    return one(config.database, "SELECT * FROM feeds WHERE url = ?", url)


def wait_seconds(config: Config, url: str) -> float:
    """How long after its last fetch the feed is due again."""
    row = feed_row(config, url)
    due = parse_timestamp(str(row["next_fetch_at"]))
    fetched = parse_timestamp(str(row["last_fetched_at"]))
    assert due is not None and fetched is not None
    return (due - fetched).total_seconds()


def hourly_items(count: int, *, now: datetime, gap: timedelta) -> list[Item]:
    return [
        Item(
            guid=f"post-{n}",
            title=f"Post {n}",
            link=f"https://rss.example/{n}",
            pub_date=format_datetime(now - gap * n, usegmt=True),
        )
        for n in range(count)
    ]


# -- errors: Retry-After, 503, 410, backoff


async def test_429_retry_after_seconds_is_honoured(server: FeedServer, tmp_path: Path):
    url = server.add("/feed.xml", status=429, headers={"Retry-After": "7200"})
    config = make_config(tmp_path, [url], 'interval = "1m"')
    (outcome,) = await fetch_once(config)
    assert (outcome.status, outcome.http_status) == (Status.FAILED, 429)
    # Backoff alone would say 2 minutes; the server asked for 2 hours.
    assert 7200 <= wait_seconds(config, url) <= 7200 * 1.1 + 1


async def test_503_retry_after_http_date_is_honoured(server: FeedServer, tmp_path: Path):
    when = datetime.now(UTC) + timedelta(hours=3)
    url = server.add(
        "/feed.xml", status=503, headers={"Retry-After": format_datetime(when, usegmt=True)}
    )
    config = make_config(tmp_path, [url], 'interval = "1m"')
    (outcome,) = await fetch_once(config)
    assert outcome.http_status == 503
    assert 3 * HOUR - 5 <= wait_seconds(config, url) <= 3 * HOUR * 1.1 + 5
    assert feed_row(config, url)["state"] == "failing"


async def test_503_without_retry_after_backs_off(server: FeedServer, tmp_path: Path):
    url = server.add("/feed.xml", status=503)
    config = make_config(tmp_path, [url], 'interval = "10m"')
    await fetch_once(config)
    assert 1200 * 0.9 <= wait_seconds(config, url) <= 1200 * 1.1 + 1  # 10 min x 2^1


async def test_retry_after_on_other_statuses_is_ignored(server: FeedServer, tmp_path: Path):
    url = server.add("/feed.xml", status=500, headers={"Retry-After": "86400"})
    config = make_config(tmp_path, [url], 'interval = "10m"')
    await fetch_once(config)
    assert wait_seconds(config, url) < 2 * 1200


async def test_backoff_grows_and_is_capped(server: FeedServer, tmp_path: Path):
    url = server.add("/feed.xml", status=500)
    config = make_config(tmp_path, [url], 'interval = "1h"\nmax_interval = "1h"')
    waits = []
    for _ in range(7):
        await fetch_once(config)
        waits.append(wait_seconds(config, url))
    expected = [min(HOUR * 2**n, MAX_BACKOFF) for n in range(1, 8)]
    for wait, want in zip(waits, expected, strict=True):
        assert want * 0.9 - 1 <= wait <= want * 1.1 + 1, (waits, expected)
    assert feed_row(config, url)["error_count"] == 7


async def test_410_gone_stops_polling_until_the_config_changes(
    server: FeedServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    gone = server.add("/gone.xml", status=410)
    alive = server.add("/alive.xml", rss20(RSS20_FIRST))
    config = make_config(tmp_path, [gone, alive])
    with caplog.at_level(logging.WARNING, logger="feedd"):
        outcomes = await fetch_once(config)
    assert [o.http_status for o in outcomes] == [410, 200]
    row = feed_row(config, gone)
    assert (row["state"], row["next_fetch_at"], row["last_status"]) == ("gone", None, 410)
    assert any("is gone" in r.getMessage() for r in caplog.records)
    with Store(config.database) as store:
        due = store.due_feeds(datetime.now(UTC) + timedelta(days=30), 10)
    assert [feed.url for feed in due] == [alive]
    # `feedd fetch` without names skips it too; naming it tries it.
    assert [o.url for o in await fetch_once(config)] == [alive]
    assert len(server.hits("/gone.xml")) == 1
    await fetch_once(config, [gone])
    assert len(server.hits("/gone.xml")) == 2
    # Editing the feed's entry (here: a name) gives it another chance.
    config_path = write_config(tmp_path, [gone, alive], name='"Renamed"')
    config = load_config(config_path)
    with Store(config.database) as store:
        store.sync_feeds(config.feeds, datetime.now(UTC))
    row = feed_row(config, gone)
    assert (row["state"], row["next_fetch_at"]) == ("new", None)


# -- redirects: 301/308 move the feed after several fetches; 302/307 never


@pytest.mark.parametrize("status", [301, 308])
async def test_repeated_permanent_redirect_moves_the_feed(
    server: FeedServer, tmp_path: Path, status: int, caplog: pytest.LogCaptureFixture
):
    new = server.add("/new.xml", rss20(RSS20_FIRST), etag='"v1"')
    old = server.add("/old.xml", status=status, location="/new.xml")
    config = make_config(tmp_path, [old])
    for fetches in range(1, MOVED_AFTER):
        await fetch_once(config)
        row = feed_row(config, old)
        assert (row["final_url"], row["moved_to"], row["moved_count"]) == (None, new, fetches)
    with caplog.at_level(logging.WARNING, logger="feedd"):
        (outcome,) = await fetch_once(config)  # a 304 via the redirect counts too
    assert outcome.status is Status.NOT_MODIFIED
    row = feed_row(config, old)
    assert (row["url"], row["final_url"], row["moved_count"]) == (old, new, 0)
    assert any("moved permanently" in r.getMessage() for r in caplog.records)
    health = one(config.database, "SELECT final_url FROM feed_health WHERE url = ?", old)
    assert health["final_url"] == new
    # From now on the new address is asked directly.
    await fetch_once(config)
    assert len(server.hits("/old.xml")) == MOVED_AFTER
    assert len(server.hits("/new.xml")) == MOVED_AFTER + 1


@pytest.mark.parametrize("status", [302, 307])
async def test_temporary_redirect_never_moves_the_feed(
    server: FeedServer, tmp_path: Path, status: int
):
    server.add("/new.xml", rss20(RSS20_FIRST))
    old = server.add("/old.xml", status=status, location="/new.xml")
    config = make_config(tmp_path, [old])
    for _ in range(MOVED_AFTER + 1):
        await fetch_once(config)
    row = feed_row(config, old)
    assert (row["final_url"], row["moved_to"], row["moved_count"]) == (None, None, 0)
    assert len(server.hits("/old.xml")) == MOVED_AFTER + 1


async def test_a_move_interrupted_starts_counting_again(server: FeedServer, tmp_path: Path):
    server.add("/new.xml", rss20(RSS20_FIRST))
    old = server.add("/old.xml", status=301, location="/new.xml")
    config = make_config(tmp_path, [old])
    await fetch_once(config)
    server.add("/old.xml", rss20(RSS20_FIRST))  # the old address answers again
    await fetch_once(config)
    row = feed_row(config, old)
    assert (row["final_url"], row["moved_to"], row["moved_count"]) == (None, None, 0)


# -- the per-host limit


@pytest.mark.parametrize(("per_host", "most"), [(1, 1), (2, 2), (6, 6)])
async def test_per_host_limit(server: FeedServer, tmp_path: Path, per_host: int, most: int):
    urls = [
        server.add(f"/f{n}.xml", rss20(RSS20_FIRST, title=f"F{n}"), latency=0.3) for n in range(6)
    ]
    config = make_config(tmp_path, urls, f"concurrency = 16\nper_host = {per_host}")
    outcomes = await fetch_once(config)
    assert all(o.status is Status.OK for o in outcomes)
    # The server counts the requests it answers at once.
    assert server.max_in_flight == most


async def test_per_host_limit_leaves_other_hosts_alone(server: FeedServer, tmp_path: Path):
    # 127.0.0.1 and localhost are different hosts to the limiter (same server here).
    urls = []
    for n in range(2):
        urls.append(server.add(f"/a{n}.xml", rss20(RSS20_FIRST, title=f"A{n}"), latency=0.3))
        path = f"/b{n}.xml"
        server.add(path, rss20(RSS20_FIRST, title=f"B{n}"), latency=0.3)
        urls.append(f"http://localhost:{server.port}{path}")
    config = make_config(tmp_path, urls, "per_host = 1")
    await fetch_once(config)
    assert server.max_in_flight == 2


# -- per-feed headers and basic auth


async def test_headers_and_basic_auth_go_to_the_feed_only(
    server: FeedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    (tmp_path / "api-key").write_text("k-123\n")
    monkeypatch.setenv("FEED_PASSWORD", "s3cret")
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    # The feed redirects to another host (localhost vs 127.0.0.1): no secrets there.
    elsewhere = f"http://localhost:{server.port}/elsewhere.xml"
    server.add("/elsewhere.xml", rss20(RSS20_FIRST))
    url = server.add("/private.xml", status=302, location=elsewhere)
    config = make_config(
        tmp_path,
        [url],
        headers='{ "X-Api-Key" = { file = "api-key" }, "Accept-Language" = "fr" }',
        username='"reader"',
        password='{ env = "FEED_PASSWORD" }',  # noqa: S106 - where the password is, not it
    )
    (outcome,) = await fetch_once(config)
    assert outcome.status is Status.OK
    (asked,) = server.hits("/private.xml")
    assert asked["x-api-key"] == "k-123"
    assert asked["accept-language"] == "fr"
    assert asked["authorization"] == "Basic cmVhZGVyOnMzY3JldA=="  # reader:s3cret
    (redirected,) = server.hits("/elsewhere.xml")
    assert not {"x-api-key", "authorization", "accept-language"} & set(redirected)
    # Nothing secret lands in the database.
    dump = "\n".join(str(v) for v in feed_row(config, url).values())
    assert "s3cret" not in dump
    assert "k-123" not in dump


async def test_wrong_credentials_fail_the_feed(server: FeedServer, tmp_path: Path):
    url = server.add("/private.xml", status=401, headers={"WWW-Authenticate": 'Basic realm="x"'})
    config = make_config(tmp_path, [url])
    (outcome,) = await fetch_once(config)
    assert (outcome.status, outcome.http_status) == (Status.FAILED, 401)


# -- adaptive intervals


async def test_interval_follows_the_posting_rhythm(server: FeedServer, tmp_path: Path):
    now = datetime.now(UTC)
    hourly = server.add("/hourly.xml", rss20(*hourly_items(10, now=now, gap=timedelta(hours=1))))
    weekly = server.add("/weekly.xml", rss20(*hourly_items(10, now=now, gap=timedelta(days=7))))
    undated = server.add(
        "/undated.xml", rss20(Item("u", "U", "https://rss.example/u", pub_date=""))
    )
    config = make_config(tmp_path, [hourly, weekly, undated])
    await fetch_once(config)
    intervals = {
        url: feed_row(config, url)["poll_interval_seconds"] for url in (hourly, weekly, undated)
    }
    # Half the hourly gap; the weekly feed at the 1-day ceiling; no dates: the configured 30 min.
    assert intervals == {hourly: 1800, weekly: 86400, undated: 1800}
    assert feed_row(config, hourly)["posting_gap_seconds"] == pytest.approx(HOUR, abs=1)
    assert 1800 * 0.9 <= wait_seconds(config, hourly) <= 1800 * 1.1 + 1


async def test_own_interval_pins_the_feed(server: FeedServer, tmp_path: Path):
    now = datetime.now(UTC)
    url = server.add("/weekly.xml", rss20(*hourly_items(10, now=now, gap=timedelta(days=7))))
    config = make_config(tmp_path, [url], interval='"20m"')
    await fetch_once(config)
    assert feed_row(config, url)["poll_interval_seconds"] == 1200


async def test_feed_ttl_and_cache_control_lengthen_the_interval(server: FeedServer, tmp_path: Path):
    now = datetime.now(UTC)
    body = rss20(*hourly_items(10, now=now, gap=timedelta(hours=1)))
    with_ttl = server.add("/ttl.xml", body.replace(b"<language>", b"<ttl>180</ttl><language>"))
    cached = server.add(
        "/cached.xml", body, etag='"v1"', headers={"Cache-Control": "public, max-age=14400"}
    )
    config = make_config(tmp_path, [with_ttl, cached], interval='"10m"')
    await fetch_once(config)
    assert feed_row(config, with_ttl)["poll_interval_seconds"] == 3 * 3600
    assert feed_row(config, cached)["poll_interval_seconds"] == 4 * 3600
    # A 304 carries the hint too.
    (outcome,) = await fetch_once(config, [cached])
    assert outcome.status is Status.NOT_MODIFIED
    assert feed_row(config, cached)["poll_interval_seconds"] == 4 * 3600


async def test_adaptive_off_keeps_the_configured_interval(server: FeedServer, tmp_path: Path):
    now = datetime.now(UTC)
    url = server.add("/hourly.xml", rss20(*hourly_items(10, now=now, gap=timedelta(hours=1))))
    config = make_config(tmp_path, [url], 'adaptive = false\ninterval = "45m"')
    await fetch_once(config)
    assert feed_row(config, url)["poll_interval_seconds"] == 2700
