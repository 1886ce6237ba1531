"""Formatting query results: a table sized to the terminal, JSON lines, CSV, and
re-published feeds (RSS 2.0, Atom, JSON Feed 1.1). Pure: rows in, text out."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from .store.reading import MARK_END, MARK_START
from .types import format_timestamp, parse_timestamp

Row = Mapping[str, Any]


def plain(value: object) -> str:
    """One cell as text: None empty, lists joined, one line."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(plain(item) for item in value)
    if isinstance(value, float):
        return f"{value:g}"
    return " ".join(str(value).split())


def short_time(value: object) -> str:
    """2025-06-03T07:39:21Z -> 2025-06-03 07:39, for tables."""
    text = plain(value)
    if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", text):
        return f"{text[:10]} {text[11:16]}"
    return text


def highlight(text: str, start: str, end: str) -> str:
    """Replace the snippet markers (store.reading.MARK_START/END)."""
    return text.replace(MARK_START, start).replace(MARK_END, end)


def _visible(text: str) -> int:
    """The width of a cell on screen: the snippet markers take no room."""
    return len(text) - text.count(MARK_START) - text.count(MARK_END)


def _clip(text: str, width: int) -> str:
    """Cut to ``width`` visible characters (with …), closing an open highlight."""
    if _visible(text) <= width:
        return text
    keep = max(width - 1, 0)
    out: list[str] = []
    seen = 0
    for char in text:
        if char in (MARK_START, MARK_END):
            out.append(char)
            continue
        if seen == keep:
            break
        out.append(char)
        seen += 1
    clipped = "".join(out)
    if clipped.rfind(MARK_START) > clipped.rfind(MARK_END):
        clipped += MARK_END
    return clipped + ("…" if width >= 1 else "")


def table(
    rows: Sequence[Row],
    columns: Sequence[str],
    width: int,
    *,
    shrink: Sequence[str] = ("title", "snippet", "url", "feeds", "last_error", "summary"),
    cell: Callable[[str, object], str] | None = None,
    marks: tuple[str, str] = ("[", "]"),
) -> list[str]:
    """Lines of a table no wider than ``width``: a header, then one line per row.
    Columns in ``shrink`` are cut (with …) to fit, widest first. Snippet
    markers in cells become ``marks`` (e.g. bold on and off) after the layout."""
    render = cell or (lambda _column, value: plain(value))
    cells = [[render(column, row.get(column)) for column in columns] for row in rows]
    widths = [
        max([len(column), *(_visible(line[index]) for line in cells)])
        for index, column in enumerate(columns)
    ]
    gap = 2
    excess = sum(widths) + gap * (len(columns) - 1) - width
    shrinkable = [index for index, column in enumerate(columns) if column in shrink]
    while excess > 0 and shrinkable:
        widest = max(shrinkable, key=lambda index: widths[index])
        floor = max(len(columns[widest]), 8)
        if widths[widest] <= floor:
            shrinkable.remove(widest)
            continue
        others = [widths[index] for index in shrinkable if index != widest]
        target = max(floor, widths[widest] - excess, max(others, default=0))
        if target == widths[widest]:
            target -= 1
        excess -= widths[widest] - target
        widths[widest] = target
    lines = []
    for line in [list(columns), *cells]:
        parts = []
        for index, text in enumerate(line):
            clipped = _clip(text, widths[index])
            padding = " " * (widths[index] - _visible(clipped))
            parts.append(highlight(clipped, *marks) + padding)
        lines.append((" " * gap).join(parts).rstrip())
    return lines


def json_lines(rows: Iterable[Row]) -> Iterator[str]:
    for row in rows:
        yield json.dumps(dict(row), ensure_ascii=False)


def csv_text(rows: Iterable[Row], columns: Sequence[str]) -> str:
    """CSV with a header; lists are written as JSON arrays."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(
            [
                json.dumps(value, ensure_ascii=False)
                if isinstance(value, list | tuple | dict)
                else ("" if value is None else value)
                for value in (row.get(column) for column in columns)
            ]
        )
    return buffer.getvalue()


# -- feeds

_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_ATOM = "http://www.w3.org/2005/Atom"
_CONTENT = "http://purl.org/rss/1.0/modules/content/"
_DC = "http://purl.org/dc/elements/1.1/"


def _xml_text(value: object) -> str:
    """Text XML can carry: ElementTree escapes &, < and >; control characters go."""
    return _XML_INVALID.sub("", "" if value is None else str(value))


def _parse_ts(value: object) -> datetime | None:
    """A stored timestamp; None when empty or not in the schema's format."""
    if not isinstance(value, str):
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        return None


def _item_date(row: Row) -> datetime | None:
    return _parse_ts(row.get("published_at")) or _parse_ts(row.get("first_seen_at"))


def _guid(row: Row) -> str:
    return f"urn:feedd:article:{row['id']}"


def _sub(parent: ET.Element, tag: str, text: object = None, **attrib: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrib)
    if text is not None:
        element.text = _xml_text(text)
    return element


