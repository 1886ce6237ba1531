"""Article pages ([fulltext]): which new items' pages are fetched, and when a
page that failed is tried again. Pure: values in, decisions out.

Which pages: by the feed's ``fulltext`` mode, "off" (none), "always" (every
new item with a link) or "auto" (``pages_wanted``).

"auto" fetches the page of an item that looks cut short of its article, for
the first of these reasons that holds:

- "trailer": normalize removed a "Continue reading" or "Read more" trailer
  from it (``Entry.teaser``), and it has fewer than ``TRAILER_WORDS`` words;
- "ellipsis": its text ends in "...", "…" or "[…]" (``Entry.teaser``), and it
  is short (fewer than ``SHORT_WORDS`` words);
- "short feed": it is short, it has a title, and most items of its feed's
  document are short (``short_feed``: at least ``SHORT_FEED_SHARE`` of at
  least ``SHORT_FEED_ITEMS`` items). A feed of teasers is recognised so even
  when its teasers carry no trailer: news sites' one-sentence summaries,
  Hugo's and Blogger's summaries, descriptions of posts. A teaser comes with
  its article's headline; an item without a title is a post of a tweet-like
  feed (Mastodon, micro.blog, Tumblr), whole however short.

Never an item without a link, nor one whose story is its media (``is_media``:
a podcast episode, a video, a picture without text): its text describes the
media, and its page holds no longer text. Word counts are ``Entry.word_count``:
the feed's text once its boilerplate is gone.

The thresholds were measured on the real-world corpus against labels made by
hand (bench/fulltext_auto.py, bench/data/fulltext_labels.toml; the figures are
in docs/fulltext.md, "The auto rule").
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from urllib.parse import urlsplit

from .types import Entry

MODES = ("off", "auto", "always")

# A trailer counts in items of fewer words than this. The corpus's teasers with
# a trailer have up to ~360 words (Squarespace excerpts, the Guardian's longest
# standfirsts; only a few of Discourse's first posts are longer); a longer text
# that ends in "Read more" is a full article with a link at its end (The Week's
# quotes of other papers, "Read more at <another blog>").
TRAILER_WORDS = 400
# An item of fewer words than this is short: much shorter than an article
# (500-1,000 words and more), longer than what teasers are cut to (WordPress's
# excerpt: 55 words; Hugo's summary: 70, to the end of the sentence; Blogger's
# short feed: ~70; news sites' summaries: 10-50). The corpus's teasers ending in
# an ellipsis have at most 149 words, while complete texts that end in one
# ("Stay tuned…", "To be continued…", TechCrunch's Crunchbase boxes) are mostly
# longer: an ellipsis counts in short items only.
SHORT_WORDS = 150
# A feed is short when at least this share of its document's items are short
# (four in five: a teaser feed's occasional longer summary does not hide it,
# while blogs with some short posts, 60-75% short in the corpus, are not taken
# for one)...
SHORT_FEED_SHARE = 0.8
# ... and it has at least this many items: fewer say nothing of the feed (the
# corpus's smallest teaser feeds list 3 and 4 items).
SHORT_FEED_ITEMS = 3
# Pages of videos: their items' text is the video's description. YouTube's
# channel feeds carry the video in media:group, not as an enclosure.
VIDEO_HOSTS = ("youtube.com", "youtu.be", "vimeo.com")


def pages_wanted(
    mode: str, entries: Sequence[Entry], kept_words: Sequence[int] = ()
) -> tuple[str | None, ...]:
    """Per entry, why its article page should be fetched ("always", "trailer",
    "ellipsis", "short feed"), or None.

    ``entries`` are a document's new items. ``kept_words`` are the word counts
    of its other items (unchanged since they were stored), as the feed gives
    them (``Entry.word_count`` of the digested item, not of an article whose
    text came from its page): the feed is judged on the whole document, the
    same whichever of its items are new.
    Raises ValueError for a mode not in ``MODES``.
    """
    if mode not in MODES:
        raise ValueError(f"fulltext mode {mode!r} is not one of {', '.join(MODES)}")
    if mode == "off":
        return (None,) * len(entries)
    if mode == "always":
        return tuple("always" if _has_link(entry) else None for entry in entries)
    short = short_feed([entry.word_count for entry in entries] + list(kept_words))
    return tuple(_auto(entry, short) for entry in entries)


def short_feed(words: Sequence[int]) -> bool:
    """Whether a document's items, by their word counts, are consistently short."""
    if len(words) < SHORT_FEED_ITEMS:
        return False
    short = sum(1 for count in words if count < SHORT_WORDS)
    return short >= SHORT_FEED_SHARE * len(words)


def is_media(entry: Entry) -> bool:
    """Whether the item's story is its media: an audio or video enclosure (also
    the "x-audio/..." types some podcasts use), a link to a video site's page,
    or a picture without text."""
    for enclosure in entry.enclosures:
        kind = (enclosure.type or "").removeprefix("x-")
        if kind.startswith(("audio/", "video/")):
            return True
    host = urlsplit(entry.url or entry.link or "").hostname or ""
    if any(host == name or host.endswith(f".{name}") for name in VIDEO_HOSTS):
        return True
    return entry.word_count == 0 and "<img" in (entry.content_html or "")


def _auto(entry: Entry, short: bool) -> str | None:
    if not _has_link(entry) or is_media(entry):
        return None
    if entry.teaser == "trailer" and entry.word_count < TRAILER_WORDS:
        return "trailer"
    if entry.word_count >= SHORT_WORDS:
        return None
    if entry.teaser:
        return entry.teaser
    return "short feed" if short and entry.title else None


def _has_link(entry: Entry) -> bool:
    return bool(entry.url or entry.link)


# A page that failed is tried again later each time; the outcomes a retry
# cannot mend (the page is gone, the address refused, a redirect loop) are
# not tried again.
RETRY_DELAYS = (timedelta(minutes=15), timedelta(hours=2), timedelta(hours=12))
FINAL_FAILURES = frozenset({"not_found", "blocked", "loop", "too_many_hops", "not_html"})


def retry_after(outcome: str, attempts: int, max_attempts: int) -> timedelta | None:
    """How long until a failed page is tried again; None: never (its article keeps
    the feed's text). ``attempts``: the attempts made, the failed one included."""
    if outcome in FINAL_FAILURES or attempts >= max_attempts:
        return None
    return RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1]
