"""Fetch feeds over HTTP: conditional GET, redirects hop by hop, limits.

The only module that imports httpx. Everything here is async; one shared
client carries every request so connections are reused.

Limits that protect the daemon from hostile servers:
- a whole-request deadline (httpx's own timeouts are per read, so a server
  that drips one byte a second would never trip them);
- a cap on the body size, counted while decoding with bounded decompressors
  (gzip, brotli and zstd bombs; see decompress.py);
- at most MAX_REDIRECTS hops, each an http(s) URL without credentials, and a
  loop check;
- the private-network guard on the address each connection dials, after DNS
  (GuardedBackend), for feeds, redirects and link resolution alike.

Under httpcore's pool, sockets are asyncio transports with a small protocol of
feedd's (AsyncioBackend) rather than httpcore's default anyio backend: a 304
costs about a fifth less CPU that way (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import http.cookiejar
import ipaddress
import select
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from typing import Any, cast
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from . import __version__
from .decompress import ACCEPT_ENCODING, BodyDecoder
from .errors import BlockedAddressError, FetchError
from .types import FeedSource, Fetched, NotModified, Probe

MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_REDIRECTS = frozenset({301, 308})
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/rdf+xml, application/xml;q=0.9, text/xml;q=0.9, "
    "application/json;q=0.8, */*;q=0.1"
)


Resolver = Callable[[str, int], Awaitable[Sequence[str]]]


async def system_resolver(host: str, port: int) -> list[str]:
    """The host's addresses from the system resolver, in its preferred order."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class Guard:
    """What the client may connect to. Mutable so a reloaded config applies at once."""

    def __init__(
        self,
        *,
        allow_private: bool,
        allowed_networks: Iterable[str] = (),
        resolver: Resolver = system_resolver,
    ) -> None:
        self.allow_private = allow_private
        self.allowed_networks = tuple(ipaddress.ip_network(n) for n in allowed_networks)
        self.resolver = resolver

    def allows(self, address: str) -> bool:
        if self.allow_private or is_public_address(address):
            return True
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        return any(ip in network for network in self.allowed_networks)


# Bytes a connection may hold unread before the socket stops being read
# (httpcore reads 64 KiB at a time).
READ_BUFFER = 256 * 1024


