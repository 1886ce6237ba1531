"""links: the resolution policy (which links, what a hop means, what is canonical, how long)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from feedd.links import (
    OUTCOMES,
    canonical_link,
    is_shortener,
    js_unescape,
    link_expiry,
    needs_resolution,
    redirect_target,
    refresh_url,
    same_site,
)

HTML = (("content-type", "text/html; charset=utf-8"),)

# -- is_shortener / needs_resolution


@pytest.mark.parametrize(
    "url",
    [
        "https://ift.tt/33QReyT",
        "https://bit.ly/3xYzAbC",
        "http://bit.ly/3xYzAbC",
        "https://t.co/AbCdEf1234",
        "https://buff.ly/3abcDEF",
        "https://dlvr.it/SwXyZ1",
        "http://feedproxy.google.com/~r/SomeBlog/~3/AbCdEf/post.html",
        "https://ow.ly/abc123",
        "https://tinyurl.com/y7abc",
        "https://goo.gl/abc",
        "https://trib.al/AbCdE",
        "https://lnkd.in/eAbCdE",
        "https://fb.me/1abc",
        "https://youtu.be/dQw4w9WgXcQ",
        "https://BIT.LY/caps",  # case-insensitive
        "https://bit.ly./trailing-dot",
        "https://custom.bit.ly/x",  # a subdomain of a listed host
        "https://bit.ly:443/x",
        "https://gov.tw/abc",  # listed itself
    ],
)
def test_is_shortener(url):
    assert is_shortener(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/a",
        "https://notbit.ly/x",  # a suffix match is not a parent domain
        "https://bit.ly.example.com/x",
        "https://www.google.com/url?q=https://bit.ly/x",  # a wrapper, not a shortener
        "https://www.ey.gov.tw/Page/1",  # gov.tw is a public suffix: no parent match
        "ftp://bit.ly/x",
        "mailto:someone@bit.ly",
        "bit.ly/x",  # no scheme
        "",
        "http://[::1/",
    ],
)
def test_is_not_shortener(url):
    assert not is_shortener(url)


def test_is_shortener_extra_hosts_from_config():
    extra = frozenset({"Go.Example.ORG", "links.example.net."})
    assert is_shortener("https://go.example.org/x", extra)
    assert is_shortener("https://a.links.example.net/x", extra)
    assert not is_shortener("https://go.example.org/x")
    assert not is_shortener("https://example.org/x", extra)


def test_is_shortener_idna():
    extra = frozenset({"xn--bcher-kva.example"})
    assert is_shortener("https://bücher.example/x", extra)
    assert is_shortener("https://BÜCHER.example/x", extra)
    assert is_shortener("https://xn--bcher-kva.example/x", extra)
    assert not is_shortener("https://bücher.example/x")
    # A configured host may be written in Unicode too.
    assert is_shortener("https://xn--bcher-kva.example/x", frozenset({"Bücher.example"}))


@pytest.mark.parametrize(
    ("url", "mode", "expected"),
    [
        ("https://bit.ly/x", "off", False),
        ("https://example.com/a", "off", False),
        ("https://bit.ly/x", "shorteners", True),
        ("https://example.com/a", "shorteners", False),
        ("https://bit.ly/x", "all", True),
        ("https://example.com/a", "all", True),
        ("http://example.com/a", "all", True),
        ("ftp://example.com/a", "all", False),
        ("mailto:a@example.com", "all", False),
        ("not a url", "all", False),
    ],
)
def test_needs_resolution(url, mode, expected):
    assert needs_resolution(url, mode) is expected


def test_needs_resolution_extra_hosts():
    assert needs_resolution("https://go.example.org/x", "shorteners", frozenset({"go.example.org"}))
    assert not needs_resolution("https://go.example.org/x", "off", frozenset({"go.example.org"}))


def test_needs_resolution_unknown_mode():
    with pytest.raises(ValueError, match="unknown resolve mode"):
        needs_resolution("https://bit.ly/x", "sometimes")


# -- redirect_target


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirect_target_location(status):
    headers = (("location", "https://example.com/article"),)
    assert redirect_target("https://bit.ly/x", status, headers, None) == (
        "https://example.com/article"
    )


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("/article?id=1", "https://bit.ly/article?id=1"),
        ("article", "https://bit.ly/article"),
        ("//cdn.example.com/a", "https://cdn.example.com/a"),
        ("  https://example.com/a  ", "https://example.com/a"),
        ("HTTPS://Example.com/a", "https://Example.com/a"),  # the caller canonicalizes the rest
    ],
)
def test_redirect_target_location_made_absolute(location, expected):
    headers = (("location", location),)
    assert redirect_target("https://bit.ly/x", 302, headers, None) == expected


@pytest.mark.parametrize(
    ("status", "headers"),
    [
        (200, (("location", "https://example.com/"),)),  # Location on a 200 is no redirect
        (304, (("location", "https://example.com/"),)),
        (300, (("location", "https://example.com/"),)),
        (302, ()),  # no Location
        (302, (("location", ""),)),
        (302, (("location", "javascript:alert(1)"),)),
        (302, (("location", "mailto:a@example.com"),)),
        (302, (("location", "http://[::1/"),)),
        (404, (("content-type", "text/html"),)),
        (200, HTML),
    ],
)
def test_redirect_target_none(status, headers):
    assert redirect_target("https://bit.ly/x", status, headers, None) is None


@pytest.mark.parametrize(
    "value",
    [
        "0; url=https://example.com/r",
        "0;URL='https://example.com/r'",
        '0; URL="https://example.com/r"',
        "0;url=https://example.com/r",
        "0, url=https://example.com/r",
        "  0 ;  url = https://example.com/r ",
        "0; https://example.com/r",
        "1.5; url=https://example.com/r",
        "0;URL='https://example.com/r'; ignored",
    ],
)
def test_redirect_target_refresh_header(value):
    headers = (("content-type", "text/html"), ("refresh", value))
    assert redirect_target("https://bit.ly/x", 200, headers, b"") == "https://example.com/r"


@pytest.mark.parametrize(
    "value",
    [
        "5",  # reload, no URL
        "0",
        "",
        "url=https://example.com/r",  # no delay
        "300; url=https://example.com/home",  # a slow refresh is not a redirect
        "0x; url=https://example.com/r",
        "0; url=",
        "0; url=https://bit.ly/x",  # itself
        "0; url=javascript:alert(1)",
    ],
)
def test_redirect_target_refresh_header_ignored(value):
    headers = (("refresh", value),)
    assert redirect_target("https://bit.ly/x", 200, headers, None) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0; url=https://a.example/", (0, "https://a.example/")),
        ("3;URL='/relative'", (3, "/relative")),
        ('7; url="x y"', (7, "x y")),
        ("0; url='unterminated", (0, "unterminated")),
        ("0 https://a.example/", (0, "https://a.example/")),
        (".5;url=/x", (0, "/x")),
        ("9" * 5000 + "; url=/x", (10**9, "/x")),
        ("5", None),
        ("abc", None),
        ("", None),
    ],
)
def test_refresh_url(value, expected):
    assert refresh_url(value) == expected


@pytest.mark.parametrize(
    "body",
    [
        b'<html><head><meta http-equiv="refresh" content="0; url=https://example.com/m"></head></html>',
        b"<META HTTP-EQUIV='Refresh' CONTENT='0;URL=https://example.com/m'>",
        b'<meta content="0;url=https://example.com/m" http-equiv=" refresh ">',
        b'<meta http-equiv="refresh" content="0; url=/m">',  # relative to the page
        b'<noscript><meta http-equiv="refresh" content="0;URL=https://example.com/m"></noscript>',
        # An HTML entity in the attribute value.
        b'<meta http-equiv="refresh" content="0;URL=https://example.com/m?a=1&amp;b=2">',
    ],
)
def test_redirect_target_meta_refresh(body):
    target = redirect_target("https://example.com/short", 200, HTML, body)
    assert target is not None
    assert target.startswith("https://example.com/m")
    if b"&amp;" in body:
        assert target == "https://example.com/m?a=1&b=2"


def test_redirect_target_t_co_page():
    """t.co answers a browser with a page holding both a meta refresh and a script."""
    body = (
        b'<head><meta name="referrer" content="always"><noscript>'
        b'<META http-equiv="refresh" content="0;URL=https://example.com/article?id=42">'
        b"</noscript><title>https://example.com/article?id=42</title></head>"
        b'<script>window.opener = null; location.replace("https:\\/\\/example.com\\/article?id=42")'
        b"</script>"
    )
    assert (
        redirect_target("https://t.co/AbCdEf1234", 200, HTML, body)
        == "https://example.com/article?id=42"
    )


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ('location.replace("https://example.com/j")', "https://example.com/j"),
        ("window.location.replace('https://example.com/j')", "https://example.com/j"),
        ('window.location = "https://example.com/j";', "https://example.com/j"),
        ("window.location.href = 'https://example.com/j';", "https://example.com/j"),
        ('location.href="https://example.com/j"', "https://example.com/j"),
        ("document.location.href='https://example.com/j'", "https://example.com/j"),
        ("top.location = 'https://example.com/j'", "https://example.com/j"),
        ('location.assign("https://example.com/j")', "https://example.com/j"),
        ('location.replace("https:\\/\\/example.com\\/j")', "https://example.com/j"),
        (
            'location.replace("https://example.com/j?a=1\\u0026b=2")',
            "https://example.com/j?a=1&b=2",
        ),
        ('location.replace("https://example.com/j?a=1\\x26b=2")', "https://example.com/j?a=1&b=2"),
        ("location.href = 'https://example.com/it\\'s'", "https://example.com/it's"),
        ('location.href = "/relative"', "https://bit.ly/relative"),
        (
            'setTimeout(function(){ window.location.href = "https://example.com/j"; }, 0)',
            "https://example.com/j",
        ),
    ],
)
def test_redirect_target_script(script, expected):
    body = f"<html><body><script>{script}</script><p>Redirecting...</p></body></html>".encode()
    assert redirect_target("https://bit.ly/x", 200, HTML, body) == expected


@pytest.mark.parametrize(
    "script",
    [
        "if (location.href == 'https://example.com/j') {}",
        "if (location.href === 'https://example.com/j') {}",
        "foo.location = 'https://example.com/j'",
        "mylocation = 'https://example.com/j'",
        "location.hash = '#top'",
        'location.replace("javascript:void(0)")',
        'location.replace("https://bit.ly/x")',  # itself
        "location.replace(url)",  # not a literal
    ],
)
def test_redirect_target_script_ignored(script):
    body = f"<html><body><script>{script}</script></body></html>".encode()
    assert redirect_target("https://bit.ly/x", 200, HTML, body) is None


def test_redirect_target_script_on_an_article_is_ignored():
    """An article's own scripts may assign location (a login button); its text says it is a page."""
    paragraphs = "".join(f"<p>Paragraph {i} of a long article about feeds.</p>" for i in range(60))
    body = (
        "<html><body><article>"
        + paragraphs
        + "</article><script>function login() { window.location.href = '/login'; }</script>"
        "</body></html>"
    ).encode()
    assert redirect_target("https://example.com/post", 200, HTML, body) is None


