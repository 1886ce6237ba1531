"""Link resolution at scale: 10,000 distinct short links through the real feedd.

    python bench/resolve_bench.py [--links 10000] [--feeds 100] [--repeat 3]
                                  [--per-host N] [--concurrency N]
                                  [--feedd COMMAND] [--keep]

A local HTTP server, in its own process (asyncio, keep-alive, every response
built before the first request), answers on 127.0.0.1 and on every address
``localhost`` resolves to, on one port:

    /s/<n>   301 -> http://localhost:PORT/m/<n>                      (the short link)
    /m/<n>   302 -> http://localhost:PORT/a/<n>?utm_source=bench&id=<n>
    /a/<n>   200, a small HTML page                                   (the article)
    /f/<f>.xml  RSS feed f: the items n with n % feeds == f, linking to
                http://localhost:PORT/s/<n>; in phase 2, one extra item each
    /g/<f>.xml  a second set of feeds: the same links under new guids

and counts every request by route family (s, m, a, feed), method, and whether
n belongs to the base links or to run 2's extra ones, and the TCP connections
opened. The bench reads the counts, the server's CPU time and the first/last
resolution request times over a pipe, so its own questions never show up in
the counts.

feedd is the installed ``feedd fetch`` command, run as a subprocess on a
config in a temporary folder (``[fetch] allow_private_networks = true``,
``[links] shorteners = ["localhost"]``, plus per_host/concurrency when set).
Each repeat starts from an empty database:

1. cold: every link is new. Measured: wall time of ``feedd fetch`` (process
   start to exit), the resolution window (the server's first to last request
   on s/m/a), links/s over both, requests per route and method, connections,
   CPU seconds (user + system) and peak RSS of the feedd process
   (``os.wait4``: that one child's rusage; RUSAGE_CHILDREN's ru_maxrss is a
   maximum over all children, not something one can take a difference of),
   the server's CPU seconds, and the CPU seconds the rest of the machine used
   meanwhile (/proc/stat; the machine may be shared). Checked in the SQLite file:
   ``articles.url`` is exactly ``http://localhost:PORT/a/<n>?id=<n>`` for all
   n, and ``links`` has one ``ok`` row per short link, leading to /a/<n>.
2. the same feeds, changed (one new item each): the old items are stored, so
   requests for their links must be 0; only the new links are resolved.
3. the second set of feeds (same links, new guids): the links cache answers,
   so every resolution request count must be 0; the items join the stored
   articles (one story, one row).

By default two settings are measured, feedd's defaults and
``[links] per_host = 16, concurrency = 32``, to show what the per-host
politeness limit costs (every hop here is on the one host ``localhost``, the
worst case for it). ``--per-host`` / ``--concurrency`` measure just that
setting. Medians over ``--repeat`` cold runs are reported. ``--feedd``
runs another feedd executable instead (a build with a fix, to compare).
bench/README.md has the figures and where the time goes.

Exits 1 if a "must be 0" count is not 0, a check of the database fails or
``feedd fetch`` fails. Everything written (configs, databases, feedd's
output) goes into a temporary folder, removed at the end unless --keep.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

sys.dont_write_bytecode = True  # write nothing outside the temporary folder, not even .pyc

FAMILIES = ("s", "m", "a")  # the resolution routes, in hop order
EPOCH = datetime(2025, 1, 1, tzinfo=UTC)

# -- the server (runs in its own process)


def _response(status: str, headers: Sequence[tuple[str, str]], body: bytes) -> tuple[bytes, bytes]:
    """(the HEAD response, the GET response): same headers, the body only for GET."""
    lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers)]
    lines.append(f"Content-Length: {len(body)}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode()
    return head, head + body


def _article(n: int) -> bytes:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Article {n}</title></head>"
        f"<body><h1>Article {n}</h1><p>The story behind short link {n}.</p></body></html>"
    ).encode()


def _feed(port: int, feed: int, title: str, items: Sequence[tuple[str, int]]) -> bytes:
    """RSS 2.0; items are (guid, n), newest first; the links are short links on localhost."""
    origin = f"http://127.0.0.1:{port}"
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>',
        f"<title>{title} {feed}</title><link>{origin}/site/{feed}</link>",
        f"<description>Bench feed {feed}</description>",
    ]
    for guid, n in items:
        published = format_datetime(EPOCH - timedelta(minutes=n))
        parts.append(
            f"<item><title>Story {n}</title><link>http://localhost:{port}/s/{n}</link>"
            f'<guid isPermaLink="false">{guid}</guid>'
            f"<pubDate>{published}</pubDate><description>Story number {n}.</description></item>"
        )
    parts.append("</channel></rss>\n")
    return "\n".join(parts).encode()


class _State:
    """Every response, prepared; the request counters."""

    def __init__(self, port: int, links: int, feeds: int) -> None:
        short = f"http://localhost:{port}"
        self.routes: dict[bytes, tuple[str, bool, tuple[bytes, bytes]]] = {}
        for n in range(links + feeds):  # n >= links: run 2's extra items
            extra = n >= links
            self.routes[f"/s/{n}".encode()] = (
                "s",
                extra,
                _response("301 Moved Permanently", [("Location", f"{short}/m/{n}")], b""),
            )
            self.routes[f"/m/{n}".encode()] = (
                "m",
                extra,
                _response(
                    "302 Found",
                    [("Location", f"{short}/a/{n}?utm_source=bench&id={n}")],
                    b"",
                ),
            )
            self.routes[f"/a/{n}".encode()] = (
                "a",
                extra,
                _response("200 OK", [("Content-Type", "text/html; charset=utf-8")], _article(n)),
            )
        rss = [("Content-Type", "application/rss+xml; charset=utf-8")]
        self.phases: list[dict[bytes, tuple[bytes, bytes]]] = [{}, {}]
        for f in range(feeds):
            base = [(f"bench-{n}", n) for n in range(f, links, feeds)]
            plus = [(f"bench-{links + f}", links + f), *base]
            path = f"/f/{f}.xml".encode()
            self.phases[0][path] = _response("200 OK", rss, _feed(port, f, "Bench", base))
            self.phases[1][path] = _response("200 OK", rss, _feed(port, f, "Bench", plus))
            again = [(f"again-{n}", n) for n in range(f, links, feeds)]
            self.routes[f"/g/{f}.xml".encode()] = (
                "feed",
                False,
                _response("200 OK", rss, _feed(port, f, "Again", again)),
            )
        self.phase = 0
        self.not_found = _response("404 Not Found", [("Content-Type", "text/plain")], b"no")
        self.reset()

    def reset(self) -> None:
        self.counts: Counter[tuple[str, str, bool]] = Counter()
        self.connections = 0
        self.first: float | None = None
        self.last: float | None = None
        self.cpu = time.process_time()

    def respond(self, method: bytes, target: bytes) -> bytes:
        path = target.split(b"?", 1)[0]
        verb = method.decode("latin-1")
        route = self.routes.get(path)
        if route is not None:
            family, extra, answer = route
            if family in FAMILIES:
                now = time.monotonic()
                if self.first is None:
                    self.first = now
                self.last = now
        elif path in self.phases[self.phase]:
            family, extra, answer = "feed", False, self.phases[self.phase][path]
        else:
            family, extra, answer = "other", False, self.not_found
        self.counts[family, verb, extra] += 1
        return answer[0] if verb == "HEAD" else answer[1]

    def stats(self) -> dict[str, Any]:
        return {
            "counts": dict(self.counts),
            "window": (self.last - self.first) if self.first is not None else 0.0,
            "first": self.first,
            "last": self.last,
            "cpu": time.process_time() - self.cpu,
            "connections": self.connections,
        }


class _Http(asyncio.Protocol):
    """HTTP/1.1 with keep-alive and pipelining, for body-less requests (GET, HEAD)."""

    def __init__(self, state: _State) -> None:
        self.state = state
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.state.connections += 1

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        buffer = self.buffer + data
        while (end := buffer.find(b"\r\n\r\n")) >= 0:
            head, buffer = buffer[:end], buffer[end + 4 :]
            line, _, headers = head.partition(b"\r\n")
            parts = line.split(b" ")
            if len(parts) != 3:
                self.transport.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                self.transport.close()
                return
            method, target, version = parts
            self.transport.write(self.state.respond(method, target))
            if version != b"HTTP/1.1" or b"connection: close" in headers.lower():
                self.transport.close()
                return
        self.buffer = buffer


def _bind(backlog: int = 1024) -> list[socket.socket]:
    """One port on 127.0.0.1 and on every address localhost resolves to."""
    for _attempt in range(50):
        first = socket.create_server(("127.0.0.1", 0), backlog=backlog)
        port = first.getsockname()[1]
        sockets = [first]
        wanted = {
            str(info[4][0])
            for info in socket.getaddrinfo("localhost", port, type=socket.SOCK_STREAM)
        } - {"127.0.0.1"}
        try:
            for address in sorted(wanted):
                family = socket.AF_INET6 if ":" in address else socket.AF_INET
                sockets.append(
                    socket.create_server((address, port), family=family, backlog=backlog)
                )
        except OSError:
            for sock in sockets:
                sock.close()
            continue
        return sockets
    raise RuntimeError("no port free on every localhost address")


def serve(conn: Connection, links: int, feeds: int) -> None:
    """The server process: bind, prepare, send the port, then answer until told to stop."""
    sockets = _bind()
    port = sockets[0].getsockname()[1]
    state = _State(port, links, feeds)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        servers = [await loop.create_server(lambda: _Http(state), sock=sock) for sock in sockets]
        done = loop.create_future()

        def command() -> None:
            name, arg = conn.recv()
            if name == "stop":
                done.set_result(None)
                return
            if name == "phase":
                state.phase = arg
            elif name == "reset":
                state.reset()
            conn.send(state.stats())

        loop.add_reader(conn.fileno(), command)
        conn.send({"port": port, "addresses": [s.getsockname()[0] for s in sockets]})
        await done
        loop.remove_reader(conn.fileno())
        for server in servers:
            server.close()

    asyncio.run(main())
    conn.send("stopped")


class Server:
    """The parent's handle on the server process."""

    def __init__(self, links: int, feeds: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=serve, args=(child, links, feeds), daemon=True)
        self.process.start()
        if not self.conn.poll(120):
            raise RuntimeError("the bench server did not start")
        hello = self.conn.recv()
        self.port: int = hello["port"]
        self.addresses: list[str] = hello["addresses"]

    def ask(self, name: str, arg: object = None) -> dict[str, Any]:
        self.conn.send((name, arg))
        answer: dict[str, Any] = self.conn.recv()
        return answer

    def close(self) -> None:
        self.conn.send(("stop", None))
        if self.conn.poll(10):
            self.conn.recv()
        self.process.join(10)
        if self.process.is_alive():
            self.process.terminate()


