"""The database schema: today's, whole, and how each older version gets there.

``SCHEMA`` is what a new database is created with; ``MIGRATIONS[n]`` takes a
database of version n to n + 1 (append only: each is what shipped). A test
checks that migrating a version-1 database gives exactly the schema of a new
one. The schema is public API, documented in docs/schema.md and versioned with
PRAGMA user_version.
"""

from __future__ import annotations

SCHEMA = """
CREATE TABLE feeds (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL UNIQUE,            -- as configured; the feed's identity
    name TEXT,                           -- display name from the config
    title TEXT,                          -- the feed's own title
    site_url TEXT,                       -- the feed's own link to its site
    tags TEXT NOT NULL DEFAULT '[]',     -- JSON array, from the config
    enabled INTEGER NOT NULL DEFAULT 1,  -- 0: disabled or removed from the config
    interval_seconds INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'new',   -- new | ok | failing | gone
    final_url TEXT,                      -- fetched instead of url after repeated 301/308
    etag TEXT,
    last_modified TEXT,
    body_hash TEXT,                      -- sha256 of the last body parsed
    last_fetched_at TEXT,
    last_ok_at TEXT,
    last_status INTEGER,                 -- HTTP status of the last attempt
    error_count INTEGER NOT NULL DEFAULT 0,  -- consecutive failures
    last_error TEXT,
    next_fetch_at TEXT,                  -- NULL: due now
    created_at TEXT NOT NULL,
    poll_interval_seconds INTEGER,       -- in use; NULL: interval_seconds
    posting_gap_seconds INTEGER,         -- observed time between posts
    last_post_at TEXT,                   -- newest item date seen
    moved_to TEXT,                       -- a 301/308 target seen lately
    moved_count INTEGER NOT NULL DEFAULT 0,  -- fetches in a row
    settings_hash TEXT,                  -- of the feed's config entry
    imported INTEGER NOT NULL DEFAULT 0  -- 1: a source named by an imported archive, never polled
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
    published_at TEXT,                   -- NULL: undated (date_flag says why)
    updated_at TEXT,
    first_seen_at TEXT NOT NULL,
    modified_at TEXT NOT NULL,           -- when feedd last wrote this row
    language TEXT,
    tags TEXT NOT NULL DEFAULT '[]',     -- JSON array of the item's categories
    duplicate_of INTEGER REFERENCES articles (id),
    date_flag TEXT,                      -- missing | too_old | future | partial
    published_raw TEXT,                  -- the item's own date string
    word_count INTEGER NOT NULL DEFAULT 0,
    enclosures TEXT NOT NULL DEFAULT '[]',  -- [{url, type, length}]
    text_hash TEXT,                      -- of content_text, when long enough to identify a story
    content_source TEXT NOT NULL DEFAULT 'feed',  -- where content_text came from: feed | page
    image TEXT                           -- the lead image, from the article's page
);
CREATE INDEX articles_url ON articles (url);
CREATE INDEX articles_published_at ON articles (published_at);
CREATE INDEX articles_first_seen_at ON articles (first_seen_at);
CREATE INDEX articles_duplicate_of ON articles (duplicate_of) WHERE duplicate_of IS NOT NULL;
CREATE INDEX articles_text_hash ON articles (text_hash) WHERE text_hash IS NOT NULL;

CREATE TABLE article_feeds (
    article_id INTEGER NOT NULL REFERENCES articles (id),
    feed_id INTEGER NOT NULL REFERENCES feeds (id),
    guid TEXT NOT NULL,                  -- the item's id, or the fallback key
    link TEXT,                           -- the item link as the feed gave it
    content_hash TEXT,                   -- of the item as this feed last gave it
    first_seen_at TEXT NOT NULL,
    raw_hash TEXT,                       -- of the item as parsed and what cleaning it depended on
    UNIQUE (feed_id, guid)
);
CREATE INDEX article_feeds_article_id ON article_feeds (article_id);
-- dedupe's episode rule: the same guid and enclosure in another feed is one story.
CREATE INDEX article_feeds_guid ON article_feeds (guid);

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

-- Revision history: each version of an article's title, summary or text that
-- a later one replaced (an update of the same item, an enrichment from a
-- fuller copy, or a page fetched in full). The article row holds the current
-- version; at most [retention] max_revisions rows per article, the oldest
-- dropped first.
CREATE TABLE article_revisions (
    article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    revision INTEGER NOT NULL,           -- 1, 2, ... per article, oldest first
    title TEXT,                          -- the replaced version
    summary TEXT,
    content_text TEXT,
    content_hash TEXT NOT NULL,          -- sha256 of title, summary and content_text
    first_seen_at TEXT NOT NULL,         -- when this version was first stored
    last_seen_at TEXT NOT NULL,          -- its feed's last poll before it was replaced
    feed_id INTEGER REFERENCES feeds (id),  -- the feed that brought this version
    reason TEXT NOT NULL,                -- what replaced it: update | enrichment | page
    replaced_at TEXT NOT NULL,           -- when it was replaced
    replaced_by INTEGER REFERENCES feeds (id),  -- the feed that brought the replacement
    PRIMARY KEY (article_id, revision)
);
CREATE INDEX article_revisions_replaced_at ON article_revisions (replaced_at);

-- Article pages ([fulltext]): one row per article whose page was wanted,
-- queued when the article was stored; the page's text replaces the feed's
-- when it is fuller. A claimed row's next_attempt_at is pushed ahead, so a
-- poller that dies leaves it due again later, for any poller.
CREATE TABLE pages (
    article_id INTEGER PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE,
    url TEXT NOT NULL,                   -- the page: the article's URL when queued
    feed_id INTEGER REFERENCES feeds (id),  -- the feed whose item asked (its selector)
    reason TEXT NOT NULL,                -- why: always | trailer | ellipsis | short | ...
    state TEXT NOT NULL DEFAULT 'queued',  -- queued | stored | not_fuller | failed
    attempts INTEGER NOT NULL DEFAULT 0, -- requests tried (claims)
    next_attempt_at TEXT,                -- queued: not tried before this
    queued_at TEXT NOT NULL,
    fetched_at TEXT,                     -- the last attempt's end
    final_url TEXT,                      -- where the page was, after redirects
    http_status INTEGER,
    error TEXT,                          -- the last failure
    words INTEGER,                       -- of the page's article text
    filled TEXT NOT NULL DEFAULT '[]'    -- JSON: the article's fields the page filled in
);
CREATE INDEX pages_due ON pages (next_attempt_at) WHERE state = 'queued';

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

-- feedd's own JSON (digest.Memory): the last document's item hashes, the
-- boilerplate lines learned and the items they were learned from. Apart from
-- feeds, whose rows every poll rewrites.
CREATE TABLE feed_digests (
    feed_id INTEGER PRIMARY KEY REFERENCES feeds (id) ON DELETE CASCADE,
    state TEXT NOT NULL
);

-- Read-only views for sqlite3, sqlite-utils and Datasette; feedd
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

-- Each feed's state ("imported" for an archive's source, "disabled" when
-- enabled = 0, as Store.feed_states counts it), its schedule, its errors and
-- how many stories it carried.
CREATE VIEW feed_health AS
SELECT
    f.id,
    f.url,
    coalesce(f.name, f.title, f.url) AS name,
    CASE WHEN f.imported = 1 THEN 'imported' WHEN f.enabled = 0 THEN 'disabled'
        ELSE f.state END AS state,
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

-- The link-resolution cache summed up by outcome.
CREATE VIEW link_outcomes AS
SELECT
    outcome,
    count(*) AS links,
    sum(failures > 0) AS failing,
    max(checked_at) AS last_checked_at
FROM links
GROUP BY outcome;

-- Each edit of a story: the version replaced, the article's current title and
-- the feed that brought the replacement (ORDER BY replaced_at DESC: newest first).
CREATE VIEW latest_edits AS
SELECT
    r.article_id,
    a.title,
    r.title AS old_title,
    r.revision,
    r.reason,
    r.replaced_at,
    coalesce(f.name, f.title, f.url) AS feed,
    a.url
FROM article_revisions r
JOIN articles a ON a.id = r.article_id
LEFT JOIN feeds f ON f.id = r.replaced_by;
"""

