"""One `feedd run` daemon against a mix of hostile servers, and good feeds that change.

    python bench/hostile_run.py [--seconds 180] [--interval 5] [--timeout 5] [--keep]

Every server listens on its own loopback address (127.0.0.2, 127.0.0.3, ...),
so each is its own host for feedd's per-host limit; they all run on one
asyncio loop in a thread of this process:

| feed | what the server does |
| --- | --- |
| slow-drip | 200, declares 100 kB, sends one byte every 200 ms |
| slow-headers | sends its status line and headers one byte every 300 ms |
| stall | reads the request, never answers |
| huge-declared | 200 with Content-Length 10 GB, then zeros as fast as it can |
| huge-chunked | 200, chunked, an endless RSS document |
| gzip-bomb, br-bomb, zstd-bomb | 200, a small body that decodes to --bomb-mib of zeros |
| redirect-loop | 302 a -> b -> a |
| redirect-chain | 302 to /n+1, forever |
| reset-on-accept | accepts, then resets the connection (RST) |
| reset-after-request | reads the request, then RST |
| reset-mid-body | headers and half a declared body, then RST |
| short-body | declares 10 kB, sends 1 kB, closes |
| error-500 | 500 with an HTML body |
| rate-limited | 429 with Retry-After (--retry-after s) |
| html-page | 200 text/html, a web page |
| garbage | 200 application/rss+xml, random bytes |
| many-items | 200, one 10 MB RSS document of 100,000 tiny items (under the 16 MiB body limit) |
| good-rss, good-gzip, good-atom | a feed that gains an item every --interval s (ETag, 304) |
| good-shared | the same, on slow-drip's host |

Phases: warm-up (the hostile servers answer 404 at once; the fd baseline is
taken at its end), hostile (--seconds), cool-down (404 again, hostile
connections cut; fds counted at its end). The daemon's config: `[fetch]
adaptive = false`, the given interval and timeout, `concurrency = 16`,
`per_host = 2`, the default `max_body_size` (16 MiB), private networks allowed, and
`[http] listen` for /metrics. Feeds that fail back off exponentially; every
two intervals (a "round") the harness marks the hostile feeds due again in
the database, so the pressure stays on all run long. The rate-limited feed is
left alone, to check that Retry-After is obeyed.

Measured from /proc/PID: peak RSS (VmHWM), RSS, threads, open fds and
sockets, sampled every 0.25 s; per round, the most fds seen. The tree's memory
(the daemon and its worker processes: each one's private pages plus one copy
of the pages they share, as bench/perf.py's session_rss_mb) is sampled with
them; its peak is checked against --max-tree-mb. feedd exposes no
count of its asyncio tasks: a leaked poll task would hold its socket, so open
fds and sockets are the proxy. From the database: when each good item is
stored, against when its server first offered it. From /metrics: polls by
outcome.

Prints the figures and the checks; exits 1 if a check failed.
tests/reliability/test_hostile_servers.py runs the same harness for ~30 s.
"""

from __future__ import annotations

import argparse
import asyncio
import email.utils
import gzip
import hashlib
import os
import random
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections import Counter
from contextlib import closing, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path

import brotli
import httpx

try:
    from compression import zstd  # type: ignore[import-not-found,unused-ignore]
except ImportError:
    from backports import zstd  # type: ignore[import-not-found,no-redef,unused-ignore]

FEEDD = str(Path(sys.executable).parent / "feedd")
TICK = 2.0  # feedd.daemon.TICK_SECONDS: due feeds are picked this often
CONCURRENCY = 16  # [fetch] concurrency: feedd's default


