"""How fast parsing could be, and whether a faster parser gives feedd the same articles.

    /work/venv/bin/python bench/parser_floor.py [--corpus PATH] [--repeat N] [--json FILE]

Issue 8 (performance). Every realworld feed of the shared corpus
(realworld/INDEX.tsv, 261 documents; gzip files inflated, as fetch does for
Content-Encoding) is read into memory first; then each parser makes
``--repeat`` passes (default 3) over the same bytes, the parsers taking turns
within a round. Reported per parser: median seconds per pass, entries it
found, entries/s, and the files on which it raised (failures):

- ``feedparser (defaults)``: ``feedparser.parse``, sanitizer on;
- ``feedparser (no sanitize/resolve)``: ``sanitize_html=False,
  resolve_relative_uris=False``;
- ``feedd parse_feed``: ``feedd.parse.parse_feed`` as it is (prolog cleanup,
  feedparser with sanitize off and resolve on, RawEntry conversion): what
  feedd pays today; ``..., no resolve_relative_uris``: the same with that one
  feedparser option off;
- ``fastfeedparser``: ``fastfeedparser.parse(bytes)``;
- ``feedparser_rs``: ``feedparser_rs.parse(bytes)`` with its defaults
  (sanitizer on) and with ``sanitize_html=False`` (feedd's choice);
- ``... -> ParsedFeed``: a fast path as feedd could have it: the same prolog
  cleanup, the fast parser, conversion to ParsedFeed/RawEntry in feedd's
  contract (JSON Feed stays with feedd's own mapper);
- ``check: lxml well-formed``: a strict XML parse, one candidate fallback check.

Parity: each candidate (the two fast paths, and parse_feed with
resolve_relative_uris off) against parse_feed, feed by feed, on the XML
documents, at two levels:

- raw (ParsedFeed): entry count; id (stripped); title (entities decoded, tags
  removed, whitespace collapsed); link (raw, and made absolute against the
  document URL as the pipeline does); published and updated (UTC, whole
  seconds); presence of summary and of content; the feed's title, site link,
  language and ttl;
- stored: both through links + normalize as the pipeline does (item_links,
  normalize_entry, learned boilerplate): guid, link, title, dates, summary,
  text, HTML, author, tags, enclosures, content_hash. A different guid stores
  a duplicate; a different content_hash makes one UPDATE per item when the
  parser changes. HTML that differs only in serialization (attribute order,
  quoting) is counted apart.

Differences are counted by kind (feeds / entries) with the first examples.
Candidate fallback checks (lxml strict parse fails, feedparser_rs's bozo
flag, entry count unlike a byte count of <item>/<entry> tags, no entries, the
document uses xml:base) are scored against the feeds whose stored entries
differ beyond serialization: caught, missed, and equal feeds sent back.

fastfeedparser and feedparser-rs are not feedd dependencies:
``pip install fastfeedparser feedparser-rs`` (a missing one is skipped).
Without the corpus (a clone without ../shared) the script says so and exits
0. ``--repeat 1`` for a quick look; ``--no-stored`` skips the normalize level
(the slow part); ``--no-timing`` runs parity only.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import gc
import gzip
import html
import io
import json
import os
import re
import statistics
import sys
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import feedparser

# The corpus and the Content-Types a typical server would send, as corpus_run.py.
from corpus_run import CONTENT_TYPES, DEFAULT_CORPUS
from feedparser.mixin import _FeedParserMixin

from feedd import links, normalize
from feedd.errors import ParseError
from feedd.parse import (
    PLAIN_TYPES,
    _capped,
    _join,
    _struct_to_datetime,
    entry_tags,
    feed_ttl,
    parse_feed,
    parse_json_feed,
    plain_to_html,
    strip_internal_subset,
)
from feedd.types import ParsedFeed, RawEntry

try:
    import fastfeedparser
    from fastfeedparser import main as _ffp_main
except ImportError:  # optional: not a feedd dependency
    fastfeedparser = None
    _ffp_main = None
try:
    import feedparser_rs
except ImportError:
    feedparser_rs = None
try:
    from lxml import etree
except ImportError:
    etree = None

EXAMPLES = 5  # examples kept per difference kind
SHOWN = 100  # characters of a value shown in an example


@dataclasses.dataclass(frozen=True)
class Document:
    path: str  # as listed in INDEX.tsv
    format: str
    url: str  # a made-up address: the base for relative links
    content_type: str | None
    body: bytes

    @property
    def is_json(self) -> bool:
        # parse_feed's own test: such bodies never reach feedparser.
        head = self.body[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")
        return head.startswith(b"{")


def load_corpus(corpus: Path) -> list[Document]:
    docs = []
    with (corpus / "realworld" / "INDEX.tsv").open(newline="", encoding="utf-8") as file:
        for row in csv.DictReader(file, delimiter="\t"):
            # realworld/curated/... are pointer files; stored_at is the real one.
            body = (corpus / row["stored_at"]).read_bytes()
            if body[:2] == b"\x1f\x8b":
                body = gzip.decompress(body)  # fetch decodes Content-Encoding before parse
            kind = next((v for p, v in CONTENT_TYPES if row["format"].startswith(p)), None)
            url = f"https://corpus.invalid/{row['path']}"
            docs.append(Document(row["path"], row["format"], url, kind, body))
    return docs


# -- conversions of the fast parsers' output into feedd's ParsedFeed


def _looks_like_html(value: str) -> bool:
    # feedparser's own guess for nominally plain RSS text: the same guess keeps
    # the converted titles in feedd's contract (HTML fragment, plain escaped).
    return bool(_FeedParserMixin.looks_like_html(value))


def _html_or_plain(value: str | None, kind: str | None) -> str | None:
    if not value:
        return None
    if kind is None:  # no type given: guess as feedparser does for RSS
        return value if _looks_like_html(value) else plain_to_html(value)
    if kind in PLAIN_TYPES:
        return plain_to_html(value)
    return value


def _iso_datetime(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


_FFP_TYPES = {"html": "text/html", "xhtml": "application/xhtml+xml", "text": "text/plain"}
_HTML_TYPES = ("text/html", "application/xhtml+xml")


def _first_content(items: Iterable[tuple[str | None, str | None]]) -> str | None:
    """feedd's choice among content blocks: an HTML one first, plain text escaped."""
    for kind, value in sorted(items, key=lambda item: item[0] not in _HTML_TYPES):
        if value:
            return plain_to_html(value) if kind in PLAIN_TYPES else value
    return None


