"""Simulate the polling load of the adaptive schedule against a fixed interval.

    python bench/schedule_sim.py [--feeds 1000] [--days 7] [--corpus PATH] [--seed 1]

Posting patterns come from the real feeds in the shared corpus
(realworld/INDEX.tsv; --corpus, else $FEEDD_CORPUS, else ../shared/corpus):
each document is parsed once (feedparser; JSON Feed with the json module,
which feedparser 6 does not read) for its items' publication dates. A feed's
pattern is its sequence of gaps between consecutive dated items, identical
timestamps (bursts) included. Documents whose dates after 1995 do not make
at least two bursts (BURST apart) have no pattern: those feeds are simulated
with no posts at all (both policies poll them every 30 min).

--feeds simulated feeds are drawn from the real ones with replacement
(seeded). Each repeats its real gap sequence end to end, from a random point
of it, so bursts, lulls and the feed's own rate are kept; the same sequence
also gives the history the first polls see. A document that covers only a
few hours (a news feed in daytime) is repeated around the clock: no nights.

Polling, per feed, over a day of warm-up, then --days measured, then two
more days so every measured post is seen:

- fixed: every 30 min (next_fetch_at with its +/-10% jitter);
- adaptive: each poll sees the feed's newest 20 posts up to that moment;
  posting_gap on their dates, poll_interval(base=30 min, floor=10 min,
  ceiling=1 day, hint=None), next_fetch_at (+/-10% jitter) for the next poll.

Reported: requests per hour over the measured days for the N feeds, the
discovery delay (from a post to the first poll at or after it, for posts in
the measured days), and how many feeds' last adaptive interval was the floor
or the ceiling. Exit status 2, with a message, when the corpus is missing.
"""

from __future__ import annotations

import argparse
import bisect
import csv
import gzip
import itertools
import json
import math
import os
import random
import statistics
import sys
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser

sys.dont_write_bytecode = True
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from feedd.schedule import BURST, EARLIEST, MAX_DATES, next_fetch_at, poll_interval, posting_gap  # noqa: E402

DEFAULT_CORPUS = Path(os.environ.get("FEEDD_CORPUS", ROOT.parent / "shared" / "corpus"))
BASE = 30 * 60.0
FLOOR = 10 * 60.0
CEILING = 24 * 3600.0
FIXED = 30 * 60.0
WARMUP = timedelta(days=1)
TAIL = timedelta(days=2)  # > CEILING x 1.1: every post before the end is seen
ORIGIN = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday; the start of the measured days


@dataclass(frozen=True, slots=True)
class Pattern:
    name: str
    gaps: tuple[float, ...]  # seconds between consecutive items, oldest first; zeros are bursts