@dataclass(frozen=True)
class Settings:
    seconds: float = 180.0  # the hostile phase
    interval: float = 5.0
    timeout: float = 5.0
    retry_after: int = 60
    bomb_mib: int = 1024
    warmup: float = 0.0  # 0: interval + 2 ticks
    cooldown: float = 0.0  # 0: timeout + interval + 2 ticks
    max_rss_mb: float = 300.0
    max_tree_mb: float = 250.0  # the daemon and its workers (tree_kb)
    fd_slack: int = 12  # more fds than the baseline still counted as "back to baseline"
    keep: bool = False

    @property
    def round_seconds(self) -> float:
        """How often the hostile feeds are made due again: every other poll of a good feed."""
        return 2 * self.interval

    @property
    def warmup_seconds(self) -> float:
        return self.warmup or self.interval + 2 * TICK

    @property
    def cooldown_seconds(self) -> float:
        return self.cooldown or self.timeout + self.interval + 2 * TICK


# -- the servers


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, OSError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        return None
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return Request(parts[0], parts[1], headers)


def response_head(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}"] + [
        f"{k}: {v}" for k, v in headers.items()
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def reset(writer: asyncio.StreamWriter) -> None:
    """Close with an RST instead of a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def bombs(size: int) -> dict[str, bytes]:
    zeros = bytes(1 << 20)
    blocks = size >> 20
    gz = zlib.compressobj(6, zlib.DEFLATED, 31)
    br = brotli.Compressor(quality=5)
    zs = zstd.ZstdCompressor()
    out: dict[str, list[bytes]] = {"gzip": [], "br": [], "zstd": []}
    for _ in range(blocks):
        out["gzip"].append(gz.compress(zeros))
        out["br"].append(br.process(zeros))
        out["zstd"].append(zs.compress(zeros))
    out["gzip"].append(gz.flush())
    out["br"].append(br.finish())
    out["zstd"].append(zs.flush())
    return {k: b"".join(v) for k, v in out.items()}


@dataclass
class GoodFeed:
    name: str
    started: float
    period: float
    kind: str = "rss"  # rss | atom
    gzip: bool = False
    keep: int = 20  # items in the document

    def count(self, now: float) -> int:
        """Items offered at time now (monotonic): one at the start, one more every period."""
        return 1 + int((now - self.started) / self.period)

    def published(self, index: int) -> float:
        return self.started + index * self.period

    def guid(self, index: int) -> str:
        return f"{self.name}-{index}"

    def body(self, count: int) -> bytes:
        items = range(max(0, count - self.keep), count)
        stamp = email.utils.formatdate(1_750_000_000 + 60 * count, usegmt=True)
        if self.kind == "atom":
            entries = "".join(
                f"<entry><id>{self.guid(i)}</id><title>{self.name} item {i}</title>"
                f'<link href="https://example.org/{self.guid(i)}"/>'
                f"<updated>2025-06-0{1 + i % 9}T00:00:00Z</updated>"
                f"<content type='html'>&lt;p&gt;Item {i}&lt;/p&gt;</content></entry>"
                for i in reversed(items)
            )
            return (
                '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">'
                f"<title>{self.name}</title><id>urn:{self.name}</id>"
                f"<updated>2025-06-01T00:00:00Z</updated>{entries}</feed>"
            ).encode()
        body = "".join(
            f"<item><guid>{self.guid(i)}</guid><title>{self.name} item {i}</title>"
            f"<link>https://example.org/{self.guid(i)}</link><pubDate>{stamp}</pubDate>"
            f"<description>&lt;p&gt;Item {i}&lt;/p&gt;</description></item>"
            for i in reversed(items)
        )
        return (
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>{self.name}</title>'
            f"<link>https://example.org/</link>{body}</channel></rss>"
        ).encode()


class Servers:
    """All the servers, on one asyncio loop in a daemon thread."""

    HOSTILE = (
        "slow-drip",
        "slow-headers",
        "stall",
        "huge-declared",
        "huge-chunked",
        "gzip-bomb",
        "br-bomb",
        "zstd-bomb",
        "redirect-loop",
        "redirect-chain",
        "reset-on-accept",
        "reset-after-request",
        "reset-mid-body",
        "short-body",
        "error-500",
        "rate-limited",
        "html-page",
        "garbage",
        "many-items",
    )
    GOOD = ("good-rss", "good-gzip", "good-atom", "good-shared")

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.hostile = False
        self.bombs = bombs(settings.bomb_mib << 20)
        self.many_items = many_items()
        self.hits: Counter[str] = Counter()
        self.hostile_hits: Counter[str] = Counter()
        self.connections: dict[str, set[asyncio.StreamWriter]] = {}
        self.urls: dict[str, str] = {}
        self.good: dict[str, GoodFeed] = {}
        self.loop = asyncio.new_event_loop()
        self._servers: list[asyncio.Server] = []
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(30)

    async def _start(self) -> None:
        started = time.monotonic()
        period = self.settings.interval
        self.good = {
            "good-rss": GoodFeed("good-rss", started, period),
            "good-gzip": GoodFeed("good-gzip", started, period, gzip=True),
            "good-atom": GoodFeed("good-atom", started, period, kind="atom"),
            "good-shared": GoodFeed("good-shared", started, period),
        }
        hosts: dict[str, str] = {}
        for number, name in enumerate((*self.HOSTILE, *self.GOOD), start=2):
            hosts[name] = f"127.0.0.{number}"
        hosts["good-shared"] = hosts["slow-drip"]
        ports: dict[str, int] = {}
        for name, host in hosts.items():
            if name == "good-shared":
                continue
            server = await asyncio.start_server(
                lambda r, w, host=host: self._serve(host, r, w), host, 0
            )
            self._servers.append(server)
            ports[host] = server.sockets[0].getsockname()[1]
        for name, host in hosts.items():
            path = (
                "/loop-a" if name == "redirect-loop" else "/0" if name == "redirect-chain" else ""
            )
            self.urls[name] = f"http://{host}:{ports[host]}/{name}{path}"

    def stop(self) -> None:
        async def close() -> None:
            for server in self._servers:
                server.close()
            self.cut()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    def set_hostile(self, hostile: bool) -> None:
        self.hostile = hostile
        if not hostile:
            self.loop.call_soon_threadsafe(self.cut)

    def cut(self) -> None:
        """Drop every open hostile connection (on the loop's thread)."""
        for name, writers in self.connections.items():
            if name in self.GOOD:
                continue
            for writer in list(writers):
                writer.transport.abort()

    async def _serve(
        self, host: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        name = "?"
        try:
            peek_hostile = self.hostile
            # Which feed: every server but slow-drip's host has one; the path tells.
            if peek_hostile and self.urls.get("reset-on-accept", "").startswith(f"http://{host}:"):
                self.hits["reset-on-accept"] += 1
                self.hostile_hits["reset-on-accept"] += 1
                reset(writer)
                return
            while True:
                request = await read_request(reader)
                if request is None:
                    return
                name = request.path.split("/")[1]
                self.connections.setdefault(name, set()).add(writer)
                self.hits[name] += 1
                if name in self.good:
                    await self._good(self.good[name], request, writer)
                    continue
                if not self.hostile:
                    writer.write(response_head(404, {"Content-Length": "0"}))
                    await writer.drain()
                    continue
                self.hostile_hits[name] += 1
                await self._hostile(name, request, writer)
                return
        except (ConnectionError, OSError, asyncio.IncompleteReadError, asyncio.CancelledError):
            return  # the client gave up, or the servers are stopping
        finally:
            self.connections.get(name, set()).discard(writer)
            writer.transport.abort()

    async def _good(self, feed: GoodFeed, request: Request, writer: asyncio.StreamWriter) -> None:
        body = feed.body(feed.count(time.monotonic()))
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if request.headers.get("if-none-match") == etag:
            writer.write(response_head(304, {"ETag": etag, "Content-Length": "0"}))
            await writer.drain()
            return
        headers = {"Content-Type": "application/rss+xml", "ETag": etag}
        if feed.kind == "atom":
            headers["Content-Type"] = "application/atom+xml"
        if feed.gzip:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        headers["Content-Length"] = str(len(body))
        writer.write(response_head(200, headers) + body)
        await writer.drain()

    async def _hostile(self, name: str, request: Request, writer: asyncio.StreamWriter) -> None:
        rss = "application/rss+xml"
        if name == "slow-drip":
            writer.write(response_head(200, {"Content-Type": rss, "Content-Length": "100000"}))
            for _ in range(100000):
                writer.write(b"<")
                await writer.drain()
                await asyncio.sleep(0.2)
        elif name == "slow-headers":
            for byte in response_head(200, {"Content-Type": rss, "X-Padding": "x" * 1000}):
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.3)
        elif name == "stall":
            await asyncio.sleep(3600)
        elif name == "huge-declared":
            writer.write(response_head(200, {"Content-Type": rss, "Content-Length": str(10**10)}))
            block = bytes(1 << 16)
            for _ in range(10**10 >> 16):
                writer.write(block)
                await writer.drain()
        elif name == "huge-chunked":
            writer.write(response_head(200, {"Content-Type": rss, "Transfer-Encoding": "chunked"}))
            start = b'<?xml version="1.0"?><rss version="2.0"><channel><title>Huge</title>'
            item = (
                b"<item><title>again</title><description>" + b"x" * 4000 + b"</description></item>"
            )
            writer.write(b"%x\r\n%s\r\n" % (len(start), start))
            while True:
                writer.write(b"%x\r\n%s\r\n" % (len(item), item))
                await writer.drain()
        elif name.endswith("-bomb"):
            encoding = name.removesuffix("-bomb")
            body = self.bombs[encoding]
            headers = {"Content-Type": rss, "Content-Encoding": encoding}
            headers["Content-Length"] = str(len(body))
            writer.write(response_head(200, headers) + body)
            await writer.drain()
        elif name == "redirect-loop":
            target = "/redirect-loop/loop-b" if request.path.endswith("loop-a") else "loop-a"
            writer.write(response_head(302, {"Location": target, "Content-Length": "0"}))
            await writer.drain()
        elif name == "redirect-chain":
            number = int(request.path.rsplit("/", 1)[1] or 0)
            location = f"/redirect-chain/{number + 1}"
            writer.write(response_head(302, {"Location": location, "Content-Length": "0"}))
            await writer.drain()
        elif name == "reset-after-request":
            reset(writer)
        elif name == "reset-mid-body":
            writer.write(response_head(200, {"Content-Type": rss, "Content-Length": "20000"}))
            writer.write(b"<rss>" + b" " * 10000)
            await writer.drain()
            reset(writer)
        elif name == "short-body":
            writer.write(response_head(200, {"Content-Type": rss, "Content-Length": "10000"}))
            writer.write(b'<?xml version="1.0"?><rss version="2.0"><channel>' + b" " * 1000)
            await writer.drain()
        elif name == "error-500":
            page = b"<html><body><h1>Internal Server Error</h1></body></html>"
            headers = {"Content-Type": "text/html", "Content-Length": str(len(page))}
            writer.write(response_head(500, headers) + page)
            await writer.drain()
        elif name == "rate-limited":
            headers = {"Retry-After": str(self.settings.retry_after), "Content-Length": "0"}
            writer.write(response_head(429, headers))
            await writer.drain()
        elif name == "html-page":
            page = (
                b"<!DOCTYPE html><html><head><title>Not a feed</title></head><body>"
                + b"<p>Welcome to our site.</p>" * 200
                + b"</body></html>"
            )
            headers = {"Content-Type": "text/html; charset=utf-8", "Content-Length": str(len(page))}
            writer.write(response_head(200, headers) + page)
            await writer.drain()
        elif name == "many-items":
            headers = {"Content-Type": rss, "Content-Length": str(len(self.many_items))}
            writer.write(response_head(200, headers) + self.many_items)
            await writer.drain()
        elif name == "garbage":
            junk = random.Random(self.hostile_hits[name]).randbytes(50_000)
            writer.write(
                response_head(200, {"Content-Type": rss, "Content-Length": "50000"}) + junk
            )
            await writer.drain()


def many_items(count: int = 100_000) -> bytes:
    """A well-formed RSS document of `count` tiny items, ~10 MB: under the body limit,
    but feedparser alone would take ~200 MB to build them all."""
    items = b"".join(
        b"<item><title>n%d</title><link>https://example.org/%d</link><guid>g%d</guid></item>"
        % (i, i, i)
        for i in range(count)
    )
    return (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Many</title>'
        b"<link>https://example.org/</link>" + items + b"</channel></rss>"
    )


# -- the daemon and what is measured of it


def proc_status(pid: int) -> dict[str, int]:
    values = {}
    with suppress(OSError), open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmHWM", "VmRSS", "Threads"):
                values[key] = int(rest.split()[0])
    return values


def descendants(pid: int) -> list[int]:
    """The process and every process it started, still running (from /proc)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        with suppress(OSError):
            for task in os.listdir(f"/proc/{current}/task"):
                with suppress(OSError), open(f"/proc/{current}/task/{task}/children") as f:
                    todo += [int(child) for child in f.read().split()]
    return found


def tree_kb(pid: int) -> int:
    """Memory of a process and its descendants: each one's private pages plus one
    copy of the pages they share (libraries), from /proc/PID/statm, as
    bench/perf.py's session_rss_mb: a sum of RSS would count the workers'
    libraries once per process."""
    private = shared = 0
    for member in descendants(pid):
        with suppress(OSError, ValueError), open(f"/proc/{member}/statm") as statm:
            resident, in_files = (int(x) for x in statm.read().split()[1:3])
            private += resident - in_files
            shared = max(shared, in_files)
    return (private + shared) * os.sysconf("SC_PAGE_SIZE") // 1024


def open_fds(pid: int) -> tuple[int, int]:
    """(open file descriptors, of which sockets) of a process."""
    fds = sockets = 0
    with suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            fds += 1
            with suppress(OSError):
                if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                    sockets += 1
    return fds, sockets


@dataclass
class Sample:
    at: float  # seconds since the daemon started
    phase: str
    round: int
    rss_kb: int
    hwm_kb: int
    tree_kb: int  # the daemon and its workers (tree_kb())
    threads: int
    fds: int
    sockets: int


@dataclass
class Report:
    settings: Settings
    duration: float = 0.0
    samples: list[Sample] = field(default_factory=list)
    exit_code: int | None = None
    stderr_tail: str = ""
    tracebacks: int = 0
    metrics: dict[str, float] = field(default_factory=dict)
    hits: Counter[str] = field(default_factory=Counter)
    hostile_hits: Counter[str] = field(default_factory=Counter)
    latencies: dict[str, float] = field(default_factory=dict)  # guid -> seconds to stored
    missing: list[str] = field(default_factory=list)  # offered, never stored
    fd_baseline: int = 0
    socket_baseline: int = 0
    fd_after: int = 0
    socket_after: int = 0
    feed_errors: dict[str, str] = field(default_factory=dict)

    @property
    def peak_rss_mb(self) -> float:
        return max((s.hwm_kb for s in self.samples), default=0) / 1024

    @property
    def peak_tree_mb(self) -> float:
        return max((s.tree_kb for s in self.samples), default=0) / 1024

    def round_fd_peaks(self) -> list[int]:
        peaks: dict[int, int] = {}
        for s in self.samples:
            if s.phase == "hostile":
                peaks[s.round] = max(peaks.get(s.round, 0), s.fds)
        return [peaks[r] for r in sorted(peaks)]

    def latency_bound(self) -> float:
        # Polled every interval (+10% jitter), due feeds picked at each tick.
        return 2 * self.settings.interval + TICK + 1.0

    def problems(self) -> list[str]:
        found = []
        settings = self.settings
        if self.exit_code != 0:
            found.append(f"daemon exit code {self.exit_code}")
        if self.tracebacks:
            found.append(f"{self.tracebacks} tracebacks in the daemon's log")
        if self.missing:
            found.append(f"good items never stored: {', '.join(self.missing[:10])}")
        late = {g: t for g, t in self.latencies.items() if t > self.latency_bound()}
        if late:
            worst = max(late, key=late.__getitem__)
            found.append(
                f"{len(late)} good items stored later than {self.latency_bound():.0f}s "
                f"(worst {worst}: {late[worst]:.1f}s)"
            )
        if self.peak_rss_mb >= settings.max_rss_mb:
            found.append(f"peak RSS {self.peak_rss_mb:.0f} MB >= {settings.max_rss_mb:.0f} MB")
        if self.peak_tree_mb >= settings.max_tree_mb:
            found.append(
                f"peak tree memory {self.peak_tree_mb:.0f} MB >= {settings.max_tree_mb:.0f} MB"
            )
        if self.fd_after > self.fd_baseline + settings.fd_slack:
            found.append(
                f"fds after the run {self.fd_after} > baseline {self.fd_baseline} + "
                f"{settings.fd_slack}"
            )
        peaks = self.round_fd_peaks()
        if len(peaks) >= 3:
            half = len(peaks) // 2
            early, late_peaks = max(peaks[:half]), max(peaks[half:])
            if late_peaks > early + settings.fd_slack:
                found.append(f"fds grow across rounds: {peaks}")
        allowed = int(settings.seconds // settings.retry_after) + 1
        if self.hostile_hits["rate-limited"] > allowed:
            found.append(
                f"rate-limited feed polled {self.hostile_hits['rate-limited']} times in "
                f"{settings.seconds:.0f}s with Retry-After {settings.retry_after}"
            )
        if self.hits["good-rss"] == 0:
            found.append("good-rss never polled")
        return found

    def render(self) -> str:
        by_phase: dict[str, list[Sample]] = {}
        for s in self.samples:
            by_phase.setdefault(s.phase, []).append(s)
        lines = [
            f"duration: {self.duration:.1f}s (hostile phase {self.settings.seconds:.0f}s, "
            f"interval {self.settings.interval:g}s, timeout {self.settings.timeout:g}s, "
            f"bombs {self.settings.bomb_mib} MiB)",
            f"peak RSS (VmHWM): {self.peak_rss_mb:.1f} MB",
            f"peak tree memory (daemon and workers, shared pages once): {self.peak_tree_mb:.1f} MB",
        ]
        for phase, samples in by_phase.items():
            lines.append(
                f"  {phase:8} samples {len(samples):4}: RSS max "
                f"{max(s.rss_kb for s in samples) / 1024:.1f} MB, tree max "
                f"{max(s.tree_kb for s in samples) / 1024:.1f} MB, fds "
                f"{min(s.fds for s in samples)}-{max(s.fds for s in samples)}, sockets "
                f"{min(s.sockets for s in samples)}-{max(s.sockets for s in samples)}, threads "
                f"{max(s.threads for s in samples)}"
            )
        lines.append(
            f"fds: baseline {self.fd_baseline} (sockets {self.socket_baseline}), after "
            f"{self.fd_after} (sockets {self.socket_after})"
        )
        lines.append(f"fd peak per round (hostile phase): {self.round_fd_peaks()}")
        if self.latencies:
            values = sorted(self.latencies.values())
            lines.append(
                f"good items: {len(values)} stored, {len(self.missing)} missing; latency "
                f"median {values[len(values) // 2]:.1f}s, max {values[-1]:.1f}s "
                f"(bound {self.latency_bound():.0f}s)"
            )
        lines.append(
            "polls by outcome (/metrics): "
            + ", ".join(f"{k} {v:g}" for k, v in sorted(self.metrics.items()))
        )
        lines.append(
            "requests in the hostile phase: "
            + ", ".join(f"{k} {v}" for k, v in sorted(self.hostile_hits.items()))
        )
        lines.append(
            "good-feed requests: " + ", ".join(f"{k} {self.hits[k]}" for k in Servers.GOOD)
        )
        for url, error in sorted(self.feed_errors.items()):
            lines.append(f"  last error {url.split('/')[3]}: {error}")
        lines.append(
            f"daemon exit code: {self.exit_code}; tracebacks in its log: {self.tracebacks}"
        )
        return "\n".join(lines)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_config(folder: Path, settings: Settings, urls: list[str], port: int) -> Path:
    lines = [
        'database = "feedd.db"',
        "",
        "[fetch]",
        "adaptive = false",
        f"interval = {settings.interval:g}",
        f"timeout = {settings.timeout:g}",
        "allow_private_networks = true",
        f"concurrency = {CONCURRENCY}",
        "per_host = 2",
        "",
        "[links]",
        'resolve = "off"',
        "",
        "[http]",
        f'listen = "127.0.0.1:{port}"',
        "",
    ]
    for url in urls:
        lines += ["[[feeds]]", f'url = "{url}"', ""]
    path = folder / "feedd.toml"
    path.write_text("\n".join(lines))
    return path


def query(db: Path, sql: str, *params: object) -> list[tuple]:
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
            return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError:
        return []  # not created yet, or busy


def make_due(db: Path, urls: list[str]) -> None:
    """Mark feeds due now, as if their backoff had run out (a new round of hostility).

    Due now, not NULL: never-fetched feeds (NULL) go first, and the hostile feeds
    must not jump the queue ahead of good feeds that are due too.
    """
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # feedd's timestamp format
    marks = ",".join("?" * len(urls))
    sql = (
        f"UPDATE feeds SET next_fetch_at = ? WHERE url IN ({marks})"  # noqa: S608
        " AND (next_fetch_at IS NULL OR next_fetch_at > ?)"
    )
    with (
        suppress(sqlite3.OperationalError),
        closing(sqlite3.connect(db, timeout=10)) as conn,
        conn,
    ):
        conn.execute(sql, [now, *urls, now])


def scrape(port: int) -> dict[str, float]:
    from prometheus_client.parser import text_string_to_metric_families

    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except httpx.HTTPError:
        return {}
    return {
        sample.labels["outcome"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "feedd_fetches_total"
    }


def run(settings: Settings, log: bool = False) -> Report:
    """Start the servers and the daemon, go through the phases, return what was measured."""
    report = Report(settings)
    folder = Path(tempfile.mkdtemp(prefix="feedd-hostile-"))
    servers = Servers(settings)
    port = free_port()
    urls = [servers.urls[name] for name in (*Servers.HOSTILE, *Servers.GOOD)]
    forced = [servers.urls[n] for n in Servers.HOSTILE if n != "rate-limited"]
    config = write_config(folder, settings, urls, port)
    db = folder / "feedd.db"
    stderr_path = folder / "feedd.log"
    seen: dict[str, float] = {}  # guid -> when the harness first saw it stored
    started = time.monotonic()
    with stderr_path.open("w") as stderr:
        daemon = subprocess.Popen([FEEDD, "run", "-c", str(config)], stderr=stderr)
    pid = daemon.pid

    def say(text: str) -> None:
        if log:
            print(f"[{time.monotonic() - started:6.1f}s] {text}", flush=True)

    def sample(phase: str, round_: int) -> Sample:
        status = proc_status(pid)
        fds, sockets = open_fds(pid)
        point = Sample(
            time.monotonic() - started,
            phase,
            round_,
            status.get("VmRSS", 0),
            status.get("VmHWM", 0),
            tree_kb(pid),
            status.get("Threads", 0),
            fds,
            sockets,
        )
        report.samples.append(point)
        return point

    def watch_items() -> None:
        now = time.monotonic()
        for (guid,) in query(db, "SELECT guid FROM article_feeds"):
            seen.setdefault(guid, now)

    def phase(name: str, seconds: float, force: bool) -> None:
        end = time.monotonic() + seconds
        round_, next_round = 0, time.monotonic()
        last = None
        while time.monotonic() < end:
            if daemon.poll() is not None:
                raise RuntimeError(f"the daemon exited with {daemon.returncode}")
            if force and time.monotonic() >= next_round:
                make_due(db, forced)
                round_ += 1
                next_round += settings.round_seconds
                if last is not None:
                    say(
                        f"round {round_}: fds {last.fds}, sockets {last.sockets}, "
                        f"RSS {last.rss_kb / 1024:.0f} MB"
                    )
            last = sample(name, round_)
            watch_items()
            time.sleep(0.25)

    try:
        say(f"daemon pid {pid}; warm-up {settings.warmup_seconds:g}s")
        phase("warm-up", settings.warmup_seconds, force=False)
        baseline = [s for s in report.samples if s.at > report.samples[-1].at - settings.interval]
        report.fd_baseline = max(s.fds for s in baseline)
        report.socket_baseline = max(s.sockets for s in baseline)
        hostile_started = time.monotonic()
        servers.set_hostile(True)
        say(f"hostile for {settings.seconds:g}s (fd baseline {report.fd_baseline})")
        phase("hostile", settings.seconds, force=True)
        hostile_ended = time.monotonic()
        errors = query(db, "SELECT url, last_error FROM feeds WHERE last_error IS NOT NULL")
        report.feed_errors = dict(errors)
        servers.set_hostile(False)
        report.hostile_hits = Counter(servers.hostile_hits)
        make_due(db, forced)
        say(f"cool-down {settings.cooldown_seconds:g}s")
        phase("cool-down", settings.cooldown_seconds, force=False)
        tail = [s for s in report.samples if s.at > report.samples[-1].at - 1.0]
        report.fd_after = min(s.fds for s in tail)
        report.socket_after = min(s.sockets for s in tail)
        report.metrics = scrape(port)
    finally:
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(30)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()
        report.exit_code = daemon.returncode
        report.duration = time.monotonic() - started
        report.hits = Counter(servers.hits)
        servers.stop()
        log_text = stderr_path.read_text(errors="replace")
        report.tracebacks = log_text.count("Traceback")
        report.stderr_tail = log_text[-3000:]
        if settings.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)

    # Items first offered while the daemon was under attack; one still missing is
    # counted only when the latency bound had passed by the end of the run.
    watched_until = started + report.duration
    for feed in servers.good.values():
        for index in range(feed.count(hostile_ended)):
            offered = feed.published(index)
            if not hostile_started <= offered <= hostile_ended:
                continue
            guid = feed.guid(index)
            if guid in seen:
                report.latencies[guid] = max(0.0, seen[guid] - offered)
            elif offered + report.latency_bound() < watched_until:
                report.missing.append(guid)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=180.0, help="the hostile phase")
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--retry-after", type=int, default=60)
    parser.add_argument("--bomb-mib", type=int, default=1024, help="decoded size of each bomb")
    parser.add_argument("--max-tree-mb", type=float, default=250.0)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    settings = Settings(
        seconds=args.seconds,
        interval=args.interval,
        timeout=args.timeout,
        retry_after=args.retry_after,
        bomb_mib=args.bomb_mib,
        max_tree_mb=args.max_tree_mb,
        keep=args.keep,
    )
    report = run(settings, log=True)
    print()
    print(report.render())
    problems = report.problems()
    print()
    print("checks: " + ("all passed" if not problems else "FAILED"))
    for problem in problems:
        print(f"  - {problem}")
    if report.exit_code != 0 or report.tracebacks:
        print(report.stderr_tail)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