# -- running feedd


@dataclass
class Run:
    """One ``feedd fetch``."""

    label: str
    exit_code: int
    wall: float
    cpu: float  # user + system seconds of the feedd process
    max_rss_mib: float
    stdout: str
    stderr: str
    counts: dict[tuple[str, str, bool], int]
    window: float  # first to last resolution request, seconds
    server_cpu: float
    connections: int  # TCP connections feedd opened to the server
    busy: float | None  # CPU seconds the whole machine used meanwhile (/proc/stat)
    totals: dict[str, int] = field(default_factory=dict)

    def requests(self, family: str, method: str | None = None, extra: bool | None = None) -> int:
        return sum(
            count
            for (fam, verb, ext), count in self.counts.items()
            if fam == family
            and (method is None or verb == method)
            and (extra is None or ext == extra)
        )

    def resolution_requests(self, extra: bool | None = None) -> int:
        return sum(self.requests(family, extra=extra) for family in FAMILIES)


TOTALS = re.compile(
    r"(\d+) feeds: (\d+) new, (\d+) updated, (\d+) already stored from another feed, "
    r"(\d+) not modified, (\d+) failed"
)


def machine_busy() -> float | None:
    """CPU seconds spent by the whole machine so far, all cores (None without /proc/stat)."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    # user nice system idle iowait irq softirq steal ...: all but idle and iowait
    ticks = [int(value) for value in fields[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def others(runs: Sequence[Run]) -> str:
    """CPU seconds used by other processes while feedd ran (the median over runs):
    the machine's total minus feedd and the bench server (the bench itself waits)."""
    if any(run.busy is None for run in runs):
        return "-"
    return f"{median([max(0.0, (r.busy or 0.0) - r.cpu - r.server_cpu) for r in runs]):.1f}"


