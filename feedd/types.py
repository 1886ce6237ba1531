"""Values passed between the pipeline stages.

fetch -> Fetched | NotModified
parse -> ParsedFeed (with RawEntry items, as the feed gave them)
normalize -> Entry
extract -> Extracted (an article page)
dedupe -> Intent
store/pipeline -> Outcome

Every value is a frozen, slotted dataclass; collections are tuples.
This module imports nothing from feedd.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, overload

# How many earlier versions of an article are kept ([retention] max_revisions).
DEFAULT_MAX_REVISIONS = 20
# How many items of one document are kept ([fetch] max_items): the corpus's largest
# real feed has ~1,000, and a hostile one packs 100,000 tiny items under the body
# limit, each of which costs cleaning, a row and an index entry.
DEFAULT_MAX_ITEMS = 5_000


@overload
def format_timestamp(value: datetime) -> str: ...
@overload
def format_timestamp(value: None) -> None: ...
@overload
def format_timestamp(value: datetime | None) -> str | None: ...
def format_timestamp(value: datetime | None) -> str | None:
    """The schema's timestamp format: ISO-8601 UTC, YYYY-MM-DDTHH:MM:SSZ."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(value: str | None) -> datetime | None:
    """The inverse of format_timestamp (fromisoformat: a tenth of strptime's cost,
    which a reload of 50,000 feeds pays for every schedule it reads)."""
    if not value:
        return None
    return datetime.fromisoformat(value).astimezone(UTC)


def header_value(headers: tuple[tuple[str, str], ...], name: str) -> str | None:
    """The first value of a header in (lower-cased name, value) pairs."""
    name = name.lower()
    for key, value in headers:
        if key == name:
            return value
    return None


@dataclass(frozen=True, slots=True)
class FeedSettings:
    """One feed as the config describes it."""

    url: str
    name: str | None
    interval: float  # seconds, already defaulted from [fetch].interval
    tags: tuple[str, ...]
    enabled: bool
    resolve: str = "shorteners"  # already defaulted from [links].resolve
    # False when the feed has its own interval (or [fetch] adaptive = false):
    # then posting frequency never shortens or lengthens it.
    adaptive: bool = True
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # may hold secrets
    auth: tuple[str, str] | None = field(default=None, repr=False)  # (user, password)
    fulltext: str = "off"  # off | auto | always, already defaulted from [fulltext].mode
    fulltext_selector: str | None = None  # CSS selector for the article on its pages


@dataclass(frozen=True, slots=True)
class FeedSource:
    """What fetch needs to poll one feed: where, and the last validators."""

    url: str  # as configured: the feed's identity
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    final_url: str | None = None  # where the feed has permanently moved; fetched instead of url
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    auth: tuple[str, str] | None = field(default=None, repr=False)

    @property
    def fetch_url(self) -> str:
        return self.final_url or self.url


@dataclass(frozen=True, slots=True)
class DueFeed:
    """A feed to poll now, with what fetching and scheduling need."""

    id: int
    url: str
    interval: float  # as configured
    error_count: int
    source: FeedSource
    poll_interval: float | None = None  # the adaptive interval in use, once known
    posting_gap: float | None = None
    last_post_at: datetime | None = None
    moved_to: str | None = None
    moved_count: int = 0
    state: str = "new"


@dataclass(frozen=True, slots=True)
class Counts:
    """What a poll did with its items (Outcome carries them to the caller)."""

    new: int = 0
    updated: int = 0
    linked: int = 0
    unchanged: int = 0


@dataclass(frozen=True, slots=True)
class Fetched:
    """A successful (2xx) response with its whole body."""

    url: str  # as requested (the configured URL)
    final_url: str  # after redirects
    status: int
    headers: tuple[tuple[str, str], ...]  # lower-cased names
    body: bytes
    etag: str | None
    last_modified: str | None
    body_hash: str
    moved_to: str | None = None  # final_url, when every hop to it was 301/308

    def header(self, name: str) -> str | None:
        return header_value(self.headers, name)


@dataclass(frozen=True, slots=True)
class NotModified:
    """304, or a 200 whose body is byte-for-byte the last one we stored."""

    url: str
    status: int
    etag: str | None = None
    last_modified: str | None = None
    headers: tuple[tuple[str, str], ...] = ()  # lower-cased names (Cache-Control hints)
    moved_to: str | None = None  # as in Fetched


