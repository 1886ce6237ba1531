"""Article pages ([fulltext]) end to end: a real server on 127.0.0.1 serving
feeds and real article pages (four of the article-extraction benchmark's, in
tests/data/article-extraction), fetch_once, a real SQLite file."""

from __future__ import annotations

import gzip
import json
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import write_config
from feedserver import FeedServer
from integration_support import Item, one, rows, rss20, scalar

from feedd.config import Config, load_config
from feedd.pipeline import fetch_once
from feedd.store.sqlite import SQLiteStore
from feedd.types import PageResult, Status, parse_timestamp

DATA = Path(__file__).parents[1] / "data" / "article-extraction"
TRUTH = json.loads((DATA / "ground-truth.json").read_text())
HTML = "text/html; charset=utf-8"


def page(key: str) -> tuple[bytes, str]:
    """A benchmark page's HTML, and the start of its annotated article text."""
    (name,) = [n for n in TRUTH if n.startswith(key)]
    body = gzip.decompress((DATA / f"{name}.html.gz").read_bytes())
    return body, TRUTH[name]["articleBody"]


AFGHANISTAN, AFGHANISTAN_TEXT = page("7916ecca")
EXPAPP, EXPAPP_TEXT = page("4648a420")
AMSTERDAM, AMSTERDAM_TEXT = page("33fe2471")


def teaser(text: str, link: str) -> str:
    """RT's shape: the article's first words, then a "Read Full Article at RT.com" link."""
    first = " ".join(text.split()[:30])
    return f'<p>{first}</p><p><a href="{link}">Read Full Article at RT.com</a></p>'


def config_for(tmp_path: Path, urls: list[str], extra: str = "", **feed: str) -> Config:
    return load_config(write_config(tmp_path, urls, extra, **feed))


def articles(config: Config) -> list[dict[str, object]]:
    return rows(config.database, "SELECT * FROM articles ORDER BY id")


def pages(config: Config) -> list[dict[str, object]]:
    return rows(config.database, "SELECT * FROM pages ORDER BY article_id")


def gets(server: FeedServer, path: str) -> int:
    return server.methods_for(path).count("GET")


@pytest.fixture(autouse=True)
def _capture_feedd_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="feedd")


async def test_auto_stores_the_article_of_a_summary_only_feed(server: FeedServer, tmp_path):
    one_url = server.add("/news/1", AFGHANISTAN, content_type=HTML)
    two_url = server.add("/news/2", AMSTERDAM, content_type=HTML)
    items = [
        Item("rt-1", "US service members killed", one_url, teaser(AFGHANISTAN_TEXT, one_url)),
        Item("rt-2", "Amsterdam light festival", two_url, teaser(AMSTERDAM_TEXT, two_url)),
    ]
    feed = server.add("/rt.xml", rss20(*items))
    config = config_for(tmp_path, [feed], '[fulltext]\nmode = "auto"', resolve='"off"')
    results: list[PageResult] = []

    (outcome,) = await fetch_once(config, on_page=results.append)

    assert outcome.status is Status.OK and outcome.new == 2 and outcome.pages_queued == 2
    assert sorted(r.outcome for r in results) == ["stored", "stored"]
    first, second = articles(config)
    for article, text in ((first, AFGHANISTAN_TEXT), (second, AMSTERDAM_TEXT)):
        assert article["content_source"] == "page"
        body = str(article["content_text"])
        # The article's own words, well past the teaser's first sentence.
        assert text.split("\n")[0][:80] in body
        assert int(str(article["word_count"])) > 200
        assert "Read Full Article" not in body
        assert str(article["summary"]).startswith(" ".join(text.split()[:10]))  # the teaser
    # The teaser is kept as the version the page replaced.
    (revision,) = rows(config.database, "SELECT * FROM article_revisions WHERE article_id = ?", 1)
    assert revision["reason"] == "page" and "Read Full Article" not in str(revision["title"])
    assert [p["state"] for p in pages(config)] == ["stored", "stored"]
    assert [p["reason"] for p in pages(config)] != [None, None]
    # Full-text search sees the page's words (a word of the article, not of the teaser).
    found = scalar(
        config.database,
        "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH 'Kunduz OR Taliban'",
    )
    assert found == 1
    assert gets(server, "/news/1") == 1 and gets(server, "/news/2") == 1

    # The feed edits its teaser's title: the title follows, the article's text stays the page's.
    items[0] = Item("rt-1", "Two US service members killed", one_url, items[0].description)
    server.add("/rt.xml", rss20(*items))
    (again,) = await fetch_once(config)
    assert again.updated == 1 and again.pages_queued == 0
    first = articles(config)[0]
    assert first["title"] == "Two US service members killed"
    assert first["content_source"] == "page" and int(str(first["word_count"])) > 200
    assert gets(server, "/news/1") == 1  # once per article