class _Connection(asyncio.Protocol):
    """One socket's received bytes and state, for AsyncioStream.

    A protocol of its own rather than asyncio's StreamReader: before reusing an
    idle connection httpcore asks whether anything arrived on it, and bytes a
    StreamReader has already taken off the socket are invisible from outside.
    """

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.received = bytearray()
        self.ended = False  # the peer closed its side, or the connection is gone
        self.error: Exception | None = None
        self.paused = False  # reading paused: READ_BUFFER bytes wait
        self.arrived = asyncio.Event()
        self.writable = asyncio.Event()
        self.writable.set()
        self.lost = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # a stream socket's

    def data_received(self, data: bytes) -> None:
        self.received += data
        self.arrived.set()
        if len(self.received) >= READ_BUFFER and self.transport is not None:
            self.transport.pause_reading()
            self.paused = True

    def eof_received(self) -> None:
        self.ended = True  # returning None closes the transport: no half-open reuse
        self.arrived.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.ended = True
        self.error = exc
        self.arrived.set()
        self.writable.set()
        self.lost.set()

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One connection as httpcore sees it, on an asyncio transport."""

    def __init__(self, connection: _Connection) -> None:
        self.connection = connection

    @property
    def transport(self) -> asyncio.Transport:
        return cast(asyncio.Transport, self.connection.transport)  # set once connected

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        connection = self.connection
        try:
            async with asyncio.timeout(timeout):
                while not connection.received and not connection.ended:
                    connection.arrived.clear()
                    await connection.arrived.wait()
        except TimeoutError:
            raise httpcore.ReadTimeout("read timed out") from None
        if connection.received:
            chunk = bytes(connection.received[:max_bytes])
            del connection.received[:max_bytes]
            if connection.paused and len(connection.received) < READ_BUFFER:
                connection.paused = False
                self.transport.resume_reading()
            return chunk
        if connection.error is not None:
            error = connection.error
            raise httpcore.ReadError(_reason(error))
        return b""  # the end: the server closed the connection

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        if self.transport.is_closing():
            raise httpcore.WriteError("the connection is closed")
        self.transport.write(buffer)
        try:
            async with asyncio.timeout(timeout):
                await self.connection.writable.wait()
        except TimeoutError:
            raise httpcore.WriteTimeout("write timed out") from None
        if self.connection.lost.is_set():  # while the bytes waited: they are gone
            error = self.connection.error
            raise httpcore.WriteError(str(error) if error else "the connection was closed")

    async def aclose(self) -> None:
        # At once, as httpcore's own backends do: no waiting for queued bytes or
        # for a TLS close_notify that a peer may never answer. Then until the
        # socket is really closed (the next turn of the loop).
        if not self.connection.lost.is_set():
            self.transport.abort()
            await self.connection.lost.wait()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                tls = await loop.start_tls(
                    self.transport, self.connection, ssl_context, server_hostname=server_hostname
                )
        except BaseException as exc:  # a timeout, a refused certificate, a cancellation
            # A handshake cut short is not reported to this protocol by asyncio's
            # TLS layer: mark the connection lost here, or aclose would wait forever.
            self.transport.abort()
            self.connection.connection_lost(None)
            if isinstance(exc, TimeoutError):
                raise httpcore.ConnectTimeout("TLS handshake timed out") from None
            if isinstance(exc, OSError):  # ssl.SSLError included
                raise httpcore.ConnectError(_reason(exc)) from exc
            raise
        self.connection.transport = cast(asyncio.Transport, tls)
        return self

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # httpcore asks before reusing an idle connection: anything to read
            # (or the end) means the server closed it or broke the protocol.
            connection = self.connection
            if connection.received or connection.ended or self.transport.is_closing():
                return True
            return _readable(self.transport.get_extra_info("socket"))
        name = {"client_addr": "sockname", "server_addr": "peername"}.get(info, info)
        return self.transport.get_extra_info(name)


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _readable(sock: socket.socket | None) -> bool:
    """Bytes (or the end) wait in the kernel, not yet read by the event loop."""
    if sock is None or sock.fileno() < 0:
        return True
    poll = select.poll()
    poll.register(sock.fileno(), select.POLLIN)
    return bool(poll.poll(0))


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """TCP connections for httpcore on asyncio transports (see the module's docstring)."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                local = (local_address, 0) if local_address else None
                transport, connection = await loop.create_connection(
                    _Connection, host, port, local_addr=local
                )
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"connecting to {host} timed out") from None
        except OSError as exc:
            raise httpcore.ConnectError(_reason(exc)) from exc
        try:
            for option in socket_options or ():
                transport.get_extra_info("socket").setsockopt(*option)
        except OSError as exc:
            transport.abort()
            raise httpcore.ConnectError(_reason(exc)) from exc
        return AsyncioStream(connection)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves the host itself and checks every address before dialling it.

    The check is on the address actually connected to, after DNS, so a name
    that resolves to a public address for a check and to 127.0.0.1 for the
    connect (DNS rebinding) cannot get through.
    """

    def __init__(self, guard: Guard) -> None:
        self.guard = guard
        self.inner = AsyncioBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = [ipaddress.ip_address(host.strip("[]")).compressed]
        except ValueError:
            try:
                addresses = list(await self.guard.resolver(host, port))
            except OSError as exc:
                raise httpcore.ConnectError(
                    f"cannot resolve {host}: {exc.strerror or exc}"
                ) from None
        if not addresses:
            raise httpcore.ConnectError(f"cannot resolve {host}: no address")
        blocked = [a for a in addresses if not self.guard.allows(a)]
        if blocked:
            raise BlockedAddressError(
                f"{host} resolves to a private address ({', '.join(blocked)}); "
                "allow it with [fetch] allowed_networks or allow_private_networks = true"
            )
        # Each address in the resolver's order, like a browser without Happy Eyeballs.
        for address in addresses[:-1]:
            with contextlib.suppress(httpcore.ConnectError, httpcore.ConnectTimeout):
                return await self.inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
        return await self.inner.connect_tcp(
            addresses[-1], port, timeout, local_address, socket_options
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("feedd does not connect to Unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with the connection pool dialling through GuardedBackend."""

    def __init__(
        self, guard: Guard, limits: httpx.Limits, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        # One SSL context for both pools: loading the CA bundle costs ~0.1 s of CPU.
        ssl_context = ssl_context or httpx.create_ssl_context(trust_env=False)
        super().__init__(verify=ssl_context, limits=limits, http2=True, trust_env=False)
        # httpx has no parameter for the network backend; the pool it built is
        # replaced by an identical one that has ours (tests prove the guard
        # holds, so an httpx change that bypassed it would fail them).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=True,
            network_backend=GuardedBackend(guard),
        )