def _copied_summary(blocks: list[tuple[str | None, str | None]]) -> str | None:
    """feedparser's summary for an item that has none: its first HTML or plain
    content block, copied (feedparser's _end_content); kept raw, as feedparser does."""
    for kind, value in blocks:
        if value and (kind in PLAIN_TYPES or kind in _HTML_TYPES):
            return plain_to_html(value) if kind in PLAIN_TYPES else value
    return None


def _ffp_synthesized(entry: dict[str, Any]) -> bool:
    """Whether fastfeedparser made the description up from the content.

    It does so when an item has content but no description; feedd would then
    have no summary, so the converter drops it. Redone with its own function
    (private API) on a copy without the description.
    """
    if not entry.get("content") or _ffp_main is None:
        return False
    probe = _ffp_main.FastFeedParserDict(entry)
    del probe["description"]
    _ffp_main._synthesize_entry_description(probe)
    return probe.get("description") == entry.get("description")


def ffp_entry(entry: dict[str, Any]) -> RawEntry:
    blocks = [
        (_FFP_TYPES.get(c.get("type"), c.get("type")), c.get("value"))
        for c in entry.get("content") or []
    ]
    summary = entry.get("description") or None
    if summary and _ffp_synthesized(entry):
        summary = None
    if summary and blocks and (blocks[0][1] or "").strip() == summary.strip():
        blocks = []  # an RSS item without content:encoded: its description, copied
    content = _first_content(blocks)
    summary = summary or _copied_summary(blocks)
    extra: list[tuple[str, Any]] = []
    enclosures = tuple(
        (e.get("url") or e.get("href"), e.get("type"), e.get("length"))
        for e in entry.get("enclosures") or []
        if e.get("url") or e.get("href")
    )
    if enclosures:
        extra.append(("enclosures", enclosures))
    return RawEntry(
        id=entry.get("id") or None,
        link=entry.get("link") or None,
        title=_html_or_plain(entry.get("title"), None),
        summary=summary,  # RSS description: HTML, as feedparser takes it
        content=content,
        author=entry.get("author") or None,
        published=_iso_datetime(entry.get("published")),
        updated=_iso_datetime(entry.get("updated")),
        published_raw=entry.get("published") or None,
        updated_raw=entry.get("updated") or None,
        tags=entry_tags(entry),
        extra=tuple(extra),
    )


def ffp_parsed(body: bytes) -> ParsedFeed:
    result = fastfeedparser.parse(strip_internal_subset(body))
    feed = result["feed"]
    return ParsedFeed(
        version="fastfeedparser",  # it does not say; not compared
        title=(feed.get("title") or "").strip() or None,
        site_url=feed.get("link") or None,
        language=feed.get("language") or None,
        entries=tuple(ffp_entry(e) for e in result["entries"]),
        ttl=feed_ttl(feed),
    )