# -- How each older version was brought forward: what shipped, never edited.

_V1 = """
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

_V2 = """
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

_V3 = """
-- Read-only views for sqlite3, sqlite-utils and Datasette; feedd
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

_V4 = """
-- Polite fetching: the adaptive interval, where a feed has moved,
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

_V5 = """
-- Clean articles: date sanity, size, enclosures, exact and near
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

_V6 = """
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

_V7 = """
-- dedupe's episode rule: the same guid and enclosure in another feed is one story.
CREATE INDEX article_feeds_guid ON article_feeds (guid);
"""

_V8 = """
-- Revision history: each version of an article's title, summary or text that
-- a later one replaced (an update of the same item, an enrichment from a
-- fuller copy, or a page fetched in full). The article row holds the current
-- version; at most [retention] max_revisions rows per article, the oldest
-- dropped first.
CREATE TABLE article_revisions (
    article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    revision INTEGER NOT NULL,           -- 1, 2, ... per article, oldest first
    title TEXT,                          -- the replaced version
    summary TEXT,
    content_text TEXT,
    content_hash TEXT NOT NULL,          -- sha256 of title, summary and content_text
    first_seen_at TEXT NOT NULL,         -- when this version was first stored
    last_seen_at TEXT NOT NULL,          -- its feed's last poll before it was replaced
    feed_id INTEGER REFERENCES feeds (id),  -- the feed that brought this version
    reason TEXT NOT NULL,                -- what replaced it: update | enrichment | page
    replaced_at TEXT NOT NULL,           -- when it was replaced
    replaced_by INTEGER REFERENCES feeds (id),  -- the feed that brought the replacement
    PRIMARY KEY (article_id, revision)
);
CREATE INDEX article_revisions_replaced_at ON article_revisions (replaced_at);

-- Each edit of a story: the version replaced, the article's current title and
-- the feed that brought the replacement (ORDER BY replaced_at DESC: newest first).
CREATE VIEW latest_edits AS
SELECT
    r.article_id,
    a.title,
    r.title AS old_title,
    r.revision,
    r.reason,
    r.replaced_at,
    coalesce(f.name, f.title, f.url) AS feed,
    a.url
FROM article_revisions r
JOIN articles a ON a.id = r.article_id
LEFT JOIN feeds f ON f.id = r.replaced_by;
"""

