"""Fuzz the parse + normalize path for a bounded time.

    python bench/fuzz.py --seconds 300 [--engine auto|atheris|random] [--seed N]
                         [--max-seeds N] [--max-len BYTES] [--corpus PATH] [--out DIR]

The target is what the daemon does with a body: ``parse.parse_feed`` (with a
Content-Type picked from the input's last byte), then ``digest.entries_of``
(links + normalize). ParseError is an expected answer; anything else raised,
and any sanitized ``content_html`` that still holds <script>/<style>/<iframe>,
an on*= attribute or a javascript:/vbscript:/data: URL, is a finding.

Seeds: the sample feeds in tests/data and, when present, the shared corpus
(``../shared/corpus`` or $FEEDD_CORPUS: the feed-like files of MANIFEST.tsv
and realworld/INDEX.tsv; at most --max-seeds of them, picked by a hash of the
path so every run takes the same ones; each cut to --max-len bytes).

Engines:
- ``atheris`` (coverage-guided libFuzzer; ``pip install atheris``, a wheel for
  CPython 3.11 on x86-64 Linux): feedd, feedparser and w3lib are instrumented;
  libFuzzer mutates with a dictionary of feed tokens; its working corpus is a
  temporary folder (the seed folders are never written to).
- ``random``: mutation of the seeds without coverage feedback (bit flips,
  inserted and deleted ranges, splices of two seeds, dictionary tokens,
  re-encodings), seeded by --seed so a run can be repeated.
``auto`` takes atheris when it imports, else random.

Each finding is shrunk (ranges deleted while the same exception is raised at
the same place), then saved as ``tests/data/fuzz-regressions/<Kind>-<sha1>.bin``
unless a file there already gives the same finding;
tests/reliability/test_fuzz_regressions.py replays every file there.

Prints the engine, the seeds, iterations, iterations/s, the slowest input,
and the findings; exits 1 when there was a new finding.
"""

from __future__ import annotations

import argparse
import codecs
import csv
import hashlib
import os
import random
import re
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
REGRESSIONS = DATA / "fuzz-regressions"
DEFAULT_CORPUS = Path(os.environ.get("FEEDD_CORPUS", ROOT.parent / "shared" / "corpus"))
FEED_ROLES = ("feed", "feed+expect", "feed+validator-expect", "fragment", "not-a-feed")
URL = "https://feeds.example.net/dir/feed.xml"
# What a server may send along; the input's last byte picks one, so an input
# always gets the same (replays try them all).
CONTENT_TYPES = (
    None,
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
    "application/json",
    "text/html; charset=utf-8",
    "text/xml; charset=iso-8859-1",
    "application/xml; charset=utf-16",
)
SLOW = 1.0  # seconds: an input slower than this is reported (not a finding)
SHRINK_SECONDS = 20.0

# Tokens libFuzzer (and the random mutator) insert: the feed and HTML syntax
# the parsers branch on.
TOKENS = (
    b'<?xml version="1.0" encoding="utf-8"?>',
    b'<?xml version="1.0" encoding="utf-16"?>',
    b'<rss version="2.0">',
    b"<channel>",
    b"<item>",
    b"</item>",
    b'<feed xmlns="http://www.w3.org/2005/Atom">',
    b"<entry>",
    b'<content type="html">',
    b'<content type="xhtml">',
    b'<summary type="text">',
    b"<rdf:RDF ",
    b"<title>",
    b"<link>",
    b'<link rel="enclosure" href="',
    b"<guid>",
    b"<description>",
    b"<content:encoded>",
    b"<feedburner:origLink>",
    b"<pubDate>",
    b"<dc:date>",
    b"<ttl>",
    b"<sy:updatePeriod>",
    b"<![CDATA[",
    b"]]>",
    b"<!DOCTYPE rss [",
    b'<!ENTITY e "',
    b"&e;",
    b"&amp;",
    b"&lt;",
    b"&#x",
    b"&#",
    b"&aacute;",
    b'xml:base="',
    b'xmlns:content="http://purl.org/rss/1.0/modules/content/"',
    b"<script>",
    b"<style>",
    b"<iframe ",
    b"<svg>",
    b"<math>",
    b"<noscript>",
    b"<img src=",
    b" onerror=",
    b' href="javascript:',
    b' srcset="',
    b"java&#x09;script:",
    b'{"version": "https://jsonfeed.org/version/1.1", "items": [',
    b'"content_html": "',
    b'"date_published": "',
    b'"url": "',
    b'"id": ',
    b"Tue, 03 Jun 2025 09:39:21 +0200",
    b"2025-06-03T09:39:21Z",
    b"https://example.com/a?utm_source=x&id=1",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\x00",
)


