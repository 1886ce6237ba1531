"""Parse a feed body into a ParsedFeed.

The only module that imports feedparser. feedparser reads RSS 0.9x/1.0/2.0
and Atom; JSON Feed 1.0/1.1 (which feedparser 6.0 does not read) gets a
small mapper here.

Contract for later stages: RawEntry.title/summary/content are HTML fragments
(plain-text values are escaped, their paragraphs kept), so normalize has one way
to clean them; RawEntry.id is the item's id as the feed gave it (stripped).
Items with nothing to show are left out and counted (ParsedFeed.empty_items).
feedparser's own sanitizer is off: it is slow and normalize sanitizes with nh3.
"""

from __future__ import annotations

import calendar
import dataclasses
import html
import io
import json
import re
import time
import xml.sax
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin

from . import itemcut
from .errors import ParseError
from .lazyimport import at_first_call
from .types import DEFAULT_MAX_ITEMS, ParsedFeed, RawEntry

# chardet: only for a document whose encoding neither HTTP nor the document declares.
with at_first_call("chardet", "detect"):
    import feedparser
    from feedparser.datetimes import _parse_date as feedparser_date
    from feedparser.mixin import _FeedParserMixin
    from feedparser.namespaces import _base as feedparser_base
    from feedparser.namespaces import mediarss

# Longest value kept per field (characters); a second line of defence after
# the body size cap, so no single item can make normalization or FTS crawl.
MAX_SHORT_FIELD = 4_096  # id, link, title, author
MAX_LONG_FIELD = 1_048_576  # summary, content
SY_PERIODS = {
    "hourly": 3600,
    "daily": 86400,
    "weekly": 604800,
    "monthly": 2592000,
    "yearly": 31536000,
}

# The spec's version URLs; bare numbers and http:// are common enough to accept.
_JSON_FEED_VERSION = re.compile(r"^(?:https?://(?:www\.)?jsonfeed\.org/version/)?1(\.[01])?/?$")
PLAIN_TYPES = {"text/plain", "text"}
HTML_TYPES = {"text/html", "application/xhtml+xml", "html", "xhtml"}


def parse_feed(
    body: bytes, *, url: str, content_type: str | None = None, max_items: int = DEFAULT_MAX_ITEMS
) -> ParsedFeed:
    """bytes + headers -> ParsedFeed. Raises ParseError when the body is not a feed.

    ``url`` is the document's address: the feed's site link is made absolute
    against it. Item links are made absolute by later stages (told the
    address, feedparser would also rewrite item ids, which must stay as the
    feed gave them).
    """
    return parse_prepared(
        prepared(body, max_items), url=url, content_type=content_type, max_items=max_items
    )


