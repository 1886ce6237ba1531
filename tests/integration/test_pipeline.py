"""The whole pipeline: fetch_once with a real config, a real server and a real database."""

from __future__ import annotations

import logging
import socket
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import write_config
from feedserver import FeedServer
from integration_support import (
    ATOM10,
    JSON_FEED,
    RSS10,
    RSS20_FIRST,
    RSS20_SECOND,
    Item,
    one,
    rows,
    rss20,
    scalar,
)

from feedd.config import Config, load_config
from feedd.errors import ConfigError
from feedd.pipeline import fetch_once
from feedd.store.sqlite import SQLiteStore as Store
from feedd.store.sqlite import reading as query
from feedd.types import Outcome, Status

LAST_MODIFIED = "Mon, 01 Jan 2024 00:00:00 GMT"


def make_config(tmp_path: Path, urls: list[str], extra: str = "") -> Config:
    return load_config(write_config(tmp_path, urls, extra))


def db(config: Config) -> Path:
    return config.database


def feed_row(config: Config, url: str) -> dict[str, object]:
    return one(db(config), "SELECT * FROM feeds WHERE url = ?", url)


def articles(config: Config) -> list[dict[str, object]]:
    return rows(db(config), "SELECT * FROM articles ORDER BY id")


def fts_titles(config: Config, query: str) -> list[object]:
    return [
        r["title"]
        for r in rows(
            db(config),
            "SELECT articles.title FROM articles_fts JOIN articles "
            "ON articles.id = articles_fts.rowid WHERE articles_fts MATCH ? ORDER BY rank",
            query,
        )
    ]


def integrity(config: Config) -> list[str]:
    with Store(config.database) as store:
        return store.integrity_problems()


def no_errors_logged(caplog: pytest.LogCaptureFixture) -> None:
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]


@pytest.fixture(autouse=True)
def _capture_feedd_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="feedd")


# -- each format, end to end


async def test_rss20_is_stored(server: FeedServer, tmp_path: Path, caplog):
    url = server.add(
        "/rss.xml",
        rss20(RSS20_FIRST, RSS20_SECOND),
        content_type="application/rss+xml; charset=utf-8",
        etag='"r1"',
        last_modified=LAST_MODIFIED,
    )
    config = make_config(tmp_path, [url])
    (outcome,) = await fetch_once(config)
    assert outcome.status is Status.OK, outcome
    assert (outcome.new, outcome.updated, outcome.linked, outcome.unchanged) == (2, 0, 0, 0)
    assert outcome.http_status == 200
    assert outcome.title == "Example RSS"

    first, second = articles(config)
    assert first["title"] == "First & best"
    assert first["url"] == "https://rss.example/posts/1?id=7"  # utm_ dropped
    assert first["published_at"] == "2024-01-02T08:30:00Z"  # +0200 -> UTC
    assert first["summary"] == "Hello world"
    assert first["content_text"] == "Hello world"
    assert first["content_html"] == "<p>Hello <b>world</b></p>"  # script removed
    assert first["language"] == "en"  # detected from the text; ISO 639-1
    assert second["published_at"] == "2024-01-03T00:00:00Z"
    assert second["content_text"] == "Zebras gallop\nacross the plain"
    assert second["summary"] == "Zebras gallop\nacross the plain"

    links = rows(db(config), "SELECT guid, link FROM article_feeds ORDER BY guid")
    assert links == [
        {"guid": "rss-1", "link": "https://rss.example/posts/1?utm_source=feed&id=7"},
        {"guid": "rss-2", "link": "https://rss.example/posts/2"},
    ]
    feed = feed_row(config, url)
    assert feed["state"] == "ok"
    assert feed["title"] == "Example RSS"
    assert feed["site_url"] == "https://rss.example/"
    assert (feed["etag"], feed["last_modified"]) == ('"r1"', LAST_MODIFIED)
    assert feed["body_hash"] is not None
    assert (feed["last_status"], feed["error_count"], feed["last_error"]) == (200, 0, None)
    assert feed["final_url"] is None  # fetched where configured
    # Its two posts are from 2024: a dormant feed, polled at the 1-day ceiling.
    assert feed["poll_interval_seconds"] == 86400
    assert feed["last_ok_at"] is not None
    assert feed["next_fetch_at"] > feed["last_fetched_at"]
    assert fts_titles(config, "zebras") == ["Second"]
    assert integrity(config) == []
    no_errors_logged(caplog)


