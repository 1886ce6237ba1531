"""Prometheus metrics and the small HTTP server for /healthz and /metrics.

Off by default; ``[http] listen = "127.0.0.1:9464"`` turns it on. The metrics
live in their own CollectorRegistry (not prometheus-client's global one), so
two Metrics never share values and nothing else in the process leaks in.

The server is a few dozen lines over asyncio.start_server rather than a web
framework: two GET routes, one response per connection (Connection: close).
Each request head is read with a size limit and a deadline, so a slow or
huge client is dropped instead of holding a connection open; errors in the
health or refresh callbacks become a 503/500 answer and a log line, never the
end of the server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from http import HTTPStatus

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from .errors import BadRequest
from .types import Outcome, PageResult, Status

log = logging.getLogger("feedd.metrics")

FEED_STATES = ("new", "ok", "failing", "gone", "disabled")
PAGE_OUTCOMES = ("stored", "not_fuller", "retry", "failed", "gone")

# Feed fetches range from a 304 on a nearby host (tens of ms) to a slow server
# hitting the whole-request deadline ([fetch].timeout, 20 s by default, at most
# a minute in practice).
FETCH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)
# A claim is one indexed query: milliseconds, unless the database thread is busy
# storing a big poll first.
CLAIM_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    """feedd's metrics, in a registry of their own. Thread-safe (prometheus-client is)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.fetches = Counter(
            "feedd_fetches",
            "Feed polls, by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.fetch_duration = Histogram(
            "feedd_fetch_duration_seconds",
            "Time to poll one feed: fetch, parse and store, whatever the outcome.",
            buckets=FETCH_BUCKETS,
            registry=self.registry,
        )
        self.articles_stored = Counter(
            "feedd_articles_stored",
            "New articles stored.",
            registry=self.registry,
        )
        self.articles_updated = Counter(
            "feedd_articles_updated",
            "Stored articles updated because their feed item changed.",
            registry=self.registry,
        )
        self.links_resolved = Counter(
            "feedd_links_resolved",
            "Item links followed over the network to find the article URL.",
            registry=self.registry,
        )
        self.links_failed = Counter(
            "feedd_links_failed",
            "Followed item links that did not resolve (stored with the best URL known).",
            registry=self.registry,
        )
        self.leases_lost = Counter(
            "feedd_leases_lost",
            "Polls whose result was dropped: another poller claimed the feed after this "
            "one's lease expired (PostgreSQL).",
            registry=self.registry,
        )
        self.pages = Counter(
            "feedd_pages",
            "Article pages read ([fulltext]), by outcome: stored (the page's text replaced "
            "the feed's), not_fuller (the feed's text kept), retry (failed, tried again "
            "later), failed (failed for good), gone (the article was deleted meanwhile).",
            ["outcome"],
            registry=self.registry,
        )
        self.claim_duration = Histogram(
            "feedd_claim_duration_seconds",
            "Time to claim the due feeds of one scheduler pass, queueing for the "
            "database thread included.",
            buckets=CLAIM_BUCKETS,
            registry=self.registry,
        )
        self.last_tick = Gauge(
            "feedd_last_tick_timestamp_seconds",
            "Unix time of the last scheduler tick.",
            registry=self.registry,
        )
        self.feeds = Gauge(
            "feedd_feeds",
            "Configured feeds, by state.",
            ["state"],
            registry=self.registry,
        )
        self.articles = Gauge(
            "feedd_articles",
            "Articles in the database.",
            registry=self.registry,
        )
        # Every label value exists from the start, so a rate() over a counter
        # that has not moved yet reads 0 rather than nothing.
        for status in Status:
            self.fetches.labels(outcome=status.value)
        for outcome in PAGE_OUTCOMES:
            self.pages.labels(outcome=outcome)
        self._states: set[str] = set(FEED_STATES)
        self.set_feed_states({})

    def observe_outcome(self, outcome: Outcome) -> None:
        """Count one feed poll."""
        self.fetches.labels(outcome=outcome.status.value).inc()
        self.fetch_duration.observe(max(outcome.duration, 0.0))
        if outcome.new > 0:
            self.articles_stored.inc(outcome.new)
        if outcome.updated > 0:
            self.articles_updated.inc(outcome.updated)
        if outcome.links_resolved > 0:
            self.links_resolved.inc(outcome.links_resolved)
        if outcome.links_failed > 0:
            self.links_failed.inc(outcome.links_failed)
        if outcome.lease_lost:
            self.leases_lost.inc()

    def observe_page(self, page: PageResult) -> None:
        """Count one article page read."""
        self.pages.labels(outcome=page.outcome).inc()

    def observe_tick(self, timestamp: float) -> None:
        """Record the time (Unix seconds) of a scheduler tick."""
        self.last_tick.set(timestamp)

    def set_feed_states(self, counts: Mapping[str, int]) -> None:
        """Set the feeds-by-state gauge; states not in ``counts`` read 0."""
        self._states.update(counts)
        for state in self._states:
            self.feeds.labels(state=state).set(counts.get(state, 0))

    def set_articles_total(self, n: int) -> None:
        """Set the number of articles in the database."""
        self.articles.set(n)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric (serve with CONTENT_TYPE_LATEST)."""
        return generate_latest(self.registry)


# -- the HTTP server

MAX_REQUEST_HEAD = 8192  # bytes: request line and headers; we never read a body
MAX_HEADER_LINES = 100
DEFAULT_TIMEOUT = 5.0  # seconds, for each of: reading the request, the callback, writing

HealthCheck = Callable[[], Awaitable[tuple[bool, str]]]
Refresh = Callable[[], Awaitable[None]]

ROUTES = ("/healthz", "/metrics")
TEXT = "text/plain; charset=utf-8"


async def serve(
    host: str,
    port: int,
    *,
    metrics: Metrics,
    health: HealthCheck,
    refresh: Refresh,
    timeout: float = DEFAULT_TIMEOUT,
) -> asyncio.Server:
    """Start serving /healthz and /metrics on host:port (port 0: any free port).

    ``health()`` returns (ok, reason): 200 "ok" or 503 with the reason.
    ``refresh()`` updates the gauges read from the database before /metrics
    renders. Each request has ``timeout`` seconds to send its head, each
    callback as long to answer, and the client as long to take the response.

    Returns the listening asyncio.Server (``server.sockets[0].getsockname()``
    gives the bound address); ``server.close()`` stops it.
    """

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await _handle(reader, writer, metrics, health, refresh, timeout)
        except Exception:  # a bug here must not reach asyncio's "unhandled exception" log
            log.exception("metrics server: error handling a request")
        finally:
            await _close(writer, timeout)

    return await asyncio.start_server(on_connection, host, port, limit=MAX_REQUEST_HEAD)


async def _handle(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    metrics: Metrics,
    health: HealthCheck,
    refresh: Refresh,
    timeout: float,
) -> None:
    try:
        async with asyncio.timeout(timeout):
            request_line = await _read_head(reader)
    except TimeoutError:
        await _respond(writer, timeout, "GET", HTTPStatus.REQUEST_TIMEOUT, b"request timeout\n")
        return
    except BadRequest as exc:
        await _respond(writer, timeout, "GET", HTTPStatus.BAD_REQUEST, f"{exc}\n".encode())
        return
    except (asyncio.IncompleteReadError, ConnectionError):
        return  # the client went away before finishing its request
    if request_line is None:
        return  # connected and closed without a request

    method, path = request_line
    if path not in ROUTES:
        await _respond(writer, timeout, method, HTTPStatus.NOT_FOUND, b"not found\n")
        return
    if method not in ("GET", "HEAD"):
        await _respond(
            writer,
            timeout,
            method,
            HTTPStatus.METHOD_NOT_ALLOWED,
            b"method not allowed\n",
            extra_headers=(("Allow", "GET, HEAD"),),
        )
        return

    if path == "/healthz":
        status, body, content_type = await _healthz(health, timeout)
    else:
        status, body, content_type = await _metrics(metrics, refresh, timeout)
    await _respond(writer, timeout, method, status, body, content_type=content_type)


async def _healthz(health: HealthCheck, timeout: float) -> tuple[HTTPStatus, bytes, str]:
    try:
        async with asyncio.timeout(timeout):
            ok, reason = await health()
    except TimeoutError:
        log.warning("health check did not answer within %.1fs", timeout)
        return HTTPStatus.SERVICE_UNAVAILABLE, b"health check timed out\n", TEXT
    except Exception as exc:
        log.exception("health check failed")
        return HTTPStatus.SERVICE_UNAVAILABLE, _reason("health check failed", exc), TEXT
    if ok:
        return HTTPStatus.OK, b"ok\n", TEXT
    return HTTPStatus.SERVICE_UNAVAILABLE, f"{reason or 'unhealthy'}\n".encode(), TEXT


async def _metrics(
    metrics: Metrics, refresh: Refresh, timeout: float
) -> tuple[HTTPStatus, bytes, str]:
    try:
        async with asyncio.timeout(timeout):
            await refresh()
    except TimeoutError:
        log.warning("metrics refresh did not finish within %.1fs", timeout)
        return HTTPStatus.SERVICE_UNAVAILABLE, b"metrics refresh timed out\n", TEXT
    except Exception as exc:
        log.exception("metrics refresh failed")
        return HTTPStatus.INTERNAL_SERVER_ERROR, _reason("metrics refresh failed", exc), TEXT
    try:
        body = metrics.render()
    except Exception as exc:
        log.exception("rendering metrics failed")
        return HTTPStatus.INTERNAL_SERVER_ERROR, _reason("rendering metrics failed", exc), TEXT
    return HTTPStatus.OK, body, CONTENT_TYPE_LATEST


def _reason(what: str, exc: BaseException) -> bytes:
    # The exception type only: its message may hold paths or SQL.
    return f"{what}: {type(exc).__name__}\n".encode()


async def _read_head(reader: asyncio.StreamReader) -> tuple[str, str] | None:
    """Read the request line and headers; return (method, path), None on an empty connection.

    Raises BadRequest for anything malformed or too large. The headers are
    read and checked but not used: both routes ignore them, and there is no
    body to read since every response closes the connection.
    """
    total = 0
    lines: list[bytes] = []
    while True:
        try:
            line = await reader.readline()
        except ValueError:  # one line longer than the stream limit
            raise BadRequest("request head too large") from None
        if not line:
            if not lines:
                return None
            raise asyncio.IncompleteReadError(b"".join(lines), None)
        total += len(line)
        if total > MAX_REQUEST_HEAD or len(lines) > MAX_HEADER_LINES:
            raise BadRequest("request head too large")
        if line in (b"\r\n", b"\n"):
            if not lines:
                continue  # RFC 9112 2.2: ignore empty lines before the request line
            break
        if not line.endswith(b"\n"):
            raise asyncio.IncompleteReadError(b"".join(lines) + line, None)
        lines.append(line)

    try:
        request_line = lines[0].decode("ascii").rstrip("\r\n")
    except UnicodeDecodeError:
        raise BadRequest("bad request line") from None
    parts = request_line.split(" ")
    if len(parts) != 3:
        raise BadRequest("bad request line")
    method, target, version = parts
    if not method.isascii() or not method.isalpha() or not method.isupper():
        raise BadRequest("bad method")
    if version not in ("HTTP/1.0", "HTTP/1.1"):
        raise BadRequest("unsupported HTTP version")
    if not target.startswith("/"):
        raise BadRequest("bad request target")
    for header in lines[1:]:
        name, sep, _value = header.partition(b":")
        if not sep or not name or name != name.strip() or b" " in name:
            raise BadRequest("bad header line")
    path = target.split("?", 1)[0]
    return method, path


async def _respond(
    writer: asyncio.StreamWriter,
    timeout: float,
    method: str,
    status: HTTPStatus,
    body: bytes,
    *,
    content_type: str = TEXT,
    extra_headers: tuple[tuple[str, str], ...] = (),
) -> None:
    headers = [
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
        ("Connection", "close"),
        *extra_headers,
    ]
    head = f"HTTP/1.1 {status.value} {status.phrase}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers) + "\r\n"
    writer.write(head.encode("latin-1") + (b"" if method == "HEAD" else body))
    try:
        async with asyncio.timeout(timeout):
            await writer.drain()
    except (TimeoutError, OSError):
        pass  # a client that does not read its answer; _close aborts the connection


async def _close(writer: asyncio.StreamWriter, timeout: float) -> None:
    writer.close()
    try:
        async with asyncio.timeout(timeout):
            await writer.wait_closed()
    except (TimeoutError, OSError):
        writer.transport.abort()
