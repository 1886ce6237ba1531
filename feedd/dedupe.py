"""Decide what to do with each entry of a batch: insert, link, update or skip.

Pure: takes what the database already knows (a Known value, read by store)
and the batch's entries; returns one Intent per entry. Never writes.

Rules, in order:
1. The same guid earlier in this batch: skip (feeds do repeat items).
2. The same guid already stored for this feed: skip if its content hash is
   unchanged, else update that article.
3. The other entries are grouped into stories, and each story is one article:
   - the same canonical URL (when it identifies a story, below),
   - the same long text (text hash),
   - the same guid and enclosure as an episode another feed stored (a show
     published in several feeds),
   whether the other copy is stored already (from any feed) or is an entry of
   this same batch (a double post). A story that is stored already is linked
   to the oldest such article; when one of its new copies is fuller (more
   words) than the stored text, the fullest enriches the article: arrival
   order must not matter, and the thin copy (an applet's title and one line)
   often comes first. A story that is not stored is inserted once, from its
   fullest copy; its other copies are linked to it.
4. Otherwise: insert a new article.

The result does not depend on the order of items in the document: groups are
found by keys, and the copy that is inserted or enriches is chosen by length
then guid, never by position.

When does a canonical URL identify a story? When several items of one
document carry the same URL, they are either the same story posted again (an
applet posting one story under two short links) or different stories on one
page (podcast episodes that all link to the show's page). ``same_story``
tells them apart: equal titles (case and punctuation aside), one text the
lead of the other, or near-duplicate texts. Items of the same story are one
article; a URL carried by several different stories is the site's, not a
story's, and links nothing to the articles stored under it, except a thin
copy (``thin_match``): an item whose title equals, or whose text is the lead
of, the stored article's. The feed's own home page never identifies a story.

Near-duplicates (the same story under another URL: syndication, republishing
blogs, small edits) are separate rows; ``group_root`` picks the row the
others point at with ``duplicate_of``: the earliest published. A thin copy
under another URL is not marked a near-duplicate: a title and one line are
too little evidence (wire headlines such as "Live updates" repeat daily).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from .types import Action, Entry, Intent, Kept, Known, KnownArticle, KnownItem, Merge

# An exact-text match needs this many words: short texts ("Read more",
# "Photo of the day") are shared by different stories.
MIN_TEXT_MATCH_WORDS = 50
# A text is the lead of another when it has at least this many words and the
# other starts with it: fewer ("Listen now", "New episode") say nothing.
MIN_LEAD_WORDS = 8
# Two texts this long (neardup's minimum for a signature) that are neither alike
# nor one the lead of the other are two stories, even under one title: comments
# titled "By: <author>", episodes titled after the show.
SUBSTANTIAL_WORDS = 30

Alike = Callable[[Entry, Entry], bool]
_NOT_WORD = re.compile(r"[\W_]+")
_SPACES = re.compile(r"\s+")
_TEASER_END = re.compile(r"\s*(?:\.\.\.|\u2026|\[\u2026\]|\[\.\.\.\])\s*$")


def title_key(title: str | None) -> str | None:
    """A title as compared: case, punctuation and spacing aside."""
    if not title:
        return None
    return _NOT_WORD.sub(" ", title.casefold()).strip() or None


def is_lead(short: str | None, long: str | None) -> bool:
    """Whether ``long`` starts with ``short`` (a teaser's "..." aside), and ``short``
    is long enough to mean something."""
    if not short or not long:
        return False
    start = _SPACES.sub(" ", _TEASER_END.sub("", short)).strip()
    if len(start.split()) < MIN_LEAD_WORDS:
        return False
    return _SPACES.sub(" ", long[: len(start) * 2 + 100]).strip().startswith(start)


@dataclass(frozen=True, slots=True)
class _Copy:
    """One item of the document as the story-sameness test sees it."""

    guid: str
    url: str | None
    title: str | None  # title_key
    text: str | None
    words: int = 0
    entry: Entry | None = None  # a new entry (compared with ``alike`` too)
    article_id: int | None = None  # a stored item's article


def same_story(a: _Copy, b: _Copy, alike: Alike | None = None) -> bool:
    """Two items carrying one URL: the same story posted twice, or two stories?"""
    if is_lead(a.text, b.text) or is_lead(b.text, a.text):
        return True
    if (
        alike is not None
        and a.entry is not None
        and b.entry is not None
        and alike(a.entry, b.entry)
    ):
        return True
    if a.title is None or a.title != b.title:
        return False
    return min(a.words, b.words) < SUBSTANTIAL_WORDS  # one title, and one of them is thin


def thin_match(entry: Entry, article: KnownArticle) -> bool:
    """A copy of a stored article whose URL is not an identity here: its text the
    lead of the article's, or the same title where one of them is thin."""
    if is_lead(entry.content_text or entry.summary, article.lead):
        return True
    key = title_key(entry.title)
    if key is None or key != title_key(article.title):
        return False
    return min(entry.word_count, article.word_count) < SUBSTANTIAL_WORDS


class _Groups:
    """Union-find over guids."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, key: str) -> str:
        self.parent.setdefault(key, key)
        while self.parent[key] != key:
            self.parent[key] = self.parent[self.parent[key]]
            key = self.parent[key]
        return key

    def join(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _stories(copies: Sequence[_Copy], alike: Alike | None) -> list[list[_Copy]]:
    """The copies partitioned into stories by ``same_story`` (transitively)."""
    groups = _Groups()
    for i, a in enumerate(copies):
        for b in copies[i + 1 :]:
            if groups.find(a.guid) != groups.find(b.guid) and same_story(a, b, alike):
                groups.join(a.guid, b.guid)
    stories: dict[str, list[_Copy]] = defaultdict(list)
    for copy in copies:
        stories[groups.find(copy.guid)].append(copy)
    return list(stories.values())


def _stories_by_url(
    copies: Iterable[_Copy], site_url: str | None, alike: Alike | None
) -> dict[str, list[list[_Copy]]]:
    """For each URL the copies carry, the stories told apart among them (the
    feed's home page left out: it is never a story's)."""
    carrying: defaultdict[str, list[_Copy]] = defaultdict(list)
    for copy in copies:
        if copy.url is not None and copy.url != site_url:
            carrying[copy.url].append(copy)
    return {url: _stories(on_url, alike) for url, on_url in carrying.items()}


def shared_urls(
    entries: Iterable[Entry | Kept], site_url: str | None = None, alike: Alike | None = None
) -> frozenset[str]:
    """Canonical URLs that do not identify one story in this batch: carried by
    several different stories (or the feed's home page)."""
    copies: dict[str, _Copy] = {}
    for item in entries:
        copies.setdefault(item.guid, _as_copy(item))
    by_url = _stories_by_url(copies.values(), site_url, alike)
    shared = {url for url, stories in by_url.items() if len(stories) > 1}
    if site_url:
        shared.add(site_url)
    return frozenset(shared)


def _as_copy(item: Entry | Kept, stored: KnownItem | None = None) -> _Copy:
    if stored is not None:
        # A stored item unchanged (kept, or skipped): compared as its article is,
        # whether the document was digested whole or incrementally.
        return _Copy(
            item.guid, item.url, title_key(stored.title), stored.lead, stored.word_count,
            None, stored.article_id,
        )  # fmt: skip
    if isinstance(item, Kept):
        return _Copy(item.guid, item.url, None, None)
    text = item.content_text or item.summary
    return _Copy(item.guid, item.url, title_key(item.title), text, item.word_count, item)


def decide(
    known: Known,
    entries: Iterable[Entry],
    site_url: str | None = None,
    kept: Iterable[Kept] = (),
    alike: Alike | None = None,
) -> tuple[Intent, ...]:
    """``site_url``: the feed's home page, canonical form (never a story's identity).
    ``kept``: the document's other items, stored already and unchanged (no intent
    for them; they count for the URL rule). ``alike``: whether two new entries'
    texts are near-duplicates (neardup's signatures; None: not compared)."""
    batch = tuple(entries)
    items = {item.guid: item for item in known.items}
    intents: list[Intent | None] = [None] * len(batch)

    # Rules 1 and 2; what is left is new.
    seen_guids: set[str] = set()
    copies: dict[str, _Copy] = {}  # guid -> the document's item, once each
    new: dict[str, int] = {}  # guid -> index in batch
    for index, entry in enumerate(batch):
        if entry.guid in seen_guids:
            intents[index] = Intent(Action.SKIP, entry, "guid repeated in the same document")
            continue
        seen_guids.add(entry.guid)
        stored = items.get(entry.guid)
        if stored is None:
            new[entry.guid] = index
            copies[entry.guid] = _as_copy(entry)
        elif stored.content_hash == entry.content_hash:
            intents[index] = Intent(Action.SKIP, entry, "unchanged", stored.article_id)
            copies[entry.guid] = _as_copy(entry, stored)
        else:
            intents[index] = Intent(Action.UPDATE, entry, "content changed", stored.article_id)
            copies[entry.guid] = _replace_article(_as_copy(entry), stored.article_id)
    for item in kept:
        if item.guid not in copies:
            copies[item.guid] = _as_copy(item, items.get(item.guid))
    if not new:
        return tuple(i for i in intents if i is not None)

    # Several stored articles may share a URL or a text: the oldest is the one,
    # whatever order the database returned them in.
    by_url: dict[str, KnownArticle] = {}
    by_text: dict[str, KnownArticle] = {}
    by_id: dict[int, KnownArticle] = {}
    for article in sorted(known.articles, key=lambda a: a.id):
        by_id[article.id] = article
        if article.url:
            by_url.setdefault(article.url, article)
        if article.text_hash:
            by_text.setdefault(article.text_hash, article)
    for stored in known.items:
        by_id.setdefault(
            stored.article_id, KnownArticle(stored.article_id, None, None, stored.word_count)
        )
    episodes: defaultdict[tuple[str, str], list[int]] = defaultdict(list)
    for guid, enclosure_url, article_id in known.episodes:
        episodes[(guid, enclosure_url)].append(article_id)

    groups = _Groups()
    found: dict[str, list[tuple[int, str]]] = defaultdict(list)  # guid -> (article, reason)

    # Items carrying one URL: one story (the URL is its identity), or several.
    for url, told_apart in _stories_by_url(copies.values(), site_url, alike).items():
        for story in told_apart:
            for copy in story[1:]:
                groups.join(story[0].guid, copy.guid)
        stored_article = by_url.get(url)
        if stored_article is None:
            continue
        for copy in (copy for story in told_apart for copy in story):
            if copy.guid not in new:
                continue
            if len(told_apart) == 1:
                found[copy.guid].append((stored_article.id, "same URL as a stored article"))
            elif copy.entry is not None and thin_match(copy.entry, stored_article):
                found[copy.guid].append(
                    (stored_article.id, "a copy of the stored article on its URL")
                )
    for copy in copies.values():
        if copy.article_id is not None:
            found[copy.guid].append((copy.article_id, "same story as a stored item"))

    by_batch_text: dict[tuple[str, str | None], str] = {}
    for guid, index in new.items():
        entry = batch[index]
        if entry.word_count >= MIN_TEXT_MATCH_WORDS and entry.text_hash:
            if entry.text_hash in by_text:
                found[guid].append((by_text[entry.text_hash].id, "same text as a stored article"))
            # In one document, the same text under another title is a template
            # (product pages, "no description"), not the story posted again.
            key = (entry.text_hash, title_key(entry.title))
            groups.join(by_batch_text.setdefault(key, guid), guid)
        for enclosure in entry.enclosures:
            for article_id in episodes.get((guid, enclosure.url), ()):
                found[guid].append((article_id, "same episode as a stored article"))

    # Each story: link to what is stored, else insert its fullest copy once.
    by_story: defaultdict[str, list[str]] = defaultdict(list)
    for guid in copies:
        by_story[groups.find(guid)].append(guid)
    for members in by_story.values():
        fresh = [guid for guid in members if guid in new]
        if not fresh:
            continue
        matches = sorted({m for guid in members for m in found.get(guid, ())})
        fullest = min(fresh, key=lambda g: (-batch[new[g]].word_count, g))
        if matches:
            target, reason = matches[0]
            stored_words = by_id[target].word_count if target in by_id else 0
            for guid in fresh:
                entry = batch[new[guid]]
                own = [r for a, r in found.get(guid, ()) if a == target]
                why = own[0] if own else f"same story as another item ({reason})"
                if guid == fullest and entry.word_count > stored_words:
                    intents[new[guid]] = Intent(Action.ENRICH, entry, f"{why}, fuller", target)
                else:
                    intents[new[guid]] = Intent(Action.LINK, entry, why, target)
            continue
        for guid in fresh:
            entry = batch[new[guid]]
            if guid == fullest:
                intents[new[guid]] = Intent(Action.INSERT, entry, "new")
            else:
                intents[new[guid]] = Intent(
                    Action.LINK, entry, "same story as another item of the document", None, fullest
                )
    return tuple(i for i in intents if i is not None)


def _replace_article(copy: _Copy, article_id: int) -> _Copy:
    return dataclasses.replace(copy, article_id=article_id)


def repairs(articles: Iterable[KnownArticle]) -> tuple[Merge, ...]:
    """What ``feedd dedupe --repair`` merges: articles that share a canonical URL and
    are the same story by ``same_story``, as rule 3 now decides within a batch.
    Different stories on one URL (podcast episodes on the show's page) stay apart.
    Running it on its own result merges nothing more."""
    by_url: defaultdict[str, list[KnownArticle]] = defaultdict(list)
    for article in articles:
        if article.url:
            by_url[article.url].append(article)
    merges = []
    for url in sorted(by_url):
        on_url = {a.id: a for a in by_url[url]}
        copies = [
            _Copy(str(a.id), url, title_key(a.title), a.lead, a.word_count)
            for a in sorted(on_url.values(), key=lambda a: a.id)
        ]
        for story in _stories(copies, None):
            if len(story) < 2:
                continue
            ids = sorted(int(copy.guid) for copy in story)
            fullest = min(ids, key=lambda i: (-on_url[i].word_count, i))
            merges.append(Merge(ids[0], tuple(ids[1:]), fullest))
    return tuple(merges)


def identity_keys(entries: Iterable[Entry], bands: Iterable[str] = ()) -> frozenset[str]:
    """What two writers deciding at once could both claim: the keys a story is
    found by in another feed's rows (its URL, its text, an episode's guid) and
    its near-duplicate band keys. A feed's own guids are left out: one poller
    holds the feed."""
    keys: set[str] = set()
    for entry in entries:
        if entry.url:
            keys.add(f"url {entry.url}")
        if entry.text_hash:
            keys.add(f"text {entry.text_hash}")
        if entry.enclosures:
            keys.add(f"guid {entry.guid}")
    keys.update(f"band {band}" for band in bands)
    return frozenset(keys)


def text_hash(entry: Entry) -> str | None:
    """A hash of the entry's text when it is long enough to identify a story."""
    return text_hash_of(entry.content_text, entry.word_count)


def text_hash_of(text: str | None, words: int) -> str | None:
    """text_hash of a text of ``words`` words (an article page's, too)."""
    if words < MIN_TEXT_MATCH_WORDS or not text:
        return None
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def group_root(members: Iterable[tuple[int, datetime | None]]) -> int:
    """The article near-duplicates point at: the earliest published (undated last),
    the smallest id among equals. The same whatever order they arrived in."""
    never = datetime.max.replace(tzinfo=UTC)
    return min(members, key=lambda m: (m[1] or never, m[0]))[0]
