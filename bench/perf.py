"""feedd's performance benchmark: the real feedd against a local feed server, beside reader.

    python bench/perf.py [--runs 3] [--scale 1000,10000,50000] [--tick-seconds 60]
                         [--reader-python PATH] [--json FILE]

Every scenario runs the real ``feedd`` as a subprocess (full pipeline: fetch,
parse, links offline, normalize, dedupe, store, FTS) against bench/perf_server.py,
a server in its own process serving the real-world corpus from memory:

 1. cold      ``feedd fetch`` into an empty database (the 261 real-world feeds)
 2. all-304   ``feedd fetch`` again: every feed answers 304 to its validators
 3. same-body ``feedd fetch`` again, the server ignoring validators (same bodies)
 4. 5%-new    ``feedd fetch`` again, 5% of the feeds with one new item (others 304)
 5. tick      ``feedd run`` for --tick-seconds with N feeds (copies of the set;
              --scale), from an empty database: feeds polled/s, CPU %, peak RSS;
              then again with the server answering 304 to everything (the sweep
              of N unchanged feeds, without ingesting N feeds first)
 6. latency   cold and all-304 again with 100 ms added to every answer
 7. changed-body ``feedd fetch`` again after every body changed without a new item
              (perf_server's touch: a new channel-level date, or a comment)
 8. all-304 at scale: ``feedd fetch`` of 10 copies of the set (2,610 feeds) all
              answering 304, into a database that knows them

Scenarios 1-3 also run with reader (lemon24/reader) in its own venv
(--reader-python, default /work/reader-venv/bin/python or $FEEDD_BENCH_READER_PYTHON;
see bench/perf_reader.py) against the same server in the same run: "reader" is
``update_feeds`` alone, "reader+search" (scenario 1) a fresh database with search
enabled, ``update_feeds`` then ``update_search()``. Figures per scenario: wall time,
feeds/s, new entries/s, CPU seconds (user + system, from the child's rusage), peak
RSS, database size; medians of --runs runs.

The parse floor is measured in this process before the runs: ``feedparser.parse``
(and feedd's ``parse_feed``) of every body the server sends, best of 3. The last
table holds issue 21's targets, each beside its figure; its rates are on whole-
process wall time (process start included) for feedd and reader alike.

Needs the shared corpus (../shared/corpus beside the checkout, or --corpus /
$FEEDD_CORPUS); exits with a message when it is absent.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import corpus_run
from corpus_run import DEFAULT_CORPUS, ROOT

DEFAULT_READER = os.environ.get("FEEDD_BENCH_READER_PYTHON", "/work/reader-venv/bin/python")
FEEDD = [sys.executable, "-m", "feedd"]
CHILD_ENV = dict(os.environ)  # --feedd-src puts another checkout first on PYTHONPATH


@dataclass(frozen=True)
class Figures:
    scenario: str
    tool: str
    feeds: int
    wall: float  # seconds
    cpu: float  # seconds, user + system, the process and its workers
    peak_rss_mb: float  # the main process's (ru_maxrss)
    new_entries: int
    db_mb: float
    poll_wall: float | None = None  # the poll phase alone, without start-up
    tree_mb: float = 0.0  # peak memory of the process and its workers (session_rss_mb, 4/s)

    @property
    def feeds_per_s(self) -> float:
        return self.feeds / (self.poll_wall or self.wall)

    @property
    def entries_per_s(self) -> float:
        return self.new_entries / (self.poll_wall or self.wall)


class Server:
    """bench/perf_server.py in its own process."""

    def __init__(self, corpus: Path, folder: Path, copies: int = 1, hosts: int = 256) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.urls_file = folder / f"urls-{copies}.txt"
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "bench" / "perf_server.py"),
                "--corpus",
                str(corpus),
                "--copies",
                str(copies),
                "--hosts",
                str(hosts),
                "--urls-out",
                str(self.urls_file),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        started = json.loads(self.process.stdout.readline())
        self.port = started["port"]
        self.urls = self.urls_file.read_text(encoding="utf-8").split()

    def control(self, action: str, **query: object) -> dict[str, object]:
        params = "&".join(f"{k}={v}" for k, v in query.items())
        with urllib.request.urlopen(
            f"http://127.0.0.1:{self.port}/_ctl/{action}?{params}", timeout=10
        ) as answer:
            result: dict[str, object] = json.loads(answer.read())
            return result

    def close(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=10)


# Extra lines for the configs' [fetch] table (--fetch), e.g. "fetchers = 2".
FETCH_LINES: list[str] = []


def write_config(folder: Path, urls: list[str]) -> Path:
    """corpus_run's config (loopback allowed, links not followed over the network),
    feedd's default concurrency, and only warnings logged by the daemon."""
    path = corpus_run.write_config(folder, urls, concurrency=16, log_level="warning")
    if FETCH_LINES:
        text = path.read_text(encoding="utf-8")
        text = text.replace("[fetch]\n", "[fetch]\n" + "\n".join(FETCH_LINES) + "\n", 1)
        path.write_text(text, encoding="utf-8")
    return path


