"""CPU per entry of each stage of a cold ingest, against feedparser's own parse.

    python bench/entry_cost.py [--corpus PATH] [--profile] [--dump PATH] [--compare PATH]
                               [--code DIR] [--feeds N]

Over the real-world corpus feeds (the bodies bench/perf.py serves, as found
by bench/corpus_run.py), in one process and one run, for each body in turn:

(a) ``feedparser.parse(body)`` with its defaults; also without its sanitizer and
    relative-URI pass (the floor issue 21 quotes), and feedd's ``parse.parse_feed``;
(b) ``digest.digest(body)``: parse, links (offline), normalize, MinHash;
(h) the hand-off to a worker: the arguments and the ``Digest`` pickled and
    unpickled, as ``ProcessPoolExecutor`` does;
(c) the store: ``Pipeline.prepare`` + ``Pipeline.finish`` of that digest (lock,
    known, dedupe, ``store.apply`` with its FTS triggers, near-duplicates, the
    poll recorded) into a fresh SQLite file, as ``feedd fetch`` does with
    ``[links] resolve = "off"`` (no network).

CPU is ``time.process_time`` around each call, summed; figures are per entry
stored by the digest (items of the documents). The ratio is (b + h + c) /
(a, plain feedparser) and to the floor: the whole pipeline's CPU per new entry against the
parser's alone (issue 21's target: at most 2x). Nothing is timed against a
threshold: it prints.

``--profile`` runs (b) and (c) again under cProfile and prints where the time
goes, by stage and by function. ``--dump PATH`` writes what was stored (every
article's columns, article_feeds, signatures, band keys, the FTS index's
terms) as JSON, ``--compare PATH`` compares this run's with such a dump: a
change meant to be exact must leave it identical. Columns that hold the time
of the run (first_seen_at, modified_at) and ``article_feeds.raw_hash`` (a hash
of the item *and of feedd's code*, by design: digest.raw_hash) are left out.
``--code DIR`` imports feedd from DIR (a checkout of another commit, for an
A/B in separate processes).

Exit 2 when the corpus is absent, 1 when --compare finds a difference.
"""

from __future__ import annotations

import argparse
import cProfile
import gzip
import hashlib
import json
import pickle
import pstats
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _code_path(argv: Sequence[str]) -> None:
    # Before feedd is imported: --code picks which checkout's feedd is measured.
    code = ROOT
    for index, arg in enumerate(argv):
        if arg == "--code" and index + 1 < len(argv):
            code = Path(argv[index + 1]).resolve()
        elif arg.startswith("--code="):
            code = Path(arg.split("=", 1)[1]).resolve()
    sys.path.insert(0, str(code))
    sys.path.insert(1, str(ROOT / "tests"))
    sys.path.insert(1, str(HERE))


_code_path(sys.argv[1:])
sys.dont_write_bytecode = True

import feedparser  # noqa: E402
from corpus_run import DEFAULT_CORPUS, content_type, documents, write_config  # noqa: E402

from feedd import digest, parse, pipeline  # noqa: E402
from feedd.config import load_config  # noqa: E402
from feedd.errors import ParseError  # noqa: E402
from feedd.types import Fetched  # noqa: E402

STAGES = ("feedparser", "feedparser_bare", "parse_feed", "digest", "handoff", "store")


@dataclass
class Body:
    url: str
    content_type: str
    data: bytes


@dataclass
class Costs:
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    entries: int = 0
    parsed_entries: int = 0  # feedparser's own count (its entries, before feedd's filters)
    pickled_bytes: int = 0
    refused: int = 0  # bodies feedd does not parse (not a feed)


def bodies(corpus: Path, limit: int | None) -> list[Body]:
    found = []
    for number, doc in enumerate(documents(corpus, everything=False)):
        data = (corpus / doc.stored_at).read_bytes()
        if data[:2] == b"\x1f\x8b":  # served with Content-Encoding: gzip; fetch decodes it
            data = gzip.decompress(data)
        found.append(Body(f"http://127.0.0.1:8000/f/{number}", content_type(doc), data))
    return found[:limit] if limit else found


def cpu(func: Callable[[], Any]) -> tuple[Any, float]:
    started = time.process_time()
    result = func()
    return result, time.process_time() - started


