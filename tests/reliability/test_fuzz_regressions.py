"""Replay every input bench/fuzz.py saved (tests/data/fuzz-regressions/).

Each file is a feed body. It goes through what the daemon does with a body,
parse_feed then pipeline.entries_of (links + normalize), once with each
Content-Type a server might send: ParseError is a fine answer, any other
exception is a bug, and so is sanitized HTML that still holds something
unsafe (<script>, on*=, a javascript: URL...).

The fuzzer names a file after what it raised and a hash of its bytes; a
hand-made reduction has a descriptive name. A file whose bug is not fixed yet
is listed in KNOWN_BUGS: its test is xfail(strict=True), so fixing the bug
makes it pass and the entry must then be removed.

feedparser warns on some broken documents; the daemon logs nothing for
those, so warnings are ignored here (only exceptions count).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from test_properties import html_problems

from feedd.errors import ParseError
from feedd.parse import parse_feed
from feedd.pipeline import entries_of

REGRESSIONS = Path(__file__).parents[1] / "data" / "fuzz-regressions"
URL = "https://feeds.example.net/dir/feed.xml"
CONTENT_TYPES = (
    None,
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
    "text/html; charset=utf-8",
    "text/xml; charset=iso-8859-1",
    "application/xml; charset=utf-16",
)

# One bug behind most files: parse._parse_xml calls feedparser.parse without
# guarding it, and feedparser 6 raises on many broken (and some well-formed)
# documents. Each file names a different place inside feedparser.
FEEDPARSER_RAISES = (
    "bug: parse._parse_xml lets an exception from inside feedparser.parse escape "
    "instead of a ParseError or a parsed feed: {}"
)
KNOWN_BUGS = {
    "charref-surrogate.xml": FEEDPARSER_RAISES.format(
        "UnicodeEncodeError for &#xD800; (mixin.handle_charref)"
    ),
    "charref-past-unicode.xml": FEEDPARSER_RAISES.format(
        "ValueError for &#x110000; (mixin.handle_charref)"
    ),
    "OverflowError-262ead8260e8.bin": FEEDPARSER_RAISES.format(
        "OverflowError for &#8364444444; (mixin.handle_charref)"
    ),
    "KeyError-b493981355dc.bin": FEEDPARSER_RAISES.format(
        "KeyError 'where' for a stray </gml:pos> (util.FeedParserDict)"
    ),
    "KeyError-bf73ff8ec583.bin": FEEDPARSER_RAISES.format(
        "KeyError 'license' for a stray </creativeCommons:license> (namespaces/cc.py)"
    ),
    "TypeError-1917066aefe1.bin": FEEDPARSER_RAISES.format(
        "TypeError for a stray </height> (namespaces/_base.py)"
    ),
    "TypeError-6244c646be30.bin": FEEDPARSER_RAISES.format(
        "TypeError for a stray </width> (namespaces/_base.py)"
    ),
    "TypeError-19557eb324fe.bin": FEEDPARSER_RAISES.format(
        "TypeError for a gml:posList without coordinates (namespaces/georss.py)"
    ),
    "ValueError-1bb91d460c26.bin": FEEDPARSER_RAISES.format(
        "ValueError for gml:Point srsName=EPSG (namespaces/georss.py)"
    ),
    "IndexError-2137fba7160c.bin": FEEDPARSER_RAISES.format(
        "IndexError for <entry><source><image><link> (mixin.py)"
    ),
    "ValueError-faeb343d032b.bin": FEEDPARSER_RAISES.format(
        "ValueError for a namespace URI with a tab (parsers/strict.py)"
    ),
    "ValueError-4d0786373728.bin": FEEDPARSER_RAISES.format(
        "ValueError for a NUL in the XML declaration's encoding (encodings.py)"
    ),
    "UnicodeDecodeError-b542f49b01ab.bin": FEEDPARSER_RAISES.format(
        "UnicodeDecodeError for a non-UTF-8 byte in the declared encoding (encodings.py)"
    ),
    "feedburner-origlink-attribute.xml": (
        "bug: feedparser gives a dict for <feedburner:origLink href=.../>; parse._raw_entry "
        "keeps it in extra and links.absolute_url calls .strip() on it (AttributeError)"
    ),
    "srcset-javascript.xml": (
        "bug: normalize keeps <source srcset> without checking its URL schemes "
        "(javascript:, data:) or making its URLs absolute"
    ),
}


def _files() -> list[Path]:
    return sorted(p for p in REGRESSIONS.iterdir() if p.is_file()) if REGRESSIONS.is_dir() else []


def _params() -> list[object]:
    params = []
    for path in _files():
        reason = KNOWN_BUGS.get(path.name)
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        params.append(pytest.param(path, id=path.name, marks=marks))
    return params


def test_the_regressions_are_there():
    names = {p.name for p in _files()}
    assert len(names) >= 4
    assert set(KNOWN_BUGS) <= names, "KNOWN_BUGS names a file that is gone"


@pytest.mark.parametrize("path", _params())
def test_replay(path: Path):
    body = path.read_bytes()
    for content_type in CONTENT_TYPES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                parsed = parse_feed(body, url=URL, content_type=content_type)
            except ParseError:
                continue
            entries = entries_of(parsed, URL)
        for entry in entries:
            assert not html_problems(entry.content_html), (content_type, entry.content_html)