async def test_auto_knows_a_feed_of_short_items_from_its_unchanged_ones(
    server: FeedServer, tmp_path
):
    # News summaries without a trailer: only the feed's shape says they are teasers.
    bodies = {"1": AFGHANISTAN_TEXT, "2": AMSTERDAM_TEXT, "3": EXPAPP_TEXT, "4": AFGHANISTAN_TEXT}
    urls = {
        n: server.add(f"/story/{n}", page_of, content_type=HTML)
        for n, page_of in (("1", AFGHANISTAN), ("2", AMSTERDAM), ("3", EXPAPP), ("4", AFGHANISTAN))
    }

    def summary(n: str) -> Item:
        words = " ".join(bodies[n].split()[:25])
        return Item(f"s-{n}", f"Story {n}", urls[n], f"<p>{words}</p>")

    feed = server.add("/summaries.xml", rss20(summary("1"), summary("2"), summary("3")))
    config = config_for(tmp_path, [feed], '[fulltext]\nmode = "auto"', resolve='"off"')

    (outcome,) = await fetch_once(config)
    assert outcome.new == 3 and outcome.pages_queued == 3
    assert {p["reason"] for p in pages(config)} == {"short feed"}

    # One new item among three unchanged (not cleaned again): still a feed of teasers.
    server.add("/summaries.xml", rss20(summary("4"), summary("1"), summary("2"), summary("3")))
    (again,) = await fetch_once(config)
    assert again.new == 1 and again.unchanged == 3 and again.pages_queued == 1
    assert [p["reason"] for p in pages(config)][-1] == "short feed"


async def test_auto_leaves_a_full_content_feed_alone(server: FeedServer, tmp_path):
    url = server.add("/posts/1", EXPAPP, content_type=HTML)
    full = "".join(f"<p>{line}</p>" for line in EXPAPP_TEXT.split("\n") if line.strip())
    feed = server.add("/blog.xml", rss20(Item("b-1", "New CEO", url, full)))
    config = config_for(tmp_path, [feed], '[fulltext]\nmode = "auto"')

    (outcome,) = await fetch_once(config)

    assert outcome.new == 1 and outcome.pages_queued == 0
    assert pages(config) == []
    assert articles(config)[0]["content_source"] == "feed"
    assert gets(server, "/posts/1") == 0


async def test_always_mode_per_feed_and_off_by_default(server: FeedServer, tmp_path):
    url = server.add("/posts/1", EXPAPP, content_type=HTML)
    full = "".join(f"<p>{line}</p>" for line in EXPAPP_TEXT.split("\n")[:3] if line.strip())
    feed = server.add("/blog.xml", rss20(Item("b-1", "New CEO", url, full)))
    other = server.add("/other.xml", rss20(Item("o-1", "Other", url + "?o", "<p>Short.</p>")))
    path = write_config(tmp_path, [feed], resolve='"off"', fulltext='"always"')
    path.write_text(path.read_text() + f'\n[[feeds]]\nurl = "{other}"\nresolve = "off"\n')
    config = load_config(path)

    outcomes = await fetch_once(config)

    assert [o.pages_queued for o in outcomes] == [1, 0]  # [fulltext] mode defaults to "off"
    assert [p["reason"] for p in pages(config)] == ["always"]


async def test_a_page_behind_a_shortener_is_requested_once(server: FeedServer, tmp_path):
    article = server.add("/story/afghanistan", AFGHANISTAN, content_type=HTML)
    short = server.add("/s/abc", status=302, location=article)
    feed = server.add(
        "/feed.xml", rss20(Item("s-1", "Crash", short, teaser(AFGHANISTAN_TEXT, short)))
    )
    config = config_for(tmp_path, [feed], '[fulltext]\nmode = "auto"', resolve='"all"')

    (outcome,) = await fetch_once(config)

    assert outcome.links_resolved == 1 and outcome.pages_queued == 1
    (article_row,) = articles(config)
    assert article_row["url"] == article and article_row["content_source"] == "page"
    # Link resolution's GET of the final page was the page's fetch too.
    assert gets(server, "/story/afghanistan") == 1
    assert gets(server, "/s/abc") <= 1


async def test_a_page_on_a_private_address_is_refused(server: FeedServer, tmp_path):
    blocked = f"http://127.0.0.2:{server.port}/story"
    feed = server.add("/feed.xml", rss20(Item("p-1", "Inside", blocked, teaser("Hi. x", blocked))))
    path = tmp_path / "feedd.toml"
    path.write_text(
        'database = "feedd.db"\n[fetch]\nworkers = 0\nallowed_networks = ["127.0.0.1/32"]\n'
        '[links]\nresolve = "off"\n[fulltext]\nmode = "always"\n'
        f'[[feeds]]\nurl = "{feed}"\n'
    )
    config = load_config(path)
    results: list[PageResult] = []

    (outcome,) = await fetch_once(config, on_page=results.append)

    assert outcome.status is Status.OK and outcome.new == 1
    (result,) = results
    assert result.outcome == "failed" and "127.0.0.2" in str(result.error)
    (row,) = pages(config)
    assert row["state"] == "failed" and row["next_attempt_at"] is None
    assert articles(config)[0]["content_source"] == "feed"


