"""Replay every input bench/fuzz.py saved (tests/data/fuzz-regressions/).

Each file is a feed body. It goes through what the daemon does with a body,
parse_feed then digest.entries_of (links + normalize), once with each
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

from feedd.digest import entries_of
from feedd.errors import ParseError
from feedd.parse import parse_feed

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

# Fixed since they were found (kept as regressions): parse._parse_xml let
# feedparser's own exceptions escape (KeyError, TypeError, ValueError,
# IndexError, OverflowError, UnicodeError on broken and some well-formed
# documents; now a ParseError), a <feedburner:origLink href=.../> reached
# links as a dict (now ignored), and <source srcset="javascript:..."> passed
# the sanitizer (srcset is no longer allowed).
KNOWN_BUGS: dict[str, str] = {}  # file name -> the bug it still shows (none today)


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
