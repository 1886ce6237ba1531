"""Readers beside a busy daemon, for minutes: lock errors, half-written feeds, WAL size.

The longer run of tests/reliability/test_readers.py, on the same workload:
``feedd run`` polls generated feeds every 2 s, most of which get a new
version (one more item, every item's text changed) every 1.5 s, while
separate processes read in a loop:

- SQL readers (sqlite3, read-only) check in one read transaction that every
  feed is whole (its ETag, body hash, item count, titles and FTS entries all
  name one version); the first of them holds a read transaction open for
  ``--hold`` seconds before it starts, pinning the WAL;
- CLI readers run ``feedd articles``, ``feedd search`` (each checked whole)
  and ``feedd stats``.

It prints the reader processes, queries run, errors and half-written feeds
seen (both must be 0), and the WAL: its largest size, and how long it stayed
over feedd's limit (store.WAL_LIMIT) once the long reader had let go.

    /work/venv/bin/python bench/readers_run.py                 # 2 minutes
    /work/venv/bin/python bench/readers_run.py --duration 30   # a quick look

Exit status 0 when there was no error, no half-written feed, the daemon
stopped cleanly and the WAL never stayed over the limit for longer than
the daemon's retry delay plus a few seconds after the long reader left.
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "reliability"))

import test_readers as workload  # noqa: E402 - after the path tweak
from feedserver import FeedServer  # noqa: E402

from feedd.store.sqlite import WAL_LIMIT  # noqa: E402
from feedd.store.sqlite.maintenance import WAL_RETRY_SECONDS  # noqa: E402

MIB = 1024 * 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of reading")
    parser.add_argument("--sql", type=int, default=4, help="SQL reader processes")
    parser.add_argument("--cli", type=int, default=2, help="CLI reader processes")
    parser.add_argument("--feeds", type=int, default=30, help="feeds served")
    parser.add_argument("--changing", type=int, default=20, help="feeds that change")
    parser.add_argument("--hold", type=float, default=30.0, help="seconds the long reader holds")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)

    folder = Path(tempfile.mkdtemp(prefix="feedd-readers-"))
    server = FeedServer()
    started = time.monotonic()
    try:
        run = workload.run_readers(
            folder,
            server,
            feeds=args.feeds,
            changing=args.changing,
            duration=args.duration,
            sql_readers=args.sql,
            cli_readers=args.cli,
            hold=args.hold,
        )
    finally:
        server.close()
    elapsed = time.monotonic() - started

    log = run.daemon_log.splitlines()
    stored = sum(" new, " in line for line in log)
    not_modified = sum("not modified" in line for line in log)
    trimmed = sum("checkpointed and truncated" in line for line in log)
    skipped_ticks = sum("skipped: maximum number of running instances" in line for line in log)
    versions = Counter(number for number, _ in run.versions_seen)

    print(f"feeds: {args.feeds} ({args.changing} changing every 1.5 s); run {elapsed:.0f} s")
    print(
        f"reader processes: {len(run.readers)} ({args.sql} SQL, of which 1 holds a read "
        f"transaction {args.hold:g} s; {args.cli} CLI)"
    )
    print(f"queries: {run.queries}")
    for reader in run.readers:
        print(
            f"  {reader.name:10} {reader.queries:6} queries, slowest {reader.slowest:.2f} s"
            + (f", held {reader.held:.1f} s" if reader.held else "")
        )
    print(f"errors: {len(run.errors)}")
    for error in run.errors[:10]:
        print(f"  {error}")
    print(f"half-written feeds seen: {len(run.problems) + len(run.final_problems)}")
    for problem in [*run.problems, *run.final_problems][:10]:
        print(f"  {problem}")
    changing = [versions.get(number, 0) for number in range(args.changing)]
    print(
        f"daemon: {stored} feed writes, {not_modified} not modified; versions seen per "
        f"changing feed: min {min(changing, default=0)}, max {max(changing, default=0)}; "
        f"{run.articles} articles at the end; exit {run.daemon_exit}"
    )
    if skipped_ticks:
        print(f"  {skipped_ticks} scheduler ticks skipped (the db thread was busy)")

    sizes = [sample.size for sample in run.wal]
    largest = max(sizes, default=0) / MIB
    print(f"WAL: max {largest:.1f} MiB over the run; limit {WAL_LIMIT / MIB:g} MiB")
    longest = 0.0
    if run.held_until is not None:
        held = [s.size for s in run.wal if run.held_until - args.hold <= s.at < run.held_until]
        after = run.wal_after(run.held_until + WAL_RETRY_SECONDS + 3)
        longest = run.longest_over(WAL_LIMIT, since=run.held_until)
        print(f"  while the long reader held: max {max(held, default=0) / MIB:.1f} MiB")
        print(
            f"  after it let go: over the limit for {longest:.1f} s at most; then max "
            f"{max((s.size for s in after), default=0) / MIB:.1f} MiB"
        )
    print(f"  truncated by the daemon {trimmed} times; WAL restarts seen {_restarts(run)}")

    ok = (
        not run.errors
        and not run.problems
        and not run.final_problems
        and run.daemon_exit == 0
        and longest <= WAL_RETRY_SECONDS + 3
    )
    if args.keep:
        print(f"kept: {folder}")
    else:
        shutil.rmtree(folder, ignore_errors=True)
    print("ok" if ok else "FAILED")
    return 0 if ok else 1


def _restarts(run: workload.Run) -> int:
    generations = [s.generation for s in run.wal if s.generation >= 0]
    return sum(b != a for a, b in itertools.pairwise(generations))


if __name__ == "__main__":
    sys.exit(main())
