"""The feed server of bench/perf.py: real-world feeds from memory, fast, in its own process.

    python bench/perf_server.py --corpus PATH [--copies N] [--hosts H] [--latency MS]

Serves the real-world set (corpus/realworld/INDEX.tsv, 261 feeds) as copy 0 and,
for scale, copies 1..N-1 of it, each feed under its own URL. A copy has its own
guids, ids and links (``c<k>.`` put in front of the host of every URL-like id or
link, ``c<k>-`` in front of other ids) and a ``copy<k>`` word in front of its
texts; its texts are otherwise the original's, so feedd files a copy's items under
the original's articles as the same story (dedupe by text). Feeds are spread over
H loopback addresses (127.1.x.y) so that a per-host limit acts as on the internet.

Written for speed so that it is never the bottleneck: bodies preloaded, a bare
asyncio HTTP/1.1 protocol with keep-alive, no framework. Each response carries an
ETag and a Last-Modified; a matching If-None-Match or If-Modified-Since gets a 304
unless validators are switched off. Control requests (from the driver):

    GET /_ctl/validators?on=0|1   answer 304s or always send the body
    GET /_ctl/unchanged?on=1      answer 304 to every feed request, validators or not
                                  (the daemon's tick loop over N feeds that have not
                                  changed, without first ingesting N feeds)
    GET /_ctl/latency?ms=100      wait that long before every answer
    GET /_ctl/bump?fraction=0.05&seed=1   that share of feeds gets one new item
    GET /_ctl/touch               every feed's body changes without a new item, as
                                  real feeds do every poll: a new channel-level date
                                  (lastBuildDate, pubDate, updated, dc:date) where the
                                  document has one, else a generator comment; JSON
                                  feeds are re-serialized with other whitespace
    GET /_ctl/stats               requests served, 304s, bytes, CPU seconds
    GET /_ctl/hits                requests per feed path ({"hits": {path: count}});
                                  ?times=1: the time.time() of each ({"times": ...})
                                  (bench/cluster.py: which feeds two pollers both fetched)

On start it writes the feed URLs (one a line) to --urls-out and prints one JSON
line: {"port": ..., "feeds": ...}.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import random
import re
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

CONTENT_TYPES = (
    ("jsonfeed", b"application/feed+json"),
    ("atom", b"application/atom+xml"),
    ("rss1.0", b"application/rdf+xml"),
    ("rss0.90", b"application/rdf+xml"),
    ("rss", b"application/rss+xml"),
    ("html", b"text/html; charset=utf-8"),
    ("feed-inside-html", b"text/html; charset=utf-8"),
)
BASE_TIME = 1_700_000_000  # Last-Modified of generation 0 (2023-11-14)

# Where a copy rewrites the original: ids and links (XML elements and attributes,
# JSON keys), and the start of every text that feedd reads as the item's content.
ID_TEXT = re.compile(rb"(<(?:guid|id|link)(?:\s[^>]*)?>\s*)(https?://)?(?=[^<\s])")
ID_ATTR = re.compile(rb"""(<link\b[^>]*?\bhref=["']|\brdf:about=["'])(https?://)?""")
JSON_ID = re.compile(rb'("(?:id|url)"\s*:\s*")(https?://)?')
TEXT_START = re.compile(
    rb"(<(?:description|content:encoded|content|summary|title)(?:\s[^>]*)?>)(?!\s*<!\[CDATA)"
    rb"|(<(?:description|content:encoded|content|summary|title)(?:\s[^>]*)?>\s*<!\[CDATA\[)"
)
JSON_TEXT = re.compile(rb'("(?:content_html|content_text|summary|title)"\s*:\s*")')
ITEM_START = (b"<item", b"<entry")
# A channel-level date: the first date element before the first item.
CHANNEL_DATE = re.compile(
    rb"(<(lastBuildDate|pubDate|updated|dc:date|modified)(?:\s[^>]*)?>)[^<]*(</\2>)"
)


@dataclass(frozen=True)
class Original:
    name: str
    body: bytes
    content_type: bytes
    is_json: bool


@dataclass
class State:
    originals: list[Original]
    copies: int
    validators: bool = True
    unchanged: bool = False
    latency: float = 0.0
    generation: dict[int, int] = field(default_factory=dict)  # feed number -> new items
    touched: int = 0  # how many times every body changed without a new item
    requests: int = 0
    not_modified: int = 0
    sent_bytes: int = 0
    hits: dict[str, list[float]] = field(default_factory=dict)  # feed path -> request times


def load(corpus: Path) -> list[Original]:
    with (corpus / "realworld" / "INDEX.tsv").open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file, delimiter="\t"))
    seen: set[str] = set()
    originals = []
    for row in rows:
        if row["stored_at"] in seen:
            continue
        seen.add(row["stored_at"])
        body = (corpus / row["stored_at"]).read_bytes()
        if body[:2] == b"\x1f\x8b":  # two feeds are stored gzipped: serve them plain
            import gzip

            body = gzip.decompress(body)
        kind = row["format"]
        ctype = next((v for p, v in CONTENT_TYPES if kind.startswith(p)), b"application/xml")
        name = re.sub(r"[^A-Za-z0-9._-]", "_", Path(row["path"]).name)
        originals.append(Original(name, body, ctype, kind.startswith("json")))
    return originals


