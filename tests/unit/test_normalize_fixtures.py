"""normalize on other parsers' test fixtures (copied into tests/data, see LICENSES.md)
and on real publishers' feeds of the shared corpus (read there, never copied).

Each case is a place where what feedd stored disagreed with what the fixture's
own test suite expects, or with what the publisher wrote.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from feedd.normalize import normalize_entry
from feedd.parse import parse_feed
from feedd.types import Entry

DATA = Path(__file__).parents[1] / "data"
# A character reference left in stored text: "&amp;", "&nbsp;", "&#39;".
REFERENCE = re.compile(r"&(?:[A-Za-z][A-Za-z0-9]{1,31}|#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});")


def entries(path: Path, url: str = "https://example.com/feed") -> list[Entry]:
    parsed = parse_feed(path.read_bytes(), url=url)
    return [
        normalize_entry(raw, link=raw.link, url=raw.link, base_url=url, feed_language=None)
        for raw in parsed.entries
    ]


def test_a_control_character_in_a_title_is_dropped():
    # gofeed expects "abcd" (rss_channel_item_illegal_char.json): U+0008 is no text.
    (entry,) = entries(DATA / "gofeed" / "rss_channel_item_illegal_char.xml")
    assert entry.title == "abcd"


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("atommathml.xml", "a+b"),  # MathML, Atom xhtml content
        ("rss2.0mathml.xml", "a+b"),  # MathML, escaped in an RSS description
        ("atomsvgtitle.xml", "foo"),  # an SVG drawing's title
    ],
)
def test_mathml_and_svg_keep_their_text(name, text):
    (entry,) = entries(DATA / "feedparser" / "namespace" / name)
    assert entry.content_text == text
    assert entry.content_html is not None
    assert "<math" not in entry.content_html
    assert "<svg" not in entry.content_html


@pytest.mark.parametrize(
    "name",
    [
        "item_body_object.xml",
        "item_content_encoded_object.xml",
        "item_description_object.xml",
        "item_fullitem_object.xml",
        "item_xhtml_body_object.xml",
        "entry_content_object.xml",
        "entry_summary_object.xml",
    ],
)
def test_object_fallback_text_is_kept(name):
    # feedparser's expectation for each: the description is "safe description"
    # (the <object> goes, the text after it stays).
    (entry,) = entries(DATA / "feedparser" / "sanitize" / name)
    assert entry.content_text == "safe description"
    assert entry.content_html is not None
    assert "<object" not in entry.content_html


def test_object_fallback_text_is_kept_in_a_title():
    (entry,) = entries(DATA / "feedparser" / "sanitize" / "entry_title_object.xml")
    assert entry.title == "safe description"


# -- real feeds, from the corpus


def corpus_entries(corpus: Path, relative: str, url: str) -> list[Entry]:
    return entries(corpus / relative, url)


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("relative", "url", "phrase"),
    [
        (
            "realworld/smallweb/glasspetalsmoke.blogspot.com__1883db9e2736546b.xml",
            "https://glasspetalsmoke.blogspot.com/feeds/posts/default",
            "Welcome to chemical anthropomorphism",  # "Welcome&nbsp;to" in the text
        ),
        (
            "realworld/smallweb/jfg-mysql.blogspot.com__2b665d9e4b6bb33a.xml",
            "https://jfg-mysql.blogspot.com/feeds/posts/default",
            "a kick in the butt ! But what",  # "butt&nbsp;!&nbsp; But what"
        ),
    ],
)
def test_blogger_text_escaped_twice_carries_no_reference(corpus, relative, url, phrase):
    found = corpus_entries(corpus, relative, url)
    assert len(found) == 25
    for entry in found:
        for value in (entry.title, entry.summary, entry.content_text, entry.author):
            assert value is None or not REFERENCE.search(value), value
    # What the references stood for is there: no-break spaces became spaces.
    assert any(phrase in (entry.content_text or "") for entry in found)


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("relative", "url", "tag"),
    [
        (
            "rss-parser/input/itunes-missing-image.rss",
            "https://www.taverncast.com/feed",
            "Society & Culture",
        ),
        (
            "realworld/smallweb/theweek.com__16dc10cf98d1ee82.xml",
            "https://theweek.com/feeds.xml",
            "Culture & Life",  # <![CDATA[Culture &amp; Life]]>
        ),
    ],
)
def test_tags_carry_no_reference(corpus, relative, url, tag):
    found = corpus_entries(corpus, relative, url)
    tags = {name for entry in found for name in entry.tags}
    assert tags
    assert not [name for name in tags if REFERENCE.search(name)]
    assert tag in tags