@dataclass(frozen=True, slots=True)
class Relocation:
    """Where a feed is fetched from, and a permanent move being watched."""

    final_url: str | None  # fetched instead of the configured URL; None: the configured URL
    moved_to: str | None  # the 301/308 target of the latest fetches
    moved_count: int  # how many fetches in a row ended there


@dataclass(frozen=True, slots=True)
class FeedDocument:
    """What a new body tells about its feed (FeedUpdate.answer.document)."""

    body_hash: str  # of the body parsed: the next identical 200 is not parsed again
    title: str | None  # None keeps the stored title (a document without one says nothing)
    site_url: str | None  # None keeps the stored one
    # Observed time between posts, up to the newest post; written as is: a
    # document without enough dates has no gap to go on.
    posting_gap: float | None
    last_post_at: datetime | None  # newest item date; None keeps the stored one


@dataclass(frozen=True, slots=True)
class FeedAnswer:
    """What a poll the feed answered (200 or 304) writes besides the outcome."""

    etag: str | None  # the validators to send next time, as the response gave them
    last_modified: str | None
    poll_interval: float  # seconds, the interval in use from now on
    relocation: Relocation
    document: FeedDocument | None = None  # a new body; None for a 304 (the stored one stands)


@dataclass(frozen=True, slots=True)
class FeedUpdate:
    """Everything one poll writes to its feed's row, decided by schedule.py and
    written by the store's ``record_poll`` as it is.

    A failure writes only the first six fields: the validators, the interval,
    the title and the relocation being watched keep their stored values.
    """

    state: str  # ok | failing | gone
    status: int | None  # HTTP status of the attempt; None when no response came
    fetched_at: datetime  # also the time of the last success when ``answer`` is set
    error_count: int  # consecutive failures, this one included; 0 after an answer
    error: str | None  # why it failed; None after an answer
    next_fetch_at: datetime | None  # None: not polled again until the config changes (gone)
    answer: FeedAnswer | None = None  # set when the feed answered (state "ok")


@dataclass(frozen=True, slots=True)
class FeedSchedule:
    """A stored feed's schedule, as a change of its config entry may reset it
    (schedule.resync)."""

    state: str  # new | ok | failing | gone
    interval: float  # seconds, as configured when stored
    last_fetched_at: datetime | None
    next_fetch_at: datetime | None  # None: due at once (or, when gone, never)
    poll_interval: float | None  # the adaptive interval in use; None: not known yet


@dataclass(frozen=True, slots=True)
class Probe:
    """One response to a link-resolution request: status, headers, and (GET) a body prefix."""

    url: str
    method: str
    status: int
    headers: tuple[tuple[str, str], ...]  # lower-cased names
    body: bytes | None  # at most the requested number of bytes; None for HEAD

    def header(self, name: str) -> str | None:
        return header_value(self.headers, name)


@dataclass(frozen=True, slots=True)
class Hop:
    """One step of a followed link."""

    url: str
    status: int | None  # None when no response came (blocked, timeout, error)
    location: str | None  # where this response sent us; None at the end


