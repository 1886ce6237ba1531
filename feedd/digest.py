"""What a fetched body needs before the database: parse -> links (offline) ->
normalize -> sign. Pure and CPU-bound, so the daemon runs it in worker processes
(``Digesters``) while its event loop fetches and its database thread stores.

Link resolution over the network comes later (it needs the database's cache and
the network); ``with_resolved`` then gives each entry the canonical URL of where
its link leads. Nothing else an entry holds depends on that URL (the content
hash leaves it out), so the rest is computed here once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ctypes
import dataclasses
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from . import dedupe, links, neardup, normalize, parse
from .types import Entry, ParsedFeed, RawEntry

log = logging.getLogger(__name__)

PARENT_CHECK_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class Digest:
    """A parsed and normalized document."""

    feed: ParsedFeed  # the document's own fields; its raw entries are left out
    entries: tuple[Entry, ...]  # normalized; ``url`` from the link before resolution
    targets: tuple[str | None, ...]  # per entry: the link to follow, unwrapped offline
    signatures: tuple[bytes | None, ...]  # per entry: MinHash of the text (neardup)


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
) -> tuple[tuple[Entry, ...], tuple[str | None, ...]]:
    """The normalized entries, and each one's link to follow."""
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
    learned = normalize.learn_boilerplate([entry.content_text for entry in entries])
    cleaned = tuple(
        dataclasses.replace(entry, text_hash=dedupe.text_hash(entry))
        for entry in (normalize.drop_learned(entry, learned) for entry in entries)
    )
    return cleaned, tuple(targets)


def digest(body: bytes, url: str, content_type: str | None) -> Digest:
    """Parse and normalize a fetched body (raises ParseError)."""
    parsed = parse.parse_feed(body, url=url, content_type=content_type)
    entries, targets = _normalized(parsed, url)
    signatures = (neardup.signature(entry.content_text or "") for entry in entries)
    return Digest(
        dataclasses.replace(parsed, entries=()),
        entries,
        targets,
        tuple(signature.to_bytes() if signature else None for signature in signatures),
    )


def with_resolved(digested: Digest, resolved: Mapping[str, str]) -> tuple[Entry, ...]:
    """The entries, each with the canonical URL of where its link was found to lead."""
    if not resolved:
        return digested.entries
    entries = []
    for entry, target in zip(digested.entries, digested.targets, strict=True):
        if target and target in resolved:
            entry = dataclasses.replace(entry, url=links.canonical_url(resolved[target]))
        entries.append(entry)
    return tuple(entries)


def _digest_in_worker(body: bytes, url: str, content_type: str | None) -> Digest:
    try:
        return digest(body, url, content_type)
    finally:
        # glibc keeps the heap a large document grew to; giving it back after each
        # body holds a worker near its idle size (corpus, one process: 142 -> 105 MB).
        _release_memory()


def _libc_trim() -> Callable[[int], int] | None:
    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None  # not glibc (musl, macOS): nothing to call
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_MALLOC_TRIM = _libc_trim()


def _release_memory() -> None:
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def _start_worker(parent: int) -> None:
    """Each worker: never outlive the daemon, then load the language model."""
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    normalize.detect_language("a warm-up text for the language model", None)


def _watch_parent(parent: int) -> None:
    # A daemon killed with SIGKILL cannot stop its workers, and they would wait
    # for work forever: re-parented, they see it and leave.
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(0)


class Digesters:
    """A pool of worker processes running ``digest``.

    The processes start with the first body (a run of 304s never starts them),
    or after ``start_after`` bodies. They are spawned: forking the daemon, with
    its threads, is unsafe, and a fork server's children would not be the
    daemon's (they could not see it die).
    A worker that dies (OOM killer) breaks the pool: it is replaced and the
    body digested by the caller instead.
    """

    def __init__(self, processes: int, *, start_after: int = 0) -> None:
        self.processes = processes
        # Bodies left to the caller before the workers start: a `feedd fetch`
        # that gets only a few bodies (the rest 304s) does not pay for starting them.
        self.start_after = start_after
        self.bodies = 0
        self.pool: concurrent.futures.ProcessPoolExecutor | None = None

    def _pool(self) -> concurrent.futures.ProcessPoolExecutor:
        if self.pool is None:
            self.pool = concurrent.futures.ProcessPoolExecutor(
                self.processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(os.getpid(),),
            )
        return self.pool

    async def digest(self, body: bytes, url: str, content_type: str | None) -> Digest | None:
        """The body digested by a worker; None when the caller should digest it
        itself (no workers, before ``start_after`` bodies, a worker died): on
        one thread, as feedparser is not known to be thread-safe."""
        self.bodies += 1
        if not self.processes or self.bodies <= self.start_after:
            return None
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self._pool(), _digest_in_worker, body, url, content_type
            )
        except BrokenProcessPool:
            log.warning("a worker process died; starting new ones")
            self.close()
            return None

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
