"""Properties of parse, normalize and canonical URLs on generated input (hypothesis).

- parse: any bytes, XML-ish documents and JSON Feed-ish objects give a
  ParsedFeed or raise ParseError, never another exception; what parses goes
  through links + normalize (digest.entries_of) without an exception either.
- normalize: sanitized HTML has no <script>, <style> or <iframe>, no on*=
  attribute, no javascript:/vbscript:/data: URL; plain text has no markup tag
  (when the source's own text holds no escaped "<") and no NUL.
- links.canonical_url: never raises, gives None or an http(s) URL, idempotent.

Bugs these found that are not fixed yet are pinned by the xfail(strict=True)
tests at the end of each section; the generators leave out their triggers (a
comment says where) so that the properties keep guarding everything else.

Settings are fixed (derandomize, no example database) so a run is repeatable
and the file takes a few seconds.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from feedd.digest import entries_of
from feedd.errors import ParseError
from feedd.links import absolute_url, canonical_url, unwrap
from feedd.normalize import html_to_text, normalize_entry, sanitize_html
from feedd.parse import parse_feed
from feedd.types import ParsedFeed, RawEntry

PROPERTY = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FEED_URL = "https://feeds.example.net/dir/feed.xml"

# -- HTML invariants, shared by the parse and normalize properties

FORBIDDEN_TAGS = frozenset({"script", "style", "iframe"})
URL_ATTRIBUTES = frozenset(
    {"href", "src", "srcset", "poster", "action", "formaction", "background", "data", "xlink:href"}
)
BAD_SCHEMES = ("javascript:", "vbscript:", "data:")
# Browsers drop ASCII whitespace and control characters inside a scheme.
_IGNORED_IN_SCHEME = re.compile(r"[\x00-\x20]")
MARKUP_TAG = re.compile(r"</?[A-Za-z][^<>]*>")


class _Inspector(HTMLParser):
    """Collects what makes an HTML fragment unsafe, as a browser would read it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in FORBIDDEN_TAGS:
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"{tag} {name}=")
            if name in URL_ATTRIBUTES and value:
                # srcset is a list of "URL descriptor" candidates.
                candidates = value.split(",") if name == "srcset" else [value]
                for candidate in candidates:
                    scheme = _IGNORED_IN_SCHEME.sub("", candidate).lower()
                    if scheme.startswith(BAD_SCHEMES):
                        self.problems.append(f"{tag} {name}={value!r}")

    handle_startendtag = handle_starttag


def html_problems(fragment: str | None) -> list[str]:
    """Why a sanitized fragment is unsafe; empty when it is fine."""
    if fragment is None:
        return []
    problems = [f"raw <{t}" for t in FORBIDDEN_TAGS if f"<{t}" in fragment.lower()]
    if "\x00" in fragment:
        problems.append("NUL")
    inspector = _Inspector()
    inspector.feed(fragment)
    inspector.close()
    return problems + inspector.problems


def text_problems(text: str | None, *, markup_free_source: bool) -> list[str]:
    if text is None:
        return []
    problems = ["NUL"] if "\x00" in text else []
    if markup_free_source and MARKUP_TAG.search(text):
        problems.append(f"markup in plain text: {MARKUP_TAG.search(text)[0]!r}")  # type: ignore[index]
    return problems


# -- parse


