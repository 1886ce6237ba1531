"""normalize: sanitizing, plain text, boilerplate, keys, hashes, language, words and
enclosures, on fragments (dates: test_dates.py; the rules themselves: test_boilerplate.py)."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feedd.normalize import (
    content_hash,
    detect_language,
    drop_learned,
    entry_key,
    html_to_text,
    language_code,
    learn_boilerplate,
    normalize_entry,
    one_line,
    sanitize_html,
    scrub,
    word_count,
)
from feedd.parse import parse_feed
from feedd.types import Enclosure, RawEntry

TAG = re.compile(r"<\s*/?\s*[a-zA-Z]")


BASE = RawEntry(
    id="id-1",
    link="https://example.com/1",
    title="Title",
    summary="Summary",
    content="<p>Body</p>",
    author="Ann",
    published=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
    updated=None,
    published_raw="Tue, 02 Jan 2024 03:04:05 +0000",
    updated_raw=None,
    tags=("a",),
    extra=(),
)


def raw(**changes: Any) -> RawEntry:
    return dataclasses.replace(BASE, **changes)


def norm(entry: RawEntry, link: str | None = "https://example.com/1"):
    return normalize_entry(entry, link=link, url=link)


# -- sanitize_html


@pytest.mark.parametrize(
    "fragment",
    [
        "<script>alert('x')</script>",
        "<script type='text/javascript'>var a = '<p>';</script>",
        "<style>p { color: red }</style>",
        "<iframe src='https://evil.example/'>iframe text</iframe>",
        "<noscript>noscript text</noscript>",
        "<embed src='x.swf'>",
        "<svg><script>alert(1)</script><style>text { fill: red }</style></svg>",
        "<math><annotation encoding='application/x-tex'>a+b</annotation></math>",
        "<form action='/x'><input name='q'>form text<button>Go</button></form>",
    ],
)
def test_sanitize_removes_dangerous_elements_with_content(fragment):
    cleaned = sanitize_html(f"<p>before</p>{fragment}<p>after</p>")
    assert cleaned == "<p>before</p><p>after</p>"


@pytest.mark.parametrize(
    ("fragment", "kept"),
    [
        # An object's content is the fallback a reader sees: its tags go, its text stays.
        ("<object data='x.swf'><param name='a' value='b'>object text</object>", "object text"),
        ("safe<object classid='clsid:C932'> <b>description</b>", "safe <b>description</b>"),
        ("<applet code='a.class'>applet text</applet>", "applet text"),
        # SVG and MathML: the markup goes, the text stays (scripts and styles do not).
        # A drawing stands apart from the words around it.
        ("<svg><text>svg text</text><script>alert(1)</script></svg>", " svg text "),
        ("<svg><title>foo</title><circle r='5'/></svg>", " foo "),
        ("<svg width='300' height='200px'><title>foo</title></svg>", " foo "),
        # An icon's name is no text, as an image's alt text is not.
        ("<svg viewBox='0 0 24 24'><title>download-circle</title><path d='M1'/></svg>", ""),
        ("<svg width='16' height='16' viewBox='0 0 300 300'><title>rss</title></svg>", ""),
        ("<math><mi>a</mi><mo>+</mo><mi>b</mi></math>", "a+b"),
        ("<math><mi>a</mi><mo>&lt;</mo><mi>b</mi></math>", "a&lt;b"),
        (
            "<math><semantics><mrow><mi>x</mi><mo>=</mo><mn>2</mn></mrow>"
            "<annotation encoding='application/x-tex'>x = 2</annotation></semantics></math>",
            "x=2",
        ),
        ("<svg><foreignObject><p onclick='x()'>inner</p></foreignObject></svg>", " inner "),
        # Tokens join tight, but two words or numbers never merge into one.
        (
            "<math><mtext>width</mtext><mo>=</mo><mn>300</mn><mi>px</mi><mo>&#215;</mo>"
            "<mfrac><mtext>poster width</mtext><mtext>poster height</mtext></mfrac></math>",
            "width=300 px\u00d7poster width poster height",
        ),
    ],
)
def test_sanitize_keeps_the_text_of_fallbacks_svg_and_mathml(fragment, kept):
    cleaned = sanitize_html(f"<p>before</p>{fragment}<p>after</p>")
    assert cleaned == f"<p>before</p>{kept}<p>after</p>"


def test_sanitize_removes_event_handlers_and_javascript_urls():
    cleaned = sanitize_html(
        '<p onclick="evil()" onmouseover="evil()">para</p>'
        '<img src="https://example.com/a.png" onerror="evil()" alt="A">'
        '<a href="javascript:alert(1)">one</a>'
        '<a href="JaVaScRiPt:alert(1)">two</a>'
        '<a href="  javascript:alert(1)">three</a>'
        '<a href="java&#x09;script:alert(1)">four</a>'
        '<a href="data:text/html;base64,PHNjcmlwdD4=">five</a>'
        '<a href="https://example.com/" onclick="evil()">ok</a>'
    )
    assert cleaned is not None
    assert "onclick" not in cleaned
    assert "onmouseover" not in cleaned
    assert "onerror" not in cleaned
    assert "javascript" not in cleaned.lower()
    assert "data:" not in cleaned
    assert "evil" not in cleaned
    # The elements and their text stay; only the attributes go.
    for text in ("para", "one", "two", "three", "four", "five", "ok"):
        assert f">{text}<" in cleaned
    assert '<img src="https://example.com/a.png" alt="A">' in cleaned
    assert 'href="https://example.com/"' in cleaned


@pytest.mark.parametrize(
    "fragment",
    [
        "<p>para</p>",
        "<b>b</b> <i>i</i> <em>em</em> <strong>strong</strong> <code>x = 1</code>",
        "<ul><li>one</li><li>two</li></ul>",
        "<ol><li>first</li></ol>",
        "<blockquote>quoted</blockquote>",
        "<pre>pre  formatted</pre>",
        "<h2>Heading</h2>",
        '<img src="https://example.com/a.png" alt="A picture">',
        "<table><tbody><tr><th>h</th><td>c</td></tr></tbody></table>",
        '<abbr title="HyperText Markup Language">HTML</abbr>',
    ],
)
def test_sanitize_keeps_allowed_markup(fragment):
    assert sanitize_html(fragment) == fragment


def test_sanitize_links_keep_href_and_get_rel():
    cleaned = sanitize_html('<a href="https://example.com/x" title="T" target="_blank">x</a>')
    assert cleaned == (
        '<a href="https://example.com/x" title="T" rel="noopener noreferrer nofollow">x</a>'
    )


def test_sanitize_drops_style_class_and_id():
    assert sanitize_html('<div style="color:red" class="c" id="i">d</div>') == "<div>d</div>"


@pytest.mark.parametrize("fragment", [None, "", "<script>x</script>", "  <style>a{}</style> "])
def test_sanitize_nothing_left_is_none(fragment):
    assert sanitize_html(fragment) is None


# -- html_to_text


def test_html_to_text_one_paragraph_per_line():
    assert html_to_text("<p>One</p><p>Two</p>\n\n<p>Three</p>") == "One\nTwo\nThree"
    assert html_to_text("<h1>Title</h1>Loose text<div>Block</div>") == "Title\nLoose text\nBlock"
    assert html_to_text("<blockquote>Q</blockquote><p>A</p>") == "Q\nA"


def test_html_to_text_br_is_a_newline():
    assert html_to_text("a<br>b<br/>c<BR />d") == "a\nb\nc\nd"


def test_html_to_text_lists_are_lines():
    assert html_to_text("<ul><li>x</li><li>y</li></ul><ol><li>z</li></ol>") == "x\ny\nz"


def test_html_to_text_table_rows_are_lines_and_cells_spaced():
    text = html_to_text("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>")
    assert text == "a b\nc"


@pytest.mark.parametrize(
    ("fragment", "expected"),
    [
        ("AT&amp;T", "AT&T"),
        ("it&#8217;s", "it\u2019s"),
        ("it&#x2019;s", "it\u2019s"),
        ("a&nbsp;b", "a b"),
        ("caf&eacute;", "caf\u00e9"),
        ("&lt;b&gt;not bold&lt;/b&gt;", "<b>not bold</b>"),
        # A reference left in the text is markup escaped twice at the source.
        ("&amp;lt;b&amp;gt;", "<b>"),
        ("&amp;nbsp;x&amp;#8217;s", "x\u2019s"),
        ("&amp;amp;", "&"),
        # Only complete references that HTML knows: text that merely looks like one stays.
        ("a &amp;nosuch; b", "a &nosuch; b"),
        ("a&amp;#1;b&amp;#x7f;c", "abc"),  # references to control characters: nothing
        ("?a=1&amp;para=2 &amp;notit;", "?a=1&para=2 &notit;"),
    ],
)
def test_html_to_text_decodes_entities(fragment, expected):
    assert html_to_text(fragment) == expected


def test_html_to_text_collapses_whitespace():
    assert html_to_text("<p>  one \t  two\u00a0\u00a0three  </p>") == "one two three"
    assert html_to_text("<p>x</p>\n   \n\t<p>y</p>") == "x\ny"


def test_html_to_text_source_newlines_are_whitespace():
    """A newline inside a paragraph's source is whitespace, like a space.
    Only block elements and <br> start a new line."""
    assert html_to_text("<p>one\ntwo\r\n   three</p>") == "one two three"
    assert html_to_text("<cite>Ian</cite>: <q><a href='x'>\n    Quoted text.\n    </a></q>") == (
        "Ian: Quoted text."
    )


def test_html_to_text_drops_script_and_style_text():
    text = html_to_text("<p>x<script>var a = '<p>';</script>y</p><style>p{}</style><p>z</p>")
    assert text == "xy\nz"


def test_html_to_text_leaves_no_markup():
    fragment = (
        "<div class='post'><h2>Head &amp; shoulders</h2><p>Some <b>bold</b> and "
        "<a href='https://example.com/'>a link</a>.</p><img src='x.png' alt='pic'>"
        "<figure><figcaption>Cap</figcaption></figure><ul><li><em>Item</em></li></ul>"
        "<!-- a comment --><span>end</span></div>"
    )
    text = html_to_text(fragment)
    assert text == "Head & shoulders\nSome bold and a link.\nCap\nItem\nend"
    assert not TAG.search(text)
    assert "comment" not in text


@pytest.mark.parametrize("fragment", [None, "", "<p></p>", "<p> \u00a0 </p>", "<br><br>"])
def test_html_to_text_nothing_left_is_none(fragment):
    assert html_to_text(fragment) is None


@given(st.text(alphabet=st.sampled_from(list("ab <>/&;#pbrli\n\t\u00a0x=\"'")), max_size=60))
def test_html_to_text_lines_are_trimmed_and_non_empty(fragment):
    text = html_to_text(fragment)
    if text is not None:
        for line in text.split("\n"):
            assert line
            assert line == line.strip()
            assert "  " not in line


def test_one_line():
    assert one_line("<p>a</p><p>b</p>") == "a b"
    assert one_line("  Tom &amp; Jerry  ") == "Tom & Jerry"
    assert one_line(None) is None


# -- entry_key


def test_entry_key_prefers_the_id():
    assert entry_key(raw(id="  guid-1  "), "https://example.com/1") == "guid-1"


@pytest.mark.parametrize("missing_id", [None, "", "   "])
def test_entry_key_falls_back_to_the_link(missing_id):
    assert entry_key(raw(id=missing_id), "https://example.com/1") == "https://example.com/1"


def test_entry_key_falls_back_to_a_hash_of_the_content():
    key = entry_key(raw(id=None), None)
    assert re.fullmatch(r"sha256:[0-9a-f]{32}", key)
    # Stable: the same item gives the same key.
    assert entry_key(raw(id=None), None) == key
    # Each hashed field changes it.
    for change in (
        {"title": "Other"},
        {"published_raw": "Wed, 03 Jan 2024 00:00:00 +0000"},
        {"summary": "Other"},
        {"content": "<p>Other</p>"},
    ):
        assert entry_key(raw(id=None, **change), None) != key
    # Fields are separated: moving text from one field to the next changes the key.
    assert entry_key(raw(id=None, title="ab", summary="c"), None) != entry_key(
        raw(id=None, title="a", summary="bc"), None
    )


# -- content_hash


def test_content_hash_is_stable():
    assert norm(raw()).content_hash == norm(raw()).content_hash
    assert re.fullmatch(r"[0-9a-f]{64}", norm(raw()).content_hash)


@pytest.mark.parametrize(
    "change",
    [
        {"content": "<p>Body, edited</p>"},
        {"title": "New title"},
        {"summary": "New summary"},
        {"author": "Bob"},
        {"tags": ("a", "b")},
        # Podcast files are content: a replaced episode file is an edit.
        {"extra": (("enclosures", (("https://example.com/a.mp3", None, None),)),)},
    ],
)
def test_content_hash_changes_with_content(change):
    assert norm(raw(**change)).content_hash != norm(raw()).content_hash


@pytest.mark.parametrize(
    "change",
    [
        {"published": datetime(2024, 1, 3, tzinfo=UTC)},
        {"updated": datetime(2024, 2, 1, tzinfo=UTC)},
    ],
)
def test_content_hash_ignores_the_dates(change):
    # Feeds that stamp every item at each fetch must not update every item at every poll.
    assert norm(raw(**change)).content_hash == norm(raw()).content_hash


def test_content_hash_ignores_the_url():
    # The URL is the story's identity, not its content (and may come from link
    # resolution, which is not repeated for stored items).
    assert norm(raw(), "https://example.com/2").content_hash == norm(raw()).content_hash


@pytest.mark.parametrize(
    "change",
    [
        {"id": "another-id"},  # the id is the key, not content
        {"published_raw": "2024-01-02T03:04:05Z"},  # same instant, other spelling
        {"extra": (("feedburner_origlink", "https://example.com/orig"),)},
        {"content": "<p>Body</p><script>tracking()</script>"},  # sanitized away
        {"title": "  Title  "},  # same text once cleaned
    ],
)
def test_content_hash_ignores_what_does_not_change_the_article(change):
    assert norm(raw(**change)).content_hash == norm(raw()).content_hash


# -- normalize_entry


def test_normalize_entry_fields():
    entry = normalize_entry(
        raw(
            id=" g ",
            title="<b>Bold</b>\n title",
            summary=None,
            content="<p>First para</p><script>x()</script><p>Second</p>",
            author="<i>Ann</i>",
            published=None,
            published_raw=None,
            updated=datetime(2024, 5, 1, tzinfo=UTC),
            updated_raw="2024-05-01T00:00:00Z",
            tags=("x", "y"),
        ),
        link="https://example.com/a#c",
        url="https://example.com/a",
    )
    assert entry.guid == "g"
    assert entry.link == "https://example.com/a#c"
    assert entry.url == "https://example.com/a"
    assert entry.title == "Bold title"
    assert entry.author == "Ann"
    assert entry.content_html == "<p>First para</p><p>Second</p>"
    assert entry.content_text == "First para\nSecond"
    # No summary: the first line of the content.
    assert entry.summary == "First para"
    # No published date: the updated date stands in.
    assert entry.published_at == datetime(2024, 5, 1, tzinfo=UTC)
    assert entry.updated_at == datetime(2024, 5, 1, tzinfo=UTC)
    assert entry.tags == ("x", "y")


def test_normalize_entry_uses_summary_when_there_is_no_content():
    entry = norm(raw(content=None, summary="<p>Only a <b>summary</b></p>"))
    assert entry.content_html == "<p>Only a <b>summary</b></p>"
    assert entry.content_text == "Only a summary"
    assert entry.summary == "Only a summary"


def test_normalize_entry_empty_item():
    entry = normalize_entry(
        RawEntry(
            id=None,
            link=None,
            title=None,
            summary=None,
            content=None,
            author=None,
            published=None,
            updated=None,
            published_raw=None,
            updated_raw=None,
        ),
        link=None,
        url=None,
    )
    assert entry.guid.startswith("sha256:")
    assert (entry.title, entry.summary, entry.content_text, entry.content_html) == (
        None,
        None,
        None,
        None,
    )
    assert entry.published_at is None


# -- scrub


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, None),
        ("", ""),
        ("plain", "plain"),
        ("caf\u00e9 \U0001f600", "caf\u00e9 \U0001f600"),
        ("a\x00b\x00", "ab"),
        ("a\ud800b", "ab"),  # lone high surrogate
        ("x\udfff", "x"),  # lone low surrogate
        ("\ud83d\x00z", "z"),
    ],
)
def test_scrub_drops_nul_and_lone_surrogates(text, expected):
    assert scrub(text) == expected


@given(st.text())
def test_scrub_output_is_always_storable(text):
    result = scrub(text)
    assert result is not None
    assert "\x00" not in result
    result.encode("utf-8")  # no lone surrogates left


def test_normalize_entry_scrubs_every_text_field():
    dirty = raw(
        id="id\x00",
        title="Ti\x00tle\ud800",
        summary="Sum\x00mary",
        content="<p>Bo\x00dy\udc00</p>",
        author="A\x00nn",
        tags=("t\x00ag", "\x00"),
    )
    entry = normalize_entry(dirty, link="https://example.com/\x00", url="https://example.com/")
    for field in dataclasses.fields(entry):
        value = getattr(entry, field.name)
        values = value if isinstance(value, tuple) else (value,)
        for item in values:
            if isinstance(item, str):
                assert "\x00" not in item
                item.encode("utf-8")
    assert entry.guid == "id"
    assert entry.tags == ("tag",)


CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
ONE_LINE_FIELDS = ("title", "author")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ab\x08cd", "abcd"),
        ("a\x01\x1f\x7fb", "ab"),
        ("a\x85\x9fb", "ab"),  # C1 controls
        ("keeps\ttab\nand\r\nnewlines", "keeps\ttab\nand\r\nnewlines"),
    ],
)
def test_scrub_drops_control_characters(text, expected):
    assert scrub(text) == expected


def test_control_characters_never_reach_a_stored_field():
    dirty = raw(
        id="id\x08",
        title="ab\x08cd\tand\x1f\x85 more",
        summary="Sum\x07mary",
        # The raw characters, and references html5ever would turn into them.
        content="<p>Bo\x0bdy&#8;&#x7f;&#x1b;\x9b</p><pre>a\tb\nc\x0c</pre>",
        author="A\x1bnn\nSmith",
        tags=("t\x08ag", "\x07", "two\tlines\n"),
        published_raw="Tue, 02 Jan 2024\x08 03:04:05 +0000",
    )
    entry = normalize_entry(dirty, link="https://example.com/1", url="https://example.com/1")
    for field in dataclasses.fields(entry):
        value = getattr(entry, field.name)
        for item in value if isinstance(value, tuple) else (value,):
            if isinstance(item, str):
                assert not CONTROLS.search(item), (field.name, item)
    assert (entry.title, entry.author) == ("abcd and more", "Ann Smith")
    assert entry.tags == ("tag", "two lines")
    assert entry.content_text == "Body\na b\nc"
    assert entry.guid == "id"


@given(
    st.text(max_size=30),
    st.text(max_size=30),
    st.lists(st.text(max_size=10), max_size=3),
)
def test_one_line_fields_hold_no_control_character_at_all(title, author, tags):
    entry = norm(raw(title=title, author=author, tags=tuple(tags)))
    for value in (entry.title, entry.author, *entry.tags):
        if value is not None:
            assert not CONTROLS.search(value)
            assert "\n" not in value and "\t" not in value and "\r" not in value


# -- references left in text (markup escaped twice at the source)


def test_markup_escaped_twice_is_text_once():
    # Blogger-style: the HTML itself says "&amp;nbsp;".
    entry = norm(raw(content="<p>Welcome&amp;nbsp;to &amp;quot;chemistry&amp;quot;</p>"))
    assert entry.content_text == 'Welcome to "chemistry"'
    assert entry.content_html == "<p>Welcome&nbsp;to &quot;chemistry&quot;</p>"


def test_markup_escaped_twice_stays_harmless_text():
    entry = norm(raw(content="<p>a &amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt; b</p>"))
    assert entry.content_text == "a <script>alert(1)</script> b"  # text, shown as such
    assert entry.content_html == "<p>a &lt;script&gt;alert(1)&lt;/script&gt; b</p>"
    assert "<script" not in entry.content_html


def test_references_in_tags_and_titles_are_decoded():
    entry = norm(
        raw(
            title="Tom &amp;amp; Jerry",
            summary="R&amp;amp;D &amp;mdash; done",
            author="Ann &amp;amp; Bob",
            tags=("Arts &amp; Entertainment", "AT&T", "&#35;1", "&nosuch;"),
        )
    )
    assert entry.title == "Tom & Jerry"
    assert entry.summary == "R&D \u2014 done"
    assert entry.author == "Ann & Bob"
    assert entry.tags == ("Arts & Entertainment", "AT&T", "#1", "&nosuch;")


def test_references_inside_tags_and_urls_are_left_alone():
    cleaned = sanitize_html('<a href="https://example.com/?a=1&amp;lt=2">x &amp;amp; y</a>')
    assert cleaned == (
        '<a href="https://example.com/?a=1&amp;lt=2" rel="noopener noreferrer nofollow">'
        "x &amp; y</a>"
    )


# -- invisible characters and empty paragraphs


def test_invisible_characters_and_empty_paragraphs_are_dropped():
    entry = norm(
        raw(
            content=(
                "<p>Word\u2060joiner and zero\u200bwidth\ufeff</p><p></p><p>&nbsp;</p>"
                "<p> \u2060 </p><p><br></p><p>\u200b</p><p>Last\u00ad line</p>"
            )
        )
    )
    assert entry.content_text == "Wordjoiner and zerowidth\nLast line"
    assert entry.content_html == (
        "<p>Word\u2060joiner and zero\u200bwidth\ufeff</p><p>Last\u00ad line</p>"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Joiners between letters or emoji are part of the text.
        ("family \U0001f468\u200d\U0001f469\u200d\U0001f467 here", None),
        ("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", None),  # Persian
        ("\u0915\u094d\u200d\u0937", None),  # Devanagari
        # Alone at the edge of a word they are debris.
        ("\u200dstart and end\u200c", "start and end"),
        ("a \u200c\u200d b", "a b"),
        ("\u3000\u2003wide\u202fspaces\u3000", "wide spaces"),
    ],
)
def test_joiners_stay_inside_words_only(text, expected):
    assert html_to_text(f"<p>{text}</p>") == (text if expected is None else expected)
    assert one_line(text) == (text if expected is None else expected)


def test_content_hash_of_a_plain_item_is_pinned():
    # Changing the formula makes every stored item look edited once (one update
    # each at the next poll). It last changed when the dates left it (issue 4);
    # boilerplate rules and the new fields did not change it.
    assert norm(raw()).content_hash == (
        "155a30f560012a8eb9d85f60c950cfe0d61d166fa6c415d152c58c119e062a12"
    )


@pytest.mark.parametrize(
    "change",
    [
        {"content": "<p>Body</p><p><a href='/x'>Continue reading...</a></p>"},
        {"content": "<p>Body</p><img src='https://pixel.wp.com/b.gif?x=1'>"},
        {"content": "<p>Body</p><div class='sharedaddy'><a href='/s'>Share</a></div>"},
    ],
)
def test_content_hash_ignores_boilerplate(change):
    assert norm(raw(**change)).content_hash == norm(raw()).content_hash


# -- boilerplate through normalize_entry


def test_normalize_entry_removes_boilerplate_from_html_text_and_summary():
    entry = norm(
        raw(
            summary="<p>The short version.</p> <a href='/1'>Continue reading...</a>",
            content=(
                "<p>First paragraph.</p>"
                "<div class='read-more'><a href='/o'>Other story</a>"
                "<p>FILE PHOTO. \u00a9 Reuters</p></div><p>Second paragraph.</p>"
                "<img src='http://feeds.feedburner.com/~r/x/~4/abc' width='1' height='1'>"
                "<p>Read Full Article at RT.com</p>"
            ),
        )
    )
    assert entry.content_html == "<p>First paragraph.</p><p>Second paragraph.</p>"
    assert entry.content_text == "First paragraph.\nSecond paragraph."
    assert entry.summary == "The short version."
    assert entry.word_count == 4


def test_summary_is_the_first_paragraph_when_the_item_has_none():
    entry = norm(raw(summary=None, content="<p>One.</p><p>Two.</p><p>Read more</p>"))
    assert (entry.summary, entry.content_text) == ("One.", "One.\nTwo.")


def test_summary_only_item_is_cleaned_once_for_both():
    entry = norm(raw(content=None, summary="<p>Only this.</p><p>Continue reading \u2192</p>"))
    assert entry.summary == entry.content_text == "Only this."


def feed_items(count: int = 6) -> list[RawEntry]:
    return [
        raw(
            id=f"id-{n}",
            summary=None,
            content=(
                "<p>[If the formatting looks odd, visit the original article]</p>"
                f"<p>Story {n} says something of its own, in its own words.</p>"
                "<h2>Introduction</h2>"
                f"<p>More of story {n}.</p><p><a href='mailto:a@b.c'>Reply via email</a></p>"
            ),
        )
        for n in range(count)
    ]


def test_learned_boilerplate_is_dropped_the_pipeline_way():
    entries = [norm(item) for item in feed_items()]
    learned = learn_boilerplate([entry.content_text for entry in entries])
    assert learned == {
        "[if the formatting looks odd, visit the original article]",
        "introduction",
        "reply via email",
    }
    cleaned = [drop_learned(entry, learned) for entry in entries]
    first = cleaned[0]
    assert first.content_text == (
        "Story 0 says something of its own, in its own words.\nIntroduction\nMore of story 0."
    )
    assert first.content_html == (
        "<p>Story 0 says something of its own, in its own words.</p><h2>Introduction</h2>"
        "<p>More of story 0.</p>"
    )
    # The summary was the first paragraph, a learned line: now the story's first.
    assert first.summary == "Story 0 says something of its own, in its own words."
    assert first.word_count == 16
    assert first.content_hash != entries[0].content_hash
    # The same through normalize_entry's own parameter.
    assert norm_with(feed_items()[0], boilerplate=learned) == first


def norm_with(item: RawEntry, **options: Any):
    return normalize_entry(
        item, link="https://example.com/1", url="https://example.com/1", **options
    )


def test_drop_learned_leaves_other_entries_alone():
    entry = norm(raw())
    assert drop_learned(entry, frozenset({"reply via email"})) is entry
    assert drop_learned(entry, frozenset()) is entry


# -- teaser: why an item looks cut short of its article

RT_TEASER = (
    "Russia and the US will hold talks on arms control and the situation in Ukraine on "
    "January 10, ahead of a meeting of the NATO-Russia Council, it was reported on Tuesday."
    '<br/><a href="https://www.rt.com/russia/544563-security-talks-january/">'
    "Read Full Article at RT.com</a>"
)
WORDPRESS_EXCERPT = (
    "<p>Life is fleeting, as a furball of love named Spartacus recently reminded me. He came "
    "to fill a void in our lives [&#8230;]</p>\n"
    '<p>The post <a href="https://example.com/fleeting/">A Fleeting Life</a> appeared first '
    'on <a href="https://example.com">Morning Tempo</a>.</p>'
)
WORDPRESS_FULL = (
    "<p>Life is fleeting, as a furball of love named Spartacus recently reminded me.</p>"
    "<p>He came to fill a void in our lives, and he did.</p>"
    '<p>The post <a href="https://example.com/fleeting/">A Fleeting Life</a> appeared first '
    'on <a href="https://example.com">Morning Tempo</a>.</p>'
)


@pytest.mark.parametrize(
    ("summary", "content", "teaser"),
    [
        # RT: one paragraph and a link to the article, the only text of the item
        (RT_TEASER, None, "trailer"),
        # the Guardian: the standfirst, then "Continue reading..."
        ("<p>Trump promised unity.</p> <a href='/x'>Continue reading...</a>", None, "trailer"),
        # El País, in Spanish
        (None, "<p>Entre 2019 y 2023, 500.000 migrantes.</p><p>Seguir leyendo</p>", "trailer"),
        # a theme's read-more box (class "more-link"): not a line rule, a box
        (
            "<p>She keeps fixating on the negative.</p>"
            "<a class='more-link' href='/x'>Continue Reading</a>",
            None,
            "trailer",
        ),
        # WordPress's excerpt: "[…]", then "The post X appeared first on Y" (removed)
        (WORDPRESS_EXCERPT, None, "ellipsis"),
        # the same with a trailer in another language, which no rule removes
        (
            "<p>Die Headline einer Werbeanzeige zu tauschen, kann [&hellip;]</p>"
            "<p>Der Beitrag Headlines erschien zuerst auf Nina Klose.</p>",
            None,
            "ellipsis",
        ),
        ("Six skiers were found alive after an avalanche. Search\u2026", None, "ellipsis"),
        ("<p>A summary cut by its feed's generator...</p>", None, "ellipsis"),
        ("<p>\u201cOh Darling, what is it you truly long for\u2026\u201d</p>", None, "ellipsis"),
        # a full WordPress post: its "appeared first on" trailer proves nothing
        (None, WORDPRESS_FULL, None),
        ("<p>The whole post.</p><p>Originally published at example.org.</p>", None, None),
        (None, "<p>A full post.</p><p>It ends here.</p>", None),
        # an ellipsis inside the text, or ending a link's text, is no cut
        (None, "<p>Wait\u2026 what?</p><p>It ends here.</p>", None),
        (None, "<p>Our paper.</p><p>[DOI, BibTeX, PDF and Details\u2026]</p>", None),
        # a related-links line is not a trailer
        (None, "<p>A full post.</p><p>Read more: <a href='/o'>Another story</a></p>", None),
    ],
)
def test_teaser_says_why_an_item_looks_cut_short(summary, content, teaser):
    assert norm(raw(summary=summary, content=content)).teaser == teaser


def test_the_teaser_signal_changes_nothing_stored():
    """The trailer goes from the text as before, and the hash is the text's alone."""
    entry = norm(raw(summary=RT_TEASER, content=None))
    assert entry.teaser == "trailer"
    assert "RT.com" not in (entry.content_text or "")
    assert entry.content_hash == content_hash(
        entry.title,
        entry.summary,
        entry.content_text,
        entry.content_html,
        entry.author,
        entry.tags,
        entry.enclosures,
    )


