"""A real HTTP server on 127.0.0.1 for tests: routes with programmable behaviour.

    server = FeedServer()            # binds 127.0.0.1:0, serves from a thread
    server.add("/feed.xml", body=b"...", content_type="application/rss+xml", etag='"v1"')
    server.url("/feed.xml")           # http://127.0.0.1:PORT/feed.xml
    FeedServer(tls=context)           # the same over HTTPS (https://...)
    server.requests                   # [(path, headers dict)] seen, in order
    server.spans                      # [(path, started, ended)]: when each was answered
    server.close()

A route can answer with a status, redirect (location=), honour ETag /
Last-Modified (304), gzip its body, declare a wrong Content-Length, drip
the body slowly (delay=), wait before answering (latency=), or send it
chunked with no Content-Length (chunked=True). ``max_in_flight`` is the most
requests the server was answering at once. ``add`` replaces an existing
route, so a test can change a feed between polls.
"""

from __future__ import annotations

import gzip
import ssl
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str | None = "application/xml"
    etag: str | None = None
    last_modified: str | None = None
    location: str | None = None
    gzip: bool = False
    delay: float = 0.0  # seconds between chunks of a slow body
    chunk: int = 0  # with delay or chunked: bytes per chunk (0: the whole body at once)
    chunked: bool = False  # Transfer-Encoding: chunked, so the size is not declared
    head_status: int | None = None  # answer HEAD with this status instead (e.g. 405)
    latency: float = 0.0  # seconds to wait before answering (requests overlap meanwhile)
    headers: dict[str, str] = field(default_factory=dict)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output clean

    def setup(self) -> None:
        super().setup()
        with self.server.owner.lock:
            self.server.owner.connections += 1

    def do_HEAD(self) -> None:
        self._serve(send_body=False)

    def do_GET(self) -> None:
        self._serve(send_body=True)

    def _serve(self, send_body: bool) -> None:
        owner = self.server.owner
        with owner.lock:
            owner.in_flight += 1
            owner.max_in_flight = max(owner.max_in_flight, owner.in_flight)
        started = time.monotonic()
        try:
            self._answer(send_body)
        finally:
            with owner.lock:
                owner.in_flight -= 1
                owner.spans.append((self.path, started, time.monotonic()))

    def _answer(self, send_body: bool) -> None:
        owner = self.server.owner
        with owner.lock:
            owner.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            owner.methods.append((self.path, self.command))
            route = owner.routes.get(self.path.split("?", 1)[0])
        if route is not None and route.latency:
            time.sleep(route.latency)
        if route is None:
            self._reply(404, b"not found", {"Content-Type": "text/plain"}, send_body)
            return
        if not send_body and route.head_status is not None:
            self._reply(route.head_status, b"", {}, False)
            return
        headers = {**route.headers}
        if route.content_type:
            headers["Content-Type"] = route.content_type
        if route.location:
            headers["Location"] = route.location
        if route.etag:
            headers["ETag"] = route.etag
        if route.last_modified:
            headers["Last-Modified"] = route.last_modified
        if route.status == 200 and self._not_modified(route):
            self._reply(304, b"", {k: v for k, v in headers.items() if k != "Content-Type"}, False)
            return
        body = route.body
        if route.gzip:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        self._reply(route.status, body, headers, send_body, route)

    def _not_modified(self, route: Route) -> bool:
        inm = self.headers.get("If-None-Match")
        ims = self.headers.get("If-Modified-Since")
        if route.etag and inm is not None:
            return inm == route.etag
        return bool(route.last_modified and ims == route.last_modified)

    def _reply(
        self,
        status: int,
        body: bytes,
        headers: dict[str, str],
        send_body: bool,
        route: Route | None = None,
    ) -> None:
        self.send_response(status)
        chunked = route is not None and route.chunked and send_body
        if chunked:
            headers["Transfer-Encoding"] = "chunked"
        else:
            headers.setdefault("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if chunked:
            self._write_chunked(body, route)
            return
        if not send_body or not body:
            return
        try:
            if route is not None and route.delay:
                step = route.chunk or len(body)
                for start in range(0, len(body), step):
                    self.wfile.write(body[start : start + step])
                    self.wfile.flush()
                    time.sleep(route.delay)
            else:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (e.g. a deadline): expected in tests

    def _write_chunked(self, body: bytes, route: Route | None) -> None:
        step = (route.chunk if route else 0) or len(body) or 1
        try:
            for start in range(0, len(body), step):
                piece = body[start : start + step]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.flush()
                if route is not None and route.delay:
                    time.sleep(route.delay)
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (e.g. a size cap): expected in tests


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: FeedServer

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that gives up early (an error status, a size cap) closes the
        # connection with the body unread, so the kernel resets it: expected in tests.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


class FeedServer:
    def __init__(self, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.methods: list[tuple[str, str]] = []  # (path, HTTP method), in order
        self.connections = 0  # TCP connections accepted
        self.in_flight = 0  # requests being answered now
        self.max_in_flight = 0  # the most answered at once
        self.spans: list[tuple[str, float, float]] = []  # (path, started, ended), monotonic
        self.lock = threading.Lock()
        self._server = _Server((host, 0), _Handler)
        if tls is not None:  # HTTPS: the handshake happens as a connection is accepted
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        self.host = host
        self._server.owner = self
        self.port = self._server.server_address[1]
        # A short poll interval: close() (shutdown) waits for one poll, once per test.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def url(self, path: str) -> str:
        return f"{self.scheme}://{self.host}:{self.port}{path}"

    def add(self, path: str, body: bytes | str = b"", **options: object) -> str:
        if isinstance(body, str):
            body = body.encode("utf-8")
        with self.lock:
            self.routes[path] = Route(body=body, **options)  # type: ignore[arg-type]
        return self.url(path)

    def hits(self, path: str) -> list[dict[str, str]]:
        with self.lock:
            return [headers for p, headers in self.requests if p.split("?", 1)[0] == path]

    def methods_for(self, path: str) -> list[str]:
        with self.lock:
            return [method for p, method in self.methods if p.split("?", 1)[0] == path]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
