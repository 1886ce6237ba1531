"""The SQLite database: schema, migrations, reads for dedupe, applying intents.

The only module that imports sqlite_utils. The schema is public API,
documented in docs/schema.md; it is versioned with PRAGMA user_version and
migrated forward on open.

Durability rules:
- WAL mode, so readers (sqlite3, Datasette, the CLI) never block the daemon.
- Each feed's results, including its new validators (ETag, Last-Modified,
  body hash), are written in one BEGIN IMMEDIATE transaction, so a crash can
  never keep a validator whose items were not stored.
- The connection is in autocommit mode (isolation_level=None): transactions
  are explicit, never opened behind our back.
- A write the storage refuses (disk full, I/O error, read-only, busy) raises
  StoreError with SQLite's reason; nothing of its transaction is kept.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

from .errors import StoreError
from .types import (
    Action,
    CachedLink,
    Entry,
    FeedSettings,
    FeedSource,
    Intent,
    Kept,
    Known,
    KnownArticle,
    KnownItem,
    Merge,
    Relocation,
    Resolution,
    format_timestamp,
    parse_timestamp,
)

BUSY_TIMEOUT_MS = 30_000
# SQLite's primary result codes for "the storage refused the write", as
# opposed to a mistake in our SQL: these become StoreError (transaction(), _write()).
_REFUSED = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
    }
)
# SQLite checkpoints the WAL every 1000 pages (about 4 MiB) and starts it again
# from the beginning, but only at a moment when no reader is using it. Readers
# that overlap without a break (a dashboard, a few Datasette users) or one long
# read transaction keep that moment from coming, and the file grows with every
# write. Past WAL_LIMIT bytes, trim_wal() waits up to WAL_WAIT_MS for the
# readers to move to the newest snapshot, then truncates it. The writes wait
# meanwhile: while a long read transaction lasts, each try costs WAL_WAIT_MS.
WAL_LIMIT = 8 * 1024 * 1024
WAL_WAIT_MS = 500
_CHUNK = 500  # parameters per IN (...) query; SQLite's limit is far higher, this keeps plans simple

_SCHEMA_V1 = """
CREATE TABLE feeds (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL UNIQUE,            -- as configured; the feed's identity
    name TEXT,                           -- display name from the config
    title TEXT,                          -- the feed's own title
    site_url TEXT,                       -- the feed's own link to its site
    tags TEXT NOT NULL DEFAULT '[]',     -- JSON array, from the config
    enabled INTEGER NOT NULL DEFAULT 1,  -- 0: disabled or removed from the config
    interval_seconds INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'new',   -- new | ok | failing
    final_url TEXT,                      -- where the last fetch ended after redirects
    etag TEXT,
    last_modified TEXT,
    body_hash TEXT,                      -- sha256 of the last body parsed
    last_fetched_at TEXT,
    last_ok_at TEXT,
    last_status INTEGER,                 -- HTTP status of the last attempt
    error_count INTEGER NOT NULL DEFAULT 0,  -- consecutive failures
    last_error TEXT,
    next_fetch_at TEXT,                  -- NULL: due now
    created_at TEXT NOT NULL
);
CREATE INDEX feeds_due ON feeds (enabled, next_fetch_at);

CREATE TABLE articles (
    id INTEGER PRIMARY KEY,
    url TEXT,                            -- canonical article URL (see dedupe for sharing)
    title TEXT,
    summary TEXT,                        -- plain text
    content_text TEXT,                   -- plain text, one paragraph per line
    content_html TEXT,                   -- sanitized HTML
    author TEXT,
    published_at TEXT,
    updated_at TEXT,
    first_seen_at TEXT NOT NULL,
    modified_at TEXT NOT NULL,           -- when feedd last wrote this row
    language TEXT,
    tags TEXT NOT NULL DEFAULT '[]',     -- JSON array of the item's categories
    duplicate_of INTEGER REFERENCES articles (id)
);
CREATE INDEX articles_url ON articles (url);
CREATE INDEX articles_published_at ON articles (published_at);
CREATE INDEX articles_first_seen_at ON articles (first_seen_at);
CREATE INDEX articles_duplicate_of ON articles (duplicate_of) WHERE duplicate_of IS NOT NULL;

CREATE TABLE article_feeds (
    article_id INTEGER NOT NULL REFERENCES articles (id),
    feed_id INTEGER NOT NULL REFERENCES feeds (id),
    guid TEXT NOT NULL,                  -- the item's id, or the fallback key
    link TEXT,                           -- the item link as the feed gave it
    content_hash TEXT,                   -- of the item as this feed last gave it
    first_seen_at TEXT NOT NULL,
    UNIQUE (feed_id, guid)
);
CREATE INDEX article_feeds_article_id ON article_feeds (article_id);

-- Same shape as sqlite-utils' enable_fts(), so `sqlite-utils search` and
-- Datasette detect it.
CREATE VIRTUAL TABLE [articles_fts] USING FTS5 (
    [title], [summary], [content_text],
    tokenize='unicode61 remove_diacritics 2',
    content=[articles]
);
CREATE TRIGGER [articles_ai] AFTER INSERT ON [articles] BEGIN
    INSERT INTO [articles_fts] (rowid, [title], [summary], [content_text])
    VALUES (new.rowid, new.[title], new.[summary], new.[content_text]);
END;
CREATE TRIGGER [articles_ad] AFTER DELETE ON [articles] BEGIN
    INSERT INTO [articles_fts] ([articles_fts], rowid, [title], [summary], [content_text])
    VALUES ('delete', old.rowid, old.[title], old.[summary], old.[content_text]);
END;
CREATE TRIGGER [articles_au] AFTER UPDATE OF [title], [summary], [content_text] ON [articles]
BEGIN
    INSERT INTO [articles_fts] ([articles_fts], rowid, [title], [summary], [content_text])
    VALUES ('delete', old.rowid, old.[title], old.[summary], old.[content_text]);
    INSERT INTO [articles_fts] (rowid, [title], [summary], [content_text])
    VALUES (new.rowid, new.[title], new.[summary], new.[content_text]);