def feedd_command(chosen: str | None = None) -> str:
    """The installed ``feedd`` command, beside this Python first (or the one chosen)."""
    if chosen:
        return chosen
    beside = Path(sys.executable).parent / "feedd"
    if beside.exists():
        return str(beside)
    found = subprocess.run(
        ["sh", "-c", "command -v feedd"], capture_output=True, text=True, check=False
    ).stdout.strip()
    if not found:
        raise SystemExit("resolve_bench: the feedd command is not installed (pip install -e .)")
    return found


def run_feedd(label: str, command: str, config: Path, server: Server, workdir: Path) -> Run:
    server.ask("reset")
    out = workdir / f"{label}.stdout"
    err = workdir / f"{label}.stderr"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    busy_before = machine_busy()
    with out.open("wb") as stdout, err.open("wb") as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(
            [command, "fetch", "-c", str(config)],
            stdout=stdout,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=workdir,
        )
        _pid, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
    busy_after = machine_busy()
    stats = server.ask("stats")
    text = out.read_text()
    run = Run(
        label=label,
        exit_code=process.returncode,
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        max_rss_mib=usage.ru_maxrss / 1024,  # KiB on Linux
        stdout=text,
        stderr=err.read_text(),
        counts=stats["counts"],
        window=stats["window"],
        server_cpu=stats["cpu"],
        connections=stats["connections"],
        busy=busy_after - busy_before
        if busy_before is not None and busy_after is not None
        else None,
    )
    match = TOTALS.search(text)
    if match:
        keys = ("feeds", "new", "updated", "linked", "not_modified", "failed")
        run.totals = dict(zip(keys, map(int, match.groups()), strict=True))
    return run


