"""Decide what to do with each entry of a batch: insert, link, update or skip.

Pure: takes what the database already knows (a Known value, read by store)
and the batch's entries; returns one Intent per entry. Never writes.

Rules, in order:
1. The same guid earlier in this batch: skip (feeds do repeat items).
2. The same guid already stored for this feed: skip if its content hash is
   unchanged, else update that article.
3. The same canonical URL, or the same long text (text hash), already stored
   (from any feed): link this feed to that article; one story, one row. When
   this copy is fuller (more words) than the stored one, it also enriches the
   article: arrival order must not matter, and the thin copy (an applet's
   title and one line) often comes first.
4. Otherwise: insert a new article.

Near-duplicates (the same story under another URL: syndication, republishing
blogs, small edits) are separate rows; ``group_root`` picks the row the
others point at with ``duplicate_of``: the earliest published.

A canonical URL identifies a story only if it is not shared: when several
items of one document (different guids) carry the same URL, or an item links
to the feed's own home page, that URL is the site's, not the story's (podcast
episodes that all link to the show's page, say), and rule 3 does not apply.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime

from .types import Action, Entry, Intent, Kept, Known, KnownArticle

# An exact-text match needs this many words: short texts ("Read more",
# "Photo of the day") are shared by different stories.
MIN_TEXT_MATCH_WORDS = 50


def shared_urls(entries: Iterable[Entry | Kept], site_url: str | None = None) -> frozenset[str]:
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
    known: Known,
    entries: Iterable[Entry],
    site_url: str | None = None,
    kept: Iterable[Kept] = (),
) -> tuple[Intent, ...]:
    """``site_url``: the feed's home page, canonical form (never a story's identity).
    ``kept``: the document's other items, stored already and unchanged (no intent
    for them; their URLs still count as shared)."""
    batch = tuple(entries)
    not_identity = shared_urls((*batch, *kept), site_url)
    items = {item.guid: item for item in known.items}
    # Several stored articles may share a URL or a text: the oldest is the one,
    # whatever order the database returned them in.
    by_url: dict[str, KnownArticle] = {}
    by_text: dict[str, KnownArticle] = {}
    for article in sorted(known.articles, key=lambda a: a.id):
        if article.url:
            by_url.setdefault(article.url, article)
        if article.text_hash:
            by_text.setdefault(article.text_hash, article)
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

        same: KnownArticle | None = None
        reason = ""
        if entry.url is not None and entry.url not in not_identity and entry.url in by_url:
            same, reason = by_url[entry.url], "same URL as a stored article"
        elif entry.word_count >= MIN_TEXT_MATCH_WORDS and entry.text_hash in by_text:
            same, reason = by_text[entry.text_hash], "same text as a stored article"
        if same is not None:
            if entry.word_count > same.word_count:
                intents.append(Intent(Action.ENRICH, entry, f"{reason}, fuller", same.id))
            else:
                intents.append(Intent(Action.LINK, entry, reason, same.id))
            continue
        intents.append(Intent(Action.INSERT, entry, "new"))
    return tuple(intents)


def text_hash(entry: Entry) -> str | None:
    """A hash of the entry's text when it is long enough to identify a story."""
    if entry.word_count < MIN_TEXT_MATCH_WORDS or not entry.content_text:
        return None
    return hashlib.sha256(entry.content_text.encode("utf-8")).hexdigest()[:32]


def group_root(members: Iterable[tuple[int, datetime | None]]) -> int:
    """The article near-duplicates point at: the earliest published (undated last),
    the smallest id among equals. The same whatever order they arrived in."""
    never = datetime.max.replace(tzinfo=UTC)
    return min(members, key=lambda m: (m[1] or never, m[0]))[0]
