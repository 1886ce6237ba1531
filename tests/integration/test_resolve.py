"""Link resolution against a real HTTP server: redirect chains, pages that
redirect, failures, the links cache, and what ends up in articles.url.

Two host names reach the one loopback server: short links live on
``localhost`` (configured as a shortener), articles on ``127.0.0.1``.
"""

from __future__ import annotations

import asyncio
import tracemalloc
import zlib

import httpx
import pytest
from conftest import write_config
from feedserver import FeedServer
from integration_support import Item, fetched, rows, rss20, scalar

from feedd import fetch
from feedd.config import Config, LinksConfig, load_config
from feedd.pipeline import LinkResolver, Pipeline, fetch_once, open_store

LINKS = '[links]\nshorteners = ["localhost"]\n'


def short(server: FeedServer, path: str) -> str:
    return f"http://localhost:{server.port}{path}"


def make_config(tmp_path, urls, links: str = LINKS) -> Config:
    return load_config(write_config(tmp_path, urls, links))


def settings(**changes) -> LinksConfig:
    base = {
        "resolve": "shorteners",
        "shorteners": frozenset({"localhost"}),
        "max_hops": 8,
        "timeout": 10.0,
        "concurrency": 4,
        "per_host": 2,
    }
    return LinksConfig(**{**base, **changes})


def feedd_client(*, allow_private: bool) -> httpx.AsyncClient:
    """The client feedd builds, with its guard on the addresses dialled."""
    return fetch.make_client(
        user_agent="feedd-tests", timeout=5.0, concurrency=4,
        guard=fetch.Guard(allow_private=allow_private),
    )  # fmt: skip


async def resolve(url: str, **changes):
    async with feedd_client(allow_private=True) as client:
        resolver = LinkResolver(client, settings(**changes))
        return await resolver.resolve(url)


def requests_to(server: FeedServer, prefix: str) -> int:
    return sum(1 for path, _ in server.requests if path.startswith(prefix))


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_each_redirect_status_is_followed(server: FeedServer, status):
    article = server.add("/article", "<html><body>story</body></html>", content_type="text/html")
    link = server.add("/s/1", status=status, location=article)
    result = await resolve(link)
    assert (result.outcome, result.resolved_url) == ("ok", article)
    assert [hop.status for hop in result.hops] == [status, 200]
    assert result.permanent is (status in (301, 308))


async def test_a_chain_through_two_shorteners(server: FeedServer):
    article = server.add("/story", "<html>story</html>", content_type="text/html")
    second = server.add("/two/x", status=302, location=article)
    first = server.add("/one/x", status=301, location=second)
    result = await resolve(first)
    assert result.outcome == "ok"
    assert result.resolved_url == article
    assert [(hop.url, hop.status, hop.location) for hop in result.hops] == [
        (first, 301, second),
        (second, 302, article),
        (article, 200, None),
    ]
    assert result.permanent is False


async def test_meta_refresh_and_script_redirects(server: FeedServer):
    article = server.add("/story", "<html>story</html>", content_type="text/html")
    script = server.add(
        "/js",
        f'<html><script>location.replace("{article}")</script></html>',
        content_type="text/html",
    )
    meta = server.add(
        "/meta",
        f'<html><head><meta http-equiv="refresh" content="0; url={script}"></head></html>',
        content_type="text/html",
    )
    result = await resolve(meta)
    assert (result.outcome, result.resolved_url) == ("ok", article)
    assert [hop.url for hop in result.hops] == [meta, script, article]


async def test_head_refused_falls_back_to_get(server: FeedServer):
    article = server.add("/story", "<html>story</html>", content_type="text/html")
    link = server.add("/s/get-only", status=302, location=article, head_status=405)
    result = await resolve(link)
    assert (result.outcome, result.resolved_url) == ("ok", article)
    assert server.methods_for("/s/get-only") == ["HEAD", "GET"]


async def test_a_page_declaring_a_canonical_url_on_the_same_site(server: FeedServer):
    canonical = server.url("/2024/story")
    page = server.add(
        "/amp/story",
        f'<html><head><link rel="canonical" href="{canonical}"></head></html>',
        content_type="text/html",
    )
    result = await resolve(server.add("/s/c", status=301, location=page))
    assert result.resolved_url == canonical
    # Another site's canonical link is not believed.
    elsewhere = server.add(
        "/amp/other",
        '<html><head><link rel="canonical" href="https://elsewhere.example/x"></head></html>',
        content_type="text/html",
    )
    assert (await resolve(elsewhere)).resolved_url == elsewhere


async def test_a_loop(server: FeedServer):
    server.add("/a", status=302, location=server.url("/b"))
    server.add("/b", status=302, location=server.url("/a"))
    result = await resolve(server.url("/a"))
    assert result.outcome == "loop"
    assert result.resolved_url == server.url("/a")