async def test_rss10_is_stored(server: FeedServer, tmp_path: Path, caplog):
    url = server.add("/rdf.xml", RSS10, content_type="application/rdf+xml")
    config = make_config(tmp_path, [url])
    (outcome,) = await fetch_once(config)
    assert outcome.status is Status.OK, outcome
    assert outcome.new == 1
    (article,) = articles(config)
    assert article["title"] == "RDF item"
    assert article["url"] == "https://rdf.example/a"
    assert article["published_at"] == "2024-02-03T09:05:06Z"
    assert article["summary"] == "An RDF description about lemurs"
    assert article["content_text"] == "An RDF description about lemurs"
    assert article["author"] == "Rita"
    # Too short to tell from the text: the feed's <language> answers.
    assert article["language"] == "fr"
    assert feed_row(config, url)["title"] == "Example RDF"
    assert fts_titles(config, "lemurs") == ["RDF item"]
    no_errors_logged(caplog)


async def test_atom10_is_stored(server: FeedServer, tmp_path: Path, caplog):
    url = server.add("/atom.xml", ATOM10, content_type="application/atom+xml")
    config = make_config(tmp_path, [url])
    (outcome,) = await fetch_once(config)
    assert outcome.status is Status.OK, outcome
    assert outcome.new == 1
    (article,) = articles(config)
    assert article["title"] == "Atom entry"  # type="html": markup removed
    assert article["url"] == "https://atom.example/entries/1"  # xml:base applied
    assert article["published_at"] == "2024-03-04T04:06:07Z"
    assert article["updated_at"] == "2024-03-05T00:00:00Z"
    assert article["summary"] == "Short summary of narwhals"
    assert article["content_text"] == "Para one\nPara two"
    assert article["content_html"] == "<p>Para one</p><p>Para two</p>"
    assert article["author"] == "Ada"
    assert one(db(config), "SELECT guid FROM article_feeds")["guid"] == "tag:atom.example,2024:1"
    feed = feed_row(config, url)
    assert (feed["title"], feed["site_url"]) == ("Example Atom", "https://atom.example/")
    assert fts_titles(config, "narwhals") == ["Atom entry"]
    no_errors_logged(caplog)


async def test_json_feed_is_stored(server: FeedServer, tmp_path: Path, caplog):
    url = server.add("/feed.json", JSON_FEED, content_type="application/feed+json")
    config = make_config(tmp_path, [url])
    (outcome,) = await fetch_once(config)
    assert outcome.status is Status.OK, outcome
    assert outcome.new == 1
    (article,) = articles(config)
    assert article["title"] == "JSON item"
    assert article["url"] == "https://json.example/j1"
    assert article["published_at"] == "2024-04-05T13:07:08Z"
    assert article["summary"] == "JSON summary"
    assert article["content_text"] == "JSON body about capybaras"
    assert article["content_html"] == "<p>JSON <i>body</i> about capybaras</p>"
    assert article["author"] == "Ann"
    assert article["tags"] == '["a", "b"]'
    # Too short to tell from the text: the feed's language answers.
    assert article["language"] == "de"
    feed = feed_row(config, url)
    assert (feed["title"], feed["site_url"]) == ("Example JSON", "https://json.example/")
    assert fts_titles(config, "capybaras") == ["JSON item"]
    no_errors_logged(caplog)


async def test_all_formats_in_one_batch(server: FeedServer, tmp_path: Path, caplog):
    urls = [
        server.add("/rss.xml", rss20(RSS20_FIRST)),
        server.add("/rdf.xml", RSS10),
        server.add("/atom.xml", ATOM10),
        server.add("/feed.json", JSON_FEED, content_type="application/json"),
    ]
    config = make_config(tmp_path, urls)
    outcomes = await fetch_once(config)
    assert [o.url for o in outcomes] == urls  # input order
    assert [o.status for o in outcomes] == [Status.OK] * 4
    assert scalar(db(config), "SELECT count(*) FROM articles") == 4
    assert scalar(db(config), "SELECT count(*) FROM article_feeds") == 4
    assert integrity(config) == []
    no_errors_logged(caplog)


# -- polling again