async def test_a_missing_or_slow_page_leaves_the_feed_text_and_the_poll(
    server: FeedServer, tmp_path
):
    gone = server.url("/gone")  # no route: 404
    slow = server.add("/slow", AMSTERDAM, content_type=HTML, latency=3.0)
    feed = server.add(
        "/feed.xml",
        rss20(
            Item("g-1", "Gone", gone, teaser("A story that went away. x", gone)),
            Item("s-1", "Slow", slow, teaser(AMSTERDAM_TEXT, slow)),
        ),
    )
    config = config_for(tmp_path, [feed], '[fulltext]\nmode = "always"', resolve='"off"')
    config = replace(config, fetch=replace(config.fetch, timeout=1.0))  # each page's deadline
    before = datetime.now(UTC)

    (outcome,) = await fetch_once(config)

    assert outcome.status is Status.OK and outcome.new == 2
    feed_row = one(config.database, "SELECT state, last_status FROM feeds")
    assert feed_row == {"state": "ok", "last_status": 200}
    assert [a["content_source"] for a in articles(config)] == ["feed", "feed"]
    gone_row, slow_row = pages(config)
    assert gone_row["state"] == "failed" and gone_row["http_status"] == 404
    assert slow_row["state"] == "queued" and "timeout" in str(slow_row["error"])
    retry_at = parse_timestamp(str(slow_row["next_attempt_at"]))
    assert retry_at is not None and retry_at >= before + timedelta(minutes=14)


async def test_a_page_larger_than_the_limit_is_cut(server: FeedServer, tmp_path):
    # The article, then 6 MiB of script: the first 4 MiB are read, the rest dropped.
    head, tail = AFGHANISTAN.split(b"</body>", 1)
    huge = head + b"<script>" + b"x" * (6 * 1024 * 1024) + b"</script></body>" + tail
    url = server.add("/huge", huge, content_type=HTML)
    feed = server.add("/feed.xml", rss20(Item("h-1", "Huge", url, teaser("A big one. x", url))))
    config = config_for(tmp_path, [feed], '[fulltext]\nmode = "always"', resolve='"off"')
    results: list[PageResult] = []

    await fetch_once(config, on_page=results.append)

    (result,) = results
    assert result.outcome == "stored" and result.words > 200
    assert AFGHANISTAN_TEXT.split("\n")[0][:60] in str(articles(config)[0]["content_text"])


async def test_a_failed_page_is_tried_again_later_not_in_a_loop(server: FeedServer, tmp_path):
    url = server.add("/flaky", b"busy", status=503, content_type="text/plain")
    feed = server.add("/feed.xml", rss20(Item("f-1", "Flaky", url, teaser("Soon. x", url))))
    config = config_for(tmp_path, [feed], '[fulltext]\nmode = "always"', resolve='"off"')

    await fetch_once(config)
    await fetch_once(config)  # at once: the page is not due yet

    assert gets(server, "/flaky") == 1
    (row,) = pages(config)
    assert row["state"] == "queued" and row["attempts"] == 1 and row["http_status"] == 503

    # Later (its next attempt moved to the past here), the page answers.
    server.add("/flaky", AMSTERDAM, content_type=HTML)
    with SQLiteStore(config.database) as store:
        store.conn.execute("UPDATE pages SET next_attempt_at = '2020-01-01T00:00:00Z'")
    results: list[PageResult] = []
    await fetch_once(config, on_page=results.append)

    assert [r.outcome for r in results] == ["stored"]
    (row,) = pages(config)
    assert row["state"] == "stored" and row["attempts"] == 2 and row["error"] is None
    assert gets(server, "/flaky") == 2


async def test_pages_are_given_up_after_the_attempts(server: FeedServer, tmp_path):
    url = server.add("/down", b"", status=500)
    feed = server.add("/feed.xml", rss20(Item("d-1", "Down", url, teaser("Down. x", url))))
    config = config_for(
        tmp_path, [feed], '[fulltext]\nmode = "always"\nattempts = 2', resolve='"off"'
    )
    states = []
    for _ in range(3):
        await fetch_once(config)
        states.append(pages(config)[0]["state"])
        with SQLiteStore(config.database) as store:
            store.conn.execute(
                "UPDATE pages SET next_attempt_at = '2020-01-01T00:00:00Z' WHERE state = 'queued'"
            )

    assert states == ["queued", "failed", "failed"]
    assert gets(server, "/down") == 2


async def test_the_page_fills_what_the_feed_lacks(server: FeedServer, tmp_path):
    url = server.add("/news/1", AFGHANISTAN, content_type=HTML)
    item = Item("n-1", "Crash", url, teaser(AFGHANISTAN_TEXT, url), pub_date="")
    feed = server.add("/feed.xml", rss20(item))
    config = config_for(tmp_path, [feed], '[fulltext]\nmode = "always"', resolve='"off"')

    await fetch_once(config)

    (article,) = articles(config)
    (row,) = pages(config)
    filled = json.loads(str(row["filled"]))
    assert "image" in filled and str(article["image"]).startswith("http")
    if "published_at" in filled:  # the page says when it was published
        assert article["date_flag"] == "page"
        assert str(article["published_at"]).startswith("2019-11-20")