ELEMENTS = (
    "rss",
    "channel",
    "item",
    "title",
    "link",
    "description",
    "guid",
    "pubDate",
    "feed",
    "entry",
    "content",
    "summary",
    "id",
    "updated",
    "published",
    "author",
    "name",
    "category",
    "enclosure",
    "rdf:RDF",
    "content:encoded",
    "dc:date",
    "dc:creator",
    "feedburner:origLink",
    "ttl",
    "sy:updatePeriod",
    "sy:updateFrequency",
    "media:content",
    "atom:link",
    "source",
    "url",
    "html",
    "body",
    "p",
    "script",
)
ATTRIBUTES = (
    'version="2.0"',
    'type="html"',
    'type="text"',
    'type="xhtml"',
    'href="https://example.com/x?utm_source=1"',
    'href="javascript:alert(1)"',
    'rel="enclosure"',
    'rel="alternate"',
    'xmlns="http://www.w3.org/2005/Atom"',
    'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"',
    'xmlns="http://purl.org/rss/1.0/"',
    'xmlns:content="http://purl.org/rss/1.0/modules/content/"',
    'xml:base="https://example.com/base/"',
    'xml:base="javascript:x"',
    'xml:lang="en"',
    'isPermaLink="false"',
    'url="https://example.com/a.mp3"',
    'length="x"',
    'term="t"',
    'label=""',
    'src="x"',
    'v="1"',
)
TEXT_PIECES = (
    "&amp;",
    "&lt;p onclick='x'&gt;hi&lt;/p&gt;",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&aacute;",
    "&bogus;",
    "&#0;",
    "&#233;",
    "<![CDATA[<p onclick='x'>y</p><script>z</script>]]>",
    "]]>",
    "<!-- c -->",
    "<?pi x?>",
    "Tue, 03 Jun 2025 09:39:21 +0200",
    "2025-06-03T09:39:21Z",
    "Mon, 31 Feb 10000 25:61:61 +9999",
    "99999999999999999999",
    "https://example.com/x?utm_source=1&id=2",
    "//example.com/y",
    "urn:uuid:1",
    "\x00",
)
# Left out while they crash parse (see the xfail tests below and
# test_fuzz_regressions.KNOWN_BUGS): numeric character references to surrogates
# or past U+10FFFF (&#xD800;, &#x110000;), and the element <image> (feedparser
# raises IndexError for <entry><source><image><link>).
TEXT = st.one_of(st.text(max_size=20), st.sampled_from(TEXT_PIECES))


def _element(name: str, attributes: list[str], children: list[str], empty: bool) -> str:
    if name == "feedburner:origLink":
        # Left out while it crashes entries_of (see test_feedburner_origlink_with_an_attribute).
        attributes = []
    opening = "".join(f" {a}" for a in attributes)
    if empty:
        return f"<{name}{opening}/>"
    return f"<{name}{opening}>{''.join(children)}</{name}>"


def _elements(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(
        _element,
        st.sampled_from(ELEMENTS),
        st.lists(st.sampled_from(ATTRIBUTES), max_size=2),
        st.lists(children, max_size=5),
        st.booleans(),
    )


PROLOGS = (
    "",
    '<?xml version="1.0"?>',
    '<?xml version="1.0" encoding="utf-8"?>',
    '<?xml version="1.0" encoding="iso-8859-1"?>',
    '<?xml version="1.0" encoding="utf-16"?>',
    '<?xml version="1.0" encoding="bogus"?>',
    '<!DOCTYPE rss [<!ENTITY e "eeeeeeee"><!ENTITY f "&e;&e;&e;">]>',
    '<!DOCTYPE rss SYSTEM "file:///etc/passwd">',
    '<!DOCTYPE x [<!ENTITY % p SYSTEM "http://127.0.0.1:1/">%p;]>',
    "\ufeff",
    "<!DOCTYPE html>",
)


def _encode(prolog: str, tree: str, encoding: str, cut: int | None) -> bytes:
    body = (prolog + tree).encode(encoding, errors="replace")
    return body if cut is None else body[:cut]


XML_DOCUMENTS = st.builds(
    _encode,
    st.sampled_from(PROLOGS),
    st.recursive(TEXT, _elements, max_leaves=20),
    st.sampled_from(("utf-8", "utf-16", "utf-16-le", "utf-32", "latin-1", "cp1252")),
    st.one_of(st.none(), st.integers(0, 400)),  # truncated bodies too
)
JSON_KEYS = (
    "version",
    "items",
    "id",
    "url",
    "title",
    "content_html",
    "content_text",
    "summary",
    "date_published",
    "date_modified",
    "authors",
    "author",
    "name",
    "tags",
    "attachments",
    "external_url",
    "home_page_url",
    "size_in_bytes",
    "mime_type",
)
JSON_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=10),
        st.sampled_from(["<script>x</script><p>y</p>", "2025-06-03T09:39:21Z", "javascript:x"]),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.sampled_from(JSON_KEYS), children, max_size=5),
    ),
    max_leaves=12,
)
JSON_DOCUMENTS = st.builds(
    lambda version, items, extra: json.dumps(
        {**extra, "version": version, "items": items}
    ).encode(),
    st.sampled_from(
        ["https://jsonfeed.org/version/1.1", "https://jsonfeed.org/version/1", "1", 1, None]
    ),
    st.one_of(st.lists(JSON_VALUES, max_size=4), JSON_VALUES),
    st.dictionaries(st.sampled_from(JSON_KEYS), JSON_VALUES, max_size=3),
)
CONTENT_TYPES = st.sampled_from(
    [
        None,
        "application/rss+xml",
        "application/atom+xml; charset=latin-1",
        "application/feed+json",
        "application/json",
        "text/html; charset=utf-8",
        "text/plain; charset=utf-16",
        "application/xml; charset=bogus",
    ]
)


