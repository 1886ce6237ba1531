"""Decide what to do with each entry of a batch: insert, link, update or skip.

Pure: takes what the database already knows (a Known value, read by store)
and the batch's entries; returns one Intent per entry. Never writes.

Rules, in order:
1. The same guid earlier in this batch: skip (feeds do repeat items).
2. The same guid already stored for this feed: skip if its content hash is
   unchanged, else update that article.
3. The same canonical URL already stored (from any feed) or earlier in this
   batch: link this feed to that article; one story, one row.
4. Otherwise: insert a new article.
Near-duplicate stories (same story, different URL) are the dedupe issue's.
"""

from __future__ import annotations

from collections.abc import Iterable

from .types import Action, Entry, Intent, Known


def decide(known: Known, entries: Iterable[Entry]) -> tuple[Intent, ...]:
    items = {item.guid: item for item in known.items}
    urls = dict(known.urls)
    seen_guids: set[str] = set()
    batch_urls: set[str] = set()
    intents: list[Intent] = []
    for entry in entries:
        if entry.guid in seen_guids:
            intents.append(Intent(Action.SKIP, entry, "guid repeated in the same document"))
            continue
        seen_guids.add(entry.guid)

        stored = items.get(entry.guid)
        if stored is not None:
            if entry.url is not None:
                # A later item of the batch with this URL is the same story.
                urls.setdefault(entry.url, stored.article_id)
            if stored.content_hash == entry.content_hash:
                intents.append(Intent(Action.SKIP, entry, "unchanged", stored.article_id))
            else:
                intents.append(Intent(Action.UPDATE, entry, "content changed", stored.article_id))
            continue

        if entry.url is not None:
            if entry.url in urls:
                intents.append(
                    Intent(Action.LINK, entry, "same URL as a stored article", urls[entry.url])
                )
                continue
            if entry.url in batch_urls:
                # The article is inserted by an earlier intent of this batch; store
                # finds its id by URL when it applies this one.
                intents.append(Intent(Action.LINK, entry, "same URL earlier in this document"))
                continue
            batch_urls.add(entry.url)
        intents.append(Intent(Action.INSERT, entry, "new"))
    return tuple(intents)