def write_config(
    path: Path,
    database: Path,
    feed_urls: Sequence[str],
    per_host: int | None,
    concurrency: int | None,
) -> Path:
    lines = [
        f'database = "{database}"',
        "",
        "[fetch]",
        "allow_private_networks = true",
        "",
        "[links]",
        'shorteners = ["localhost"]',
    ]
    if per_host is not None:
        lines.append(f"per_host = {per_host}")
    if concurrency is not None:
        lines.append(f"concurrency = {concurrency}")
    lines.append("")
    for url in feed_urls:
        lines += ["[[feeds]]", f'url = "{url}"', ""]
    path.write_text("\n".join(lines))
    return path


# -- checks on the database


class Checks:
    def __init__(self) -> None:
        self.failed: list[str] = []
        self.passed = 0

    def expect(self, ok: bool, what: str) -> None:
        if ok:
            self.passed += 1
        else:
            self.failed.append(what)
            print(f"  FAIL: {what}")


def check_database(
    database: Path, port: int, numbers: Sequence[int], checks: Checks, where: str
) -> tuple[int, int]:
    """Every article URL clean, every link resolved ok to its article. (articles, links)."""
    expected = {f"http://localhost:{port}/a/{n}?id={n}" for n in numbers}
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        urls = [row[0] for row in db.execute("SELECT url FROM articles")]
        link_rows = db.execute("SELECT url, resolved_url, outcome, hops FROM links").fetchall()
    db.close()
    checks.expect(
        len(urls) == len(expected) and set(urls) == expected,
        f"{where}: articles.url is http://localhost:{port}/a/<n>?id=<n> for each of "
        f"{len(expected)} links (found {len(urls)} articles, "
        f"{len(set(urls) & expected)} matching)",
    )
    good = 0
    outcomes: Counter[str] = Counter()
    for url, resolved, outcome, hops in link_rows:
        outcomes[outcome] += 1
        n = url.rsplit("/", 1)[-1]
        parts = urlsplit(resolved)
        if (
            outcome == "ok"
            and url == f"http://localhost:{port}/s/{n}"
            and parts.path == f"/a/{n}"
            and ("id", n) in parse_qsl(parts.query)
            and hops == 2
        ):
            good += 1
    checks.expect(
        good == len(link_rows) == len(numbers),
        f"{where}: links has {len(numbers)} ok rows, 2 hops each, leading to /a/<n> "
        f"(found {len(link_rows)} rows, {good} as expected, outcomes {dict(outcomes)})",
    )
    return len(urls), len(link_rows)


