"""Tell, without feedparser, that a changed body changed nothing feedd reads.

Many feeds change on every poll without a new item: a new ``lastBuildDate``, a
comment with the time it was built, an element re-serialized. ``scan`` reads a
well-formed RSS 2.0/0.9x, Atom or RSS 1.0 (RDF) document with lxml (about a
twentieth of feedparser's time) and returns a fingerprint of everything in it
that feedparser, as parse.py calls it, could turn into a field feedd uses, and
one hash per item. Two bodies with the same fingerprint give the same
``ParsedFeed`` (so digest.py reuses the last one instead of parsing again);
anything else is for feedparser, as before.

What the fingerprint covers, and why what it leaves out cannot matter:

- Each item as an XML tree (tag, prefix, namespaces in scope, attributes in
  their order, text), with the document's context. Left out is what feedparser's
  SAX reader (expat) never sees either: quoting and spacing inside tags, ``<a/>``
  against ``<a></a>``, CDATA against escaped text, character references,
  comments and processing instructions.
- Every other element of the channel (of the feed, for Atom and RDF), in
  document order among the items, but for a date (``lastBuildDate``,
  ``pubDate``, ``updated``, ``dc:date``) or an element feedparser has no
  handler for (a rotating ``<ad>``), when it is a leaf without attributes or
  namespace declarations before the first item: feedparser stores those in
  the feed's own dictionary under keys parse.py never reads, and they change
  no state another element depends on.
- The document context: the bytes before the root element (XML declaration,
  DOCTYPE: how feedparser picks the encoding and the RSS version), the root's
  and the channel's tags, attributes (version, ``xml:base``, ``xml:lang``) and
  namespaces, whether the body is ASCII and names ``xml:base`` (both change how
  parse.py runs feedparser), and the caller's context (the document's address,
  the Content-Type, feedd's code).

Anything else gives None, and the body is parsed as always: not well-formed,
not UTF-8 (feedparser's choice of encoding would then depend on every byte), a
DTD with an internal subset (parse.py rewrites its entities), an item or entry
anywhere but where the format puts it (feedparser would read it as one), a
namespace bound to two prefixes (feedparser names elements by the first).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from lxml import etree  # type: ignore[import-untyped]

from . import parse

_ATOM = "http://www.w3.org/2005/Atom"
_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_RSS10 = "http://purl.org/rss/1.0/"
_RSS090 = "http://my.netscape.com/rdf/simple/0.9/"
_DC = "http://purl.org/dc/elements/1.1/"
_RDF_CHANNELS = frozenset({f"{{{_RSS10}}}channel", f"{{{_RSS090}}}channel"})

# Dates of the document itself. feedparser's handlers for them (_start_updated,
# _start_published) only store the value and its parsed date in the feed's
# dictionary ("updated", "published"), which parse.py never reads.
_DOCUMENT_DATES = frozenset(
    {
        "lastBuildDate",
        "pubDate",
        f"{{{_ATOM}}}updated",
        f"{{{_DC}}}date",
    }
)

# Every name (lower-cased local part) that some feedparser handler or parse.py
# reads: an element named so is never left out, whatever its namespace, since
# feedparser names an element of an unknown namespace by the document's prefix
# ("dc" bound to another URI is still read as Dublin Core).
_READ_NAMES = frozenset({"title", "link", "language", "ttl", "updateperiod", "updatefrequency"})


# Names some feedparser handler reads: an element named so is never left out.
_HANDLED = parse.handled_names()

# lxml's hardened reader: no entity expanded, nothing loaded from the network
# or the disk, the default size limits (huge_tree off). Comments and processing
# instructions are dropped: feedparser's SAX handler receives neither.
_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
    collect_ids=False,
)
# feedparser's own split of the prolog from the document (feedparser.encodings).
_FIRST_ELEMENT = re.compile(rb"<\w")
# A comment in the prolog (a generator's "<!-- cached at 12:04 -->") that holds no
# markup: feedparser reads the prolog only for its XML declaration (anchored at
# the start), DOCTYPE and ENTITY declarations, which such a comment cannot fake.
_PLAIN_COMMENT = re.compile(rb"<!--[^<>]*-->")
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([^\"';\s]+)", re.IGNORECASE)
_ITEMS = etree.XPath(
    "count(//*[translate(local-name(), 'ITEMNRY', 'itemnry') = 'item'"
    " or translate(local-name(), 'ITEMNRY', 'itemnry') = 'entry'])"
)


@dataclass(frozen=True, slots=True)
class Scan:
    """A document as feedparser would read it, hashed."""

    fingerprint: str  # the whole document, but for what feedparser's result cannot show
    items: tuple[str, ...]  # each item with its context, in document order


def scan(body: bytes, content_type: str | None, context: str) -> Scan | None:
    """The fingerprint of a well-formed RSS/Atom/RDF body; None for any other body.

    ``context`` is whatever else the caller's reading depends on (the document's
    address, feedd's code); the Content-Type is hashed here.
    """
    head = body[:64].lstrip(b" \t\r\n")
    if not head.startswith((b"<", b"\xef\xbb\xbf<")):
        return None  # JSON Feed, UTF-16/32, not XML
    charset = _CHARSET.search(content_type or "")
    if charset is not None and charset[1].lower() not in ("utf-8", "utf8"):
        return None
    try:
        root = etree.fromstring(body, _PARSER)
    except (etree.XMLSyntaxError, ValueError):
        return None
    info = root.getroottree().docinfo
    if (info.encoding or "").lower() not in ("utf-8", "utf8") or info.internalDTD is not None:
        return None
    shape = _shape(root)
    if shape is None:
        return None
    channel, is_item = shape
    first = _FIRST_ELEMENT.search(body)
    document = _hasher()
    for part in (
        context.encode(),
        (content_type or "").encode(),
        _PLAIN_COMMENT.sub(b"", body[: first.start() if first else 0]),
        b"ascii" if body.isascii() else b"utf-8",
        b"xml:base" if b"xml:base" in body else b"",
    ):
        document.update(len(part).to_bytes(8, "big") + part)
    for element in (root, channel) if channel is not root else (root,):
        namespaces = element.nsmap
        if len(set(namespaces.values())) < len(namespaces):
            return None
        shell = (element.tag, element.prefix, sorted(namespaces.items(), key=str))
        document.update(repr((shell, list(element.attrib.items()))).encode())
    whole = document.copy()
    items = []
    seen_item = False
    for node in _channel_level(channel):
        if isinstance(node, str):
            whole.update(node.encode())
            continue
        if is_item(node):
            seen_item = True
            item = document.copy()
            item.update(etree.tostring(node, with_tail=False))
            items.append(item.hexdigest())
            whole.update(b"\0item " + item.digest())
        elif not seen_item and _left_out(node):
            continue
        else:
            part = etree.tostring(node, with_tail=False)
            whole.update(b"\0node " + len(part).to_bytes(8, "big") + part)
        if node.tail and node.tail.strip():
            # Stray text between elements: feedparser drops it, but it is rare
            # enough not to be worth the reasoning.
            whole.update(b"\0text " + node.tail.encode())
    if channel.text and channel.text.strip():
        whole.update(b"\0head " + channel.text.encode())
    if int(_ITEMS(root)) != len(items):
        return None  # an item or entry where the format puts none
    return Scan(whole.hexdigest(), tuple(items))


def _channel_level(channel: etree._Element) -> Iterator[etree._Element | str]:
    """The channel's elements in document order. In RSS 1.0 the feed's own fields
    are inside its ``channel`` element and the items follow it: feedparser reads
    them as RSS 2.0's, so they are taken as at the channel's level, between the
    channel element's start and its end (the marks yielded)."""
    for node in channel:
        if node.tag in _RDF_CHANNELS and not node.attrib.get(f"{{{_RDF}}}parseType"):
            namespaces = sorted(node.nsmap.items(), key=str)
            yield f"\0start {node.tag} {node.prefix} {list(node.attrib.items())!r} {namespaces!r}"
            yield from node
            yield f"\0end {(node.text or '').strip()!r} {(node.tail or '').strip()!r}"
        else:
            yield node


