"""Readers beside a busy daemon: no lock errors, never half a feed, a bounded WAL.

``feedd run`` polls generated feeds every 2 s; most of them get a new version
between polls (one more item, and every item's text changes), so the daemon
keeps writing. Meanwhile separate processes read the database in a loop:

- SQL readers (``sqlite3``, read-only, as Datasette or pandas would) check in
  one read transaction that every feed is whole: its items, their titles and
  the FTS index all belong to the version its stored ETag and body hash name;
- CLI readers run ``feedd articles``, ``feedd search`` and ``feedd stats`` and
  check their exit status, their stderr and the same invariant per command;
- one SQL reader holds a read transaction open for a while first (a forgotten
  ``sqlite3`` shell), which pins the WAL; once it lets go the WAL must be
  checkpointed and restarted, and the file must stop growing.

Readers that overlap without a break keep SQLite's own checkpoints from ever
restarting the WAL (each one checkpoints only up to the oldest snapshot in
use, and a restart needs a moment with no reader in the WAL): without the
daemon's trim (Store.trim_wal after each poll) the file grows for as long as
they read. The WAL is measured from outside: the -wal file's size, and its
header's salts and checkpoint sequence for the frames in use and restarts.

``bench/readers_run.py`` runs the same workload longer with more readers.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import multiprocessing
import os
import random
import re
import signal
import sqlite3
import struct
import subprocess
import sys
import threading
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from feedserver import FeedServer

# The reader processes import this module afresh (the spawn method); they need
# only the standard library, so feedd and the test helpers are imported where
# used: a reader that takes seconds to start on a busy machine reads less.

FEEDD = str(Path(sys.executable).parent / "feedd")
BASE_ITEMS = 30  # items in version 0 of a feed; each later version has one more
LOREM = (
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "
    "incididunt ut labore et dolore magna aliqua enim ad minim veniam quis nostrud "
    "exercitation ullamco laboris nisi aliquip ex ea commodo consequat"
)
TOKEN = re.compile(r"\bfeed(\d+)ver(\d+)\b")
LOCKED = ("database is locked", "database table is locked", "SQLITE_BUSY")

# -- the feeds


def items_in(version: int) -> int:
    return BASE_ITEMS + version


def feed_path(number: int) -> str:
    return f"/f{number}.xml"


def feed_etag(number: int, version: int) -> str:
    return f'"{number}.{version}"'


@functools.cache
def story(number: int, item: int) -> str:
    """The item's text: 100-350 words of its own. Items must not share their text:
    feedd files the same story from several feeds as near-duplicates, and the
    query commands show one article per story (a first version of this test
    repeated one paragraph in every item, so feedd rightly made all of them one
    story and `feedd articles --feed` showed 1 item of a feed's 30)."""
    chooser = random.Random(number * 1000 + item)  # noqa: S311 - not a secret
    return " ".join(chooser.choices(LOREM.split(), k=100 + 50 * (item % 6))) + "."


def feed_body(number: int, version: int) -> bytes:
    """Version ``version`` of feed ``number``: items_in(version) items, each titled
    with the token feed<number>ver<version>, so a reader can tell versions apart."""
    token = f"feed{number}ver{version}"
    items = []
    for item in range(items_in(version)):
        hour = item % 24
        items.append(
            f"<item><guid>f{number}-{item}</guid>"
            f"<title>Item {item} of {token}</title>"
            f"<link>https://example.org/f{number}/{item}</link>"
            f"<pubDate>Tue, 03 Jun 2025 {hour:02d}:00:00 +0000</pubDate>"
            f"<description>&lt;p&gt;{token} {item}. {story(number, item)}&lt;/p&gt;"
            f"</description></item>"
        )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {number}</title>'
        f"<link>https://example.org/f{number}/</link>{''.join(items)}</channel></rss>"
    ).encode()


@functools.cache
def body_hash(number: int, version: int) -> str:
    return hashlib.sha256(feed_body(number, version)).hexdigest()