async def test_second_fetch_is_a_304_and_stores_nothing(server: FeedServer, tmp_path: Path):
    url = server.add("/rss.xml", rss20(RSS20_FIRST), etag='"r1"', last_modified=LAST_MODIFIED)
    config = make_config(tmp_path, [url])
    await fetch_once(config)
    before_articles = articles(config)
    before_feed = feed_row(config, url)

    (outcome,) = await fetch_once(config)
    assert outcome == Outcome(url, Status.NOT_MODIFIED, http_status=304, duration=outcome.duration)
    first, second = server.hits("/rss.xml")
    assert "if-none-match" not in first
    assert "if-modified-since" not in first
    assert second["if-none-match"] == '"r1"'
    assert second["if-modified-since"] == LAST_MODIFIED
    assert articles(config) == before_articles
    feed = feed_row(config, url)
    assert feed["last_status"] == 304
    assert feed["state"] == "ok"
    assert (feed["etag"], feed["last_modified"]) == ('"r1"', LAST_MODIFIED)
    assert feed["body_hash"] == before_feed["body_hash"]


async def test_same_body_without_validators_is_not_parsed_again(server: FeedServer, tmp_path: Path):
    url = server.add("/rss.xml", rss20(RSS20_FIRST))
    config = make_config(tmp_path, [url])
    await fetch_once(config)
    (outcome,) = await fetch_once(config)
    assert outcome.status is Status.NOT_MODIFIED
    assert outcome.http_status == 200
    assert scalar(db(config), "SELECT count(*) FROM articles") == 1
    assert feed_row(config, url)["last_status"] == 200


async def test_an_item_seen_again_is_not_stored_twice(server: FeedServer, tmp_path: Path):
    url = server.add("/rss.xml", rss20(RSS20_FIRST))
    config = make_config(tmp_path, [url])
    await fetch_once(config)
    server.add("/rss.xml", rss20(RSS20_SECOND, RSS20_FIRST))  # a new item on top
    (outcome,) = await fetch_once(config)
    assert outcome.status is Status.OK
    assert (outcome.new, outcome.unchanged, outcome.updated) == (1, 1, 0)
    assert scalar(db(config), "SELECT count(*) FROM articles") == 2
    assert scalar(db(config), "SELECT count(*) FROM article_feeds") == 2


async def test_a_repeated_item_in_one_document_is_stored_once(server: FeedServer, tmp_path: Path):
    url = server.add("/rss.xml", rss20(RSS20_FIRST, RSS20_FIRST))
    config = make_config(tmp_path, [url])
    (outcome,) = await fetch_once(config)
    assert (outcome.new, outcome.unchanged) == (1, 1)
    assert scalar(db(config), "SELECT count(*) FROM articles") == 1


async def test_same_canonical_url_from_two_feeds(server: FeedServer, tmp_path: Path):
    story = "https://news.example/story"
    a = server.add(
        "/a.xml", rss20(Item("a-1", "Shared story", f"{story}?utm_source=a&utm_medium=rss"))
    )
    b = server.add("/b.xml", rss20(Item("b-1", "Shared story", "HTTPS://NEWS.example:443/story#x")))
    config = make_config(tmp_path, [a, b])
    outcomes = await fetch_once(config)
    assert [(o.status, o.new + o.linked) for o in outcomes] == [(Status.OK, 1), (Status.OK, 1)]
    assert sorted((o.new, o.linked) for o in outcomes) == [(0, 1), (1, 0)]
    (article,) = articles(config)
    assert article["url"] == story
    links = rows(
        db(config),
        "SELECT feeds.url AS feed, guid, article_id FROM article_feeds "
        "JOIN feeds ON feeds.id = feed_id ORDER BY guid",
    )
    assert links == [
        {"feed": a, "guid": "a-1", "article_id": article["id"]},
        {"feed": b, "guid": "b-1", "article_id": article["id"]},
    ]
    assert integrity(config) == []


async def test_a_changed_item_is_updated(server: FeedServer, tmp_path: Path):
    url = server.add("/rss.xml", rss20(Item("g1", "Original albatross", "https://x.example/1")))
    config = make_config(tmp_path, [url])
    await fetch_once(config)
    (before,) = articles(config)
    server.add("/rss.xml", rss20(Item("g1", "Revised cormorant", "https://x.example/1")))
    (outcome,) = await fetch_once(config)
    assert (outcome.status, outcome.updated, outcome.new) == (Status.OK, 1, 0)
    (after,) = articles(config)
    assert after["id"] == before["id"]
    assert after["title"] == "Revised cormorant"
    assert fts_titles(config, "albatross") == []
    assert fts_titles(config, "cormorant") == ["Revised cormorant"]
    assert scalar(db(config), "SELECT count(*) FROM article_feeds") == 1
    assert integrity(config) == []


# -- failures are values


def refused_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/feed.xml"


