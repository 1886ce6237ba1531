"""The pre-scan on the real-world corpus: exact, and what a changed body costs.

    python bench/prescan_check.py [--corpus PATH] [--repeat N] [--limit N]

For every realworld feed: digest a document as stored (the memory it leaves),
then a changed version of it twice, with the pre-scan's shortcut and without
(feedparser and the incremental digest, as before the pre-scan). The two
digests must be equal in everything the pipeline reads or stores: the feed's
fields (title, site, language, ttl, counts), the entries, the kept items and
the memory saved. The changes:

- ``date``: a new lastBuildDate / pubDate / updated / dc:date at channel level
  (one is added when the document has none);
- ``element``: a rotating channel-level element (``<feeddAd>slot A</feeddAd>``,
  then ``slot B``);
- ``comment``: a rotating comment after the channel's start tag;
- ``prolog comment``: a rotating comment before the root element;
- ``reserialized``: the document written again: spacing between the channel's
  elements and between items, attributes quoted with ``'`` and spaced around
  ``=`` (prefixes unchanged), a space before each start tag's ``>``;
- ``item``: the first item's title edited: this one must be parsed.

Then the cost of a ``date`` poll: digest CPU with the pre-scan, against
feedparser's whole parse of the same body (parse.parse_feed) and against the
digest without the shortcut, in the same run; the median ratio and the totals.
Exit 1 on any difference, or when an edited item was not parsed.

``--database``: the same changes through the store, as the pipeline writes
them. Two fresh SQLite databases (bench/entry_cost.py's ``Storing``: the real
``Pipeline.prepare`` and ``Pipeline.finish``, links not followed): each feed's
document is stored, then each change in turn (date, element, comment,
re-serialization, edited item), each digest with the memory the database's
previous one left, with the shortcut in one database and without it in the
other. Then every table is compared (articles, their feeds, signatures, bands,
the full-text index's terms, revisions, pages, the feeds' own fields, the
digests' saved memory), the time of the run left out.
"""

from __future__ import annotations

import argparse
import csv
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from boilerplate_audit import DEFAULT_CORPUS  # noqa: E402

from feedd import digest, parse  # noqa: E402
from feedd.errors import ParseError  # noqa: E402

_FIRST_ITEM = re.compile(rb"<(?:\w+:)?(?:item|entry)[\s>/]")
_CHANNEL_START = re.compile(rb"<(?:\w+:)?(?:channel|feed)\b[^>]*>|<(?:\w+:)?RDF\b[^>]*>")
_DATE = re.compile(rb"(<(lastBuildDate|pubDate|updated|dc:date)>)[^<]*(</\2>)", re.IGNORECASE)
_SECTIONS = re.compile(rb"<!\[CDATA\[.*?\]\]>|<!--.*?-->", re.DOTALL)
_START_TAG = re.compile(rb"<[A-Za-z_][^<>]*?(/?)>")
_DOUBLE_QUOTED = re.compile(rb"(\s[\w:.-]+)=\"([^\"'<]*)\"")
_BETWEEN = re.compile(rb">\s*<")
_ITEM_END = re.compile(rb"(</(?:\w+:)?(?:item|entry)>)\s*(?=<)")

Change = Callable[[bytes, int], bytes | None]


def _head_end(body: bytes) -> int | None:
    start = _CHANNEL_START.search(body)
    return None if start is None else start.end()


def _first_item(body: bytes) -> int:
    found = _FIRST_ITEM.search(body)
    return found.start() if found else len(body)


def with_date(body: bytes, version: int) -> bytes | None:
    """The channel's date changed (added after the channel's start tag when absent)."""
    stamp = f"Mon, 0{version + 1} Jan 2035 0{version}:00:00 GMT".encode()
    first = _first_item(body)
    found = _DATE.search(body, 0, first)
    if found is not None:
        if found[2].lower() in (b"updated", b"dc:date"):
            stamp = f"2035-01-0{version + 1}T0{version}:00:00Z".encode()
        return body[: found.end(1)] + stamp + body[found.start(3) :]
    end = _head_end(body)
    if end is None:
        return None
    name = b"updated" if b"<feed" in body[:end] else b"lastBuildDate"
    if name == b"updated":
        stamp = f"2035-01-0{version + 1}T0{version}:00:00Z".encode()
    return body[:end] + b"<" + name + b">" + stamp + b"</" + name + b">" + body[end:]


def with_element(body: bytes, version: int) -> bytes | None:
    end = _head_end(body)
    if end is None:
        return None
    slot = b"slot " + b"AB"[version % 2 : version % 2 + 1]
    return body[:end] + b"<feeddAd>" + slot + b"</feeddAd>" + body[end:]


def with_comment(body: bytes, version: int) -> bytes | None:
    end = _head_end(body)
    if end is None:
        return None
    return body[:end] + f"<!-- built at 12:0{version} -->".encode() + body[end:]