def test_redirect_target_script_in_a_code_sample_is_ignored():
    body = b"<pre><code>location.replace('https://example.com/j')</code></pre>"
    assert redirect_target("https://example.com/post", 200, HTML, body) is None


def test_redirect_target_script_with_src_is_ignored():
    body = b'<script src="/app.js">location.replace("https://example.com/j")</script>'
    assert redirect_target("https://example.com/post", 200, HTML, body) is None


@pytest.mark.parametrize(
    ("status", "headers"),
    [
        (200, (("content-type", "application/pdf"),)),
        (200, (("content-type", "application/json"),)),
        (404, HTML),
        (500, HTML),
    ],
)
def test_redirect_target_body_only_for_2xx_html(status, headers):
    body = b'<meta http-equiv="refresh" content="0; url=https://example.com/m">'
    assert redirect_target("https://bit.ly/x", status, headers, body) is None


def test_redirect_target_body_without_content_type():
    body = b'<meta http-equiv="refresh" content="0; url=https://example.com/m">'
    assert redirect_target("https://bit.ly/x", 200, (), body) == "https://example.com/m"


def test_redirect_target_location_wins_over_body():
    headers = (("location", "https://example.com/loc"), *HTML)
    body = b'<meta http-equiv="refresh" content="0; url=https://example.com/meta">'
    assert redirect_target("https://bit.ly/x", 301, headers, body) == "https://example.com/loc"


