"""Several feedd pollers on one PostgreSQL database: throughput, claim latency, a killed poller.

    python bench/cluster.py [--quick] [--copies 10[,100]] [--pollers 1,2,3]
                            [--claim-feeds 1000000] [--claim-calls 200]
                            [--skip throughput,sqlite,claim,killed] [--timeout S]
                            [--postgres-url URL] [--keep] [--json FILE]

    python bench/cluster.py --quick          # a smoke test: a few minutes
    python bench/cluster.py --copies 10,100  # the sweep to 26,100 feeds as well

The real ``feedd run`` (separate processes, each with its worker processes)
against bench/perf_server.py (the 261 real-world feeds, --copies times, over
256 loopback addresses) and a throwaway PostgreSQL server (tests/pgserver.py,
fsync off) unless --postgres-url names one (a database is created and dropped
there per scenario: the user needs CREATEDB). Each scenario gets a new database.

 1. throughput  1, 2, 3 pollers (--pollers) polling every feed once (interval
                1h, adaptive off, links not resolved): one owner poller with
                the feed list, the others ``[cluster] poll_only``. Wall time from
                the first poller's start until every feed has last_fetched_at
                (the database polled 5 times a second), feeds/s, the pollers'
                CPU (their rusage with their workers', reaped after SIGTERM)
                and PostgreSQL's (utime + stime of every ``postgres`` process,
                /proc, before and after), per poll; articles stored. The same
                with one poller on SQLite, and the 2/1 and 3/1 ratios.
 2. claim       ``due_feeds(now, 100)`` on --claim-feeds feed rows (1,000,000;
                generate_series, then VACUUM ANALYZE): all due and never fetched
                (next_fetch_at NULL), all due and overdue (an hour's backlog), 1%
                due (the others an hour or more ahead). Each claimed batch is then
                recorded as polled (next_fetch_at an hour on, lease cleared;
                untimed), and in the 1% case as many other feeds made due, so
                every claim sees the same share of due feeds. Median and p95 ms,
                and EXPLAIN (ANALYZE, BUFFERS) of the store's own claim statement
                (its constant, with the parameters due_feeds passes; rolled back).
 3. killed      2 pollers, ``[cluster] lease = "10s"``; the owner's process group
                SIGKILLed when 30% of the feeds are polled; run until every feed
                is polled. Requests per feed at the server (/_ctl/hits): the
                feeds requested twice against those the dead poller held at the
                kill, the delay from the kill to their second request, and the
                longest a feed waited past its due time (its creation: never
                fetched) against interval + lease.

--quick: copies 2, 1 and 2 pollers, the claim at 100,000 feeds (a few
minutes). Figures are printed as markdown tables; --json writes them all.
Every figure is a measurement, none an assertion: the script exits 0 unless a
scenario could not run (a poller died, a timeout). Temporary files live in
/tmp/cluster-bench-*, deleted at the end unless --keep.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import perf
from corpus_run import DEFAULT_CORPUS, ROOT

sys.path.insert(0, str(ROOT / "tests"))
import pgserver  # tests/ is on the path from here on

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# The pollers' environment: no systemd notify socket (the driver may run under systemd).
POLLER_ENV = {k: v for k, v in perf.CHILD_ENV.items() if k != "NOTIFY_SOCKET"}
SAMPLE_SECONDS = 0.2


# -- processes


def proc_stat(pid: int | str) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (field 3, the state, first)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def postgres_cpu() -> float | None:
    """CPU seconds of the PostgreSQL server: user + system of the postmaster and
    its backends and workers, plus the postmaster's reaped children (a backend
    that exited, e.g. a poller's closed connection, is counted there).

    The throwaway server's postmaster is this process's child: only its tree
    counts (the test suite may run servers of its own beside this). With
    --postgres-url, every ``postgres`` process visible here; None when there is
    none (a server on another machine)."""
    me = os.getpid()
    servers: dict[int, tuple[int, int]] = {}  # pid -> (parent, clock ticks)
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        # Backends rewrite their title (argv), not their command name.
        if text[text.find("(") + 1 : text.rfind(")")] != "postgres":
            continue
        fields = text.rsplit(")", 1)[1].split()
        servers[int(entry.name)] = (int(fields[1]), sum(int(x) for x in fields[11:15]))
    ours = {pid for pid, (parent, _) in servers.items() if parent == me}
    if ours:
        servers = {pid: v for pid, v in servers.items() if pid in ours or v[0] in ours}
    if not servers:
        return None
    return sum(ticks for _, ticks in servers.values()) / CLOCK_TICKS


def machine_cpu() -> float:
    """CPU seconds the whole machine has spent busy (every core, /proc/stat): beside
    the processes measured, what else ran during a scenario (other jobs share the
    cores and slow it down)."""
    values = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values[:8]) - idle) / CLOCK_TICKS


class Poller:
    """One ``feedd run`` in its own session (its workers share the session id)."""

    def __init__(self, name: str, config: Path, log: Path) -> None:
        self.name = name
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [*perf.FEEDD, "run", "-c", str(config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=POLLER_ENV,
                cwd=config.parent,  # not a checkout: `-m feedd` imports the installed one
            )
        self.pid = self.process.pid
        self.cpu = 0.0  # filled in by reap()
        self.status: int | None = None

    def exited(self) -> bool:
        """Whether the main process has ended (a zombie: reap() collects it later,
        with its rusage; Popen.poll would reap it and lose that)."""
        fields = proc_stat(self.pid)
        return fields is None or fields[0] == "Z"


def reap(pollers: list[Poller], timeout: float = 60.0) -> None:
    """Wait for every process of the pollers' sessions and add each one's CPU time
    (user + system, with the children it reaped itself) to its poller.

    feedd's worker processes are children of multiprocessing's fork server,
    which outlives feedd by a moment: as a subreaper (perf.become_subreaper)
    this process inherits and reaps them, so each poller's figure is the CPU
    of its whole tree."""
    sessions = {p.pid: p for p in pollers}
    me = os.getpid()
    deadline = time.monotonic() + timeout
    while True:
        remaining = []
        for entry in os.scandir("/proc"):
            fields = proc_stat(entry.name) if entry.name.isdigit() else None
            if fields is None or int(fields[3]) not in sessions:
                continue
            remaining.append(int(entry.name))
            if int(fields[1]) != me:
                continue  # its parent (feedd, the fork server) reaps it
            with contextlib.suppress(ChildProcessError):
                pid, status, usage = os.wait4(int(entry.name), os.WNOHANG)
                if pid:
                    poller = sessions[int(fields[3])]
                    poller.cpu += usage.ru_utime + usage.ru_stime
                    if pid == poller.pid:
                        poller.status = os.waitstatus_to_exitcode(status)
        if not remaining:
            return
        if time.monotonic() > deadline:  # a stuck stop: its CPU is lost, say so in the log
            for pid in remaining:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + timeout
        time.sleep(0.02)


def log_summary(pollers: list[Poller]) -> dict[str, object]:
    """What the pollers logged (level warning and up, one JSON object a line):
    counts by level, leases lost, and the distinct messages (numbers as N)."""
    levels: Counter[str] = Counter()
    messages: Counter[str] = Counter()
    for poller in pollers:
        for line in poller.log.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
                level, message = str(record.get("level")), str(record.get("message"))
            except (ValueError, AttributeError):
                level, message = "unstructured", line  # e.g. a traceback before logging
            levels[level] += 1
            messages[f"{level}: {re.sub(r'[0-9]+', 'N', message)[:160]}"] += 1
    return {
        "by_level": dict(levels),
        # The renewal thread's word for it, and a poll's when its write was refused.
        "leases_lost": sum(
            n
            for m, n in messages.items()
            if "lost the lease" in m or "lease lost" in m or "another poller claimed it" in m
        ),
        "messages": dict(messages.most_common(8)),
    }


# -- databases


class Databases:
    """Creates a database per scenario on one server and drops it afterwards."""

    def __init__(self, server_url: str) -> None:
        import psycopg

        self.server_url = server_url
        self.admin = psycopg.connect(server_url, autocommit=True)

    def url(self, name: str) -> str:
        return urlsplit(self.server_url)._replace(path="/" + name).geturl()

    @contextlib.contextmanager
    def fresh(self, name: str, keep: bool = False) -> Iterator[str]:
        # Identifiers from this script only (letters, digits, _): no quoting needed.
        self.admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        self.admin.execute(f"CREATE DATABASE {name}")
        try:
            yield self.url(name)
        finally:
            if not keep:
                self.admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def close(self) -> None:
        self.admin.close()


class Progress:
    """How many feeds have been polled (last_fetched_at set), from either backend."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.conn = None
        if database.startswith("postgresql://"):
            import psycopg

            self.conn = psycopg.connect(database, autocommit=True)

    def polled(self) -> int:
        if self.conn is None:
            return perf.polled(Path(self.database))
        import psycopg

        try:
            row = self.conn.execute(
                "SELECT count(*) FROM feeds WHERE last_fetched_at IS NOT NULL"
            ).fetchone()
        except psycopg.errors.UndefinedTable:
            return 0  # the first poller has not created the schema yet
        return int(row[0]) if row else 0

    def query(self, sql: str, *params: object) -> list[tuple[object, ...]]:
        assert self.conn is not None
        return self.conn.execute(sql, params).fetchall()

    def counts(self) -> tuple[int, int]:
        """(articles, items)."""
        if self.conn is None:
            return perf.counts(Path(self.database))
        [(articles, items)] = self.query(
            "SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM article_feeds)"
        )
        return int(articles), int(items)  # type: ignore[call-overload]

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


