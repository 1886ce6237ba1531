"""Fetching processes: feed requests made by child processes, so that a sweep of
unchanged feeds uses every core.

One event loop making requests through httpx tops out near 400-500 polls a
second (about 1.5-2 ms of CPU per request: docs/performance.md), and the
process that records the polls shares the GIL with it. A ``Fetchers`` pool
hands each feed request (a ``FeedSource`` and its limits) to one of a few
child processes and gets back what ``fetch.fetch_feed`` returned there: a
``Fetched``, a ``NotModified`` or a ``FetchError``. Everything else (the
schedule, per-host slots, digesting, the database) stays in the parent: a
child holds no database connection and writes nothing, so one killed in the
middle of a request leaves nothing half-done; the requests it had are
reported as ``FetcherLost``, which the pipeline does not record, so those feeds
are still due and are polled again.

A child is a fresh interpreter that imports only this module and the fetch
stage (``python -c``), not the rest of feedd: ~30 MB instead of the ~90 MB
a whole poller holds (no parser, no store, no config). Requests go to the
child chosen by their host, so a host's connections stay in one child's pool
and are reused.

The wire: each message is a 4-byte big-endian length and a pickle, on the
child's stdin (requests) and stdout (answers); the child's sys.stdout is its
stderr, so nothing else can write into the answers. Pickle is safe here: both
ends are this program, and the feed's bytes travel inside values, never as
pickles of their own. Requests and 304 answers, nearly every message of a
sweep, travel as plain tuples (``_Request.wire``, ``_not_modified``): a frozen
dataclass is pickled field by field and rebuilt through ``object.__setattr__``,
several times the cost of a tuple of the same strings.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import signal
import struct
import subprocess
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import fetch
from .errors import BlockedAddressError, FeeddError, FetchError
from .types import FeedSource, Fetched, NotModified

log = logging.getLogger("feedd")

HEADER = struct.Struct(">I")
# The child's own code: this module, imported from the same checkout as the parent.
CHILD_CODE = "import feedd.fetchers as f; f.child_main()"


class FetcherLost(FeeddError):
    """The fetching process that had this request died before answering.

    Not the feed's fault: the poll is not recorded, so the feed stays due."""


@dataclass(frozen=True, slots=True)
class Settings:
    """What a child needs to build the same client as the parent would."""

    user_agent: str
    timeout: float
    concurrency: int
    allow_private: bool
    allowed_networks: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Request:
    number: int
    source: FeedSource
    deadline: float
    max_body_size: int

    def wire(self) -> tuple[object, ...]:
        """The request as a plain tuple (see the module's docstring); ``of_wire`` inverts."""
        s = self.source
        return (
            self.number,
            self.deadline,
            self.max_body_size,
            s.url,
            s.etag,
            s.last_modified,
            s.body_hash,
            s.final_url,
            s.headers,
            s.auth,
        )

    @staticmethod
    def of_wire(message: tuple[Any, ...]) -> _Request:
        number, deadline, max_body_size, *source = message
        return _Request(number, FeedSource(*source), deadline, max_body_size)


# The tag of a 304 answer on the wire: (number, NOT_MODIFIED, its fields...).
NOT_MODIFIED = "n"


def _not_modified(number: int, result: NotModified) -> tuple[object, ...]:
    return (
        number,
        NOT_MODIFIED,
        result.url,
        result.status,
        result.etag,
        result.last_modified,
        result.headers,
        result.moved_to,
    )


@dataclass(frozen=True, slots=True)
class _Failure:
    """A FetchError as data (an exception with keyword arguments does not pickle back)."""

    message: str
    status: int | None
    retry_after: str | None
    blocked: bool

    def error(self) -> FetchError:
        kind = BlockedAddressError if self.blocked else FetchError
        return kind(self.message, status=self.status, retry_after=self.retry_after)


def _frame(value: object) -> bytes:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(data)) + data


def route(url: str, processes: int) -> int:
    """The child a URL's requests go to: by host, so its connections are reused."""
    host = (urlsplit(url).hostname or "").encode()
    return zlib.crc32(host) % processes


class _Answers(asyncio.Protocol):
    """The child's stdout, read by the parent's event loop: frames to their futures."""

    def __init__(self, child: _Child) -> None:
        self.child = child
        self.buffer = bytearray()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        pending = self.child.pending
        while len(self.buffer) >= HEADER.size:
            (size,) = HEADER.unpack_from(self.buffer)
            if len(self.buffer) < HEADER.size + size:
                break
            answer = pickle.loads(self.buffer[HEADER.size : HEADER.size + size])  # noqa: S301 - our child
            del self.buffer[: HEADER.size + size]
            number = answer[0]
            if len(answer) > 2 and answer[1] == NOT_MODIFIED:
                result = NotModified(*answer[2:])
            else:
                result = answer[1]
            future = pending.pop(number, None)
            if future is not None and not future.done():
                future.set_result(result)

    def connection_lost(self, exc: Exception | None) -> None:
        self.child.lost()