END;
"""

_SCHEMA_V2 = """
-- The link-resolution cache: where each item link found in a feed leads.
CREATE TABLE links (
    url TEXT PRIMARY KEY,                -- the link as found (absolute, unwrapped offline)
    resolved_url TEXT NOT NULL,          -- where it leads; the best URL known if it failed
    outcome TEXT NOT NULL,  -- ok, not_found, loop, too_many_hops, blocked, timeout, error
    http_status INTEGER,                 -- of the last response
    hops INTEGER NOT NULL,               -- redirects followed
    chain TEXT NOT NULL DEFAULT '[]',    -- JSON: [[status, url], ...] hop by hop
    error TEXT,
    failures INTEGER NOT NULL DEFAULT 0, -- consecutive failed attempts
    checked_at TEXT NOT NULL,
    expires_at TEXT NOT NULL             -- not resolved again before this
);
CREATE INDEX links_expires_at ON links (expires_at);
"""

_SCHEMA_V3 = """
-- Read-only views for sqlite3, sqlite-utils and Datasette (issue 7); feedd
-- itself never reads them. Views cannot promise an order: sort in the query.

-- Stories without the duplicates, with the names and tags of the feeds that
-- carried them. Scalar subqueries rather than GROUP BY, so that
-- `ORDER BY published_at DESC LIMIT n` on the view can walk the index.
CREATE VIEW latest_articles AS
SELECT
    a.id,
    a.published_at,
    a.first_seen_at,
    a.title,
    a.url,
    a.summary,
    a.language,
    (
        SELECT group_concat(name, ', ')
        FROM (
            SELECT DISTINCT coalesce(f.name, f.title, f.url) AS name
            FROM article_feeds af JOIN feeds f ON f.id = af.feed_id
            WHERE af.article_id = a.id
            ORDER BY name
        )
    ) AS feeds,
    (
        SELECT json_group_array(tag)
        FROM (
            SELECT DISTINCT t.value AS tag
            FROM article_feeds af JOIN feeds f ON f.id = af.feed_id, json_each(f.tags) t
            WHERE af.article_id = a.id
            ORDER BY tag
        )
    ) AS feed_tags
FROM articles a
WHERE a.duplicate_of IS NULL;

-- Each feed's state ("disabled" when enabled = 0, as Store.feed_states counts
-- it), its schedule, its errors and how many stories it carried.
CREATE VIEW feed_health AS
SELECT
    f.id,
    f.url,
    coalesce(f.name, f.title, f.url) AS name,
    CASE WHEN f.enabled = 0 THEN 'disabled' ELSE f.state END AS state,
    f.last_status,
    f.last_fetched_at,
    f.last_ok_at,
    f.next_fetch_at,
    f.error_count,
    f.last_error,
    (
        SELECT count(DISTINCT af.article_id) FROM article_feeds af WHERE af.feed_id = f.id
    ) AS article_count
FROM feeds f;

-- The link-resolution cache summed up by outcome.
CREATE VIEW link_outcomes AS
SELECT
    outcome,
    count(*) AS links,
    sum(failures > 0) AS failing,
    max(checked_at) AS last_checked_at
FROM links
GROUP BY outcome;
"""

_SCHEMA_V4 = """
-- Polite fetching (issue 5): the adaptive interval, where a feed has moved,
-- the 'gone' state (HTTP 410) and what the config said when it went.
ALTER TABLE feeds ADD COLUMN poll_interval_seconds INTEGER;  -- in use; NULL: interval_seconds
ALTER TABLE feeds ADD COLUMN posting_gap_seconds INTEGER;    -- observed time between posts
ALTER TABLE feeds ADD COLUMN last_post_at TEXT;              -- newest item date seen
ALTER TABLE feeds ADD COLUMN moved_to TEXT;                  -- a 301/308 target seen lately
ALTER TABLE feeds ADD COLUMN moved_count INTEGER NOT NULL DEFAULT 0;  -- fetches in a row
ALTER TABLE feeds ADD COLUMN settings_hash TEXT;             -- of the feed's config entry
-- final_url now means "fetched instead of url" (set after repeated permanent
-- redirects); the old value was only where the last fetch ended.
UPDATE feeds SET final_url = NULL;

DROP VIEW feed_health;
CREATE VIEW feed_health AS
SELECT
    f.id,
    f.url,
    coalesce(f.name, f.title, f.url) AS name,
    CASE WHEN f.enabled = 0 THEN 'disabled' ELSE f.state END AS state,
    f.final_url,
    coalesce(f.poll_interval_seconds, f.interval_seconds) AS interval_seconds,
    f.last_status,
    f.last_fetched_at,
    f.last_ok_at,
    f.next_fetch_at,
    f.error_count,
    f.last_error,
    (
        SELECT count(DISTINCT af.article_id) FROM article_feeds af WHERE af.feed_id = f.id
    ) AS article_count
FROM feeds f;
"""

_SCHEMA_V5 = """
-- Clean articles (issue 4): date sanity, size, enclosures, exact and near
-- duplicates.
-- date_flag: missing | too_old | future; then published_at is first_seen_at.
ALTER TABLE articles ADD COLUMN date_flag TEXT;
ALTER TABLE articles ADD COLUMN published_raw TEXT;   -- the item's own date string
ALTER TABLE articles ADD COLUMN word_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE articles ADD COLUMN enclosures TEXT NOT NULL DEFAULT '[]';  -- [{url, type, length}]
-- text_hash: of content_text, when long enough to identify a story
ALTER TABLE articles ADD COLUMN text_hash TEXT;
CREATE INDEX articles_text_hash ON articles (text_hash) WHERE text_hash IS NOT NULL;