@dataclass(frozen=True)
class Child:
    wall: float
    cpu: float  # user + system seconds of the process and every process it started
    peak_rss_mb: float  # the most memory of the process and its descendants (session_rss_mb)
    main_rss_mb: float  # the process's own peak RSS
    status: int
    output: str


def become_subreaper() -> None:
    """Descendants whose parent exits are re-parented to this process (Linux), so that
    reaping them adds their CPU time to RUSAGE_CHILDREN: feedd's worker processes are
    children of multiprocessing's fork server, not of feedd."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_child_subreaper = 36
    libc.prctl(pr_set_child_subreaper, 1, 0, 0, 0)


def session_rss_mb(session: int) -> tuple[float, list[int]]:
    """Memory of every process of a session (MB), and their pids (from /proc).

    The private pages of each process plus one copy of the pages they share
    (libraries), from /proc/PID/statm: a sum of RSS would count the worker
    processes' libraries once per process. (smaps_rollup's PSS would be exact,
    but walking a process's page tables four times a second slowed the daemon
    measurably.)
    """
    private, shared, pids = 0, 0, []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) != session or fields[0] == "Z":  # field 6: the session id
                continue
            resident, in_files = (
                int(x) for x in Path(entry.path, "statm").read_text().split()[1:3]
            )
        except (OSError, IndexError, ValueError):
            continue
        private += resident - in_files
        shared = max(shared, in_files)
        pids.append(int(entry.name))
    return (private + shared) * os.sysconf("SC_PAGE_SIZE") / 2**20, pids


def run_measured(
    command: list[str],
    *,
    seconds: float | None = None,
    sample: Callable[[float], None] | None = None,
) -> Child:
    """Run a command (with SIGTERM after `seconds`, if given) and every process it starts,
    to their end: wall time, CPU time of the whole tree, peak RSS of the tree."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryFile("w+") as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=CHILD_ENV,
            cwd=tempfile.gettempdir(),  # not a checkout: `-m feedd` must import the chosen one
        )
        peak = main_peak = 0.0
        next_sample = started + 1.0
        next_scan, rss = started, 0.0
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            now = time.perf_counter()
            if now >= next_scan:  # a scan of /proc costs the driver CPU: 4 a second
                rss, _ = session_rss_mb(process.pid)
                peak = max(peak, rss)
                next_scan = now + 0.25
            if seconds is not None and now - started > seconds:
                process.send_signal(signal.SIGTERM)
                seconds = None
            if sample is not None and now >= next_sample:
                sample(rss)
                next_sample += 1.0
            time.sleep(0.02)
        wall = time.perf_counter() - started
        main_peak = usage.ru_maxrss / 1024
        # The fork server and the workers outlive feedd by a moment: reap them too.
        deadline = time.perf_counter() + 10
        while session_rss_mb(process.pid)[1] and time.perf_counter() < deadline:
            with contextlib.suppress(ChildProcessError):
                while os.waitpid(-1, os.WNOHANG)[0]:
                    pass
            time.sleep(0.02)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        out.seek(0)
        return Child(
            wall,
            (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
            peak,
            main_peak,
            os.waitstatus_to_exitcode(status),
            out.read(),
        )


def counts(db: Path) -> tuple[int, int]:
    """(articles, items) in a feedd database."""
    # closing(): a connection's own context manager does not close it, and an open
    # reader would hold a WAL snapshot that the daemon's checkpoints wait for.
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        articles = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
        items = conn.execute("SELECT count(*) FROM article_feeds").fetchone()[0]
    return articles, items


def db_size(path: Path) -> float:
    total = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    return total / 2**20


def poll_seconds(output: str) -> float | None:
    """The poll phase of ``feedd fetch`` (its totals line: '... in 1.23 s')."""
    for line in reversed(output.splitlines()):
        if " feeds: " in line and line.endswith(" s") and " in " in line:
            return float(line.rsplit(" in ", 1)[1].removesuffix(" s"))
    return None


class Feedd:
    """One feedd database and config against one server."""

    def __init__(self, folder: Path, urls: list[str]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.config = write_config(folder, urls)
        self.db = folder / "feedd.db"
        self.feeds = len(urls)

    def fetch(self, scenario: str) -> Figures:
        before = counts(self.db)[1] if self.db.exists() else 0
        child = run_measured([*FEEDD, "fetch", "-c", str(self.config)])
        if child.status not in (0, 1):
            raise SystemExit(f"feedd fetch failed ({child.status}):\n{child.output[-3000:]}")
        after = counts(self.db)[1]
        polled = poll_seconds(child.output)
        return Figures(
            scenario,
            "feedd",
            self.feeds,
            child.wall,
            child.cpu,
            child.main_rss_mb,
            after - before,
            db_size(self.db),
            poll_wall=polled,
            tree_mb=child.peak_rss_mb,
        )


def reader_pass(
    python: str, folder: Path, urls_file: Path, scenario: str, *, search: bool
) -> Figures:
    """One reader process over the URLs: plain (``update_feeds`` only) or with
    search (``update_search()`` after it, as feedd keeps its FTS in the same
    transaction as the articles). Its own database per set-up."""
    tool = "reader+search" if search else "reader"
    db = folder / f"{tool}.sqlite"
    child = run_measured(
        [
            python,
            str(ROOT / "bench" / "perf_reader.py"),
            "--urls",
            str(urls_file),
            "--db",
            str(db),
            "--workers",
            "4",  # reader parses and stores on one thread; more workers gain nothing here
            *(["--search"] if search else []),
        ]
    )
    if child.status != 0:
        raise SystemExit(f"reader failed ({child.status}):\n{child.output[-3000:]}")
    report = json.loads(child.output.strip().splitlines()[-1])
    wall = report["update_s"] + (report.get("search_s") or 0)
    return Figures(
        scenario,
        tool,
        report["feeds"],
        child.wall,
        child.cpu,
        child.main_rss_mb,
        report["entries_new"],
        report["db_bytes"] / 2**20,
        poll_wall=wall,
        tree_mb=child.peak_rss_mb,
    )


def realworld_round(
    corpus: Path, folder: Path, run: int, reader_python: str | None
) -> list[Figures]:
    """Scenarios 1-4, 7 and 6 on the real-world set, 1-3 with reader (plain) and 1
    with reader+search, and 8 (all-304 at 10 copies of the set)."""
    figures = []
    server = Server(corpus, folder)
    try:
        feedd = Feedd(folder / "feedd", server.urls)
        figures.append(feedd.fetch("1 cold"))
        figures.append(feedd.fetch("2 all-304"))
        server.control("validators", on=0)
        figures.append(feedd.fetch("3 same-body"))
        server.control("validators", on=1)
        server.control("bump", fraction=0.05, seed=run)
        figures.append(feedd.fetch("4 5%-new"))
        server.control("touch")
        figures.append(feedd.fetch("7 changed-body"))
        if reader_python:
            # A fresh server state for reader: no new items, validators on.
            server.close()
            server = Server(corpus, folder)
            for name in ("1 cold", "2 all-304"):
                figures.append(
                    reader_pass(reader_python, folder, server.urls_file, name, search=False)
                )
            server.control("validators", on=0)
            figures.append(
                reader_pass(reader_python, folder, server.urls_file, "3 same-body", search=False)
            )
            server.control("validators", on=1)
            figures.append(
                reader_pass(reader_python, folder, server.urls_file, "1 cold", search=True)
            )
        server.control("latency", ms=100)
        slow = Feedd(folder / "feedd-latency", server.urls)
        figures.append(slow.fetch("6 cold +100ms"))
        figures.append(slow.fetch("6 all-304 +100ms"))
    finally:
        server.close()
    figures.append(all_304_at_scale(corpus, folder / "scale304", copies=10))
    return figures


def all_304_at_scale(corpus: Path, folder: Path, copies: int) -> Figures:
    """Scenario 8: ``feedd fetch`` of copies x 261 feeds that all answer 304, the
    second fetch of a database that knows them (the first writes their rows)."""
    server = Server(corpus, folder, copies=copies)
    server.control("unchanged", on=1)
    try:
        feedd = Feedd(folder / "feedd", server.urls)
        feedd.fetch("8 all-304 (setup)")
        return feedd.fetch(f"8 all-304, {len(server.urls):,} feeds")
    finally:
        server.close()


@dataclass(frozen=True)
class Floor:
    """feedparser alone on the bodies the server sends (copy 0), in this process."""

    entries: int
    feedparser_cpu: float  # feedparser.parse, its defaults
    parse_feed_cpu: float  # feedd.parse.parse_feed: what feedd's digest starts with
    touched_cpu: float  # feedparser.parse of the bodies after a touch (scenario 7)


def parse_floor(corpus: Path, repeat: int = 3) -> Floor:
    """The stack's floor for cold ingest: CPU seconds of a whole parse of every
    real-world body (the best of `repeat` passes)."""
    import feedparser  # type: ignore[import-untyped]
    import perf_server

    from feedd.parse import parse_feed

    originals = perf_server.load(corpus)
    bodies = [o.body for o in originals]
    touched = [perf_server.touch(o, 1) for o in originals]
    entries = sum(len(feedparser.parse(body).entries) for body in bodies)

    def best(work: Callable[[], object]) -> float:
        times = []
        for _ in range(repeat):
            started = time.process_time()
            work()
            times.append(time.process_time() - started)
        return min(times)

    def parse_all(which: list[bytes]) -> None:
        for body in which:
            feedparser.parse(body)

    def parse_feed_all() -> None:
        for body in bodies:
            with contextlib.suppress(Exception):
                parse_feed(body, url="http://127.0.0.1/feed")

    return Floor(
        entries,
        best(lambda: parse_all(bodies)),
        best(parse_feed_all),
        best(lambda: parse_all(touched)),
    )


def tick_round(
    corpus: Path, folder: Path, feeds: int, seconds: float, *, unchanged: bool = False
) -> dict[str, object]:
    """Scenario 5: ``feedd run`` with `feeds` feeds for `seconds`, from an empty database;
    `unchanged`: the server answers 304 to every request (the sweep of a daemon whose
    feeds have not changed, without ingesting them first)."""
    copies = -(-feeds // 261)
    server = Server(corpus, folder, copies=copies)
    if unchanged:
        server.control("unchanged", on=1)
    try:
        feedd = Feedd(folder / f"tick-{feeds}", server.urls[:feeds])
        started = time.perf_counter()
        samples: list[tuple[float, float, int]] = []  # (seconds, tree RSS MB, feeds polled)

        def sample(rss_mb: float) -> None:
            samples.append((time.perf_counter() - started, rss_mb, polled(feedd.db)))

        child = run_measured(
            [*FEEDD, "run", "-c", str(feedd.config)], seconds=seconds, sample=sample
        )
        done = polled(feedd.db)
        articles, items = counts(feedd.db)
        # Steady rate: from the first sample with a poll done to the end (start-up
        # reads the config and writes N feed rows first).
        first = next(((t, n) for t, _, n in samples if n), (child.wall, 0))
        # ... to the end, or to the sample that saw every feed polled.
        last = next(((t, n) for t, _, n in samples if n >= feeds), (seconds, done))
        steady = (last[1] - first[1]) / (last[0] - first[0]) if last[0] > first[0] else 0.0
        return {
            "feeds": feeds,
            "server": "304 to everything" if unchanged else "real-world copies",
            "seconds": round(seconds, 1),
            "startup_seconds": round(first[0], 1),
            "polled": done,
            "polled_per_s": round(steady, 1),
            "items": items,
            "articles": articles,
            "items_per_s": round(items / max(seconds - first[0], 1e-9), 1),
            "cpu_seconds": round(child.cpu, 1),
            "cpu_percent_of_one_core": round(100 * child.cpu / child.wall),
            "peak_rss_mb": round(child.peak_rss_mb, 1),
            "main_rss_mb": round(child.main_rss_mb, 1),
            "rss_mb_by_second": [round(rss) for _, rss, _ in samples],
            "polled_by_second": [n for _, _, n in samples],
            "exit": child.status,
            "db_mb": round(db_size(feedd.db), 1),
        }
    finally:
        server.close()


def polled(db: Path) -> int:
    """Feeds fetched at least once (0 while the database is not there yet)."""
    if not db.exists():
        return 0
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
            row = conn.execute("SELECT count(*) FROM feeds WHERE last_fetched_at IS NOT NULL")
            return int(row.fetchone()[0])
    except sqlite3.OperationalError:
        return 0  # the schema is being created


def tick_claim(folder: Path, feeds: int, calls: int = 200) -> dict[str, float]:
    """The daemon's claim query (Store.due_feeds) on a database of `feeds` feeds:
    all due (a fresh start) and 1% due (steady state). Milliseconds per call."""
    import random
    from datetime import UTC, datetime, timedelta

    from feedd.config import load_config
    from feedd.store.sqlite import SQLiteStore as Store
    from feedd.types import format_timestamp

    (folder / f"claim-{feeds}").mkdir(parents=True, exist_ok=True)
    config_path = write_config(
        folder / f"claim-{feeds}", [f"http://f{n}.example/" for n in range(feeds)]
    )
    config = load_config(config_path)
    store = Store(config.database)
    now = datetime.now(UTC)
    store.sync_feeds(config.feeds, now)
    results = {}
    rng = random.Random(1)
    for case in ("all due", "1% due"):
        if case == "1% due":
            with store.transaction():
                store.conn.executemany(
                    "UPDATE feeds SET next_fetch_at = ? WHERE id = ?",
                    (
                        (
                            format_timestamp(
                                now + timedelta(seconds=-1 if rng.random() < 0.01 else 3600)
                            ),
                            n,
                        )
                        for n in range(1, feeds + 1)
                    ),
                )
        timings = []
        for _ in range(calls):
            started = time.perf_counter()
            store.due_feeds(now, 16, ())
            timings.append((time.perf_counter() - started) * 1000)
        results[case] = round(statistics.median(timings), 3)
    store.close()
    return results


def medians(figures: list[Figures]) -> list[Figures]:
    """One Figures per (scenario, tool): the median of each figure over the runs."""
    groups: dict[tuple[str, str], list[Figures]] = {}
    for figure in figures:
        groups.setdefault((figure.scenario, figure.tool), []).append(figure)
    merged = []
    for (scenario, tool), group in groups.items():
        polls = [f.poll_wall for f in group if f.poll_wall is not None]
        merged.append(
            Figures(
                scenario,
                tool,
                group[0].feeds,
                statistics.median(f.wall for f in group),
                statistics.median(f.cpu for f in group),
                statistics.median(f.peak_rss_mb for f in group),
                int(statistics.median(f.new_entries for f in group)),
                statistics.median(f.db_mb for f in group),
                statistics.median(polls) if polls else None,
                statistics.median(f.tree_mb for f in group),
            )
        )
    return merged


def table(figures: list[Figures]) -> str:
    lines = [
        "| scenario | tool | feeds | wall s | poll s | feeds/s | new entries | entries/s "
        "| CPU s | peak RSS MB | with workers MB | DB MB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for f in sorted(figures, key=lambda f: (f.scenario, f.tool)):
        lines.append(
            f"| {f.scenario} | {f.tool} | {f.feeds} | {f.wall:.2f} | "
            f"{f.poll_wall if f.poll_wall is not None else float('nan'):.2f} | "
            f"{f.feeds_per_s:,.0f} | {f.new_entries:,} | {f.entries_per_s:,.0f} | "
            f"{f.cpu:.2f} | {f.peak_rss_mb:.0f} | {f.tree_mb:.0f} | {f.db_mb:.1f} |"
        )
    return "\n".join(lines)


def ratios(figures: list[Figures]) -> str:
    by = {(f.scenario, f.tool): f for f in figures}
    lines = [
        "| scenario | against | feedd/other feeds/s | feedd/other entries/s | other/feedd CPU s |",
        "|---|---|---:|---:|---:|",
    ]
    for scenario, other in (
        ("1 cold", "reader"),
        ("1 cold", "reader+search"),
        ("2 all-304", "reader"),
        ("3 same-body", "reader"),
    ):
        ours, theirs = by.get((scenario, "feedd")), by.get((scenario, other))
        if ours is None or theirs is None:
            continue
        entries = (
            f"{ours.entries_per_s / theirs.entries_per_s:.1f}x" if theirs.entries_per_s else "-"
        )
        lines.append(
            f"| {scenario} | {other} | {ours.feeds_per_s / theirs.feeds_per_s:.1f}x | {entries} | "
            f"{theirs.cpu / ours.cpu:.1f}x |"
        )
    return "\n".join(lines)


def targets(figures: list[Figures], floor: Floor, ticks: list[dict[str, object]]) -> str:
    """Issue 21's bar, each figure beside its target. Rates here are on whole-process
    wall time (process start included), for feedd and reader alike."""
    by = {(f.scenario, f.tool): f for f in figures}
    rows = []

    def rate(f: Figures) -> float:
        return f.new_entries / f.wall

    cold = by.get(("1 cold", "feedd"))
    if cold:
        for other, goal in (("reader", 3.0), ("reader+search", 6.0)):
            theirs = by.get(("1 cold", other))
            if theirs:
                ratio = rate(cold) / rate(theirs)
                rows.append(
                    (
                        f"cold ingest vs {other}, entries/s",
                        f"{rate(cold):,.0f} vs {rate(theirs):,.0f}: {ratio:.2f}x",
                        f">= {goal:.0f}x",
                        ratio >= goal,
                    )
                )
        per_entry = 1000 * cold.cpu / max(cold.new_entries, 1)
        floor_entry = 1000 * floor.feedparser_cpu / floor.entries
        rows.append(
            (
                "CPU per new entry (tree, process start included) vs feedparser.parse",
                f"{per_entry:.2f} ms vs {floor_entry:.2f} ms: {per_entry / floor_entry:.2f}x",
                "<= 2x",
                per_entry / floor_entry <= 2,
            )
        )
    changed, unchanged = by.get(("7 changed-body", "feedd")), by.get(("2 all-304", "feedd"))
    if changed and unchanged:
        extra = changed.cpu - unchanged.cpu
        rows.append(
            (
                "changed body, no new item: CPU over an all-304 poll vs a whole parse",
                f"{extra:.2f} s vs {floor.touched_cpu:.2f} s: {extra / floor.touched_cpu:.2f}x",
                "<= 0.2x",
                extra / floor.touched_cpu <= 0.2,
            )
        )
    scale = next((f for f in figures if f.scenario.startswith("8 all-304, ")), None)
    if scale:
        rows.append(
            (
                f"all-304, {scale.feeds:,} feeds, feedd fetch (process start included)",
                f"{scale.feeds / scale.wall:,.0f} feeds/s ({scale.wall:.2f} s)",
                ">= 1,000 feeds/s",
                scale.feeds / scale.wall >= 1000,
            )
        )
    for tick in ticks:
        if tick["feeds"] == 50_000:
            mb = float(str(tick["peak_rss_mb"]))
            rows.append(
                (
                    f"tree memory, feedd run, 50,000 feeds ({tick['server']})",
                    f"{mb:.0f} MB, {tick['polled_per_s']} feeds/s",
                    "< 200 MB",
                    mb < 200,
                )
            )
    lines = ["| figure | measured | target | met |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {'yes' if d else 'no'} |" for a, b, c, d in rows]
    lines.append(
        f"\nparse floor: {floor.entries:,} entries; feedparser.parse {floor.feedparser_cpu:.2f} s "
        f"CPU, feedd's parse_feed {floor.parse_feed_cpu:.2f} s, after a touch "
        f"{floor.touched_cpu:.2f} s (best of 3, one process)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--runs", type=int, default=3, help="runs per scenario (medians)")
    parser.add_argument(
        "--scale",
        default="1000,10000,50000",
        help="feed counts for the tick-loop scenario, comma-separated ('' for none)",
    )
    parser.add_argument("--tick-seconds", type=float, default=60.0)
    parser.add_argument(
        "--tick-servers",
        default="real,unchanged",
        help="which tick rounds: 'real' (real-world copies), 'unchanged' (304 to all)",
    )
    parser.add_argument(
        "--fetch",
        action="append",
        default=[],
        help="a line for feedd's [fetch] table, e.g. 'fetchers = 2' (repeatable)",
    )
    parser.add_argument("--claim-feeds", type=int, default=100_000)
    parser.add_argument("--reader-python", default=DEFAULT_READER)
    parser.add_argument("--no-reader", action="store_true")
    parser.add_argument("--json", type=Path, help="write every figure there")
    parser.add_argument(
        "--feedd-src",
        type=Path,
        help="run the feedd package of this checkout (e.g. a git worktree of an older commit)",
    )
    args = parser.parse_args(argv)
    become_subreaper()
    FETCH_LINES.extend(args.fetch)
    if args.feedd_src:
        CHILD_ENV["PYTHONPATH"] = str(args.feedd_src.resolve())
    # As pip installs it: compiled. Where PYTHONDONTWRITEBYTECODE is set (or -B), every
    # feedd process and worker would compile feedd's source first (~0.07 s each).
    compileall.compile_dir((args.feedd_src or ROOT) / "feedd", quiet=1)
    if not (args.corpus / "realworld" / "INDEX.tsv").exists():
        print(f"perf: no corpus at {args.corpus} (pass --corpus or set FEEDD_CORPUS)")
        return 2
    reader_python = (
        None if args.no_reader or not Path(args.reader_python).exists() else args.reader_python
    )
    if reader_python is None and not args.no_reader:
        print(
            f"perf: no reader interpreter at {args.reader_python}: feedd only (see perf_reader.py)"
        )
    report: dict[str, object] = {"machine": machine(), "fetch": args.fetch}
    floor = parse_floor(args.corpus) if args.runs else Floor(1, 1.0, 1.0, 1.0)
    report["floor"] = asdict(floor)
    with tempfile.TemporaryDirectory(prefix="feedd-perf-") as tmp:
        folder = Path(tmp)
        everything: list[Figures] = []
        for run in range(1, args.runs + 1):
            round_figures = realworld_round(args.corpus, folder / f"run{run}", run, reader_python)
            everything += round_figures
            print(f"run {run}/{args.runs}:\n{table(round_figures)}\n", flush=True)
        merged = medians(everything)
        print(f"medians of {args.runs} runs:\n{table(merged)}\n\n{ratios(merged)}\n", flush=True)
        report["runs"] = [asdict(f) for f in everything]
        report["medians"] = [asdict(f) for f in merged]
        ticks = []
        for feeds in [int(n) for n in args.scale.split(",") if n]:
            servers = args.tick_servers.split(",")
            for unchanged in [
                kind == "unchanged" for kind in ("real", "unchanged") if kind in servers
            ]:
                result = tick_round(
                    args.corpus,
                    folder / f"tick{feeds}-{unchanged}",
                    feeds,
                    args.tick_seconds,
                    unchanged=unchanged,
                )
                ticks.append(result)
                shown = {k: v for k, v in result.items() if not k.endswith("by_second")}
                print(f"5 tick loop: {json.dumps(shown)}", flush=True)
        report["tick"] = ticks
        if args.claim_feeds:
            claim = tick_claim(folder, args.claim_feeds)
            report["claim_ms"] = claim
            print(f"tick claim at {args.claim_feeds:,} feeds (median ms): {claim}")
        print(f"\ntargets (issue 21):\n{targets(merged, floor, ticks)}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1), encoding="utf-8")
    return 0


def machine() -> dict[str, object]:
    import platform

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "memory_gb": round(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30),
    }


if __name__ == "__main__":
    sys.exit(main())
