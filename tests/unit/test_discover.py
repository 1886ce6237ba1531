"""Feed discovery on HTML pages (pure: bytes in, candidate URLs out)."""

from __future__ import annotations

from pathlib import Path

from feedd.discover import (
    COMMON_PATHS,
    FeedLink,
    candidates,
    common_feed_urls,
    find_feed_links,
    looks_like_html,
)

DATA = Path(__file__).parents[1] / "data"


def page(head: str) -> bytes:
    return f"<!doctype html><html><head>{head}</head><body><p>hi</p></body></html>".encode()


def test_alternate_links_of_every_feed_type_in_page_order():
    body = page(
        '<link rel="alternate" type="application/rss+xml" title="RSS" href="/rss.xml">'
        '<link rel="alternate" type="application/atom+xml" href="https://other.example/atom">'
        '<link rel="alternate" type="application/feed+json" href="feed.json">'
        '<link rel="alternate" type="text/html" href="/fr/">'
        '<link rel="stylesheet" type="text/css" href="/style.css">'
        '<link rel="alternate" href="/no-type">'
    )
    assert find_feed_links(body, "https://e.org/blog/post") == (
        FeedLink("https://e.org/rss.xml", "rss", "RSS"),
        FeedLink("https://other.example/atom", "atom", None),
        FeedLink("https://e.org/blog/feed.json", "json", None),
    )


def test_rel_and_type_are_case_insensitive_and_type_parameters_are_ignored():
    body = page('<LINK REL="Alternate Feed" TYPE="Application/RSS+XML; charset=utf-8" HREF="/f">')
    assert find_feed_links(body, "https://e.org/") == (FeedLink("https://e.org/f", "rss", None),)


def test_base_href_is_honoured():
    body = page(
        '<base href="https://cdn.example/site/">'
        '<link rel="alternate" type="application/rss+xml" href="feed">'
    )
    assert [link.url for link in find_feed_links(body, "https://e.org/")] == [
        "https://cdn.example/site/feed"
    ]


def test_comment_feeds_come_after_the_site_feed_and_repeats_are_dropped():
    body = page(
        '<link rel="alternate" type="application/rss+xml" title="Comments Feed" href="/c">'
        '<link rel="alternate" type="application/rss+xml" title="Site" href="/f">'
        '<link rel="alternate" type="application/rss+xml" title="Site again" href="/f#x">'
    )
    assert [link.url for link in find_feed_links(body, "https://e.org/")] == [
        "https://e.org/f",
        "https://e.org/c",
    ]


def test_non_http_links_are_ignored():
    body = page(
        '<link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">'
        '<link rel="alternate" type="application/rss+xml" href="ftp://e.org/feed">'
        '<link rel="alternate" type="application/rss+xml" href="http://[::1">'
    )
    assert find_feed_links(body, "https://e.org/") == ()


def test_a_real_page_without_feed_links():
    body = (DATA / "lemon24-reader" / "sqlite_releases.html").read_bytes()
    assert find_feed_links(body, "https://sqlite.org/changes.html") == ()


def test_common_paths_under_the_folder_then_the_root():
    urls = common_feed_urls("https://e.org/blog/post.html?x=1")
    assert urls[: len(COMMON_PATHS)] == tuple(f"https://e.org/blog/{path}" for path in COMMON_PATHS)
    assert urls[len(COMMON_PATHS) :] == tuple(f"https://e.org/{path}" for path in COMMON_PATHS)
    for path in ("feed", "rss", "atom.xml", "feed.xml", "index.xml", "rss.xml", "feed.json"):
        assert f"https://e.org/{path}" in urls


def test_common_paths_at_the_root_once():
    assert common_feed_urls("http://e.org") == tuple(f"http://e.org/{p}" for p in COMMON_PATHS)


def test_candidates_put_links_first_and_never_the_page_itself():
    body = page('<link rel="alternate" type="application/atom+xml" href="/feed.xml">')
    urls = candidates(body, "https://e.org/")
    assert urls[0] == "https://e.org/feed.xml"
    assert urls.count("https://e.org/feed.xml") == 1
    assert "https://e.org/" not in urls


def test_looks_like_html():
    assert looks_like_html(b"anything", "text/html; charset=utf-8")
    assert looks_like_html(b"\xef\xbb\xbf  <!DOCTYPE html><html>", None)
    assert looks_like_html(b"<html><head>", "application/octet-stream")
    assert not looks_like_html(b'<?xml version="1.0"?><rss/>', "application/xml")
    assert not looks_like_html(b'{"version": "https://jsonfeed.org/version/1.1"}', None)
