"""links: canonical URLs and absolute item links (pure)."""

from __future__ import annotations

from urllib.parse import urlsplit

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
        # ClearURLs' global rule is utm(?:_[a-z_]*)?: a bare utm is tracking too (issue 3).
        ("https://example.com/a?utm=1", "https://example.com/a"),
        ("https://example.com/a?utmost=1", "https://example.com/a?utmost=1"),
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
        "#!/",
        "!",
        "ref=4",
        "%3Futm_medium=5",
        "www.amazon.de/dp/B1",
        "tag=aff-21",
        "www.youtube.com/watch",
        "feature=share",
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
    if result is not None and "#" in result:
        # The only fragment kept is a hash-bang route (issue 3).
        assert result.split("#", 1)[1].startswith("!")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # Real parameters stay, in order, byte for byte.
        ("https://example.com/item?id=42&utm_source=rss", "https://example.com/item?id=42"),
        ("https://example.com/?p=123&ref=rss&page=2", "https://example.com/?p=123&page=2"),
        # ClearURLs' global rules.
        ("https://example.com/a?id=1&mkt_tok=abc&_ga=2.1", "https://example.com/a?id=1"),
        (
            "https://www.heise.de/news/x.html?wt_mc=rss.red.ho.ho.atom.beitrag",
            "https://www.heise.de/news/x.html",
        ),
        ("https://example.com/a?yclid=1&id=2", "https://example.com/a?id=2"),
        ("https://example.com/a?%3Futm_source=x&id=2", "https://example.com/a?id=2"),
        # feedd's own list, on top of ClearURLs'.
        ("https://shop.example/p?srsltid=AfmBOo&sku=9", "https://shop.example/p?sku=9"),
        ("https://example.com/a?mc_cid=1&mc_eid=2&_hsenc=3&pk_campaign=4", "https://example.com/a"),
        # Provider rules apply on their own site only.
        (
            "https://www.youtube.com/watch?v=dQw4&feature=youtu.be",
            "https://www.youtube.com/watch?v=dQw4",
        ),
        (
            "https://example.com/watch?v=dQw4&feature=youtu.be",
            "https://example.com/watch?v=dQw4&feature=youtu.be",
        ),
        ("https://medium.com/@a/post-123?source=rss----abc", "https://medium.com/@a/post-123"),
        ("https://example.com/post?source=rss", "https://example.com/post?source=rss"),
        (
            "https://www.nytimes.com/2024/a.html?smid=tw-share",
            "https://www.nytimes.com/2024/a.html",
        ),
        ("https://www.theguardian.com/a?CMP=share_btn_tw", "https://www.theguardian.com/a"),
        # referralMarketing is removed like a rule: an affiliate tag is not the product.
        ("https://www.amazon.de/dp/B0C1?tag=aff-21&psc=1", "https://www.amazon.de/dp/B0C1?psc=1"),
        # A provider's exceptions keep its rules off: GitLab's ref is a branch.
        (
            "https://gitlab.com/g/p/-/blob/main/f?ref_type=heads&ref=main",
            "https://gitlab.com/g/p/-/blob/main/f?ref_type=heads&ref=main",
        ),
        (
            "https://www.google.com/search?q=feeds&client=firefox-b-d",
            "https://www.google.com/search?q=feeds",
        ),
    ],
)
def test_canonical_url_drops_tracking_per_clearurls(url, expected):
    assert canonical_url(url) == expected
    assert canonical_url(expected) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com/#!/post/42", "https://example.com/#!/post/42"),
        ("https://example.com/app?utm_source=x#!/post/42", "https://example.com/app#!/post/42"),
        ("https://example.com/#!post-42", "https://example.com/#!post-42"),
        ("https://example.com/a#!", "https://example.com/a"),  # no route after the bang
        ("https://example.com/a#section", "https://example.com/a"),
        (
            "https://example.com/a#/route",
            "https://example.com/a",
        ),  # only #! is a route by convention
    ],
)
def test_canonical_url_keeps_only_hash_bang_fragments(url, expected):
    assert canonical_url(url) == expected


@given(st.lists(URL_PIECES, max_size=12).map("".join))
@example("http:///http://")
def test_canonical_url_fast_path_agrees_with_w3lib(url):
    """URLs w3lib would leave alone skip it; the result must be the same as through it.
    Not for a URL without a host, which canonical_url refuses and w3lib (2.6, as
    the URL standard) rewrites, taking its path for the host."""
    from w3lib.url import safe_url_string

    if not urlsplit(url.strip()).netloc:
        assert canonical_url(url) is None
        return
    try:
        through_w3lib = safe_url_string(url.strip())
    except (ValueError, UnicodeError):
        return
    assert canonical_url(url) == canonical_url(through_w3lib)


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
