"""Cut a document down to its newest items before anything reads it whole.

feedd keeps at most ``[fetch] max_items`` items of a document, the newest
(parse.newest). Left to feedparser and the pre-scan, a document of 100,000
tiny items (10 MB, under the body limit) would be read whole first: a tree of
half a million elements, then a dictionary per item (~200 MB), only for all
but the newest to be dropped. ``cut`` bounds that work by the limit instead
of by the body's size.

A body's items are first counted with a byte pattern that finds every item's
start tag (and maybe more: text that looks like one), so a body it counts
within the limit, which is every real feed, is returned as it is. Over the
limit, expat reads the body once, keeping only each item's byte range and its
date, and the body is rebuilt from the prolog and the channel up to the first
item, the newest ``limit`` items in document order, and everything after the
last item. What sits between two items (a stray channel element) goes with
them. The newest are picked as parse.newest picks them: by published date,
else updated date, undated items after dated ones, document order breaking ties.

A body expat cannot read (not well-formed, which feedparser's lenient pass
reads whole; an encoding expat does not know; a DTD with an internal subset,
whose entities parse.py rewrites first) is returned as it is:
``[fetch] worker_memory`` bounds what reading it costs.
"""

from __future__ import annotations

import heapq
import re
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from xml.parsers import expat

# An item's start tag: <item>, <entry>, <rdf:item ...>, in any case (feedparser
# lower-cases names). Every item has one; CDATA or a comment may hold more.
_ITEM_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s/>]", re.IGNORECASE)
_ITEMS = frozenset({"item", "entry"})
# An item's own dates, by the name feedparser gives them (its handlers map
# pubDate, issued and dcterms:issued to "published"; dc:date, modified and
# dcterms:modified to "updated").
_PUBLISHED = frozenset({"pubdate", "published", "issued"})
_UPDATED = frozenset({"updated", "modified", "date"})
_OLDEST = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Cut:
    body: bytes
    dropped: int  # items left out
    empty: int = 0  # items with no element in them, left out (parse.is_empty)


class _Unreadable(Exception):
    pass


def cut(body: bytes, limit: int, parse_date: Callable[[str], datetime | None]) -> Cut:
    """``body`` with its newest ``limit`` items only (``Cut.dropped`` > 0), or as it
    is when it has no more, or when expat cannot read it."""
    if limit <= 0 or b"<" not in body[:1024] or _count_at_most(body, limit):
        return Cut(body, 0)
    try:
        starts, ends, dates = _items(body)
    except (_Unreadable, expat.ExpatError, ValueError, LookupError):
        return Cut(body, 0)
    if len(starts) <= limit:
        return Cut(body, 0)
    moments = {i: _moment(date, parse_date) for i, date in enumerate(dates) if date is not None}
    shown = list(moments)
    kept = sorted(heapq.nlargest(limit, shown, key=lambda i: (moments[i], -i)))
    parts = [body[: starts[0]]]
    parts.extend(body[starts[i] : ends[i]] for i in kept)
    parts.append(body[ends[-1] :])
    return Cut(b"".join(parts), len(shown) - len(kept), len(starts) - len(shown))


def _count_at_most(body: bytes, limit: int) -> bool:
    # No (limit + 1)th start tag.
    return next(islice(_ITEM_TAG.finditer(body), limit, None), None) is None


def _moment(
    dates: tuple[str | None, str | None], parse_date: Callable[[str], datetime | None]
) -> datetime:
    for text in dates:  # published, else updated
        if text:
            moment = parse_date(text.strip())
            if moment is not None:
                return moment
    return _OLDEST


def _items(
    body: bytes,
) -> tuple[array[int], array[int], list[tuple[str | None, str | None] | None]]:
    """Each top-level item's byte range (from its start tag to the next tag after
    it ends) and its (published, updated) text, in document order; None for an
    item that holds no element (parse.is_empty leaves it out: it is never kept,
    so that a body of empty items costs nothing either)."""
    parser = expat.ParserCreate()  # no namespace processing: names as written
    # As if the document had an external DTD that is never read: an HTML entity
    # (&nbsp;) is skipped instead of ending the read; nothing is loaded.
    parser.UseForeignDTD(True)
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.buffer_text = True
    starts: array[int] = array("q")
    ends: array[int] = array("q")
    dates: list[tuple[str | None, str | None] | None] = []
    depth = 0
    item_depth = 0  # depth of the item being read; 0: outside any item
    ended = False  # an item just ended: the next tag is where its range stops
    date_kind = ""
    has_child = False
    text: list[str] = []
    published: str | None = None
    updated: str | None = None

    def doctype(name: str, system: str | None, public: str | None, internal: int) -> None:
        if internal:
            raise _Unreadable("internal subset")

    def collect(data: str) -> None:
        text.append(data)

    def start(name: str, attributes: dict[str, str]) -> None:
        nonlocal depth, item_depth, ended, date_kind, published, updated, has_child
        depth += 1
        if ended:
            ends.append(parser.CurrentByteIndex)
            ended = False
        local = name.rpartition(":")[2].lower()
        if not item_depth:
            if local in _ITEMS:
                item_depth = depth
                starts.append(parser.CurrentByteIndex)
                published = updated = None
                has_child = False
        elif depth == item_depth + 1:
            has_child = True
            if local in _PUBLISHED or local in _UPDATED:
                date_kind = local
                text.clear()
                parser.CharacterDataHandler = collect

    def end(name: str) -> None:
        nonlocal depth, item_depth, ended, date_kind, published, updated
        if ended:
            ends.append(parser.CurrentByteIndex)
            ended = False
        if date_kind and depth == item_depth + 1:
            parser.CharacterDataHandler = None
            value = "".join(text)
            if date_kind in _PUBLISHED:
                published = published or value
            else:
                updated = updated or value
            date_kind = ""
        elif item_depth and depth == item_depth:
            item_depth = 0
            ended = True
            dates.append((published, updated) if has_child else None)
        depth -= 1

    parser.StartDoctypeDeclHandler = doctype
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.Parse(body, True)
    if len(ends) != len(starts):
        raise _Unreadable("an item is the root")
    return starts, ends, dates