def rs_entry(entry: Any, *, atom: bool) -> RawEntry:
    detail = entry.get("title_detail")
    title = entry.get("title")
    kind = detail.type if detail is not None else None
    if kind == "text/html" and title and not _looks_like_html(title):
        # feedparser_rs calls every RSS title HTML; feedparser calls it plain
        # unless it looks like HTML, so "a <b> c" stays text in feedd.
        kind = None
    summary_detail = entry.get("summary_detail")
    extra: list[tuple[str, Any]] = []
    enclosures = tuple(
        (e.href, e.type, str(e.length) if e.length is not None else None)
        for e in entry.get("enclosures") or []
        if e.href
    )
    if enclosures:
        extra.append(("enclosures", enclosures))
    blocks = [(c.type, c.value) for c in entry.get("content") or []]
    summary = _html_or_plain(
        entry.get("summary"), summary_detail.type if summary_detail else "text/html"
    )
    updated, updated_raw = entry.get("updated_parsed"), entry.get("updated") or None
    if not atom and updated_raw == entry.get("published"):
        # feedparser_rs repeats an RSS item's pubDate as its updated date, the
        # fallback feedd avoids with feedparser (dict.get in parse._raw_entry).
        updated, updated_raw = None, None
    return RawEntry(
        id=entry.get("id") or None,
        link=entry.get("link") or None,
        title=_html_or_plain(title, kind),
        summary=summary or _copied_summary(blocks),
        content=_first_content(blocks),
        author=entry.get("author") or None,
        published=_struct_to_datetime(entry.get("published_parsed")),
        updated=_struct_to_datetime(updated),
        published_raw=entry.get("published") or None,
        updated_raw=updated_raw,
        tags=entry_tags(entry),
        extra=tuple(extra),
    )


def rs_ttl(feed: Any) -> float | None:
    sy = feed.get("syndication")
    return feed_ttl(
        {
            "ttl": feed.get("ttl"),
            "sy_updateperiod": sy.update_period if sy is not None else None,
            "sy_updatefrequency": sy.update_frequency if sy is not None else None,
        }
    )


def rs_parse(body: bytes) -> Any:
    # Always bytes: given a str that starts with http(s)://, it fetches it.
    return feedparser_rs.parse(body, sanitize_html=False, resolve_relative_uris=True)


def rs_parsed(body: bytes) -> ParsedFeed:
    result = rs_parse(strip_internal_subset(body))
    feed = result.feed
    return ParsedFeed(
        version=result.version or "unknown",
        title=(feed.get("title") or "").strip() or None,
        site_url=feed.get("link") or None,
        language=feed.get("language") or None,
        entries=tuple(
            rs_entry(e, atom=(result.version or "").startswith("atom")) for e in result.entries
        ),
        warning=str(result.bozo_exception) if result.bozo else None,
        ttl=rs_ttl(feed),
    )


def fast_path(convert: Callable[[bytes], ParsedFeed]) -> Callable[[Document], ParsedFeed]:
    """parse_feed with the XML parser swapped: JSON Feed keeps feedd's mapper,
    the site link is made absolute and long fields capped as parse_feed does."""

    def parse(doc: Document) -> ParsedFeed:
        parsed = parse_json_feed(doc.body) if doc.is_json else convert(doc.body)
        if parsed.site_url:
            parsed = dataclasses.replace(parsed, site_url=_join(doc.url, parsed.site_url))
        return dataclasses.replace(parsed, entries=tuple(_capped(e) for e in parsed.entries))

    return parse


# -- timing


def _count(result: Any) -> int:
    if result is None:  # a check, not a parser
        return 0
    if isinstance(result, ParsedFeed):
        return len(result.entries)
    if isinstance(result, dict) and "entries" in result:
        return len(result["entries"])
    return len(result.entries)


def _lxml_check(doc: Document) -> None:
    # resolve_entities/no_network: the check must not be an XXE door itself.
    parser = etree.XMLParser(recover=False, resolve_entities=False, no_network=True, huge_tree=True)
    # Leading blank lines before <?xml are common and harmless to every parser here.
    etree.fromstring(strip_internal_subset(doc.body).lstrip(b" \t\r\n"), parser)