class Client(httpx.AsyncClient):
    """httpx's client, keeping the transport it was built with for ``send_feed``.

    A feed request needs none of what the client adds around its transport:
    no redirect is followed, no cookie is kept, and the only credentials are
    the feed's own. Going to the transport directly (httpx's public transport
    API) skips building the cookie jar's request and response wrappers and
    the auth and redirect machinery: about a tenth of the CPU of a 304.
    """

    def __init__(self, *, transport: httpx.AsyncBaseTransport, **kwargs: Any) -> None:
        super().__init__(transport=transport, **kwargs)
        self.feed_transport = transport
        self.timeouts = self.timeout.as_dict()

    async def send_feed(
        self, url: str, headers: dict[str, str], auth: tuple[str, str] | None
    ) -> httpx.Response:
        """GET url through the transport; the response's body is not read yet."""
        merged = self.headers.copy()
        merged.update(headers)
        request = httpx.Request("GET", url, headers=merged, extensions={"timeout": self.timeouts})
        if auth is not None:
            # httpx's own Basic auth, through its public auth-flow API.
            request = next(httpx.BasicAuth(*auth).sync_auth_flow(request))
        response = await self.feed_transport.handle_async_request(request)
        response.request = request
        return response


def make_client(
    *,
    user_agent: str,
    timeout: float,
    concurrency: int,
    guard: Guard,
    ssl_context: ssl.SSLContext | None = None,
) -> Client:
    """The one client every feed and link request goes through. ``ssl_context``:
    the certificates to trust (default: certifi's, as httpx)."""
    limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency)
    return Client(
        headers={
            "User-Agent": user_agent.replace("{version}", __version__),
            "Accept": ACCEPT,
            "Accept-Encoding": ACCEPT_ENCODING,  # decoded here, with bounds (decompress.py)
        },
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        transport=GuardedTransport(guard, limits, ssl_context),
        follow_redirects=False,  # we follow hop by hop, checking each URL
        # Proxies from the environment are not used: a proxy would hide the
        # real destination from the guard.
        trust_env=False,
        # No cookies kept or sent: a feed poll is not a session, and a jar
        # filled by thousands of sites would grow for as long as the daemon runs.
        cookies=http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[])),
    )


NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def is_public_address(address: str) -> bool:
    """True for addresses on the public internet (not loopback, private, link-local...).

    IPv6 addresses that embed an IPv4 one (mapped, 6to4, NAT64) are judged
    by the IPv4 address they lead to.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            ip = embedded
    return ip.is_global and not ip.is_multicast


def check_url(url: str) -> None:
    """Raise FetchError unless url is an http(s) URL with a host and no credentials.

    Where it may connect is checked when connecting (GuardedBackend).
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        raise FetchError(f"bad URL {url!r}: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise FetchError(f"unsupported URL scheme {parts.scheme!r} in {url}")
    if not parts.hostname:
        raise FetchError(f"URL has no host: {url}")
    if parts.username is not None or parts.password is not None:
        raise FetchError(f"URL with credentials refused: {parts.hostname}")


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port or {"http": 80, "https": 443}.get(parts.scheme)


async def fetch_feed(
    client: httpx.AsyncClient,
    source: FeedSource,
    *,
    deadline: float,
    max_body_size: int,
) -> Fetched | NotModified:
    """GET one feed. Returns Fetched or NotModified; raises FetchError."""
    try:
        async with asyncio.timeout(deadline):
            with _as_fetch_error():
                return await _fetch(client, source, max_body_size)
    except TimeoutError:
        raise FetchError(f"no complete response within {deadline:g}s") from None


@contextlib.contextmanager
def _as_fetch_error() -> Iterator[None]:
    """Turn what httpx and the network raise into FetchError with a one-line reason."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise FetchError(f"timed out ({type(exc).__name__})") from None
    except httpx.HTTPError as exc:
        raise FetchError(f"{type(exc).__name__}: {exc or 'connection failed'}") from None
    except httpx.InvalidURL as exc:
        # httpx prepares the next request from Location even when not
        # following it, and refuses what is not http(s).
        raise FetchError(f"redirect to an unusable URL: {exc}") from None
    except (UnicodeError, ValueError) as exc:
        raise FetchError(f"bad URL: {exc}") from None
    except OSError as exc:
        raise FetchError(f"connection failed: {exc}") from None


async def _fetch(
    client: httpx.AsyncClient, source: FeedSource, max_body_size: int
) -> Fetched | NotModified:
    conditional = {}
    if source.etag:
        conditional["If-None-Match"] = source.etag
    if source.last_modified:
        conditional["If-Modified-Since"] = source.last_modified
    # The feed's own headers and credentials go only to the configured URL's
    # origin, never to a host a redirect (or a move) leads to.
    home = _origin(source.url)

    url = source.fetch_url
    seen = {url}
    permanent = True
    for _hop in range(MAX_REDIRECTS + 1):
        check_url(url)
        own = _origin(url) == home
        headers = {**dict(source.headers), **conditional} if own else conditional
        auth = source.auth if own and source.auth else None
        if isinstance(client, Client):
            response = await client.send_feed(url, headers, auth)
        else:  # a plain httpx client (tests, tools)
            request = client.build_request("GET", url, headers=headers)
            basic = httpx.BasicAuth(*auth) if auth else None
            response = await client.send(request, stream=True, auth=basic)
        try:
            if response.status_code in REDIRECT_STATUSES and "location" in response.headers:
                permanent = permanent and response.status_code in PERMANENT_REDIRECTS
                url = urljoin(url, response.headers["location"])
                if url in seen:
                    raise FetchError(f"redirect loop at {url}", status=response.status_code)
                seen.add(url)
                continue
            response_headers = tuple((k.lower(), v) for k, v in response.headers.items())
            moved_to = url if permanent and url != source.fetch_url else None
            if response.status_code == 304:
                return NotModified(
                    url=source.url,
                    status=304,
                    etag=response.headers.get("etag") or source.etag,
                    last_modified=response.headers.get("last-modified") or source.last_modified,
                    headers=response_headers,
                    moved_to=moved_to,
                )
            if not 200 <= response.status_code < 300:
                reason = response.reason_phrase or ""
                raise FetchError(
                    f"HTTP {response.status_code} {reason}".strip(),
                    status=response.status_code,
                    retry_after=response.headers.get("retry-after"),
                )
            body = await _read_capped(response, max_body_size)
        finally:
            await response.aclose()

        body_hash = hashlib.sha256(body).hexdigest()
        etag = response.headers.get("etag")
        last_modified = response.headers.get("last-modified")
        if source.body_hash == body_hash:
            return NotModified(
                url=source.url,
                status=response.status_code,
                etag=etag,
                last_modified=last_modified,
                headers=response_headers,
                moved_to=moved_to,
            )
        return Fetched(
            url=source.url,
            final_url=url,
            status=response.status_code,
            headers=response_headers,
            body=body,
            etag=etag,
            last_modified=last_modified,
            body_hash=body_hash,
            moved_to=moved_to,
        )
    raise FetchError(f"more than {MAX_REDIRECTS} redirects")


async def probe(client: httpx.AsyncClient, url: str, *, method: str, max_bytes: int) -> Probe:
    """One request of link resolution: no redirect followed, at most max_bytes of body.

    Unlike feeds, a body over the limit is not an error: the first max_bytes
    are enough to find a meta refresh or a canonical link. Raises FetchError
    (BlockedAddressError for private addresses). The caller sets the deadline.
    """
    check_url(url)
    with _as_fetch_error():
        request = client.build_request(method, url, headers={"Accept": "text/html, */*;q=0.5"})
        response = await client.send(request, stream=True)
        try:
            body = None
            if method == "GET":
                body = await _read_prefix(response, max_bytes)
            else:
                # A HEAD response has no body, but reading its (empty) end lets
                # httpcore put the connection back in the pool instead of closing it.
                await response.aread()
        finally:
            await response.aclose()
    return Probe(
        url=url,
        method=method,
        status=response.status_code,
        headers=tuple((k.lower(), v) for k, v in response.headers.items()),
        body=body,
    )


async def _read_capped(response: httpx.Response, max_body_size: int) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_body_size:
        raise FetchError(f"body of {int(declared)} bytes exceeds the limit of {max_body_size}")
    # Raw bytes, decoded here: httpx would inflate each chunk without bound.
    decoder = BodyDecoder(response.headers.get("content-encoding"), max_body_size)
    chunks = []
    raw_size = 0
    async for raw in response.aiter_raw():
        raw_size += len(raw)
        if raw_size > max_body_size:
            raise FetchError(f"body exceeds the limit of {max_body_size} bytes")
        chunks.append(decoder.feed(raw))
    chunks.append(decoder.finish())
    return b"".join(chunks)


async def _read_prefix(response: httpx.Response, max_bytes: int) -> bytes:
    """Up to max_bytes of the decoded body; what a bomb would add past that is dropped."""
    decoder = BodyDecoder(response.headers.get("content-encoding"), 4 * max_bytes)
    chunks = []
    size = 0
    try:
        async for raw in response.aiter_raw():
            chunk = decoder.feed(raw)
            chunks.append(chunk)
            size += len(chunk)
            if size >= max_bytes:
                break
        else:
            chunks.append(decoder.finish())
    except FetchError:
        pass  # undecodable or too large past this point: the prefix is what we have
    return b"".join(chunks)[:max_bytes]