def test_redirect_target_consent_page_unwrapped():
    url = "https://consent.google.com/ml?continue=https%3A%2F%2Fnews.example.com%2Fa&gl=DE"
    body = b"<html><body><form>Before you continue to Google</form></body></html>"
    assert redirect_target(url, 200, HTML, body) == "https://news.example.com/a"


def test_redirect_target_non_utf8_page():
    body = (
        '<meta charset="windows-1251"><meta http-equiv="refresh" '
        'content="0; url=https://example.com/новости">'
    ).encode("cp1251")
    assert redirect_target("https://bit.ly/x", 200, HTML, body) == "https://example.com/новости"


HEADER_NAMES = st.sampled_from(["location", "refresh", "content-type", "x-other"])
HEADER_VALUES = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["0; url=", "text/html", "https://", "//", "[::1", "javascript:"]),
)
BODY_PIECES = st.sampled_from(
    [
        b"<meta http-equiv=refresh content='0;url=",
        b"<script>",
        b"location.replace('",
        b'window.location.href="',
        b"\\u",
        b"\\x",
        b"\\u{110000}",
        b"\\ud800",
        b"https://",
        b"[::1",
        b"'",
        b'"',
        b")",
        b"</script>",
        b"<link rel=canonical href=",
        b"\x00",
        b"\xff\xfe",
        b"\xef\xbb\xbf",
        b"<meta charset=utf-16>",
        b"<meta charset=nonsense>",
    ]
)
BODIES = st.one_of(
    st.none(), st.binary(max_size=300), st.lists(BODY_PIECES, max_size=12).map(b"".join)
)