class Publisher:
    """Serves the feeds; a thread publishes a new version of the changing ones."""

    def __init__(self, server: FeedServer, feeds: int, changing: int, every: float) -> None:
        self.server = server
        self.feeds = feeds
        self.changing = changing  # feeds 0 .. changing-1 change; the others never do
        self.every = every
        self.versions = [0] * feeds
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        for number in range(feeds):
            self._publish(number)

    def url(self, number: int) -> str:
        return self.server.url(feed_path(number))

    def _publish(self, number: int) -> None:
        version = self.versions[number]
        self.server.add(
            feed_path(number),
            feed_body(number, version),
            content_type="application/rss+xml",
            etag=feed_etag(number, version),
        )

    def _run(self) -> None:
        while not self.stopped.wait(self.every):
            for number in range(self.changing):
                self.versions[number] += 1
                self._publish(number)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        if self.thread.is_alive():
            self.thread.join()


# -- the invariant, in one read transaction


def feed_number(url: str) -> int:
    match = re.search(r"/f(\d+)\.xml$", url)
    if match is None:
        raise ValueError(url)
    return int(match.group(1))


def version_of(number: int, etag: str | None) -> int | None:
    if etag is None:
        return None
    prefix = f'"{number}.'
    if not (etag.startswith(prefix) and etag.endswith('"')):
        raise ValueError(f"feed {number}: unexpected ETag {etag!r}")
    return int(etag[len(prefix) : -1])


def check_snapshot(conn: sqlite3.Connection) -> tuple[list[str], set[tuple[int, int]]]:
    """Problems seen in one read transaction, and the (feed, version) pairs stored.

    A feed is whole when its ETag and body hash name the same version v, it has
    items_in(v) article_feeds rows, every one of its articles is titled with
    v's token, and the FTS index finds exactly those articles under the feed's
    tokens. A feed never stored has no validators and no rows.
    """
    problems: list[str] = []
    seen: set[tuple[int, int]] = set()
    conn.execute("BEGIN")
    try:
        feeds = conn.execute("SELECT id, url, etag, body_hash FROM feeds").fetchall()
        titles: dict[int, list[str]] = {}
        for feed_id, title in conn.execute(
            "SELECT af.feed_id, a.title FROM article_feeds af JOIN articles a "
            "ON a.id = af.article_id"
        ):
            titles.setdefault(feed_id, []).append(title)
        for feed_id, url, etag, stored_hash in feeds:
            number = feed_number(url)
            version = version_of(number, etag)
            got = titles.get(feed_id, [])
            if version is None:
                if got or stored_hash is not None:
                    problems.append(f"feed {number}: {len(got)} items but no ETag")
                continue
            seen.add((number, version))
            if stored_hash != body_hash(number, version):
                problems.append(f"feed {number}: body hash is not version {version}'s")
            if len(got) != items_in(version):
                problems.append(
                    f"feed {number}: {len(got)} items, version {version} has {items_in(version)}"
                )
            versions = {int(m.group(2)) for t in got if (m := TOKEN.search(t))}
            if versions != {version}:
                problems.append(
                    f"feed {number}: titles of versions {sorted(versions)} at {version}"
                )
            indexed = conn.execute(
                "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH ?",
                (f"feed{number}ver*",),
            ).fetchone()[0]
            current = conn.execute(
                "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH ?",
                (f"feed{number}ver{version}",),
            ).fetchone()[0]
            if indexed != items_in(version) or current != items_in(version):
                problems.append(
                    f"feed {number}: FTS finds {indexed} items ({current} of version "
                    f"{version}), version {version} has {items_in(version)}"
                )
    finally:
        conn.execute("COMMIT")
    return problems, seen


# -- reader processes (started with the spawn method: fresh interpreters)


@dataclass
class ReaderReport:
    name: str
    queries: int = 0
    errors: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # half-written feeds seen
    versions: list[tuple[int, int]] = field(default_factory=list)
    slowest: float = 0.0  # seconds, one query or command
    held: float = 0.0  # seconds the first read transaction was held open
    released_at: float | None = None  # time.time() when it was let go


def _save(report: ReaderReport, out: str) -> None:
    Path(out).write_text(json.dumps(report.__dict__))


