"""Each sample feed in tests/data next to its expected result (STYLE.md, habit 4).

For a sample feed X, X.expected.json holds the feed URL it is parsed as, a few feed
fields, and for each entry the values that parse_feed + digest.entries_of should give.
content_text is compared on its first 100 characters.
To add a regression test for a parsing bug, add the feed and its expected file.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from feedd.digest import entries_of
from feedd.parse import parse_feed
from feedd.types import format_timestamp

DATA = Path(__file__).parents[1] / "data"
SUFFIX = ".expected.json"
EXPECTED_FILES = sorted(DATA.rglob(f"*{SUFFIX}"))
TEXT_PREFIX = 100


def _sample_id(path: Path) -> str:
    return str(path.relative_to(DATA))[: -len(SUFFIX)]


def test_samples_are_found():
    assert len(EXPECTED_FILES) >= 7
    for expected in EXPECTED_FILES:
        assert Path(str(expected)[: -len(SUFFIX)]).is_file(), f"no feed beside {expected}"


# See test_parse.IGNORE_UPDATED_FALLBACK: that feedparser warning is a known bug, covered
# by test_parse.test_rss_pubdate_only_item_has_no_updated_date.
@pytest.mark.filterwarnings("ignore:To avoid breaking existing software:DeprecationWarning")
@pytest.mark.parametrize("expected_path", EXPECTED_FILES, ids=_sample_id)
def test_sample_feed(expected_path: Path):
    expected = json.loads(expected_path.read_text(encoding="utf-8"))
    feed_path = Path(str(expected_path)[: -len(SUFFIX)])
    feed_url = expected["feed_url"]

    parsed = parse_feed(feed_path.read_bytes(), url=feed_url)
    assert {"version": parsed.version, "title": parsed.title} == expected["feed"]

    actual = [
        {
            "guid": entry.guid,
            "title": entry.title,
            "url": entry.url,
            "published_at": format_timestamp(entry.published_at),
            "summary": entry.summary,
            "content_text": entry.content_text[:TEXT_PREFIX] if entry.content_text else None,
        }
        for entry in entries_of(parsed, feed_url)
    ]
    assert actual == expected["entries"]

    for entry in entries_of(parsed, feed_url):
        for when in (entry.published_at, entry.updated_at):
            assert when is None or when.utcoffset() is not None
        assert entry.content_html is None or "<script" not in entry.content_html
