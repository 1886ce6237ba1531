"""Near-duplicate detection: MinHash signatures and banded LSH keys.

Pure functions, stdlib only. The same story under another URL (syndication,
a republishing blog, minor edits) gives a similar set of shingles; a MinHash
signature estimates the Jaccard similarity of two such sets, and its band
keys let a store find the few earlier articles worth comparing with one
indexed lookup per key instead of a scan.

What the store keeps per article and how it looks up candidates is described
in "Storage and lookup" below; this module never touches a database.

Text -> shingles
    NFKC, casefold, then tokens: a run of letters/digits is one token, except
    in scripts written without spaces between words (Han, kana, Thai, Lao,
    Khmer, Myanmar, Tibetan), where every character is one token. When at
    least half the tokens are such characters the text is shingled by
    ``CHAR_SHINGLE`` tokens, else by ``WORD_SHINGLE`` words. Punctuation,
    case, width (full-width Latin, half-width kana) and whitespace never
    matter. A text with fewer than ``MIN_WORDS`` words (``MIN_CJK_CHARS``
    Han/kana characters, ``MIN_SEA_CHARS`` Thai-like characters) is too
    short to judge and gets no signature: a thin item (a title and one line)
    matches nothing.

Shingles -> signature
    One-permutation MinHash with optimal densification (Shrivastava, ICML
    2017): each shingle is hashed once (64-bit BLAKE2b, personalised with
    ``SCHEME``); the top 7 bits pick one of ``NUM_PERM`` bins and the rest is
    its value; a bin keeps its smallest value. An empty bin (short texts) takes
    the value of the first non-empty bin in its own fixed pseudo-random probe
    order. For any two sets, a row is equal in both with probability equal to
    their Jaccard similarity, as with ``NUM_PERM`` independent permutations,
    at the cost of one hash per shingle instead of ``NUM_PERM``: in pure
    Python that is ~20 times faster (bench/README.md). Nothing depends
    on ``hash()`` or on the random module, so signatures are the same in every
    process, Python version and machine, and can be stored.

Signature -> band keys
    ``BANDS`` bands of ``ROWS`` rows. A pair with Jaccard J shares at least
    one band key with probability 1 - (1 - J**ROWS)**BANDS:

    ====  =========================
    J     P(candidate), 16 x 8 rows
    ====  =========================
    0.3   0.001
    0.5   0.061
    0.6   0.24
    0.7   0.61
    0.8   0.947
    0.85  0.994
    0.9   >0.999
    ====  =========================

    The S-curve's midpoint, (1/BANDS)**(1/ROWS) ~ 0.71, sits just under the
    verify threshold ``NEAR_DUPLICATE`` = 0.8, so a pair that passes the
    threshold is almost always found (recall), while pairs of different
    stories (on the corpus: at most 0.08 for stories on the same topic from
    other feeds, p99 0.33 within one feed) almost never cost a comparison.
    Precision comes from the verify step, not from the banding.

Storage and lookup (for the integrator)
    Per article with a signature: ``Signature.to_bytes()`` (a BLOB of
    ``SIGNATURE_BYTES`` bytes) and its ``BANDS`` keys in an indexed table,
    e.g. ``article_bands(band TEXT, article_id INTEGER, PRIMARY KEY (band,
    article_id)) WITHOUT ROWID``; an article without a signature (too short)
    has no rows and is never compared. For a new article: candidates =
    articles sharing at least one key, published within +-7 days of it, not
    from the same feed, not itself; decode each candidate's signature with
    ``Signature.from_bytes`` and keep those where ``is_near_duplicate(new,
    old)``. (On the corpus every wrong merge at the threshold was between
    templated items of one feed: video descriptions, changesets, a yearly
    list; the window and the other-feeds rule removed them all.) An article
    whose text changes gets a new signature and new keys: delete its old rows
    first (the old keys are ``band_keys`` of the stored blob). ``from_bytes``
    refuses a blob from another ``SCHEME``: signatures made with other
    parameters are not comparable, so a change of scheme means recomputing
    them.
"""

from __future__ import annotations

import hashlib
import re
import struct
import unicodedata
from bisect import bisect_left
from dataclasses import dataclass
from functools import cache

__all__ = [
    "BANDS",
    "CHAR_SHINGLE",
    "MIN_CJK_CHARS",
    "MIN_SEA_CHARS",
    "MIN_WORDS",
    "NEAR_DUPLICATE",
    "NUM_PERM",
    "ROWS",
    "SCHEME",
    "SIGNATURE_BYTES",
    "WORD_SHINGLE",
    "Signature",
    "band_keys",
    "candidate_probability",
    "is_near_duplicate",
    "shingles",
    "signature",
    "similarity",
    "tokens",
]

