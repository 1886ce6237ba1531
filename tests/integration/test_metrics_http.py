"""The /healthz and /metrics server, on 127.0.0.1:0, spoken to over real sockets."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from feedd.metrics import Metrics, serve
from feedd.types import Outcome, Status

TIMEOUT = 0.5  # the server's request timeout in these tests


@dataclass
class App:
    """Real async callbacks, with state the tests can change."""

    metrics: Metrics = field(default_factory=Metrics)
    healthy: tuple[bool, str] = (True, "")
    refreshes: int = 0
    fail: bool = False
    delay: float = 0.0

    async def health(self) -> tuple[bool, str]:
        await asyncio.sleep(self.delay)
        if self.fail:
            raise RuntimeError("database is gone")
        return self.healthy

    async def refresh(self) -> None:
        await asyncio.sleep(self.delay)
        if self.fail:
            raise RuntimeError("database is gone")
        self.refreshes += 1
        self.metrics.set_articles_total(40 + self.refreshes)
        self.metrics.set_feed_states({"ok": 3, "failing": 1})


@dataclass
class Running:
    app: App
    port: int


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


@pytest.fixture
async def running() -> AsyncIterator[Running]:
    app = App()
    server = await serve(
        "127.0.0.1",
        0,
        metrics=app.metrics,
        health=app.health,
        refresh=app.refresh,
        timeout=TIMEOUT,
    )
    port = server.sockets[0].getsockname()[1]
    try:
        yield Running(app, port)
    finally:
        server.close()
        await server.wait_closed()


async def exchange(port: int, raw: bytes, *, eof: bool = False) -> bytes:
    """Send raw bytes (then shut down our side when eof), read until the server closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        await writer.drain()
        if eof:
            writer.write_eof()
        return await asyncio.wait_for(reader.read(), timeout=5)
    finally:
        writer.close()
        await writer.wait_closed()


def parse(raw: bytes) -> Response:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    version, status, _reason = status_line.split(" ", 2)
    assert version == "HTTP/1.1"
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Response(int(status), headers, body)


async def request(port: int, method: str, target: str) -> Response:
    raw = f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: test\r\n\r\n"
    response = parse(await exchange(port, raw.encode()))
    assert response.headers["connection"] == "close"
    if method != "HEAD":
        assert int(response.headers["content-length"]) == len(response.body)
    return response


async def test_healthz_ok(running: Running) -> None:
    response = await request(running.port, "GET", "/healthz")
    assert response.status == 200
    assert response.body == b"ok\n"
    assert response.headers["content-type"].startswith("text/plain")


async def test_healthz_unhealthy(running: Running) -> None:
    running.app.healthy = (False, "tick stalled")
    response = await request(running.port, "GET", "/healthz")
    assert response.status == 503
    assert response.body == b"tick stalled\n"


async def test_metrics_parse_as_prometheus_text(running: Running) -> None:
    running.app.metrics.observe_outcome(
        Outcome("https://a.example/feed", Status.OK, new=2, duration=0.2)
    )
    running.app.metrics.observe_tick(time.time())
    response = await request(running.port, "GET", "/metrics")
    assert response.status == 200
    assert response.headers["content-type"] == CONTENT_TYPE_LATEST
    assert running.app.refreshes == 1
    values = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.body.decode())
        for sample in family.samples
    }
    assert values[("feedd_articles", ())] == 41  # set by the awaited refresh
    assert values[("feedd_feeds", (("state", "ok"),))] == 3
    assert values[("feedd_fetches_total", (("outcome", "ok"),))] == 1
    assert values[("feedd_articles_stored_total", ())] == 2
    assert values[("feedd_last_tick_timestamp_seconds", ())] > 0

    await request(running.port, "GET", "/metrics?x=1")
    assert running.app.refreshes == 2


async def test_head(running: Running) -> None:
    get = await request(running.port, "GET", "/healthz")
    head = await request(running.port, "HEAD", "/healthz")
    assert head.status == 200
    assert head.body == b""
    assert head.headers["content-length"] == get.headers["content-length"]
    metrics_head = await request(running.port, "HEAD", "/metrics")
    assert metrics_head.status == 200
    assert metrics_head.body == b""
    assert int(metrics_head.headers["content-length"]) > 0