def count_rows(database: Path, table: str) -> int:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        count = int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608
    db.close()
    return count


# -- one setting, repeated


@dataclass
class Repeat:
    cold: Run
    changed: Run
    again: Run


def one_repeat(
    server: Server,
    command: str,
    workdir: Path,
    index: int,
    links: int,
    feeds: int,
    per_host: int | None,
    concurrency: int | None,
    checks: Checks,
    name: str,
    label: str,
) -> Repeat:
    folder = workdir / f"{name}-{index}"
    folder.mkdir()
    database = folder / "feedd.db"
    origin = f"http://127.0.0.1:{server.port}"
    first = write_config(
        folder / "feeds.toml",
        database,
        [f"{origin}/f/{f}.xml" for f in range(feeds)],
        per_host,
        concurrency,
    )
    second = write_config(
        folder / "again.toml",
        database,
        [f"{origin}/g/{f}.xml" for f in range(feeds)],
        per_host,
        concurrency,
    )
    where = f"{label}, repeat {index + 1}"

    server.ask("phase", 0)
    cold = run_feedd("cold", command, first, server, folder)
    expect_ok(cold, checks, f"{where} run 1")
    check_database(database, server.port, range(links), checks, f"{where} run 1")

    server.ask("phase", 1)
    changed = run_feedd("changed", command, first, server, folder)
    expect_ok(changed, checks, f"{where} run 2")
    checks.expect(
        changed.resolution_requests(extra=False) == 0,
        f"{where} run 2: resolution requests for stored items must be 0, "
        f"got {changed.resolution_requests(extra=False)}",
    )
    checks.expect(
        changed.requests("s", extra=True) >= feeds,
        f"{where} run 2: each of the {feeds} new links is requested "
        f"(got {changed.requests('s', extra=True)} requests on /s)",
    )
    check_database(database, server.port, range(links + feeds), checks, f"{where} run 2")

    articles = count_rows(database, "articles")
    again = run_feedd("again", command, second, server, folder)
    expect_ok(again, checks, f"{where} run 3")
    checks.expect(
        again.resolution_requests() == 0,
        f"{where} run 3: resolution requests for cached links must be 0, "
        f"got {again.resolution_requests()}",
    )
    checks.expect(
        count_rows(database, "articles") == articles
        and again.totals.get("linked") == links
        and again.totals.get("new") == 0,
        f"{where} run 3: the {links} items join the stored articles (articles "
        f"{articles} -> {count_rows(database, 'articles')}, totals {again.totals})",
    )
    return Repeat(cold, changed, again)


def expect_ok(run: Run, checks: Checks, where: str) -> None:
    checks.expect(
        run.exit_code == 0 and run.totals.get("failed") == 0,
        f"{where}: feedd fetch exits 0 with no failed feed (exit {run.exit_code}, "
        f"totals {run.totals or 'missing'}; stderr: {run.stderr.strip()[-500:]!r})",
    )
    if run.stderr.strip():
        print(f"  feedd stderr ({where}): {run.stderr.strip()[-2000:]}")