def test_a_summary_beside_the_content_is_not_the_evidence():
    """An item with content is judged on its content: its summary is an excerpt anyway."""
    entry = norm(raw(summary="<p>The first lines [&#8230;]</p>", content="<p>All of it.</p>"))
    assert entry.teaser is None


def test_an_ellipsis_left_last_by_a_learned_line_is_found():
    item = raw(content="<p>The first lines of the story\u2026</p><p>Reply via email</p>")
    entry = norm(item)
    assert entry.teaser is None
    assert drop_learned(entry, frozenset({"reply via email"})).teaser == "ellipsis"


# -- language


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The council voted on Tuesday to close the old bridge for repairs next spring.", "en"),
        ("Le conseil municipal a voté mardi la fermeture du vieux pont pour des travaux.", "fr"),
        ("Der Stadtrat hat am Dienstag beschlossen, die alte Brücke zu sperren.", "de"),
        ("El ayuntamiento votó el martes cerrar el puente viejo para repararlo.", "es"),
        ("市議会は火曜日、古い橋を修理のために閉鎖することを決めました。", "ja"),
        ("市议会周二投票决定关闭这座旧桥进行维修\uff0c工程将于明年春天开始。", "zh"),
        ("Городской совет во вторник проголосовал за закрытие старого моста на ремонт.", "ru"),
    ],
)
def test_language_from_the_text(text, expected):
    assert detect_language(text) == expected
    # The text wins over a feed that says otherwise.
    assert detect_language(text, "pt-BR") == expected


