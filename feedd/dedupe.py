"""Decide what to do with each entry of a batch: insert, link, update or skip.

Pure: takes what the database already knows (a Known value, read by store)
and the batch's entries; returns one Intent per entry. Never writes.

Rules, in order:
1. The same guid earlier in this batch: skip (feeds do repeat items).
2. The same guid already stored for this feed: skip if its content hash is
   unchanged, else update that article.
3. The same canonical URL already stored (from any feed): link this feed to
   that article; one story, one row.
4. Otherwise: insert a new article.

A canonical URL identifies a story only if it is not shared: when several
items of one document (different guids) carry the same URL, or an item links
to the feed's own home page, that URL is the site's, not the story's (podcast
episodes that all link to the show's page, say), and rule 3 does not apply.
Near-duplicate stories (same story, different URL) are the dedupe issue's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from .types import Action, Entry, Intent, Known


def shared_urls(entries: Iterable[Entry], site_url: str | None = None) -> frozenset[str]:
    """Canonical URLs that do not identify one story in this batch."""
    guids_by_url: defaultdict[str, set[str]] = defaultdict(set)
    for entry in entries:
        if entry.url is not None:
            guids_by_url[entry.url].add(entry.guid)
    shared = {url for url, guids in guids_by_url.items() if len(guids) > 1}
    if site_url:
        shared.add(site_url)
    return frozenset(shared)


def decide(
    known: Known, entries: Iterable[Entry], site_url: str | None = None
) -> tuple[Intent, ...]:
    """``site_url``: the feed's home page, canonical form (never a story's identity)."""
    batch = tuple(entries)
    not_identity = shared_urls(batch, site_url)
    items = {item.guid: item for item in known.items}
    urls = dict(known.urls)
    seen_guids: set[str] = set()
    intents: list[Intent] = []
    for entry in batch:
        if entry.guid in seen_guids:
            intents.append(Intent(Action.SKIP, entry, "guid repeated in the same document"))
            continue
        seen_guids.add(entry.guid)

        stored = items.get(entry.guid)
        if stored is not None:
            if stored.content_hash == entry.content_hash:
                intents.append(Intent(Action.SKIP, entry, "unchanged", stored.article_id))
            else:
                intents.append(Intent(Action.UPDATE, entry, "content changed", stored.article_id))
            continue

        if entry.url is not None and entry.url not in not_identity and entry.url in urls:
            intents.append(
                Intent(Action.LINK, entry, "same URL as a stored article", urls[entry.url])
            )
            continue
        intents.append(Intent(Action.INSERT, entry, "new"))
    return tuple(intents)