def timed_parsers() -> dict[str, Callable[[Document], Any]]:
    parsers: dict[str, Callable[[Document], Any]] = {
        "feedparser (defaults)": lambda d: feedparser.parse(io.BytesIO(d.body)),
        "feedparser (no sanitize/resolve)": lambda d: feedparser.parse(
            io.BytesIO(d.body), sanitize_html=False, resolve_relative_uris=False
        ),
        "feedd parse_feed": lambda d: parse_feed(d.body, url=d.url, content_type=d.content_type),
        "feedd parse_feed, no resolve_relative_uris": lambda d: parse_feed_unresolved(d),
    }
    if fastfeedparser is not None:
        parsers["fastfeedparser"] = lambda d: fastfeedparser.parse(d.body)
        parsers["fastfeedparser -> ParsedFeed"] = fast_path(ffp_parsed)
    if feedparser_rs is not None:
        parsers["feedparser_rs (defaults)"] = lambda d: feedparser_rs.parse(d.body)
        parsers["feedparser_rs (no sanitize)"] = lambda d: rs_parse(d.body)
        parsers["feedparser_rs -> ParsedFeed"] = fast_path(rs_parsed)
    if etree is not None:
        parsers["check: lxml well-formed"] = _lxml_check
    return parsers


def time_parsers(docs: list[Document], repeat: int) -> dict[str, dict[str, Any]]:
    parsers = timed_parsers()
    seconds: dict[str, list[float]] = defaultdict(list)
    counts: dict[str, int] = {}
    failures: dict[str, list[tuple[str, str]]] = {}
    for round_ in range(repeat):
        for name, parse in parsers.items():
            entries, failed = 0, []
            gc.collect()  # no collection of the previous parser's garbage on this one's clock
            start = time.perf_counter()
            for doc in docs:
                try:
                    entries += _count(parse(doc))
                except Exception as exc:  # a raise is this parser's verdict on the file
                    failed.append((doc.path, _describe(exc)))
            seconds[name].append(time.perf_counter() - start)
            if round_ == 0:
                counts[name], failures[name] = entries, failed
            print(f"  round {round_ + 1}: {name}: {seconds[name][-1]:.2f} s", file=sys.stderr)
    out = {}
    for name in parsers:
        median = statistics.median(seconds[name])
        out[name] = {
            "seconds": median,
            "runs": seconds[name],
            "entries": counts[name],
            "entries_per_s": counts[name] / median if median else None,
            "failures": [{"path": p, "error": e} for p, e in failures[name]],
        }
    return out


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# -- parity


_TAG = re.compile(r"<[^>]*>")


def norm_text(value: str | None) -> str:
    """Entities decoded, tags removed, whitespace collapsed: what a reader would read."""
    if not value:
        return ""
    return " ".join(_TAG.sub(" ", html.unescape(value)).split())


def _abs(link: str | None, base: str) -> str | None:
    return links.absolute_url(link, base)


def _second(value: Any) -> Any:
    # The store keeps whole seconds (types.format_timestamp); fractions are no difference.
    return value.replace(microsecond=0) if isinstance(value, datetime) else value


def _shown(value: object) -> object:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, str) and len(value) > SHOWN:
        return value[:SHOWN] + "..."
    if isinstance(value, tuple):
        return _shown(repr(value))
    return value


def _around_difference(a: object, b: object) -> tuple[object, object]:
    """Long strings shown from a little before where they first differ."""
    if not (isinstance(a, str) and isinstance(b, str)) or max(len(a), len(b)) <= SHOWN:
        return _shown(a), _shown(b)
    start = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), None)
    start = min(len(a), len(b)) if start is None else start
    start = max(0, start - 30)
    lead = "..." if start else ""
    return _shown(lead + a[start:]), _shown(lead + b[start:])


class Tally:
    """Differences of one parser against feedd, by kind, with examples."""

    def __init__(self) -> None:
        self.feeds: dict[str, set[str]] = defaultdict(set)  # kind -> paths
        self.entries: Counter[str] = Counter()  # kind -> entries differing
        self.examples: dict[str, list[dict[str, Any]]] = defaultdict(list)

    def add(self, kind: str, doc: Document, index: int | None, ref: object, other: object) -> None:
        self.feeds[kind].add(doc.path)
        self.entries[kind] += 1
        shown_ref, shown_other = _around_difference(ref, other)
        if len(self.examples[kind]) < EXAMPLES and not any(
            e["file"] == doc.path for e in self.examples[kind]
        ):  # one example per file: the first few files, not one file's many items
            self.examples[kind].append(
                {
                    "file": doc.path,
                    "format": doc.format,
                    "entry": index,
                    "feedparser": shown_ref,
                    "other": shown_other,
                }
            )

    def as_json(self) -> dict[str, Any]:
        return {
            kind: {
                "feeds": len(paths),
                "entries": self.entries[kind],
                "files": sorted(paths),
                "examples": self.examples[kind],
            }
            for kind, paths in sorted(self.feeds.items())
        }