def feed_dates(path: Path) -> list[datetime]:
    """Publication (else update) dates of the document's items, as aware UTC datetimes."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if path.suffix == ".json" or data.lstrip()[:1] == b"{":
        return json_feed_dates(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = feedparser.parse(data)
    dates = []
    for entry in parsed.entries:
        when = entry.get("published_parsed") or entry.get("updated_parsed")
        if when:
            dates.append(datetime(*when[:6], tzinfo=UTC))
    return dates


def json_feed_dates(data: bytes) -> list[datetime]:
    try:
        items = json.loads(data).get("items") or []
    except (ValueError, AttributeError):
        return []
    dates = []
    for item in items:
        value = isinstance(item, dict) and (item.get("date_published") or item.get("date_modified"))
        if isinstance(value, str):
            try:
                when = datetime.fromisoformat(value)
            except ValueError:
                continue
            dates.append(when if when.tzinfo else when.replace(tzinfo=UTC))
    return dates


def pattern_of(name: str, document: Path) -> Pattern:
    """The document's gaps, or none when its dates are fewer than two bursts.

    One burst (Craigslist: 25 listings within 2 minutes) tells nothing about
    the rate over days, and repeated end to end it would be a feed posting
    every 5 seconds around the clock, swamping every figure. posting_gap
    gives None for it too, so both policies poll such a feed at 30 min.
    """
    dates = sorted(d for d in feed_dates(document) if d >= EARLIEST)
    gaps = tuple((b - a).total_seconds() for a, b in itertools.pairwise(dates))
    return Pattern(name, gaps if any(gap >= BURST for gap in gaps) else ())


def load_patterns(corpus: Path) -> tuple[list[Pattern], int]:
    """Posting patterns of the real feeds (empty for the undated), and how many documents."""
    index = corpus / "realworld" / "INDEX.tsv"
    with index.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    # curated/ holds symlinks, which some copies of the corpus keep as small text
    # files with the target in them; stored_at is the real file.
    names = [row["path"] for row in rows]
    documents = [corpus / (row.get("stored_at") or row["path"]) for row in rows]
    # Parsing is most of the run time: one process per core.
    with ProcessPoolExecutor() as pool:
        patterns = list(pool.map(pattern_of, names, documents, chunksize=4))
    return patterns, len(rows)


def posting_times(
    pattern: Pattern, lo: datetime, hi: datetime, rng: random.Random
) -> list[datetime]:
    """The pattern repeated end to end from a random point over [lo, hi], plus history."""
    if not pattern.gaps:
        return []
    cycle = sum(pattern.gaps)
    offsets = [0.0]
    for gap in pattern.gaps[:-1]:
        offsets.append(offsets[-1] + gap)  # posts of one cycle; the next cycle starts at `cycle`
    phase = rng.uniform(0, cycle)
    # Enough whole cycles before lo for the first poll to see MAX_DATES posts.
    before = math.ceil(MAX_DATES / len(offsets)) * cycle
    start = (lo - ORIGIN).total_seconds() - before
    span = (hi - ORIGIN).total_seconds()
    first_cycle = int((start + phase) // cycle)
    times = []
    k = first_cycle
    while True:
        base = k * cycle - phase
        if base > span:
            break
        times.extend(ORIGIN + timedelta(seconds=base + o) for o in offsets if base + o <= span)
        k += 1
    return times


@dataclass
class Result:
    requests: int = 0  # in the measured days
    delays: list[float] = field(default_factory=list)  # seconds, one per measured post
    at_floor: int = 0  # feeds whose last interval in the measured days was the floor
    at_ceiling: int = 0


def simulate(
    posts: Sequence[datetime],
    adaptive: bool,
    start: datetime,
    end: datetime,
    rng: random.Random,
) -> tuple[list[datetime], float]:
    """Poll times from a day before ``start`` to two days after ``end``, and the last
    interval chosen before ``end``."""
    now = start - WARMUP + timedelta(seconds=rng.uniform(0, BASE))
    stop = end + TAIL
    polls = []
    last_interval = FIXED
    while now < stop:
        polls.append(now)
        interval = FIXED
        if adaptive:
            seen = bisect.bisect_right(posts, now)
            gap = posting_gap(posts[max(0, seen - MAX_DATES) : seen], now)
            interval = poll_interval(base=BASE, floor=FLOOR, ceiling=CEILING, gap=gap, hint=None)
        if now < end:
            last_interval = interval
        now = next_fetch_at(now, interval, 0, rng)
    return polls, last_interval


def run(
    patterns: Sequence[Pattern], feeds: int, days: float, seed: int
) -> tuple[dict[str, Result], int, int]:
    """Both policies on the same ``feeds`` simulated feeds: results by policy name,
    the number of posts in the measured days, and how many feeds had no pattern."""
    feed_rng = random.Random(seed)  # which feeds, and their phases
    start, end = ORIGIN, ORIGIN + timedelta(days=days)
    results = {"adaptive": Result(), "fixed 30 min": Result()}
    measured_posts = undated = 0
    for i in range(feeds):
        pattern = feed_rng.choice(patterns)
        undated += not pattern.gaps
        posts = posting_times(pattern, start - WARMUP, end + TAIL, feed_rng)
        window = [p for p in posts if start <= p < end]
        measured_posts += len(window)
        for name, result in results.items():
            # Each policy its own seeded stream, so a change to one policy leaves
            # the feeds and the other policy's polls as they were.
            rng = random.Random(f"{seed}/{i}/{name}")
            polls, last = simulate(posts, name == "adaptive", start, end, rng)
            result.requests += sum(1 for p in polls if start <= p < end)
            for post in window:
                seen_at = polls[bisect.bisect_left(polls, post)]
                result.delays.append((seen_at - post).total_seconds())
            result.at_floor += last == FLOOR
            result.at_ceiling += last == CEILING
    return results, measured_posts, undated


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds < 3600 else f"{seconds / 3600:.1f} h"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.feeds < 1 or args.days <= 0:
        parser.error("--feeds and --days must be positive")

    if not (args.corpus / "realworld" / "INDEX.tsv").is_file():
        print(
            f"schedule_sim: no corpus at {args.corpus} (realworld/INDEX.tsv missing); "
            "pass --corpus PATH or set FEEDD_CORPUS. Nothing simulated.",
            file=sys.stderr,
        )
        return 2

    started = time.perf_counter()
    patterns, documents = load_patterns(args.corpus)
    dated = [p for p in patterns if p.gaps]
    parse_s = time.perf_counter() - started
    print(
        f"corpus: {documents} real feeds, {len(dated)} with a posting pattern "
        f"(dates in >= 2 bursts), {len(patterns) - len(dated)} without; parsed in {parse_s:.1f} s"
    )

    results, measured_posts, undated = run(patterns, args.feeds, args.days, args.seed)
    hours_measured = args.days * 24
    print(
        f"simulated: {args.feeds} feeds drawn with replacement (seed {args.seed}), "
        f"{undated} without a pattern; {args.days:g} days measured after 1 day of warm-up; "
        f"{measured_posts} posts in the measured days "
        f"({measured_posts / args.feeds / args.days:.2f} per feed per day)"
    )
    print()
    print(
        "| policy | requests/h | requests per feed per day | requests per post "
        "| delay median | delay p90 | delay mean | feeds at floor | feeds at ceiling |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, result in results.items():
        delays = result.delays or [0.0]
        print(
            f"| {name} | {result.requests / hours_measured:.0f} "
            f"| {result.requests / args.feeds / args.days:.1f} "
            f"| {result.requests / max(1, measured_posts):.1f} "
            f"| {duration(statistics.median(delays))} | {duration(percentile(delays, 0.9))} "
            f"| {duration(statistics.fmean(delays))} "
            f"| {result.at_floor if name == 'adaptive' else '-'} "
            f"| {result.at_ceiling if name == 'adaptive' else '-'} |"
        )
    print()
    print(f"ran in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
