"""What the read commands need of a database: the read-only protocol.

``feedd articles/search/show/feeds/stats/tail/export`` (cli_query.py) use
only this, through ``feedd.store.open_reader``; one implementation per
backend (``feedd.store.sqlite.reading``, ``feedd.store.postgres.reading``).
A reader never writes, and opening one must be safe while the daemon writes
to the same database.

Values in: ``Filters`` and names from ``ARTICLE_FIELDS`` (below, with the
protocol, so that this module imports nothing but the standard library and
costs the CLI nothing to load). Values out: rows as dicts keyed by those
names, timestamps in the schema's text form (``types.format_timestamp``),
``tags`` as a list. A database that cannot be opened or read raises
``QueryError``; input the backend rejects (a malformed search) ``BadQuery``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

# One result row: column name -> value. A dict, not a frozen value: the CLI
# reshapes rows (the search snippet) before printing them.
Row = dict[str, Any]

# The article fields every Reader answers, in the order the CLI's help and
# errors list them. "date" is the published date (empty for an undated
# article), "feeds" the names of the feeds that carried the article; the
# others are the stored columns of the same name. "edited_at" is when a
# later version last replaced the article's title, summary or text (empty:
# never edited), "revisions" how many earlier versions are kept.
ARTICLE_FIELDS: tuple[str, ...] = (
    "id",
    "date",
    "feeds",
    "title",
    "url",
    "author",
    "language",
    "tags",
    "summary",
    "content_text",
    "content_html",
    "published_at",
    "updated_at",
    "first_seen_at",
    "modified_at",
    "duplicate_of",
    "edited_at",
    "revisions",
)

# Search snippet highlight markers: control characters no stored text
# contains; output.py turns them into bold on a terminal or [ ] elsewhere.
MARK_START = "\x02"
MARK_END = "\x03"

# The most rows one tail() call returns: a follower that fell far behind
# catches up in steps instead of in one huge read.
TAIL_BATCH = 1000


@dataclass(frozen=True, slots=True)
class Filters:
    """Which articles to list. ``feeds`` match a feed's URL, config name or
    title; ``tags`` a feed's or the article's own; ``since``/``until`` are
    schema timestamps, compared with the published date, else first seen;
    ``limit`` 0 means all. ``edited``: only articles whose title, summary or
    text changed after they were first stored (an earlier version is kept),
    the newest change first."""

    feeds: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    since: str | None = None
    until: str | None = None
    limit: int = 20
    include_duplicates: bool = False
    edited: bool = False


class Reader(Protocol):
    def close(self) -> None: ...

    # -- articles

    def articles(self, filters: Filters, fields: Sequence[str]) -> list[Row]:
        """Newest first (published date, else first seen; undated articles after
        every dated one); duplicates hidden unless ``filters`` asks for them."""
        ...

    def search(self, query: str, filters: Filters, fields: Sequence[str]) -> list[Row]:
        """Full-text matches of ``query`` (the backend's syntax: FTS5's in SQLite,
        web search in PostgreSQL), best first, each row with the ``fields`` and a
        ``snippet`` whose matches are wrapped in MARK_START/MARK_END."""
        ...

    def article(self, ref: str) -> Row | None:
        """One article in full by id or URL (its canonical URL, else an item
        link a feed gave), with ``feeds`` (each feed that carried it: id, url,
        name, title, guid, link, first_seen_at), ``duplicates`` (id, title, url)
        and ``duplicate_of`` (the original's id, title, url, or None)."""
        ...

    def revisions(self, article_id: int) -> list[Row]:
        """The article's earlier versions kept, oldest first: revision, title,
        summary, content_text, content_hash, first_seen_at, last_seen_at,
        feed_id and feed (the feed that brought the version), reason (what
        replaced it: update, enrichment or page), replaced_at, replaced_by (the
        name of the feed whose version replaced it). Empty when none is kept."""
        ...

    def tail(self, after_id: int, filters: Filters, fields: Sequence[str]) -> list[Row]:
        """Articles stored after ``after_id``, oldest first, at most TAIL_BATCH."""
        ...

    def max_article_id(self) -> int:
        """The id of the newest article stored, 0 when there is none."""
        ...

    # -- feeds and totals

    def feeds(self, failing_only: bool, now: datetime) -> list[Row]:
        """Each feed by name: id, name, url, state (new, ok, failing, gone,
        disabled), last_fetched_at, next_fetch_at, error_count, last_status,
        last_error, articles, per_day (articles first carried in the 30 days
        before ``now``, / 30)."""
        ...

    def stats(self, now: datetime) -> Row:
        """feeds (total and per state), articles, duplicates, article_feeds,
        ingest_per_day (the 14 days up to ``now``: day, articles), top_feeds (10:
        feed, url, articles), edits (per feed whose version replaced another,
        most first, of the revisions kept: feed, url, updates, enrichments,
        articles), links (outcome -> count), database_bytes (file, wal,
        total; wal None where the backend has no log of this database's own)."""
        ...