# Bump when anything below changes what a signature or a band key is; stored
# blobs of another scheme are refused by Signature.from_bytes.
SCHEME = 1
NUM_PERM = 128  # rows of a signature (bins); a power of two: the bin is the hash's top bits
BANDS = 16
ROWS = 8  # BANDS * ROWS == NUM_PERM; see the table in the docstring
# Estimated Jaccard at or above which two texts are the same story. Chosen on
# bench/neardup_eval.py (see bench/README.md): precision first.
NEAR_DUPLICATE = 0.8
WORD_SHINGLE = 3  # words per shingle in spaced scripts
CHAR_SHINGLE = 4  # characters per shingle in scripts without spaces
MIN_WORDS = 30  # fewer words than this: too short to judge, no signature
MIN_CJK_CHARS = 60  # the same for Han/kana text (~1.5-2 characters a word)
MIN_SEA_CHARS = 150  # the same for Thai, Lao, Khmer, Myanmar, Tibetan (~5 a word)

_BIN_BITS = NUM_PERM.bit_length() - 1
_VALUE_BITS = 64 - _BIN_BITS
_EMPTY = 1 << _VALUE_BITS  # larger than any value
# Rows are stored as the low 32 bits of each bin's minimum: those bits are
# uniform whatever the set's size (the high bits of a minimum are mostly 0s),
# so two different minima are stored equal with probability 2**-32.
_STORED_MASK = 0xFFFFFFFF
_PERSON = f"feedd.neardup.{SCHEME}".encode()
_HASHER = hashlib.blake2b(digest_size=8, person=_PERSON)  # copied for each shingle
_HEADER = struct.Struct("<BI")  # scheme, number of distinct shingles
_ROWS_FORMAT = struct.Struct(f"<{NUM_PERM}I")
SIGNATURE_BYTES = _HEADER.size + _ROWS_FORMAT.size

if NUM_PERM != 1 << _BIN_BITS or BANDS * ROWS != NUM_PERM:  # pragma: no cover - constants
    raise ValueError("NUM_PERM must be a power of two and BANDS * ROWS == NUM_PERM")

# Scripts written without spaces between words: one token per character.
_CJK = "\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_SEA = "\u0e00-\u0eff\u0f00-\u0fff\u1000-\u109f\u1780-\u17ff\u19e0-\u19ff"
_TOKEN = re.compile(f"[{_CJK}{_SEA}]|[^\\W_{_CJK}{_SEA}]+")
_CJK_CHAR = re.compile(f"[{_CJK}]")
_SEA_CHAR = re.compile(f"[{_SEA}]")


@dataclass(frozen=True, slots=True)
class Signature:
    """A MinHash signature: ``NUM_PERM`` 32-bit rows and the shingle count.

    ``shingles`` (the number of distinct shingles) is kept for diagnostics and
    for estimating containment later; similarity uses only ``rows``.
    """

    rows: tuple[int, ...]
    shingles: int

    def to_bytes(self) -> bytes:
        """``SIGNATURE_BYTES`` bytes: scheme, shingle count, rows (little-endian)."""
        return _HEADER.pack(SCHEME, self.shingles) + _ROWS_FORMAT.pack(*self.rows)

    @classmethod
    def from_bytes(cls, data: bytes) -> Signature:
        """Decode ``to_bytes``; ValueError for another scheme or a wrong size."""
        if len(data) != SIGNATURE_BYTES:
            raise ValueError(f"a signature is {SIGNATURE_BYTES} bytes, not {len(data)}")
        scheme, count = _HEADER.unpack_from(data)
        if scheme != SCHEME:
            raise ValueError(f"signature of scheme {scheme}, expected {SCHEME}")
        return cls(_ROWS_FORMAT.unpack_from(data, _HEADER.size), count)


def tokens(text: str) -> tuple[list[str], bool]:
    """Normalized tokens of ``text`` and whether to shingle them by characters.

    Returns ``(tokens, by_characters)``; ``tokens`` is empty when the text is
    too short to judge.
    """
    normalized = unicodedata.normalize("NFKC", text).casefold()
    found = _TOKEN.findall(normalized)
    if normalized.isascii():
        cjk = sea = 0
    else:
        cjk = len(_CJK_CHAR.findall(normalized))
        sea = len(_SEA_CHAR.findall(normalized))
    unspaced = cjk + sea  # each of these characters is a token
    by_characters = 2 * unspaced >= len(found) > 0
    if by_characters:
        enough = unspaced >= (MIN_CJK_CHARS if cjk >= sea else MIN_SEA_CHARS)
    else:
        enough = len(found) - unspaced >= MIN_WORDS
    return (found if enough else []), by_characters