def _hasher() -> hashlib.blake2b:
    return hashlib.blake2b(digest_size=16, person=b"feedd-prescan")


def _shape(
    root: etree._Element,
) -> tuple[etree._Element, Callable[[etree._Element], bool]] | None:
    """(the element whose children are the items, which of them are items)."""
    tag = root.tag
    if tag == "rss":
        children = list(root)
        if len(children) != 1 or children[0].tag != "channel" or (root.text or "").strip():
            return None
        return children[0], _is_rss_item
    if tag == f"{{{_ATOM}}}feed":
        return root, _is_atom_entry
    if tag == f"{{{_RDF}}}RDF":
        return root, _is_rdf_item
    return None


def _is_rss_item(node: etree._Element) -> bool:
    return node.tag == "item"  # type: ignore[no-any-return]


def _is_atom_entry(node: etree._Element) -> bool:
    return node.tag == f"{{{_ATOM}}}entry"  # type: ignore[no-any-return]


def _is_rdf_item(node: etree._Element) -> bool:
    return node.tag in (f"{{{_RSS10}}}item", f"{{{_RSS090}}}item")


def _left_out(node: etree._Element) -> bool:
    """A channel element feedparser's result cannot show (see the module's doc)."""
    if len(node) or node.attrib or node.nsmap != node.getparent().nsmap:
        return False
    tag = node.tag
    if tag in _DOCUMENT_DATES:
        return True
    local = etree.QName(tag).localname.lower()
    return local not in _READ_NAMES and local not in _HANDLED