_V9 = """
-- Importing an archive (feedd import applet): the feed an imported story came
-- from is a row of its own, never polled (enabled = 0, imported = 1).
ALTER TABLE feeds ADD COLUMN imported INTEGER NOT NULL DEFAULT 0;
-- date_flag "partial": a date whose month was lost; published_at stays NULL
-- until a copy of the story with a full date arrives.
DROP VIEW feed_health;
CREATE VIEW feed_health AS
SELECT
    f.id,
    f.url,
    coalesce(f.name, f.title, f.url) AS name,
    CASE WHEN f.imported = 1 THEN 'imported' WHEN f.enabled = 0 THEN 'disabled'
        ELSE f.state END AS state,
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

_V10 = """
-- Article pages ([fulltext]): where each article's text came from, the page's
-- lead image, and the queue of pages to fetch.
ALTER TABLE articles ADD COLUMN content_source TEXT NOT NULL DEFAULT 'feed';
ALTER TABLE articles ADD COLUMN image TEXT;
-- One row per article whose page was wanted,
-- queued when the article was stored; the page's text replaces the feed's
-- when it is fuller. A claimed row's next_attempt_at is pushed ahead, so a
-- poller that dies leaves it due again later, for any poller.
CREATE TABLE pages (
    article_id INTEGER PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE,
    url TEXT NOT NULL,                   -- the page: the article's URL when queued
    feed_id INTEGER REFERENCES feeds (id),  -- the feed whose item asked (its selector)
    reason TEXT NOT NULL,                -- why: always | trailer | ellipsis | short | ...
    state TEXT NOT NULL DEFAULT 'queued',  -- queued | stored | not_fuller | failed
    attempts INTEGER NOT NULL DEFAULT 0, -- requests tried (claims)
    next_attempt_at TEXT,                -- queued: not tried before this
    queued_at TEXT NOT NULL,
    fetched_at TEXT,                     -- the last attempt's end
    final_url TEXT,                      -- where the page was, after redirects
    http_status INTEGER,
    error TEXT,                          -- the last failure
    words INTEGER,                       -- of the page's article text
    filled TEXT NOT NULL DEFAULT '[]'    -- JSON: the article's fields the page filled in
);
CREATE INDEX pages_due ON pages (next_attempt_at) WHERE state = 'queued';
"""

# MIGRATIONS[n] takes the schema from version n to n + 1. Append only.
MIGRATIONS: tuple[str, ...] = (
    _V1,
    _V2,
    _V3,
    _V4,
    _V5,
    _V6,
    _V7,
    _V8,
    _V9,
    _V10,
)
SCHEMA_VERSION = len(MIGRATIONS)
