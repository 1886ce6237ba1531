"""OPML subscription lists: lenient reading, OPML 2.0 writing (pure: bytes in, values out).

Reading. Many OPML files in the wild are not well-formed XML: a raw ``&`` in
an ``xmlUrl`` or a description, HTML entities such as ``&nbsp;`` that XML does
not define, text in another encoding than the one declared. Before
lxml sees the document:

- bytes that are not valid in the declared encoding (UTF-8 when none) are read
  as Windows-1252, which every byte decodes in;
- a ``&`` that does not start a character reference or one of XML's five
  named entities is escaped, except HTML's named entities, which become the
  character they name. A raw ``&`` inside a URL therefore survives intact
  (lxml's own recovery would drop ``&b`` from ``?a=1&b=2``).

No entity is ever expanded from a DTD after that, and lxml is told not to
load DTDs, resolve entities or use the network: no external entities, no
entity bombs. What the parser still had to repair is reported in
``OpmlDocument.repairs``; outlines that cannot become feeds are reported in
``OpmlDocument.skipped`` with the reason. Neither stops the others.

Tags. An outline without ``xmlUrl`` is a folder: its ``text`` (else ``title``)
becomes a tag of every feed inside it, outermost first. The ``category``
attribute (OPML 2.0: comma-separated, slash-delimited paths such as
``/News/World``) adds each path segment as a tag. Feeds listed twice (same
URL) are merged: one feed, the tags of both.

Writing. ``render_opml`` nests each feed in one folder per tag, in order
(tags ``["news", "world"]``: folder "news", inside it folder "world"), so
``parse_opml(render_opml(feeds))`` gives back the same URLs and tags.
"""

from __future__ import annotations

import codecs
import html.entities
import re

# Only to build and write XML; reading goes through lxml's hardened parser.
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

# Raised here; callers (config, cli_feeds) catch it by this module's name too.
from .errors import OpmlError as OpmlError


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    """One subscription: the feed URL, its display name and its tags."""

    url: str
    title: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Skipped:
    """An outline that did not become a feed, and why."""

    line: int | None
    text: str | None  # the outline's text/title, to help find it
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        label = f"outline {self.text!r}" if self.text else "outline"
        return f"{where}skipped {label}: {self.reason}"


@dataclass(frozen=True, slots=True)
class OpmlDocument:
    """What parse_opml read: the feeds, in document order, and what it had to leave out."""

    title: str | None
    feeds: tuple[OpmlFeed, ...]
    skipped: tuple[Skipped, ...] = ()
    repairs: tuple[str, ...] = ()  # how the document was not well-formed, and what was done


# -- reading