def rewrite(original: Original, copy: int) -> bytes:
    """The original's body with this copy's ids, links and a word in front of its texts."""
    if copy == 0:
        return original.body
    host = b"c%d." % copy
    plain = b"c%d-" % copy
    word = b"copy%d " % copy

    def new_id(match: re.Match[bytes]) -> bytes:
        # A URL gets the copy's host (a new canonical URL), anything else a prefix.
        return match[1] + (match[2] + host if match[2] else plain)

    body = original.body
    if original.is_json:
        body = JSON_ID.sub(new_id, body)
        return JSON_TEXT.sub(lambda m: m[1] + word, body)
    body = ID_ATTR.sub(new_id, ID_TEXT.sub(new_id, body))
    return TEXT_START.sub(lambda m: (m[1] or m[2]) + word, body)


def new_items(original: Original, number: int, generation: int) -> bytes:
    """The body with `generation` new items in front of the first one."""
    body = original.body
    if original.is_json:
        at = body.find(b'"items"')
        at = body.find(b"[", at) + 1 if at >= 0 else 0
        if at <= 0:
            return body
        added = b"".join(
            b'{"id": "perf-%d-%d", "url": "https://perf.example/%d/%d", "title": "New %d",'
            b' "content_text": "%s", "date_published": "2026-11-28T10:00:00Z"},'
            % (number, g, number, g, g, filler(number, g))
            for g in range(1, generation + 1)
        )
        return body[:at] + added + body[at:]
    at = min((i for i in (body.find(tag) for tag in ITEM_START) if i >= 0), default=-1)
    if at < 0:
        return body
    atom = body[at : at + 6] == b"<entry"
    added = b""
    for g in range(1, generation + 1):
        if atom:
            added += (
                b"<entry><id>urn:perf:%d:%d</id><title>New %d</title>"
                b'<link href="https://perf.example/%d/%d"/>'
                b"<updated>2026-11-28T10:00:00Z</updated><content>%s</content></entry>\n"
                % (number, g, g, number, g, filler(number, g))
            )
        else:
            added += (
                b"<item><guid>urn:perf:%d:%d</guid><title>New %d</title>"
                b"<link>https://perf.example/%d/%d</link>"
                b"<pubDate>Sat, 28 Nov 2026 10:00:00 GMT</pubDate>"
                b"<description>%s</description></item>\n"
                % (number, g, g, number, g, filler(number, g))
            )
    return body[:at] + added + body[at:]