def sql_reader(name: str, db: str, until: float, out: str, hold: float = 0.0) -> None:
    """Check the invariant in a loop until ``until`` (time.time()). With ``hold``,
    first keep one read transaction open that long."""
    report = ReaderReport(name)
    seen: set[tuple[int, int]] = set()
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, isolation_level=None, timeout=30)
        if hold:
            started = time.monotonic()
            conn.execute("BEGIN")
            before = conn.execute("SELECT count(*), max(modified_at) FROM articles").fetchone()
            time.sleep(hold)
            after = conn.execute("SELECT count(*), max(modified_at) FROM articles").fetchone()
            conn.execute("COMMIT")
            report.held = time.monotonic() - started
            report.released_at = time.time()
            report.queries += 2
            if before != after:
                report.problems.append(f"the held snapshot changed: {before} -> {after}")
        while time.time() < until:
            started = time.monotonic()
            try:
                problems, versions = check_snapshot(conn)
            except sqlite3.Error as exc:
                report.errors.append(f"{type(exc).__name__}: {exc}")
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                continue
            report.slowest = max(report.slowest, time.monotonic() - started)
            report.queries += 1
            report.problems.extend(problems)
            seen |= versions
        conn.close()
    except Exception as exc:
        report.errors.append(f"{type(exc).__name__}: {exc}")
    report.versions = sorted(seen)
    _save(report, out)


def _titles_whole(lines: list[str], number: int) -> str | None:
    """None when the JSON lines are one whole version of feed ``number``."""
    titles = [json.loads(line)["title"] for line in lines if line.strip()]
    if not titles:
        return f"feed {number}: no items"  # every feed is stored before readers start
    versions = {int(m.group(2)) for t in titles if (m := TOKEN.search(t))}
    if len(versions) != 1:
        return f"feed {number}: titles of versions {sorted(versions)}"
    (version,) = versions
    if len(titles) != items_in(version):
        return f"feed {number}: {len(titles)} items, version {version} has {items_in(version)}"
    return None


def cli_reader(name: str, config: str, until: float, out: str, feeds: int, seed: int) -> None:
    """Run the query commands in a loop until ``until``: articles and search of one
    feed (checked whole), stats."""
    report = ReaderReport(name)
    number = seed % feeds
    try:
        while time.time() < until:
            number = (number + 1) % feeds
            url = _feed_url(config, number)
            commands = [
                ["articles", "--feed", url, "--limit", "0", "--fields", "title", "--json"],
                ["search", f"feed{number}ver*", "--limit", "0", "--fields", "title", "--json"],
                ["stats", "--json"],
            ]
            for command in commands:
                if time.time() >= until:
                    break
                started = time.monotonic()
                result = subprocess.run(
                    [FEEDD, command[0], "-c", config, *command[1:]],
                    capture_output=True,
                    text=True,
                    timeout=60,
                    check=False,
                )
                report.slowest = max(report.slowest, time.monotonic() - started)
                report.queries += 1
                if result.returncode != 0 or any(s in result.stderr for s in LOCKED):
                    report.errors.append(
                        f"feedd {command[0]}: exit {result.returncode}: {result.stderr.strip()}"
                    )
                    continue
                if command[0] != "stats":
                    problem = _titles_whole(result.stdout.splitlines(), number)
                    if problem:
                        report.problems.append(f"feedd {command[0]}: {problem}")
                else:
                    json.loads(result.stdout)
    except Exception as exc:
        report.errors.append(f"{type(exc).__name__}: {exc}")
    _save(report, out)


_URLS: dict[tuple[str, int], str] = {}


def _feed_url(config: str, number: int) -> str:
    """The feed's URL as configured (the server's port is in it)."""
    if not _URLS:
        for line in Path(config).read_text().splitlines():
            if line.startswith("url = "):
                url = line.split('"')[1]
                _URLS[(config, feed_number(url))] = url
    return _URLS[(config, number)]


# -- the WAL, read from outside


