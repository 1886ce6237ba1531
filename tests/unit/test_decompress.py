import gzip
import struct
import sys
import tracemalloc
import zlib

import brotli
import pytest

from feedd.decompress import ACCEPT_ENCODING, BodyDecoder
from feedd.errors import FetchError

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

MiB = 1024 * 1024
BOMB_SIZE = 1024 * MiB  # decoded size of each bomb
TEXT = b"".join(
    b"<item><title>Entry %d</title><guid>urn:%x</guid></item>\n" % (i, i * 7919)
    for i in range(4000)
)


def _raw_deflate(data):
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


ENCODERS = {
    "identity": lambda data: data,
    "gzip": gzip.compress,
    "x-gzip": gzip.compress,
    "deflate": zlib.compress,
    "br": lambda data: brotli.compress(data, quality=5),
    "zstd": zstd.compress,
}


def _decode(encoding, body, limit=10 * MiB, chunk_size=4096):
    decoder = BodyDecoder(encoding, limit)
    parts = [decoder.feed(body[i : i + chunk_size]) for i in range(0, len(body), chunk_size)]
    return b"".join(parts) + decoder.finish()


@pytest.mark.parametrize("encoding", list(ENCODERS))
def test_round_trip(encoding):
    assert len(TEXT) > 200_000  # several 64 KiB steps
    assert _decode(encoding, ENCODERS[encoding](TEXT)) == TEXT


@pytest.mark.parametrize("encoding", list(ENCODERS))
def test_one_byte_at_a_time(encoding):
    small = TEXT[:300]
    assert _decode(encoding, ENCODERS[encoding](small), chunk_size=1) == small


def test_feed_returns_all_the_output_its_input_allows():
    # With 64-byte chunks, one chunk's input runs out exactly at a 64 KiB step
    # while zlib still holds output: feed() must ask for it rather than wait.
    body = gzip.compress(bytes(4 * MiB) + b"end", compresslevel=9)
    decoder = BodyDecoder("gzip", 10 * MiB)
    reference = zlib.decompressobj(16 + zlib.MAX_WBITS)
    for i in range(0, len(body), 64):
        chunk = body[i : i + 64]
        assert len(decoder.feed(chunk)) == len(reference.decompress(chunk))


def test_chain_is_decoded_in_reverse_order():
    body = brotli.compress(gzip.compress(TEXT), quality=5)  # gzip applied first, then br
    assert _decode(" GZip ,BR", body) == TEXT
    assert _decode("gzip, br", body, chunk_size=1) == TEXT


def test_raw_deflate():
    assert _decode("deflate", _raw_deflate(TEXT)) == TEXT
    assert _decode("deflate", _raw_deflate(TEXT[:300]), chunk_size=1) == TEXT[:300]


def test_every_advertised_encoding_is_supported():
    for encoding in ACCEPT_ENCODING.split(","):
        BodyDecoder(encoding, 1)


def test_concatenated_gzip_members_and_zstd_frames():
    assert _decode("gzip", gzip.compress(b"one ") + gzip.compress(b"two")) == b"one two"
    assert _decode("zstd", zstd.compress(b"one ") + zstd.compress(b"two")) == b"one two"


def test_garbage_after_a_complete_stream_is_ignored():
    assert _decode("gzip", gzip.compress(b"feed") + b"\n\0junk") == b"feed"
    assert _decode("deflate", zlib.compress(b"feed") + b"junk") == b"feed"
    with pytest.raises(FetchError, match="cannot decode br body"):
        _decode("br", brotli.compress(b"feed") + b"junk")
    with pytest.raises(FetchError, match="cannot decode br body"):
        _decode("br", brotli.compress(b"feed") + b"junk", chunk_size=1)


def test_empty_body_decodes_to_nothing():
    assert _decode("gzip", b"") == b""


@pytest.mark.parametrize("encoding", list(ENCODERS))
def test_exactly_the_limit_passes_and_one_more_byte_fails(encoding):
    body = ENCODERS[encoding](TEXT)
    assert _decode(encoding, body, limit=len(TEXT)) == TEXT
    with pytest.raises(FetchError, match=f"body exceeds the limit of {len(TEXT) - 1} bytes"):
        _decode(encoding, body, limit=len(TEXT) - 1)


def test_identity_over_the_limit():
    decoder = BodyDecoder(None, 10)
    assert decoder.feed(b"12345") == b"12345"
    with pytest.raises(FetchError, match=r"body exceeds the limit of 10 bytes \(decompressed\)"):
        decoder.feed(b"678901")


def test_chain_of_filler_is_stopped():
    # br around endless empty gzip members: nothing comes out, the inner layer is still bounded.
    body = brotli.compress(gzip.compress(b"") * 100_000, quality=1)
    with pytest.raises(FetchError, match="body exceeds the limit of 1000 bytes"):
        _decode("gzip, br", body, limit=1000)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd"])
def test_truncated_stream(encoding):
    body = ENCODERS[encoding](TEXT)
    decoder = BodyDecoder(encoding, 10 * MiB)
    decoder.feed(body[: len(body) // 2])
    with pytest.raises(FetchError, match=f"cannot decode {encoding} body: truncated"):
        decoder.finish()


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd"])
def test_corrupt_data(encoding):
    body = b"\xff" * 64 if encoding == "deflate" else b"this is not compressed at all"
    with pytest.raises(FetchError, match=f"cannot decode {encoding} body: "):
        _decode(encoding, body)


@pytest.mark.parametrize("header", ["compress", "gzip, lzma", "exi"])
def test_unknown_encoding(header):
    with pytest.raises(FetchError, match="unsupported Content-Encoding"):
        BodyDecoder(header, 1000)


# Bombs: 1 GiB of zeros, compressed as a stream so the test never holds the 1 GiB.
_ZEROS = bytes(MiB)


def _gzip_bomb():
    # After a full flush deflate keeps no history, so one compressed MiB can be repeated.
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    segment = compressor.compress(_ZEROS) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(BOMB_SIZE // MiB):
        crc = zlib.crc32(_ZEROS, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    trailer = compressor.flush() + struct.pack("<II", crc, BOMB_SIZE % 2**32)
    return header + segment * (BOMB_SIZE // MiB) + trailer


def _stream_bomb(compress, finish):
    return b"".join(compress(_ZEROS) for _ in range(BOMB_SIZE // MiB)) + finish()


def _brotli_bomb():
    compressor = brotli.Compressor(quality=1)
    return _stream_bomb(compressor.process, compressor.finish)


def _zstd_bomb():
    compressor = zstd.ZstdCompressor()
    return _stream_bomb(compressor.compress, compressor.flush)


@pytest.fixture(scope="module", params=["gzip", "br", "zstd"])
def bomb(request):
    build = {"gzip": _gzip_bomb, "br": _brotli_bomb, "zstd": _zstd_bomb}[request.param]
    return request.param, build()


def test_bomb_is_stopped_at_the_limit_with_bounded_memory(bomb):
    encoding, body = bomb
    assert len(body) < 2 * MiB
    decoder = BodyDecoder(encoding, MiB)
    tracemalloc.start()
    try:
        with pytest.raises(FetchError, match=f"body exceeds the limit of {MiB} bytes"):
            for i in range(0, len(body), 64 * 1024):
                decoder.feed(body[i : i + 64 * 1024])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * MiB