def with_prolog_comment(body: bytes, version: int) -> bytes | None:
    """A generator's comment with the build time between the XML declaration and
    the root element (or at the start, without a declaration)."""
    end = body.find(b"?>") + 2 if body.startswith(b"<?xml") else 0
    return body[:end] + f"<!-- generated at 12:0{version} -->".encode() + body[end:]


_TOKEN = re.compile(
    rb"<!\[CDATA\[.*?\]\]>|<!--.*?-->|<\?.*?\?>|<![^>]*>|</[^>]*>|<[^>]*?/>|<[^>]*>|[^<]+",
    re.DOTALL,
)


def _requoted(tag: bytes) -> bytes:
    close = b"/>" if tag.endswith(b"/>") else b">"
    text = _DOUBLE_QUOTED.sub(rb"\1 = '\2'", tag[: -len(close)])
    return text + b" " + close


def reserialized(body: bytes, version: int) -> bytes | None:
    """The document written again: start tags' attributes quoted with ' and spaced,
    the whitespace between the channel's elements and items changed; prefixes,
    text, CDATA sections and comments as they were."""
    if version == 0:
        return body
    end = _head_end(body)
    if end is None:
        return None
    level = 2 if b"<rss" in body[:end] else 1  # the items' depth
    pieces, depth = [], 0
    for token in _TOKEN.finditer(body):
        text = token[0]
        if text.startswith(b"</"):
            depth -= 1
        elif text.startswith((b"<!", b"<?")):
            pass
        elif text.startswith(b"<"):
            text = _requoted(text)
            if not text.endswith(b"/>"):
                depth += 1
        elif depth == level and not text.strip():
            text = b"\n\n    "
        pieces.append(text)
    return b"".join(pieces)


def with_item_edited(body: bytes, version: int) -> bytes | None:
    if version == 0:
        return body
    first = _first_item(body)
    title = re.compile(rb"<(?:\w+:)?title\b[^>]*>").search(body, first)
    ends = re.compile(rb"</(?:\w+:)?(?:item|entry)>").search(body, first)
    if title is None or ends is None or title.start() > ends.start():
        return None
    return body[: title.end()] + b"Edited: " + body[title.end() :]


CHANGES: dict[str, Change] = {
    "date": lambda body, version: body if version == 0 else with_date(body, version),
    "element": with_element,
    "comment": with_comment,
    "prolog comment": with_prolog_comment,
    "reserialized": reserialized,
    "item": with_item_edited,
}


class Counting:
    """parse.parse_prepared (what digest and parse_feed parse with), counted:
    whether a digest ran feedparser."""

    def __init__(self) -> None:
        self.calls = 0
        self.original = parse.parse_prepared

    def __call__(self, *args: object, **kwargs: object) -> object:
        self.calls += 1
        return self.original(*args, **kwargs)  # type: ignore[arg-type]