async def test_bad_feeds_fail_and_the_rest_of_the_batch_is_stored(
    server: FeedServer, tmp_path: Path, caplog
):
    good = server.add("/good.xml", rss20(RSS20_FIRST))
    down = refused_url()
    missing = server.url("/missing.xml")  # no route: 404
    forbidden = server.add("/forbidden.xml", status=403)  # 410 is its own case: test_polite
    broken = server.add("/broken.xml", b"Internal error", status=500, content_type="text/plain")
    html = server.add(
        "/page.html",
        b"<!DOCTYPE html><html><head><title>Home</title></head><body>Hi</body></html>",
        content_type="text/html; charset=utf-8",
    )
    garbage = server.add("/garbage.xml", bytes(range(256)) * 8)
    empty = server.add("/empty.xml", b"")
    later = server.add("/later.json", JSON_FEED, content_type="application/feed+json")
    urls = [down, missing, good, forbidden, broken, html, garbage, empty, later]
    config = make_config(tmp_path, urls)

    outcomes = await fetch_once(config)
    assert [o.url for o in outcomes] == urls
    by_url = {o.url: o for o in outcomes}
    assert by_url[good].status is Status.OK
    assert by_url[later].status is Status.OK
    expected = {
        down: (None, "ConnectError"),
        missing: (404, "HTTP 404"),
        forbidden: (403, "HTTP 403"),
        broken: (500, "HTTP 500"),
        html: (200, "HTML page"),
        garbage: (200, "not a feed"),
        empty: (200, "empty body"),
    }
    for url, (status, message) in expected.items():
        outcome = by_url[url]
        assert outcome.status is Status.FAILED, outcome
        assert outcome.http_status == status, outcome
        assert message in (outcome.error or ""), outcome
        feed = feed_row(config, url)
        assert feed["state"] == "failing"
        assert feed["error_count"] == 1
        assert message in str(feed["last_error"])
        assert feed["last_status"] == status
        assert feed["next_fetch_at"] is not None
        assert feed["etag"] is None
        assert feed["body_hash"] is None
    assert scalar(db(config), "SELECT count(*) FROM articles") == 2
    assert {r["state"] for r in rows(db(config), "SELECT state FROM feeds")} == {"ok", "failing"}

    # Polled again: the count of consecutive failures grows; a recovery resets it.
    server.add("/broken.xml", rss20(RSS20_SECOND))
    await fetch_once(config)
    assert feed_row(config, forbidden)["error_count"] == 2
    recovered = feed_row(config, broken)
    assert (recovered["state"], recovered["error_count"], recovered["last_error"]) == (
        "ok",
        0,
        None,
    )
    assert integrity(config) == []
    no_errors_logged(caplog)  # a feed's fault is not an error of feedd's


async def test_validators_stay_with_the_items_they_cover(server: FeedServer, tmp_path: Path):
    url = server.add("/rss.xml", rss20(RSS20_FIRST), etag='"good"', last_modified=LAST_MODIFIED)
    config = make_config(tmp_path, [url])
    await fetch_once(config)
    stored = feed_row(config, url)

    # The feed breaks, with new validators: none of them may be kept.
    server.add(
        "/rss.xml",
        b"<html><body>Service unavailable</body></html>",
        etag='"broken"',
        last_modified="Tue, 02 Jan 2024 00:00:00 GMT",
        content_type="text/html",
    )
    (outcome,) = await fetch_once(config)
    assert outcome.status is Status.FAILED, outcome
    feed = feed_row(config, url)
    assert feed["state"] == "failing"
    assert (feed["etag"], feed["last_modified"], feed["body_hash"]) == (
        stored["etag"],
        stored["last_modified"],
        stored["body_hash"],
    )
    # So the next poll still asks with the validators of the stored items.
    assert server.hits("/rss.xml")[-1]["if-none-match"] == '"good"'
    server.add("/rss.xml", rss20(RSS20_FIRST, RSS20_SECOND), etag='"fixed"')
    (outcome,) = await fetch_once(config)
    assert (outcome.status, outcome.new, outcome.unchanged) == (Status.OK, 1, 1)
    assert server.hits("/rss.xml")[-1]["if-none-match"] == '"good"'
    assert feed_row(config, url)["etag"] == '"fixed"'


async def test_permanent_redirect_is_watched(server: FeedServer, tmp_path: Path):
    final = server.add("/new.xml", rss20(RSS20_FIRST))
    url = server.add("/old.xml", status=301, location="/new.xml")
    config = make_config(tmp_path, [url])
    (outcome,) = await fetch_once(config)
    assert outcome.status is Status.OK
    feed = feed_row(config, url)
    # One 301 is not yet a move (test_polite: after MOVED_AFTER in a row).
    assert (feed["final_url"], feed["moved_to"], feed["moved_count"]) == (None, final, 1)
    assert feed["url"] == url  # the configured URL stays the feed's identity