@dataclass(frozen=True, slots=True)
class Resolution:
    """Where an item link leads, as found by following it."""

    url: str  # the link as found (absolute, unwrapped offline)
    resolved_url: str  # where it leads; when it failed, the best URL known
    outcome: str  # ok | not_found | loop | too_many_hops | blocked | timeout | error
    status: int | None  # HTTP status of the last response
    hops: tuple[Hop, ...]
    permanent: bool  # every redirect on the way was permanent (301/308)
    error: str | None = None
    # The page's own publication date (article:published_time and the like), when
    # the last hop was an HTML page that said it; not kept in the links cache.
    published_at: datetime | None = None
    # The final page's HTML, when it was asked for (an article page wanted in
    # full); never cached: only the poll that fetched it uses it.
    page: bytes | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class CachedLink:
    """A row of the links table."""

    url: str
    resolved_url: str
    outcome: str
    failures: int
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class RawEntry:
    """One feed item, fields as the parser returned them (not yet cleaned)."""

    id: str | None
    link: str | None
    title: str | None
    summary: str | None  # may be HTML
    content: str | None  # may be HTML
    author: str | None
    published: datetime | None  # UTC, if the parser understood the date
    updated: datetime | None
    published_raw: str | None
    updated_raw: str | None
    tags: tuple[str, ...] = ()
    extra: tuple[tuple[str, Any], ...] = ()  # parser-specific fields later stages may use


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A parsed feed document."""

    version: str  # e.g. "rss20", "atom10", "json11"
    title: str | None
    site_url: str | None
    language: str | None
    entries: tuple[RawEntry, ...]
    warning: str | None = None  # the parser's complaint when it recovered from bad input
    ttl: float | None = None  # seconds the feed asks between polls (<ttl>, sy:updatePeriod)
    # Items left out for having nothing to show: no title, link, text or enclosure.
    empty_items: int = 0
    # Items left out beyond [fetch] max_items (the oldest).
    dropped_items: int = 0


@dataclass(frozen=True, slots=True)
class Enclosure:
    """A file attached to an item (podcast audio, video): absolute http(s) URL."""

    url: str
    type: str | None  # MIME type as the feed gave it, lower-cased
    length: int | None  # bytes; None when absent, not a number or 0 (feeds put 0 for unknown)


@dataclass(frozen=True, slots=True)
class Entry:
    """A normalized entry, ready to be deduplicated and stored."""

    guid: str  # the item's id, or a fallback key derived from it (see normalize)
    link: str | None  # the item link as the feed gave it, made absolute
    url: str | None  # canonical article URL
    title: str | None
    summary: str | None  # plain text
    content_text: str | None  # plain text, one paragraph per line
    content_html: str | None  # sanitized HTML
    author: str | None
    published_at: datetime | None  # timezone-aware, UTC
    updated_at: datetime | None
    tags: tuple[str, ...]
    content_hash: str
    # published_at is None when the feed's date is missing or unusable; then
    # date_flag says why ("missing", "too_old": before 1995, "future": more than
    # 10 minutes ahead) and the store stands in its first-seen time; "partial":
    # an imported story whose date lost its month (applet.py), stored undated
    # until a copy with a full date arrives.
    date_flag: str | None = None
    published_raw: str | None = None  # the date string the item gave (published, else updated)
    language: str | None = None  # ISO 639-1 ("en") from the text; short ones: the feed's
    word_count: int = 0  # words of content_text; each CJK character counts as a word
    enclosures: tuple[Enclosure, ...] = ()
    text_hash: str | None = None  # sha256 of content_text: the same text under another URL
    # Of the item as parsed and of what cleaning it depended on (digest.item_hash):
    # the next digest of the feed does not clean an item whose hash is stored.
    raw_hash: str | None = None
    # Why the item looks cut short of its article ("trailer": a "Read more" or
    # "Continue reading" line was removed; "ellipsis": the text ends in one),
    # None when it does not: fulltext's "auto" mode fetches such items' pages.
    teaser: str | None = None


@dataclass(frozen=True, slots=True)
class Extracted:
    """The article in a web page (extract.extract), cleaned as feed content is.

    A page without an article (undecodable, empty, a list of links, too large a
    tree) gives empty ``text`` and ``html`` (None), never an error.
    """

    url: str | None  # the page's address, the base of its links
    title: str | None = None  # one line
    author: str | None = None  # one line, as the page names it
    published_at: datetime | None = None  # UTC; None when absent or unusable
    image: str | None = None  # the lead image: absolute http(s) URL
    text: str | None = None  # plain text, one paragraph per line (as Entry.content_text)
    html: str | None = None  # sanitized HTML, feedd's allow-list (as Entry.content_html)
    word_count: int = 0  # words of text, counted as for Entry.word_count


@dataclass(frozen=True, slots=True)
class Kept:
    """An item of a document that is stored already, exactly as this document has
    it: not cleaned again (digest's incremental path), only counted, scheduled by
    its date and weighed by dedupe's shared-URL rule."""

    guid: str
    url: str | None  # canonical, before link resolution (as Entry.url)
    published_at: datetime | None
    target: str | None  # the link to follow, unwrapped offline (as Digest.targets)
    raw_hash: str  # as stored (Entry.raw_hash): checked again before it is relied on
    word_count: int  # Entry.word_count as the feed gave it (fulltext's "short feed")


class Action(StrEnum):
    INSERT = "insert"  # a new story
    LINK = "link"  # a story already stored (same canonical URL or text), newly seen in this feed
    ENRICH = "enrich"  # as LINK, and this copy is fuller: it replaces the stored text
    UPDATE = "update"  # this feed's item changed since we stored it
    SKIP = "skip"  # nothing to do


@dataclass(frozen=True, slots=True)
class Intent:
    """What dedupe decided to do with one entry, and why."""

    action: Action
    entry: Entry
    reason: str
    article_id: int | None = None  # the stored article this entry is (LINK, UPDATE)
    # LINK to the article an entry of the same batch inserts (that entry's guid):
    # the same story posted twice in one document.
    same_as: str | None = None


@dataclass(frozen=True, slots=True)
class KnownItem:
    """What the database already holds for one (feed, guid)."""

    guid: str
    article_id: int
    content_hash: str | None
    raw_hash: str | None = None
    # Of the article (known() only): what the story-sameness test compares.
    title: str | None = None
    lead: str | None = None  # the start of its text (store reads 2,000 characters)
    word_count: int = 0


@dataclass(frozen=True, slots=True)
class KnownArticle:
    """A stored article that a batch's entry may be (same URL or same text)."""

    id: int
    url: str | None
    text_hash: str | None
    word_count: int
    title: str | None = None
    lead: str | None = None  # the start of its text (store reads 2,000 characters)
    # Its date when it is the story's own (date_flag unset), else None: what an
    # imported copy's partial date is completed from.
    published_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Known:
    """The slice of the database dedupe needs to decide on one batch."""

    items: tuple[KnownItem, ...] = ()  # this feed's items, by guid
    articles: tuple[KnownArticle, ...] = ()  # any feed's, by canonical URL or text hash
    # (guid, enclosure URL, article id) stored by other feeds for the batch's guids:
    # a podcast episode carried by several feeds of one show.
    episodes: tuple[tuple[str, str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Merge:
    """Articles stored under one canonical URL that are one story (dedupe.repairs)."""

    keep: int  # the oldest: its id stays, the others' items move to it
    merged: tuple[int, ...]
    text_from: int  # the fullest: the kept article takes its text


class Status(StrEnum):
    OK = "ok"
    NOT_MODIFIED = "not_modified"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of polling one feed. Errors are values: a batch never stops."""

    url: str
    status: Status
    new: int = 0
    updated: int = 0
    linked: int = 0
    unchanged: int = 0
    error: str | None = None
    http_status: int | None = None
    duration: float = 0.0
    title: str | None = None
    links_resolved: int = 0  # links followed over the network for this poll
    links_failed: int = 0  # of which did not resolve (still stored, best URL known)
    empty: int = 0  # items skipped for having nothing to show (ParsedFeed.empty_items)
    lease_lost: bool = False  # another poller claimed the feed meanwhile: nothing written
    pages_queued: int = 0  # new articles whose page is to be fetched ([fulltext])


@dataclass(frozen=True, slots=True)
class PageJob:
    """An article whose page is to be fetched (the ``pages`` table's queued row),
    claimed by one poller until ``Storage.save_page`` or ``page_failed``."""

    article_id: int
    url: str  # the page: the article's canonical URL when it was queued
    feed_url: str | None  # the feed whose item asked for it (its selector applies)
    attempts: int  # this one included
    reason: str  # why its page is wanted (fulltext.pages_wanted)


@dataclass(frozen=True, slots=True)
class Page:
    """An article's page, fetched and extracted: what ``Storage.save_page`` writes."""

    job: PageJob
    final_url: str  # after redirects
    http_status: int
    extracted: Extracted
    text_hash: str | None  # of extracted.text, as dedupe.text_hash computes an entry's


@dataclass(frozen=True, slots=True)
class PageResult:
    """What became of one page (``Storage.save_page``'s answer, or a failure)."""

    article_id: int
    url: str
    outcome: str  # stored | not_fuller | gone | retry | failed
    words: int = 0  # of the page's article text
    error: str | None = None
    http_status: int | None = None