@dataclass(frozen=True)
class Finding:
    """What went wrong, and where: inputs with the same key are one bug."""

    kind: str  # exception class name, or "UnsafeHTML"
    where: str  # innermost frame in feedd/feedparser/w3lib, "file:line"
    message: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.where)


class UnsafeHTML(Exception):
    pass


# -- the target


def _modules() -> tuple[Callable[..., object], type[Exception], Callable[..., tuple[object, ...]]]:
    from feedd.digest import entries_of
    from feedd.errors import ParseError
    from feedd.parse import parse_feed

    return parse_feed, ParseError, entries_of


_URL_ATTRIBUTES = frozenset({"href", "src", "srcset", "poster", "action", "formaction", "data"})
_BAD_SCHEMES = ("javascript:", "vbscript:", "data:")
_IGNORED_IN_SCHEME = re.compile(r"[\x00-\x20]")  # browsers skip these inside a scheme


class _Inspector(HTMLParser):
    """The first thing that makes a sanitized fragment unsafe, as a browser reads it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problem: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "iframe"):
            self.problem = self.problem or f"<{tag}>"
        for name, value in attrs:
            if name.startswith("on"):
                self.problem = self.problem or f"{name}= attribute"
            if name in _URL_ATTRIBUTES and value:
                for candidate in value.split(",") if name == "srcset" else [value]:
                    scheme = _IGNORED_IN_SCHEME.sub("", candidate).lower()
                    if scheme.startswith(_BAD_SCHEMES):
                        self.problem = self.problem or f"{name}={scheme.split(':')[0]}:"

    handle_startendtag = handle_starttag


def unsafe_html(fragment: str) -> str | None:
    """What is unsafe in a sanitized fragment, None when it is fine."""
    inspector = _Inspector()
    inspector.feed(fragment)
    inspector.close()
    return inspector.problem


class Target:
    def __init__(self) -> None:
        self.parse_feed, self.parse_error, self.entries_of = _modules()

    def run(self, data: bytes, content_type: str | None = None) -> None:
        """Raise what the daemon would not expect from this body."""
        if content_type is None and data:
            content_type = CONTENT_TYPES[data[-1] % len(CONTENT_TYPES)]
        try:
            parsed = self.parse_feed(data, url=URL, content_type=content_type)
        except self.parse_error:
            return
        for entry in self.entries_of(parsed, URL):
            html = entry.content_html or ""  # type: ignore[attr-defined]
            problem = unsafe_html(html)
            if problem:
                raise UnsafeHTML(problem, html[:200])

    def finding(self, data: bytes) -> Finding | None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.run(data)
        except (KeyboardInterrupt, MemoryError):
            raise
        except Exception as exc:
            return describe(exc)
        return None


def describe(exc: BaseException) -> Finding:
    if isinstance(exc, UnsafeHTML):
        problem, html = exc.args
        return Finding("UnsafeHTML", problem, html)
    frames = traceback.extract_tb(exc.__traceback__)
    where = "?"
    for frame in reversed(frames):
        if any(part in frame.filename for part in ("feedd", "feedparser", "w3lib", "sgmllib")):
            path = Path(frame.filename)
            parts = path.parts[path.parts.index("feedd") :] if "feedd" in path.parts else path.parts
            if "site-packages" in path.parts:
                parts = path.parts[path.parts.index("site-packages") + 1 :]
            where = f"{'/'.join(parts)}:{frame.lineno}"
            break
    return Finding(type(exc).__name__, where, str(exc)[:200])


def shrink(target: Target, data: bytes, finding: Finding, budget: float = SHRINK_SECONDS) -> bytes:
    """A smaller input with the same finding: ranges deleted, halving their size."""
    deadline = time.monotonic() + budget
    size = max(1, len(data) // 2)
    while size >= 1 and time.monotonic() < deadline:
        start = 0
        while start < len(data) and time.monotonic() < deadline:
            candidate = data[:start] + data[start + size :]
            found = target.finding(candidate) if candidate else None
            if found is not None and found.key == finding.key:
                data = candidate
            else:
                start += size
        size //= 2
    return data


# -- seeds


def _read_tsv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file, delimiter="\t"))


def seed_paths(corpus: Path | None, max_seeds: int) -> list[Path]:
    local = [
        p
        for p in sorted(DATA.rglob("*"))
        if p.is_file()
        and not p.name.endswith((".expected.json", ".md", ".LICENSE"))
        and REGRESSIONS not in p.parents
        and "licenses" not in p.parts
    ]
    shared: list[Path] = []
    if corpus is not None and corpus.is_dir():
        names: set[str] = set()
        if (corpus / "MANIFEST.tsv").is_file():
            for row in _read_tsv(corpus / "MANIFEST.tsv"):
                if row["role"] in FEED_ROLES and not row["format"].startswith("opml"):
                    names.add(row["path"])
        if (corpus / "realworld" / "INDEX.tsv").is_file():
            names.update(row["path"] for row in _read_tsv(corpus / "realworld" / "INDEX.tsv"))
        if not names:
            names = {str(p.relative_to(corpus)) for p in corpus.rglob("*") if p.is_file()}
        # The same max_seeds files on every run: the lowest hashes of their paths.
        picked = sorted(names, key=lambda n: hashlib.sha256(n.encode()).hexdigest())[:max_seeds]
        shared = [corpus / n for n in sorted(picked) if (corpus / n).is_file()]
    return local + shared


def load_seeds(paths: Iterable[Path], max_len: int) -> list[bytes]:
    return [p.read_bytes()[:max_len] for p in paths]


# -- saving findings


def known_findings(target: Target) -> dict[tuple[str, str], Path]:
    known = {}
    for path in sorted(REGRESSIONS.glob("*")) if REGRESSIONS.is_dir() else []:
        if path.is_file():
            finding = target.finding(path.read_bytes())
            if finding is not None:
                known.setdefault(finding.key, path)
    return known


@dataclass
class Stats:
    started: float = field(default_factory=time.monotonic)
    iterations: int = 0
    slowest: float = 0.0
    slowest_input: bytes = b""
    findings: dict[tuple[str, str], tuple[Finding, int, Path | None]] = field(default_factory=dict)
    new_files: list[Path] = field(default_factory=list)


class Fuzzer:
    def __init__(self, target: Target, out: Path, known: dict[tuple[str, str], Path]) -> None:
        self.target = target
        self.out = out
        self.known = known
        self.stats = Stats()

    def one(self, data: bytes) -> None:
        started = time.monotonic()
        finding = self.target.finding(data)
        elapsed = time.monotonic() - started
        self.stats.iterations += 1
        if elapsed > self.stats.slowest:
            self.stats.slowest, self.stats.slowest_input = elapsed, data
            if elapsed > SLOW:
                print(f"slow input: {elapsed:.2f}s, {len(data)} bytes", flush=True)
        if finding is not None:
            self.record(data, finding)

    def record(self, data: bytes, finding: Finding) -> None:
        seen = self.stats.findings.get(finding.key)
        if seen is not None:
            self.stats.findings[finding.key] = (seen[0], seen[1] + 1, seen[2])
            return
        path = self.known.get(finding.key)
        if path is None:
            small = shrink(self.target, data, finding)
            name = f"{finding.kind}-{hashlib.sha256(small).hexdigest()[:12]}.bin"
            self.out.mkdir(parents=True, exist_ok=True)
            path = self.out / name
            path.write_bytes(small)
            self.stats.new_files.append(path)
            status = f"new, saved as {path.relative_to(ROOT) if ROOT in path.parents else path}"
        else:
            status = f"known ({path.name})"
        print(f"finding: {finding.kind} at {finding.where}: {finding.message} [{status}]")
        self.stats.findings[finding.key] = (finding, 1, path)

    def report(self, engine: str, seeds: int) -> int:
        stats = self.stats
        elapsed = time.monotonic() - stats.started
        print()
        print(f"engine: {engine}")
        print(f"seeds: {seeds}")
        print(f"time: {elapsed:.1f}s")
        print(f"iterations: {stats.iterations}")
        print(f"iterations/s: {stats.iterations / elapsed:.1f}")
        print(f"slowest input: {stats.slowest:.3f}s ({len(stats.slowest_input)} bytes)")
        print(f"findings: {len(stats.findings)} ({len(stats.new_files)} new)")
        for finding, count, path in stats.findings.values():
            name = path.name if path else "-"
            print(f"  {finding.kind} at {finding.where} x{count}: {name}: {finding.message[:100]}")
        return 1 if stats.new_files else 0


# -- the random engine


class Mutator:
    def __init__(self, seeds: list[bytes], rng: random.Random, max_len: int) -> None:
        self.seeds = [s for s in seeds if s] or [b"<rss></rss>"]
        self.rng = rng
        self.max_len = max_len

    def __call__(self) -> bytes:
        data = bytearray(self.rng.choice(self.seeds))
        for _ in range(self.rng.randint(1, 8)):
            data = self._mutate(data)
        return bytes(data[: self.max_len])

    def _span(self, data: bytearray) -> tuple[int, int]:
        if not data:
            return 0, 0
        start = self.rng.randrange(len(data))
        return start, min(len(data), start + self.rng.choice((1, 2, 4, 16, 64, 512)))

    def _mutate(self, data: bytearray) -> bytearray:
        rng = self.rng
        choice = rng.randrange(10)
        start, end = self._span(data)
        if choice == 0 and data:  # flip a bit
            data[start] ^= 1 << rng.randrange(8)
        elif choice == 1 and data:  # set a byte to an interesting value
            data[start] = rng.choice(b"\x00\xff<>&;\"'/=?#[]{}\x80\xc3\xef")
        elif choice == 2:  # delete a range
            del data[start:end]
        elif choice == 3:  # duplicate a range (repeated markup)
            data[start:start] = data[start:end] * rng.choice((1, 2, 10))
        elif choice in (4, 5):  # insert a token
            data[start:start] = rng.choice(TOKENS)
        elif choice == 6:  # splice with another seed
            other = rng.choice(self.seeds)
            if other:
                cut = rng.randrange(len(other))
                data = data[:start] + bytearray(other[cut : cut + rng.randint(1, 4096)])
        elif choice == 7:  # truncate
            del data[start:]
        elif choice == 8:  # numbers: the dates, lengths and character references of feeds
            digits = rng.choice([b"0", b"-1", b"99999999999999999999", b"1114112", b"55296", b"x"])
            data[start:end] = digits
        else:  # re-encode
            encoding = rng.choice(("utf-16", "utf-16-be", "utf-32", "latin-1", "cp1252", "koi8-r"))
            try:
                data = bytearray(data.decode("utf-8").encode(encoding))
            except (UnicodeError, LookupError):
                data = bytearray(codecs.BOM_UTF8) + data
        return data


def run_random(fuzzer: Fuzzer, seeds: list[bytes], seconds: float, seed: int, max_len: int) -> None:
    mutate = Mutator(seeds, random.Random(seed), max_len)
    deadline = time.monotonic() + seconds
    for data in seeds:  # every seed once, as libFuzzer does
        if time.monotonic() > deadline:
            return
        fuzzer.one(data)
    while time.monotonic() < deadline:
        fuzzer.one(mutate())


# -- the atheris engine


def _escaped(token: bytes) -> str:
    """A libFuzzer dictionary entry: every byte as \\xNN."""
    return "".join(f"\\x{byte:02x}" for byte in token)


def run_atheris(args: argparse.Namespace, seed_files: list[Path]) -> int:
    import atheris  # type: ignore[import-not-found,unused-ignore]

    with atheris.instrument_imports(include=["feedd", "feedparser", "feedparser_sgmllib", "w3lib"]):
        target = Target()
    fuzzer = Fuzzer(target, args.out, known_findings(target))
    work = Path(tempfile.mkdtemp(prefix="feedd-fuzz-"))
    corpus = work / "corpus"
    corpus.mkdir()
    for index, path in enumerate(seed_files):
        (corpus / f"{index:05d}").write_bytes(path.read_bytes()[: args.max_len])
    dictionary = work / "feed.dict"
    dictionary.write_text("".join(f'"{_escaped(token)}"\n' for token in TOKENS))
    deadline = fuzzer.stats.started + args.seconds

    def test_one_input(data: bytes) -> None:
        fuzzer.one(data)
        if time.monotonic() > deadline:
            code = fuzzer.report("atheris (libFuzzer, coverage-guided)", len(seed_files))
            sys.stdout.flush()
            os._exit(code)  # libFuzzer never returns to Python on its own

    atheris.Setup(
        [
            sys.argv[0],
            f"-max_total_time={int(args.seconds) + 60}",
            f"-max_len={args.max_len}",
            f"-seed={args.seed}",
            f"-dict={dictionary}",
            f"-artifact_prefix={work}/",
            "-timeout=60",
            "-rss_limit_mb=4096",
            "-print_final_stats=1",
            str(corpus),
        ],
        test_one_input,
    )
    atheris.Fuzz()
    return fuzzer.report("atheris", len(seed_files))


# -- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--engine", choices=("auto", "atheris", "random"), default="auto")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-seeds", type=int, default=400, help="corpus files used as seeds")
    parser.add_argument("--max-len", type=int, default=32 * 1024, help="longest input (bytes)")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--out", type=Path, default=REGRESSIONS, help="where findings are saved")
    args = parser.parse_args(argv)

    seed_files = seed_paths(args.corpus, args.max_seeds)
    print(f"{len(seed_files)} seed files ({args.corpus if args.corpus.is_dir() else 'no corpus'})")
    engine = args.engine
    if engine == "auto":
        try:
            import atheris  # type: ignore[import-not-found,unused-ignore]  # noqa: F401
        except ImportError:
            engine = "random"
        else:
            engine = "atheris"
    if engine == "atheris":
        return run_atheris(args, seed_files)

    target = Target()
    fuzzer = Fuzzer(target, args.out, known_findings(target))
    seeds = load_seeds(seed_files, args.max_len)
    run_random(fuzzer, seeds, args.seconds, args.seed, args.max_len)
    return fuzzer.report(f"random mutation (seed {args.seed})", len(seeds))


if __name__ == "__main__":
    sys.exit(main())
