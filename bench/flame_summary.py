"""Where a profile's CPU samples went, by pipeline stage.

    py-spy record -r 100 --subprocesses -f raw -o cold.txt -- feedd fetch -c CONFIG
    python bench/flame_summary.py cold.txt

Reads py-spy's raw (folded) output: one line per stack, frames separated by
";", then the sample count. Each stack is charged to the first stage whose
marker one of its frames holds (in the order below), so a stage's share
includes everything it calls. Prints a Markdown table (docs/performance.md).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

# (stage, marker in a frame): the first match wins.
STAGES = (
    ("start-up (imports)", "_find_and_load"),
    ("parse (feedparser)", "parse_feed ("),
    ("MinHash signatures", "neardup.py"),
    ("normalize + links offline", "entries_of ("),
    ("store (dedupe, SQLite, FTS)", "Store."),
    ("store (dedupe, SQLite, FTS)", "Pipeline.finish"),
    ("store (dedupe, SQLite, FTS)", "Pipeline._record"),
    ("HTTP (httpx, httpcore)", "fetch_feed ("),
    ("hand-off to the workers (pickle, pipes)", "multiprocessing/connection.py"),
    ("hand-off to the workers (pickle, pipes)", "multiprocessing/queues.py"),
)
OTHER = "other (event loop, logging, waits)"


def summary(lines: list[str]) -> tuple[Counter[str], int]:
    shares: Counter[str] = Counter()
    total = 0
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        if not count.isdigit():
            continue
        samples = int(count)
        total += samples
        stage = next((name for name, marker in STAGES if marker in stack), OTHER)
        shares[stage] += samples
    return shares, total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path, help="py-spy raw output")
    args = parser.parse_args(argv)
    shares, total = summary(args.profile.read_text().splitlines())
    if not total:
        print(f"{args.profile}: no samples")
        return 1
    print("| stage | share of CPU samples |\n|---|---:|")
    for stage, samples in shares.most_common():
        print(f"| {stage} | {100 * samples / total:.0f}% |")
    print(f"\n{total:,} samples")
    return 0


if __name__ == "__main__":
    sys.exit(main())