-- MinHash signatures (feedd/neardup.py) and their LSH band keys: a new
-- article is compared only with articles sharing a band key.
CREATE TABLE article_signatures (
    article_id INTEGER PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE,
    signature BLOB NOT NULL
);
CREATE TABLE article_bands (
    band TEXT NOT NULL,
    article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    PRIMARY KEY (band, article_id)
) WITHOUT ROWID;
"""

_SCHEMA_V6 = """
-- Incremental digests (feedd/digest.py): an item of the feed's last document
-- stored with the raw_hash the next document gives it is not cleaned again.
-- raw_hash: of the item as parsed and of what cleaning it depended on.
ALTER TABLE article_feeds ADD COLUMN raw_hash TEXT;
-- feedd's own JSON (digest.Memory): the last document's item hashes, the
-- boilerplate lines learned and the items they were learned from. Apart from
-- feeds, whose rows every poll rewrites.
CREATE TABLE feed_digests (
    feed_id INTEGER PRIMARY KEY REFERENCES feeds (id) ON DELETE CASCADE,
    state TEXT NOT NULL
);
"""

_SCHEMA_V7 = """
-- dedupe's episode rule: the same guid and enclosure in another feed is one story.
CREATE INDEX article_feeds_guid ON article_feeds (guid);
"""

# MIGRATIONS[n] takes the schema from version n to n + 1. Append only.
MIGRATIONS: tuple[str, ...] = (
    _SCHEMA_V1,
    _SCHEMA_V2,
    _SCHEMA_V3,
    _SCHEMA_V4,
    _SCHEMA_V5,
    _SCHEMA_V6,
    _SCHEMA_V7,
)
SCHEMA_VERSION = len(MIGRATIONS)

# dedupe compares a new copy with the start of a stored text (dedupe.is_lead).
_LEAD_CHARS = 2_000


# A configured feed: added (due at once), or its settings updated.
_UPSERT_FEED = """
INSERT INTO feeds (url, name, tags, enabled, interval_seconds, settings_hash, created_at)
VALUES (:url, :name, :tags, :enabled, :interval, :settings, :created)
ON CONFLICT (url) DO UPDATE SET
    name = excluded.name, tags = excluded.tags,
    enabled = excluded.enabled, interval_seconds = excluded.interval_seconds,
    settings_hash = excluded.settings_hash,
    -- a changed interval counts from the last fetch, not the next one
    next_fetch_at = CASE
        WHEN state = 'gone' AND settings_hash IS NOT excluded.settings_hash
        THEN NULL
        WHEN interval_seconds != excluded.interval_seconds
             AND last_fetched_at IS NOT NULL
        THEN strftime('%Y-%m-%dT%H:%M:%SZ', last_fetched_at,
                      '+' || excluded.interval_seconds || ' seconds')
        ELSE next_fetch_at END,
    poll_interval_seconds = CASE
        WHEN interval_seconds != excluded.interval_seconds THEN NULL
        ELSE poll_interval_seconds END,
    -- a gone feed (HTTP 410) is tried again once its entry is edited
    state = CASE
        WHEN state = 'gone' AND settings_hash IS NOT excluded.settings_hash
        THEN 'new' ELSE state END
"""


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


def settings_hash(feed: FeedSettings) -> str:
    """Fingerprint of a feed's config entry (credentials and headers left out)."""
    fields = [feed.url, feed.name, feed.interval, feed.tags, feed.enabled, feed.resolve]
    return hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Counts:
    new: int = 0
    updated: int = 0
    linked: int = 0
    unchanged: int = 0