def handoff(body: Body, digested: digest.Digest) -> int:
    """What a worker's round trip pickles: the call's arguments one way, the
    Digest back (ProcessPoolExecutor pickles the call and the result)."""
    args = pickle.dumps((body.data, body.url, body.content_type, None, 5000), protocol=5)
    pickle.loads(args)  # noqa: S301 - our own bytes
    result = pickle.dumps(digested, protocol=pickle.HIGHEST_PROTOCOL)
    pickle.loads(result)  # noqa: S301 - our own bytes
    return len(args) + len(result)


class Storing:
    """A fresh database and the real Pipeline's store steps (resolve = "off")."""

    def __init__(self, folder: Path, docs: Sequence[Body]) -> None:
        folder.mkdir()
        config = load_config(write_config(folder, [b.url for b in docs], concurrency=16))
        self.store = pipeline.open_store(config)
        self.feeds = {feed.url: feed for feed in self.store.feeds_by_url([b.url for b in docs])}
        # No network: the client is never used with resolve = "off".
        self.pipeline = pipeline.Pipeline(config, self.store, client=None)  # type: ignore[arg-type]
        self.path = folder / "feedd.db"

    def store_one(self, body: Body, digested: digest.Digest) -> None:
        feed = self.feeds[body.url]
        fetched = Fetched(
            body.url,
            body.url,
            200,
            (("content-type", body.content_type),),
            body.data,
            None,
            None,
            hashlib.sha256(body.data).hexdigest(),
        )
        prepared = self.pipeline.prepare(feed, fetched, digested)
        self.pipeline.finish(feed, fetched, prepared, (), time.monotonic())

    def close(self) -> None:
        self.pipeline.db_thread.shutdown()
        self.store.close()


def run(docs: Sequence[Body], folder: Path) -> tuple[Costs, Path]:
    costs = Costs()
    storing = Storing(folder, docs)
    normalize_warmup()
    try:
        for body in docs:
            parsed, seconds = cpu(lambda b=body: feedparser.parse(b.data))
            costs.seconds["feedparser"] += seconds
            costs.parsed_entries += len(parsed.entries)
            _, seconds = cpu(
                lambda b=body: feedparser.parse(
                    b.data, sanitize_html=False, resolve_relative_uris=False
                )
            )
            costs.seconds["feedparser_bare"] += seconds
            try:
                _, seconds = cpu(
                    lambda b=body: parse.parse_feed(b.data, url=b.url, content_type=b.content_type)
                )
                costs.seconds["parse_feed"] += seconds
                digested, seconds = cpu(lambda b=body: digest.digest(b.data, b.url, b.content_type))
            except ParseError:  # a body feedd refuses (an HTML page) is not stored either
                costs.refused += 1
                continue
            costs.seconds["digest"] += seconds
            costs.entries += len(digested.entries)
            size, seconds = cpu(lambda b=body, d=digested: handoff(b, d))
            costs.seconds["handoff"] += seconds
            costs.pickled_bytes += size
            _, seconds = cpu(lambda b=body, d=digested: storing.store_one(b, d))
            costs.seconds["store"] += seconds
    finally:
        storing.close()
    return costs, storing.path


def normalize_warmup() -> None:
    # The language model loads on first use (a worker loads it when it starts).
    from feedd import normalize

    normalize.detect_language("a warm-up text for the language model", None)


def report(costs: Costs, docs: int) -> None:
    n = max(costs.entries, 1)
    floor = costs.seconds["feedparser"] / n
    whole = (costs.seconds["digest"] + costs.seconds["handoff"] + costs.seconds["store"]) / n
    print(
        f"documents {docs} ({costs.refused} refused: not feeds), entries {costs.entries} "
        f"(feedparser's: {costs.parsed_entries})"
    )
    print(f"{'stage':<34} {'CPU s':>8} {'ms/entry':>9} {'x feedparser':>13}")
    labels = {
        "feedparser": "(a) feedparser.parse, defaults",
        "feedparser_bare": "(a') feedparser, no sanitize/relURI",
        "parse_feed": "(a'') feedd parse.parse_feed",
        "digest": "(b) digest.digest",
        "handoff": "(h) hand-off pickling",
        "store": "(c) store (prepare+finish)",
    }
    for stage in STAGES:
        seconds = costs.seconds[stage]
        print(
            f"{labels[stage]:<34} {seconds:8.2f} {1000 * seconds / n:9.3f} "
            f"{seconds / n / floor:13.2f}"
        )
    print(
        f"{'pipeline (b + h + c)':<34} {whole * n:8.2f} {1000 * whole:9.3f} {whole / floor:13.2f}"
    )
    print(f"hand-off bytes per entry: {costs.pickled_bytes / n:,.0f}")
    bare = costs.seconds["feedparser_bare"] / n
    print(f"RATIO pipeline / feedparser = {whole / floor:.2f} (target <= 2)")
    print(f"      pipeline / feedparser without sanitizer and relative URIs = {whole / bare:.2f}")