def write_config(
    path: Path,
    database: str,
    urls: list[str],
    *,
    name: str,
    poll_only: bool = False,
    lease: str = "90s",
    concurrency: int = 16,
) -> Path:
    """perf.py's settings (feedd's default concurrency and workers, loopback allowed,
    links not resolved: no network here), every feed due once an hour, JSON logs."""
    lines = [
        f'database = "{database}"',
        "",
        "[fetch]",
        "allow_private_networks = true",
        'timeout = "60s"',
        f"concurrency = {concurrency}",
        # Each feed polled once in a run: the schedule must not bring any back.
        'interval = "1h"',
        "adaptive = false",
        "",
        "[links]",
        'resolve = "off"',
        "",
        "[log]",
        'level = "warning"',
        'format = "json"',
        "",
    ]
    if database.startswith("postgresql://"):
        lines += ["[cluster]", f'lease = "{lease}"', f"poll_only = {str(poll_only).lower()}"]
        lines += [f'name = "{name}"', ""]
    for url in urls:
        lines += ["[[feeds]]", f'url = "{url}"', ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def start_pollers(
    folder: Path, database: str, urls: list[str], count: int, **settings: object
) -> list[Poller]:
    """One owner poller with the feed list, count - 1 poll-only ones."""
    pollers = []
    for n in range(1, count + 1):
        name = f"poller-{n}"
        config = write_config(
            folder / f"{name}.toml",
            database,
            urls if n == 1 else [],
            name=name,
            poll_only=n > 1,
            **settings,  # type: ignore[arg-type]
        )
        pollers.append(Poller(name, config, folder / f"{name}.log"))
    return pollers


def wait_until(check: Callable[[], bool], pollers: list[Poller], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        dead = [p for p in pollers if p.exited()]
        if dead:
            raise ScenarioFailed(f"{dead[0].name} exited while waiting for {what}", pollers)
        if time.monotonic() > deadline:
            raise ScenarioFailed(f"timed out after {timeout:.0f} s waiting for {what}", pollers)
        time.sleep(SAMPLE_SECONDS)


class ScenarioFailed(Exception):
    def __init__(self, message: str, pollers: list[Poller]) -> None:
        tails = "\n".join(
            f"--- {p.name} ({p.log}):\n{p.log.read_text(errors='replace')[-1500:]}" for p in pollers
        )
        super().__init__(f"{message}\n{tails}")


def stop(pollers: list[Poller]) -> None:
    for poller in pollers:
        if not poller.exited():
            poller.process.send_signal(signal.SIGTERM)
    reap(pollers)


# -- 1. throughput


@dataclass
class Throughput:
    backend: str
    pollers: int
    copies: int
    feeds: int
    wall: float  # first poller started -> every feed polled
    startup: float  # first poller started -> first feed polled
    poll_rate: float  # feeds/s between the first poll and the last
    poller_cpu: float  # seconds, every poller's whole life (start-up and stop included)
    poller_cpu_each: list[float]
    postgres_cpu: float | None  # seconds, first start -> every feed polled
    server_cpu: float  # the feed server's, same span
    machine_cpu: float  # every process of the machine, same span (others' jobs too)
    articles: int
    items: int
    requests: int
    requested_again: int  # feeds requested more than once (none expected)
    logs: dict[str, object] = field(default_factory=dict)

    @property
    def feeds_per_s(self) -> float:
        return self.feeds / self.wall

    @property
    def other_cpu(self) -> float:
        """CPU of processes that are not this benchmark's (roughly: the pollers'
        start-up and stop fall outside the machine's span)."""
        return max(
            self.machine_cpu - self.poller_cpu - (self.postgres_cpu or 0) - self.server_cpu, 0.0
        )

    def busy(self, cores: int) -> float:
        """Share of the machine's cores the pollers, PostgreSQL and the server used."""
        used = self.poller_cpu + (self.postgres_cpu or 0) + self.server_cpu
        return used / (self.wall * cores)

    def machine_busy(self, cores: int) -> float:
        """Share of the machine's cores busy, whoever used them."""
        return self.machine_cpu / (self.wall * cores)


def throughput(
    args: argparse.Namespace,
    folder: Path,
    databases: Databases | None,
    copies: int,
    count: int,
) -> Throughput:
    backend = "postgresql" if databases else "sqlite"
    folder = folder / f"{backend}-{copies}x-{count}"
    folder.mkdir(parents=True)
    server = perf.Server(args.corpus, folder, copies=copies, hosts=args.hosts)
    try:
        with contextlib.ExitStack() as stack:
            if databases is not None:
                database = stack.enter_context(
                    databases.fresh(f"feedd_bench_{copies}x_{count}", keep=args.keep)
                )
            else:
                database = str(folder / "feedd.db")
            progress = Progress(database)
            stack.callback(progress.close)
            total = len(server.urls)
            server_before = float(server.control("stats")["cpu_seconds"])  # type: ignore[arg-type]
            postgres_before = postgres_cpu() if databases else None
            machine_before = machine_cpu()
            started = time.perf_counter()
            pollers = start_pollers(folder, database, server.urls, count)
            try:
                first: tuple[float, int] | None = None

                def all_polled() -> bool:
                    nonlocal first
                    polled = progress.polled()
                    if first is None and polled:
                        first = (time.perf_counter(), polled)
                    return polled >= total

                wait_until(all_polled, pollers, args.timeout, f"{total} feeds polled")
                done = time.perf_counter()
                machine_after = machine_cpu()
                postgres_after = postgres_cpu() if databases else None
                server_after = float(server.control("stats")["cpu_seconds"])  # type: ignore[arg-type]
            finally:
                stop(pollers)
            assert first is not None
            articles, items = progress.counts()
            hits = server.control("hits")["hits"]
            assert isinstance(hits, dict)
            return Throughput(
                backend,
                count,
                copies,
                total,
                done - started,
                first[0] - started,
                (total - first[1]) / max(done - first[0], 1e-9),
                sum(p.cpu for p in pollers),
                [round(p.cpu, 2) for p in pollers],
                None
                if postgres_before is None or postgres_after is None
                else postgres_after - postgres_before,
                server_after - server_before,
                machine_after - machine_before,
                articles,
                items,
                sum(hits.values()),
                sum(1 for n in hits.values() if n > 1),
                log_summary(pollers),
            )
    finally:
        server.close()


def throughput_table(runs: list[Throughput]) -> str:
    lines = [
        "| backend | pollers | feeds | wall s | start-up s | feeds/s (wall) "
        "| feeds/s (poll phase) | poller CPU s | poller CPU ms/poll | PostgreSQL CPU s "
        "| PostgreSQL ms/poll | server CPU s | others' CPU s | cores busy: ours / all "
        "| articles | items | requests | fetched twice | log lines |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    cores = os.cpu_count() or 1
    for r in runs:
        pg = "-" if r.postgres_cpu is None else f"{r.postgres_cpu:.1f}"
        pg_ms = "-" if r.postgres_cpu is None else f"{1000 * r.postgres_cpu / r.feeds:.1f}"
        levels = r.logs.get("by_level") or {}
        assert isinstance(levels, dict)
        logged = ", ".join(f"{n} {level}" for level, n in levels.items()) or "none"
        lines.append(
            f"| {r.backend} | {r.pollers} | {r.feeds:,} | {r.wall:.1f} | {r.startup:.1f} "
            f"| {r.feeds_per_s:.1f} | {r.poll_rate:.1f} | {r.poller_cpu:.1f} "
            f"| {1000 * r.poller_cpu / r.feeds:.1f} | {pg} | {pg_ms} | {r.server_cpu:.1f} "
            f"| {r.other_cpu:.1f} | {r.busy(cores):.0%} / {r.machine_busy(cores):.0%} "
            f"| {r.articles:,} | {r.items:,} | {r.requests:,} "
            f"| {r.requested_again} | {logged} |"
        )
    return "\n".join(lines)


def progress_line(r: Throughput) -> str:
    return (
        f"throughput: {r.backend}, {r.pollers} poller(s), {r.feeds:,} feeds: {r.wall:.1f} s, "
        f"{r.feeds_per_s:.1f} feeds/s, others' CPU {r.other_cpu:.1f} s"
    )


def scaling(runs: list[Throughput]) -> list[str]:
    """The n/1 poller ratios on PostgreSQL, and why they fall short where they do."""
    cores = os.cpu_count() or 1
    notes = []
    for copies in sorted({r.copies for r in runs}):
        by = {r.pollers: r for r in runs if r.backend == "postgresql" and r.copies == copies}
        one = by.get(1)
        if one is None:
            continue
        for n, run in sorted(by.items()):
            if n == 1:
                continue
            wall = run.feeds_per_s / one.feeds_per_s
            phase = run.poll_rate / one.poll_rate
            note = (
                f"copies {copies}: {n} pollers / 1 = {wall:.2f}x feeds/s over the wall time, "
                f"{phase:.2f}x over the poll phase (target for 2: >= 1.7x where CPU-bound)."
            )
            if phase < 1.7:
                note += (
                    f" With 1 poller the {cores} cores were {100 * one.machine_busy(cores):.0f}% "
                    f"busy (pollers {one.poller_cpu:.1f} s, PostgreSQL "
                    f"{one.postgres_cpu or 0:.1f} s, feed server {one.server_cpu:.1f} s, "
                    f"other processes {one.other_cpu:.1f} s of CPU in {one.wall:.1f} s), "
                    f"with {n}: {100 * run.machine_busy(cores):.0f}% (others "
                    f"{run.other_cpu:.1f} s)"
                )
                note += (
                    ": little idle CPU was left for more pollers; they, PostgreSQL and the "
                    "feed server share the same cores."
                    if run.machine_busy(cores) > 0.8
                    else ": CPU was left idle; the limit is elsewhere (the claim, per-host "
                    "slots, the tick, the single writer of each poller)."
                )
            notes.append(note)
    sqlite = next((r for r in runs if r.backend == "sqlite"), None)
    one = next((r for r in runs if r.backend == "postgresql" and r.pollers == 1), None)
    if sqlite and one and sqlite.copies == one.copies:
        notes.append(
            f"copies {one.copies}: 1 poller on PostgreSQL / SQLite = "
            f"{one.poll_rate / sqlite.poll_rate:.2f}x feeds/s (poll phase); poller CPU per "
            f"poll {1000 * one.poller_cpu / one.feeds:.1f} ms against "
            f"{1000 * sqlite.poller_cpu / sqlite.feeds:.1f} ms, plus PostgreSQL's "
            f"{1000 * (one.postgres_cpu or 0) / one.feeds:.1f} ms."
        )
    return notes


# -- 2. claim latency


def claim_sql() -> tuple[str, str]:
    """The claim statement of PostgresStore.due_feeds and where it comes from."""
    from feedd.store.postgres import feeds as module

    sql = getattr(module, "_CLAIM_DUE", None)
    if isinstance(sql, str):
        return sql, "feedd.store.postgres.feeds._CLAIM_DUE, as due_feeds runs it"
    raise SystemExit("cluster: no _CLAIM_DUE in feedd.store.postgres.feeds: update claim_sql()")


# The cases of the claim: next_fetch_at for feed g of n (an SQL expression).
# Whole seconds, as feedd writes them (ties are as common as on a real database).
CLAIM_CASES = {
    # A fresh database: nothing fetched yet (NULL sorts first in feeds_due).
    "all due, never fetched": "NULL",
    # A backlog (the pollers were down for an hour): every feed overdue.
    "all due, overdue": "now() - interval '1 hour' + (g %% 3600) * interval '1 second'",
    # Steady state: every 100th feed due up to an hour ago, spread over the
    # table (one heap page per due feed); the others in 1 to 2 hours.
    "1% due": """CASE WHEN g %% 100 = 0 THEN now() - ((g / 100) %% 3600) * interval '1 second'
                 ELSE now() + interval '1 hour' + (g %% 3600) * interval '1 second' END""",
}


def claim_latency(databases: Databases, feeds: int, calls: int, keep: bool) -> dict[str, object]:
    import psycopg

    from feedd.store import open_store

    result: dict[str, object] = {"feeds": feeds, "calls": calls, "limit": 100}
    with (
        databases.fresh("feedd_bench_claim", keep=keep) as url,
        psycopg.connect(url, autocommit=True) as conn,
    ):
        open_store(url, owner="bench-schema", lease_seconds=90).close()  # the schema
        rng = random.Random(1)
        for case, next_fetch_at in CLAIM_CASES.items():
            started = time.perf_counter()
            conn.execute("TRUNCATE feeds RESTART IDENTITY CASCADE")
            # next_fetch_at is one of CLAIM_CASES (this script's), no input.
            conn.execute(
                "INSERT INTO feeds (url, interval_seconds, created_at, enabled, "  # noqa: S608
                "next_fetch_at) SELECT 'http://feed' || g || '.example/rss', 3600, "
                f"date_trunc('second', now()) - interval '1 day', true, {next_fetch_at} "
                "FROM generate_series(1, %s) AS g",
                (feeds,),
            )
            # A bulk load has no planner statistics until autovacuum gets to it;
            # a table that has lived has them (and a visibility map).
            conn.execute("VACUUM ANALYZE feeds")
            load_seconds = time.perf_counter() - started
            store = open_store(url, owner="bench-claim", lease_seconds=90)
            timings, claimed = [], []
            try:
                for _ in range(calls):
                    begin = time.perf_counter()
                    due = store.due_feeds(datetime.now(UTC), 100)
                    timings.append((time.perf_counter() - begin) * 1000)
                    claimed.append(len(due))
                    # The polls end (untimed): next_fetch_at on, lease cleared, as
                    # record_poll would leave them; in the 1% case as many others
                    # come due, so the share of due feeds stays 1%.
                    ids = [f.id for f in due]
                    conn.execute(
                        "UPDATE feeds SET next_fetch_at = now() + interval '1 hour', "
                        "lease_owner = NULL, lease_until = NULL WHERE id = ANY(%s)",
                        (ids,),
                    )
                    if case == "1% due":
                        others = [n for n in rng.sample(range(1, feeds + 1), 110) if n % 100][:100]
                        conn.execute(
                            "UPDATE feeds SET next_fetch_at = now() - interval '1 second' "
                            "WHERE id = ANY(%s) AND next_fetch_at > now()",
                            (others[: len(ids)],),
                        )
            finally:
                store.close()
            ordered = sorted(timings)
            result[case] = {
                "median_ms": round(statistics.median(timings), 3),
                "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 3),
                "max_ms": round(ordered[-1], 3),
                "first_ms": round(timings[0], 3),
                "claimed_per_call": round(statistics.mean(claimed), 1),
                "load_seconds": round(load_seconds, 1),
                "explain": explain_claim(conn),
            }
    result["statement"] = claim_sql()[1]
    return result


def explain_claim(conn: Any) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of one claim of 100 with the store's statement and
    parameters, in a transaction rolled back (EXPLAIN ANALYZE runs the UPDATE)."""
    import psycopg

    sql, _ = claim_sql()
    params = {
        "owner": "bench-explain",
        "lease": 90.0,
        "now": datetime.now(UTC),
        "exclude": [],
        "limit": 100,
    }
    with conn.transaction():
        rows = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params).fetchall()
        raise psycopg.Rollback
    return "\n".join(str(row[0]) for row in rows)


def claim_table(claim: dict[str, object]) -> str:
    lines = [
        "| case | feeds | median ms | p95 ms | max ms | first call ms | feeds per claim |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for case in CLAIM_CASES:
        c = claim[case]
        assert isinstance(c, dict)
        lines.append(
            f"| {case} | {claim['feeds']:,} | {c['median_ms']:.2f} | {c['p95_ms']:.2f} "
            f"| {c['max_ms']:.2f} | {c['first_ms']:.2f} | {c['claimed_per_call']} |"
        )
    return "\n".join(lines)


# -- 3. a killed poller


def killed_poller(
    args: argparse.Namespace, folder: Path, databases: Databases, copies: int
) -> dict[str, object]:
    lease = 10.0
    folder = folder / f"killed-{copies}x"
    folder.mkdir(parents=True)
    server = perf.Server(args.corpus, folder, copies=copies, hosts=args.hosts)
    try:
        with databases.fresh(f"feedd_bench_killed_{copies}x", keep=args.keep) as url:
            progress = Progress(url)
            total = len(server.urls)
            started = time.time()
            pollers = start_pollers(folder, url, server.urls, 2, lease=f"{lease:.0f}s")
            victim, survivor = pollers
            try:
                wait_until(
                    lambda: progress.polled() >= 0.3 * total, pollers, args.timeout, "30% polled"
                )
                polled_at_kill = progress.polled()
                # The poller and its workers, as when its machine dies.
                killed_at = time.time()
                os.killpg(victim.pid, signal.SIGKILL)
                held = progress.query(
                    "SELECT url FROM feeds WHERE lease_owner = %s AND lease_until > now()",
                    victim.name,
                )
                wait_until(
                    lambda: progress.polled() >= total, [survivor], args.timeout, "every feed"
                )
                done = time.time()
            finally:
                stop(pollers)
            times = server.control("hits", times=1)["times"]
            assert isinstance(times, dict)
            created = dict(progress.query("SELECT url, extract(epoch FROM created_at) FROM feeds"))
            articles, items = progress.counts()
            progress.close()
    finally:
        server.close()
    held_paths = {urlsplit(str(u)).path for (u,) in held}
    twice = {path for path, stamps in times.items() if len(stamps) > 1}
    # Waited past due: a feed never fetched is due from its creation; the poll
    # that counts is its last request (the one after the kill, for a re-polled feed).
    waits = {
        urlsplit(str(u)).path: max(times.get(urlsplit(str(u)).path, [done])) - float(c)  # type: ignore[arg-type]
        for u, c in created.items()
    }
    # The held feeds only: a feed requested twice before the kill is a lease lost
    # by a live poller (in the logs), not a re-poll of the dead one's.
    again = [times[path][1] - killed_at for path in twice & held_paths]
    return {
        "copies": copies,
        "feeds": total,
        "lease_s": lease,
        "killed": f"{victim.name} (the owner of the feed list), its process group, SIGKILL",
        "polled_at_kill": polled_at_kill,
        "killed_after_s": round(killed_at - started, 1),
        "run_s": round(done - started, 1),
        "leased_by_dead_poller_at_kill": len(held_paths),
        "requested_twice": len(twice),
        "requested_twice_and_held": len(twice & held_paths),
        "requested_twice_not_held": sorted(twice - held_paths)[:20],
        "requested_more_than_twice": sum(1 for s in times.values() if len(s) > 2),
        "never_requested": total - len(times),
        "kill_to_second_request_s": (
            {"min": round(min(again), 1), "max": round(max(again), 1)} if again else None
        ),
        "max_wait_past_due_s": round(max(waits.values()), 1),
        "max_wait_past_due_held_s": round(max((waits[p] for p in held_paths), default=0.0), 1),
        "bound_s": 3600 + lease,
        "articles": articles,
        "items": items,
        "survivor_logs": log_summary([survivor]),
        "dead_poller_logs": log_summary([victim]),
    }


def killed_table(k: dict[str, object]) -> str:
    rows = [
        ("feeds", f"{k['feeds']:,}"),
        ("killed", k["killed"]),
        ("killed after", f"{k['killed_after_s']} s, {k['polled_at_kill']:,} feeds polled"),
        ("feeds the dead poller held (leased) at the kill", k["leased_by_dead_poller_at_kill"]),
        ("feeds requested twice", k["requested_twice"]),
        ("... of which held by the dead poller", k["requested_twice_and_held"]),
        ("... not held (unexpected)", len(k["requested_twice_not_held"])),  # type: ignore[arg-type]
        ("feeds requested 3 times or more", k["requested_more_than_twice"]),
        ("feeds never requested", k["never_requested"]),
        ("kill to the second request of a held feed (lease 10 s)", k["kill_to_second_request_s"]),
        ("longest wait past due, any feed", f"{k['max_wait_past_due_s']} s"),
        ("longest wait past due, a held feed", f"{k['max_wait_past_due_held_s']} s"),
        ("bound (interval + lease)", f"{k['bound_s']:.0f} s"),
        ("run (start to every feed polled)", f"{k['run_s']} s"),
        ("articles, items", f"{k['articles']:,}, {k['items']:,}"),
        ("survivor's log lines on lost leases", (k["survivor_logs"] or {})["leases_lost"]),  # type: ignore[index]
    ]
    return "\n".join(["| killed poller | |", "|---|---|", *(f"| {a} | {b} |" for a, b in rows)])


# -- main


def jsonable(value: object) -> object:
    if isinstance(value, Throughput):
        return {**asdict(value), "feeds_per_s": round(value.feeds_per_s, 2)}
    return str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--quick", action="store_true", help="copies 2, 1-2 pollers, 100k claim")
    parser.add_argument("--copies", help="copies of the 261 feeds, comma-separated (10)")
    parser.add_argument("--pollers", help="poller counts on PostgreSQL (1,2,3)")
    parser.add_argument("--hosts", type=int, default=256, help="loopback addresses for feeds")
    parser.add_argument("--claim-feeds", type=int, help="feed rows for the claim (1,000,000)")
    parser.add_argument("--claim-calls", type=int, default=200)
    parser.add_argument(
        "--skip", default="", help="scenarios to leave out: throughput,sqlite,claim,killed"
    )
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per wait")
    parser.add_argument("--postgres-url", help="a server of your own (needs CREATEDB)")
    parser.add_argument("--keep", action="store_true", help="keep the folder and databases")
    parser.add_argument("--json", type=Path, help="write every figure there")
    args = parser.parse_args(argv)
    copies = [int(n) for n in (args.copies or ("2" if args.quick else "10")).split(",") if n]
    counts = [int(n) for n in (args.pollers or ("1,2" if args.quick else "1,2,3")).split(",") if n]
    claim_feeds = args.claim_feeds or (100_000 if args.quick else 1_000_000)
    skip = set(args.skip.split(","))
    if not (args.corpus / "realworld" / "INDEX.tsv").exists():
        print(f"cluster: no corpus at {args.corpus} (pass --corpus or set FEEDD_CORPUS)")
        return 2
    perf.become_subreaper()
    folder = Path(tempfile.mkdtemp(prefix="cluster-bench-", dir="/tmp"))
    report: dict[str, object] = {"machine": perf.machine(), "folder": str(folder)}
    print(f"cluster: working in {folder}", flush=True)
    try:
        with contextlib.ExitStack() as stack:
            server_url = args.postgres_url or stack.enter_context(pgserver.postgres_server())
            databases = Databases(server_url)
            stack.callback(databases.close)
            runs: list[Throughput] = []
            report["throughput"] = runs  # filled as the runs end: --json keeps a partial run
            if "throughput" not in skip:
                for n in copies:
                    if "sqlite" not in skip:
                        runs.append(throughput(args, folder, None, n, 1))
                        print(progress_line(runs[-1]), flush=True)
                    for count in counts:
                        runs.append(throughput(args, folder, databases, n, count))
                        print(progress_line(runs[-1]), flush=True)
                notes = scaling(runs)
                print(f"\n## Throughput\n\n{throughput_table(runs)}\n", flush=True)
                print("\n".join(f"- {note}" for note in notes), flush=True)
                report["scaling"] = notes
            if "claim" not in skip:
                claim = claim_latency(databases, claim_feeds, args.claim_calls, args.keep)
                report["claim"] = claim
                print(f"\n## Claim of 100 at {claim_feeds:,} feeds\n\n{claim_table(claim)}")
                print(f"\nEXPLAIN (ANALYZE, BUFFERS) of {claim['statement']}:")
                for case in CLAIM_CASES:
                    plan = claim[case]["explain"]  # type: ignore[index]
                    print(f"\n{case}:\n\n```\n{plan}\n```", flush=True)
            if "killed" not in skip:
                killed = killed_poller(args, folder, databases, copies[0])
                report["killed"] = killed
                print(f"\n## A killed poller\n\n{killed_table(killed)}", flush=True)
    except ScenarioFailed as exc:
        print(f"cluster: {exc}")
        report["failed"] = str(exc)
        return 1
    finally:
        if args.json:
            args.json.write_text(json.dumps(report, indent=1, default=jsonable), encoding="utf-8")
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