def check_parse(body: bytes, content_type: str | None) -> None:
    try:
        parsed = parse_feed(body, url=FEED_URL, content_type=content_type)
    except ParseError:
        return
    assert isinstance(parsed, ParsedFeed)
    for entry in entries_of(parsed, FEED_URL):
        assert not html_problems(entry.content_html), (body, entry.content_html)
        for text in (entry.title, entry.summary, entry.content_text, entry.author, entry.guid):
            assert text is None or "\x00" not in text, (body, text)
        assert entry.url is None or entry.url.startswith(("http://", "https://"))


@PROPERTY
@given(st.binary(max_size=2000), CONTENT_TYPES)
@example(b"", None)
@example(b"\xef\xbb\xbf", "application/json")
@example(b"/etc/passwd", None)
@example(b"\xff\xfe<\x00?\x00", None)
def test_parse_arbitrary_bytes(body, content_type):
    check_parse(body, content_type)


@PROPERTY
@given(XML_DOCUMENTS, CONTENT_TYPES)
def test_parse_xmlish_documents(body, content_type):
    check_parse(body, content_type)


@PROPERTY
@given(JSON_DOCUMENTS, CONTENT_TYPES)
def test_parse_json_feed_like_documents(body, content_type):
    check_parse(body, content_type)


RSS_WITH = (
    '<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
    "<item><guid>a</guid><title>{title}</title><description>d</description></item>"
    "</channel></rss>"
)


# feedparser's loose parser calls chr() on any numeric character reference and
# raised out of parse_feed; parse now turns that into a ParseError.
@pytest.mark.parametrize("reference", ["&#xD800;", "&#x110000;", "&#99999999;"])
def test_out_of_range_character_reference_is_not_a_crash(reference):
    check_parse(RSS_WITH.format(title=f"T {reference}").encode(), None)


def test_feedburner_origlink_with_an_attribute():
    # feedparser gives an attributes dict; parse keeps only a string origLink.
    body = (
        b'<rss version="2.0"><channel><title>T</title><item><title>a</title>'
        b'<feedburner:origLink href="https://example.com/a"/></item></channel></rss>'
    )
    check_parse(body, None)


# -- normalize


HTML_TAGS = (
    "script",
    "SCRIPT",
    "style",
    "iframe",
    "svg",
    "math",
    "a",
    "img",
    "p",
    "div",
    "b",
    "noscript",
    "textarea",
    "title",
    "template",
    "object",
    "embed",
    "video",
    "audio",
    "picture",
    "table",
    "td",
    "tr",
    "pre",
    "br",
    "form",
    "input",
    "select",
    "frameset",
    "base",
    "meta",
    "link",
    "body",
    "head",
    "details",
    "image",
    "listing",
    "foreignObject",
    "annotation-xml",
    "mglyph",
)
# Not generated: the raw-text elements <xmp> and <plaintext>, whose content is
# literal text ("<b>" shown as is; keeping it in plain text is right), and
# <noembed>/<noframes> (see test_hidden_raw_text_is_not_plain_text); nor
# <source srcset> (see test_srcset_url_schemes_are_checked).
HTML_ATTRIBUTES = (
    "onclick",
    "ONERROR",
    "onload",
    "on",
    "href",
    "src",
    "poster",
    "style",
    "title",
    "alt",
    "xlink:href",
    "formaction",
    "action",
    "data",
    "background",
)
HTML_VALUES = (
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " javascript:x",
    "java\tscript:x",
    "java&#x09;script:x",
    "jav&#x61;script:x",
    "&#106;avascript:x",
    "javascript&colon;x",
    "\x01javascript:x",
    "java\nscript:x",
    "vbscript:x",
    "data:text/html,<script>x</script>",
    "https://example.com/ok",
    "/relative",
    "//example.org/x",
    'x" onerror="y',
    "'><script>x</script>",
    "mailto:a@example.com",
    "1 onerror=2",
)


