"""One update pass of lemon24/reader over a list of feed URLs, for comparison with feedd (issue 8).

Runs under its own Python 3.12 venv, never under feedd's (reader 3.2x needs 3.12, and the
two must not share packages); it imports only the stdlib and reader::

    python3.12 -m venv /work/reader-venv    # here: /root/.pyenv/versions/3.12.1/bin/python
    /work/reader-venv/bin/pip install 'reader>=3.20'
    /work/reader-venv/bin/python bench/perf_reader.py --urls urls.txt --db /tmp/r.sqlite

Options: ``--urls FILE`` (one feed URL per line; blank lines and ``#`` comments skipped),
``--db PATH`` (reader's SQLite file; every URL is added when it does not exist yet),
``--workers N`` (threads reader uses to *retrieve* feeds; parsing and storing stay on the
main thread whatever N is; default 4), ``--search`` (enable full-text search and time
``update_search()`` on its own), ``--log`` (reader's log lines to stderr; silenced
otherwise, the errors are in the JSON).

What one run does and measures (one JSON object on stdout):

- ``update_feeds_iter(scheduled=False, workers=N)``: one pass over every feed. Since 3.21
  reader only updates feeds whose ``update_after`` has passed (default interval 60 min), so
  ``scheduled=False`` is what makes a second and third run fetch anything. Checked:
  ``feeds_retrieved`` (feeds whose ``last_retrieved`` moved during this run) and
  ``results`` should both equal ``feeds``.
- Per-feed results: ``feeds_ok`` (got a body; ``feeds_changed`` of those stored a new or
  modified entry), ``feeds_not_modified`` (a 304), ``feeds_error`` (first 5 messages in
  ``errors``); entries ``new`` / ``modified`` / ``unmodified``; ``warnings``: entries
  reader dropped (e.g. no id and no link). ``entries_new`` can exceed the growth of
  ``entries_total`` when a feed repeats an id.
- ``update_s`` / ``search_s``: wall seconds of the update pass and of ``update_search()``
  (``null`` without ``--search``); ``cpu_s``: user+sys of the whole process (all threads)
  over both, split as ``cpu_update_s`` / ``cpu_search_s``; ``max_rss_mb``: the process's
  peak RSS (``ru_maxrss``, so it includes the interpreter and imports).
- ``entries_total`` after the pass; ``db_bytes``: main file + ``-wal`` before closing
  (closing checkpoints and removes the WAL; ``db_bytes_closed`` is the size after).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import sys
import time
import warnings
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from reader import make_reader


def read_urls(path: Path) -> list[str]:
    urls = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            urls.append(line)
    return urls


def cpu_seconds() -> float:
    # RUSAGE_SELF sums every thread of the process, so reader's retrieval workers count.
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def file_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def describe_error(url: str, exc: BaseException) -> str:
    # ParseError's own text is generic ("error during retriever"); the cause says what broke.
    text = f"{url}: {type(exc).__name__}: {exc}"
    if exc.__cause__ is not None:
        text += f" <- {type(exc.__cause__).__name__}: {exc.__cause__}"
    return text[:300]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", type=Path, required=True, help="file with one feed URL a line")
    parser.add_argument("--db", required=True, help="reader's SQLite database file")
    parser.add_argument("--workers", type=int, default=4, help="retrieval threads (4)")
    parser.add_argument("--search", action="store_true", help="also time update_search()")
    parser.add_argument("--log", action="store_true", help="reader's log lines to stderr")
    args = parser.parse_args(argv)

    log = logging.getLogger("reader")
    if args.log:
        logging.basicConfig(stream=sys.stderr, level=logging.INFO)
    else:
        # Without a handler, logging's last resort would print every failed feed's traceback.
        log.addHandler(logging.NullHandler())
        log.propagate = False

    urls = read_urls(args.urls)
    is_new = not os.path.exists(args.db)

    # search_enabled=None: leave the search state as it is; "auto" would turn it on
    # by itself, and --search does that explicitly below.
    reader = make_reader(args.db, search_enabled=None)
    try:
        added = 0
        if is_new:
            for url in urls:
                reader.add_feed(url, exist_ok=True)
                added += 1

        enable_s = None
        if args.search:
            # Before the update, so storing entries pays for search's change tracking, as a
            # search-enabled deployment would; a no-op when already enabled.
            t0 = time.perf_counter()
            reader.enable_search()
            enable_s = time.perf_counter() - t0

        started = datetime.now(UTC)
        cpu0 = cpu_seconds()
        t0 = time.perf_counter()

        ok = changed = not_modified = 0
        new = modified = unmodified = 0
        errors: list[str] = []
        n_results = 0
        # reader warns (and drops the entry) for entries it cannot store, e.g. with no id
        # and no link; count them, since they explain entry-count differences with feedd.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for url, value in reader.update_feeds_iter(scheduled=False, workers=args.workers):
                n_results += 1
                if value is None:
                    not_modified += 1
                elif isinstance(value, Exception):
                    errors.append(describe_error(url, value))
                else:
                    ok += 1
                    new += value.new
                    modified += value.modified
                    unmodified += value.unmodified
                    if value.new or value.modified:
                        changed += 1
        update_s = time.perf_counter() - t0
        cpu1 = cpu_seconds()

        search_s = None
        if args.search:
            t1 = time.perf_counter()
            reader.update_search()
            search_s = time.perf_counter() - t1
        cpu2 = cpu_seconds()

        feeds = list(reader.get_feeds())
        retrieved = sum(1 for f in feeds if f.last_retrieved and f.last_retrieved >= started)
        entries_total = reader.get_entry_counts().total
        db_bytes = file_size(args.db)
        wal_bytes = file_size(args.db + "-wal")
    finally:
        reader.close()

    maxrss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    result = {
        "tool": "reader",
        "reader_version": version("reader"),
        "feedparser_version": version("feedparser"),
        "python": sys.version.split()[0],
        "workers": args.workers,
        "search": args.search,
        "db_was_new": is_new,
        "feeds_added": added,
        "feeds": len(feeds),
        "results": n_results,
        "feeds_retrieved": retrieved,
        "feeds_ok": ok,
        "feeds_changed": changed,
        "feeds_not_modified": not_modified,
        "feeds_error": len(errors),
        "errors": errors[:5],
        "warnings": len(caught),
        "warning_samples": [str(w.message)[:200] for w in caught[:3]],
        "entries_new": new,
        "entries_modified": modified,
        "entries_unmodified": unmodified,
        "entries_total": entries_total,
        "update_s": round(update_s, 4),
        "enable_search_s": None if enable_s is None else round(enable_s, 4),
        "search_s": None if search_s is None else round(search_s, 4),
        "cpu_s": round(cpu2 - cpu0, 4),
        "cpu_update_s": round(cpu1 - cpu0, 4),
        "cpu_search_s": round(cpu2 - cpu1, 4) if args.search else None,
        "max_rss_mb": round(maxrss_kb / 1024, 1),
        "db_bytes": db_bytes + wal_bytes,
        "db_main_bytes": db_bytes,
        "db_wal_bytes": wal_bytes,
        "db_bytes_closed": file_size(args.db) + file_size(args.db + "-wal"),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
