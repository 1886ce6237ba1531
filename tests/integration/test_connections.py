"""The connections under fetch: HTTPS, reuse, servers that close idle ones.

feedd's client dials through its own network backend (fetch.AsyncioBackend,
under the address guard); these tests drive it against real servers on
127.0.0.1: an HTTPS one with a certificate from a throwaway CA (trustme), and
a bare socket server that closes each connection after one answer without
saying so.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
from collections.abc import AsyncIterator, Iterator

import h2.config
import h2.connection
import h2.events
import httpcore
import httpx
import pytest
import trustme
from feedserver import FeedServer
from integration_support import RSS20_FIRST, rss20

from feedd import fetch
from feedd.errors import FetchError
from feedd.types import FeedSource, Fetched, NotModified

BODY = rss20(RSS20_FIRST)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def server_context(ca: trustme.CA, *names: str) -> ssl.SSLContext:
    """A server's TLS context with a certificate for ``names`` from the test CA."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    return context


def tls_server(ca: trustme.CA, *names: str) -> FeedServer:
    return FeedServer(tls=server_context(ca, *names))


def make_client(ssl_context: ssl.SSLContext | None = None) -> httpx.AsyncClient:
    return fetch.make_client(
        user_agent="feedd-tests/{version}",
        timeout=5.0,
        concurrency=4,
        guard=fetch.Guard(allow_private=True),
        ssl_context=ssl_context,
    )


def trusting(ca: trustme.CA) -> ssl.SSLContext:
    context = httpx.create_ssl_context(trust_env=False)
    ca.configure_trust(context)
    return context


@pytest.fixture
def https(ca: trustme.CA) -> Iterator[FeedServer]:
    server = tls_server(ca, "127.0.0.1")
    yield server
    server.close()


async def get(client: httpx.AsyncClient, url: str, etag: str | None = None):
    return await fetch.fetch_feed(
        client, FeedSource(url, etag), deadline=5.0, max_body_size=1_000_000
    )


async def test_https_feed_with_a_trusted_certificate(https: FeedServer, ca: trustme.CA):
    url = https.add("/feed.xml", BODY, etag='"v1"')
    assert url.startswith("https://127.0.0.1:")
    async with make_client(trusting(ca)) as client:
        first = await get(client, url)
        assert isinstance(first, Fetched)
        assert first.body == BODY and first.etag == '"v1"'
        again = await get(client, url, etag='"v1"')
        assert isinstance(again, NotModified) and again.status == 304
    assert https.hits("/feed.xml")[1]["if-none-match"] == '"v1"'
    assert https.connections == 1  # the TLS connection was kept and reused


async def test_https_with_an_untrusted_certificate_fails(https: FeedServer):
    url = https.add("/feed.xml", BODY)
    async with make_client() as client:  # certifi's roots: the test CA is not one
        with pytest.raises(FetchError, match="CERTIFICATE_VERIFY_FAILED"):
            await get(client, url)


async def test_https_with_a_certificate_for_another_name_fails(ca: trustme.CA):
    server = tls_server(ca, "feeds.example.org")
    try:
        url = server.add("/feed.xml", BODY)
        async with make_client(trusting(ca)) as client:
            with pytest.raises(FetchError, match=r"CERTIFICATE_VERIFY_FAILED|match"):
                await get(client, url)
    finally:
        server.close()


