"""Parse a feed body into a ParsedFeed.

The only module that imports feedparser. feedparser reads RSS 0.9x/1.0/2.0
and Atom; JSON Feed 1.0/1.1 (which feedparser 6.0 does not read) gets a
small mapper here.

Contract for later stages: RawEntry.title/summary/content are HTML fragments
(plain-text values are escaped), so normalize has one way to clean them.
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
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin

import feedparser

from .errors import ParseError
from .types import ParsedFeed, RawEntry

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


def parse_feed(body: bytes, *, url: str, content_type: str | None = None) -> ParsedFeed:
    """bytes + headers -> ParsedFeed. Raises ParseError when the body is not a feed.

    ``url`` is the document's address: the feed's site link is made absolute
    against it. Item links are made absolute by later stages (told the
    address, feedparser would also rewrite item ids, which must stay as the
    feed gave them).
    """
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
    return dataclasses.replace(parsed, entries=tuple(_capped(e) for e in parsed.entries))


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
    Real feeds do not need their own entities; references to them become
    undefined entities, which feedparser's lenient pass keeps as text.
    """
    body = _as_utf8(body)
    match = _INTERNAL_SUBSET.search(body)
    if match is None or _ELEMENT_START.search(body, 0, match.start()):
        return body
    return (
        body[: match.start()] + b"<!DOCTYPE" + match["head"].rstrip() + b">" + body[match.end() :]
    )


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
    """Plain text as an HTML fragment: escaped, line breaks kept."""
    return html.escape(text, quote=False).replace("\n", "<br>\n")


def _as_html(container: Any, key: str) -> str | None:
    """A text construct as an HTML fragment (plain text escaped)."""
    value = container.get(key)
    if not value:
        return None
    detail = container.get(f"{key}_detail") or {}
    if detail.get("type") in PLAIN_TYPES:
        return plain_to_html(str(value))
    return str(value)


def _content_html(entry: Any) -> str | None:
    contents = entry.get("content") or []
    # Prefer an HTML body; some feeds give both a text and an HTML version.
    for item in sorted(
        contents, key=lambda c: c.get("type") not in ("text/html", "application/xhtml+xml")
    ):
        value = item.get("value")
        if value:
            if item.get("type") in PLAIN_TYPES:
                return plain_to_html(value)
            return str(value)
    return None


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
    return RawEntry(
        id=entry.get("id") or None,
        link=entry.get("link") or None,
        title=_as_html(entry, "title"),
        summary=_as_html(entry, "summary"),
        content=_content_html(entry),
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