WORDS = (
    b"river stone market winter council budget school garden engine signal harbor "
    b"forest network museum vote storm bridge orchard library rail festival"
).split()


def touch(original: Original, times: int) -> bytes:
    """The body as its server would send it after `times` re-generations with no
    new item: what changes is outside the items (a date, a comment, whitespace)."""
    body = original.body
    if not times:
        return body
    if original.is_json:
        return body.rstrip() + b" " * times + b"\n"
    date = formatdate(BASE_TIME + 60 * times, usegmt=True).encode()
    first_item = min((i for i in (body.find(tag) for tag in ITEM_START) if i >= 0), default=-1)
    match = CHANNEL_DATE.search(body, 0, first_item if first_item >= 0 else len(body))
    if match:
        return body[: match.start()] + match[1] + date + match[3] + body[match.end() :]
    end = body.find(b"?>", 0, 300) + 2 if b"<?xml" in body[:8] else 0  # a BOM may lead
    return body[:end] + b"<!-- generated %s -->" % date + body[end:]


def filler(number: int, generation: int) -> bytes:
    """80 words of text that no other item has (so that it is a new story)."""
    rng = random.Random(number * 1_000_003 + generation)
    return b" ".join(rng.choice(WORDS) + b"%d" % rng.randrange(10**6) for _ in range(80))


class Feeds:
    def __init__(self, state: State) -> None:
        self.state = state
        self.cache: dict[tuple[int, int, int, int], bytes] = {}  # small: the last bodies built

    def body(self, number: int) -> tuple[bytes, int]:
        count = len(self.state.originals)
        copy, index = divmod(number, count)
        generation = self.state.generation.get(number, 0)
        key = (copy, index, generation, self.state.touched)
        body = self.cache.get(key)
        if body is None:
            original = self.state.originals[index]
            if self.state.touched:
                original = Original(
                    original.name,
                    touch(original, self.state.touched),
                    original.content_type,
                    original.is_json,
                )
            if generation:
                original = Original(
                    original.name,
                    new_items(original, number, generation),
                    original.content_type,
                    original.is_json,
                )
            body = rewrite(original, copy)
            if len(self.cache) > 4096:
                self.cache.clear()
            self.cache[key] = body
        return body, generation