def _attribute(name: str, value: str, quote: str) -> str:
    return f" {name}={quote}{value}{quote}" if quote else f" {name}={value.replace(' ', '')}"


HTML_TEXT = st.lists(
    st.sampled_from(
        [*"ab c\n\t.-é\u00a0\u200b\x00", "&amp;", "&quot;", "&#233;", "&nbsp;", "javascript:x"]
    ),
    max_size=8,
).map("".join)
HTML_START = st.builds(
    lambda tag, attributes, closed: f"<{tag}{''.join(attributes)}{'/' if closed else ''}>",
    st.sampled_from(HTML_TAGS),
    st.lists(
        st.builds(
            _attribute,
            st.sampled_from(HTML_ATTRIBUTES),
            st.sampled_from(HTML_VALUES),
            st.sampled_from(['"', "'", ""]),
        ),
        max_size=3,
    ),
    st.booleans(),
)
HTML_END = st.builds(lambda tag: f"</{tag}>", st.sampled_from(HTML_TAGS))
HTML_OTHER = st.sampled_from(
    ["<!--", "-->", "<!-- x -->", "<![CDATA[", "]]>", "<!DOCTYPE html>", "<?php x ?>", "</", ">"]
)
# Fragments whose "<" are all markup and whose text decodes to no "<": any tag
# in their plain text would be leaked markup.
HTML_FRAGMENTS = st.lists(st.one_of(HTML_START, HTML_END, HTML_TEXT, HTML_OTHER), max_size=25).map(
    "".join
)
BASE_URLS = st.sampled_from([None, "https://example.com/a/b.html", "javascript:x//", "//x"])


@PROPERTY
@given(HTML_FRAGMENTS, BASE_URLS)
@example("<a href='java&#x0A;script:alert(1)'>x</a><img src=x onerror=alert(1)>", None)
@example("<svg><style><img src=x onerror=alert(1)></style></svg>", None)
@example("<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>", None)
@example("<a href='/x'>x</a>", "javascript:alert(1)//")
def test_sanitized_html_is_safe(fragment, base_url):
    cleaned = sanitize_html(fragment, base_url)
    assert not html_problems(cleaned), (fragment, cleaned)


@PROPERTY
@given(st.text(max_size=300), BASE_URLS)
def test_sanitize_any_text(fragment, base_url):
    cleaned = sanitize_html(fragment, base_url)
    assert not html_problems(cleaned), (fragment, cleaned)
    assert not text_problems(html_to_text(fragment), markup_free_source=False)


@PROPERTY
@given(HTML_FRAGMENTS)
@example("<p>a<script>b</script><style>c</style></p><textarea><p>d</p></textarea>")
def test_plain_text_has_no_markup_and_no_nul(fragment):
    text = html_to_text(fragment)
    assert not text_problems(text, markup_free_source=True), (fragment, text)
    assert not text_problems(html_to_text(sanitize_html(fragment)), markup_free_source=True)


@PROPERTY
@given(
    HTML_FRAGMENTS,
    HTML_FRAGMENTS,
    st.text(max_size=40),
    st.lists(st.text(max_size=10), max_size=3),
    st.one_of(st.none(), st.text(max_size=40)),
)
def test_normalized_entry_is_clean(content, title, author, tags, link):
    raw = RawEntry(
        id=None,
        link=link,
        title=title,
        summary=content[:50] or None,
        content=content or None,
        author=author or None,
        published=None,
        updated=None,
        published_raw=None,
        updated_raw=None,
        tags=tuple(tags),
        extra=(),
    )
    url = canonical_url(absolute_url(link, FEED_URL))
    entry = normalize_entry(raw, link=link, url=url, base_url=FEED_URL)
    assert not html_problems(entry.content_html), (content, entry.content_html)
    for text in (entry.title, entry.summary, entry.content_text):
        assert not text_problems(text, markup_free_source=True), (content, title, text)
    for text in (entry.author, entry.guid, entry.link, entry.url, *entry.tags):
        assert text is None or "\x00" not in text


