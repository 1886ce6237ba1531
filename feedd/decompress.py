"""Content-Encoding decoding that never produces more than a limit.

httpx inflates each response chunk in full, so a few KiB of gzip, brotli or
zstd (a "decompression bomb") can become gigabytes in memory before fetch's size
cap sees them. fetch therefore reads the still-encoded bytes with
``response.aiter_raw()`` and decodes them here: each decompressor call is asked
for about 64 KiB of output at most and the total is checked after every step, so
memory stays O(limit + chunk) whatever the compression ratio.
"""

from __future__ import annotations

import sys
import zlib
from collections.abc import Iterator
from typing import Any

import brotli  # type: ignore[import-untyped]  # brotli ships no type information

from .errors import FetchError

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

ACCEPT_ENCODING = "gzip, deflate, br, zstd"

_STEP = 64 * 1024  # output asked of a decompressor per call (brotli may give up to ~96 KiB)
_ERRORS = (zlib.error, brotli.error, zstd.ZstdError)


class _Layer:
    """One coding of the chain; decode() yields its output in pieces of about _STEP bytes.

    After a complete stream, what follows is read as a further stream (gzip members,
    zstd frames). Bytes that are not one are trailing garbage and ignored, as urllib3
    does, except for brotli, which rejects them as the brotli library and httpx do.
    """

    multi_stream = True
    trailing_ok = True

    def __init__(self, name: str) -> None:
        self.name = name
        self._obj: Any = self._new()
        self._ended = False  # one stream decoded to its end
        self._done = False  # the rest of the input is trailing garbage
        self._fed = False

    def decode(self, data: bytes) -> Iterator[bytes]:
        self._fed = self._fed or bool(data)
        if self._done:
            if data and not self.trailing_ok:
                raise FetchError(f"cannot decode {self.name} body: data after the end")
            return
        again = bool(data)
        while again:
            try:
                out, data, again = self._step(data)
            except _ERRORS as exc:
                if self._ended and self.trailing_ok:
                    self._done = True
                    return
                raise FetchError(f"cannot decode {self.name} body: {exc}") from None
            if out:
                yield out
            rest = self._rest_after_end()
            if rest is not None:
                self._ended = True
                if not self.multi_stream:
                    self._done = True  # deflate ignores what follows; brotli already refused it
                    return
                self._obj = self._new()
                data, again = rest, bool(rest)

    def check_end(self) -> None:
        # A body with no bytes at all is let through: servers send one with any coding.
        if self._fed and not self._ended:
            raise FetchError(f"cannot decode {self.name} body: truncated stream")

    def _new(self) -> Any:
        raise NotImplementedError

    def _step(self, data: bytes) -> tuple[bytes, bytes, bool]:
        """Returns the output, the input still to pass and whether to call again."""
        raise NotImplementedError

    def _rest_after_end(self) -> bytes | None:
        """None before the end of the stream; after it, the input that followed."""
        raise NotImplementedError


class _Zlib(_Layer):
    """gzip; _Deflate below changes only the wrapper."""

    def _new(self) -> Any:
        return zlib.decompressobj(16 + zlib.MAX_WBITS)

    def _step(self, data: bytes) -> tuple[bytes, bytes, bool]:
        out: bytes = self._obj.decompress(data, _STEP)
        tail: bytes = self._obj.unconsumed_tail
        return out, tail, bool(tail) or len(out) == _STEP

    def _rest_after_end(self) -> bytes | None:
        return self._obj.unused_data if self._obj.eof else None


class _Deflate(_Zlib):
    """zlib-wrapped deflate as RFC 9110 says, or raw deflate, told apart by the zlib header."""

    multi_stream = False

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._head = b""

    def _new(self) -> Any:
        return None  # made once the first two bytes show which kind it is

    def decode(self, data: bytes) -> Iterator[bytes]:
        if self._obj is None:
            head = self._head = self._head + data
            self._fed = bool(head)
            if len(head) < 2:
                return iter(())
            # RFC 1950: CM is 8, CINFO at most 7, and the first two bytes are a multiple of 31.
            zlib_header = (
                head[0] & 0x0F == 8 and head[0] >> 4 <= 7 and int.from_bytes(head[:2]) % 31 == 0
            )
            self._obj = zlib.decompressobj(zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS)
            data = head
        return super().decode(data)


class _Brotli(_Layer):
    multi_stream = False
    trailing_ok = False

    def _new(self) -> Any:
        return brotli.Decompressor()

    def _step(self, data: bytes) -> tuple[bytes, bytes, bool]:
        out: bytes = self._obj.process(data, output_buffer_limit=_STEP)
        # can_accept_more_data() is False while the decoder holds input back; with all
        # input taken it may still have output, which a call on b"" then returns.
        more = not self._obj.can_accept_more_data() or bool(out)
        return out, b"", more and not self._obj.is_finished()

    def _rest_after_end(self) -> bytes | None:
        return b"" if self._obj.is_finished() else None


class _Zstd(_Layer):
    def _new(self) -> Any:
        return zstd.ZstdDecompressor()

    def _step(self, data: bytes) -> tuple[bytes, bytes, bool]:
        out: bytes = self._obj.decompress(data, _STEP)
        return out, b"", not self._obj.needs_input and not self._obj.eof

    def _rest_after_end(self) -> bytes | None:
        return self._obj.unused_data if self._obj.eof else None


class _Identity(_Layer):
    def _new(self) -> Any:
        return None

    def decode(self, data: bytes) -> Iterator[bytes]:
        if data:
            yield data

    def check_end(self) -> None:
        pass


_LAYERS: dict[str, type[_Layer]] = {
    "identity": _Identity,
    "gzip": _Zlib,
    "x-gzip": _Zlib,
    "deflate": _Deflate,
    "br": _Brotli,
    "zstd": _Zstd,
}


class BodyDecoder:
    """Decodes a Content-Encoding'd body chunk by chunk, never producing more than `limit` bytes.

    Inner layers of a chain (say the gzip data inside "gzip, br") get twice the limit
    plus one step, room for compression overhead, so a chain cannot spin through
    gigabytes of compressed filler that decodes to nothing.
    """

    def __init__(self, content_encoding: str | None, limit: int) -> None:
        names = [name.strip().lower() for name in (content_encoding or "").split(",")]
        names = [name for name in names if name]
        unknown = [name for name in names if name not in _LAYERS]
        if unknown:
            raise FetchError(f"unsupported Content-Encoding {content_encoding!r}")
        # The header lists codings in the order they were applied; undo the last first.
        self._layers = [_LAYERS[name](name) for name in reversed(names or ["identity"])]
        self._limit = limit
        self._bounds = [2 * limit + _STEP] * (len(self._layers) - 1) + [limit]
        self._sizes = [0] * len(self._layers)

    def feed(self, chunk: bytes) -> bytes:
        """Returns the decoded bytes for this chunk."""
        return b"".join(self._through(0, chunk))

    def finish(self) -> bytes:
        """Checks that every stream ended; raises FetchError on a truncated one.

        feed() already returns all the output it can, so this returns b"".
        """
        for layer in self._layers:
            layer.check_end()
        return b""

    def _through(self, i: int, data: bytes) -> Iterator[bytes]:
        for piece in self._layers[i].decode(data):
            self._sizes[i] += len(piece)
            if self._sizes[i] > self._bounds[i]:
                raise FetchError(f"body exceeds the limit of {self._limit} bytes (decompressed)")
            if i + 1 == len(self._layers):
                yield piece
            else:
                yield from self._through(i + 1, piece)