# -- reporting


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def span(values: Sequence[int]) -> str:
    low, high = min(values), max(values)
    return f"{low}" if low == high else f"{low}-{high}"


ROUTES = (("s", "HEAD"), ("s", "GET"), ("m", "HEAD"), ("m", "GET"), ("a", "HEAD"), ("a", "GET"))


def route_cells(runs: Sequence[Run], extra: bool | None = None) -> list[str]:
    return [span([run.requests(f, m, extra) for run in runs]) for f, m in ROUTES]


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in cells
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def report_setting(name: str, repeats: Sequence[Repeat], links: int) -> list[object]:
    colds = [r.cold for r in repeats]
    print(f"\n### {name}: run 1 (cold), {links} links, each repeat on an empty database\n")
    rows = []
    for i, run in enumerate(colds, 1):
        rows.append(
            [
                f"#{i}",
                f"{run.wall:.2f}",
                f"{run.window:.2f}",
                f"{links / run.window:.0f}" if run.window else "-",
                f"{links / run.wall:.0f}",
                f"{run.cpu:.2f}",
                f"{run.max_rss_mib:.0f}",
                f"{run.server_cpu:.2f}",
                run.resolution_requests(),
                run.connections,
                others([run]),
            ]
        )
    walls = [r.wall for r in colds]
    windows = [r.window for r in colds]
    rows.append(
        [
            "median",
            f"{median(walls):.2f}",
            f"{median(windows):.2f}",
            f"{links / median(windows):.0f}",
            f"{links / median(walls):.0f}",
            f"{median([r.cpu for r in colds]):.2f}",
            f"{median([r.max_rss_mib for r in colds]):.0f}",
            f"{median([r.server_cpu for r in colds]):.2f}",
            span([r.resolution_requests() for r in colds]),
            f"{median([r.connections for r in colds]):.0f}",
            others(colds),
        ]
    )
    print(
        table(
            [
                "repeat",
                "wall s",
                "resolving s",
                "links/s (resolving)",
                "links/s (wall)",
                "feedd CPU s",
                "peak RSS MiB",
                "server CPU s",
                "requests",
                "connections",
                "other CPU s",
            ],
            rows,
        )
    )
    print("\nRequests by route and method (range over the repeats):\n")
    header = ["run", *(f"/{f} {m}" for f, m in ROUTES), "feeds"]
    print(
        table(
            header,
            [
                ["1 cold", *route_cells(colds), span([r.requests("feed") for r in colds])],
                [
                    "2 changed: stored items",
                    *route_cells([r.changed for r in repeats], extra=False),
                    "",
                ],
                [
                    "2 changed: new items",
                    *route_cells([r.changed for r in repeats], extra=True),
                    span([r.changed.requests("feed") for r in repeats]),
                ],
                [
                    "3 same links, new guids",
                    *route_cells([r.again for r in repeats]),
                    span([r.again.requests("feed") for r in repeats]),
                ],
            ],
        )
    )
    changed = [r.changed for r in repeats]
    again = [r.again for r in repeats]
    print(
        f"\nrun 2: wall {median([r.wall for r in changed]):.2f} s (median), "
        f"totals {changed[0].totals}"
        f"\nrun 3: wall {median([r.wall for r in again]):.2f} s (median), "
        f"totals {again[0].totals}"
    )
    return [
        name,
        f"{median(walls):.2f}",
        f"{median(windows):.2f}",
        f"{links / median(windows):.0f}",
        f"{median([r.cpu for r in colds]):.2f}",
        f"{median([r.max_rss_mib for r in colds]):.0f}",
        span([r.resolution_requests() for r in colds]),
        span([r.resolution_requests(extra=False) for r in changed]),
        span([r.resolution_requests() for r in again]),
        others(colds),
    ]


# -- main