_XML_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*?\?>", re.IGNORECASE)
_XML_DECLARATION_TEXT = re.compile(r"^\s*<\?xml[^>]*?\?>", re.IGNORECASE)
_DECLARED_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""", re.IGNORECASE)
# "&" then what follows, up to the ";" that would end a reference.
_AMPERSAND = re.compile(r"&(#[0-9]+;|#[xX][0-9a-fA-F]+;|[A-Za-z][A-Za-z0-9._-]*;)?")
_XML_ENTITIES = frozenset({"amp;", "lt;", "gt;", "quot;", "apos;"})
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Entities in a DOCTYPE are never expanded; the whole DOCTYPE goes.
_DOCTYPE = re.compile(r"<!DOCTYPE(?:[^\[>]*\[.*?\])?[^>]*>", re.IGNORECASE | re.DOTALL)
MAX_SIZE = 16 * 1024 * 1024
MAX_DEPTH = 64  # folders nested deeper than this are not followed


def _decode(data: bytes, repairs: list[str]) -> str:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            data = data[len(bom) :]
            declared = encoding
            break
    else:
        declaration = _XML_DECLARATION.match(data)
        found = _DECLARED_ENCODING.search(declaration[0]) if declaration else None
        declared = found[1].decode("ascii").lower() if found else "utf-8"
    try:
        codecs.lookup(declared)
    except LookupError:
        repairs.append(f"unknown encoding {declared!r}; read as UTF-8")
        declared = "utf-8"
    try:
        return data.decode(declared)
    except UnicodeDecodeError as exc:
        repairs.append(
            f"not valid {declared} (byte {exc.start}); read as Windows-1252 where it is not"
        )
        return data.decode(declared, errors="_feedd_cp1252")


def _cp1252_fallback(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    return bytes(bad).decode("cp1252", errors="replace"), exc.end


codecs.register_error("_feedd_cp1252", _cp1252_fallback)


def _fix_ampersands(text: str, repairs: list[str]) -> str:
    raw = 0
    html_named = 0

    def fix(match: re.Match[str]) -> str:
        nonlocal raw, html_named
        reference = match[1]
        if reference is None:
            raw += 1
            return "&amp;"
        if reference.startswith("#") or reference in _XML_ENTITIES:
            return match[0]
        character = html.entities.html5.get(reference)
        if character is not None:
            html_named += 1
            # As character references: the character may be a quote inside an attribute.
            return "".join(f"&#{ord(c)};" for c in character)
        raw += 1
        return "&amp;" + reference

    fixed = _AMPERSAND.sub(fix, text)
    if raw:
        repairs.append(f"{raw} raw '&' escaped")
    if html_named:
        repairs.append(f"{html_named} HTML entities (such as &nbsp;) replaced by their characters")
    return fixed


_OUTLINE_START = re.compile(r"<outline\b", re.IGNORECASE)
_ATTRIBUTE_START = re.compile(r"""\s+([A-Za-z_:][\w:.-]*)\s*=\s*(["'])""")
# After a value: another attribute, or the end of the tag and then the next tag.
_VALUE_END = re.compile(r"""\s+[A-Za-z_:][\w:.-]*\s*=\s*["']|\s*/?>\s*(?:<|\Z)""")
_TAG_END = re.compile(r"\s*(/?)>")
_NEXT_OUTLINE = re.compile(r"<(?:/?outline\b|/body\b)", re.IGNORECASE)


def _escape_attribute(value: str) -> str:
    return value.replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")


def _fix_quotes(text: str, repairs: list[str]) -> str:
    """Escape raw quotes and "<" inside outline attribute values (HTML in a description).

    A value ends at the first matching quote that is followed by another
    attribute or by the end of the tag. Tags that need no repair, or that
    cannot be read this way, are left exactly as they are.
    """
    pieces: list[str] = []
    done = 0
    fixed = 0
    for match in _OUTLINE_START.finditer(text):
        if match.start() < done:
            continue
        position = match.end()
        attributes: list[tuple[str, str]] = []
        repaired = False
        while attribute := _ATTRIBUTE_START.match(text, position):
            quote = attribute[2]
            following = _NEXT_OUTLINE.search(text, attribute.end())
            limit = following.start() if following else len(text)
            search = attribute.end()
            while True:
                end = text.find(quote, search, limit)
                if end < 0 or _VALUE_END.match(text, end + 1):
                    break
                search = end + 1
                repaired = True
            if end < 0:
                break
            value = text[attribute.end() : end]
            repaired = repaired or "<" in value
            attributes.append((attribute[1], value))
            position = end + 1
        tag_end = _TAG_END.match(text, position)
        if not repaired or tag_end is None:
            continue
        rebuilt = "".join(f' {name}="{_escape_attribute(value)}"' for name, value in attributes)
        pieces += [text[done : match.start()], "<outline", rebuilt, tag_end[1], ">"]
        done = tag_end.end()
        fixed += 1
    if not fixed:
        return text
    repairs.append(f"{fixed} outlines with raw quotes or '<' in an attribute value repaired")
    return "".join([*pieces, text[done:]])


def _parser() -> Any:
    from lxml import etree  # type: ignore[import-untyped]  # see parse_opml

    return etree.XMLParser(
        recover=True,
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_comments=True,
        remove_pis=True,
    )


def _local(name: object) -> str:
    # Comments and processing instructions have a function as their tag.
    if not isinstance(name, str):
        return ""
    return name.rsplit("}", 1)[-1].lower()


def _attributes(element: Any) -> dict[str, str]:
    """Attribute names lower-cased (xmlURL, xmlurl and XMLURL all occur), values stripped."""
    return {_local(name): " ".join(str(value).split()) for name, value in element.attrib.items()}


def _children(element: Any) -> Iterator[Any]:
    for child in element:
        if _local(child.tag) == "outline":
            yield child


def _category_tags(value: str) -> list[str]:
    tags = []
    for path in value.split(","):
        tags += [segment.strip() for segment in path.split("/") if segment.strip()]
    return tags


def feed_key(url: str) -> str:
    """Only for spotting the same feed twice: scheme and host are case-insensitive,
    the default port is implied."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    netloc = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is not None and port != {"http": 80, "https": 443}.get(scheme):
        netloc += f":{port}"
    return parts._replace(scheme=scheme, netloc=netloc).geturl()


def check_feed_url(url: str) -> str | None:
    """None when url is usable as a feed URL (http or https, with a host), else why not."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        return f"bad xmlUrl {url!r}: {exc}"
    if parts.scheme.lower() not in ("http", "https"):
        return f"xmlUrl is not http(s): {url!r}"
    if not parts.hostname:
        return f"xmlUrl has no host: {url!r}"
    if any(c.isspace() for c in url) or any(ord(c) < 32 for c in url):
        return f"xmlUrl contains spaces or control characters: {url!r}"
    return None


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


def parse_opml(data: bytes) -> OpmlDocument:
    """Read an OPML document, leniently. Raises OpmlError when there is no OPML to read."""
    if len(data) > MAX_SIZE:
        raise OpmlError(f"larger than {MAX_SIZE} bytes")
    repairs: list[str] = []
    text = _decode(data, repairs)
    # lxml is handed UTF-8 bytes; the declaration would name the original encoding.
    text = _XML_DECLARATION_TEXT.sub("", text, count=1)
    if _DOCTYPE.search(text):
        # Blank lines in its place keep the line numbers of what follows.
        text = _DOCTYPE.sub(lambda m: "\n" * m[0].count("\n"), text)
        repairs.append("DOCTYPE ignored (its entities are never expanded)")
    text = _fix_ampersands(text, repairs)
    text = _fix_quotes(text, repairs)
    if not text.strip():
        raise OpmlError("empty document")

    # lxml is imported here, not at start: config imports this module for
    # feed_key, and the daemon, which reads OPML only at start, would keep ~2 MB.
    from lxml import etree

    parser = _parser()
    try:
        root = etree.fromstring(text.encode("utf-8"), parser)  # hardened: see _parser
    except etree.XMLSyntaxError as exc:
        raise OpmlError(f"not XML: {exc}") from None
    errors = [e for e in parser.error_log if e.level_name in ("ERROR", "FATAL")]
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        repairs.append(
            f"not well-formed XML, read leniently: line {first.line}: {first.message}{more}"
        )
    if root is None:
        raise OpmlError("no XML document found")
    if _local(root.tag) != "opml":
        raise OpmlError(f"not an OPML document (root element <{_local(root.tag) or '?'}>)")

    title = None
    body = None
    for child in root:
        name = _local(child.tag)
        if name == "head" and title is None:
            for item in child:
                if _local(item.tag) == "title" and item.text and item.text.strip():
                    title = " ".join(item.text.split())
                    break
        elif name == "body" and body is None:
            body = child
    if body is None:
        raise OpmlError("no <body> element")

    feeds: dict[str, OpmlFeed] = {}
    skipped: list[Skipped] = []
    _walk(body, (), 0, feeds, skipped)
    return OpmlDocument(
        title=title, feeds=tuple(feeds.values()), skipped=tuple(skipped), repairs=tuple(repairs)
    )


def _walk(
    parent: Any,
    folders: tuple[str, ...],
    depth: int,
    feeds: dict[str, OpmlFeed],
    skipped: list[Skipped],
) -> None:
    for outline in _children(parent):
        attributes = _attributes(outline)
        label = attributes.get("text") or attributes.get("title") or None
        line = outline.sourceline if isinstance(outline.sourceline, int) else None
        tags = _unique([*folders, *_category_tags(attributes.get("category", ""))])
        url = attributes.get("xmlurl")
        if url is None:
            children = list(_children(outline))
            if not children:
                reason = "no xmlUrl" + (
                    f" (it links to {attributes['url'] or attributes.get('htmlurl')!r}, not a feed)"
                    if attributes.get("url") or attributes.get("htmlurl")
                    else ""
                )
                if label or attributes:
                    skipped.append(Skipped(line, label, reason))
                continue
            if depth >= MAX_DEPTH:
                skipped.append(Skipped(line, label, f"folders nested deeper than {MAX_DEPTH}"))
                continue
            _walk(outline, _unique([*tags, label or ""]), depth + 1, feeds, skipped)
            continue
        if not url:
            skipped.append(Skipped(line, label, "empty xmlUrl"))
            continue
        problem = check_feed_url(url)
        if problem:
            skipped.append(Skipped(line, label, problem))
            continue
        key = feed_key(url)
        known = feeds.get(key)
        # Exporters (render_opml too) put the URL as the text of a feed without a name.
        title = None if label == url else label
        if known is None:
            feeds[key] = OpmlFeed(url=url, title=title, tags=tags)
        else:
            feeds[key] = OpmlFeed(
                url=known.url, title=known.title or title, tags=_unique([*known.tags, *tags])
            )
        if depth < MAX_DEPTH and any(True for _ in _children(outline)):
            # A feed with outlines inside: the feed is kept, and so are they.
            _walk(outline, _unique([*tags, label or ""]), depth + 1, feeds, skipped)


# -- writing


def render_opml(feeds: Iterable[OpmlFeed], *, title: str = "feedd subscriptions") -> bytes:
    """An OPML 2.0 document: each feed nested in one folder per tag, in order."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    body = ET.SubElement(root, "body")
    folders: dict[tuple[str, ...], ET.Element] = {(): body}
    for feed in feeds:
        path: tuple[str, ...] = ()
        for tag in feed.tags:
            parent = folders[path]
            path = (*path, tag)
            if path not in folders:
                folders[path] = ET.SubElement(parent, "outline", text=tag, title=tag)
        name = feed.title or feed.url
        ET.SubElement(folders[path], "outline", type="rss", text=name, title=name, xmlUrl=feed.url)
    ET.indent(root, space="  ")
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + document + b"\n"