@dataclass(frozen=True)
class WalSample:
    at: float  # time.time()
    size: int  # bytes of the -wal file
    frames: int  # frames of the current WAL generation (the part in use)
    generation: int  # the header's checkpoint sequence: +1 each time the WAL restarts


def wal_sample(db: Path) -> WalSample:
    """Read the -wal header and count the frames whose salts match it: frames
    left over from before the last restart carry the old salts."""
    wal = db.with_name(db.name + "-wal")
    now = time.time()
    try:
        with wal.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            header = handle.read(32)
            if len(header) < 32:
                return WalSample(now, size, 0, -1)
            page_size, generation = struct.unpack(">II", header[8:16])
            salts = header[16:24]
            frames = 0
            offset = 32
            while True:
                handle.seek(offset)
                frame = handle.read(24)
                if len(frame) < 24 or frame[8:16] != salts:
                    break
                frames += 1
                offset += 24 + page_size
    except FileNotFoundError:
        return WalSample(now, 0, 0, -1)
    return WalSample(now, size, frames, generation)


class WalWatcher:
    def __init__(self, db: Path, every: float = 0.2) -> None:
        self.db = db
        self.every = every
        self.samples: list[WalSample] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stopped.is_set():
            self.samples.append(wal_sample(self.db))
            self.stopped.wait(self.every)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> list[WalSample]:
        self.stopped.set()
        self.thread.join()
        return self.samples


# -- the whole run


@dataclass
class Run:
    readers: list[ReaderReport]
    wal: list[WalSample]
    daemon_log: str
    daemon_exit: int
    held_until: float | None  # when the long reader let go (time.time())
    started_at: float
    final_problems: list[str]
    articles: int

    @property
    def queries(self) -> int:
        return sum(r.queries for r in self.readers)

    @property
    def errors(self) -> list[str]:
        return [f"{r.name}: {e}" for r in self.readers for e in r.errors]

    @property
    def problems(self) -> list[str]:
        return [f"{r.name}: {p}" for r in self.readers for p in r.problems]

    @property
    def versions_seen(self) -> set[tuple[int, int]]:
        return {tuple(v) for r in self.readers for v in r.versions}  # type: ignore[misc]

    def longest_over(self, limit: int, since: float) -> float:
        """The longest time (s) the WAL file stayed over ``limit`` bytes after ``since``."""
        longest = 0.0
        over_since: float | None = None
        for sample in self.wal:
            if sample.size > limit:
                if over_since is None:
                    over_since = max(sample.at, since)
                longest = max(longest, sample.at - over_since)
            else:
                over_since = None
        return longest

    def wal_after(self, moment: float) -> list[WalSample]:
        return [s for s in self.wal if s.at >= moment]


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except sqlite3.OperationalError:
            pass  # not created yet
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def run_readers(
    folder: Path,
    server: FeedServer,
    *,
    feeds: int,
    changing: int,
    duration: float,
    sql_readers: int,
    cli_readers: int,
    hold: float,
    hold_after: float = 2.0,
    publish_every: float = 1.5,
) -> Run:
    """Start the daemon on the generated feeds, wait for the first round to be
    stored, read for ``duration`` seconds, stop everything. One of the SQL
    readers starts ``hold_after`` seconds in and holds a read transaction for
    ``hold`` seconds (0: none does)."""
    from conftest import write_config

    publisher = Publisher(server, feeds, changing, publish_every)
    extra = (
        'workers = 2\nadaptive = false\ninterval = "2s"\nper_host = 8\n\n[links]\nresolve = "off"'
    )
    config = write_config(folder, [publisher.url(n) for n in range(feeds)], extra)
    db = folder / "feedd.db"
    log_path = folder / "daemon.log"
    watcher = WalWatcher(db)
    context = multiprocessing.get_context("spawn")
    processes: list[multiprocessing.process.BaseProcess] = []
    outs: list[str] = []
    with log_path.open("w") as log:
        daemon = subprocess.Popen(
            [FEEDD, "run", "-c", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
    try:
        _wait(lambda: _stored_feeds(db) == feeds, 60, "every feed stored once")
        publisher.start()
        watcher.start()
        started_at = time.time()
        until = started_at + duration
        for index in range(sql_readers):
            out = str(folder / f"sql{index}.json")
            if index == 0 and hold:
                target, args = _held_sql_reader, (f"sql{index}-long", str(db), until, out)
                args = (*args, hold, hold_after)
            else:
                target, args = sql_reader, (f"sql{index}", str(db), until, out)
            processes.append(context.Process(target=target, args=args))
            outs.append(out)
        for index in range(cli_readers):
            out = str(folder / f"cli{index}.json")
            args = (f"cli{index}", str(config), until, out, feeds, index * 7)
            processes.append(context.Process(target=cli_reader, args=args))
            outs.append(out)
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=max(0.0, until - time.time()) + 120)
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()
                process.join()
        publisher.stop()
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=60)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        samples = watcher.stop() if watcher.thread.is_alive() else watcher.samples
        (folder / "wal.csv").write_text(
            "at,size,frames,generation\n"
            + "".join(f"{s.at:.2f},{s.size},{s.frames},{s.generation}\n" for s in samples)
        )
    reports = []
    for out in outs:
        path = Path(out)
        if path.exists():
            reports.append(ReaderReport(**json.loads(path.read_text())))
        else:
            reports.append(ReaderReport(path.stem, errors=["the reader process left no report"]))
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, isolation_level=None)) as conn:
        final_problems, _ = check_snapshot(conn)
        integrity = conn.execute("PRAGMA integrity_check").fetchall()
        articles = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    if integrity != [("ok",)]:
        final_problems.append(f"integrity_check: {integrity}")
    held_until = next((r.released_at for r in reports if r.released_at), None)
    return Run(
        readers=reports,
        wal=samples,
        daemon_log=log_path.read_text(),
        daemon_exit=daemon.returncode,
        held_until=held_until,
        started_at=started_at,
        final_problems=final_problems,
        articles=articles,
    )


