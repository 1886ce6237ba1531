"""fetch.fetch_feed against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import gzip
import hashlib
import socket
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator

import brotli
import httpx
import pytest
from feedserver import FeedServer
from integration_support import RSS20_FIRST, rss20

from feedd import fetch
from feedd.errors import BlockedAddressError, FetchError
from feedd.types import FeedSource, Fetched, NotModified

try:
    from compression import zstd  # type: ignore[import-not-found]
except ImportError:  # Python < 3.14
    from backports import zstd

BODY = rss20(RSS20_FIRST)
LAST_MODIFIED = "Mon, 01 Jan 2024 00:00:00 GMT"


def make_client(**guard_options: object) -> httpx.AsyncClient:
    """The client feedd itself builds (private networks allowed unless told)."""
    options: dict = {"allow_private": True, **guard_options}
    return fetch.make_client(
        user_agent="feedd-tests/{version}",
        timeout=5.0,
        concurrency=4,
        guard=fetch.Guard(**options),
    )


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client() as http_client:
        yield http_client


@pytest.fixture
async def strict() -> AsyncIterator[httpx.AsyncClient]:
    """A client with the default guard: no private networks."""
    async with make_client(allow_private=False) as http_client:
        yield http_client


async def get(
    client: httpx.AsyncClient,
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    body_hash: str | None = None,
    deadline: float = 5.0,
    max_body_size: int = 1_000_000,
) -> Fetched | NotModified:
    return await fetch.fetch_feed(
        client,
        FeedSource(url, etag, last_modified, body_hash),
        deadline=deadline,
        max_body_size=max_body_size,
    )


async def fetched(client: httpx.AsyncClient, url: str, **options: object) -> Fetched:
    result = await get(client, url, **options)  # type: ignore[arg-type]
    assert isinstance(result, Fetched), result
    return result


# -- 200 and validators


async def test_200_gives_body_headers_and_validators(server: FeedServer, client):
    url = server.add(
        "/feed.xml",
        BODY,
        content_type="application/rss+xml; charset=utf-8",
        etag='"v1"',
        last_modified=LAST_MODIFIED,
    )
    result = await fetched(client, url)
    assert result.url == url
    assert result.final_url == url
    assert result.status == 200
    assert result.body == BODY
    assert result.body_hash == hashlib.sha256(BODY).hexdigest()
    assert result.etag == '"v1"'
    assert result.last_modified == LAST_MODIFIED
    assert result.header("Content-Type") == "application/rss+xml; charset=utf-8"
    assert not result.moved_to
    (sent,) = server.hits("/feed.xml")
    assert "if-none-match" not in sent
    assert "if-modified-since" not in sent
    assert sent["user-agent"].startswith("feedd-tests/")
    assert "application/rss+xml" in sent["accept"]


async def test_200_without_validators(server: FeedServer, client):
    result = await fetched(client, server.add("/plain.xml", BODY))
    assert result.etag is None
    assert result.last_modified is None


async def test_conditional_get_sends_validators_and_304_is_not_modified(server: FeedServer, client):
    url = server.add("/feed.xml", BODY, etag='"v1"', last_modified=LAST_MODIFIED)
    result = await get(client, url, etag='"v1"', last_modified=LAST_MODIFIED)
    assert isinstance(result, NotModified)
    assert (result.url, result.status, result.etag, result.last_modified) == (
        url,
        304,
        '"v1"',
        LAST_MODIFIED,
    )
    assert result.moved_to is None
    (sent,) = server.hits("/feed.xml")
    assert sent["if-none-match"] == '"v1"'
    assert sent["if-modified-since"] == LAST_MODIFIED


async def test_304_on_last_modified_alone(server: FeedServer, client):
    url = server.add("/feed.xml", BODY, last_modified=LAST_MODIFIED)
    result = await get(client, url, last_modified=LAST_MODIFIED)
    assert isinstance(result, NotModified)
    assert result.status == 304
    assert result.last_modified == LAST_MODIFIED
    (sent,) = server.hits("/feed.xml")
    assert "if-none-match" not in sent


async def test_stale_etag_gets_the_new_body(server: FeedServer, client):
    url = server.add("/feed.xml", BODY, etag='"v2"')
    result = await fetched(client, url, etag='"v1"')
    assert result.etag == '"v2"'
    assert result.body == BODY


async def test_same_body_again_is_not_modified(server: FeedServer, client):
    url = server.add("/feed.xml", BODY, etag='"v2"')
    result = await get(client, url, body_hash=hashlib.sha256(BODY).hexdigest())
    assert isinstance(result, NotModified)
    assert result.status == 200
    assert result.etag == '"v2"'


async def test_different_body_hash_is_fetched(server: FeedServer, client):
    url = server.add("/feed.xml", BODY)
    result = await fetched(client, url, body_hash=hashlib.sha256(b"older").hexdigest())
    assert result.body == BODY


# -- redirects


@pytest.mark.parametrize("status", [301, 308])
async def test_permanent_redirect_chain(server: FeedServer, client, status):
    final = server.add("/final.xml", BODY)
    server.add("/b", status=status, location="/final.xml")  # relative Location
    start = server.add("/a", status=status, location=server.url("/b"))
    result = await fetched(client, start)
    assert result.url == start
    assert result.final_url == final
    assert result.moved_to
    assert result.body == BODY
    assert [p for p, _ in server.requests] == ["/a", "/b", "/final.xml"]


@pytest.mark.parametrize("statuses", [(302,), (301, 302), (302, 301), (307,), (303, 308)])
async def test_temporary_hop_makes_the_chain_not_permanent(server: FeedServer, client, statuses):
    final = server.add("/final.xml", BODY)
    paths = [f"/hop{i}" for i in range(len(statuses))] + ["/final.xml"]
    for path, status, target in zip(paths, statuses, paths[1:], strict=False):
        server.add(path, status=status, location=target)
    result = await fetched(client, server.url(paths[0]))
    assert result.final_url == final
    assert not result.moved_to


async def test_redirects_keep_the_conditional_headers(server: FeedServer, client):
    server.add("/final.xml", BODY, etag='"v1"')
    start = server.add("/old", status=301, location="/final.xml")
    result = await get(client, start, etag='"v1"')
    assert isinstance(result, NotModified)
    assert result.url == start
    assert server.hits("/final.xml")[0]["if-none-match"] == '"v1"'


async def test_redirect_loop(server: FeedServer, client):
    server.add("/a", status=302, location="/b")
    server.add("/b", status=302, location="/a")
    with pytest.raises(FetchError, match="redirect loop"):
        await get(client, server.url("/a"))
    assert len(server.requests) == 2


async def test_redirect_to_itself(server: FeedServer, client):
    url = server.add("/self", status=301, location="/self")
    with pytest.raises(FetchError, match="redirect loop"):
        await get(client, url)


async def test_five_redirects_are_followed(server: FeedServer, client):
    for i in range(5):
        server.add(f"/r{i}", status=301, location=f"/r{i + 1}")
    final = server.add("/r5", BODY)
    result = await fetched(client, server.url("/r0"))
    assert result.final_url == final
    assert result.moved_to


async def test_more_than_five_redirects(server: FeedServer, client):
    for i in range(6):
        server.add(f"/r{i}", status=301, location=f"/r{i + 1}")
    server.add("/r6", BODY)
    with pytest.raises(FetchError, match="more than 5 redirects"):
        await get(client, server.url("/r0"))
    assert "/r6" not in [p for p, _ in server.requests]


@pytest.mark.parametrize(
    "location",
    [
        "ftp://127.0.0.1/feed.xml",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "mailto:feeds@example.org",
        "data:text/xml,<rss/>",
    ],
)
async def test_redirect_to_a_non_http_scheme(server: FeedServer, client, location):
    url = server.add("/feed", status=302, location=location)
    # Some are refused by feedd's own check, others already by httpx.
    with pytest.raises(FetchError, match=r"unsupported URL scheme|unusable URL"):
        await get(client, url)


@pytest.mark.parametrize(
    "location",
    [
        "http://[::1/feed.xml",  # httpx reports it as RemoteProtocolError
        "http://xn--a.com/feed.xml",
        "http://127.0.0.1:99999/feed.xml",
    ],
)
async def test_redirect_to_a_malformed_url(server: FeedServer, client, location):
    url = server.add("/feed", status=302, location=location)
    with pytest.raises(FetchError):
        await get(client, url)


async def test_port_out_of_range(client):
    with pytest.raises(FetchError):
        await get(client, "http://127.0.0.1:99999/feed.xml")


async def test_redirect_without_location_is_an_error(server: FeedServer, client):
    url = server.add("/feed", status=302)
    with pytest.raises(FetchError) as info:
        await get(client, url)
    assert info.value.status == 302


# -- HTTP errors


@pytest.mark.parametrize(("status", "reason"), [(404, "Not Found"), (410, "Gone"), (500, None)])
async def test_error_status(server: FeedServer, client, status, reason):
    url = server.add("/feed.xml", b"oops", status=status, content_type="text/plain")
    with pytest.raises(FetchError) as info:
        await get(client, url)
    assert info.value.status == status
    assert str(info.value).startswith(f"HTTP {status}")
    if reason:
        assert reason in str(info.value)
    assert not isinstance(info.value, BlockedAddressError)


async def test_unknown_path_is_404(server: FeedServer, client):
    with pytest.raises(FetchError) as info:
        await get(client, server.url("/nowhere"))
    assert info.value.status == 404


async def test_error_after_redirect_keeps_its_status(server: FeedServer, client):
    server.add("/gone", status=410)
    url = server.add("/old", status=301, location="/gone")
    with pytest.raises(FetchError) as info:
        await get(client, url)
    assert info.value.status == 410


# -- bodies: encoding and size limits


async def test_gzip_body_is_decoded(server: FeedServer, client):
    url = server.add("/feed.xml", BODY, gzip=True)
    result = await fetched(client, url)
    assert result.body == BODY
    assert result.header("content-encoding") == "gzip"
    assert "gzip" in server.hits("/feed.xml")[0]["accept-encoding"]


async def test_body_at_the_limit_is_accepted(server: FeedServer, client):
    body = b"x" * 1000
    result = await fetched(client, server.add("/feed.xml", body), max_body_size=1000)
    assert result.body == body


async def test_declared_body_over_the_limit(server: FeedServer, client):
    url = server.add("/big.xml", b"x" * 2001)
    with pytest.raises(FetchError, match="2001 bytes exceeds the limit of 2000"):
        await get(client, url, max_body_size=2000)


async def test_undeclared_chunked_body_over_the_limit(server: FeedServer, client):
    url = server.add("/big.xml", b"x" * 50_000, chunked=True, chunk=4096)
    with pytest.raises(FetchError, match="exceeds the limit of 20000 bytes"):
        await get(client, url, max_body_size=20_000)


async def test_chunked_body_under_the_limit_is_read_whole(server: FeedServer, client):
    url = server.add("/feed.xml", BODY, chunked=True, chunk=100)
    result = await fetched(client, url)
    assert result.body == BODY
    assert result.header("transfer-encoding") == "chunked"


async def test_gzip_bomb_is_capped_after_decompression(server: FeedServer, client):
    huge = b"<rss>" + b" " * 30_000_000
    bomb = gzip.compress(huge, compresslevel=9)
    limit = 1_000_000
    assert len(bomb) < limit < len(huge)
    url = server.add("/bomb.xml", bomb, headers={"Content-Encoding": "gzip"})
    with pytest.raises(FetchError, match="decompressed"):
        await get(client, url, max_body_size=limit)


async def test_truncated_body_is_an_error(server: FeedServer, client):
    url = server.add(
        "/short.xml", BODY, headers={"Content-Length": str(len(BODY) + 100), "Connection": "close"}
    )
    with pytest.raises(FetchError):
        await get(client, url)


# -- time and connection failures


async def test_slow_drip_hits_the_deadline(server: FeedServer, client):
    # 400 bytes, one every 50 ms: 20 s in all, each read well within httpx's 5 s timeout.
    url = server.add("/slow.xml", b"x" * 400, delay=0.05, chunk=1)
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"within 1s"):
        await get(client, url, deadline=1.0)
    assert time.monotonic() - started < 3.0


async def test_server_that_never_answers(client):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()  # accepts connections, never replies
        port = listener.getsockname()[1]
        with pytest.raises(FetchError, match=r"within 0\.5s"):
            await get(client, f"http://127.0.0.1:{port}/feed.xml", deadline=0.5)


async def test_connection_refused(client):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port now.
    with pytest.raises(FetchError, match="ConnectError") as info:
        await get(client, f"http://127.0.0.1:{port}/feed.xml")
    assert info.value.status is None


async def test_unresolvable_host(strict):
    with pytest.raises(FetchError, match="cannot resolve"):
        await get(strict, "http://feedd-test.invalid/feed.xml")


# -- the private-network guard


async def test_loopback_is_blocked_without_allow_private(server: FeedServer, strict):
    url = server.add("/feed.xml", BODY)
    with pytest.raises(BlockedAddressError, match=r"127\.0\.0\.1") as info:
        await get(strict, url)
    assert "allow_private_networks" in str(info.value)
    assert server.requests == []  # blocked before any connection


async def test_localhost_name_is_blocked(server: FeedServer, strict):
    with pytest.raises(BlockedAddressError):
        await get(strict, f"http://localhost:{server.port}/feed.xml")
    assert server.requests == []


async def test_blocked_address_is_a_fetch_error(server: FeedServer, strict):
    with pytest.raises(FetchError):
        await get(strict, server.url("/feed.xml"))


async def test_non_http_scheme_is_refused(client):
    with pytest.raises(FetchError, match="unsupported URL scheme 'file'"):
        await get(client, "file:///etc/passwd")


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("127.0.0.1", False),
        ("127.8.9.10", False),
        ("10.0.0.1", False),
        ("10.255.255.254", False),
        ("192.168.1.1", False),
        ("172.16.0.1", False),
        ("172.31.255.254", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),  # noqa: S104 - an address to classify, not to bind
        ("224.0.0.1", False),  # multicast
        ("255.255.255.255", False),
        ("::1", False),
        ("::", False),
        ("fc00::1", False),
        ("fd12:3456::1", False),
        ("fe80::1", False),
        ("fe80::1%eth0", False),  # with a zone id
        ("ff02::1", False),  # multicast
        ("::ffff:127.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("172.32.0.1", True),  # just past 172.16.0.0/12
        ("8.8.8.8", True),
        ("1.1.1.1", True),
        ("::ffff:8.8.8.8", True),
        ("2001:4860:4860::8888", True),
        ("64:ff9b::808:808", True),  # NAT64 of 8.8.8.8
        pytest.param("64:ff9b::a00:1", False),
        pytest.param("2002:a00:1::", False),
    ],
)
def test_is_public_address(address, public):
    assert fetch.is_public_address(address) is public


# -- the guard is on the address dialled, after DNS


def resolver_for(table: dict[str, list[str]]) -> fetch.Resolver:
    """A resolver that knows only these names (a test cannot change the system's DNS)."""

    async def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError(f"unknown host {host}")
        return table[host]

    return resolve


async def test_a_public_looking_name_that_resolves_to_loopback_is_blocked(server: FeedServer):
    server.add("/feed.xml", BODY)
    resolver = resolver_for({"feeds.example.com": ["127.0.0.1"]})
    url = f"http://feeds.example.com:{server.port}/feed.xml"
    async with make_client(allow_private=False, resolver=resolver) as strict_client:
        with pytest.raises(BlockedAddressError, match=r"feeds\.example\.com .*127\.0\.0\.1"):
            await get(strict_client, url)
    assert server.requests == []
    # The same name with private networks allowed reaches the server: the
    # address dialled is the one the resolver gave.
    async with make_client(allow_private=True, resolver=resolver) as open_client:
        assert (await fetched(open_client, url)).body == BODY
    assert server.hits("/feed.xml")[0]["host"] == f"feeds.example.com:{server.port}"


async def test_dns_rebinding_cannot_pass(server: FeedServer):
    """The name is resolved once, at connect time: a resolver that answers a public
    address first and loopback afterwards (a rebinding attack) gets no second
    chance to slip past a check made earlier."""
    server.add("/feed.xml", BODY)
    answers = [["93.184.215.14"], ["127.0.0.1"]]
    calls: list[str] = []

    async def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return answers[min(len(calls), 2) - 1]

    url = f"http://rebind.example.com:{server.port}/feed.xml"
    async with make_client(allow_private=False, resolver=rebinding) as strict_client:
        # First connection: the public address (unreachable from this machine).
        with pytest.raises(FetchError):
            await get(strict_client, url, deadline=2.0)
        # Second connection: the name now says 127.0.0.1, checked as it is dialled.
        with pytest.raises(BlockedAddressError):
            await get(strict_client, url)
    assert server.requests == []


async def test_one_private_address_among_public_ones_blocks(server: FeedServer):
    resolver = resolver_for({"mixed.example.com": ["93.184.215.14", "10.0.0.5"]})
    async with make_client(allow_private=False, resolver=resolver) as strict_client:
        with pytest.raises(BlockedAddressError, match=r"10\.0\.0\.5"):
            await get(strict_client, "http://mixed.example.com/feed.xml")


@pytest.mark.parametrize(
    "location",
    [
        "http://127.0.0.1:{port}/feed.xml",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:{port}/feed.xml",
        "http://0.0.0.0:{port}/feed.xml",
        "http://[::ffff:127.0.0.1]:{port}/feed.xml",
        "http://internal.example.com:{port}/feed.xml",
    ],
)
async def test_redirect_into_a_private_network_is_blocked(location: str):
    # The feed itself is on 127.0.0.2, allowed by name: only the redirect is judged.
    server = FeedServer(host="127.0.0.2")
    try:
        server.add("/feed.xml", BODY)
        target = location.format(port=server.port)
        start = server.add("/start.xml", status=302, location=target)
        resolver = resolver_for({"internal.example.com": ["192.168.1.10"]})
        async with make_client(
            allow_private=False, allowed_networks=["127.0.0.2/32"], resolver=resolver
        ) as strict_client:
            with pytest.raises(BlockedAddressError):
                await get(strict_client, start)
        assert [path for path, _ in server.requests] == ["/start.xml"]
    finally:
        server.close()


async def test_allowed_networks_let_one_private_address_through():
    server = FeedServer(host="127.0.0.2")
    try:
        url = server.add("/feed.xml", BODY)
        async with make_client(allow_private=False, allowed_networks=["127.0.0.2/32"]) as c:
            assert (await fetched(c, url)).body == BODY
    finally:
        server.close()


@pytest.mark.parametrize(
    "url",
    ["http://user:pw@127.0.0.1/feed.xml", "http://user@127.0.0.1/feed.xml"],
)
async def test_credentials_in_a_url_are_refused(client, url):
    with pytest.raises(FetchError, match="credentials"):
        await get(client, url)


async def test_redirect_to_a_url_with_credentials_is_refused(server: FeedServer, client):
    url = server.add("/start.xml", status=302, location=f"http://u:p@127.0.0.1:{server.port}/x")
    with pytest.raises(FetchError, match="credentials"):
        await get(client, url)


async def test_environment_proxies_are_not_used(
    server: FeedServer, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9/")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9/")
    url = server.add("/feed.xml", BODY)
    async with make_client() as fresh:
        assert (await fetched(fresh, url)).body == BODY


# -- compression bombs: decoded with bounded memory, stopped at the limit


def zero_stream(compressor: object, size: int, block: int = 1 << 20) -> bytes:
    """size zero bytes compressed block by block, never holding them all."""
    zeros = bytes(block)
    out = [compressor.compress(zeros) for _ in range(size // block)]  # type: ignore[attr-defined]
    out.append(compressor.flush())  # type: ignore[attr-defined]
    return b"".join(out)


def gzip_bomb(size: int) -> bytes:
    return zero_stream(zlib.compressobj(9, zlib.DEFLATED, 31), size)


def brotli_bomb(size: int) -> bytes:
    compressor = brotli.Compressor(quality=1)
    zeros = bytes(1 << 20)
    out = [compressor.process(zeros) for _ in range(size // (1 << 20))]
    out.append(compressor.finish())
    return b"".join(out)


def zstd_bomb(size: int) -> bytes:
    return zero_stream(zstd.ZstdCompressor(level=1), size)


@pytest.mark.parametrize(
    ("encoding", "make_bomb"),
    [("gzip", gzip_bomb), ("br", brotli_bomb), ("zstd", zstd_bomb)],
)
async def test_compression_bomb_stops_at_the_limit_with_bounded_memory(
    server: FeedServer, client, encoding, make_bomb
):
    bomb = make_bomb(256 << 20)  # 256 MiB of zeros, 128 times the limit
    limit = 2 << 20
    assert len(bomb) < limit
    url = server.add("/bomb.xml", bomb, headers={"Content-Encoding": encoding})
    tracemalloc.start()
    try:
        with pytest.raises(FetchError, match="exceeds the limit of 2097152 bytes"):
            await get(client, url, max_body_size=limit)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The body kept (up to the limit) plus working buffers; nowhere near 1 GiB.
    assert peak < 4 * limit, f"peak {peak / 2**20:.1f} MiB"
    assert server.hits("/bomb.xml")[0]["accept-encoding"] == fetch.ACCEPT_ENCODING


@pytest.mark.parametrize("encoding", ["br", "zstd", "deflate"])
async def test_each_accepted_encoding_is_decoded(server: FeedServer, client, encoding):
    encoders = {"br": brotli.compress, "zstd": zstd.compress, "deflate": zlib.compress}
    url = server.add("/feed.xml", encoders[encoding](BODY), headers={"Content-Encoding": encoding})
    assert (await fetched(client, url)).body == BODY


async def test_unknown_content_encoding_fails(server: FeedServer, client):
    url = server.add("/feed.xml", BODY, headers={"Content-Encoding": "compress"})
    with pytest.raises(FetchError, match="unsupported Content-Encoding"):
        await get(client, url)
