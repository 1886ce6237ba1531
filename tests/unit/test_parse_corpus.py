"""parse_feed on real publishers' feeds of the shared corpus (not copied here: their
licence is unknown). test_parse.py covers each case on a snippet of its own."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lxml import etree

from feedd.digest import entries_of
from feedd.parse import parse_feed

pytestmark = pytest.mark.corpus

MEDIA_RSS = "http://search.yahoo.com/mrss/"


def _words(text: str | None) -> str:
    return " ".join((text or "").split())


def _media_descriptions(body: bytes) -> set[str]:
    """Every media:description of the document, as words."""
    parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True)
    root = etree.fromstring(body, parser)
    return {
        _words(re.sub(r"<[^>]+>", " ", "".join(element.itertext())))
        for element in root.iter(f"{{{MEDIA_RSS}}}description")
    } - {""}


@pytest.mark.parametrize(
    ("path", "items"),
    [
        ("realworld/smallweb/www.abc.net.au__5357198db71ce075.xml", 25),
        ("realworld/smallweb/rss.nytimes.com__78f77fae2e1ffc14.xml", 57),
        ("feedjira/sample_feeds/HuffPostCanada.xml", 2),
        ("node-feedparser/feeds/mediacontent-dupes.xml", 1),  # the Daily Mail
    ],
)
def test_no_photo_caption_is_stored_as_the_text(corpus: Path, path: str, items: int):
    body = (corpus / path).read_bytes()
    captions = _media_descriptions(body)
    assert captions
    url = "https://corpus.test/feed.xml"
    entries = entries_of(parse_feed(body, url=url), url)
    assert len(entries) == items
    for entry in entries:
        assert entry.content_text or entry.summary, entry.guid
        assert _words(entry.content_text) not in captions, entry.guid
        assert _words(entry.summary) not in captions, entry.guid


def test_abc_items_are_their_description(corpus: Path):
    body = (corpus / "realworld/smallweb/www.abc.net.au__5357198db71ce075.xml").read_bytes()
    first = parse_feed(body, url="https://www.abc.net.au/news/feed/45910/rss.xml").entries[0]
    assert first.summary is not None
    assert first.summary.strip().startswith("British economist Gary Stevenson is on a speaking")
    assert first.content is None


def test_reddit_ids_are_kept_as_given(corpus: Path):
    body = (corpus / "rss-parser/input/reddit-home.rss").read_bytes()
    ids = [entry.id for entry in parse_feed(body, url="https://www.reddit.com/.rss").entries]
    assert len(ids) == 24
    assert ids[0] == "t3_42tizy"
    assert all(re.fullmatch(r"t3_[0-9a-z]+", i or "") for i in ids), ids


def test_markdown_post_keeps_its_paragraphs(corpus: Path):
    url = "https://fulgidus.github.io/rss.xml"
    body = (corpus / "realworld/smallweb/fulgidus.github.io__a21807c179b62c5e.xml").read_bytes()
    [entry] = [
        e
        for e in entries_of(parse_feed(body, url=url), url)
        if e.url == "https://fulgidus.github.io/posts/management"
    ]
    assert entry.content_text is not None
    lines = entry.content_text.split("\n")
    assert len(lines) > 30
    assert "## What I've Seen Across Different Firms" in lines
    assert "- Three levels of management approval" in lines
    assert entry.content_html is not None
    assert entry.content_html.count("<p>") > 20


def test_nested_empty_items_are_left_out(corpus: Path):
    body = (corpus / "node-feedparser/feeds/illegally-nested.xml").read_bytes()
    parsed = parse_feed(body, url="http://feeds.feedburner.com/ziffdavis/pcmag/dvorak")
    assert len(parsed.entries) == 10
    assert parsed.empty_items == 10
    assert all(entry.title and entry.link for entry in parsed.entries)