def _held_sql_reader(
    name: str, db: str, until: float, out: str, hold: float, hold_after: float
) -> None:
    time.sleep(hold_after)  # let the WAL settle into its usual size first
    sql_reader(name, db, until, out, hold)


def _stored_feeds(db: Path) -> int:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return conn.execute("SELECT count(*) FROM feeds WHERE etag IS NOT NULL").fetchone()[0]


# -- the tests


def test_readers_beside_a_writing_daemon(server, tmp_path):
    from feedd.store.sqlite import WAL_LIMIT
    from feedd.store.sqlite.maintenance import WAL_RETRY_SECONDS

    hold, changing = 6.0, 14
    run = run_readers(
        tmp_path,
        server,
        feeds=20,
        changing=changing,
        duration=22.0,
        sql_readers=3,  # the first one holds a read transaction first
        cli_readers=1,  # each command is a new process; more would starve the daemon of CPU
        hold=hold,
        hold_after=1.0,
    )
    assert run.daemon_exit == 0, run.daemon_log[-3000:]
    assert not run.errors, run.errors[:20]
    assert not run.problems, run.problems[:20]
    assert not run.final_problems, run.final_problems
    for text in (*LOCKED, "Traceback", "failed", "ERROR"):
        assert text not in run.daemon_log, run.daemon_log[-3000:]
    assert all(r.queries >= 3 for r in run.readers), [(r.name, r.queries) for r in run.readers]
    # The daemon kept writing while they read: readers saw changing feeds in
    # several versions. How many depends on how many polls fit in the run,
    # which depends on the machine's load (a busy runner got through few).
    versions = run.versions_seen
    moved = [n for n in range(changing) if len({v for m, v in versions if m == n}) >= 2]
    assert moved, sorted(versions)

    # The long reader held its snapshot (checked inside it), then let go.
    long_reader = next(r for r in run.readers if r.name.endswith("-long"))
    assert long_reader.held >= hold
    released = run.held_until
    assert released is not None
    # From then on the WAL file never stayed over store.WAL_LIMIT for long,
    # although the other readers never paused (SQLite alone cannot restart
    # the WAL then): at most until a poll ends after the daemon's retry delay.
    settle = WAL_RETRY_SECONDS + 3
    assert run.longest_over(WAL_LIMIT, since=released) <= settle
    # And after that, it stays within the limit plus what a few polls write.
    assert max(s.size for s in run.wal_after(released + settle)) <= 2 * WAL_LIMIT


