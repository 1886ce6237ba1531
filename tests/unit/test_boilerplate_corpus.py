"""boilerplate on the real-world corpus: what the audit found left in the stored text is gone.

Each feed is parsed and normalized as the pipeline does (digest.entries_of);
the test counts, per feed, the items that held the boilerplate before the
rules (in the raw item) and asserts none of the stored texts still does.
"""

from __future__ import annotations

import gzip
import re
import sys
import warnings
from pathlib import Path

import pytest

from feedd import digest, parse
from feedd.boilerplate import line_key, strip_boilerplate
from feedd.normalize import html_to_text, one_line, sanitize_html
from feedd.types import Entry, ParsedFeed

pytestmark = pytest.mark.corpus

# (the corpus file, a line of boilerplate as the stored text showed it, the
# fewest items of the feed that carried it)
CASES = [
    (
        "realworld/smallweb/www.404media.co__a44f75939f245a7e.xml",
        r"(?:Listen to the weekly podcast on|Subscribe to 404 Media to get) .*",
        2,
    ),
    ("feedjira/sample_feeds/CRE.xml", r".*\bFlattr \S.*", 20),
    ("rss-parser/input/guardian.rss", r"More: .* \| .*", 1),
    ("rss-parser/input/craigslist.rss", r".*\bshow contact info\b.*", 10),
    ("realworld/smallweb/daridor.blog__5ed17a0a9f7ca1ed.xml", r"(?:Tags|Categories): .*", 3),
    ("realworld/smallweb/sencjw.com__bc639c890070dd77.xml", r"Posted on \w+ \d+, \d{4}", 8),
    ("node-feedparser/feeds/invalid-characters-gzipped.xml", r"Corrections\? Additions\? .*", 1),
    ("realworld/smallweb/feeds.npr.org__7be307059415227d.xml", r"\(Image credit: [^)]*\)", 5),
]


def _parsed(corpus: Path, stored_at: str) -> tuple[ParsedFeed, str]:
    body = (corpus / stored_at).read_bytes()
    if body[:2] == b"\x1f\x8b":
        body = gzip.decompress(body)
    url = f"https://corpus.invalid/{stored_at}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # feedparser's complaints about odd feeds
        return parse.parse_feed(body, url=url), url


def _holds(pattern: re.Pattern[str], text: str | None) -> bool:
    return any(pattern.fullmatch(line) for line in (text or "").split("\n"))


@pytest.mark.parametrize(("stored_at", "line", "fewest"), CASES)
def test_realworld_boilerplate_lines_are_gone(corpus, capsys, stored_at, line, fewest):
    parsed, url = _parsed(corpus, stored_at)
    entries: tuple[Entry, ...] = digest.entries_of(parsed, url)
    pattern = re.compile(line)
    before = sum(
        _holds(pattern, html_to_text(raw.content or raw.summary)) for raw in parsed.entries
    )
    after = [entry.content_text for entry in entries if _holds(pattern, entry.content_text)]
    with capsys.disabled():
        sys.stdout.write(f"\n{Path(stored_at).name}: items with {line!r}: {before} -> {len(after)}")
    assert before >= fewest  # the feed still carries it
    assert after == []
    # The stories themselves are still there.
    assert sum(bool(entry.content_text) for entry in entries) == sum(
        bool(html_to_text(raw.content or raw.summary)) for raw in parsed.entries
    )


def test_realworld_titles_repeated_at_the_top_go_given_the_title(corpus):
    """sencjw.com's items start with their title and a byline; given the title
    (what normalize passes to the line rules), the text starts with the story."""
    parsed, _ = _parsed(corpus, "realworld/smallweb/sencjw.com__bc639c890070dd77.xml")
    firsts = []
    for raw in parsed.entries:
        title = one_line(raw.title)
        assert title
        html = sanitize_html(raw.content or raw.summary)
        assert html
        stripped = strip_boilerplate(html, line_rules=True, title=title)
        text = html_to_text(sanitize_html(stripped.html), sanitized=True) or ""
        firsts.append(text.split("\n")[0])
        assert line_key(text.split("\n")[0]) != line_key(title)
        assert not text.startswith("Posted on")
        assert [r.rule for r in stripped.removed][:2] == ["title", "byline"]
    assert len(firsts) >= 8
