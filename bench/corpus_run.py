"""Run the shared feed corpus through the real feedd pipeline, over HTTP.

    python bench/corpus_run.py [--corpus PATH] [--all] [--repeat] [--concurrency N] [--keep DB]

Every file is served by a local FeedServer (tests/feedserver.py) on 127.0.0.1,
each under its own URL with an ETag, and one config lists them all; then
feedd.pipeline.fetch_once polls them: fetch -> parse -> links -> normalize ->
dedupe -> store, into a fresh SQLite file.

By default the real-world set (realworld/INDEX.tsv, 261 feeds). With --all,
also every feed-like file of MANIFEST.tsv: role feed, feed+expect,
feed+validator-expect, fragment or not-a-feed (OPML lists and expected-output
JSON are not feeds). With --repeat, everything is polled a second time, which
should give only 304s.

Prints: feeds, OK, failed (grouped by error message), entries stored, feedd's
own ERROR log records and warnings, database integrity, wall time. Exits 1 if
feedd logged an error, the database has integrity problems or the batch
raised. Everything it writes (config, database) lives in a temporary folder.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import logging
import os
import re
import shutil
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.dont_write_bytecode = True  # write nothing outside the temporary folder, not even .pyc
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from feedserver import FeedServer  # noqa: E402 - after the path tweak

from feedd.config import load_config  # noqa: E402
from feedd.pipeline import fetch_once  # noqa: E402
from feedd.store.sqlite import SQLiteStore as Store  # noqa: E402
from feedd.types import Outcome, Status  # noqa: E402

DEFAULT_CORPUS = Path(os.environ.get("FEEDD_CORPUS", ROOT.parent / "shared" / "corpus"))
FEED_ROLES = ("feed", "feed+expect", "feed+validator-expect", "fragment", "not-a-feed")
CONTENT_TYPES = (  # by MANIFEST/INDEX format prefix; what a typical server would send
    ("jsonfeed", "application/feed+json"),
    ("json", "application/json"),
    ("atom", "application/atom+xml"),
    ("rss1.0", "application/rdf+xml"),
    ("rss", "application/rss+xml"),
    ("html", "text/html; charset=utf-8"),
)


@dataclass(frozen=True)
class Document:
    path: str  # as listed (relative to the corpus)
    stored_at: str  # the real file (realworld/curated/ entries point elsewhere)
    format: str


def read_tsv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file, delimiter="\t"))


def documents(corpus: Path, everything: bool) -> list[Document]:
    found: dict[str, Document] = {}
    for row in read_tsv(corpus / "realworld" / "INDEX.tsv"):
        found.setdefault(row["stored_at"], Document(row["path"], row["stored_at"], row["format"]))
    if everything:
        for row in read_tsv(corpus / "MANIFEST.tsv"):
            if row["role"] in FEED_ROLES and not row["format"].startswith("opml"):
                found.setdefault(row["path"], Document(row["path"], row["path"], row["format"]))
    return list(found.values())


def content_type(document: Document) -> str:
    for prefix, value in CONTENT_TYPES:
        if document.format.startswith(prefix):
            return value
    return "application/xml"


def serve(server: FeedServer, docs: Sequence[Document], corpus: Path) -> dict[str, Document]:
    """One route per document; returns URL -> document."""
    urls = {}
    for number, doc in enumerate(docs):
        body = (corpus / doc.stored_at).read_bytes()
        headers = {}
        if body[:2] == b"\x1f\x8b":  # stored compressed: send it as gzip content-coding
            headers["Content-Encoding"] = "gzip"
        name = re.sub(r"[^A-Za-z0-9._-]", "_", Path(doc.path).name)
        url = server.add(
            f"/f/{number}/{name}",
            body,
            content_type=content_type(doc),
            etag=f'"{hashlib.sha256(body).hexdigest()[:16]}"',
            headers=headers,
        )
        urls[url] = doc
    return urls


def write_config(
    folder: Path, urls: Sequence[str], concurrency: int, log_level: str | None = None
) -> Path:
    lines = [
        'database = "feedd.db"',
        "",
        "[fetch]",
        "allow_private_networks = true",
        'timeout = "60s"',
        f"concurrency = {concurrency}",
        "",
        # The corpus's item links point at the real internet, which a benchmark
        # must not reach (and this machine cannot): no network link resolution.
        "[links]",
        'resolve = "off"',
        "",
        *(["[log]", f'level = "{log_level}"', ""] if log_level else []),
    ]
    for url in urls:
        lines += ["[[feeds]]", f'url = "{url}"', ""]
    path = folder / "feedd.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


class Recorder(logging.Handler):
    """Keeps feedd's ERROR records (each one is a bug: a feed's fault is not logged so)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def reason(error: str) -> str:
    """Group similar messages: numbers and positions out, one line, bounded."""
    text = error.splitlines()[0] if error else "?"
    text = re.sub(r"\d+", "N", text)
    return text[:110]


def report_outcomes(title: str, outcomes: Sequence[Outcome], urls: dict[str, Document]) -> None:
    status = Counter(o.status for o in outcomes)
    print(f"\n== {title}")
    print(f"feeds:          {len(outcomes)}")
    print(f"OK:             {status[Status.OK]}")
    print(f"not modified:   {status[Status.NOT_MODIFIED]}")
    print(f"failed:         {status[Status.FAILED]}")
    print(
        "entries:        "
        f"new {sum(o.new for o in outcomes)}, linked {sum(o.linked for o in outcomes)}, "
        f"updated {sum(o.updated for o in outcomes)}, "
        f"unchanged {sum(o.unchanged for o in outcomes)}"
    )
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        if outcome.status is Status.FAILED:
            groups[reason(outcome.error or "")].append(outcome)
    if groups:
        print("failed by reason:")
        for text, members in sorted(groups.items(), key=lambda g: (-len(g[1]), g[0])):
            examples = ", ".join(urls[o.url].path for o in members[:2])
            more = f" (+{len(members) - 2} more)" if len(members) > 2 else ""
            print(f"  {len(members):5d}  {text}")
            print(f"         e.g. {examples}{more}")