# -- profile


def profile(docs: Sequence[Body], folder: Path) -> None:
    digests: list[tuple[Body, digest.Digest]] = []
    profiler = cProfile.Profile()
    profiler.enable()
    for body in docs:
        try:
            digests.append((body, digest.digest(body.data, body.url, body.content_type)))
        except ParseError:
            continue
    profiler.disable()
    print("\n== profile of (b) digest: cumulative CPU of the stages")
    summary(pstats.Stats(profiler), DIGEST_STAGES)
    print_top(pstats.Stats(profiler))
    storing = Storing(folder, docs)
    profiler = cProfile.Profile()
    try:
        profiler.enable()
        for body, digested in digests:
            storing.store_one(body, digested)
        profiler.disable()
    finally:
        storing.close()
    print("\n== profile of (c) store")
    summary(pstats.Stats(profiler), STORE_STAGES)
    print_top(pstats.Stats(profiler))


# (label, file suffix, function name): cumulative time of that function.
DIGEST_STAGES = (
    ("digest total", "digest.py", "digest"),
    ("parse.parse_feed", "parse.py", "parse_feed"),
    ("  feedparser.parse", "api.py", "parse"),
    ("raw_hash", "digest.py", "raw_hash"),
    ("normalize_entry", "normalize.py", "normalize_entry"),
    ("  clean_fragment", "normalize.py", "clean_fragment"),
    ("    strip_boilerplate", "boilerplate.py", "strip_boilerplate"),
    ("    sanitize_html", "normalize.py", "sanitize_html"),
    ("      nh3.clean", "~", "<built-in method nh3.clean>"),
    ("    html_to_text", "normalize.py", "html_to_text"),
    ("  detect_language", "normalize.py", "detect_language"),
    ("  item_dates", "normalize.py", "item_dates"),
    ("  content_hash", "normalize.py", "content_hash"),
    ("item_links (links offline)", "digest.py", "item_links"),
    ("learn_lines", "boilerplate.py", "learn_lines"),
    ("drop_learned", "normalize.py", "drop_learned"),
    ("text_hash", "dedupe.py", "text_hash"),
    ("neardup.signature", "neardup.py", "signature"),
    ("  tokens", "neardup.py", "tokens"),
    ("  _minhash", "neardup.py", "_minhash"),
    ("Memory.state", "digest.py", "state"),
)
STORE_STAGES = (
    ("finish total", "pipeline.py", "finish"),
    ("prepare", "pipeline.py", "prepare"),
    ("lock_identity", "neardup.py", "band_keys"),
    ("known", "articles.py", "known"),
    ("dedupe.decide", "dedupe.py", "decide"),
    ("store.apply", "applying.py", "apply"),
    ("mark_near_duplicates", "pipeline.py", "mark_near_duplicates"),
    ("record_poll", "feeds.py", "record_poll"),
    ("save_digest_state", "feeds.py", "save_digest_state"),
    ("sqlite execute", "~", "<method 'execute' of 'sqlite3.Connection' objects>"),
    ("sqlite executemany", "~", "<method 'executemany' of 'sqlite3.Connection' objects>"),
    ("commit", "~", "<method 'commit' of 'sqlite3.Connection' objects>"),
)


def summary(stats: pstats.Stats, stages: Sequence[tuple[str, str, str]]) -> None:
    table: dict[tuple[str, int, str], Any] = stats.stats  # type: ignore[attr-defined]
    total = stats.total_tt  # type: ignore[attr-defined]
    for label, suffix, name in stages:
        cumulative = sum(
            values[3]
            for (filename, _, function), values in table.items()
            if function == name and filename.endswith(suffix)
        )
        print(f"  {label:<32} {cumulative:7.2f} s {100 * cumulative / total:5.1f}%")