class Http(asyncio.Protocol):
    def __init__(self, feeds: Feeds) -> None:
        self.feeds = feeds
        self.state = feeds.state
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.queue: asyncio.Queue[bytes] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            if self.state.latency:
                asyncio.get_running_loop().call_later(self.state.latency, self.answer, head)
            else:
                self.answer(head)

    def answer(self, head: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        lines = head.split(b"\r\n")
        try:
            method, target, _ = lines[0].split(b" ", 2)
        except ValueError:
            self.transport.close()
            return
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        close = headers.get(b"connection", b"").lower() == b"close"
        status, extra, body = self.route(target.decode("latin-1"), headers)
        self.state.requests += 1
        out = [b"HTTP/1.1 %s\r\n" % status, b"Content-Length: %d\r\n" % len(body), *extra]
        if close:
            out.append(b"Connection: close\r\n")
        out.append(b"\r\n")
        if method != b"HEAD":
            out.append(body)
        payload = b"".join(out)
        self.state.sent_bytes += len(payload)
        self.transport.write(payload)
        if close:
            self.transport.close()

    def route(self, target: str, headers: dict[bytes, bytes]) -> tuple[bytes, list[bytes], bytes]:
        path = urlsplit(target)
        if path.path.startswith("/_ctl/"):
            return b"200 OK", [b"Content-Type: application/json\r\n"], self.control(path)
        parts = path.path.split("/")
        try:
            number = int(parts[1])
        except (IndexError, ValueError):
            return b"404 Not Found", [], b""
        if not 0 <= number < len(self.state.originals) * self.state.copies:
            return b"404 Not Found", [], b""
        self.state.hits.setdefault(path.path, []).append(time.time())
        # A 304 needs no body: building a copy's body (rewrite) costs milliseconds,
        # which made the server the bottleneck of the 304 sweeps.
        generation = self.state.generation.get(number, 0)
        etag = b'"%d-%d-%d"' % (number, generation, self.state.touched)
        modified = formatdate(
            BASE_TIME + generation * 3600 + self.state.touched * 60, usegmt=True
        ).encode()
        validators = [b"ETag: %s\r\n" % etag, b"Last-Modified: %s\r\n" % modified]
        if self.state.unchanged or (
            self.state.validators
            and (
                headers.get(b"if-none-match") == etag
                or (
                    b"if-none-match" not in headers
                    and headers.get(b"if-modified-since") == modified
                )
            )
        ):
            self.state.not_modified += 1
            return b"304 Not Modified", validators, b""
        body, _ = self.feeds.body(number)
        original = self.state.originals[number % len(self.state.originals)]
        return b"200 OK", [b"Content-Type: %s\r\n" % original.content_type, *validators], body

    def control(self, path: object) -> bytes:
        parsed = path  # a SplitResult
        query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}  # type: ignore[attr-defined]
        action = parsed.path.removeprefix("/_ctl/")  # type: ignore[attr-defined]
        state = self.state
        answer: dict[str, object] = {}
        if action == "validators":
            state.validators = query.get("on", "1") == "1"
        elif action == "unchanged":
            state.unchanged = query.get("on", "1") == "1"
        elif action == "latency":
            state.latency = float(query.get("ms", "0")) / 1000
        elif action == "bump":
            rng = random.Random(int(query.get("seed", "1")))
            total = len(state.originals) * state.copies
            chosen = rng.sample(range(total), round(total * float(query.get("fraction", "0.05"))))
            for number in chosen:
                state.generation[number] = state.generation.get(number, 0) + 1
            answer["bumped"] = len(chosen)
        elif action == "touch":
            state.touched += 1
            answer["touched"] = state.touched
        elif action == "stats":
            times = os.times()
            answer.update(
                requests=state.requests,
                not_modified=state.not_modified,
                sent_bytes=state.sent_bytes,
                cpu_seconds=round(times.user + times.system, 3),
            )
        elif action == "hits":
            if query.get("times") == "1":
                answer["times"] = state.hits
            else:
                answer["hits"] = {feed: len(stamps) for feed, stamps in state.hits.items()}
        return json.dumps(answer).encode()


def host_of(number: int, hosts: int) -> str:
    slot = number % hosts
    return f"127.1.{slot // 250}.{slot % 250 + 1}"


async def serve(args: argparse.Namespace) -> None:
    originals = load(args.corpus)
    state = State(originals, args.copies, latency=args.latency / 1000)
    feeds = Feeds(state)
    loop = asyncio.get_running_loop()
    total = len(originals) * args.copies
    hosts = sorted({host_of(n, args.hosts) for n in range(min(total, args.hosts))})
    first = await loop.create_server(lambda: Http(feeds), "127.0.0.1", args.port, backlog=4096)
    port = first.sockets[0].getsockname()[1]
    servers = [first]
    for host in hosts:
        servers.append(await loop.create_server(lambda: Http(feeds), host, port, backlog=4096))
    with open(args.urls_out, "w", encoding="utf-8") as out:
        for number in range(total):
            name = originals[number % len(originals)].name
            out.write(f"http://{host_of(number, args.hosts)}:{port}/{number}/{name}\n")
    print(json.dumps({"port": port, "feeds": total, "hosts": len(hosts)}), flush=True)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    for server in servers:
        server.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--copies", type=int, default=1, help="copies of the real-world set")
    parser.add_argument("--hosts", type=int, default=256, help="loopback addresses to spread over")
    parser.add_argument("--latency", type=float, default=0.0, help="milliseconds per answer")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--urls-out", type=Path, required=True)
    args = parser.parse_args(argv)
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