class _Child:
    """One fetching process and the requests it has not answered yet."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self.pending: dict[int, asyncio.Future[Fetched | NotModified | _Failure]] = {}
        self.ended = False
        self.ready: asyncio.Task[None] | None = None
        self.requests: asyncio.WriteTransport | None = None
        self.outbox: list[bytes] = []

    async def connect(self) -> None:
        """Both pipes on the event loop (the process was started before there was one
        to wait on: its start-up overlaps the parent's)."""
        loop = asyncio.get_running_loop()
        if self.process.stdin is None or self.process.stdout is None:
            raise FetcherLost("the fetching process has no pipes")
        self.requests, _ = await loop.connect_write_pipe(asyncio.Protocol, self.process.stdin)
        await loop.connect_read_pipe(lambda: _Answers(self), self.process.stdout)

    @property
    def alive(self) -> bool:
        return not self.ended

    def send(self, request: _Request) -> asyncio.Future[Fetched | NotModified | _Failure]:
        future = asyncio.get_running_loop().create_future()
        if self.ended or self.requests is None or self.requests.is_closing():
            future.set_exception(FetcherLost(f"the fetching process {self.process.pid} ended"))
            return future
        self.pending[request.number] = future
        if not self.outbox:
            asyncio.get_running_loop().call_soon(self._flush)
        self.outbox.append(_frame(request.wire()))
        return future

    def _flush(self) -> None:
        # One write per turn of the loop for every request made in it: a pipe
        # write is a system call and a wake-up of the child.
        frames, self.outbox = self.outbox, []
        if self.requests is not None and not self.requests.is_closing():
            self.requests.write(b"".join(frames))

    def lost(self) -> None:
        """The child's answers ended: it exited or was killed. What it had is lost."""
        self.ended = True
        lost = FetcherLost(f"the fetching process {self.process.pid} ended")
        for future in self.pending.values():
            if not future.done():
                future.set_exception(lost)
        self.pending.clear()

    async def close(self) -> None:
        if self.requests is not None:
            if not self.requests.is_closing():
                self.requests.close()  # the child's end of input: it answers, then exits
        elif self.process.stdin is not None:
            self.process.stdin.close()  # never used: nothing to answer
        try:
            await asyncio.wait_for(asyncio.to_thread(self.process.wait), 5)
        except TimeoutError:
            self.process.kill()
            await asyncio.to_thread(self.process.wait)
        if self.requests is None and self.process.stdout is not None:
            self.process.stdout.close()  # no event loop took it over


class Fetchers:
    """A few fetching processes; ``fetch`` is ``fetch.fetch_feed`` done in one of them."""

    def __init__(self, processes: int, settings: Settings) -> None:
        if processes < 1:
            raise ValueError("at least one fetching process")
        self.processes = processes
        self.settings = settings
        self.children: list[_Child | None] = [None] * processes
        self.numbers = 0
        self.closed = False
        self.retired: list[_Child] = []

    def start(self) -> None:
        """Start every child now (else each starts with its first request). Needs no
        event loop: a start-up that does not wait for one overlaps the caller's."""
        for index in range(self.processes):
            if self.children[index] is None:
                self.children[index] = self._spawn()

    def _spawn(self) -> _Child:
        env = dict(os.environ)
        # The child imports the same feedd as this process, wherever it came from.
        package_root = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (package_root, env.get("PYTHONPATH", "")) if p
        )
        process = subprocess.Popen(  # noqa: S603 - this interpreter, our own code
            [sys.executable, "-c", CHILD_CODE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            close_fds=True,
        )
        if process.stdin is None:
            raise FetcherLost("the fetching process has no input pipe")
        child = _Child(process)
        # Written before any event loop sees the pipe: small, it fits the pipe's buffer.
        process.stdin.write(_frame(self.settings))
        process.stdin.flush()
        return child

    async def _child(self, index: int) -> _Child:
        if self.closed:
            raise FetcherLost("the fetching processes are stopping")
        child = self.children[index]
        if child is None or not child.alive:
            if child is not None:
                self.retired.append(child)
            child = self.children[index] = self._spawn()
        if child.ready is None:
            child.ready = asyncio.ensure_future(child.connect())
        await asyncio.shield(child.ready)
        return child

    def reconfigure(self, settings: Settings) -> None:
        """New settings (a reloaded config): children start again with them; the
        old ones answer what they have, then exit."""
        if settings == self.settings:
            return
        self.settings = settings
        for index, child in enumerate(self.children):
            if child is not None:
                self.retired.append(child)
                self.children[index] = None
                task = asyncio.ensure_future(child.close())
                task.add_done_callback(_log_failure)

    async def fetch(
        self, source: FeedSource, *, deadline: float, max_body_size: int
    ) -> Fetched | NotModified:
        """GET one feed in a child. Raises FetchError as fetch.fetch_feed, or
        FetcherLost when the child died before answering."""
        child = await self._child(route(source.fetch_url, self.processes))
        self.numbers += 1
        result = await child.send(_Request(self.numbers, source, deadline, max_body_size))
        if isinstance(result, _Failure):
            raise result.error()
        return result

    async def close(self) -> None:
        """Stop every child: each answers what it has, then exits."""
        self.closed = True
        children = [c for c in self.children if c is not None] + self.retired
        self.children = [None] * self.processes
        self.retired = []
        await asyncio.gather(*(c.close() for c in children))

    def pids(self) -> tuple[int, ...]:
        return tuple(c.process.pid for c in self.children if c is not None and c.alive)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("a fetching process did not stop cleanly: %s", task.exception())


# -- the child


def child_main() -> None:
    """A fetching process: settings, then requests on stdin; answers on stdout."""
    # The parent decides when to stop: Ctrl-C in a terminal reaches the whole
    # process group, and a child that died first would cost its requests.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    answers = os.dup(1)
    os.dup2(2, 1)  # print() and the like go to stderr, never into the answers
    sys.stdout = sys.stderr
    logging.basicConfig(level=logging.WARNING, format="feedd fetcher: %(message)s")
    asyncio.run(_serve(os.fdopen(0, "rb", buffering=0), os.fdopen(answers, "wb", buffering=0)))


class _Input(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = bytearray()
        self.messages: asyncio.Queue[object] = asyncio.Queue()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= HEADER.size:
            (size,) = HEADER.unpack_from(self.buffer)
            if len(self.buffer) < HEADER.size + size:
                break
            message = pickle.loads(self.buffer[HEADER.size : HEADER.size + size])  # noqa: S301 - our parent
            del self.buffer[: HEADER.size + size]
            self.messages.put_nowait(message)

    def eof_received(self) -> None:
        self.messages.put_nowait(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.messages.put_nowait(None)


async def _serve(stdin: object, stdout: object) -> None:
    loop = asyncio.get_running_loop()
    _, incoming = await loop.connect_read_pipe(_Input, stdin)
    writer, _ = await loop.connect_write_pipe(asyncio.Protocol, stdout)
    settings = await incoming.messages.get()
    if not isinstance(settings, Settings):
        return
    guard = fetch.Guard(
        allow_private=settings.allow_private, allowed_networks=settings.allowed_networks
    )
    client = fetch.make_client(
        user_agent=settings.user_agent,
        timeout=settings.timeout,
        concurrency=settings.concurrency,
        guard=guard,
    )
    tasks: set[asyncio.Task[None]] = set()
    outbox: list[bytes] = []

    def flush() -> None:
        # One write per turn of the loop for the answers ready in it (see _Child._flush).
        frames = b"".join(outbox)
        outbox.clear()
        if not writer.is_closing():
            writer.write(frames)

    async def answer(request: _Request) -> None:
        result: Fetched | NotModified | _Failure
        try:
            result = await fetch.fetch_feed(
                client,
                request.source,
                deadline=request.deadline,
                max_body_size=request.max_body_size,
            )
        except FetchError as exc:
            result = _failure(exc)
        except Exception as exc:
            # A bug in fetching, not the feed's fault: keep the traceback, go on.
            log.exception("%s: unexpected error while fetching", request.source.url)
            result = _Failure(f"unexpected error: {type(exc).__name__}: {exc}", None, None, False)
        if not outbox:
            loop.call_soon(flush)
        if isinstance(result, NotModified):
            outbox.append(_frame(_not_modified(request.number, result)))
        else:
            outbox.append(_frame((request.number, result)))

    async with client:
        while (message := await incoming.messages.get()) is not None:
            if isinstance(message, tuple):
                task = asyncio.create_task(answer(_Request.of_wire(message)))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        # The parent closed our input: answer what is in flight, then exit.
        await asyncio.gather(*tasks, return_exceptions=True)
    if outbox:
        flush()
    writer.close()  # after what it holds is written


def _failure(exc: FetchError) -> _Failure:
    return _Failure(
        str(exc), exc.status, exc.retry_after, blocked=isinstance(exc, BlockedAddressError)
    )