def settings_to_run(args: argparse.Namespace) -> list[tuple[str, int | None, int | None]]:
    from feedd.config import SCHEMA

    defaults = {key.name: key.default for key in SCHEMA["links"]}

    def label(per_host: int | None, concurrency: int | None) -> str:
        shown_host = per_host if per_host is not None else defaults["per_host"]
        shown_conc = concurrency if concurrency is not None else defaults["concurrency"]
        return f"per_host={shown_host}, concurrency={shown_conc}"

    if args.per_host is not None or args.concurrency is not None:
        return [(label(args.per_host, args.concurrency), args.per_host, args.concurrency)]
    return [
        (label(None, None) + " (defaults)", None, None),
        (label(16, 32), 16, 32),
    ]


def source_state() -> str:
    """The git commit of the feedd source this Python imports, and whether feedd/
    has uncommitted changes ("" when it is not a git checkout)."""
    import feedd

    root = Path(feedd.__file__).resolve().parents[1]
    if not (root / ".git").exists():
        return ""
    git = ["git", "-C", str(root)]
    head = subprocess.run(
        [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--", "feedd", "pyproject.toml"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return f"source {root} at {head}" + (" with uncommitted changes in feedd/" if dirty else "")


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Resolve distinct short links through a local 2-hop redirect server "
        "with the installed feedd fetch command."
    )
    parser.add_argument("--links", type=positive, default=10_000, help="distinct short links")
    parser.add_argument("--feeds", type=positive, default=100, help="feeds they are spread over")
    parser.add_argument("--repeat", type=positive, default=3, help="cold runs per setting")
    parser.add_argument("--per-host", type=positive, help="[links] per_host (default: feedd's)")
    parser.add_argument(
        "--concurrency", type=positive, help="[links] concurrency (default: feedd's)"
    )
    parser.add_argument(
        "--feedd",
        metavar="COMMAND",
        help="the feedd executable to run (default: the one installed beside this Python)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    if args.feeds > args.links:
        parser.error("--feeds must not exceed --links")

    settings = settings_to_run(args)
    feedd = feedd_command(args.feedd)
    version = subprocess.run(
        [feedd, "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    workdir = Path(tempfile.mkdtemp(prefix="feedd-resolve-bench-"))
    source = source_state()
    print(
        f"{version} ({source or 'not a git checkout'}), "
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs; "
        f"{args.links} links over {args.feeds} feeds; {args.repeat} repeats; "
        f"working in {workdir}"
    )
    started = time.perf_counter()
    server = Server(args.links, args.feeds)
    print(f"server on port {server.port} at {', '.join(server.addresses)}")
    checks = Checks()
    summary = []
    try:
        for index, (name, per_host, concurrency) in enumerate(settings):
            repeats = []
            for i in range(args.repeat):
                print(f"{name}: repeat {i + 1} of {args.repeat} ...", flush=True)
                repeats.append(
                    one_repeat(
                        server,
                        feedd,
                        workdir,
                        i,
                        args.links,
                        args.feeds,
                        per_host,
                        concurrency,
                        checks,
                        f"setting{index}",
                        name,
                    )
                )
            summary.append(report_setting(name, repeats, args.links))
    finally:
        server.close()
        if args.keep:
            print(f"\nkept {workdir}")
        else:
            _remove(workdir)

    print("\n### Summary (medians of run 1)\n")
    print(
        table(
            [
                "setting",
                "wall s",
                "resolving s",
                "links/s",
                "feedd CPU s",
                "peak RSS MiB",
                "run 1 requests",
                "run 2 requests, stored items",
                "run 3 requests",
                "other CPU s",
            ],
            summary,
        )
    )
    print(
        f"\nchecks: {checks.passed} passed, {len(checks.failed)} failed; "
        f"bench took {time.perf_counter() - started:.0f} s"
    )
    if source_state() != source:
        print(f"WARNING: feedd's source changed during the bench: now {source_state()}")
    for failure in checks.failed:
        print(f"FAILED: {failure}")
    return 1 if checks.failed else 0


def _remove(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
