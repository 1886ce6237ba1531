"""Crash consistency: SIGKILL feedd at random moments, restart it, and check that nothing is lost.

    python bench/crash_loop.py [--kills 50] [--seed 1] [--corpus PATH] [--limit N]
                               [--mode mixed|fetch|run] [--max-delay S] [--aim F]
                               [--sample] [--feedd COMMAND] [--keep]

A local FeedServer (tests/feedserver.py) serves the real-world feeds of the
shared corpus (realworld/INDEX.tsv, 261 feeds, as bench/corpus_run.py serves
them: content types, ETags, gzip) plus generated "churn" RSS feeds (--churn,
default 20, of --items items each; --slow of them drip their body for about
--slow-seconds, so kills land mid-transfer). With --sample instead of the
corpus, the sample feeds of tests/data are served (what the test suite uses).

1. Reference: one clean, uninterrupted `feedd fetch` into a fresh database,
   with every feed in its final version.
2. The loop, one round per start: every feed is put in the round's version
   (deterministic from --seed: new churn items appear, some are edited, some
   corpus documents are rewritten with trailing whitespace so they are parsed
   again, a few answer 503 in the early rounds), then the installed `feedd`
   command is started as a subprocess (`feedd fetch` or `feedd run`, drawn
   per round; the feeds listed in a new order each round) and, after a random
   delay (uniform between --min-delay and --max-delay; for --aim of the
   rounds, then at the next write transaction, 0-15 ms into it), frozen with
   SIGSTOP, looked at (does it hold the WAL write lock, i.e. is it inside a
   write transaction? is the server sending it a body?) and killed with
   SIGKILL. Until --kills kills were made. After each
   kill, a copy of the database files as the crash left them is checked:
   integrity, FTS index, no orphan rows either way, and every feed's stored
   ETag is covered by the items of the document that ETag belongs to (a
   validator stored without its items would turn the next poll into a 304
   and lose them for good).
3. Final: every feed in its final version, one `feedd fetch` that runs to the
   end; then the same checks, and the result against the reference: the same
   (feed URL, guid) pairs, the same content hashes, the same article count,
   the same feed states and validators.

Prints a table; exits 1 when a check fails, 2 on a usage error. Everything it
writes lives in a temporary folder (--keep keeps it: configs, databases,
every run's output). tests/reliability/test_crash.py runs a short version.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib.util
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import closing, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))

from feedserver import FeedServer  # noqa: E402 - after the path tweak

DEFAULT_CORPUS = Path(os.environ.get("FEEDD_CORPUS", ROOT.parent / "shared" / "corpus"))
DEFAULT_FEEDD = str(Path(sys.executable).parent / "feedd")
SAMPLES = ROOT / "tests" / "data"
# tests/data feeds that parse (each has its .expected.json), with a typical content type.
SAMPLE_FILES = (
    ("lemon24-reader/full.rss", "application/rss+xml"),
    ("lemon24-reader/full.atom", "application/atom+xml"),
    ("lemon24-reader/full.json", "application/feed+json"),
    ("lemon24-reader/relative.rss", "application/rss+xml"),
    ("feedparser/rss10.rdf", "application/rdf+xml"),
    ("feedparser/example.json", "application/json"),
    ("feedvalidator/rss91n_entity.xml", "application/xml"),
)
# SQLite's unix VFS locks byte 120 of the -shm file for the WAL write lock
# (held from BEGIN IMMEDIATE to COMMIT) and byte 121 during a checkpoint.
WAL_WRITE_LOCK = 120
WAL_CHECKPOINT_LOCK = 121
AIM_SECONDS = 3.0  # an aimed kill waits this long at most for a write to begin
LOG_ERROR = re.compile(r"^\S+ (ERROR|CRITICAL) |^Traceback \(most recent call last\)", re.M)
WIDE_DECLARATION = re.compile(rb"\s*<\?xml[^>]*encoding=[\"']?(utf-?16|utf-?32|ucs)", re.I)
WIDE_BOMS = (b"\xff\xfe", b"\xfe\xff")  # UTF-16 and UTF-32 (LE: same start)


# -- what is served, round by round (pure)


@dataclass(frozen=True)
class Static:
    """A document served as it is (a corpus or tests/data feed)."""

    name: str
    body: bytes  # decoded: no Content-Encoding
    content_type: str
    gzip: bool = False  # stored compressed: served with Content-Encoding gzip


@dataclass(frozen=True)
class Served:
    """One feed's route in one round."""

    path: str
    body: bytes
    content_type: str
    etag: str | None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    chunk: int = 0
    guids: frozenset[str] | None = None  # known for churn feeds; statics' come from the reference


