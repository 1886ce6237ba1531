"""Fetch feeds over HTTP: conditional GET, redirects hop by hop, limits.

The only module that imports httpx. Everything here is async; one shared
client carries every request so connections are reused.

Limits that protect the daemon from hostile servers:
- a whole-request deadline (httpx's own timeouts are per read, so a server
  that drips one byte a second would never trip them);
- a cap on the body size, counted after decompression (gzip bombs);
- at most MAX_REDIRECTS hops, each checked against the private-network guard,
  and a loop check.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import socket
from collections.abc import Iterator
from urllib.parse import urljoin, urlsplit

import httpx

from . import __version__
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


def make_client(*, user_agent: str, timeout: float, concurrency: int) -> httpx.AsyncClient:
    """The one client every feed request goes through."""
    return httpx.AsyncClient(
        headers={"User-Agent": user_agent.replace("{version}", __version__), "Accept": ACCEPT},
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        limits=httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency),
        follow_redirects=False,  # we follow hop by hop, checking each address
        # Proxies from the environment are not used: a proxy would hide the
        # real destination from the private-network guard.
        trust_env=False,
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


async def check_destination(url: str, *, allow_private: bool) -> None:
    """Raise BlockedAddressError if the URL's host resolves to a non-public address.

    Known gap (see the security issue): the check resolves the name, then httpx
    resolves it again to connect, so DNS rebinding between the two is possible.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise FetchError(f"bad URL {url!r}: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise FetchError(f"unsupported URL scheme {parts.scheme!r} in {url}")
    host = parts.hostname
    if not host:
        raise FetchError(f"URL has no host: {url}")
    if allow_private:
        return
    try:
        addresses = {ipaddress.ip_address(host).compressed}
    except ValueError:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port or 443, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise FetchError(f"cannot resolve {host}: {exc.strerror or exc}") from None
        addresses = {str(info[4][0]) for info in infos}
    blocked = sorted(a for a in addresses if not is_public_address(a))
    if blocked:
        raise BlockedAddressError(
            f"{host} resolves to a private address ({', '.join(blocked)}); "
            "set [fetch] allow_private_networks = true to allow it"
        )


async def fetch_feed(
    client: httpx.AsyncClient,
    source: FeedSource,
    *,
    deadline: float,
    max_body_size: int,
    allow_private: bool,
) -> Fetched | NotModified:
    """GET one feed. Returns Fetched or NotModified; raises FetchError."""
    try:
        async with asyncio.timeout(deadline):
            with _as_fetch_error():
                return await _fetch(client, source, max_body_size, allow_private)
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
    except ExceptionGroup as group:
        # anyio reports a failed connect to several addresses as a group.
        raise FetchError(f"connection failed: {group.exceptions[0]}") from None


async def _fetch(
    client: httpx.AsyncClient, source: FeedSource, max_body_size: int, allow_private: bool
) -> Fetched | NotModified:
    headers = {}
    if source.etag:
        headers["If-None-Match"] = source.etag
    if source.last_modified:
        headers["If-Modified-Since"] = source.last_modified

    url = source.url
    seen = {url}
    permanent = True
    for _hop in range(MAX_REDIRECTS + 1):
        await check_destination(url, allow_private=allow_private)
        request = client.build_request("GET", url, headers=headers)
        response = await client.send(request, stream=True)
        try:
            if response.status_code in REDIRECT_STATUSES and "location" in response.headers:
                permanent = permanent and response.status_code in PERMANENT_REDIRECTS
                url = urljoin(url, response.headers["location"])
                if url in seen:
                    raise FetchError(f"redirect loop at {url}", status=response.status_code)
                seen.add(url)
                continue
            if response.status_code == 304:
                return NotModified(
                    url=source.url,
                    status=304,
                    etag=response.headers.get("etag") or source.etag,
                    last_modified=response.headers.get("last-modified") or source.last_modified,
                )
            if not 200 <= response.status_code < 300:
                reason = response.reason_phrase or ""
                raise FetchError(
                    f"HTTP {response.status_code} {reason}".strip(), status=response.status_code
                )
            body = await _read_capped(response, max_body_size)
        finally:
            await response.aclose()

        body_hash = hashlib.sha256(body).hexdigest()
        etag = response.headers.get("etag")
        last_modified = response.headers.get("last-modified")
        if source.body_hash == body_hash:
            return NotModified(
                url=source.url, status=response.status_code, etag=etag, last_modified=last_modified
            )
        return Fetched(
            url=source.url,
            final_url=url,
            status=response.status_code,
            headers=tuple((k.lower(), v) for k, v in response.headers.items()),
            body=body,
            etag=etag,
            last_modified=last_modified,
            body_hash=body_hash,
            permanent_redirect=permanent and url != source.url,
        )
    raise FetchError(f"more than {MAX_REDIRECTS} redirects")


async def probe(
    client: httpx.AsyncClient,
    url: str,
    *,
    method: str,
    max_bytes: int,
    allow_private: bool,
) -> Probe:
    """One request of link resolution: no redirect followed, at most max_bytes of body.

    Unlike feeds, a body over the limit is not an error: the first max_bytes
    are enough to find a meta refresh or a canonical link. Raises FetchError
    (BlockedAddressError for private addresses). The caller sets the deadline.
    """
    await check_destination(url, allow_private=allow_private)
    with _as_fetch_error():
        request = client.build_request(method, url, headers={"Accept": "text/html, */*;q=0.5"})
        response = await client.send(request, stream=True)
        try:
            body = None
            if method == "GET":
                chunks = []
                size = 0
                async for chunk in response.aiter_bytes():
                    chunks.append(chunk)
                    size += len(chunk)
                    if size >= max_bytes:
                        break
                body = b"".join(chunks)[:max_bytes]
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
    chunks = []
    size = 0
    # aiter_bytes yields decoded (decompressed) bytes: the cap holds for bombs too.
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_body_size:
            raise FetchError(f"body exceeds the limit of {max_body_size} bytes (decompressed)")
        chunks.append(chunk)
    return b"".join(chunks)