@given(
    st.one_of(st.text(max_size=30), st.just("https://bit.ly/x")),
    st.integers(min_value=0, max_value=999),
    st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=4).map(tuple),
    BODIES,
)
@example("https://bit.ly/x", 200, (), b"<script>location.replace('\\u{110000}\\ud800')</script>")
@example("http://[::1/", 200, (("refresh", "0; url=/x"),), None)
def test_redirect_target_never_raises(url, status, headers, body):
    result = redirect_target(url, status, headers, body)
    assert result is None or result.lower().startswith(("http://", "https://"))


# -- canonical_link


@pytest.mark.parametrize(
    ("page", "body", "expected"),
    [
        (
            "https://www.example.com/a?utm_source=rss",
            b'<head><link rel="canonical" href="https://www.example.com/a"></head>',
            "https://www.example.com/a",
        ),
        (
            "https://www.example.com/amp/a",
            b'<link rel="canonical" href="/a">',
            "https://www.example.com/a",
        ),
        (  # www. or not is the same site
            "https://example.com/a",
            b'<link rel="canonical" href="https://www.example.com/a">',
            "https://www.example.com/a",
        ),
        (  # a subdomain of the page's site
            "https://example.com/a",
            b'<link rel="canonical" href="https://blog.example.com/a">',
            "https://blog.example.com/a",
        ),
        (  # the page on a subdomain of the canonical site
            "https://m.example.com/a",
            b'<link href="https://example.com/a" rel="Canonical">',
            "https://example.com/a",
        ),
        (  # rel is a token list
            "https://example.com/a",
            b'<link rel="alternate canonical" href="https://example.com/b">',
            "https://example.com/b",
        ),
        (  # relative to <base href>
            "https://example.com/x/a",
            b'<base href="https://example.com/posts/"><link rel="canonical" href="a">',
            "https://example.com/posts/a",
        ),
        (  # an entity in the attribute
            "https://example.com/a",
            b'<link rel="canonical" href="https://example.com/a?p=1&amp;q=2">',
            "https://example.com/a?p=1&q=2",
        ),
        (  # the first canonical link counts
            "https://example.com/a",
            b'<link rel="canonical" href="/one"><link rel="canonical" href="/two">',
            "https://example.com/one",
        ),
        (  # the home page may name itself
            "https://example.com/",
            b'<link rel="canonical" href="https://www.example.com/">',
            "https://www.example.com/",
        ),
    ],
)
def test_canonical_link(page, body, expected):
    assert canonical_link(page, body) == expected


