"""links.unwrap: redirect wrappers that carry their target in the URL (offline)."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from feedd.links import MAX_UNWRAP, canonical_url, unwrap

ARTICLE = "https://example.com/news/2024/story?id=42&page=2"
ENCODED = "https%3A%2F%2Fexample.com%2Fnews%2F2024%2Fstory%3Fid%3D42%26page%3D2"


@pytest.mark.parametrize(
    "wrapper",
    [
        # Google: search results, Alerts feeds, Gmail.
        f"https://www.google.com/url?q={ENCODED}&sa=D&source=editors&usg=AOvVaw",
        f"https://www.google.com/url?rct=j&sa=t&url={ENCODED}&ct=ga&cd=CAIy&usg=AFQjCN",
        f"https://www.google.co.uk/url?sa=t&url={ENCODED}",
        f"https://google.com/url?q={ENCODED}",
        # Facebook's link shim, desktop and mobile, and its warning page.
        f"https://l.facebook.com/l.php?u={ENCODED}&h=AT0abc",
        f"https://lm.facebook.com/l.php?u={ENCODED}&h=AT0abc",
        f"https://www.facebook.com/flx/warn/?u={ENCODED}&h=AT0",
        f"https://l.instagram.com/?u={ENCODED}&e=ATM",
        f"https://l.messenger.com/l.php?u={ENCODED}&h=AT0",
        # YouTube description links.
        f"https://www.youtube.com/redirect?event=video_description&redir_token=QUF&q={ENCODED}&v=dQw4",
        f"https://m.youtube.com/redirect?q={ENCODED}",
        # Reddit.
        f"https://out.reddit.com/t3_1abcd?url={ENCODED}&token=AQAA&app_name=web2x",
        # Consent interstitials.
        f"https://consent.google.com/ml?continue={ENCODED}&gl=DE&hl=de&pc=n&src=1",
        f"https://consent.youtube.com/m?continue={ENCODED}&gl=FR",
        f"https://consent.google.de/ml?continue={ENCODED}",
        # Tumblr, href.li and other link shims.
        f"https://t.umblr.com/redirect?z={ENCODED}&t=YTQ&m=1",
        f"https://href.li/?{ARTICLE}",
        f"https://eur01.safelinks.protection.outlook.com/?url={ENCODED}&data=05%7C01",
        f"https://www.bing.com/news/apiclick.aspx?ref=FexRss&aid=&tid=x&url={ENCODED}&c=1&mkt=en-us",
        f"https://medium.com/r/?url={ENCODED}",
        f"https://duckduckgo.com/l/?uddg={ENCODED}&rut=abc",
        f"https://www.linkedin.com/redir/redirect?url={ENCODED}&urlhash=x",
        # ClearURLs redirection rules.
        f"https://vk.com/away.php?to={ENCODED}&cc_key=",
        f"https://steamcommunity.com/linkfilter/?url={ENCODED}",
        f"https://click.linksynergy.com/deeplink?id=x&mid=1&murl={ENCODED}",
        f"https://www.googleadservices.com/pagead/aclk?sa=L&ai=x&adurl={ENCODED}",
    ],
)
def test_unwrap_finds_the_target(wrapper):
    assert unwrap(wrapper) == ARTICLE


@pytest.mark.parametrize(
    ("wrapper", "expected"),
    [
        # The examples, with their usual shapes.
        (
            "https://www.google.com/url?q=https://blog.example.org/post/1&sa=D",
            "https://blog.example.org/post/1",
        ),
        (
            "https://l.facebook.com/l.php?u=https%3A%2F%2Fwww.example.com%2Farticle%3Fid%3D42&h=AT1",
            "https://www.example.com/article?id=42",
        ),
        (
            "https://www.youtube.com/redirect?q=https%3A%2F%2Fexample.com%2F&v=x",
            "https://example.com/",
        ),
        ("https://out.reddit.com/t3_x?url=https%3A%2F%2Fexample.com%2Fp", "https://example.com/p"),
        (
            "https://consent.google.com/ml?continue=https://news.google.com/articles/CBMi?hl%3Den",
            "https://news.google.com/articles/CBMi?hl=en",
        ),
        # Google search: an empty q (the query) before url (the target).
        (
            "https://www.google.com/url?sa=t&rct=j&q=&esrc=s&source=web&cd=1"
            "&url=https%3A%2F%2Fexample.com%2Fr&ved=2ah",
            "https://example.com/r",
        ),
        # Google's AMP viewer: the target has no scheme in the URL.
        ("https://www.google.com/amp/s/www.example.com/a.amp", "https://www.example.com/a.amp"),
        # Decoded once, as the wrapper's server does: %25 stays a percent escape.
        (
            "https://www.google.com/url?q=https%3A%2F%2Fexample.com%2F100%2525&sa=D",
            "https://example.com/100%25",
        ),
        # A + in a query value is a space, as the server reads it.
        (
            "https://www.google.com/url?q=https%3A%2F%2Fexample.com%2Fs%3Fq%3Da%2Bb+c",
            "https://example.com/s?q=a+b c",
        ),
        # A wrapper that encodes its target twice.
        (
            "https://l.facebook.com/l.php?u=https%253A%252F%252Fexample.com%252Fx",
            "https://example.com/x",
        ),
        # Host case and a trailing dot do not hide a wrapper.
        ("https://WWW.Google.COM./url?q=https%3A%2F%2Fexample.com%2F", "https://example.com/"),
        # Scheme-relative target.
        ("https://href.li/?//example.com/x", "https://example.com/x"),
    ],
)
def test_unwrap_decodes_the_target_right(wrapper, expected):
    assert unwrap(wrapper) == expected


def test_unwrap_a_wrapper_in_a_wrapper():
    facebook = "https://l.facebook.com/l.php?u=https%3A%2F%2Fexample.com%2Fdeep%3Fid%3D1"
    consent = "https://consent.google.com/ml?continue=" + facebook.replace("%", "%25").replace(
        "?", "%3F"
    ).replace("=", "%3D").replace(":", "%3A").replace("/", "%2F")
    assert unwrap(consent) == "https://example.com/deep?id=1"


def test_unwrap_stops_after_max_unwrap_levels():
    url = ARTICLE
    for _ in range(MAX_UNWRAP + 2):
        url = "https://href.li/?" + url
    result = unwrap(url)
    assert result.startswith("https://href.li/?")
    assert result.count("href.li") == 2  # MAX_UNWRAP levels peeled off


@pytest.mark.parametrize(
    "url",
    [
        ARTICLE,
        "https://www.google.com/search?q=feeds",
        "https://www.google.com/url?q=javascript:alert(1)",
        "https://www.google.com/url?q=javascript%3Aalert(1)",
        "https://www.google.com/url?q=data:text/html,hi",
        "https://www.google.com/url?q=/relative/path",
        "https://www.google.com/url?q=",
        "https://www.google.com/url",
        "https://l.facebook.com/l.php?u=ftp%3A%2F%2Fexample.com%2F",
        "https://l.facebook.com/l.php?u=https%3A%2F%2F",  # no host
        "https://consent.google.com/ml?continue=mailto:a@example.com",
        "https://href.li/?not-a-url",
        "https://www.instagram.com/p/abc/?menu=1",  # a ClearURLs rule that needs http(s)
        "https://example.com/url?q=https%3A%2F%2Fother.example%2F",  # not a known wrapper
        "ftp://www.google.com/url?q=https%3A%2F%2Fexample.com%2F",
        "not a url",
        "",
        "http://[::1/url?q=https://example.com/",
    ],
)
def test_unwrap_leaves_anything_else_as_it_is(url):
    assert unwrap(url) is url


def test_unwrapped_links_canonicalize_to_one_article():
    wrappers = [
        f"https://www.google.com/url?q={ENCODED}%26utm_source%3Dalerts",
        f"https://l.facebook.com/l.php?u={ENCODED}%26fbclid%3DIwAR",
        ARTICLE + "&utm_medium=rss#comments",
    ]
    assert {canonical_url(unwrap(w)) for w in wrappers} == {ARTICLE}


WRAPPER_PIECES = st.sampled_from(
    [
        "https://www.google.com/url?q=",
        "https://l.facebook.com/l.php?u=",
        "https://consent.google.com/ml?continue=",
        "https://href.li/?",
        "https://out.reddit.com/x?url=",
        "https://www.instagram.com/?u=",
        "https%3A%2F%2F",
        "https://",
        "http:",
        "//",
        "javascript:",
        "example.com",
        "[::1",
        "%",
        "%25",
        "%3A",
        "%2F",
        "?",
        "&",
        "=",
        "#",
        " ",
        "\u00e9",
    ]
)


@given(st.one_of(st.lists(WRAPPER_PIECES, max_size=10).map("".join), st.text(max_size=80)))
@example("https://www.google.com/url?q=javascript:alert(1)")
@example("https://www.google.com/url?q=https://[::1")
def test_unwrap_never_raises_and_returns_http_or_the_input(url):
    result = unwrap(url)
    assert result is url or result.lower().startswith(("http://", "https://"))