async def test_too_many_hops(server: FeedServer):
    for n in range(6):
        server.add(f"/h{n}", status=301, location=server.url(f"/h{n + 1}"))
    server.add("/h6", "<html>end</html>", content_type="text/html")
    result = await resolve(server.url("/h0"), max_hops=3)
    assert result.outcome == "too_many_hops"
    assert len(result.hops) == 4
    assert requests_to(server, "/h4") == 0
    assert (await resolve(server.url("/h0"), max_hops=8)).outcome == "ok"


async def test_a_404_at_the_end_keeps_the_address_reached(server: FeedServer):
    gone = server.url("/deleted-story")
    link = server.add("/s/gone", status=301, location=gone)
    result = await resolve(link)
    assert result.outcome == "not_found"
    assert result.resolved_url == gone
    assert result.status == 404


async def test_a_private_address_is_blocked():
    async with feedd_client(allow_private=False) as client:
        resolver = LinkResolver(client, settings())
        result = await resolver.resolve("http://127.0.0.1:9/x")
    assert result.outcome == "blocked"
    assert "private address" in (result.error or "")


async def test_the_deadline_covers_the_whole_chain(server: FeedServer):
    server.add("/slow", "<html>" + "x" * 4000, content_type="text/html", delay=0.5, chunk=100)
    result = await resolve(
        server.add("/s/slow", status=302, location=server.url("/slow")), timeout=1.0
    )
    assert result.outcome == "timeout"


# -- through the pipeline


def test_short_links_are_stored_as_the_real_clean_url(server: FeedServer, tmp_path):
    article = server.url("/world/story-1?id=42&utm_source=feed&utm_medium=rss")
    server.add("/world/story-1", "<html>story</html>", content_type="text/html")
    link = server.add("/s/abc", status=301, location=article)
    feed = server.add("/feed.xml", rss20(Item("g1", "Story one", short(server, "/s/abc"))))
    assert link.endswith("/s/abc")
    config = make_config(tmp_path, [feed])
    [outcome] = asyncio.run(fetch_once(config))
    assert outcome.new == 1, outcome
    [article_row] = rows(config.database, "SELECT url FROM articles")
    assert article_row["url"] == server.url("/world/story-1?id=42")
    [feed_item] = rows(config.database, "SELECT link FROM article_feeds")
    assert feed_item["link"] == short(server, "/s/abc")  # as the feed gave it
    [cached] = rows(config.database, "SELECT * FROM links")
    assert cached["url"] == short(server, "/s/abc")
    assert (cached["outcome"], cached["http_status"], cached["hops"]) == ("ok", 200, 1)


def test_the_same_story_through_a_short_link_and_directly_is_one_article(
    server: FeedServer, tmp_path
):
    server.add("/news/big-story", "<html>story</html>", content_type="text/html")
    server.add("/s/big", status=301, location=server.url("/news/big-story?utm_campaign=x"))
    applet = server.add("/applet.xml", rss20(Item("a1", "Big story", short(server, "/s/big"))))
    direct = server.add(
        "/direct.xml",
        rss20(Item("d1", "Big story", server.url("/news/big-story#comments"))),
    )
    config = make_config(tmp_path, [applet, direct])
    outcomes = asyncio.run(fetch_once(config))
    assert sorted((o.new, o.linked) for o in outcomes) == [(0, 1), (1, 0)]
    assert scalar(config.database, "SELECT count(*) FROM articles") == 1
    assert scalar(config.database, "SELECT count(*) FROM article_feeds") == 2


def test_the_cache_means_no_request_the_second_time(server: FeedServer, tmp_path):
    server.add("/story", "<html>story</html>", content_type="text/html")
    server.add("/s/1", status=301, location=server.url("/story"))
    first = server.add("/one.xml", rss20(Item("x1", "Story", short(server, "/s/1"))))
    config = make_config(tmp_path, [first])
    asyncio.run(fetch_once(config))
    resolving = requests_to(server, "/s/") + requests_to(server, "/story")
    assert resolving >= 2

    # A second feed with the same short link, and the first feed changed
    # (so it is parsed again): the cache answers, no request is made.
    second = server.add("/two.xml", rss20(Item("y1", "Story", short(server, "/s/1"))))
    server.add(
        "/one.xml",
        rss20(Item("x1", "Story", short(server, "/s/1")), Item("x2", "Other", server.url("/o"))),
    )
    config = make_config(tmp_path, [first, second])
    outcomes = asyncio.run(fetch_once(config))
    assert requests_to(server, "/s/") + requests_to(server, "/story") == resolving
    assert sum(o.linked for o in outcomes) == 1
    assert scalar(config.database, "SELECT count(*) FROM articles") == 2