async def poll(config_path: Path) -> tuple[list[Outcome], float]:
    config = load_config(config_path)
    started = time.monotonic()
    outcomes = await fetch_once(config)
    return outcomes, time.monotonic() - started


def article_figures(store: Store) -> list[tuple[str, object]]:
    """What the articles look like: duplicates found, dates flagged, languages."""

    def one(sql: str) -> int:
        return int(store.conn.execute(sql).fetchone()[0])

    languages = store.conn.execute(
        "SELECT coalesce(language, '?'), count(*) FROM articles GROUP BY 1 ORDER BY 2 DESC LIMIT 8"
    ).fetchall()
    flags = store.conn.execute(
        "SELECT date_flag, count(*) FROM articles WHERE date_flag IS NOT NULL GROUP BY 1"
    ).fetchall()
    total = max(one("SELECT count(*) FROM articles"), 1)
    signature_bytes = one(
        "SELECT coalesce(sum(length(signature)), 0) FROM article_signatures"
    ) + one("SELECT coalesce(sum(length(band)) + 8 * count(*), 0) FROM article_bands")
    return [
        ("near-dups", one("SELECT count(*) FROM articles WHERE duplicate_of IS NOT NULL")),
        ("signed", one("SELECT count(*) FROM article_signatures")),
        ("dedupe bytes", f"~{signature_bytes / total:,.0f} B/article (signatures, bands)"),
        ("date flags", ", ".join(f"{flag} {n}" for flag, n in flags) or "none"),
        ("languages", ", ".join(f"{code} {n}" for code, n in languages)),
        ("enclosures", one("SELECT count(*) FROM articles WHERE enclosures != '[]'")),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="the shared corpus")
    parser.add_argument(
        "--all", action="store_true", help="every feed-like file, not only realworld"
    )
    parser.add_argument("--repeat", action="store_true", help="poll everything a second time")
    parser.add_argument("--concurrency", type=int, default=16, help="[fetch] concurrency")
    parser.add_argument(
        "--keep", type=Path, metavar="DB", help="copy the database here afterwards (for audits)"
    )
    args = parser.parse_args(argv)
    corpus: Path = args.corpus
    if not (corpus / "realworld" / "INDEX.tsv").is_file():
        parser.error(f"no corpus at {corpus} (realworld/INDEX.tsv not found)")

    started = time.monotonic()
    docs = documents(corpus, args.all)
    recorder = Recorder()
    logging.getLogger("feedd").addHandler(recorder)
    server = FeedServer()
    exit_code = 0
    try:
        urls = serve(server, docs, corpus)
        with tempfile.TemporaryDirectory(prefix="feedd-corpus-") as folder:
            config_path = write_config(Path(folder), list(urls), args.concurrency)
            passes: list[tuple[str, list[Outcome], float]] = []
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    outcomes, seconds = asyncio.run(poll(config_path))
                    passes.append(("first poll", outcomes, seconds))
                    if args.repeat:
                        outcomes, seconds = asyncio.run(poll(config_path))
                        passes.append(("second poll (expect 304s)", outcomes, seconds))
                except Exception:
                    print("the batch raised (a bug: one feed must never stop a batch):")
                    traceback.print_exc(file=sys.stdout)
                    exit_code = 1
            with Store(Path(folder) / "feedd.db") as store:
                problems = store.integrity_problems()
                articles = store.count("articles")
                article_feeds = store.count("article_feeds")
                feeds_failing = store.conn.execute(
                    "SELECT count(*) FROM feeds WHERE state = 'failing'"
                ).fetchone()[0]
                quality = article_figures(store)
                store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            database_bytes = (Path(folder) / "feedd.db").stat().st_size
            if args.keep:
                shutil.copyfile(Path(folder) / "feedd.db", args.keep)
    finally:
        server.close()
        logging.getLogger("feedd").removeHandler(recorder)

    print(f"corpus: {corpus} ({'all feed-like files' if args.all else 'realworld'})")
    for title, outcomes, seconds in passes:
        report_outcomes(title, outcomes, urls)
        print(f"fetch_once:     {seconds:.1f} s")
    print("\n== database")
    print(f"articles:       {articles}")
    print(f"article_feeds:  {article_feeds}")
    print(f"feeds failing:  {feeds_failing}")
    for label, value in quality:
        print(f"{label + ':':<15} {value}")
    print(
        f"database:       {database_bytes / 2**20:.1f} MiB, "
        f"{database_bytes / max(articles, 1):,.0f} B/article"
    )
    print(f"integrity:      {problems or 'ok'}")
    print(f"ERROR records:  {len(recorder.records)}")
    for record in recorder.records[:20]:
        print(f"  {record.getMessage()}")
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            print(f"    {type(error).__name__}: {error}")
    distinct = Counter(f"{w.category.__name__}: {w.message}" for w in caught)
    print(f"warnings:       {sum(distinct.values())} ({len(distinct)} distinct)")
    for text, count in distinct.most_common(10):
        print(f"  {count:5d}  {text[:150]}")
    print(f"wall time:      {time.monotonic() - started:.1f} s")
    if problems or recorder.records:
        exit_code = 1
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