def _serialize(root: ET.Element) -> str:
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def rss(rows: Sequence[Row], title: str, link: str, now: datetime) -> str:
    """RSS 2.0 with content:encoded and dc:creator."""
    ET.register_namespace("content", _CONTENT)
    ET.register_namespace("dc", _DC)
    ET.register_namespace("atom", _ATOM)
    root = ET.Element("rss", {"version": "2.0"})
    channel = _sub(root, "channel")
    _sub(channel, "title", title)
    _sub(channel, "link", link)
    _sub(channel, "description", f"{title}: articles stored by feedd")
    _sub(channel, "lastBuildDate", format_datetime(now.astimezone(UTC), usegmt=True))
    _sub(channel, "generator", "feedd")
    for row in rows:
        item = _sub(channel, "item")
        _sub(item, "title", row.get("title") or "")
        if row.get("url"):
            _sub(item, "link", row["url"])
        _sub(item, "guid", _guid(row), isPermaLink="false")
        when = _item_date(row)
        if when is not None:
            _sub(item, "pubDate", format_datetime(when, usegmt=True))
        if row.get("summary"):
            _sub(item, "description", row["summary"])
        if row.get("content_html"):
            _sub(item, f"{{{_CONTENT}}}encoded", row["content_html"])
        if row.get("author"):
            _sub(item, f"{{{_DC}}}creator", row["author"])
        for tag in row.get("tags") or ():
            _sub(item, "category", tag)
    return _serialize(root)


def atom(rows: Sequence[Row], title: str, link: str, now: datetime) -> str:
    """Atom 1.0 (RFC 4287)."""
    ET.register_namespace("", _ATOM)

    def sub(parent: ET.Element, tag: str, text: object = None, **attrib: str) -> ET.Element:
        return _sub(parent, f"{{{_ATOM}}}{tag}", text, **attrib)

    root = ET.Element(f"{{{_ATOM}}}feed")
    sub(root, "id", "urn:feedd:export")
    sub(root, "title", title)
    sub(root, "link", href=link)
    dates = [when for when in map(_item_date, rows) if when is not None]
    updated = max(dates, default=now)
    sub(root, "updated", format_timestamp(updated))
    sub(root, "generator", "feedd")
    for row in rows:
        entry = sub(root, "entry")
        sub(entry, "id", _guid(row))
        sub(entry, "title", row.get("title") or "", type="text")
        if row.get("url"):
            sub(entry, "link", href=str(row["url"]), rel="alternate")
        when = _item_date(row) or now
        changed = _parse_ts(row.get("updated_at")) or when
        sub(entry, "updated", format_timestamp(changed))
        if row.get("published_at"):
            sub(entry, "published", format_timestamp(when))
        if row.get("author"):
            sub(sub(entry, "author"), "name", row["author"])
        if row.get("summary"):
            sub(entry, "summary", row["summary"], type="text")
        if row.get("content_html"):
            sub(entry, "content", row["content_html"], type="html")
        elif row.get("content_text"):
            sub(entry, "content", row["content_text"], type="text")
        for tag in row.get("tags") or ():
            sub(entry, "category", term=_xml_text(tag))
    return _serialize(root)


def json_feed(rows: Sequence[Row], title: str, link: str) -> str:
    """JSON Feed 1.1 (https://jsonfeed.org/version/1.1)."""
    items = []
    for row in rows:
        item: dict[str, Any] = {"id": _guid(row)}
        for key, field in (("url", "url"), ("title", "title"), ("summary", "summary")):
            if row.get(field):
                item[key] = row[field]
        item["content_text"] = row.get("content_text") or ""
        if row.get("content_html"):
            item["content_html"] = row["content_html"]
        when = _item_date(row)
        if when is not None:
            item["date_published"] = format_timestamp(when)
        if row.get("updated_at"):
            item["date_modified"] = row["updated_at"]
        if row.get("author"):
            item["authors"] = [{"name": row["author"]}]
        if row.get("tags"):
            item["tags"] = list(row["tags"])
        if row.get("language"):
            item["language"] = row["language"]
        items.append(item)
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": title,
        "home_page_url": link,
        "items": items,
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


# -- revision history


def _words(text: str | None) -> list[str]:
    """Words, with a "\\n" token between paragraphs (content_text: one per line)."""
    tokens: list[str] = []
    for line in (text or "").splitlines():
        words = line.split()
        if not words:
            continue
        if tokens:
            tokens.append("\n")
        tokens.extend(words)
    return tokens


def _join(tokens: Sequence[str]) -> str:
    return " ".join(tokens).replace(" \n ", "\n").replace("\n ", "\n").replace(" \n", "\n")


def _marked(tokens: Sequence[str], start: str, end: str) -> str:
    """A changed run of words, marked paragraph by paragraph (a mark never spans a line)."""
    runs: list[list[str]] = [[]]
    for word in tokens:
        if word == "\n":
            runs.append([])
        else:
            runs[-1].append(word)
    return "\n".join(f"{start}{' '.join(run)}{end}" if run else "" for run in runs)


def word_diff(
    old: str | None,
    new: str | None,
    removed: tuple[str, str] = ("[-", "-]"),
    added: tuple[str, str] = ("{+", "+}"),
) -> str:
    """``old`` rewritten into ``new`` word by word (wdiff style): unchanged words as
    they are, removed ones between ``removed`` marks, added ones between ``added``;
    paragraphs stay on their own lines."""
    from difflib import SequenceMatcher

    before, after = _words(old), _words(new)
    parts: list[str] = []
    matcher = SequenceMatcher(None, before, after, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            parts.append(_join(before[i1:i2]))
            continue
        if i2 > i1:
            parts.append(_marked(before[i1:i2], *removed))
        if j2 > j1:
            parts.append(_marked(after[j1:j2], *added))
    text = ""
    for part in parts:
        if not part:
            continue
        if text and not text.endswith("\n") and not part.startswith("\n"):
            text += " "
        text += part
    return text