def _cpu(run: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        run()
        best = min(best, time.process_time() - started)
    return best


def realworld(corpus: Path) -> list[Path]:
    """The real-world documents (INDEX.tsv's stored_at: curated/ holds links, which
    some copies of the corpus keep as small text files naming their target)."""
    index = corpus / "realworld" / "INDEX.tsv"
    with index.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [corpus / (row.get("stored_at") or row["path"]) for row in rows]


def check(
    label: str, body: bytes, url: str, name: str, counting: Counting, counts: Counter[str]
) -> tuple[list[str], tuple[bytes, digest.Memory] | None]:
    """One change of one document: the differences between the digests with and
    without the shortcut, and (the changed body, the memory it was digested with)."""
    change = CHANGES[name]
    before, after = change(body, 0), change(body, 1)
    if before is None or after is None or after == before:
        return [], None
    counts[f"{name}: changed"] += 1
    try:
        stored = digest.digest(before, url, None)
    except ParseError:
        return [], None
    remembered = digest.Memory.from_state(stored.state)
    assert remembered is not None
    calls = counting.calls
    try:
        fast = digest.digest(after, url, None, remembered)
    except ParseError as exc:
        fast_error: str | None = str(exc)
    else:
        fast_error = None
    parsed = counting.calls > calls
    try:
        slow = digest.digest(after, url, None, remembered, shortcut=False)
    except ParseError as exc:
        if fast_error != str(exc):
            return [f"{label} {name}: only one digest failed: {exc}"], None
        return [], None
    if fast_error is not None:
        return [f"{label} {name}: only one digest failed: {fast_error}"], None
    counts[f"{name}: {'parsed' if parsed else 'not parsed'}"] += 1
    failures = []
    if name == "item" and not parsed:
        failures.append(f"{label}: an edited item was not parsed")
    for field in ("feed", "entries", "targets", "signatures", "kept", "state"):
        if getattr(fast, field) != getattr(slow, field):
            failures.append(f"{label} {name}: {field} differs")
    return failures, (after, remembered)


# What the database check compares beyond entry_cost's dump: the feeds' own fields
# (their times left out) and each feed's saved digest memory.
_MORE_QUERIES = {
    "feeds": "SELECT url, title, site_url, state, etag, last_modified, body_hash, last_status, "
    "error_count, last_error, poll_interval_seconds, posting_gap_seconds, last_post_at "
    "FROM feeds ORDER BY url",
    "feed_digests": "SELECT f.url, d.state FROM feed_digests d JOIN feeds f ON f.id = d.feed_id "
    "ORDER BY f.url",
}


def database_check(paths: list[Path]) -> int:
    """Both databases built change by change; the number of tables that differ."""
    import sqlite3
    import tempfile

    import entry_cost

    with tempfile.TemporaryDirectory(prefix="prescan-db-") as tmp:
        docs = [
            entry_cost.Body(
                f"https://example.org/{path.name}", "application/xml", path.read_bytes()
            )
            for path in paths
        ]
        stores = {
            shortcut: entry_cost.Storing(Path(tmp) / f"shortcut-{shortcut}", docs)
            for shortcut in (True, False)
        }
        skipped = 0
        try:
            for doc in docs:
                versions = [doc.data]
                for name in CHANGES:
                    changed = CHANGES[name](doc.data, 1)
                    if changed is not None:
                        versions.append(changed)
                for version in versions:
                    body = entry_cost.Body(doc.url, doc.content_type, version)
                    for shortcut, storing in stores.items():
                        feed = storing.feeds[doc.url]
                        state = storing.store.digest_state(feed.id)
                        memory = digest.Memory.from_state(state) if state else None
                        try:
                            digested = digest.digest(
                                version, doc.url, None, memory, shortcut=shortcut
                            )
                        except ParseError:
                            skipped += 1
                            continue
                        storing.store_one(body, digested)
        finally:
            for storing in stores.values():
                storing.close()
        # A revision's times are the run's, like the columns entry_cost leaves out.
        entry_cost.LEFT_OUT.update({"last_seen_at", "replaced_at"})
        dumps = {}
        for shortcut, storing in stores.items():
            tables = entry_cost.dump(storing.path)
            connection = sqlite3.connect(storing.path)
            try:
                for table, query in _MORE_QUERIES.items():
                    tables[table] = [list(row) for row in connection.execute(query)]
            finally:
                connection.close()
            dumps[shortcut] = tables
        print(f"database check: {len(docs)} documents, each stored then changed; ", end="")
        print(f"{skipped // 2} versions refused by both")
        entry_cost.DUMP_QUERIES.update(_MORE_QUERIES)  # compare() walks these names
        differing: int = entry_cost.compare(dumps[True], dumps[False])
        return differing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--repeat", type=int, default=3, help="timings: the best of N")
    parser.add_argument("--limit", type=int, default=0, help="only the first N feeds")
    parser.add_argument(
        "--database", action="store_true", help="compare the databases the changes make"
    )
    args = parser.parse_args(argv)
    if not (args.corpus / "realworld" / "INDEX.tsv").is_file():
        print(f"prescan_check: no corpus at {args.corpus} (pass --corpus or set FEEDD_CORPUS)")
        return 2
    paths = realworld(args.corpus)
    if args.limit:
        paths = paths[: args.limit]
    if args.database:
        differing = database_check(paths)
        print("identical" if not differing else f"{differing} tables differ")
        return 1 if differing else 0
    counting = Counting()
    parse.parse_prepared = counting  # type: ignore[assignment]
    failures: list[str] = []
    counts: Counter[str] = Counter()
    ratios: list[float] = []
    totals = {"pre-scan": 0.0, "parse": 0.0, "digest without": 0.0}
    for path in paths:
        body, url = path.read_bytes(), f"https://example.org/{path.name}"
        counts["files"] += 1
        try:
            first = digest.digest(body, url, None)
        except ParseError:
            continue
        counts["feeds"] += 1
        memory = digest.Memory.from_state(first.state)
        if memory is None or memory.prescanned is None:
            continue
        counts["pre-scanned"] += 1
        for name in CHANGES:
            found, checked = check(path.name, body, url, name, counting, counts)
            failures += found
            if name == "date" and checked is not None:
                after, remembered = checked
                costs = (
                    _cpu(partial(digest.digest, after, url, None, remembered), args.repeat),
                    _cpu(partial(parse.parse_feed, after, url=url), args.repeat),
                    _cpu(
                        partial(digest.digest, after, url, None, remembered, shortcut=False),
                        args.repeat,
                    ),
                )
                for key, cost in zip(totals, costs, strict=True):
                    totals[key] += cost
                ratios.append(costs[0] / max(costs[1], 1e-9))
    parse.parse_prepared = counting.original
    for key in sorted(counts):
        print(f"{key}: {counts[key]}")
    if ratios:
        print(
            f"a 'date' poll, {len(ratios)} feeds: digest CPU with the pre-scan / feedparser's "
            f"whole parse: median {statistics.median(ratios):.1%}, "
            f"total {totals['pre-scan']:.3f} s / {totals['parse']:.3f} s "
            f"= {totals['pre-scan'] / max(totals['parse'], 1e-9):.1%}; "
            f"the digest without the shortcut: {totals['digest without']:.3f} s"
        )
    for failure in failures:
        print("DIFFERENT", failure)
    print("exact" if not failures else f"{len(failures)} differences")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