async def test_not_found_and_method_not_allowed(running: Running) -> None:
    assert (await request(running.port, "GET", "/")).status == 404
    assert (await request(running.port, "GET", "/metricsx")).status == 404
    response = await request(running.port, "POST", "/metrics")
    assert response.status == 405
    assert response.headers["allow"] == "GET, HEAD"
    assert running.app.refreshes == 0


@pytest.mark.parametrize(
    "raw",
    [
        b"GARBAGE\r\n\r\n",
        b"GET /healthz\r\n\r\n",
        b"GET /healthz HTTP/2.0\r\n\r\n",
        b"get /healthz HTTP/1.1\r\n\r\n",
        b"GET healthz HTTP/1.1\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nno colon here\r\n\r\n",
        b"GET /\xff HTTP/1.1\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\n" + b"X-Big: " + b"a" * 10000 + b"\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\n" + b"X-Many: a\r\n" * 1000 + b"\r\n",
    ],
)
async def test_bad_requests(running: Running, raw: bytes) -> None:
    assert parse(await exchange(running.port, raw)).status == 400


async def test_bare_newlines_and_http10(running: Running) -> None:
    response = parse(await exchange(running.port, b"GET /healthz HTTP/1.0\n\n"))
    assert response.status == 200


async def test_client_closing_early_is_harmless(running: Running) -> None:
    started = time.monotonic()
    assert await exchange(running.port, b"", eof=True) == b""
    assert await exchange(running.port, b"GET /healthz HTTP/1.1\r\nHost", eof=True) == b""
    assert time.monotonic() - started < TIMEOUT  # not left to time out
    assert (await request(running.port, "GET", "/healthz")).status == 200


async def test_slow_client_is_dropped_without_blocking_others(running: Running) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never the blank line
        await writer.drain()
        started = time.monotonic()
        # Others are served while the slow one is waiting.
        assert (await request(running.port, "GET", "/healthz")).status == 200
        assert time.monotonic() - started < TIMEOUT
        answer = await asyncio.wait_for(reader.read(), timeout=TIMEOUT * 10)
        elapsed = time.monotonic() - started
    finally:
        writer.close()
        await writer.wait_closed()
    assert parse(answer).status == 408
    assert TIMEOUT * 0.8 <= elapsed < TIMEOUT * 5


async def test_callback_errors_are_answered_and_logged(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    running.app.fail = True
    with caplog.at_level(logging.ERROR, logger="feedd.metrics"):
        health = await request(running.port, "GET", "/healthz")
        metrics = await request(running.port, "GET", "/metrics")
    assert health.status == 503
    assert health.body == b"health check failed: RuntimeError\n"
    assert metrics.status == 500
    assert metrics.body == b"metrics refresh failed: RuntimeError\n"
    assert [r.getMessage() for r in caplog.records] == [
        "health check failed",
        "metrics refresh failed",
    ]
    assert all(r.exc_info for r in caplog.records)

    running.app.fail = False  # the server is still there
    assert (await request(running.port, "GET", "/healthz")).status == 200


async def test_slow_callbacks_time_out(running: Running) -> None:
    running.app.delay = TIMEOUT * 3
    health = await request(running.port, "GET", "/healthz")
    assert health.status == 503
    assert health.body == b"health check timed out\n"
    assert (await request(running.port, "GET", "/metrics")).status == 503


async def test_port_zero_binds_a_free_port() -> None:
    app = App()
    servers = [
        await serve("127.0.0.1", 0, metrics=app.metrics, health=app.health, refresh=app.refresh)
        for _ in range(2)
    ]
    try:
        ports = {server.sockets[0].getsockname()[1] for server in servers}
        assert len(ports) == 2
        assert all(port > 0 for port in ports)
    finally:
        for server in servers:
            server.close()
            await server.wait_closed()