class SocketServer:
    """A listening socket on 127.0.0.1; each connection served on its own thread
    by the subclass's ``_serve``."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.sock.close()


class RawServer(SocketServer):
    """Answers one request per connection with a keep-alive 200, then either
    closes the connection without a ``Connection: close`` (what servers do to
    idle connections: their keep-alive timeout) or, with ``stray``, sends an
    unasked answer on it and keeps it open (a server timing the connection
    out with a 408, or a broken one)."""

    def __init__(self, *, stray: bool = False, tls: ssl.SSLContext | None = None) -> None:
        self.stray = stray
        self.tls = tls
        self.open: list[socket.socket] = []
        super().__init__()

    def url(self, path: str) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}{path}"

    def _serve(self, conn: socket.socket) -> None:
        if self.tls is not None:
            conn = self.tls.wrap_socket(conn, server_side=True)
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = conn.recv(4096)
            if not chunk:
                break
            request += chunk
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(BODY), BODY)
        )
        if self.stray:
            time.sleep(0.05)  # after the client has read its answer: not in h11's buffer
            conn.sendall(b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n")
            self.open.append(conn)  # kept open: only the stray bytes say it is unusable
        else:
            conn.close()

    def close(self) -> None:
        super().close()
        for conn in self.open:
            conn.close()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client() as http_client:
        yield http_client


async def fetch_thrice(client: httpx.AsyncClient, url: str) -> None:
    for _ in range(3):
        result = await get(client, url)
        assert isinstance(result, Fetched) and result.body == BODY
        await asyncio.sleep(0.2)  # idle: the server's close or stray bytes arrive meanwhile


@pytest.mark.parametrize("stray", [False, True], ids=["closed", "stray-bytes"])
async def test_an_idle_connection_the_server_spoiled_is_not_reused(
    client: httpx.AsyncClient, stray: bool
):
    """closed: each fetch finds the last connection at its end (readable) and dials
    anew. stray-bytes: the stray 408 was read off the socket by the event loop
    already: the check must see it in feedd's own buffer, or the next feed would
    get it as its answer."""
    server = RawServer(stray=stray)
    try:
        await fetch_thrice(client, server.url("/feed.xml"))
    finally:
        server.close()
    assert server.connections == 3


async def test_an_https_connection_the_server_closed_is_not_reused(ca: trustme.CA):
    server = RawServer(tls=server_context(ca, "127.0.0.1"))
    try:
        async with make_client(trusting(ca)) as client:
            await fetch_thrice(client, server.url("/feed.xml"))
    finally:
        server.close()
    assert server.connections == 3


async def test_plain_http_connections_are_reused(server: FeedServer, client: httpx.AsyncClient):
    url = server.add("/feed.xml", BODY)
    for _ in range(5):
        assert isinstance(await get(client, url), Fetched)
    assert server.connections == 1


async def test_cookies_are_neither_kept_nor_sent(server: FeedServer, client: httpx.AsyncClient):
    url = server.add("/feed.xml", BODY, headers={"Set-Cookie": "session=abc; Path=/"})
    for _ in range(2):
        assert isinstance(await get(client, url), Fetched)
    assert "cookie" not in server.hits("/feed.xml")[1]
    assert not client.cookies


class H2Server(SocketServer):
    """HTTP/2 over TLS (ALPN "h2" only) on 127.0.0.1, with the h2 library's
    server side: what most large feed hosts speak. Answers every request with
    BODY and an ETag, or 304 to a matching If-None-Match."""

    def __init__(self, ca: trustme.CA) -> None:
        self.context = server_context(ca, "127.0.0.1")
        self.context.set_alpn_protocols(["h2"])
        self.requests: list[dict[str, str]] = []
        super().__init__()

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    def _serve(self, conn: socket.socket) -> None:
        with self.context.wrap_socket(conn, server_side=True) as tls:
            if tls.selected_alpn_protocol() != "h2":
                return  # HTTP/1.1 is not spoken here
            h2conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
            h2conn.initiate_connection()
            tls.sendall(h2conn.data_to_send())
            while data := tls.recv(65535):
                for event in h2conn.receive_data(data):
                    if isinstance(event, h2.events.RequestReceived):
                        headers = {
                            (k.decode() if isinstance(k, bytes) else k).lower(): (
                                v.decode() if isinstance(v, bytes) else v
                            )
                            for k, v in event.headers
                        }
                        self.requests.append(headers)
                        self._answer(h2conn, event.stream_id, headers)
                tls.sendall(h2conn.data_to_send())

    def _answer(self, h2conn: h2.connection.H2Connection, stream: int, headers: dict) -> None:
        if headers.get("if-none-match") == '"h2"':
            h2conn.send_headers(stream, [(":status", "304"), ("etag", '"h2"')], end_stream=True)
            return
        h2conn.send_headers(
            stream,
            [
                (":status", "200"),
                ("content-type", "application/rss+xml"),
                ("content-length", str(len(BODY))),
                ("etag", '"h2"'),
            ],
        )
        h2conn.send_data(stream, BODY, end_stream=True)


async def test_http2_feed(ca: trustme.CA):
    """HTTP/2, negotiated over TLS, through feedd's own transports: a body, then
    a 304, on one connection."""
    server = H2Server(ca)
    try:
        async with make_client(trusting(ca)) as client:
            first = await get(client, server.url("/feed.xml"))
            assert isinstance(first, Fetched) and first.body == BODY
            again = await get(client, server.url("/feed.xml"), etag='"h2"')
            assert isinstance(again, NotModified) and again.status == 304
    finally:
        server.close()
    assert [r[":path"] for r in server.requests] == ["/feed.xml", "/feed.xml"]
    assert server.requests[1]["if-none-match"] == '"h2"'
    assert server.connections == 1


async def test_a_tls_handshake_cut_short_leaves_a_stream_that_closes():
    """A server that takes the connection and never answers the handshake: the
    timeout is a ConnectTimeout, and closing the stream afterwards returns
    (asyncio's TLS layer does not report such a loss to the protocol)."""
    silent = socket.create_server(("127.0.0.1", 0))  # the kernel accepts; nobody answers
    try:
        backend = fetch.AsyncioBackend()
        stream = await backend.connect_tcp("127.0.0.1", silent.getsockname()[1], timeout=2)
        with pytest.raises(httpcore.ConnectTimeout):
            await stream.start_tls(ssl.create_default_context(), "127.0.0.1", timeout=0.2)
        await asyncio.wait_for(stream.aclose(), 2)
        assert stream.get_extra_info("is_readable")  # never reused
    finally:
        silent.close()