def parse_prepared(
    cut: itemcut.Cut, *, url: str, content_type: str | None, max_items: int
) -> ParsedFeed:
    """``parse_feed`` of a body already ``prepared`` (the digest pre-scans it first);
    the items the cut left out are counted with the others."""
    body = cut.body
    head = body[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if not head:
        raise ParseError("empty body")
    # The body decides; the Content-Type header is only a hint when it cannot.
    if head.startswith(b"{") or (
        not head.startswith(b"<") and content_type and "json" in content_type.lower()
    ):
        parsed = parse_json_feed(body)
    else:
        parsed = _parse_xml(body, content_type=content_type)
    if parsed.site_url:
        parsed = dataclasses.replace(parsed, site_url=_join(url, parsed.site_url))
    shown = [e for e in parsed.entries if not is_empty(e)]
    kept = newest(shown, max_items)
    return dataclasses.replace(
        parsed,
        entries=tuple(_capped(e) for e in kept),
        empty_items=cut.empty + len(parsed.entries) - len(shown),
        dropped_items=cut.dropped + len(shown) - len(kept),
    )


def prepared(body: bytes, max_items: int) -> itemcut.Cut:
    """What parse_feed reads of a body, for callers that read it first (the
    pre-scan): without blanks before its XML declaration, and cut down to its
    newest ``max_items`` items when it has more (itemcut).

    A blank line before ``<?xml`` (18 of the corpus's real feeds) makes the
    document ill-formed, and feedparser would read it with its lenient HTML-like
    parser, which leaves "amp;" in categories and drops attributes' escaping;
    every feed reader reads such a feed as XML."""
    return itemcut.cut(_BLANK_BEFORE_DECLARATION.sub(rb"\1", body, count=1), max_items, parse_date)


_BLANK_BEFORE_DECLARATION = re.compile(rb"^(\xef\xbb\xbf)?[ \t\r\n]+(?=<\?xml[ \t\r\n])")


def parse_date(text: str) -> datetime | None:
    """A date as feedparser reads an item's date, in UTC."""
    return _struct_to_datetime(feedparser_date(text))


def newest(entries: Sequence[RawEntry], limit: int) -> Sequence[RawEntry]:
    """The ``limit`` newest items, in document order: by date (published, else
    updated), undated items after dated ones and in document order among
    themselves (feeds put their newest first)."""
    if len(entries) <= limit:
        return entries
    oldest = datetime.min.replace(tzinfo=UTC)

    def age(index: int) -> tuple[datetime, int]:
        raw = entries[index]
        return raw.published or raw.updated or oldest, -index

    keep = sorted(sorted(range(len(entries)), key=age, reverse=True)[:limit])
    return [entries[i] for i in keep]


def is_empty(raw: RawEntry) -> bool:
    """An item with nothing to show: no title, no link, no text and no enclosure
    (an id or a date alone is not a story). Such items are left out, and counted:
    a stray <item/> (node-feedparser's illegally-nested.xml has one inside each item)
    would otherwise be an article with no title, no address and no text."""
    return not (
        raw.title or raw.link or raw.summary or raw.content or dict(raw.extra).get("enclosures")
    )


def _cap(value: str | None, limit: int) -> str | None:
    return value[:limit] if value is not None and len(value) > limit else value


def _capped(raw: RawEntry) -> RawEntry:
    return dataclasses.replace(
        raw,
        id=_cap(raw.id, MAX_SHORT_FIELD),
        link=_cap(raw.link, MAX_SHORT_FIELD),
        title=_cap(raw.title, MAX_SHORT_FIELD),
        summary=_cap(raw.summary, MAX_LONG_FIELD),
        content=_cap(raw.content, MAX_LONG_FIELD),
        author=_cap(raw.author, MAX_SHORT_FIELD),
    )


def _join(base: str, link: str) -> str | None:
    try:
        return urljoin(base, link)
    except ValueError:
        return None


# feedparser's complaints that do not make a document less of a feed.
_HARMLESS = (feedparser.NonXMLContentType,)


# -- corrections to how feedparser (6.0.x) reads some elements, made on its handler
# classes once, when this module (feedd's only importer of feedparser) loads.


def _keep_media_description_apart(self: Any, attrs_d: dict[str, str]) -> None:
    # feedparser handles media:description as an item description, so a photo's
    # caption becomes the item's summary or content (kurtmckee/feedparser#53).
    # It describes the media; _raw_entry uses it only for an item with no text.
    self.push_content("media_description", attrs_d, "text/plain", 1)


def _end_media_description(self: Any) -> None:
    self.pop_content("media_description")


_SCHEME = re.compile(r"^\s*([A-Za-z][A-Za-z0-9+.-]*):")
_feedparser_start_link = feedparser_base.Namespace._start_link


def _start_link_reading_text(self: Any, attrs_d: dict[str, str]) -> None:
    # <link uri="at://...">https://example.com/item</link> (Bluesky's RSS): feedparser
    # takes the attribute as the address and never reads the text. An item's
    # address is a web address: when the attribute is not one, read the text.
    address = attrs_d.get("url", attrs_d.get("uri", attrs_d.get("href")))
    if (
        address
        and attrs_d.get("rel", "alternate") == "alternate"
        and (scheme := _SCHEME.match(address)) is not None
        and scheme[1].lower() not in ("http", "https")
    ):
        attrs_d = {k: v for k, v in attrs_d.items() if k not in ("url", "uri", "href")}
    _feedparser_start_link(self, attrs_d)


_feedparser_end_guid = feedparser_base.Namespace._end_guid


def _end_guid_resolving_its_link(self: Any) -> None:
    # Ids are left as given (_correct_feedparser), but the link feedparser takes
    # from a permalink guid (or an Atom id) when the item has none is an address:
    # it is resolved against the xml:base in scope.
    context = self._get_context()
    had_link = "link" in context
    _feedparser_end_guid(self)
    if not had_link and context.get("link"):
        context["link"] = self.resolve_uri(context["link"])


def _correct_feedparser() -> None:
    mediarss.Namespace._start_media_description = _keep_media_description_apart
    mediarss.Namespace._end_media_description = _end_media_description
    feedparser_base.Namespace._start_link = _start_link_reading_text
    feedparser_base.Namespace._end_guid = _end_guid_resolving_its_link
    feedparser_base.Namespace._end_id = _end_guid_resolving_its_link
    # An item's id is a name, not an address: feedparser resolves it against the
    # xml:base in scope (reddit's <id>t3_42tizy</id> became "/t3_42tizy"), and
    # article_feeds.guid is the id as the feed gave it.
    _FeedParserMixin.can_be_relative_uri = _FeedParserMixin.can_be_relative_uri - {"id"}


_correct_feedparser()


# An internal DTD subset: `<!DOCTYPE name ... [ declarations ]>`. The
# alternatives are disjoint, so matching is linear (no backtracking blow-up).
_INTERNAL_SUBSET = re.compile(
    rb"<!DOCTYPE(?P<head>[^\[>]*)\[(?:[^\]\"']|\"[^\"]*\"|'[^']*')*\]\s*>", re.IGNORECASE
)
_ELEMENT_START = re.compile(rb"<[A-Za-z_]")


def strip_internal_subset(body: bytes) -> bytes:
    """Drop the DTD's internal subset (entity declarations) from the prolog.

    feedparser is safe from external entities and from billion laughs, but it
    keeps "safe-looking" internal entities, and one 50 KB entity referenced
    10,000 times makes a 0.5 MB feed expand to gigabytes (quadratic blow-up).
    What a document's own simple entities meant is kept (expand_entities),
    within bounds; a reference to any other entity it declared is dropped.
    """
    body = _as_utf8(body)
    match = _INTERNAL_SUBSET.search(body)
    if match is None or _ELEMENT_START.search(body, 0, match.start()):
        return body
    rest = body[match.end() :]
    entities = declared_entities(match[0])
    if entities:
        rest = expand_entities(rest, entities)
    return body[: match.start()] + b"<!DOCTYPE" + match["head"].rstrip() + b">" + rest


# Bounds on what a document's own entities may add: one entity's replacement
# text, and the whole document's growth. A feed that uses entities at all
# uses them for a name or a URL prefix (feedparser's entity_in_doctype test),
# far below both; past them a reference is dropped rather than expanded.
MAX_ENTITY_VALUE = 4_096
MAX_ENTITY_EXPANSION = 262_144
# XML's five predefined entities: the parser's own, never redeclared by us.
_PREDEFINED = frozenset({b"amp", b"lt", b"gt", b"quot", b"apos"})
_ENTITY_DECLARATION = re.compile(
    rb"<!ENTITY\s+(?P<name>[A-Za-z_][\w.-]*)\s+"
    rb"(?:\"(?P<double>[^\"]*)\"\s*>|'(?P<single>[^']*)'\s*>|(?:[^>\"']|\"[^\"]*\"|'[^']*')*>)"
)
# A replacement text that is plain text: no markup, no parameter entity, and no
# reference but character references and the predefined entities (so no nesting).
_PLAIN_ENTITY_VALUE = re.compile(
    rb"(?:[^<&%]|&#[0-9]+;|&#x[0-9A-Fa-f]+;|&(?:amp|lt|gt|quot|apos);)*"
)
# What expand_entities looks for: a reference, or the start of a section in
# which "&name;" is not a reference (CDATA, comments).
_REFERENCE_OR_SECTION = re.compile(rb"&(?P<name>[A-Za-z_][\w.-]*);|<!\[CDATA\[|<!--")
_SECTION_END = {b"<![CDATA[": b"]]>", b"<!--": b"-->"}


def declared_entities(subset: bytes) -> dict[bytes, bytes | None]:
    """The general entities an internal subset declares: name -> replacement text,
    or None for one that is not a plain, short text (external, nested, markup,
    too long). The first declaration of a name is the one that counts (XML 1.0 4.2)."""
    entities: dict[bytes, bytes | None] = {}
    for declaration in _ENTITY_DECLARATION.finditer(subset):
        name = declaration["name"]
        if name in entities or name in _PREDEFINED:
            continue
        value = declaration["double"]
        if value is None:
            value = declaration["single"]
        plain = (
            value is not None
            and len(value) <= MAX_ENTITY_VALUE
            and _PLAIN_ENTITY_VALUE.fullmatch(value) is not None
        )
        entities[name] = value if plain else None
    return entities


def expand_entities(text: bytes, entities: dict[bytes, bytes | None]) -> bytes:
    """References to the given entities replaced by their text (None: by nothing),
    outside CDATA sections and comments, up to MAX_ENTITY_EXPANSION bytes in all.

    Other references (HTML's &eacute;, the predefined ones) are left to the parser.
    Each byte is looked at once: sections are skipped with find, not a pattern
    that could rescan the rest of the document from every unterminated one.
    """
    pieces: list[bytes] = []
    budget = MAX_ENTITY_EXPANSION
    position = 0
    while (found := _REFERENCE_OR_SECTION.search(text, position)) is not None:
        name = found["name"]
        if name is None:  # a CDATA section or a comment: copied as it is
            end = text.find(_SECTION_END[found[0]], found.end())
            end = len(text) if end < 0 else end + len(_SECTION_END[found[0]])
            pieces.append(text[position:end])
            position = end
            continue
        pieces.append(text[position : found.start()])
        position = found.end()
        if name not in entities:
            pieces.append(found[0])
            continue
        value = entities[name] or b""
        if len(value) <= budget:
            pieces.append(value)
            budget -= len(value)
    pieces.append(text[position:])
    return b"".join(pieces)


# How a UTF-16/32 document starts (byte-order mark, or "<?" without one);
# the "-sig"-less codecs plus lstrip of U+FEFF handle both.
_WIDE_ENCODINGS = (
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
    (b"<\x00?\x00", "utf-16-le"),
    (b"\x00<\x00?", "utf-16-be"),
)


_WIDE_DECLARATION = re.compile(
    rb"^(\s*<\?xml[^>]*?encoding\s*=\s*)([\"'])(?:utf|ucs)-?(?:16|32|2|4)[^\"']*\2", re.IGNORECASE
)


def _as_utf8(body: bytes) -> bytes:
    """UTF-16/32 documents re-encoded as UTF-8, so byte patterns can see their markup."""
    codec = next((c for prefix, c in _WIDE_ENCODINGS if body.startswith(prefix)), None)
    if codec is None:
        # Single-byte markup that declares UTF-16/32 (it happens): feedparser would
        # believe the declaration whenever the length happens to be even.
        return _WIDE_DECLARATION.sub(rb"\1\2utf-8\2", body, count=1)
    try:
        text = body.decode(codec)
    except UnicodeDecodeError:
        return body  # let feedparser judge it
    text = text.lstrip("\ufeff")
    # The declaration must now say UTF-8, or feedparser would decode it as UTF-16 again.
    text = re.sub(r"^(<\?xml[^>]*?encoding=)([\"'])[^\"']*\2", r"\1\2utf-8\2", text)
    return text.encode("utf-8")


def feed_ttl(feed: Any) -> float | None:
    """Seconds the feed asks between polls: RSS <ttl> (minutes) or sy:updatePeriod /
    sy:updateFrequency; the longer of the two. None when absent or malformed."""
    hints = []
    ttl = str(feed.get("ttl") or "").strip()
    if ttl.isdigit() and int(ttl) > 0:
        hints.append(int(ttl) * 60.0)
    period = SY_PERIODS.get(str(feed.get("sy_updateperiod") or "").strip().lower())
    if period:
        frequency = str(feed.get("sy_updatefrequency") or "1").strip()
        count = int(frequency) if frequency.isdigit() and int(frequency) > 0 else 1
        hints.append(period / count)
    return max(hints) if hints else None


def _parse_xml(body: bytes, *, content_type: str | None) -> ParsedFeed:
    headers = {"content-type": content_type} if content_type else {}
    # Always a file object: given bytes, feedparser first tries them as a local
    # path, so a body of "/etc/passwd" would be read from this machine's disk.
    # normalize sanitizes (nh3) and makes links absolute against the document's
    # address itself, so feedparser's own passes over every HTML field are
    # skipped (they are half of its time, bench/parser_floor.py), except where
    # the document sets xml:base, which only feedparser knows how to apply.
    try:
        result = feedparser.parse(
            io.BytesIO(strip_internal_subset(body)),
            response_headers=headers,
            sanitize_html=False,
            resolve_relative_uris=b"xml:base" in body,
        )
    except Exception as crash:
        # feedparser raises its own bugs on hostile input (KeyError on a stray
        # </creativeCommons:license>, ValueError on &#x110000;, ...; the fuzz
        # regressions in tests/data/fuzz-regressions): the feed is unreadable,
        # not the daemon broken.
        raise ParseError(f"not a feed feedparser can read: {_describe(crash)}") from None
    feed = result.get("feed", {})
    exc = result.get("bozo_exception")
    if isinstance(exc, _HARMLESS):
        exc = None
    if not result.get("version") and not result.entries and not feed.get("title"):
        raise ParseError(_not_a_feed_reason(body, exc))
    if (
        exc is not None
        and not result.entries
        and isinstance(exc, xml.sax.SAXException)
        # An HTML entity XML does not define (&aacute;) spoils no structure;
        # feedparser's lenient pass reads such a document whole.
        and "undefined entity" not in str(exc)
    ):
        # Ill-formed and nothing recovered (a truncated body, say): a failure,
        # so the feed's validators are not moved on to this body.
        raise ParseError(f"not well-formed and no items: {_describe(exc)}")
    return ParsedFeed(
        version=result.get("version") or "unknown",
        title=_text_value(feed, "title"),
        site_url=feed.get("link") or None,
        language=feed.get("language") or None,
        entries=tuple(_raw_entry(entry) for entry in result.entries),
        warning=_describe(exc) if exc is not None else None,
        ttl=feed_ttl(feed),
    )


def _not_a_feed_reason(body: bytes, exc: object) -> str:
    head = body[:2048].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or b"<html" in head:
        return "not a feed: the server sent an HTML page"
    if exc is not None:
        return f"not a feed: {_describe(exc)}"
    return "not a feed: no RSS, Atom or JSON Feed document found"


def _describe(exc: object) -> str:
    if exc is None:
        return "unknown problem"
    text = str(exc).strip()
    name = type(exc).__name__
    return f"{name}: {text}" if text else name


def _text_value(container: Any, key: str) -> str | None:
    """The feed-level title etc. (feedparser has already decoded entities)."""
    value = container.get(key)
    if not value:
        return None
    return str(value).strip() or None


def plain_to_html(text: str) -> str:
    """Plain text as an HTML fragment: escaped, paragraphs and line breaks kept."""
    return paragraphs_to_html(html.escape(text, quote=False))


# A blank line: what separates paragraphs in plain text and Markdown.
_BLANK_LINE = re.compile(r"\n[ \t\f\v]*\n\s*")
_TAG = re.compile(r"<[A-Za-z/!?]")


def paragraphs_to_html(fragment: str) -> str:
    """Escaped text's blank-line paragraphs as <p> elements, its other line breaks
    as <br>; so normalize, which reads HTML (where a newline is a space), keeps
    each paragraph on its own line. Text of one paragraph gets no <p>."""
    fragment = fragment.replace("\r\n", "\n").replace("\r", "\n")
    paragraphs = [p.strip("\n") for p in _BLANK_LINE.split(fragment.strip("\n")) if p.strip()]
    if len(paragraphs) < 2:
        return fragment.replace("\n", "<br>\n")
    return "\n".join("<p>" + p.replace("\n", "<br>\n") + "</p>" for p in paragraphs)


def _is_plain(content_type: object) -> bool:
    """text/plain, and any other text/* type but HTML (text/markdown, text/x-markdown...)."""
    if not isinstance(content_type, str):
        return False
    kind = content_type.strip().lower()
    return kind in PLAIN_TYPES or (
        kind.startswith("text/") and kind not in HTML_TYPES and not kind.endswith("xml")
    )


def _typed_html(value: str, content_type: object) -> str:
    """A field's value, of the type the feed declared, as an HTML fragment.

    A value declared HTML that holds no tag at all but blank-line paragraphs is
    plain text or Markdown (static site generators put Markdown source in
    content:encoded): its paragraphs are kept, its entities stay HTML's.
    """
    if _is_plain(content_type):
        return plain_to_html(value)
    if "\n" in value and _TAG.search(value) is None and _BLANK_LINE.search(value.strip()):
        return paragraphs_to_html(value)
    return value


def _as_html(container: Any, key: str) -> str | None:
    """A text construct as an HTML fragment (plain text escaped)."""
    value = container.get(key)
    if not value:
        return None
    detail = container.get(f"{key}_detail") or {}
    return _typed_html(str(value), detail.get("type"))


def _content_html(entry: Any) -> str | None:
    contents = entry.get("content") or []
    # Prefer an HTML body; some feeds give both a text and an HTML version.
    for item in sorted(contents, key=lambda c: c.get("type") not in HTML_TYPES):
        value = item.get("value")
        if value:
            return _typed_html(str(value), item.get("type"))
    return None


def entry_link(entry: Any) -> str | None:
    """The item's address: its alternate link (an HTML one first), else feedparser's.

    feedparser's ``link`` is the last <link> it read, so an <link rel="enclosure">
    written after the alternate one (feedparser's own entry_link_* tests) takes
    its place; ``links`` keeps every link with its rel. Of several alternates the
    last is taken, as feedparser does. An RSS <link> is an alternate one; a
    permalink guid is only in ``link``.
    """
    alternates = [
        link
        for link in entry.get("links") or []
        if link.get("rel") == "alternate" and link.get("href")
    ]
    pages = [link for link in alternates if _media_type(link.get("type")) in HTML_TYPES]
    if pages or alternates:
        return str((pages or alternates)[-1]["href"])
    return entry.get("link") or None


def _media_type(value: object) -> str:
    """A MIME type without its parameters: "text/html; charset=utf-8" -> "text/html"."""
    return str(value or "").split(";", 1)[0].strip().lower()


def _struct_to_datetime(value: time.struct_time | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None


def entry_tags(entry: Any) -> tuple[str, ...]:
    """A feedparser-shaped entry's categories (term, else label), once each, in order."""
    return tuple(
        dict.fromkeys(
            str(t.get("term") or t.get("label")).strip()
            for t in entry.get("tags") or []
            if (t.get("term") or t.get("label"))
        )
    )


def _raw_entry(entry: Any) -> RawEntry:
    tags = entry_tags(entry)
    extra: list[tuple[str, Any]] = []
    origlink = entry.get("feedburner_origlink")
    if isinstance(origlink, str) and origlink:  # as an attribute it arrives as a dict
        extra.append(("feedburner_origlink", origlink))
    enclosures = tuple(
        (link.get("href"), link.get("type"), link.get("length"))
        for link in entry.get("links") or []
        if link.get("rel") == "enclosure" and link.get("href")
    )
    if enclosures:
        extra.append(("enclosures", enclosures))
    summary = _as_html(entry, "summary")
    content = _content_html(entry)
    if summary is None and content is None:
        # An item that is its media (a YouTube video) is described by the media's
        # description; any other item's text is its own.
        summary = _as_html(entry, "media_description")
    return RawEntry(
        id=str(entry.get("id") or "").strip() or None,
        link=entry_link(entry),
        title=_as_html(entry, "title"),
        summary=summary,
        content=content,
        author=entry.get("author") or None,
        # dict.get: FeedParserDict.get("updated") falls back to the published
        # date (with a DeprecationWarning); an item's updated date is its own.
        published=_struct_to_datetime(dict.get(entry, "published_parsed")),
        updated=_struct_to_datetime(dict.get(entry, "updated_parsed")),
        published_raw=dict.get(entry, "published") or None,
        updated_raw=dict.get(entry, "updated") or None,
        tags=tags,
        extra=tuple(extra),
    )


# -- JSON Feed (https://www.jsonfeed.org/version/1.1/)


def parse_json_feed(body: bytes) -> ParsedFeed:
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]  # json.loads refuses a UTF-8 byte-order mark
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParseError(f"not a feed: invalid JSON ({exc})") from None
    if not isinstance(document, dict):
        raise ParseError("not a feed: JSON document is not an object")
    match = _JSON_FEED_VERSION.match(str(document.get("version", "")).strip())
    if match is None:
        raise ParseError(f"not a feed: unknown JSON Feed version {document.get('version')!r}")
    version = "json11" if match[1] == ".1" else "json10"
    items = document.get("items")
    if not isinstance(items, list):
        raise ParseError("not a feed: JSON Feed has no items array")
    return ParsedFeed(
        version=version,
        title=_str(document.get("title")),
        site_url=_str(document.get("home_page_url")),
        language=_str(document.get("language")),
        entries=tuple(
            _json_entry(item, _json_author(document)) for item in items if isinstance(item, dict)
        ),
    )


def _str(value: object) -> str | None:
    """A JSON string field; anything else (numbers, objects) counts as missing."""
    if isinstance(value, str):
        return value.strip() or None
    return None


def _json_id(value: object) -> str | None:
    # The spec says string, but numeric ids are common in the wild.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return _str(value)


def _json_author(item: dict[str, Any]) -> str | None:
    """authors (1.1) or author (1.0) of an item or of the feed."""
    authors = item.get("authors")
    if isinstance(authors, list):
        names = [_str(a.get("name")) for a in authors if isinstance(a, dict)]
        joined = ", ".join(n for n in names if n)
        if joined:
            return joined
    author = item.get("author")  # JSON Feed 1.0
    if isinstance(author, dict):
        return _str(author.get("name"))
    return None


def parse_json_date(value: object) -> datetime | None:
    """RFC 3339 (what the spec requires); RFC 822 as a lenient fallback."""
    text = _str(value)
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text.upper())  # RFC 3339 allows "t" and "z"
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    if parsed.tzinfo is None:
        # The spec requires an offset; a bare time is most often UTC.
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _json_entry(item: dict[str, Any], feed_author: str | None) -> RawEntry:
    content = _str(item.get("content_html"))
    content_text = _str(item.get("content_text"))
    if content is None and content_text:
        content = plain_to_html(content_text)
    summary = _str(item.get("summary"))
    title = _str(item.get("title"))
    raw_tags = item.get("tags")
    tags: list[Any] = raw_tags if isinstance(raw_tags, list) else []
    extra: list[tuple[str, Any]] = []
    if _str(item.get("external_url")):
        extra.append(("external_url", _str(item.get("external_url"))))
    raw_attachments = item.get("attachments")
    attachments = tuple(
        (_str(a.get("url")), _str(a.get("mime_type")), _json_id(a.get("size_in_bytes")))
        for a in (raw_attachments if isinstance(raw_attachments, list) else [])
        if isinstance(a, dict) and _str(a.get("url"))
    )
    if attachments:
        extra.append(("enclosures", attachments))
    return RawEntry(
        id=_json_id(item.get("id")),
        link=_str(item.get("url")) or _str(item.get("external_url")),
        title=html.escape(title, quote=False) if title else None,
        summary=plain_to_html(summary) if summary else None,
        content=content,
        # Items without authors inherit the feed's (JSON Feed 1.1, "authors").
        author=_json_author(item) if ("authors" in item or "author" in item) else feed_author,
        published=parse_json_date(item.get("date_published")),
        updated=parse_json_date(item.get("date_modified")),
        published_raw=_str(item.get("date_published")),
        updated_raw=_str(item.get("date_modified")),
        tags=tuple(dict.fromkeys(t.strip() for t in tags if isinstance(t, str) and t.strip())),
        extra=tuple(extra),
    )


def handled_names() -> frozenset[str]:
    """The element names (lower-cased local parts) some feedparser handler reads:
    ``_start_dc_date`` reads "date" (and "dc_date", the name with its prefix)."""
    names: set[str] = set()
    for attribute in dir(_FeedParserMixin):
        for prefix in ("_start_", "_end_"):
            if attribute.startswith(prefix):
                name = attribute.removeprefix(prefix)
                names.update((name.lower(), name.rsplit("_", 1)[-1].lower()))
    return frozenset(names)