def test_trim_wal_waits_for_readers_then_truncates(tmp_path):
    from feedd.store.sqlite import BUSY_TIMEOUT_MS, WAL_LIMIT
    from feedd.store.sqlite import SQLiteStore as Store
    from feedd.store.sqlite.maintenance import WAL_WAIT_MS

    db = tmp_path / "feedd.db"
    wal = Path(f"{db}-wal")
    with Store(db) as store:
        assert store.trim_wal() is None  # small: nothing to do
        reader = sqlite3.connect(f"file:{db}?mode=ro", uri=True, isolation_level=None)
        reader.execute("BEGIN")
        assert reader.execute("SELECT count(*) FROM articles").fetchone() == (0,)
        with store.transaction():
            store.conn.execute("CREATE TABLE ballast (x TEXT)")
            for _ in range(WAL_LIMIT // 4000 + 100):
                store.conn.execute("INSERT INTO ballast VALUES (?)", ("x" * 4000,))
        assert wal.stat().st_size > WAL_LIMIT
        # The reader's snapshot needs the WAL: trim_wal waits a little, then gives up.
        started = time.monotonic()
        assert store.trim_wal() is False
        assert WAL_WAIT_MS / 1000 * 0.8 <= time.monotonic() - started < 5
        assert wal.stat().st_size > WAL_LIMIT
        assert store.conn.execute("PRAGMA busy_timeout").fetchone() == (BUSY_TIMEOUT_MS,)
        reader.execute("COMMIT")
        assert store.trim_wal() is True
        assert wal.stat().st_size == 0
        reader.close()
        assert store.count("ballast") == WAL_LIMIT // 4000 + 100
        assert store.integrity_problems() == []


async def test_the_daemon_trims_the_wal_after_polls(server, tmp_path, caplog):
    """Daemon wiring: each poll ends with the store's upkeep (trim_wal); after a reader outlasted
    the wait, no new try before WAL_RETRY_SECONDS."""
    from conftest import write_config

    from feedd.config import load_config
    from feedd.daemon import Daemon
    from feedd.pipeline import Pipeline, make_client, make_guard, open_store
    from feedd.store.sqlite import WAL_LIMIT

    caplog.set_level(logging.INFO, logger="feedd")
    url = server.add(feed_path(0), feed_body(0, 0), content_type="application/rss+xml")
    config = load_config(write_config(tmp_path, [url]))
    store = open_store(config)
    guard = make_guard(config)
    client = make_client(config, guard)
    daemon = Daemon(config)
    daemon.pipeline = Pipeline(config, store, client, guard)
    wal = Path(f"{config.database}-wal")
    reader = sqlite3.connect(f"file:{config.database}?mode=ro", uri=True, isolation_level=None)
    try:
        # A reader's snapshot keeps the WAL from restarting while much is written.
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM feeds").fetchone()
        with store.transaction():
            store.conn.execute("CREATE TABLE ballast (x TEXT)")
            for _ in range(WAL_LIMIT // 4000 + 100):
                store.conn.execute("INSERT INTO ballast VALUES (?)", ("x" * 4000,))
        (feed,) = store.feeds_by_url([url])
        await daemon._poll(feed)
        assert wal.stat().st_size > WAL_LIMIT  # the reader is still there
        assert store.wal_retry_at > time.monotonic()
        reader.execute("COMMIT")
        await daemon._poll(feed)  # too soon to try again
        assert wal.stat().st_size > WAL_LIMIT
        store.wal_retry_at = 0.0  # as WAL_RETRY_SECONDS later
        await daemon._poll(feed)
        assert wal.stat().st_size == 0
        assert any("checkpointed and truncated" in m for m in caplog.messages)
        assert store.count("articles") == items_in(0)
    finally:
        reader.close()
        daemon.pipeline.close()
        await client.aclose()
        store.close()