# Found by these tests: nh3 checks URL schemes of href/src, not of srcset;
# normalize no longer allows srcset.
@pytest.mark.parametrize(
    "fragment",
    [
        '<picture><source srcset="javascript:alert(1)"></picture>',
        '<picture><source srcset="https://example.com/a.png 1x, data:image/svg+xml,x 2x">'
        "</picture>",
    ],
)
def test_srcset_url_schemes_are_checked(fragment):
    cleaned = sanitize_html(fragment, "https://example.com/")
    assert not html_problems(cleaned), cleaned


# Found by these tests: <noembed>/<noframes> are raw text browsers never show;
# nh3 kept it as visible text. normalize now drops them with their content.
@pytest.mark.parametrize("tag", ["noembed", "noframes"])
def test_hidden_raw_text_is_not_plain_text(tag):
    fragment = f"<p>Video</p><{tag}><a href='https://example.com/'>Download</a></{tag}>"
    text = html_to_text(fragment)
    assert not text_problems(text, markup_free_source=True), text


# -- canonical URLs


SCHEMES = st.sampled_from(
    ["http", "https", "HTTP", "hTTps", "ftp", "javascript", "", "http:", "https:/", "feed"]
)
SEPARATORS = st.sampled_from(["://", ":/", ":", "//", ":///", "", ":\\\\"])
HOSTS = st.one_of(
    st.sampled_from(
        [
            "example.com",
            "EXAMPLE.COM.",
            "www.google.com",
            "www.amazon.de",
            "www.youtube.com",
            "l.facebook.com",
            "xn--bcher-kva.de",
            "bücher.de",
            "例え.テスト",
            "\uff25\uff38\uff21\uff2d\uff30\uff2c\uff25.com",  # fullwidth EXAMPLE
            "exam\u200bple.com",
            "127.0.0.1",
            "0x7f.1",
            "1.2.3.4.5",
            "[::1]",
            "[2001:db8::1]",
            "[::ffff:1.2.3.4]",
            "[::1%25eth0]",
            "[v1.x]",
            "[::1",
            "a..b",
            ".",
            "",
            "%",
            "ex%41mple.com",
            "exa mple.com",
            "user@example.com",
            "u:p@example.com",
            "xn--",
            "xn--a",
            "-a-.com",
            "a_b.com",
        ]
    ),
    st.text(min_size=1, max_size=12),
)
PORTS = st.sampled_from(
    ["", ":80", ":443", ":0", ":8080", ":65535", ":65536", ":99999", ":", ":abc", ":-1", ":080"]
)
PIECES = st.one_of(
    st.sampled_from(
        [
            "/",
            "/a",
            "%",
            "%2",
            "%2F",
            "%2f",
            "%41",
            "%e9",
            "%C3%A9",
            "%00",
            "é",
            "💩",
            " ",
            "..",
            "//",
            "?",
            "#",
            "#!",
            "!",
            "&",
            "=",
            ";",
            "+",
            "\\",
            "\t",
            "\n",
            "\x00",
            "[",
            "]",
            "@",
            ":",
            "utm_source=x",
            "UTM_Medium=y",
            "utm%5Fsource=1",
            "fbclid=1",
            "gclid",
            "id=2",
            "ref=3",
            "tag=aff-21",
            "%26",
            "%3D",
            "%3Futm_medium=5",
        ]
    ),
    st.text(max_size=4),
)
URLS = st.one_of(
    st.builds(
        lambda scheme, separator, host, port, rest: (
            scheme + separator + host + port + "".join(rest)
        ),
        SCHEMES,
        SEPARATORS,
        HOSTS,
        PORTS,
        st.lists(PIECES, max_size=10),
    ),
    st.text(max_size=80),
)


@PROPERTY
@given(URLS)
@example("http://./")
@example("https://example.com/a #top")
@example("https://例え.テスト:443/%e9?utm_source=x&id=2#!/route")
def test_canonical_url_is_http_and_idempotent(url):
    once = canonical_url(url)
    assert once is None or once.startswith(("http://", "https://")), (url, once)
    if once is not None:
        assert canonical_url(once) == once, (url, once)


@PROPERTY
@given(URLS, st.sampled_from([None, FEED_URL, "javascript:x", "", "http://[::1"]))
def test_link_functions_never_raise(url, base):
    result = absolute_url(url, base)
    assert result is None or urlsplit(result).scheme.lower() in ("http", "https")
    assert isinstance(unwrap(url), str)
    canonical_url(result)