def compare_raw(tally: Tally, doc: Document, ref: ParsedFeed, other: ParsedFeed) -> None:
    for field, a, b in (
        ("feed title", norm_text(ref.title), norm_text(other.title)),
        ("feed site_url", ref.site_url, other.site_url),
        ("feed language", ref.language, other.language),
        ("feed ttl", ref.ttl, other.ttl),
    ):
        if a != b:
            tally.add(field, doc, None, a, b)
    if len(ref.entries) != len(other.entries):
        tally.add("count", doc, None, len(ref.entries), len(other.entries))
        return  # items cannot be paired; the count difference says it
    for index, (x, y) in enumerate(zip(ref.entries, other.entries, strict=True)):
        ref_id, other_id = (x.id or "").strip(), (y.id or "").strip()
        if ref_id != other_id:
            # No id in the feed: feedd's guid is then the link, so an id equal
            # to the link is harmless; say so apart from real id changes.
            same = not ref_id and other_id == (_abs(y.link, doc.url) or "").strip()
            tally.add("id (= link, feedd has none)" if same else "id", doc, index, x.id, y.id)
        if norm_text(x.title) != norm_text(y.title):
            tally.add("title", doc, index, x.title, y.title)
        if (x.link or None) != (y.link or None):
            if _abs(x.link, doc.url) == _abs(y.link, doc.url):
                tally.add("link (raw only: same once absolute)", doc, index, x.link, y.link)
            else:
                tally.add("link", doc, index, x.link, y.link)
        if _second(x.published) != _second(y.published):
            tally.add("published", doc, index, x.published, y.published)
        if _second(x.updated) != _second(y.updated):
            tally.add("updated", doc, index, x.updated, y.updated)
        if _second(x.published or x.updated) != _second(y.published or y.updated):
            tally.add("date (published, else updated)", doc, index, x.published or x.updated,
                      y.published or y.updated)  # fmt: skip
        if bool(x.summary) != bool(y.summary):
            tally.add("summary presence", doc, index, bool(x.summary), bool(y.summary))
        if bool(x.content) != bool(y.content):
            tally.add("content presence", doc, index, bool(x.content), bool(y.content))


STORED_FIELDS = (
    "guid",
    "link",
    "title",
    "published_at",
    "updated_at",
    "date_flag",
    "summary",
    "content_text",
    "content_html",
    "author",
    "tags",
    "enclosures",
    "content_hash",
)


# Entry fields that feed content_hash, besides content_html.
_HASHED = {"title", "summary", "content_text", "author", "tags", "enclosures"}