@pytest.mark.parametrize(
    ("page", "body"),
    [
        ("https://example.com/a", b'<link rel="canonical" href="https://other.example/a">'),
        ("https://example.com/a", b'<link rel="canonical" href="https://example.com.evil/a">'),
        ("https://example.com/a", b'<link rel="canonical" href="https://notexample.com/a">'),
        ("https://a.example.com/x", b'<link rel="canonical" href="https://b.example.com/x">'),
        ("https://example.com/a", b'<link rel="canonical" href="https://com/a">'),
        ("https://example.com/a", b'<link rel="canonical" href="ftp://example.com/a">'),
        ("https://example.com/a", b'<link rel="canonical" href="javascript:alert(1)">'),
        ("https://example.com/a", b'<link rel="canonical" href="">'),
        ("https://example.com/a", b'<link rel="canonical">'),
        ("https://example.com/a", b'<link rel="alternate" href="https://example.com/b">'),
        ("https://example.com/a", b'<link rel="canonical" href="https://example.com/">'),
        ("https://example.com/a", b'<link rel="canonical" href="/">'),
        ("https://example.com/a", b""),
        ("https://example.com/a", b"<html><p>No head at all</p></html>"),
    ],
)
def test_canonical_link_none(page, body):
    assert canonical_link(page, body) is None


@given(st.text(max_size=30), BODIES.map(lambda body: body or b""))
@example("http://[::1/", b'<link rel="canonical" href="/x">')
@example("https://example.com/a", b'<base href="http://[::1"><link rel=canonical href=x>')
def test_canonical_link_never_raises(page, body):
    result = canonical_link(page, body)
    assert result is None or result.lower().startswith(("http://", "https://"))


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("https://example.com/", "https://www.example.com/x", True),
        ("https://WWW.Example.com/", "http://example.com./x", True),
        ("https://news.example.com/", "https://example.com/", True),
        ("https://a.example.com/", "https://b.example.com/", False),
        ("https://example.com/", "https://example.org/", False),
        ("https://example.com/", "https://com/", False),
        ("https://example.com/", "mailto:a@example.com", False),
    ],
)
def test_same_site(a, b, expected):
    assert same_site(a, b) is expected


# -- JS string escapes


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https:\\/\\/a.example\\/b", "https://a.example/b"),
        ("a\\u0026b", "a&b"),
        ("a\\x26b", "a&b"),
        ("a\\u{1F600}b", "a\U0001f600b"),
        ("\\'\\\"\\\\", "'\"\\"),
        ("\\u{110000}", "\ufffd"),  # past the last code point
        ("\\ud800", "\ufffd"),  # a lone surrogate
        ("trailing\\", "trailing\\"),
        ("plain", "plain"),
    ],
)
def test_js_unescape(value, expected):
    assert js_unescape(value) == expected


# -- link_expiry

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_link_expiry_ok():
    assert link_expiry("ok", permanent=True, failures=0, now=NOW) == NOW + timedelta(days=30)
    assert link_expiry("ok", permanent=False, failures=0, now=NOW) == NOW + timedelta(days=1)


@pytest.mark.parametrize(
    ("failures", "backoff"),
    [
        (1, timedelta(hours=1)),
        (2, timedelta(hours=2)),
        (3, timedelta(hours=4)),
        (4, timedelta(hours=8)),
        (8, timedelta(hours=128)),
        (9, timedelta(days=7)),  # 256 h, capped
        (50, timedelta(days=7)),
        (10**9, timedelta(days=7)),
        (0, timedelta(hours=1)),  # not a valid count; treated as the first
    ],
)
@pytest.mark.parametrize("outcome", [o for o in OUTCOMES if o != "ok"])
def test_link_expiry_failures_back_off(outcome, failures, backoff):
    assert link_expiry(outcome, permanent=False, failures=failures, now=NOW) == NOW + backoff
    assert link_expiry(outcome, permanent=True, failures=failures, now=NOW) == NOW + backoff


def test_link_expiry_unknown_outcome():
    with pytest.raises(ValueError, match="unknown outcome"):
        link_expiry("maybe", permanent=True, failures=1, now=NOW)


def test_outcomes():
    assert OUTCOMES == ("ok", "not_found", "loop", "too_many_hops", "blocked", "timeout", "error")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://consent.google.com/ml?continue=x", True),
        ("https://consent.youtube.com/m", True),
        ("https://guce.yahoo.com/consent?brandType=x", True),
        ("https://consent.bbc.co.uk/", True),
        ("https://www.bbc.co.uk/news/world-1", False),
        ("https://example.org/consent", False),
        ("not a url", False),
    ],
)
def test_is_interstitial(url, expected):
    from feedd.links import is_interstitial

    assert is_interstitial(url) is expected