@dataclass(frozen=True)
class Settings:
    kills: int = 50
    seed: int = 1
    min_delay: float = 0.05
    max_delay: float = 5.0  # feedd needs ~0.8 s to start; see bench/README.md
    modes: tuple[str, ...] = ("fetch", "run")  # drawn per round
    churn: int = 20  # generated RSS feeds
    items: int = 30  # items per churn feed, in the final version
    slow: int = 3  # churn feeds whose body drips in chunks
    slow_seconds: float = 2.5  # how long a slow body takes to arrive
    touch: float = 0.1  # chance per round that a static document is rewritten
    late: float = 0.05  # share of static documents that answer 503 in the early rounds
    # Share of rounds that, once the delay is over, wait for the next write
    # transaction (up to AIM_SECONDS) and kill 0-15 ms into it.
    aim: float = 0.5
    feedd: str = DEFAULT_FEEDD
    timeout: float = 900.0  # for the reference and final runs


def etag_of(body: bytes) -> str:
    return f'"{hashlib.sha256(body).hexdigest()[:16]}"'


def touchable(body: bytes) -> bool:
    """Trailing whitespace changes nothing a parser reads, except in UTF-16/32, and in
    a document that only claims to be UTF-16: feedparser then decodes it as UTF-16
    when its length is even, and as UTF-8 (correctly) when it is odd."""
    return (
        not body.startswith(WIDE_BOMS)
        and b"\x00" not in body
        and not WIDE_DECLARATION.match(body[:200])
    )