def print_top(stats: pstats.Stats, count: int = 18) -> None:
    stats.sort_stats("tottime").print_stats(count)


# -- what was stored


DUMP_QUERIES = {
    "articles": "SELECT * FROM articles ORDER BY id",
    "article_feeds": "SELECT * FROM article_feeds ORDER BY feed_id, guid",
    "article_signatures": "SELECT article_id, hex(signature) FROM article_signatures "
    "ORDER BY article_id",
    "article_bands": "SELECT band, article_id FROM article_bands ORDER BY band, article_id",
    "fts_terms": "SELECT term, doc, col, offset FROM temp.fts_terms "
    "ORDER BY term, doc, col, offset",
    "article_revisions": "SELECT * FROM article_revisions ORDER BY article_id, revision",
    "pages": "SELECT article_id, url, reason, state FROM pages ORDER BY article_id",
}
# The time of the run, and a hash of the code (digest.raw_hash), by design.
LEFT_OUT = {"first_seen_at", "modified_at", "raw_hash", "queued_at", "next_attempt_at"}


def dump(path: Path) -> dict[str, list[list[Any]]]:
    connection = sqlite3.connect(path)
    try:
        connection.execute(
            "CREATE VIRTUAL TABLE temp.fts_terms USING fts5vocab(main, articles_fts, 'instance')"
        )
        tables = {}
        for name, query in DUMP_QUERIES.items():
            cursor = connection.execute(query)
            columns = [c[0] for c in cursor.description]
            keep = [i for i, c in enumerate(columns) if c not in LEFT_OUT]
            tables[name] = [[row[i] for i in keep] for row in cursor]
        return tables
    finally:
        connection.close()


def compare(now: dict[str, list[list[Any]]], before: dict[str, list[list[Any]]]) -> int:
    differing = 0
    for name in DUMP_QUERIES:
        a, b = before.get(name, []), now.get(name, [])
        rows = sum(x != y for x, y in zip(a, b, strict=False)) + abs(len(a) - len(b))
        print(f"  {name:<20} {len(b):7d} rows: {'identical' if rows == 0 else f'{rows} differ'}")
        if rows:
            differing += 1
            for x, y in zip(a, b, strict=False):
                if x != y:
                    print(f"    first difference:\n      before {x!r:.400}")
                    print(f"      now    {y!r:.400}")
                    break
    return differing


def fingerprint(tables: dict[str, list[list[Any]]]) -> str:
    return hashlib.sha256(json.dumps(tables, sort_keys=True, default=str).encode()).hexdigest()[:16]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--code", type=Path, help="import feedd from this checkout")
    parser.add_argument("--feeds", type=int, help="only the first N feeds (quick runs)")
    parser.add_argument("--profile", action="store_true", help="cProfile (b) and (c) too")
    parser.add_argument("--dump", type=Path, help="write what was stored here (JSON)")
    parser.add_argument("--compare", type=Path, help="compare what was stored with a --dump")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    if not (args.corpus / "realworld" / "INDEX.tsv").is_file():
        print(f"entry_cost: no corpus at {args.corpus} (pass --corpus or set FEEDD_CORPUS)")
        return 2
    docs = bodies(args.corpus, args.feeds)
    print(f"feedd from {Path(digest.__file__).parent}")
    with tempfile.TemporaryDirectory(prefix="feedd-entry-cost-") as folder:
        costs, database = run(docs, Path(folder) / "a")
        report(costs, len(docs))
        tables = dump(database)
        print(f"stored: {len(tables['articles'])} articles, fingerprint {fingerprint(tables)}")
        if args.json:
            args.json.write_text(
                json.dumps(
                    {
                        "seconds": costs.seconds,
                        "entries": costs.entries,
                        "pickled_bytes": costs.pickled_bytes,
                        "fingerprint": fingerprint(tables),
                    }
                )
            )
        if args.dump:
            args.dump.write_text(json.dumps(tables, default=str))
        status = 0
        if args.compare:
            print(f"compared with {args.compare}:")
            if compare(tables, json.loads(args.compare.read_text())):
                status = 1
        if args.profile:
            profile(docs, Path(folder) / "b")
    return status


if __name__ == "__main__":
    sys.exit(main())
