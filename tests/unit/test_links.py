"""links: canonical URLs and absolute item links (pure)."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from feedd.links import absolute_url, canonical_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://Example.COM/Path", "http://example.com/Path"),  # path case kept
        ("HTTPS://WWW.Example.com/a?b=C", "https://www.example.com/a?b=C"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:443/a", "http://example.com:443/a"),  # not http's default
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("https://example.com/a#section-2", "https://example.com/a"),
        ("https://example.com/a?x=1#frag", "https://example.com/a?x=1"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com./a", "https://example.com/a"),
        ("  https://example.com/a  ", "https://example.com/a"),
        ("http://[::1]:8080/a", "http://[::1]:8080/a"),
        ("http://EXAMPLE.com/%7Efoo", "http://example.com/%7Efoo"),
    ],
)
def test_canonical_url_normalizes(url, expected):
    assert canonical_url(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com/a?utm_source=rss", "https://example.com/a"),
        (
            "https://example.com/a?utm_source=rss&utm_medium=feed&utm_campaign=x&UTM_Term=y",
            "https://example.com/a",
        ),
        ("https://example.com/a?id=5&utm_source=rss&page=2", "https://example.com/a?id=5&page=2"),
        ("https://example.com/a?fbclid=IwAR0abc", "https://example.com/a"),
        ("https://example.com/a?b=2&fbclid=x&a=1&gclid=y", "https://example.com/a?b=2&a=1"),
        ("https://example.com/a?z=1&y=2&x=3", "https://example.com/a?z=1&y=2&x=3"),  # order kept
        ("https://example.com/a?utm=1", "https://example.com/a?utm=1"),  # not a utm_ param
        ("https://example.com/a?q=%2F&utm_source=x", "https://example.com/a?q=%2F"),
        ("https://example.com/a?q=a%2Bb&utm_source=x", "https://example.com/a?q=a%2Bb"),
    ],
)
def test_canonical_url_drops_tracking_parameters(url, expected):
    assert canonical_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/a?flag",
        "https://example.com/a?q=hello%20world",
        "https://example.com/a?a=1;b=2",
        "https://example.com/a?tags=x&tags=y&empty=",
        "https://example.com/a?path=/x/y&q=a+b",
    ],
)
def test_dropping_tracking_parameters_leaves_the_rest_as_it_was(url):
    """An article URL with a tracking parameter is the same article as without one.

    The other parameters must come out exactly as they would with no tracking
    parameter, or the two copies get different canonical URLs and dedupe misses them.
    """
    assert canonical_url(url + "&utm_source=rss") == canonical_url(url)
    assert canonical_url(url + "&fbclid=abc") == canonical_url(url)


@pytest.mark.parametrize(
    "url",
    [
        None,
        "",
        "   ",
        "ftp://example.com/file",
        "mailto:someone@example.com",
        "javascript:alert(1)",
        "data:text/html,hi",
        "file:///etc/passwd",
        "urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a",
        "tag:example.com,2024:1",
        "//example.com/no-scheme",
        "/relative/path",
        "relative/path",
        "http://",
        "https:///path-only",
        "http://example.com:99999/",  # port out of range
        "http://[::1/",  # broken IPv6 literal
    ],
)
def test_canonical_url_non_http_or_unusable_is_none(url):
    assert canonical_url(url) is None


@pytest.mark.parametrize("url", ["http://./", "https://../a"])
def test_canonical_url_host_of_only_dots_is_none(url):
    """A host of only dots is empty once the trailing dot goes; there is no host."""
    assert canonical_url(url) is None


def test_canonical_url_percent_encodes_a_space_before_the_fragment():
    # As a browser's URL parser does (WHATWG): the space is part of the path.
    canonical = canonical_url("https://example.com/a #top")
    assert canonical == "https://example.com/a%20"
    assert canonical_url(canonical) == canonical


URL_PIECES = st.sampled_from(
    [
        "http://",
        "https://",
        "HTTPS://",
        "Example.COM",
        "example.com.",
        "[::1]",
        ":80",
        ":443",
        ":8080",
        "/",
        "/a/b",
        "?",
        "&",
        "=",
        "#",
        "x",
        "utm_source=1",
        "fbclid=2",
        "id=3",
        "%20",
        "%2F",
        "+",
        ";",
        ".",
        " ",
        "@",
        "user:pw@",
        "\u00e9",
    ]
)
URLS = st.one_of(st.lists(URL_PIECES, max_size=12).map("".join), st.text(max_size=80))


@given(URLS)
@example("http://./")
@example("https://example.com/a #top")
def test_canonical_url_is_idempotent(url):
    once = canonical_url(url)
    if once is not None:
        assert canonical_url(once) == once


@given(URLS)
def test_canonical_url_never_raises_and_is_http(url):
    result = canonical_url(url)
    assert result is None or result.startswith(("http://", "https://"))
    if result is not None:
        assert "#" not in result


# -- absolute_url


@pytest.mark.parametrize(
    ("link", "base", "expected"),
    [
        ("posts/1", "https://example.com/blog/feed.xml", "https://example.com/blog/posts/1"),
        ("/posts/1", "https://example.com/blog/feed.xml", "https://example.com/posts/1"),
        ("../up", "https://example.com/blog/feed.xml", "https://example.com/up"),
        (
            "?page=2",
            "https://example.com/blog/feed.xml",
            "https://example.com/blog/feed.xml?page=2",
        ),
        ("//cdn.example.net/a", "https://example.com/", "https://cdn.example.net/a"),
        ("https://other.example/x", "https://example.com/", "https://other.example/x"),
        ("  https://other.example/x  ", "https://example.com/", "https://other.example/x"),
        ("#frag", "https://example.com/a", "https://example.com/a#frag"),  # kept: link as given
        ("posts/1", None, None),  # no base: a relative link leads nowhere
        ("mailto:a@example.com", "https://example.com/", None),  # not an article link
        ("urn:uuid:1225c695", "https://example.com/", None),  # an Atom id, not a link
        (None, "https://example.com/", None),
        ("", "https://example.com/", None),
        ("   ", "https://example.com/", None),
    ],
)
def test_absolute_url(link, base, expected):
    assert absolute_url(link, base) == expected


def test_absolute_url_unusable_link_is_none():
    assert absolute_url("http://[::1/", "https://example.com/") is None


@given(st.one_of(st.none(), st.text(max_size=60)), st.one_of(st.none(), st.text(max_size=60)))
def test_absolute_url_never_raises(link, base):
    result = absolute_url(link, base)
    assert result is None or isinstance(result, str)
