"""extract: real article pages against their hand-made annotation, selectors, hostile pages.

The pages are four of the article-extraction benchmark's (tests/data/LICENSES.md),
scored as bench/extraction.py scores all 181: 4-token shingles of ``\\w+`` tokens.
"""

from __future__ import annotations

import gzip
import json
import re
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from feedd import extract as extract_module
from feedd.errors import BadSelector
from feedd.extract import MAX_ELEMENTS, MAX_PAGE_BYTES, check_selector, extract
from feedd.normalize import sanitize_html

DATA = Path(__file__).parents[1] / "data" / "article-extraction"
TRUTH = json.loads((DATA / "ground-truth.json").read_text())
NOW = datetime(2026, 1, 1, tzinfo=UTC)

# Per page: lines of the page's menus, boxes and buttons (seen in its HTML),
# none of which may be a line of the text.
DEBRIS = {
    "4648a420": ["Work with us", "Press/Media Center", "Who we are", "Our team", "Solutions"],
    "33fe2471": [
        "Subscribe to Inexhibit\u2019s newsletter",
        "Newsletter",
        "About Inexhibit",
        "myMuseum",
    ],
    "7916ecca": ["Newsletter", "AJ Impact", "Middle East", "US & Canada", "Latin America"],
    "0ec95c72": ["Tweet", "전체뉴스", "TV일반", "드라마", "정석희칼럼"],
}


def shingle_f1(extracted: str | None, annotated: str) -> float:
    def shingles(text: str | None) -> Counter[tuple[str, ...]]:
        tokens = re.findall(r"\w+", text or "")
        return Counter(tuple(tokens[i : i + 4]) for i in range(len(tokens) - 3))

    got, want = shingles(extracted), shingles(annotated)
    tp = sum((got & want).values())
    if not tp:
        return 0.0
    precision, recall = tp / sum(got.values()), tp / sum(want.values())
    return 2 * precision * recall / (precision + recall)


def page(key: str) -> tuple[bytes, str, str]:
    return (
        gzip.decompress((DATA / f"{key}.html.gz").read_bytes()),
        TRUTH[key]["url"],
        TRUTH[key]["articleBody"],
    )


KEYS = sorted(TRUTH)


def key_of(prefix: str) -> str:
    [key] = [key for key in KEYS if key.startswith(prefix)]
    return key


@pytest.mark.parametrize("key", KEYS, ids=lambda key: key[:8])
def test_real_pages_give_the_annotated_text(key):
    body, url, annotated = page(key)
    extracted = extract(body, url, now=NOW)
    assert shingle_f1(extracted.text, annotated) >= 0.9
    lines = set((extracted.text or "").split("\n"))
    for debris in DEBRIS[key[:8]]:
        assert debris not in lines
    assert extracted.word_count > 250


@pytest.mark.parametrize("key", KEYS, ids=lambda key: key[:8])
def test_the_html_is_feedds_sanitized_html(key):
    body, url, _ = page(key)
    extracted = extract(body, url, now=NOW)
    html = extracted.html or ""
    # Sanitizing it again changes nothing: it is already on feedd's allow-list.
    assert sanitize_html(html) == html
    assert "<script" not in html and "class=" not in html and "style=" not in html
    for href in re.findall(r'href="([^"]*)"', html):
        assert href.startswith(("https://", "http://", "mailto:"))


def test_metadata_from_the_page():
    body, url, _ = page(key_of("4648a420"))
    extracted = extract(body, url, now=NOW)
    assert extracted.url == url
    assert extracted.title == "Introducing Junior Gaspard, New CEO at Experience"
    assert extracted.author == "Josh"
    assert extracted.published_at == datetime(2018, 4, 9, 16, 2, 25, tzinfo=UTC)
    assert extracted.image and extracted.image.startswith("https://")
    # The title, already in its own field, does not start the text again.
    assert not (extracted.text or "").startswith(extracted.title)


def test_a_date_in_the_future_or_before_the_web_is_dropped():
    head = '<meta property="article:published_time" content="{}">'
    text = "<p>" + "A sentence of the story, long enough to be kept as text. " * 20 + "</p>"
    for date, expected in (
        ("2025-03-04T05:06:07+02:00", datetime(2025, 3, 4, 3, 6, 7, tzinfo=UTC)),
        ("2031-01-01T00:00:00+00:00", None),
    ):
        html = (
            f"<html><head>{head.format(date)}</head><body><article>{text}</article></body></html>"
        )
        assert extract(html.encode(), "https://example.org/a", now=NOW).published_at == expected


STORY = (
    "<p>The council voted on Tuesday to rebuild the old bridge over the river, "
    "after two years of debate about its cost and its design.</p>"
    "<p>Work starts in the spring and should last eighteen months, the mayor said, "
    "while a ferry carries people across the water in the meantime.</p>"
    "<p>Shops on both banks welcomed the decision, though some worry about the "
    "months of noise and the detours the building site will bring to the town.</p>"
) * 3