class Store:
    """One write connection to the database. Use from one thread at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
            )
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open database {path}: {exc}") from None
        self.db = sqlite_utils.Database(conn)
        self.conn = conn
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise StoreError(f"cannot put {path} in WAL mode (got {mode})")
            # NORMAL is durable in WAL mode against process crashes; a power
            # loss may lose the last transactions but never corrupts the file.
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"cannot use database {path}: {exc}") from None
        except BaseException:
            conn.close()
            raise

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- schema

    def _migrate(self) -> None:
        with self.transaction():
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} has schema version {version}; this feedd knows up to "
                    f"{SCHEMA_VERSION}. Upgrade feedd."
                )
            for number in range(version, SCHEMA_VERSION):
                for statement in _split_statements(MIGRATIONS[number]):
                    self.conn.execute(statement)
            # PRAGMA takes no parameters; the value is our own integer.
            self.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    # -- transactions

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception.

        When the storage refuses the write (disk full, I/O error, the lock
        still held by another writer after the busy timeout), the error is a
        StoreError naming the database, with SQLite's reason.
        """
        if self.conn.in_transaction:
            raise StoreError("nested transaction")
        with self._refusals():
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield
                self.conn.execute("COMMIT")
            except BaseException:
                # After SQLITE_FULL or SQLITE_IOERR (in a statement or in
                # COMMIT), SQLite may have rolled back already: a second
                # ROLLBACK would fail and hide the reason.
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise

    def _write(self, sql: str, params: Sequence[Any]) -> None:
        """One statement outside transaction(), refusals turned into StoreError."""
        with self._refusals():
            self.conn.execute(sql, params)

    @contextmanager
    def _refusals(self) -> Iterator[None]:
        """Turn the storage's refusals (_REFUSED) into StoreError."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF in _REFUSED:
                raise StoreError(f"cannot write to {self.path}: {exc}") from exc
            raise

    # -- feeds

    def sync_feeds(self, feeds: Sequence[FeedSettings], now: datetime) -> None:
        """Make the feeds table match the config: add new feeds (due at once),
        update settings, disable feeds no longer configured (their articles stay).

        Only rows whose settings changed are written: a start or a reload with
        the same config reads the table and writes nothing."""
        created = format_timestamp(now)
        with self.transaction():
            stored = {
                url: (settings, enabled)
                for url, settings, enabled in self.conn.execute(
                    "SELECT url, settings_hash, enabled FROM feeds"
                )
            }
            configured = {feed.url: settings_hash(feed) for feed in feeds}
            self.conn.executemany(
                _UPSERT_FEED,
                (
                    {
                        "url": feed.url,
                        "name": feed.name,
                        "tags": json.dumps(list(feed.tags), ensure_ascii=False),
                        "enabled": int(feed.enabled),
                        "interval": round(feed.interval),
                        "settings": configured[feed.url],
                        "created": created,
                    }
                    for feed in feeds
                    if stored.get(feed.url) != (configured[feed.url], int(feed.enabled))
                ),
            )
            self.conn.executemany(
                "UPDATE feeds SET enabled = 0 WHERE url = ?",
                (
                    (url,)
                    for url, (_, enabled) in stored.items()
                    if enabled and url not in configured
                ),
            )

    def _due_feed(self, row: sqlite3.Row | tuple[Any, ...]) -> DueFeed:
        (id_, url, interval, errors, etag, last_modified, body_hash, final_url, poll_interval,
         gap, last_post_at, moved_to, moved_count, state) = row  # fmt: skip
        return DueFeed(
            id=id_,
            url=url,
            interval=float(interval),
            error_count=errors,
            source=FeedSource(url, etag, last_modified, body_hash, final_url),
            poll_interval=None if poll_interval is None else float(poll_interval),
            posting_gap=None if gap is None else float(gap),
            last_post_at=parse_timestamp(last_post_at),
            moved_to=moved_to,
            moved_count=moved_count,
            state=state,
        )

    _DUE_COLUMNS = (
        "id, url, interval_seconds, error_count, etag, last_modified, body_hash, final_url, "
        "poll_interval_seconds, posting_gap_seconds, last_post_at, moved_to, moved_count, state"
    )

    def due_feeds(
        self, now: datetime, limit: int, exclude: Iterable[int] = ()
    ) -> tuple[DueFeed, ...]:
        """Enabled feeds whose next_fetch_at has come (never-fetched feeds first)."""
        skip = set(exclude)
        wanted = limit + len(skip)
        # Two index range scans (feeds_due: enabled, next_fetch_at), never a sort of
        # every feed: never-fetched feeds first, then the most overdue.
        rows = self.conn.execute(
            f"""
            SELECT {self._DUE_COLUMNS} FROM feeds
            WHERE enabled = 1 AND next_fetch_at IS NULL AND state != 'gone'
            LIMIT ?
            """,
            (wanted,),
        ).fetchall()
        if len(rows) < wanted:
            rows += self.conn.execute(
                f"""
                SELECT {self._DUE_COLUMNS} FROM feeds
                WHERE enabled = 1 AND next_fetch_at <= ? AND state != 'gone'
                ORDER BY next_fetch_at
                LIMIT ?
                """,
                (format_timestamp(now), wanted - len(rows)),
            ).fetchall()
        return tuple(self._due_feed(r) for r in rows if r[0] not in skip)[:limit]

    def feeds_by_url(self, urls: Iterable[str]) -> tuple[DueFeed, ...]:
        """The named feeds (enabled or not), in the order given."""
        found = []
        for url in urls:
            row = self.conn.execute(
                f"SELECT {self._DUE_COLUMNS} FROM feeds WHERE url = ?", (url,)
            ).fetchone()
            if row is not None:
                found.append(self._due_feed(row))
        return tuple(found)

    # -- recording a fetch

    def record_not_modified(
        self,
        feed_id: int,
        *,
        status: int,
        etag: str | None,
        last_modified: str | None,
        now: datetime,
        next_fetch_at: datetime,
        poll_interval: float,
        move: Relocation,
    ) -> None:
        self._write(
            """
            UPDATE feeds SET state = 'ok', etag = ?, last_modified = ?, last_status = ?,
                last_fetched_at = ?, last_ok_at = ?, error_count = 0, last_error = NULL,
                next_fetch_at = ?, poll_interval_seconds = ?, final_url = ?, moved_to = ?,
                moved_count = ?
            WHERE id = ?
            """,
            (
                etag,
                last_modified,
                status,
                format_timestamp(now),
                format_timestamp(now),
                format_timestamp(next_fetch_at),
                round(poll_interval),
                move.final_url,
                move.moved_to,
                move.moved_count,
                feed_id,
            ),
        )

    def record_failure(
        self,
        feed_id: int,
        *,
        error: str,
        status: int | None,
        now: datetime,
        next_fetch_at: datetime,
    ) -> None:
        self._write(
            """
            UPDATE feeds SET state = 'failing', last_status = ?, last_fetched_at = ?,
                error_count = error_count + 1, last_error = ?, next_fetch_at = ?
            WHERE id = ?
            """,
            (status, format_timestamp(now), error[:2000], format_timestamp(next_fetch_at), feed_id),
        )

    def record_gone(self, feed_id: int, *, error: str, status: int, now: datetime) -> None:
        """HTTP 410: the feed is not polled again until its config entry changes."""
        self._write(
            """
            UPDATE feeds SET state = 'gone', last_status = ?, last_fetched_at = ?,
                error_count = error_count + 1, last_error = ?, next_fetch_at = NULL
            WHERE id = ?
            """,
            (status, format_timestamp(now), error[:2000], feed_id),
        )

    def record_success(
        self,
        feed_id: int,
        *,
        status: int,
        etag: str | None,
        last_modified: str | None,
        body_hash: str,
        title: str | None,
        site_url: str | None,
        now: datetime,
        next_fetch_at: datetime,
        poll_interval: float,
        posting_gap: float | None,
        last_post_at: datetime | None,
        move: Relocation,
    ) -> None:
        self.conn.execute(
            """
            UPDATE feeds SET state = 'ok', last_status = ?, etag = ?,
                last_modified = ?, body_hash = ?, title = coalesce(?, title),
                site_url = coalesce(?, site_url), last_fetched_at = ?, last_ok_at = ?,
                error_count = 0, last_error = NULL, next_fetch_at = ?,
                poll_interval_seconds = ?, posting_gap_seconds = ?,
                last_post_at = coalesce(?, last_post_at),
                final_url = ?, moved_to = ?, moved_count = ?
            WHERE id = ?
            """,
            (
                status,
                etag,
                last_modified,
                body_hash,
                title,
                site_url,
                format_timestamp(now),
                format_timestamp(now),
                format_timestamp(next_fetch_at),
                round(poll_interval),
                None if posting_gap is None else round(posting_gap),
                format_timestamp(last_post_at),
                move.final_url,
                move.moved_to,
                move.moved_count,
                feed_id,
            ),
        )

    def digest_state(self, feed_id: int) -> str | None:
        """What the feed's last digest left for the next one (``save_digest_state``)."""
        row = self.conn.execute("SELECT state FROM feed_digests WHERE feed_id = ?", (feed_id,))
        found = row.fetchone()
        return None if found is None else str(found[0])

    def save_digest_state(self, feed_id: int, state: str) -> None:
        """Call inside the transaction that stores the items the state describes."""
        self.conn.execute(
            "INSERT INTO feed_digests (feed_id, state) VALUES (?, ?) "
            "ON CONFLICT (feed_id) DO UPDATE SET state = excluded.state",
            (feed_id, state),
        )

    def still_stored(self, feed_id: int, items: Sequence[tuple[str, str]]) -> bool:
        """Whether every (guid, raw_hash) is stored for the feed as it was: retention,
        or another writer, may have deleted some since a digest relied on them."""
        stored = {
            item.guid: item.raw_hash for item in self._stored_items(feed_id, (g for g, _ in items))
        }
        return all(stored.get(guid) == hashed for guid, hashed in items)

    # -- the link cache

    def stored_guids(self, feed_id: int, guids: Sequence[str]) -> frozenset[str]:
        """Which of these guids this feed already has stored (never resolved again)."""
        return frozenset(item.guid for item in self._stored_items(feed_id, guids))

    def _stored_items(self, feed_id: int, guids: Iterable[str]) -> list[KnownItem]:
        items: list[KnownItem] = []
        for chunk in _chunks(list(dict.fromkeys(guids))):
            marks = ",".join("?" * len(chunk))
            items.extend(
                KnownItem(guid, article_id, content_hash, raw_hash)
                for guid, article_id, content_hash, raw_hash in self.conn.execute(
                    f"SELECT guid, article_id, content_hash, raw_hash FROM article_feeds "
                    f"WHERE feed_id = ? AND guid IN ({marks})",
                    (feed_id, *chunk),
                )
            )
        return items

    def cached_links(self, urls: Sequence[str]) -> dict[str, CachedLink]:
        """The cache rows for these links, fresh or expired."""
        found: dict[str, CachedLink] = {}
        unique = list(dict.fromkeys(urls))
        for chunk in _chunks(unique):
            marks = ",".join("?" * len(chunk))
            for url, resolved, outcome, failures, expires in self.conn.execute(
                "SELECT url, resolved_url, outcome, failures, expires_at FROM links "
                f"WHERE url IN ({marks})",
                chunk,
            ):
                expires_at = parse_timestamp(expires)
                if expires_at is not None:
                    found[url] = CachedLink(url, resolved, outcome, failures, expires_at)
        return found

    def save_link(
        self, resolution: Resolution, *, failures: int, checked_at: datetime, expires_at: datetime
    ) -> None:
        """Record a resolution (call inside the feed's transaction)."""
        chain = json.dumps([[hop.status, hop.url] for hop in resolution.hops], ensure_ascii=False)
        self.conn.execute(
            """
            INSERT INTO links (url, resolved_url, outcome, http_status, hops, chain, error,
                failures, checked_at, expires_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (url) DO UPDATE SET
                resolved_url = excluded.resolved_url, outcome = excluded.outcome,
                http_status = excluded.http_status, hops = excluded.hops,
                chain = excluded.chain, error = excluded.error, failures = excluded.failures,
                checked_at = excluded.checked_at, expires_at = excluded.expires_at
            """,
            (
                resolution.url,
                resolution.resolved_url,
                resolution.outcome,
                resolution.status,
                sum(1 for hop in resolution.hops if hop.location),
                chain,
                resolution.error,
                failures,
                format_timestamp(checked_at),
                format_timestamp(expires_at),
            ),
        )

    # -- articles

    def known(self, feed_id: int, entries: Sequence[Entry], kept: Sequence[Kept] = ()) -> Known:
        """What dedupe needs: this feed's stored items (of the entries and the kept
        items), the articles with the same URL or the same text (from any feed), and
        other feeds' episodes with the entries' guids."""
        url_of: dict[str, str | None] = {}
        for guid, url in [*((e.guid, e.url) for e in entries), *((k.guid, k.url) for k in kept)]:
            url_of.setdefault(guid, url)  # dedupe reads a repeated guid's first
        items = self._stored_items(feed_id, url_of)
        # A stored item is compared with the new ones (dedupe.same_story) only when
        # it carries the URL of one: its article's title and lead are read for those.
        stored = {item.guid for item in items}
        new_urls = {e.url for e in entries if e.url and e.guid not in stored}
        compared = {i.article_id for i in items if url_of.get(i.guid) in new_urls}
        articles: dict[int, tuple[str | None, str | None, int]] = {}
        for chunk in _chunks(sorted(compared)):
            marks = ",".join("?" * len(chunk))
            for id_, title, lead, words in self.conn.execute(
                f"SELECT id, title, substr(coalesce(content_text, summary), 1, {_LEAD_CHARS}), "
                f"word_count FROM articles WHERE id IN ({marks})",
                chunk,
            ):
                articles[id_] = (title, lead, words)
        items = [
            dataclasses.replace(item, title=a[0], lead=a[1], word_count=a[2])
            if (a := articles.get(item.article_id))
            else item
            for item in items
        ]
        found: dict[int, KnownArticle] = {}
        for column, values in (
            ("url", [e.url for e in entries if e.url]),
            ("text_hash", [e.text_hash for e in entries if e.text_hash]),
        ):
            for chunk in _chunks(list(dict.fromkeys(values))):
                marks = ",".join("?" * len(chunk))
                for id_, url, text_hash, words, title, lead in self.conn.execute(
                    f"SELECT id, url, text_hash, word_count, title, "
                    f"substr(coalesce(content_text, summary), 1, {_LEAD_CHARS}) FROM articles "
                    f"WHERE {column} IN ({marks})",
                    chunk,
                ):
                    found[id_] = KnownArticle(id_, url, text_hash, words, title, lead)
        episodes: list[tuple[str, str, int]] = []
        with_enclosures = [e.guid for e in entries if e.enclosures]
        for chunk in _chunks(list(dict.fromkeys(with_enclosures))):
            marks = ",".join("?" * len(chunk))
            for guid, article_id, enclosures, words, url in self.conn.execute(
                f"SELECT f.guid, a.id, a.enclosures, a.word_count, a.url "
                f"FROM article_feeds f JOIN articles a ON a.id = f.article_id "
                f"WHERE f.guid IN ({marks}) AND f.feed_id != ? AND a.enclosures != '[]'",
                (*chunk, feed_id),
            ):
                for enclosure in json.loads(enclosures):
                    if enclosure.get("url"):
                        episodes.append((guid, enclosure["url"], article_id))
                found.setdefault(article_id, KnownArticle(article_id, url, None, words))
        return Known(items=tuple(items), articles=tuple(found.values()), episodes=tuple(episodes))

    def apply(
        self,
        feed_id: int,
        intents: Iterable[Intent],
        *,
        language: str | None,
        now: datetime,
        estimate_dates: bool = True,
    ) -> tuple[Counts, tuple[tuple[int, Entry], ...]]:
        """Write the intents of one feed. Call inside transaction().

        ``estimate_dates``: an article inserted without a usable date is dated by
        ``now`` (its date_flag says so); else it is stored undated.

        Returns the counts and the articles whose text was written (inserted,
        updated, enriched), for near-duplicate detection.
        """
        if not self.conn.in_transaction:
            raise StoreError("apply() must run inside a transaction")
        seen_at = format_timestamp(now)
        counts = dict.fromkeys(Action, 0)
        written: list[tuple[int, Entry]] = []
        inserted: dict[str, int] = {}  # guid -> article: for copies of a story in this batch
        # Inserts first: a copy of the same story may stand before its inserted copy.
        ordered = sorted(intents, key=lambda i: i.action is not Action.INSERT)
        for intent in ordered:
            entry = intent.entry
            if intent.action is Action.INSERT:
                estimate = seen_at if estimate_dates else None
                article_id = self._insert_article(entry, language, seen_at, estimate)
                self._link(article_id, feed_id, entry, seen_at)
                written.append((article_id, entry))
                inserted[entry.guid] = article_id
            elif intent.action in (Action.LINK, Action.ENRICH):
                target = intent.article_id
                if target is None and intent.same_as is not None:
                    target = inserted.get(intent.same_as)
                if target is None:
                    raise StoreError(f"link without an article id: {entry.guid!r}")
                self._link(target, feed_id, entry, seen_at)
                if intent.action is Action.ENRICH:
                    self._update_article(target, entry, seen_at)
                    written.append((target, entry))
            elif intent.action is Action.UPDATE:
                if intent.article_id is None:
                    raise StoreError(f"update without an article id: {entry.guid!r}")
                self._update_article(intent.article_id, entry, seen_at)
                self.conn.execute(
                    "UPDATE article_feeds SET content_hash = ?, link = ?, raw_hash = ? "
                    "WHERE feed_id = ? AND guid = ?",
                    (entry.content_hash, entry.link, entry.raw_hash, feed_id, entry.guid),
                )
                written.append((intent.article_id, entry))
            elif intent.article_id is not None and entry.raw_hash is not None:
                # Unchanged, and read whole: its raw hash may be new (stored before
                # raw hashes were, or cleaned with other learned lines, to the same text).
                self.conn.execute(
                    "UPDATE article_feeds SET raw_hash = ? "
                    "WHERE feed_id = ? AND guid = ? AND raw_hash IS NOT ?",
                    (entry.raw_hash, feed_id, entry.guid, entry.raw_hash),
                )
            counts[intent.action] += 1
        totals = Counts(
            new=counts[Action.INSERT],
            updated=counts[Action.UPDATE] + counts[Action.ENRICH],
            linked=counts[Action.LINK] + counts[Action.ENRICH],
            unchanged=counts[Action.SKIP],
        )
        return totals, tuple(written)

    def _article_values(
        self, entry: Entry, seen_at: str | None, estimate: str | None = None
    ) -> dict[str, Any]:
        return {
            "title": entry.title,
            "summary": entry.summary,
            "content_text": entry.content_text,
            "content_html": entry.content_html,
            "author": entry.author,
            # No usable date: the estimate, if any, stands in; date_flag says so.
            "published_at": format_timestamp(entry.published_at) or estimate,
            "updated_at": format_timestamp(entry.updated_at),
            "tags": json.dumps(list(entry.tags), ensure_ascii=False),
            "date_flag": entry.date_flag,
            "published_raw": entry.published_raw,
            "word_count": entry.word_count,
            "enclosures": json.dumps(
                [{"url": e.url, "type": e.type, "length": e.length} for e in entry.enclosures],
                ensure_ascii=False,
            ),
            "text_hash": entry.text_hash,
            "seen_at": seen_at,
        }

    def _insert_article(
        self, entry: Entry, language: str | None, seen_at: str | None, estimate: str | None
    ) -> int:
        values = self._article_values(entry, seen_at, estimate)
        cursor = self.conn.execute(
            """
            INSERT INTO articles (url, title, summary, content_text, content_html, author,
                published_at, updated_at, first_seen_at, modified_at, language, tags,
                date_flag, published_raw, word_count, enclosures, text_hash)
            VALUES (:url, :title, :summary, :content_text, :content_html, :author,
                :published_at, :updated_at, :seen_at, :seen_at, :language, :tags,
                :date_flag, :published_raw, :word_count, :enclosures, :text_hash)
            """,
            {**values, "url": entry.url, "language": entry.language or language},
        )
        if cursor.lastrowid is None:
            raise StoreError("INSERT INTO articles returned no rowid")
        return cursor.lastrowid

    def _link(self, article_id: int, feed_id: int, entry: Entry, seen_at: str | None) -> None:
        self.conn.execute(
            """
            INSERT INTO article_feeds (article_id, feed_id, guid, link, content_hash,
                first_seen_at, raw_hash)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """,
            (
                article_id,
                feed_id,
                entry.guid,
                entry.link,
                entry.content_hash,
                seen_at,
                entry.raw_hash,
            ),
        )

    def _update_article(self, article_id: int, entry: Entry, seen_at: str | None) -> None:
        # The URL is the article's identity (and may come from link
        # resolution, which an update does not repeat): it never changes here.
        # A date the new version lacks keeps the stored one.
        self.conn.execute(
            """
            UPDATE articles SET
                title = :title, summary = :summary, content_text = :content_text,
                content_html = :content_html, author = coalesce(:author, author),
                published_at = CASE WHEN :date_flag IS NULL THEN :published_at
                                    ELSE published_at END,
                date_flag = CASE WHEN :date_flag IS NULL THEN NULL ELSE date_flag END,
                published_raw = coalesce(:published_raw, published_raw),
                updated_at = :updated_at, tags = :tags, word_count = :word_count,
                enclosures = :enclosures, text_hash = :text_hash,
                language = coalesce(:language, language), modified_at = :seen_at
            WHERE id = :id
            """,
            {**self._article_values(entry, seen_at), "id": article_id, "language": entry.language},
        )

    def has_polled(self, feed_id: int) -> bool:
        """Whether a poll of this feed has succeeded before."""
        row = self.conn.execute("SELECT last_ok_at FROM feeds WHERE id = ?", (feed_id,)).fetchone()
        return row is not None and row[0] is not None

    def articles_sharing_urls(self) -> tuple[KnownArticle, ...]:
        """Articles whose canonical URL another article has too (dedupe.repairs)."""
        rows = self.conn.execute(
            f"""
            SELECT id, url, text_hash, word_count, title,
                substr(coalesce(content_text, summary), 1, {_LEAD_CHARS})
            FROM articles WHERE url IN (
                SELECT url FROM articles WHERE url IS NOT NULL GROUP BY url HAVING count(*) > 1
            ) ORDER BY url, id
            """
        )
        return tuple(KnownArticle(*row) for row in rows)

    def merge_articles(self, merge: Merge, now: datetime) -> None:
        """One article out of several (dedupe.repairs): the kept one takes the fullest
        one's text and signature, every item of the others, and the near-duplicates
        that pointed at them. Call inside transaction()."""
        if not self.conn.in_transaction:
            raise StoreError("merge_articles() must run inside a transaction")
        keep, merged = merge.keep, list(merge.merged)
        if merge.text_from != keep:
            self.conn.execute(
                """
                UPDATE articles SET (title, summary, content_text, content_html, author,
                    updated_at, tags, word_count, enclosures, text_hash, language) =
                    (SELECT f.title, f.summary, f.content_text, f.content_html,
                        coalesce(f.author, articles.author), f.updated_at, f.tags,
                        f.word_count, f.enclosures, f.text_hash,
                        coalesce(f.language, articles.language)
                     FROM articles f WHERE f.id = :source)
                WHERE id = :keep
                """,
                {"source": merge.text_from, "keep": keep},
            )
            self.conn.execute("DELETE FROM article_bands WHERE article_id = ?", (keep,))
            self.conn.execute("DELETE FROM article_signatures WHERE article_id = ?", (keep,))
            for table in ("article_signatures", "article_bands"):
                self.conn.execute(
                    f"UPDATE {table} SET article_id = ? WHERE article_id = ?",
                    (keep, merge.text_from),
                )
        for chunk in _chunks(merged):
            marks = ",".join("?" * len(chunk))
            self.conn.execute(
                f"UPDATE article_feeds SET article_id = ? WHERE article_id IN ({marks})",
                (keep, *chunk),
            )
            self.conn.execute(
                f"UPDATE articles SET duplicate_of = ? WHERE duplicate_of IN ({marks})",
                (keep, *chunk),
            )
            self.conn.execute(f"DELETE FROM articles WHERE id IN ({marks})", chunk)
        self.conn.execute(
            "UPDATE articles SET modified_at = ?, duplicate_of = nullif(duplicate_of, id) "
            "WHERE id = ?",
            (format_timestamp(now), keep),
        )

    # -- near-duplicates (the decisions are neardup's and dedupe's)

    def signature_of(self, article_id: int) -> bytes | None:
        row = self.conn.execute(
            "SELECT signature FROM article_signatures WHERE article_id = ?", (article_id,)
        ).fetchone()
        return None if row is None else bytes(row[0])

    def save_signature(
        self,
        article_id: int,
        signature: bytes | None,
        bands: Sequence[str],
        old_bands: Sequence[str] = (),
    ) -> None:
        """Replace an article's signature and band keys (old_bands: those it had)."""
        for chunk in _chunks(list(old_bands)):
            marks = ",".join("?" * len(chunk))
            self.conn.execute(
                f"DELETE FROM article_bands WHERE article_id = ? AND band IN ({marks})",
                (article_id, *chunk),
            )
        if signature is None:
            self.conn.execute("DELETE FROM article_signatures WHERE article_id = ?", (article_id,))
            return
        self.conn.execute(
            "INSERT OR REPLACE INTO article_signatures (article_id, signature) VALUES (?, ?)",
            (article_id, signature),
        )
        self.conn.executemany(
            "INSERT OR IGNORE INTO article_bands (band, article_id) VALUES (?, ?)",
            [(band, article_id) for band in bands],
        )

    def near_candidates(
        self, article_id: int, bands: Sequence[str], window: timedelta
    ) -> tuple[tuple[int, bytes], ...]:
        """Articles sharing a band key with this one, published within ``window`` of it,
        that no feed of this article also carries (a feed's own items are its own
        stories, however alike: templated posts). (id, signature) pairs."""
        if not bands:
            return ()
        # An undated article is compared around the time it was first seen.
        row = self.conn.execute(
            "SELECT coalesce(published_at, first_seen_at) FROM articles WHERE id = ?",
            (article_id,),
        ).fetchone()
        center = parse_timestamp(row[0]) if row else None
        if center is None:
            return ()
        marks = ",".join("?" * len(bands))
        rows = self.conn.execute(
            f"""
            SELECT DISTINCT s.article_id, s.signature
            FROM article_bands b
            JOIN article_signatures s ON s.article_id = b.article_id
            JOIN articles a ON a.id = b.article_id
            WHERE b.band IN ({marks}) AND b.article_id != ?
              AND coalesce(a.published_at, a.first_seen_at) BETWEEN ? AND ?
              AND NOT EXISTS (
                  SELECT 1 FROM article_feeds mine JOIN article_feeds theirs
                      ON theirs.feed_id = mine.feed_id
                  WHERE mine.article_id = ? AND theirs.article_id = a.id
              )
            """,
            (
                *bands,
                article_id,
                format_timestamp(center - window),
                format_timestamp(center + window),
                article_id,
            ),
        ).fetchall()
        return tuple((id_, bytes(blob)) for id_, blob in rows)

    def duplicate_group(
        self, article_ids: Iterable[int]
    ) -> tuple[tuple[int, datetime | None], ...]:
        """Every article in the near-duplicate groups of these: them, the articles they
        point at, and every article pointing at those. (id, published_at) pairs."""
        ids = set(article_ids)
        for chunk in _chunks(list(ids)):
            marks = ",".join("?" * len(chunk))
            ids.update(
                r[0]
                for r in self.conn.execute(
                    f"SELECT duplicate_of FROM articles WHERE id IN ({marks}) "
                    "AND duplicate_of IS NOT NULL",
                    chunk,
                )
            )
        members: dict[int, datetime | None] = {}
        for chunk in _chunks(list(ids)):
            marks = ",".join("?" * len(chunk))
            for id_, published in self.conn.execute(
                f"SELECT id, published_at FROM articles WHERE id IN ({marks}) "
                f"OR duplicate_of IN ({marks})",
                (*chunk, *chunk),
            ):
                members[id_] = parse_timestamp(published)
        return tuple(members.items())

    def point_group(self, members: Iterable[int], root: int) -> None:
        """Make root the group's original and every other member point at it."""
        others = [m for m in members if m != root]
        self.conn.execute("UPDATE articles SET duplicate_of = NULL WHERE id = ?", (root,))
        for chunk in _chunks(others):
            marks = ",".join("?" * len(chunk))
            self.conn.execute(
                f"UPDATE articles SET duplicate_of = ? WHERE id IN ({marks}) "
                "AND duplicate_of IS NOT ?",
                (root, *chunk, root),
            )

    # -- maintenance and checks

    def housekeeping(
        self, now: datetime, max_age: float | None = None, max_per_feed: int | None = None
    ) -> int:
        """Retention, then WAL checkpoint and PRAGMA optimize. Returns articles deleted.

        max_age: delete articles first seen longer ago. max_per_feed: each feed
        keeps its newest N; an article goes when no feed keeps it. Never
        deletes anything younger than the limits.
        """
        deleted = 0
        if max_age is not None or max_per_feed is not None:
            with self.transaction():
                if max_age is not None:
                    cutoff = format_timestamp(now - timedelta(seconds=max_age))
                    self.conn.execute(
                        "DELETE FROM article_feeds WHERE article_id IN "
                        "(SELECT id FROM articles WHERE first_seen_at < ?)",
                        (cutoff,),
                    )
                    self.conn.execute(
                        "DELETE FROM links WHERE checked_at < ? AND expires_at < ?",
                        (cutoff, format_timestamp(now)),
                    )
                if max_per_feed is not None:
                    self.conn.execute(
                        """
                        DELETE FROM article_feeds WHERE rowid IN (
                            SELECT af.rowid FROM (
                                SELECT af.rowid, row_number() OVER (
                                    PARTITION BY af.feed_id
                                    ORDER BY coalesce(a.published_at, a.first_seen_at) DESC,
                                             a.id DESC
                                ) AS rank
                                FROM article_feeds af JOIN articles a ON a.id = af.article_id
                            ) af WHERE af.rank > ?
                        )
                        """,
                        (max_per_feed,),
                    )
                # Articles no feed carries any more; copies pointing at them are
                # no longer copies of anything stored.
                orphans = (
                    "SELECT id FROM articles WHERE id NOT IN (SELECT article_id FROM article_feeds)"
                )
                self.conn.execute(
                    f"UPDATE articles SET duplicate_of = NULL WHERE duplicate_of IN ({orphans})"
                )
                deleted = self.conn.execute(
                    f"DELETE FROM articles WHERE id IN ({orphans})"
                ).rowcount
        self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        self.conn.execute("PRAGMA optimize")
        return deleted

    def wal_size(self) -> int:
        """Bytes of the -wal file (0 when there is none). Reads no table: any thread."""
        try:
            return Path(f"{self.path}-wal").stat().st_size
        except FileNotFoundError:
            return 0

    def trim_wal(self, limit: int = WAL_LIMIT) -> bool | None:
        """Checkpoint the whole WAL and truncate it once its file is over ``limit`` bytes.

        None: the file was not that big. True: truncated. False: a reader still
        holds an older snapshot after WAL_WAIT_MS (the frames before it are
        checkpointed; call again later). Call between transactions.
        """
        if self.wal_size() <= limit:
            return None
        # The checkpoint waits for readers through the busy handler: briefly,
        # as this thread is the one that writes the feeds.
        self.conn.execute(f"PRAGMA busy_timeout = {WAL_WAIT_MS}")
        try:
            busy, _, _ = self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        return not busy

    def integrity_problems(self) -> list[str]:
        """Empty when the file, the FTS index and the links between tables are sound."""
        problems = [row[0] for row in self.conn.execute("PRAGMA integrity_check") if row[0] != "ok"]
        try:
            self.conn.execute(
                "INSERT INTO articles_fts (articles_fts, rank) VALUES ('integrity-check', 1)"
            )
        except sqlite3.DatabaseError as exc:
            problems.append(f"articles_fts: {exc}")
        orphans = self.conn.execute(
            "SELECT count(*) FROM article_feeds WHERE article_id NOT IN (SELECT id FROM articles)"
        ).fetchone()[0]
        if orphans:
            problems.append(f"{orphans} article_feeds rows without their article")
        return problems

    def feed_states(self) -> dict[str, int]:
        """How many feeds are in each state; disabled feeds count as "disabled"."""
        return dict(
            self.conn.execute(
                "SELECT CASE WHEN enabled = 0 THEN 'disabled' ELSE state END, count(*) "
                "FROM feeds GROUP BY 1"
            ).fetchall()
        )

    def check_writable(self) -> None:
        """Raise StoreError unless a write transaction can start now."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute("ROLLBACK")
        except sqlite3.Error as exc:
            raise StoreError(f"database not writable: {exc}") from None

    def count(self, table: str) -> int:
        return self.db[table].count


def _chunks(values: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _split_statements(script: str) -> Iterator[str]:
    """Split a migration script into statements (triggers contain ';')."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        if line.strip().startswith("--") and not buffer.strip():
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                yield buffer.strip()
            buffer = ""
    if buffer.strip():
        yield buffer.strip()