async def test_private_address_is_refused_by_default(server: FeedServer, tmp_path: Path):
    url = server.add("/rss.xml", rss20(RSS20_FIRST))
    path = tmp_path / "feedd.toml"
    path.write_text(f'database = "feedd.db"\n\n[[feeds]]\nurl = "{url}"\n')
    config = load_config(path)
    assert config.fetch.allow_private_networks is False
    (outcome,) = await fetch_once(config)
    assert outcome.status is Status.FAILED
    assert "private address" in (outcome.error or "")
    assert server.requests == []
    assert feed_row(config, url)["state"] == "failing"


async def test_named_feeds_only(server: FeedServer, tmp_path: Path):
    a = server.add("/a.xml", rss20(RSS20_FIRST))
    b = server.add("/b.xml", rss20(RSS20_SECOND))
    config = make_config(tmp_path, [a, b])
    outcomes = await fetch_once(config, [b])
    assert [o.url for o in outcomes] == [b]
    assert server.hits("/a.xml") == []
    assert feed_row(config, a)["state"] == "new"


async def test_body_over_the_configured_size_fails_the_feed(server: FeedServer, tmp_path: Path):
    big = rss20(*(replace(RSS20_FIRST, guid=f"g{i}", link=f"https://x/{i}") for i in range(50)))
    url = server.add("/big.xml", big, chunked=True, chunk=512)
    config = make_config(tmp_path, [url], extra='max_body_size = "2KB"')
    (outcome,) = await fetch_once(config)
    assert outcome.status is Status.FAILED
    assert "exceeds the limit of 2000" in (outcome.error or "")
    assert scalar(db(config), "SELECT count(*) FROM articles") == 0


async def test_a_malformed_redirect_does_not_stop_the_batch(server: FeedServer, tmp_path: Path):
    good = server.add("/good.xml", rss20(RSS20_FIRST))
    bad = server.add("/bad.xml", status=302, location="javascript:alert(1)")
    config = make_config(tmp_path, [bad, good])
    outcomes = await fetch_once(config)
    assert [o.status for o in outcomes] == [Status.FAILED, Status.OK]
    assert feed_row(config, bad)["state"] == "failing"


def test_a_port_out_of_range_is_a_config_error(tmp_path: Path):
    # (A redirect to such a port is a FetchError: see test_fetch.)
    with pytest.raises(ConfigError, match=r"feeds\[0\]\.url: bad URL .*Port out of range"):
        make_config(tmp_path, ["http://127.0.0.1:99999/feed.xml"])


async def test_rss_item_without_an_update_date(server: FeedServer, tmp_path: Path):
    # feedparser's FeedParserDict.get('updated') falls back to the published date.
    url = server.add("/rss.xml", rss20(RSS20_FIRST))
    config = make_config(tmp_path, [url])
    await fetch_once(config)
    (article,) = articles(config)
    assert article["published_at"] == "2024-01-02T08:30:00Z"
    assert article["updated_at"] is None


# -- charsets

LATIN = (
    '<?xml version="1.0" encoding="{declared}"?>\n'
    '<rss version="2.0"><channel><title>Caf\u00e9 du coin</title>'
    "<item><guid>c1</guid><title>Cr\u00e8me br\u00fbl\u00e9e \u00e0 5 \u20ac</title>"
    "<link>https://cafe.example/1</link></item></channel></rss>"
)


@pytest.mark.parametrize(
    ("encoding", "declared", "content_type"),
    [
        ("iso-8859-15", "iso-8859-15", "application/rss+xml"),  # the prolog decides
        ("windows-1252", "windows-1252", "text/xml; charset=windows-1252"),
        ("utf-8", "utf-8", "text/xml"),  # RFC 3023 says us-ascii; the bytes say otherwise
        ("windows-1252", "utf-8", "application/rss+xml; charset=utf-8"),  # both lie
        ("utf-8", "utf-8", "application/xml; charset=bogus"),
        ("utf-16", "utf-16", "application/xml"),
    ],
)
async def test_charsets(
    server: FeedServer, tmp_path: Path, caplog, encoding, declared, content_type
):
    body = LATIN.format(declared=declared).encode(encoding)
    url = server.add("/cafe.xml", body, content_type=content_type)
    config = make_config(tmp_path, [url])
    (outcome,) = await fetch_once(config)
    assert outcome.status is Status.OK, outcome
    assert outcome.title == "Caf\u00e9 du coin"
    (article,) = articles(config)
    assert article["title"] == "Cr\u00e8me br\u00fbl\u00e9e \u00e0 5 \u20ac"
    assert fts_titles(config, "creme") == [article["title"]]  # remove_diacritics
    no_errors_logged(caplog)