def test_short_texts_take_the_feeds_language():
    assert detect_language("Photos", "de-DE") == "de"
    assert detect_language("OK 2024", "en_US") == "en"
    assert detect_language("Photos") is None
    assert detect_language(None, "fr") == "fr"
    assert detect_language("", None) is None


@pytest.mark.parametrize(
    ("tag", "code"),
    [("en-US", "en"), ("EN", "en"), ("pt_br", "pt"), (" de ", "de"), ("fil", "fil"), ("x", None)],
)
def test_language_code(tag, code):
    assert language_code(tag) == code


def test_normalize_entry_language_uses_title_text_and_feed_hint():
    entry = norm_with(
        raw(title="Le pont ferme", content="<p>Les travaux commencent en mars prochain.</p>"),
        feed_language="en",
    )
    assert entry.language == "fr"
    assert (
        norm_with(raw(title="Hi", content="<p>Ok</p>", summary=None), feed_language="nl").language
        == "nl"
    )


# -- word count


@pytest.mark.parametrize(
    ("text", "count"),
    [
        (None, 0),
        ("", 0),
        ("one two  three", 3),
        ("Don't stop: e-mail me.\nSecond line here", 7),
        ("中文测试", 4),
        ("日本語のテキスト", 8),
        ("Python 3 と 中文 mixed", 6),
        ("한국어 문장은 띄어쓰기를 합니다", 4),  # Hangul: spaces between words
    ],
)
def test_word_count(text, count):
    assert word_count(text) == count