def test_a_failed_resolution_still_stores_the_article(server: FeedServer, tmp_path):
    server.add("/s/dead", status=301, location=server.url("/removed"))
    feed = server.add("/feed.xml", rss20(Item("g", "Dead link", short(server, "/s/dead"))))
    config = make_config(tmp_path, [feed])
    [outcome] = asyncio.run(fetch_once(config))
    assert outcome.new == 1
    assert scalar(config.database, "SELECT url FROM articles") == server.url("/removed")
    cached = rows(config.database, "SELECT outcome, failures, error FROM links")
    assert cached == [{"outcome": "not_found", "failures": 1, "error": "HTTP 404"}]


def test_blocked_links_are_recorded_and_the_article_kept(server: FeedServer, tmp_path):
    """With private networks refused, a link into one is not followed.

    The feed itself must come from loopback here, so the pipeline is driven
    step by step: the body is handed over as fetch would, then prepare,
    resolve and finish run as poll runs them.
    """

    body = rss20(Item("g", "Inside", "http://localhost:9/s/private"))
    path = write_config(tmp_path, ["https://feeds.example/f.xml"], LINKS)
    path.write_text(path.read_text().replace("allow_private_networks = true", ""))
    config = load_config(path)
    assert config.fetch.allow_private_networks is False

    async def run():
        store = open_store(config)
        async with feedd_client(allow_private=False) as client:
            pipeline = Pipeline(config, store, client)
            [feed] = store.feeds_by_url(["https://feeds.example/f.xml"])
            answer = fetched(feed.url, body)
            prepared = pipeline.prepare(feed, answer)
            assert prepared.to_resolve == ("http://localhost:9/s/private",)
            resolutions = await pipeline.resolver.resolve_all(prepared.to_resolve)
            outcome = pipeline.finish(feed, answer, prepared, resolutions, 0.0)
            pipeline.close()
        store.close()
        return outcome

    outcome = asyncio.run(run())
    assert outcome.new == 1
    assert scalar(config.database, "SELECT url FROM articles") == "http://localhost:9/s/private"
    assert scalar(config.database, "SELECT outcome FROM links") == "blocked"


async def test_the_refresh_header(server: FeedServer):
    article = server.add("/story", "<html>story</html>", content_type="text/html")
    link = server.add(
        "/s/refresh",
        "<html></html>",
        content_type="text/html",
        headers={"Refresh": f"0; url={article}"},
    )
    result = await resolve(link)
    assert (result.outcome, result.resolved_url) == ("ok", article)
    assert result.permanent is False


def test_resolve_all_follows_links_of_any_host_once(server: FeedServer, tmp_path):
    server.add("/story", "<html>story</html>", content_type="text/html")
    server.add("/wrapped", status=302, location=server.url("/story?utm_source=x"))
    feed = server.add("/f.xml", rss20(Item("g", "Story", server.url("/wrapped"))))
    config = make_config(tmp_path, [feed], '[links]\nresolve = "all"\n')
    asyncio.run(fetch_once(config))
    assert scalar(config.database, "SELECT url FROM articles") == server.url("/story")
    assert requests_to(server, "/wrapped") >= 1


def test_a_feed_can_turn_resolution_off(server: FeedServer, tmp_path):
    server.add("/s/x", status=301, location=server.url("/story"))
    feed = server.add("/f.xml", rss20(Item("g", "Story", short(server, "/s/x"))))
    path = write_config(tmp_path, [feed], LINKS, resolve='"off"')
    config = load_config(path)
    assert config.feeds[0].resolve == "off"
    asyncio.run(fetch_once(config))
    assert requests_to(server, "/s/") == 0
    assert scalar(config.database, "SELECT url FROM articles") == short(server, "/s/x")
    assert scalar(config.database, "SELECT count(*) FROM links") == 0


async def test_requests_reuse_connections(server: FeedServer):
    # HEAD responses must be read to their (empty) end, or every one of them
    # costs a new connection (found by bench/resolve_bench.py: 30,000 for 40,000).
    article = server.add("/story", "<html>story</html>", content_type="text/html")
    links = [server.add(f"/s/{n}", status=301, location=article) for n in range(10)]
    async with feedd_client(allow_private=True) as client:
        resolver = LinkResolver(client, settings(per_host=1))
        results = [await resolver.resolve(link) for link in links]
    assert {r.outcome for r in results} == {"ok"}
    assert len(server.requests) == 30  # HEAD on the link; HEAD and GET on the page
    assert server.connections == 1


async def test_a_compressed_bomb_page_is_read_only_to_the_prefix(server: FeedServer):
    # 64 MiB of zeros behind a shortener: the resolver reads at most its page prefix.
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1 << 20)
    bomb = b"".join(compressor.compress(block) for _ in range(64)) + compressor.flush()
    page = server.add("/bomb", bomb, content_type="text/html", headers={"Content-Encoding": "gzip"})
    link = server.add("/s/bomb", status=301, location=page)
    tracemalloc.start()
    try:
        result = await resolve(link)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (result.outcome, result.resolved_url) == ("ok", page)
    assert peak < 16 * 2**20, f"peak {peak / 2**20:.1f} MiB"