def shingles(
    text: str, *, word_size: int = WORD_SHINGLE, char_size: int = CHAR_SHINGLE
) -> frozenset[str]:
    """The set of shingles of ``text``; empty when it is too short to judge.

    The sizes are parameters for bench/neardup_eval.py; ``signature`` always
    uses ``WORD_SHINGLE`` and ``CHAR_SHINGLE``.
    """
    return frozenset(shingle.decode() for shingle in _encoded_shingles(text, word_size, char_size))


def _encoded_shingles(text: str, word_size: int, char_size: int) -> frozenset[bytes]:
    # Shingles as UTF-8, joined from tokens encoded once: what the hash takes,
    # without a string and an encoding per shingle (UTF-8 of a join is the join
    # of the UTF-8s, so these are the bytes of the shingles as text).
    found, by_characters = tokens(text)
    if not found:
        return frozenset()
    size, glue = (char_size, b"") if by_characters else (word_size, b" ")
    encoded = [token.encode() for token in found]
    if len(encoded) <= size:
        return frozenset({glue.join(encoded)})
    return frozenset(map(glue.join, zip(*(encoded[i:] for i in range(size)), strict=False)))


def signature(text: str) -> Signature | None:
    """The MinHash signature of ``text``, or None when it is too short to judge."""
    found = _encoded_shingles(text, WORD_SHINGLE, CHAR_SHINGLE)
    if not found:
        return None
    return _minhash(found)


def _minhash(found: frozenset[bytes]) -> Signature:
    # One 64-bit hash per shingle: the top _BIN_BITS bits are its bin, the rest
    # its value. Sorted, the hashes come grouped by bin and, within a bin, by
    # value, so each bin's minimum is the first hash at or above the bin's
    # start: NUM_PERM bisections instead of a Python loop over the shingles.
    digests = []
    start_hash = _HASHER.copy
    for shingle in found:
        hasher = start_hash()
        hasher.update(shingle)
        digests.append(hasher.digest())
    hashes = sorted(struct.unpack(f"<{len(digests)}Q", b"".join(digests)))
    bins = [_EMPTY] * NUM_PERM
    for index in range(NUM_PERM):
        start = index << _VALUE_BITS
        position = bisect_left(hashes, start)
        if position < len(hashes) and hashes[position] >> _VALUE_BITS == index:
            bins[index] = hashes[position] - start
    if _EMPTY in bins:
        filled = list(bins)
        for index, value in enumerate(bins):
            if value == _EMPTY:
                # The first non-empty bin in this bin's own probe order; there
                # is one, as the set is not empty.
                filled[index] = next(bins[j] for j in _probe_order(index) if bins[j] != _EMPTY)
        bins = filled
    return Signature(tuple(value & _STORED_MASK for value in bins), len(found))


@cache
def _probe_order(index: int) -> tuple[int, ...]:
    """The other bins in a fixed pseudo-random order, the same in every process."""
    others = [j for j in range(NUM_PERM) if j != index]
    return tuple(sorted(others, key=lambda j: _mix64((SCHEME << 32) | (index << 16) | j)))


def _mix64(value: int) -> int:
    """SplitMix64's finalizer: a fixed, well-spread function of a 64-bit integer."""
    mask = (1 << 64) - 1
    value = (value + 0x9E3779B97F4A7C15) & mask
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & mask
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & mask
    return value ^ (value >> 31)


def band_keys(sig: Signature) -> tuple[str, ...]:
    """``BANDS`` keys (16 hex digits each); two signatures sharing one are candidates.

    Each key is a hash of the band's number and its ``ROWS`` rows, so equal
    rows in different bands never give the same key.
    """
    keys = []
    for band in range(BANDS):
        rows = sig.rows[band * ROWS : (band + 1) * ROWS]
        data = struct.pack(f"<B{ROWS}I", band, *rows)
        keys.append(hashlib.blake2b(data, digest_size=8, person=_PERSON).hexdigest())
    return tuple(keys)


def similarity(a: Signature, b: Signature) -> float:
    """Estimated Jaccard similarity of the two shingle sets (0.0 to 1.0)."""
    return sum(x == y for x, y in zip(a.rows, b.rows, strict=True)) / NUM_PERM


def is_near_duplicate(a: Signature | None, b: Signature | None) -> bool:
    """Whether two signatures are the same story; never for a text too short to judge."""
    if a is None or b is None:
        return False
    return similarity(a, b) >= NEAR_DUPLICATE


def candidate_probability(jaccard: float, bands: int = BANDS, rows: int = ROWS) -> float:
    """The probability that a pair with this Jaccard similarity shares a band key."""
    return 1.0 - (1.0 - jaccard**rows) ** bands