class Catalog:
    """Every feed the harness serves and what it says in each round (version = the round number).

    ``version=None`` is the final version, which the reference run and the final
    run see. Only additions and edits happen between versions (no item ever
    disappears), so the final version alone determines what a database must
    hold, whichever earlier versions a crashed run happened to store.
    """

    def __init__(self, statics: Sequence[Static], settings: Settings) -> None:
        self.statics = list(statics)
        self.settings = settings
        rounds = max(settings.kills, 2)
        self.touches: list[list[int]] = []
        self.late_until: list[int] = []
        for number, static in enumerate(self.statics):
            rng = random.Random(f"{settings.seed}-static-{number}")
            touches = [r for r in range(1, rounds) if rng.random() < settings.touch]
            self.touches.append(touches if touchable(static.body) else [])
            late = rng.random() < settings.late
            self.late_until.append(rng.randint(1, max(1, rounds // 2)) if late else 0)
        # Churn feeds: when each item appears and the rounds at which it is edited.
        self.appears: list[list[int]] = []
        self.edits: list[list[list[int]]] = []
        for feed in range(settings.churn):
            rng = random.Random(f"{settings.seed}-churn-{feed}")
            first = rng.randint(settings.items // 3, settings.items)  # present from version 0
            self.appears.append(
                [0 if i < first else rng.randint(1, rounds - 1) for i in range(settings.items)]
            )
            self.edits.append(
                [
                    sorted(rng.sample(range(1, rounds), k=rng.randint(1, 2)))
                    if rng.random() < 0.15
                    else []
                    for _ in range(settings.items)
                ]
            )

    @staticmethod
    def static_path(number: int, static: Static) -> str:
        return f"/s/{number}/{re.sub(r'[^A-Za-z0-9._-]', '_', Path(static.name).name)}"

    @staticmethod
    def churn_path(feed: int) -> str:
        return f"/c/{feed}.xml"

    def served(self, version: int | None) -> list[Served]:
        return [
            *(self._static(n, s, version) for n, s in enumerate(self.statics)),
            *(self._churn(feed, version) for feed in range(self.settings.churn)),
        ]

    def _static(self, number: int, static: Static, version: int | None) -> Served:
        path = self.static_path(number, static)
        if version is not None and version < self.late_until[number]:
            return Served(path, b"unavailable", "text/plain", None, status=503)
        touches = self.touches[number]
        count = len(touches) if version is None else sum(t <= version for t in touches)
        body = static.body + b"\n" * count
        headers = {}
        if static.gzip:
            body = gzip.compress(body, mtime=0)
            headers["Content-Encoding"] = "gzip"
        return Served(path, body, static.content_type, etag_of(body), headers=headers)

    def _churn(self, feed: int, version: int | None) -> Served:
        visible = [
            i
            for i, appears in enumerate(self.appears[feed])
            if version is None or appears <= version
        ]
        start = datetime(2025, 1, 1, tzinfo=UTC)
        items = []
        for i in reversed(visible):  # newest first, as feeds do
            edits = self.edits[feed][i]
            revision = len(edits) if version is None else sum(e <= version for e in edits)
            words = random.Random(f"{self.settings.seed}-text-{feed}-{i}-{revision}")
            text = " ".join(words.choice(WORDS) for _ in range(40))
            title = f"Feed {feed} item {i}" + (f" (revision {revision})" if revision else "")
            items.append(
                "<item>"
                f'<guid isPermaLink="false">crash-{feed}-{i}</guid>'
                f"<title>{escape(title)}</title>"
                f"<link>https://example.org/crash/{feed}/{i}</link>"
                f"<pubDate>{format_datetime(start + timedelta(hours=i))}</pubDate>"
                f"<description>{escape(f'<p>Revision {revision}: {text}.</p>')}</description>"
                "</item>"
            )
        body = (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Churn feed {feed}</title><link>https://example.org/crash/{feed}/</link>"
            f"<description>Generated by bench/crash_loop.py</description>{''.join(items)}"
            "</channel></rss>"
        ).encode()
        delay = chunk = 0
        if feed < self.settings.slow:
            pieces = 25
            chunk = max(1, len(body) // pieces + 1)
            delay = self.settings.slow_seconds / pieces
        return Served(
            self.churn_path(feed),
            body,
            "application/rss+xml",
            etag_of(body),
            delay=delay,
            chunk=chunk,
            guids=frozenset(f"crash-{feed}-{i}" for i in visible),
        )


WORDS = (
    "river", "harbour", "council", "budget", "storm", "vote", "market", "school", "bridge",
    "garden", "station", "archive", "signal", "ledger", "protest", "summit", "tariff",
)  # fmt: skip


# -- the database, as a downstream reader sees it


@dataclass(frozen=True)
class Snapshot:
    items: dict[tuple[str, str], str | None]  # (feed url, guid) -> content_hash
    articles: int
    fts_docs: int  # rows of the FTS index's own docsize table
    feeds: dict[str, tuple[str, str | None, str | None]]  # url -> (state, etag, body_hash)
    problems: tuple[str, ...]  # integrity, FTS and orphan problems

    @property
    def fingerprint(self) -> str:
        text = repr((sorted(self.items.items()), sorted(self.feeds.items()), self.articles))
        return hashlib.sha256(text.encode()).hexdigest()


def snapshot(db: Path) -> Snapshot:
    """Read and check a database no process has open (recovering its WAL if needed)."""
    with closing(sqlite3.connect(db, isolation_level=None)) as conn:
        if conn.execute("PRAGMA user_version").fetchone()[0] == 0:
            # Killed before the schema's transaction committed: it must be all absent.
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            partial = (f"schema version 0 but {tables} schema objects",) if tables else ()
            return Snapshot({}, 0, 0, {}, partial)
        problems = [
            f"integrity_check: {row[0]}"
            for row in conn.execute("PRAGMA integrity_check")
            if row[0] != "ok"
        ]
        try:
            # rank = 1: also check the index against the content table (articles).
            conn.execute(
                "INSERT INTO articles_fts (articles_fts, rank) VALUES ('integrity-check', 1)"
            )
        except sqlite3.DatabaseError as exc:
            problems.append(f"articles_fts integrity-check: {exc}")
        articles = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
        # count(*) on an external-content FTS5 table reads the content table, so
        # it always equals articles; the index's own row count is in _docsize.
        fts_docs = conn.execute("SELECT count(*) FROM articles_fts_docsize").fetchone()[0]
        if fts_docs != articles:
            problems.append(f"articles_fts indexes {fts_docs} rows, articles has {articles}")
        for sql, what in (
            (
                "SELECT count(*) FROM article_feeds "
                "WHERE article_id NOT IN (SELECT id FROM articles)",
                "article_feeds rows without their article",
            ),
            (
                "SELECT count(*) FROM articles "
                "WHERE id NOT IN (SELECT article_id FROM article_feeds)",
                "articles without an article_feeds row",
            ),
            (
                "SELECT count(*) FROM article_feeds WHERE feed_id NOT IN (SELECT id FROM feeds)",
                "article_feeds rows without their feed",
            ),
        ):
            count = conn.execute(sql).fetchone()[0]
            if count:
                problems.append(f"{count} {what}")
        items = {
            (url, guid): content_hash
            for url, guid, content_hash in conn.execute(
                "SELECT f.url, af.guid, af.content_hash FROM article_feeds af "
                "JOIN feeds f ON f.id = af.feed_id"
            )
        }
        feeds = {
            url: (state, etag, body_hash)
            for url, state, etag, body_hash in conn.execute(
                "SELECT url, state, etag, body_hash FROM feeds"
            )
        }
    return Snapshot(items, articles, fts_docs, feeds, tuple(problems))


def copy_database(db: Path, folder: Path) -> Path:
    """The database files as a crash left them, copied (without -shm, which is rebuilt)."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for suffix in ("", "-wal", "-journal"):
        source = Path(f"{db}{suffix}")
        if source.exists():
            shutil.copyfile(source, folder / f"{db.name}{suffix}")
    return folder / db.name


def uncovered(snap: Snapshot, expected: dict[tuple[str, str], frozenset[str]]) -> list[str]:
    """Feeds whose stored ETag belongs to a document with items that are not stored."""
    guids_of: dict[str, set[str]] = {}
    for url, guid in snap.items:
        guids_of.setdefault(url, set()).add(guid)
    found = []
    for url, (_state, etag, _body_hash) in snap.feeds.items():
        wanted = expected.get((url, etag or ""))
        if etag is None or wanted is None:
            continue
        missing = wanted - guids_of.get(url, set())
        if missing:
            found.append(f"{url}: ETag {etag} stored without {len(missing)} of its items")
    return found


# -- the process and what it was doing when killed


@dataclass(frozen=True)
class LockState:
    db_open: bool  # the process holds a lock on the database file
    mid_write: bool  # ... the WAL write lock: inside a write transaction
    mid_checkpoint: bool


def lock_state(pid: int, db: Path) -> LockState:
    inodes = {}
    for suffix in ("", "-shm"):
        with suppress(FileNotFoundError):
            inodes[os.stat(f"{db}{suffix}").st_ino] = suffix
    held: list[tuple[str, int]] = []
    with open("/proc/locks", encoding="ascii") as file:
        for line in file:
            fields = line.split()
            if len(fields) < 8 or fields[1] == "->":  # "->": waiting, not holding
                continue
            owner, device, start = fields[4], fields[5], fields[6]
            inode = int(device.rsplit(":", 1)[1])
            if owner == str(pid) and inode in inodes:
                held.append((inodes[inode], int(start)))
    return LockState(
        db_open=any(suffix == "" for suffix, _ in held),
        mid_write=("-shm", WAL_WRITE_LOCK) in held,
        mid_checkpoint=("-shm", WAL_CHECKPOINT_LOCK) in held,
    )


@dataclass
class Round:
    number: int
    mode: str
    delay: float
    aimed: bool = False  # waited for a write transaction after the delay
    into_write: float = 0.0  # then slept this long before freezing
    killed: bool = False
    exit_code: int | None = None  # when it ended by itself
    locks: LockState | None = None
    transfers: int = 0  # responses the server was sending when the process was frozen
    changed: bool = False  # the database differs from the one the previous round left
    problems: list[str] = field(default_factory=list)


def write_config(folder: Path, urls: Sequence[str]) -> Path:
    lines = [
        'database = "feedd.db"',
        "",
        "[fetch]",
        "allow_private_networks = true",
        'timeout = "60s"',
        # `feedd run` polls each feed again after 2 s, so writes keep coming.
        'interval = "2s"',
        "adaptive = false",
        "per_host = 8",  # every feed is on 127.0.0.1
        "",
        # Item links point at the internet, which this harness must not reach.
        "[links]",
        'resolve = "off"',
        "",
    ]
    for url in urls:
        lines += ["[[feeds]]", f'url = "{url}"', ""]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "feedd.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def start(settings: Settings, mode: str, config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as output:
        return subprocess.Popen(
            [settings.feedd, mode, "-c", str(config)],
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=config.parent,
        )


def run_to_end(settings: Settings, config: Path, log: Path) -> tuple[int, float]:
    started = time.monotonic()
    process = start(settings, "fetch", config, log)
    try:
        code = process.wait(timeout=settings.timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        code = -1
    return code, time.monotonic() - started


def wait_for_write(process: subprocess.Popen[bytes], db: Path, timeout: float) -> None:
    """Until the process holds the WAL write lock (or ends, or the time is up)."""
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        if db.exists() and lock_state(process.pid, db).mid_write:
            return
        time.sleep(0.001)


def freeze_and_kill(
    process: subprocess.Popen[bytes], db: Path, server: FeedServer, rnd: Round
) -> None:
    """SIGSTOP, look at what it holds, SIGKILL: the state seen is the state killed."""
    os.kill(process.pid, signal.SIGSTOP)
    _, status = os.waitpid(process.pid, os.WUNTRACED)
    if not os.WIFSTOPPED(status):  # it ended between the timeout and the signal
        process.returncode = os.waitstatus_to_exitcode(status)
        rnd.exit_code = process.returncode
        return
    rnd.locks = lock_state(process.pid, db)
    with server.lock:
        rnd.transfers = server.in_flight
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    rnd.killed = True


# -- the harness


@dataclass
class Report:
    settings: Settings
    feeds: int = 0
    rounds: list[Round] = field(default_factory=list)
    reference_seconds: float = 0.0
    loop_seconds: float = 0.0
    final_seconds: float = 0.0
    reference_code: int | None = None
    final_code: int | None = None
    reference: Snapshot | None = None
    final: Snapshot | None = None
    lost: list[tuple[str, str]] = field(default_factory=list)
    extra: list[tuple[str, str]] = field(default_factory=list)
    stale: list[tuple[str, str]] = field(default_factory=list)
    feed_differences: list[str] = field(default_factory=list)
    error_logs: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    db_bytes: int = 0
    loop_items: int = 0  # items stored when the loop ended (before the final run)

    @property
    def kills(self) -> list[Round]:
        return [r for r in self.rounds if r.killed]

    @property
    def duplicated(self) -> int:
        if self.final is None or self.reference is None:
            return 0
        return max(0, self.final.articles - self.reference.articles)

    def table(self) -> str:
        kills = self.kills
        locks = [r.locks for r in kills if r.locks is not None]
        ref, final = self.reference, self.final
        modes = ", ".join(
            f"{sum(r.mode == m for r in kills)} {m}" for m in sorted({r.mode for r in kills})
        )
        checked = ("; ".join(final.problems) or "ok") if final else "-"
        rows = [
            ("feeds served", f"{self.feeds}"),
            ("kills (SIGKILL)", f"{len(kills)} ({modes})"),
            ("  aimed at a write (after the delay)", f"{sum(r.aimed for r in kills)}"),
            ("runs that ended before the kill", f"{len(self.rounds) - len(kills)}"),
            ("  killed before opening the db", f"{sum(not s.db_open for s in locks)}"),
            ("  killed mid-write (WAL write lock held)", f"{sum(s.mid_write for s in locks)}"),
            ("  killed mid-checkpoint", f"{sum(s.mid_checkpoint for s in locks)}"),
            ("  killed mid-transfer (server sending)", f"{sum(r.transfers > 0 for r in kills)}"),
            ("  kills after which the db had changed", f"{sum(r.changed for r in kills)}"),
            ("items stored when the loop ended", f"{self.loop_items}"),
            ("rounds with a failed check", f"{sum(bool(r.problems) for r in self.rounds)}"),
            ("reference articles / items", f"{ref.articles} / {len(ref.items)}" if ref else "-"),
            ("final articles / items", f"{final.articles} / {len(final.items)}" if final else "-"),
            ("items lost", f"{len(self.lost)}"),
            ("items duplicated (extra articles)", f"{self.duplicated}"),
            ("items not in the reference", f"{len(self.extra)}"),
            ("items with stale content", f"{len(self.stale)}"),
            ("feeds differing (state, validators)", f"{len(self.feed_differences)}"),
            ("integrity, FTS, orphans (final)", checked),
            ("ERROR lines in feedd's output", f"{len(self.error_logs)}"),
            ("database size", f"{self.db_bytes / 1e6:.1f} MB"),
            ("reference run (feedd fetch)", f"{self.reference_seconds:.1f} s"),
            ("kill loop", f"{self.loop_seconds:.1f} s"),
            ("final run (feedd fetch)", f"{self.final_seconds:.1f} s"),
            ("result", "FAIL" if self.problems else "ok"),
        ]
        width = max(len(label) for label, _ in rows)
        lines = [f"{label:<{width}}  {value}" for label, value in rows]
        lines += [f"  problem: {p}" for p in self.problems[:30]]
        if len(self.problems) > 30:
            lines.append(f"  ... {len(self.problems) - 30} more problems")
        return "\n".join(lines)


def install(server: FeedServer, served: Sequence[Served]) -> dict[str, Served]:
    """Put every route in its version; returns URL -> what it serves."""
    urls = {}
    for feed in served:
        url = server.add(
            feed.path,
            feed.body,
            status=feed.status,
            content_type=feed.content_type,
            etag=feed.etag,
            headers=dict(feed.headers),
            delay=feed.delay,
            chunk=feed.chunk,
        )
        urls[url] = feed
    return urls


def source_fingerprint() -> str | None:
    """A hash of the feedd package this interpreter imports (what DEFAULT_FEEDD runs).

    The reference and the final run are minutes apart: if feedd's code changes
    meanwhile (an editable install in a working tree being edited), the two
    databases differ for that reason alone.
    """
    spec = importlib.util.find_spec("feedd")
    if spec is None or spec.origin is None:
        return None
    digest = hashlib.sha256()
    for path in sorted(Path(spec.origin).parent.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def crash_loop(
    settings: Settings, statics: Sequence[Static], server: FeedServer, folder: Path
) -> Report:
    """The whole harness: reference, kill loop, final run, checks."""
    report = Report(settings)
    code_before = source_fingerprint() if settings.feedd == DEFAULT_FEEDD else None
    catalog = Catalog(statics, settings)
    logs = folder / "logs"
    logs.mkdir(parents=True, exist_ok=True)

    # 1. The reference: the final versions, one clean run into a fresh database.
    final_urls = install(server, catalog.served(None))
    report.feeds = len(final_urls)
    reference_config = write_config(folder / "reference", list(final_urls))
    report.reference_code, report.reference_seconds = run_to_end(
        settings, reference_config, logs / "reference.log"
    )
    reference = report.reference = snapshot(folder / "reference" / "feedd.db")
    if report.reference_code not in (0, 1):
        report.problems.append(f"the reference run exited {report.reference_code}")
    report.problems += [f"reference: {p}" for p in reference.problems]
    reference_guids: dict[str, set[str]] = {}
    for url, guid in reference.items:
        reference_guids.setdefault(url, set()).add(guid)
    for url, feed in final_urls.items():  # the harness's own premise: guids as generated
        if feed.guids is not None and feed.guids != reference_guids.get(url, set()):
            report.problems.append(f"harness: {url} stored other guids than it serves")

    # (feed url, ETag) -> the guids of that document: what a stored ETag promises.
    expected: dict[tuple[str, str], frozenset[str]] = {}

    def learn(urls: dict[str, Served]) -> None:
        for url, feed in urls.items():
            if feed.etag is not None:
                guids = feed.guids
                if guids is None:
                    guids = frozenset(reference_guids.get(url, ()))
                expected[(url, feed.etag)] = guids

    learn(final_urls)

    # 2. Kill, restart, kill ...
    crash = folder / "crash"
    urls = list(final_urls)
    config = write_config(crash, urls)
    db = crash / "feedd.db"
    rng = random.Random(settings.seed)
    previous = ""
    loop_started = time.monotonic()
    for number in range(settings.kills * 3 + 10):
        if len(report.kills) >= settings.kills:
            break
        learn(install(server, catalog.served(number)))
        rnd = Round(
            number,
            rng.choice(settings.modes),
            rng.uniform(settings.min_delay, settings.max_delay),
            rng.random() < settings.aim,
            rng.uniform(0.0, 0.015),
        )
        report.rounds.append(rnd)
        # A new feed order each round (`feedd fetch` polls in config order), so
        # the kills do not keep landing on the same first feeds.
        write_config(crash, rng.sample(urls, len(urls)))
        process = start(settings, rnd.mode, config, logs / f"{number:03d}-{rnd.mode}.log")
        try:
            rnd.exit_code = process.wait(timeout=rnd.delay)
        except subprocess.TimeoutExpired:
            if rnd.aimed:
                wait_for_write(process, db, AIM_SECONDS)
                time.sleep(rnd.into_write)
            if process.poll() is None:
                freeze_and_kill(process, db, server, rnd)
            else:
                rnd.exit_code = process.returncode
        if rnd.exit_code not in (None, 0, 1):
            rnd.problems.append(f"round {number}: feedd exited {rnd.exit_code}")
        if not db.exists():
            continue
        after = snapshot(copy_database(db, folder / "check"))
        rnd.problems += [f"round {number}: {p}" for p in after.problems]
        rnd.problems += [f"round {number}: {p}" for p in uncovered(after, expected)]
        rnd.changed = after.fingerprint != previous
        previous = after.fingerprint
        report.loop_items = len(after.items)
    report.loop_seconds = time.monotonic() - loop_started
    for rnd in report.rounds:
        report.problems += rnd.problems
    if len(report.kills) < settings.kills:
        report.problems.append(
            f"only {len(report.kills)} kills in {len(report.rounds)} rounds: feedd ended "
            "before the delay; raise --max-delay"
        )

    # 3. The final versions, one run to the end, and the comparison.
    learn(install(server, catalog.served(None)))
    write_config(crash, urls)
    report.final_code, report.final_seconds = run_to_end(settings, config, logs / "final.log")
    if report.final_code != report.reference_code:
        report.problems.append(
            f"the final run exited {report.final_code}, the reference {report.reference_code}"
        )
    final = report.final = snapshot(db)
    report.db_bytes = db.stat().st_size
    report.problems += [f"final: {p}" for p in final.problems]
    report.problems += [f"final: {p}" for p in uncovered(final, expected)]
    report.lost = sorted(set(reference.items) - set(final.items))
    report.extra = sorted(set(final.items) - set(reference.items))
    report.stale = sorted(
        key
        for key, content_hash in final.items.items()
        if key in reference.items and reference.items[key] != content_hash
    )
    report.feed_differences = [
        f"{url}: {final.feeds.get(url)} != reference {state}"
        for url, state in sorted(reference.feeds.items())
        if final.feeds.get(url) != state
    ]
    for what, found in (
        ("items lost", report.lost),
        ("items not in the reference", report.extra),
        ("items with stale content", report.stale),
    ):
        if found:
            report.problems.append(f"{len(found)} {what}, e.g. {found[:3]}")
    if final.articles != reference.articles:
        report.problems.append(f"{final.articles} articles, the reference has {reference.articles}")
    report.problems += report.feed_differences[:10]
    if code_before is not None and source_fingerprint() != code_before:
        report.problems.append(
            "feedd's source changed during the run: the reference and the final run may "
            "differ for that reason alone (run a fixed copy with --feedd)"
        )
    for log in sorted(logs.iterdir()):
        text = log.read_text(encoding="utf-8", errors="replace")
        report.error_logs += [f"{log.name}: {m.group(0).strip()}" for m in LOG_ERROR.finditer(text)]
    if report.error_logs:
        report.problems.append(
            f"{len(report.error_logs)} ERROR lines in feedd's output, e.g. {report.error_logs[:3]}"
        )
    return report


# -- documents


def sample_documents() -> list[Static]:
    """The parseable sample feeds of tests/data."""
    return [
        Static(name, (SAMPLES / name).read_bytes(), content_type)
        for name, content_type in SAMPLE_FILES
    ]


def corpus_documents(corpus: Path, limit: int = 0) -> list[Static]:
    """The real-world feeds, as bench/corpus_run.py serves them."""
    import corpus_run  # bench/, beside this file; imported here so the tests need not

    found = []
    for doc in corpus_run.documents(corpus, everything=False):
        body = (corpus / doc.stored_at).read_bytes()
        compressed = body[:2] == b"\x1f\x8b"
        if compressed:
            body = gzip.decompress(body)
        found.append(Static(doc.path, body, corpus_run.content_type(doc), compressed))
    return found[:limit] if limit else found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=50, help="SIGKILLs to make (50)")
    parser.add_argument("--seed", type=int, default=1, help="for every random choice (1)")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="the shared corpus")
    parser.add_argument("--limit", type=int, default=0, help="only the first N corpus feeds")
    parser.add_argument(
        "--sample", action="store_true", help="serve tests/data's feeds instead of the corpus"
    )
    parser.add_argument("--churn", type=int, default=20, help="generated feeds (20)")
    parser.add_argument("--items", type=int, default=30, help="items per generated feed (30)")
    parser.add_argument("--slow", type=int, default=3, help="generated feeds served slowly (3)")
    parser.add_argument("--slow-seconds", type=float, default=2.5, help="a slow body's time")
    parser.add_argument("--min-delay", type=float, default=0.05, help="seconds (0.05)")
    parser.add_argument("--max-delay", type=float, default=5.0, help="seconds (5.0)")
    parser.add_argument(
        "--mode", choices=("mixed", "fetch", "run"), default="mixed", help="what to kill"
    )
    parser.add_argument("--touch", type=float, default=0.1, help="rewrite chance per round")
    parser.add_argument("--late", type=float, default=0.05, help="share of 503-first feeds")
    parser.add_argument(
        "--aim", type=float, default=0.5, help="share of kills aimed at a write (0.5)"
    )
    parser.add_argument("--feedd", default=DEFAULT_FEEDD, help="the feedd command")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    if args.sample:
        statics = sample_documents()
        source = "tests/data samples"
    else:
        if not (args.corpus / "realworld" / "INDEX.tsv").is_file():
            parser.error(f"no corpus at {args.corpus} (realworld/INDEX.tsv); or use --sample")
        statics = corpus_documents(args.corpus, args.limit)
        source = f"{args.corpus} realworld ({len(statics)} feeds)"
    settings = Settings(
        kills=args.kills,
        seed=args.seed,
        min_delay=args.min_delay,
        max_delay=args.max_delay,
        modes=("fetch", "run") if args.mode == "mixed" else (args.mode,),
        churn=args.churn,
        items=args.items,
        slow=args.slow,
        slow_seconds=args.slow_seconds,
        touch=args.touch,
        late=args.late,
        aim=args.aim,
        feedd=args.feedd,
    )
    started = time.monotonic()
    folder = Path(tempfile.mkdtemp(prefix="feedd-crash-"))
    server = FeedServer()
    try:
        report = crash_loop(settings, statics, server, folder)
    finally:
        server.close()
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"source: {source} + {settings.churn} generated feeds; seed {settings.seed}")
    print(f"delay {settings.min_delay}-{settings.max_delay} s; modes {', '.join(settings.modes)}")
    print(report.table())
    print(f"{'total':<40}  {time.monotonic() - started:.1f} s")
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