class _Markup(HTMLParser):
    """An HTML fragment as (tag, sorted attributes) and collapsed-text tokens."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tokens: list[tuple[Any, ...]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # Boolean attributes: controls, controls="" and controls="controls" are one.
        canonical = {(k, "" if v in (None, "", k) else " ".join(v.split())) for k, v in attrs}
        self.tokens.append(("<", tag, tuple(sorted(canonical))))

    def handle_endtag(self, tag: str) -> None:
        self.tokens.append(("/", tag))

    def handle_data(self, data: str) -> None:
        text = " ".join(data.split())
        if text:
            self.tokens.append(("t", text))


def same_markup(a: str | None, b: str | None) -> bool:
    """Equal but for serialization: attribute order and quoting, boolean attribute
    forms, entity forms, whitespace runs (in text and attribute values)."""
    if not a or not b:
        return a == b
    parsed = []
    for fragment in (a, b):
        markup = _Markup()
        markup.feed(fragment)
        markup.close()
        parsed.append(markup.tokens)
    return parsed[0] == parsed[1]


_COSMETIC = {("content_html", True, False), ("content_html", True, True)}
_COSMETIC.add(("content_hash", True, True))


def compare_stored(
    tally: Tally, doc: Document, mine: tuple[Any, ...], other: ParsedFeed, now: datetime
) -> tuple[bool, bool]:
    """(stored entries differ at all, differ beyond HTML serialization)."""
    theirs = _entries(other, doc.url, now)
    if len(mine) != len(theirs):
        tally.add("count", doc, None, len(mine), len(theirs))
        return True, True
    any_diff = real_diff = False
    for index, (x, y) in enumerate(zip(mine, theirs, strict=True)):
        diffs = [f for f in STORED_FIELDS if _second(getattr(x, f)) != _second(getattr(y, f))]
        if not diffs:
            continue
        any_diff = True
        # feedparser re-serializes HTML when it resolves relative URIs (sorted
        # attributes...): the same markup, but another content_hash.
        cosmetic = "content_html" in diffs and same_markup(x.content_html, y.content_html)
        hash_cosmetic = cosmetic and not _HASHED.intersection(diffs)
        for field in diffs:
            kind = field
            if (field, cosmetic, hash_cosmetic) in _COSMETIC:
                kind = f"{field} (serialization only)"
            else:
                real_diff = True
            tally.add(kind, doc, index, getattr(x, field), getattr(y, field))
    return any_diff, real_diff


def _item_links(raw: RawEntry, base_url: str) -> tuple[str | None, str | None]:
    # The pipeline's item_links (its module is being reorganised; links.py is stable).
    link = links.absolute_url(raw.link, base_url)
    origin = links.absolute_url(dict(raw.extra).get("feedburner_origlink"), base_url)
    target = origin or link
    return link, links.unwrap(target) if target else None


def _entries(parsed: ParsedFeed, url: str, now: datetime) -> tuple[Any, ...]:
    # The pipeline's entries_of (links + normalize) with a fixed "now", so the
    # future-date check cannot differ between two parsers; text_hash left out
    # (it follows from content_text).
    entries = []
    for raw in parsed.entries:
        link, target = _item_links(raw, url)
        entries.append(
            normalize.normalize_entry(
                raw,
                link=link,
                url=links.canonical_url(target),
                base_url=url,
                feed_language=parsed.language,
                now=now,
            )
        )
    learned = normalize.learn_boilerplate([e.content_text for e in entries])
    return tuple(normalize.drop_learned(e, learned) for e in entries)


_ITEM_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s>/]")
_CDATA = re.compile(rb"<!\[CDATA\[.*?\]\]>", re.DOTALL)
_COMMENT = re.compile(rb"<!--.*?-->", re.DOTALL)


def item_tag_count(body: bytes) -> int:
    """<item>/<entry> start tags outside CDATA and comments: a cheap entry count."""
    return len(_ITEM_TAG.findall(_COMMENT.sub(b"", _CDATA.sub(b"", body))))


def document_flags(doc: Document) -> dict[str, Any]:
    """What the cheap checks see of a document, whatever parser follows."""
    try:
        _lxml_check(doc)
        well_formed: bool | None = True
    except Exception:
        well_formed = False if etree is not None else None
    try:
        bozo = bool(rs_parse(strip_internal_subset(doc.body)).bozo) if feedparser_rs else None
    except Exception:
        bozo = True
    return {
        "well_formed": well_formed,
        "rs_bozo": bozo,
        "item_tags": item_tag_count(doc.body),
        "xml_base": b"xml:base" in doc.body,
    }


def fallback_checks(flags: dict[str, Any], parsed: ParsedFeed) -> dict[str, bool]:
    """Which cheap checks would send this document to feedparser."""
    checks = {}
    if flags["well_formed"] is not None:
        checks["lxml not well-formed"] = not flags["well_formed"]
    if flags["rs_bozo"] is not None:
        checks["feedparser_rs bozo"] = flags["rs_bozo"]
    checks["count != <item>/<entry> tags"] = len(parsed.entries) != flags["item_tags"]
    # feedparser resolves relative links in content against xml:base; feedd's
    # own resolution (normalize) knows only the document URL.
    checks["uses xml:base"] = flags["xml_base"]
    checks["no entries"] = not parsed.entries
    return checks


def parse_feed_unresolved(doc: Document) -> ParsedFeed:
    """parse_feed with feedparser's resolve_relative_uris off, nothing else changed.

    Relative URLs in content are made absolute by normalize.sanitize_html
    against the document URL anyway; only xml:base differs.
    """
    real = feedparser.parse

    def unresolved(*args: Any, **kwargs: Any) -> Any:
        return real(*args, **{**kwargs, "resolve_relative_uris": False})

    feedparser.parse = unresolved  # feedd.parse calls feedparser.parse by attribute
    try:
        return parse_feed(doc.body, url=doc.url, content_type=doc.content_type)
    finally:
        feedparser.parse = real


def candidates() -> dict[str, Callable[[Document], ParsedFeed]]:
    found: dict[str, Callable[[Document], ParsedFeed]] = {}
    if fastfeedparser is not None:
        found["fastfeedparser"] = fast_path(ffp_parsed)
    if feedparser_rs is not None:
        found["feedparser_rs"] = fast_path(rs_parsed)
    found["feedparser, resolve_relative_uris=False"] = parse_feed_unresolved
    return found


def parity(docs: list[Document], stored: bool) -> dict[str, Any]:
    now = datetime.now(UTC)
    results: dict[str, Any] = {}
    refs: dict[str, ParsedFeed | str] = {}
    for doc in docs:
        try:
            refs[doc.path] = parse_feed(doc.body, url=doc.url, content_type=doc.content_type)
        except ParseError as exc:
            refs[doc.path] = str(exc)
    # JSON Feed never reaches feedparser: feedd's own mapper stays on any path.
    xml_docs = [d for d in docs if not d.is_json]
    flags = {doc.path: document_flags(doc) for doc in xml_docs}
    stored_refs: dict[str, tuple[Any, ...]] = {}
    start = time.process_time()
    for doc in xml_docs if stored else []:
        ref = refs[doc.path]
        if not isinstance(ref, str):
            stored_refs[doc.path] = _entries(ref, doc.url, now)
    # For scale: what the rest of the CPU-bound pipeline costs on the same feeds.
    results["normalize_cpu_seconds"] = time.process_time() - start if stored else None
    results["normalize_entries"] = sum(len(e) for e in stored_refs.values())
    for name, parse in candidates().items():
        print(f"  parity: {name}", file=sys.stderr)
        raw, kept = Tally(), Tally()
        rejected, accepted_extra = [], []
        checks: dict[str, dict[str, bool]] = {}
        differing_raw: set[str] = set()
        differing_stored: set[str] = set()  # any stored field, content_hash included
        differing_real: set[str] = set()  # beyond HTML serialization
        compared = 0
        for doc in xml_docs:
            ref = refs[doc.path]
            try:
                other: ParsedFeed | None = parse(doc)
            except Exception as exc:  # the fast path would fall back: no harm, only cost
                other = None
                rejected.append(
                    {"path": doc.path, "error": _describe(exc), "feedd": _feedd_verdict(ref)}
                )
            if other is None:
                continue
            if isinstance(ref, str):
                if other.entries:
                    accepted_extra.append(
                        {"path": doc.path, "feedd": ref, "entries": len(other.entries)}
                    )
                continue
            compared += 1
            checks[doc.path] = fallback_checks(flags[doc.path], other)
            before = sum(raw.entries.values())
            compare_raw(raw, doc, ref, other)
            if sum(raw.entries.values()) != before:
                differing_raw.add(doc.path)
            if stored:
                any_diff, real_diff = compare_stored(kept, doc, stored_refs[doc.path], other, now)
                if any_diff:
                    differing_stored.add(doc.path)
                if real_diff:
                    differing_real.add(doc.path)
        results[name] = {
            "xml_feeds": len(xml_docs),
            "compared": compared,
            "raw_equal": compared - len(differing_raw),
            "stored_identical": compared - len(differing_stored) if stored else None,
            "stored_equivalent": compared - len(differing_real) if stored else None,
            "raw": raw.as_json(),
            "stored": kept.as_json() if stored else None,
            "rejected": rejected,
            "accepted_where_feedd_rejects": accepted_extra,
            # Scored against what would change stored articles (or, without the
            # stored level, against raw differences).
            "checks": score_checks(checks, differing_real if stored else differing_raw),
        }
    results["json_feeds_skipped"] = [d.path for d in docs if d.is_json]
    results["feedd_rejects"] = {p: r for p, r in refs.items() if isinstance(r, str)}
    return results


def _feedd_verdict(ref: ParsedFeed | str) -> str:
    return ref if isinstance(ref, str) else f"{len(ref.entries)} entries"


def score_checks(checks: dict[str, dict[str, bool]], differing: set[str]) -> dict[str, Any]:
    """Per check (and all of them together): differing feeds caught and missed,
    equal feeds sent to feedparser for nothing."""
    names = sorted({n for c in checks.values() for n in c})
    out = {}
    for name in [*names, "any of the above"]:

        def flagged(path: str, name: str = name) -> bool:
            c = checks[path]
            return any(c.values()) if name == "any of the above" else c[name]

        caught = sorted(p for p in differing if flagged(p))
        missed = sorted(p for p in differing if not flagged(p))
        needless = sorted(p for p in checks if p not in differing and flagged(p))
        out[name] = {
            "flagged": sum(flagged(p) for p in checks),
            "caught": len(caught),
            "missed": missed,
            "needless": len(needless),
        }
    return out


# -- report


def print_rates(timing: dict[str, dict[str, Any]], repeat: int) -> None:
    base = timing.get("feedd parse_feed", {}).get("seconds")
    print(f"\nParse speed (median of {repeat}; same bytes in memory)")
    width = max(len(name) for name in timing)
    header = f"{'seconds':>8} {'entries':>8} {'entries/s':>10} {'vs feedd':>9} fail"
    print(f"{'parser':{width}} {header}")
    for name, row in timing.items():
        rate = f"{row['entries_per_s']:,.0f}" if row["entries_per_s"] else "-"
        speed = f"{base / row['seconds']:.1f}x" if base and row["seconds"] else "-"
        print(
            f"{name:{width}} {row['seconds']:8.2f} {row['entries']:8} {rate:>10} {speed:>9} "
            f"{len(row['failures'])}"
        )
    for name, row in timing.items():
        for failure in row["failures"]:
            print(f"  {name} raised on {failure['path']}: {failure['error']}")


def print_parity(results: dict[str, Any]) -> None:
    for name, res in results.items():
        if not isinstance(res, dict) or "raw" not in res:
            continue
        print(f"\nParity: {name} -> ParsedFeed against feedd parse_feed")
        print(
            f"  XML feeds {res['xml_feeds']}, compared {res['compared']} (both parsed);"
            f" raw-level equal {res['raw_equal']}"
            + (
                f"; stored entries identical {res['stored_identical']},"
                f" equivalent (HTML serialization aside) {res['stored_equivalent']}"
                if res["stored"] is not None
                else ""
            )
        )
        for level in ("raw", "stored"):
            kinds = res[level]
            if not kinds:
                continue
            print(f"  {level} differences (kind: feeds / entries):")
            for kind, info in kinds.items():
                print(f"    {kind}: {info['feeds']} / {info['entries']}")
                for ex in info["examples"] if not kind.startswith("content_hash") else []:
                    where = f"#{ex['entry']}" if ex["entry"] is not None else ""
                    print(
                        f"      {ex['file']}{where} ({ex['format']}):"
                        f" feedparser={ex['feedparser']!r} other={ex['other']!r}"
                    )
        for item in res["rejected"]:
            print(f"  rejected: {item['path']}: {item['error']} (feedd: {item['feedd']})")
        for item in res["accepted_where_feedd_rejects"]:
            print(f"  accepted what feedd rejects: {item['path']} ({item['entries']} entries)")
        print(
            "  fallback checks against feeds whose stored entries differ beyond serialization"
            " (caught / missed; equal feeds sent back needlessly):"
        )
        for check, score in res["checks"].items():
            print(
                f"    {check}: caught {score['caught']}, missed {len(score['missed'])},"
                f" needless {score['needless']} (flagged {score['flagged']})"
            )
            for path in score["missed"][:EXAMPLES]:
                print(f"      missed: {path}")
    if results.get("normalize_cpu_seconds") is not None:
        print(
            f"\nFor scale: links + normalize of feedd's {results['normalize_entries']} XML entries"
            f" took {results['normalize_cpu_seconds']:.1f} s of CPU (once, not a median)"
        )
    if results.get("json_feeds_skipped"):
        print(f"\nJSON Feed documents left to feedd's own mapper: {results['json_feeds_skipped']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--repeat", type=int, default=3, help="timed passes per parser")
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    parser.add_argument("--no-stored", action="store_true", help="skip the normalize level")
    parser.add_argument("--no-timing", action="store_true", help="parity only")
    args = parser.parse_args(argv)
    if not (args.corpus / "realworld" / "INDEX.tsv").is_file():
        print(f"skipped: no corpus at {args.corpus} (give --corpus PATH)")
        return 0
    for name, module in (("fastfeedparser", fastfeedparser), ("feedparser-rs", feedparser_rs)):
        if module is None:
            print(f"note: {name} is not installed; `pip install {name}` to measure it")
    warnings.simplefilter("ignore")  # feedparser's deprecation chatter, per entry
    docs = load_corpus(args.corpus)
    print(
        f"corpus: {args.corpus}/realworld: {len(docs)} documents,"
        f" {sum(len(d.body) for d in docs) / 1e6:.1f} MB"
    )
    versions = {
        "feedparser": feedparser.__version__,
        "fastfeedparser": getattr(fastfeedparser, "__version__", None),
        "feedparser_rs": getattr(feedparser_rs, "__version__", None),
        "lxml": etree.__version__ if etree is not None else None,
    }
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items() if v))
    load_before = os.getloadavg()
    timing = {} if args.no_timing else time_parsers(docs, args.repeat)
    if timing:
        print_rates(timing, args.repeat)
        # The machine is shared: a busy one slows every row alike, more or less.
        print(f"load average before/after: {load_before[0]:.2f} / {os.getloadavg()[0]:.2f}")
    results = parity(docs, stored=not args.no_stored)
    print_parity(results)
    if args.json:
        report = {
            "versions": versions,
            "repeat": args.repeat,
            "load_average_before": load_before[0],
            "timing": timing,
            "parity": results,
        }
        args.json.write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