def test_debris_around_and_inside_the_story_is_gone():
    html = f"""<html><head><title>Bridge to be rebuilt</title></head><body>
    <nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li>
    <li><a href="/sport">Sport</a></li></ul></nav>
    <article><h1>Bridge to be rebuilt</h1>
    <div class="share-buttons"><a href="https://facebook.com/share">Share on Facebook</a>
    <a href="https://twitter.com/share">Tweet this</a></div>
    {STORY}
    <p><a href="/news/more">Read more</a></p>
    </article>
    <aside class="related"><h3>Related stories</h3>
    <ul><li><a href="/a">Another story</a></li></ul></aside>
    <footer>Copyright 2025 The Town Paper</footer></body></html>"""
    extracted = extract(html.encode(), "https://example.org/news/bridge", now=NOW)
    text = extracted.text or ""
    assert text.startswith("The council voted on Tuesday")
    assert text.endswith("to the town.")
    for debris in ("Home", "Sport", "Share on Facebook", "Tweet this", "Read more", "Related"):
        assert debris not in text
    assert "Copyright" not in text


def test_a_selector_takes_the_elements_it_names():
    html = f"""<html><head><title>T</title></head><body>
    <div class="story"><p>First part of the story.</p>
      <div class="story"><p>Nested part, kept once.</p></div></div>
    <aside><p>Not the story.</p></aside>
    <div class="story"><p>Second part.</p></div>
    <div class="main">{STORY}</div></body></html>""".encode()
    extracted = extract(html, "https://example.org/a", selector="div.story", now=NOW)
    assert extracted.text == "First part of the story.\nNested part, kept once.\nSecond part."
    assert extracted.title == "T"  # the metadata still comes from the page
    # Nothing matched: no text (the user sees their selector is wrong), no guess.
    nothing = extract(html, "https://example.org/a", selector="div.nosuch", now=NOW)
    assert nothing.text is None and nothing.html is None and nothing.title == "T"


def test_a_selector_on_a_real_page():
    body, url, _ = page(key_of("7916ecca"))
    extracted = extract(body, url, selector="nav", now=NOW)
    assert extracted.text and "Hong Kong protests" in extracted.text
    assert "helicopter crash" not in extracted.text


def test_a_bad_selector_is_refused():
    for selector in ("div[", "", "p:nosuch("):
        with pytest.raises(BadSelector):
            check_selector(selector)
        with pytest.raises(BadSelector):
            extract(b"<html><body><p>x</p></body></html>", None, selector=selector)


# A list of headlines, each a link: the extractor takes it, its link share refuses it.
SECTION_FRONT = (
    '<html><head><title>News</title></head><body><nav><a href="/">Home</a></nav>'
    "<main><h1>Latest news</h1><ul>"
    + "".join(
        f'<li><h3><a href="/story/{i}">Headline number {i} about the council and the bridge</a>'
        "</h3><span>2 hours ago</span></li>"
        for i in range(40)
    )
    + "</ul></main></body></html>"
).encode()


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   \n",
        bytes(range(256)) * 64,
        b"\xff\xfe\x00\x00garbage\x00\x01",
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj",
        b'{"json": "not a page"}',
        b"<html><body></body></html>",
        SECTION_FRONT,
    ],
    ids=["empty", "spaces", "binary", "utf32-ish", "pdf", "json", "no body", "section front"],
)
def test_pages_without_an_article_give_empty_text(body):
    extracted = extract(body, "https://example.org/x", now=NOW)
    assert not extracted.text
    assert extracted.html is None and extracted.word_count == 0


def test_a_huge_tree_is_refused_quickly():
    body = b"<html><body>" + b"<div><p>Some words here, a sentence.</p></div>" * MAX_ELEMENTS
    started = time.monotonic()
    extracted = extract(body, "https://example.org/x", now=NOW)
    assert extracted.text is None
    assert time.monotonic() - started < 5


def test_a_page_past_the_byte_limit_is_cut_not_refused():
    html = f"<html><head><title>Long</title></head><body><article>{STORY}</article>"
    padding = "<!-- " + "x" * MAX_PAGE_BYTES + " -->"
    tail = "<p>Past the limit: never read.</p></body></html>"
    extracted = extract((html + padding + tail).encode(), "https://example.org/a", now=NOW)
    assert extracted.text and extracted.text.startswith("The council voted")
    assert "never read" not in extracted.text


def test_an_extractor_failure_is_the_pages_not_an_exception(monkeypatch):
    def broken(*args, **kwargs):
        raise RecursionError("deep page")

    monkeypatch.setattr(extract_module, "bare_extraction", broken)
    extracted = extract(f"<html><body>{STORY}</body></html>".encode(), "https://example.org/")
    assert extracted.text is None and extracted.url == "https://example.org/"