async def test_json_feed_with_odd_attachments(server: FeedServer, tmp_path: Path, caplog):
    document = (
        b'{"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": ['
        b'{"id": "1", "url": "https://j.example/1", "title": "Odd", "attachments": 5}]}'
    )
    url = server.add("/feed.json", document, content_type="application/feed+json")
    config = make_config(tmp_path, [url])
    (outcome,) = await fetch_once(config)
    no_errors_logged(caplog)
    assert outcome.status is Status.OK, outcome
    assert outcome.new == 1


async def test_an_item_with_nothing_to_show_is_skipped_and_counted(
    server: FeedServer, tmp_path: Path
):
    body = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
        "<link>https://example.org/</link><item />"
        '<item><guid isPermaLink="false">only-an-id</guid></item>'
        "<item><title>A story</title><link>https://example.org/a</link></item>"
        "</channel></rss>"
    )
    config = make_config(tmp_path, [server.add("/empty.xml", body)])
    (outcome,) = await fetch_once(config)
    assert (outcome.status, outcome.new, outcome.empty) == (Status.OK, 1, 2)
    assert rows(db(config), "SELECT title FROM articles") == [{"title": "A story"}]


def _site(*items: tuple[str, str | None]) -> str:
    """A Hugo-style feed: (title, pubDate or None for an undated page)."""
    body = "".join(
        f"<item><title>{title}</title><link>https://site.example/{title.lower()}/</link>"
        + (f"<pubDate>{date}</pubDate>" if date else "")
        + f"<description>Page {title}</description></item>"
        for title, date in items
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Site</title>'
        f"<link>https://site.example/</link>{body}</channel></rss>"
    )


async def test_undated_pages_of_a_first_poll_stay_undated_and_list_last(
    server: FeedServer, tmp_path: Path
):
    """A feed's first document says nothing about when its undated pages were
    written; an undated item appearing later is new, dated by when it was seen."""
    post = ("Post", "Tue, 02 Jan 2024 10:30:00 +0000")
    url = server.add("/site.xml", _site(("About", None), post))
    config = make_config(tmp_path, [url])
    await fetch_once(config)
    about = one(db(config), "SELECT published_at, date_flag FROM articles WHERE title = 'About'")
    assert about == {"published_at": None, "date_flag": "missing"}

    server.add("/site.xml", _site(("Note", None), ("About", None), post))
    await fetch_once(config)
    note = one(
        db(config),
        "SELECT published_at = first_seen_at AS estimated, date_flag FROM articles "
        "WHERE title = 'Note'",
    )
    assert note == {"estimated": 1, "date_flag": "missing"}
    assert one(db(config), "SELECT published_at FROM articles WHERE title = 'About'") == {
        "published_at": None
    }
    sql, params = query.articles_sql(query.Filters(), ("title",))
    listed = rows(db(config), sql, *params)
    # The estimate (seen now) is the newest date; the undated page comes after the
    # 2024 post however recently it was seen.
    assert [r["title"] for r in listed] == ["Note", "Post", "About"]


async def test_a_document_beyond_max_items_keeps_its_newest_items(
    server: FeedServer, tmp_path: Path, caplog
):
    caplog.set_level(logging.WARNING, logger="feedd")
    items = "".join(
        f"<item><title>Story {day}</title><link>https://site.example/{day}</link>"
        f"<pubDate>{day:02d} Jan 2024 10:00:00 GMT</pubDate></item>"
        for day in (3, 9, 1, 7, 5, 2)
    )
    body = f'<rss version="2.0"><channel><title>Big</title>{items}</channel></rss>'
    url = server.add("/big.xml", body)
    config = make_config(tmp_path, [url], "max_items = 3")
    (outcome,) = await fetch_once(config)
    assert (outcome.status, outcome.new) == (Status.OK, 3)
    titles = rows(db(config), "SELECT title FROM articles ORDER BY title")
    assert [r["title"] for r in titles] == ["Story 5", "Story 7", "Story 9"]
    assert any("3 items beyond [fetch] max_items (3)" in m for m in caplog.messages)