# -- enclosures


def test_enclosures_are_absolute_http_and_typed():
    item = raw(
        extra=(
            (
                "enclosures",
                (
                    ("/media/ep1.mp3", "Audio/MPEG", "12345"),
                    ("https://cdn.example.com/ep1.mp4", "video/mp4", 0),
                    ("ftp://example.com/ep1.ogg", "audio/ogg", "1"),
                    ("javascript:alert(1)", None, None),
                    ("/media/ep1.mp3", "audio/mpeg", "999"),  # the same file again
                    ("https://example.com/x.pdf", "", "n/a"),
                    ("  ", None, None),
                ),
            ),
        )
    )
    entry = normalize_entry(item, link=None, url=None, base_url="https://example.com/feed.xml")
    assert entry.enclosures == (
        Enclosure("https://example.com/media/ep1.mp3", "audio/mpeg", 12345),
        Enclosure("https://cdn.example.com/ep1.mp4", "video/mp4", None),
        Enclosure("https://example.com/x.pdf", None, None),
    )


def test_enclosures_from_rss_and_json_feed_bytes():
    rss = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>p</title><item>'
        b"<title>Ep 1</title><guid>e1</guid>"
        b'<enclosure url="https://example.com/ep1.mp3" type="audio/mpeg" length="34567"/>'
        b"</item></channel></rss>"
    )
    json_feed = (
        b'{"version": "https://jsonfeed.org/version/1.1", "title": "p", "items": [{"id": "1",'
        b' "content_text": "x", "attachments": [{"url": "ep1.m4a", "mime_type": "audio/x-m4a",'
        b' "size_in_bytes": 89012}]}]}'
    )
    base = "https://example.com/podcast/feed"
    for body, expected in (
        (rss, Enclosure("https://example.com/ep1.mp3", "audio/mpeg", 34567)),
        (json_feed, Enclosure("https://example.com/podcast/ep1.m4a", "audio/x-m4a", 89012)),
    ):
        item = parse_feed(body, url=base).entries[0]
        entry = normalize_entry(item, link=None, url=None, base_url=base)
        assert entry.enclosures == (expected,)


def test_a_reference_shown_in_code_is_kept_as_written():
    """A snippet about HTML means its "&nbsp;"; the same text outside code was
    escaped twice by mistake and is decoded."""
    fragment = (
        "<p>Fixed&amp;nbsp;it.</p>"
        '<pre><code>text.replace("&amp;nbsp;", " ")</code></pre>'
        "<p>Inline <code>&amp;amp;</code> too.</p>"
    )
    assert html_to_text(fragment) == 'Fixed it.\ntext.replace("&nbsp;", " ")\nInline &amp; too.'
    assert sanitize_html(fragment) == (
        "<p>Fixed&nbsp;it.</p>"
        '<pre><code>text.replace("&amp;nbsp;", " ")</code></pre>'
        "<p>Inline <code>&amp;amp;</code> too.</p>"
    )
