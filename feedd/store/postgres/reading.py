"""The PostgreSQL reader: the read commands' queries over a read-only session.

The same answers as the SQLite reader (``feedd.store.sqlite.reading``), query
for query, in the same shapes (``reading.Reader``): timestamps in the
schema's text form, ``tags`` as a list, counts as ints.

The session starts with ``default_transaction_read_only = on``, so nothing
it runs can write, and ``TimeZone = UTC``. It runs in autocommit: each query
is its own snapshot, as in SQLite, and ``feedd tail`` sleeping between polls
never holds a transaction open (which would keep VACUUM from cleaning up
behind the pollers). A reader never creates or migrates the schema: a
database without feedd's tables is an error, not an empty result.

Search is PostgreSQL's full text search over ``articles.search`` (the
schema's ``feedd_text`` configuration: no stemming, accents and case
folded), with a query in web-search syntax
(``websearch_to_tsquery``), not FTS5's; see ``PostgresReader.search``.

SQL is built from constant fragments; every user value is a bound
parameter. The builders (``*_sql``, ``where_clauses``) are pure;
``PostgresReader`` runs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Self
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import dict_row

from ...errors import BadQuery, QueryError
from ...types import format_timestamp
from ..reading import MARK_END, MARK_START, TAIL_BATCH, Filters, Row
from .schema import SEARCH_CHARS

# A server that does not answer (a firewall dropping packets) would otherwise
# keep `feedd articles` waiting for the operating system's TCP timeout, minutes.
CONNECT_TIMEOUT_SECONDS = 10

# Started with these (libpq's options), so that nothing the session runs can
# write, and timestamps it renders are in UTC whatever the server's default.
SESSION_OPTIONS = "-c default_transaction_read_only=on -c TimeZone=UTC"

# The date an article is listed, sorted and filtered by.
DATE_SQL = "coalesce(a.published_at, a.first_seen_at)"
# Newest first; undated articles (a feed's backlog of pages with no date) after
# every dated one, newest seen first.
ORDER_SQL = f"a.published_at IS NULL, {DATE_SQL} DESC, a.id DESC"

# Names are ordered byte by byte ("C"), as SQLite orders text, not by the
# database's locale: both backends list feeds in the same order.
_FEED_NAME = "coalesce(f.name, f.title, f.url)"
_FEED_NAME_ORDER = f'{_FEED_NAME} COLLATE "C"'

# SQLite's group_concat follows the article_feeds rows in the order they were
# stored; here the order is explicit: first carried first, as `feedd show` lists them.
_FEEDS_OF_ARTICLE = (
    f"(SELECT string_agg({_FEED_NAME}, ', ' ORDER BY af.first_seen_at, f.id) "
    "FROM article_feeds af JOIN feeds f ON f.id = af.feed_id WHERE af.article_id = a.id)"
)

# Each of reading.ARTICLE_FIELDS -> an SQL expression over articles a.
COLUMNS: dict[str, str] = {
    "id": "a.id",
    "date": "a.published_at",  # empty for an undated article
    "feeds": _FEEDS_OF_ARTICLE,
    "title": "a.title",
    "url": "a.url",
    "author": "a.author",
    "language": "a.language",
    "tags": "a.tags",
    "summary": "a.summary",
    "content_text": "a.content_text",
    "content_html": "a.content_html",
    "published_at": "a.published_at",
    "updated_at": "a.updated_at",
    "first_seen_at": "a.first_seen_at",
    "modified_at": "a.modified_at",
    "duplicate_of": "a.duplicate_of",
    "edited_at": "(SELECT max(r.replaced_at) FROM article_revisions r WHERE r.article_id = a.id)",
    "revisions": "(SELECT count(*) FROM article_revisions r WHERE r.article_id = a.id)",
}
# What `feedd show` reads of the article itself: its stored columns.
_STORED = tuple(name for name in COLUMNS if name not in ("date", "feeds", "edited_at", "revisions"))
# --edited: the newest change first (only articles with a revision: never NULL).
EDITED_ORDER_SQL = f"{COLUMNS['edited_at']} DESC, a.id DESC"

# The search snippet: like SQLite's snippet(articles_fts, -1, ..., '…', 12),
# at most 12 words of the one column that matches best, the ellipsis where
# the column goes on. MinWords is what a column that does not hold the whole
# query on its own (its words spread over title and text) shows: its start.
# ShortWord=0: ts_headline would otherwise drop words of up to 3 letters at
# either end ("Twin one" would show as "Twin…"); FTS5 keeps every word.
SNIPPET_WORDS = 12
ELLIPSIS = "…"
HEADLINE_OPTIONS = (
    f"StartSel={MARK_START}, StopSel={MARK_END}, MaxWords={SNIPPET_WORDS}, "
    f"MinWords={SNIPPET_WORDS - 1}, MaxFragments=1, ShortWord=0"
)
# ts_rank's normalization 1 divides by 1 + log(length): a word in a short
# article counts for more than in a long one, as with SQLite's bm25. The
# default weights rank a title match (A, 1.0) over the summary (B, 0.4) and
# the text (C, 0.2).
RANK_SQL = "ts_rank(a.search, q.q, 1)"


def where_clauses(filters: Filters) -> tuple[list[str], list[object]]:
    """SQL conditions on articles ``a`` and their parameters."""
    clauses: list[str] = []
    params: list[object] = []
    if not filters.include_duplicates:
        clauses.append("a.duplicate_of IS NULL")
    if filters.feeds:
        clauses.append(
            "EXISTS (SELECT 1 FROM article_feeds af JOIN feeds f ON f.id = af.feed_id "
            "WHERE af.article_id = a.id AND (f.url = ANY(%s::text[]) "
            "OR f.name = ANY(%s::text[]) OR f.title = ANY(%s::text[])))"
        )
        params += [list(filters.feeds)] * 3
    if filters.tags:
        clauses.append(
            "(EXISTS (SELECT 1 FROM article_feeds af JOIN feeds f ON f.id = af.feed_id "
            "WHERE af.article_id = a.id AND f.tags ?| %s::text[]) OR a.tags ?| %s::text[])"
        )
        params += [list(filters.tags)] * 2
    if filters.edited:
        clauses.append("EXISTS (SELECT 1 FROM article_revisions r WHERE r.article_id = a.id)")
    if filters.since is not None:
        clauses.append(f"{DATE_SQL} >= %s::timestamptz")
        params.append(filters.since)
    if filters.until is not None:
        clauses.append(f"{DATE_SQL} < %s::timestamptz")
        params.append(filters.until)
    return clauses, params


def _select(fields: Sequence[str]) -> str:
    return ", ".join(f"{COLUMNS[name]} AS {name}" for name in fields)


def _limit(filters: Filters, params: list[object]) -> str:
    if filters.limit > 0:
        params.append(filters.limit)
        return " LIMIT %s"
    return ""


def articles_sql(filters: Filters, fields: Sequence[str]) -> tuple[str, list[object]]:
    """Newest first; duplicates hidden unless asked."""
    clauses, params = where_clauses(filters)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    order = EDITED_ORDER_SQL if filters.edited else ORDER_SQL
    sql = f"SELECT {_select(fields)} FROM articles a{where} ORDER BY {order}"
    return sql + _limit(filters, params), params


def search_sql(query: str, filters: Filters, fields: Sequence[str]) -> tuple[str, list[object]]:
    """Full-text search, best matches first, with a snippet.

    The matches are ranked and limited first; only the rows kept get a
    headline, the costly part. The snippet's column is the one that ranks
    highest for the query on its own (ties: title, summary, text, in that
    order, as FTS5 picks the first of equal columns). Where the column has
    words before or after the fragment, an ellipsis stands for them; mere
    punctuation there (an opening quote, a closing full stop, which
    ts_headline leaves out) is kept, as FTS5 keeps it.
    """
    clauses, params = where_clauses(filters)
    conditions = " AND ".join(["a.search @@ q.q", *clauses])
    limit = _limit(filters, params)
    sql = (
        "WITH q AS (SELECT websearch_to_tsquery('feedd_text', %s) AS q) "
        f"SELECT {_select(fields)}, "
        "CASE WHEN p.at = 0 THEN '' WHEN p.before ~ '\\w' THEN %s ELSE p.before END "
        "|| h.headline || "
        "CASE WHEN p.at = 0 THEN '' WHEN p.after ~ '\\w' THEN %s ELSE p.after END AS snippet "
        f"FROM (SELECT a.*, {RANK_SQL} AS rank FROM articles a, q WHERE {conditions} "
        f"ORDER BY rank DESC, a.id DESC{limit}) a "
        "CROSS JOIN q "
        # The part of each column that is indexed (schema: a tsvector's 1 MB).
        f"CROSS JOIN LATERAL (SELECT left(c.body, {SEARCH_CHARS}) AS body "
        "FROM (VALUES (1, a.title), (2, a.summary), (3, a.content_text)) AS c (n, body) "
        f"ORDER BY ts_rank(to_tsvector('feedd_text', left(coalesce(c.body, ''), {SEARCH_CHARS})), "
        "q.q) "
        "DESC, c.n "
        "LIMIT 1) best "
        "CROSS JOIN LATERAL (SELECT ts_headline('feedd_text', coalesce(best.body, ''), q.q, %s) "
        "AS headline) h "
        "CROSS JOIN LATERAL (SELECT at, left(body, at - 1) AS before, "
        "substr(body, at + length(plain)) AS after "
        "FROM (SELECT coalesce(best.body, '') AS body, plain, "
        "position(plain IN coalesce(best.body, '')) AS at "
        "FROM (SELECT replace(replace(h.headline, %s, ''), %s, '') AS plain) s) t) p "
        "ORDER BY a.rank DESC, a.id DESC"
    )
    return sql, [
        query,
        ELLIPSIS,
        ELLIPSIS,
        *params,
        HEADLINE_OPTIONS,
        MARK_START,
        MARK_END,
    ]


def tail_sql(after_id: int, filters: Filters, fields: Sequence[str]) -> tuple[str, list[object]]:
    """Articles stored after ``after_id``, oldest first."""
    clauses, params = where_clauses(filters)
    conditions = " AND ".join(["a.id > %s", *clauses])
    sql = (
        f"SELECT {_select(fields)} FROM articles a WHERE {conditions} "
        f"ORDER BY a.id LIMIT {TAIL_BATCH:d}"
    )
    return sql, [after_id, *params]


def feeds_sql(failing_only: bool, now: datetime) -> tuple[str, list[object]]:
    """Each feed with its state, schedule, errors, article count and items per day
    (articles this feed first carried in the last 30 days, / 30)."""
    where = " WHERE f.state = 'failing'" if failing_only else ""
    sql = (
        "SELECT f.id, coalesce(f.name, f.title) AS name, f.url, "
        "CASE WHEN NOT f.enabled AND f.state != 'imported' "
        "THEN 'disabled' ELSE f.state END AS state, "
        "f.last_fetched_at, f.next_fetch_at, f.error_count, f.last_status, f.last_error, "
        "(SELECT count(*) FROM article_feeds af WHERE af.feed_id = f.id) AS articles, "
        "round((SELECT count(*) FROM article_feeds af WHERE af.feed_id = f.id "
        "AND af.first_seen_at >= %s) / 30.0, 2)::float8 AS per_day "
        # lower() under "C" changes ASCII letters only, as SQLite's lower() does.
        f"FROM feeds f{where} ORDER BY lower({_FEED_NAME_ORDER}), f.id"
    )
    return sql, [now - timedelta(days=30)]


def _plain(row: dict[str, Any]) -> Row:
    """A row as the Reader protocol gives it: timestamps in the schema's text form
    (jsonb tags already arrive as lists, bigints as ints)."""
    return {
        name: format_timestamp(value) if isinstance(value, datetime) else value
        for name, value in row.items()
    }


def redacted(url: str) -> str:
    """The URL to show in a message: without a password, in the URL or its query."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        user = f"{parts.username}@" if parts.username else ""
        host = netloc.rpartition("@")[2]
        netloc = f"{user}{host}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "password"])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def session_conninfo(url: str, password: str | None) -> str:
    """The connection string: the URL's own settings, the password given beside
    it, the read-only UTC session options added to any the URL has."""
    given = conninfo_to_dict(url)
    options = " ".join(str(part) for part in (given.get("options"), SESSION_OPTIONS) if part)
    extra: dict[str, Any] = {"options": options}
    if password is not None:
        extra["password"] = password
    if "connect_timeout" not in given:
        extra["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
    return make_conninfo(url, **extra)


class PostgresReader:
    """A read-only session on a feedd PostgreSQL database (``reading.Reader``)."""

    def __init__(self, url: str, *, password: str | None = None) -> None:
        """Raises QueryError when the server cannot be reached or the database
        holds no feedd schema (a reader never creates one)."""
        self.url = redacted(url)
        self._password = password
        try:
            conn = psycopg.connect(
                session_conninfo(url, password), autocommit=True, row_factory=dict_row
            )
        except psycopg.Error as exc:
            raise QueryError(f"cannot connect to {self.url}: {self._clean(exc)}") from None
        except ValueError as exc:  # a malformed URL, rejected before connecting
            raise QueryError(f"bad database URL {self.url}: {self._clean(exc)}") from None
        self.conn = conn
        try:
            version = conn.execute(
                "SELECT value FROM feedd_meta WHERE key = 'schema_version'"
            ).fetchone()
        except psycopg.errors.UndefinedTable:
            version = None
        except psycopg.Error as exc:
            conn.close()
            raise QueryError(f"cannot read database {self.url}: {self._clean(exc)}") from None
        if version is None:
            conn.close()
            raise QueryError(
                f"no feedd database at {self.url}: run feedd once "
                "(`feedd fetch` or `feedd run` creates it)"
            )

    def _clean(self, exc: Exception) -> str:
        """An error's message, one line, never with the password in it."""
        message = " ".join(str(exc).split())
        if self._password:
            message = message.replace(self._password, "***")
        return message

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _rows(self, sql: str, params: Sequence[object]) -> list[Row]:
        try:
            return [_plain(row) for row in self.conn.execute(sql, params).fetchall()]
        except psycopg.DataError as exc:
            # A value the server cannot take (a NUL character in a feed name).
            raise BadQuery(f"bad query input: {self._clean(exc)}") from None
        except psycopg.Error as exc:
            raise QueryError(f"query failed: {self._clean(exc)}") from None

    # -- articles

    def articles(self, filters: Filters, fields: Sequence[str]) -> list[Row]:
        return self._rows(*articles_sql(filters, fields))

    def search(self, query: str, filters: Filters, fields: Sequence[str]) -> list[Row]:
        """Full-text matches of ``query``, best first, with a ``snippet``.

        The query is web-search syntax (PostgreSQL's ``websearch_to_tsquery``),
        not FTS5's: words (all must match), "exact phrases", ``OR``, ``-word``
        to exclude one. Anything else is a word or ignored (no prefix*, no
        column:word, no NEAR); it is never a syntax error. Words are matched
        whole, ignoring case and accents, without stemming.
        A query with no word to look for (only punctuation, or only
        exclusions, which would list nearly every article) is BadQuery.
        """
        try:
            parsed = self.conn.execute(
                "SELECT numnode(q) AS nodes, querytree(q) AS tree "
                "FROM websearch_to_tsquery('feedd_text', %s) AS q",
                (query,),
            ).fetchone()
        except psycopg.DataError as exc:
            raise BadQuery(f"bad search query {query!r}: {self._clean(exc)}") from None
        except psycopg.Error as exc:
            raise QueryError(f"search failed: {self._clean(exc)}") from None
        if parsed is None or parsed["nodes"] == 0:
            raise BadQuery(f"bad search query {query!r}: it has no word to search for")
        if parsed["tree"] == "T":  # querytree's mark for "no positive term"
            raise BadQuery(
                f"bad search query {query!r}: it only excludes words; give one to search for"
            )
        return self._rows(*search_sql(query, filters, fields))

    def tail(self, after_id: int, filters: Filters, fields: Sequence[str]) -> list[Row]:
        return self._rows(*tail_sql(after_id, filters, fields))

    def max_article_id(self) -> int:
        return int(self._rows("SELECT coalesce(max(id), 0) AS m FROM articles", ())[0]["m"])

    def article(self, ref: str) -> Row | None:
        columns = ", ".join(f"a.{name}" for name in _STORED)
        if ref.strip().isdecimal():  # isdigit() would take "²", which int() refuses
            article_id = int(ref)
            if article_id >= 2**63:
                return None  # beyond bigint: no such id, not a query error
            found = self._rows(f"SELECT {columns} FROM articles a WHERE a.id = %s", (article_id,))
        else:
            found = self._rows(
                f"SELECT {columns} FROM articles a WHERE a.url = %s OR a.id IN "
                "(SELECT article_id FROM article_feeds WHERE link = %s) "
                "ORDER BY a.duplicate_of IS NOT NULL, a.id DESC LIMIT 1",
                (ref, ref),
            )
        if not found:
            return None
        article = found[0]
        article["feeds"] = self._rows(
            "SELECT f.id, f.url, f.name, f.title, af.guid, af.link, af.first_seen_at "
            "FROM article_feeds af JOIN feeds f ON f.id = af.feed_id "
            "WHERE af.article_id = %s ORDER BY af.first_seen_at, f.id",
            (article["id"],),
        )
        article["duplicates"] = self._rows(
            "SELECT id, title, url FROM articles WHERE duplicate_of = %s ORDER BY id",
            (article["id"],),
        )
        original = None
        if article["duplicate_of"] is not None:
            originals = self._rows(
                "SELECT id, title, url FROM articles WHERE id = %s",
                (article["duplicate_of"],),
            )
            original = originals[0] if originals else {"id": article["duplicate_of"]}
        article["duplicate_of"] = original
        return article

    def revisions(self, article_id: int) -> list[Row]:
        return self._rows(
            "SELECT r.revision, r.title, r.summary, r.content_text, r.content_hash, "
            "r.first_seen_at, r.last_seen_at, r.feed_id, "
            f"{_FEED_NAME} AS feed, r.reason, r.replaced_at, "
            "coalesce(b.name, b.title, b.url) AS replaced_by "
            "FROM article_revisions r LEFT JOIN feeds f ON f.id = r.feed_id "
            "LEFT JOIN feeds b ON b.id = r.replaced_by "
            "WHERE r.article_id = %s ORDER BY r.revision",
            (article_id,),
        )

    # -- feeds and totals

    def feeds(self, failing_only: bool, now: datetime) -> list[Row]:
        return self._rows(*feeds_sql(failing_only, now))

    def stats(self, now: datetime) -> Row:
        """As SQLite's, but ``database_bytes`` is the server's own measure:
        ``file`` is pg_database_size (tables, indexes, TOAST of this database),
        ``wal`` None, since the server's write-ahead log is shared by every
        database in the cluster and no part of it is this one's; ``total`` is
        ``file``."""
        states = {
            row["state"]: row["n"]
            for row in self._rows(
                "SELECT state, count(*) AS n FROM (SELECT CASE "
                "WHEN NOT enabled AND state != 'imported' THEN 'disabled' "
                "ELSE state END AS state FROM feeds) s "
                'GROUP BY state ORDER BY state COLLATE "C"',
                (),
            )
        }
        totals = self._rows(
            "SELECT (SELECT count(*) FROM articles) AS articles, "
            "(SELECT count(*) FROM articles WHERE duplicate_of IS NOT NULL) AS duplicates, "
            "(SELECT count(*) FROM article_feeds) AS article_feeds",
            (),
        )[0]
        first_day = (now.astimezone(UTC) - timedelta(days=13)).date()
        counted = {
            row["day"]: row["n"]
            for row in self._rows(
                "SELECT to_char(first_seen_at, 'YYYY-MM-DD') AS day, count(*) AS n "
                "FROM articles WHERE first_seen_at >= %s GROUP BY day",
                (datetime(first_day.year, first_day.month, first_day.day, tzinfo=UTC),),
            )
        }
        days = [(first_day + timedelta(days=offset)).isoformat() for offset in range(14)]
        top = self._rows(
            f"SELECT {_FEED_NAME} AS feed, f.url, count(af.article_id) AS articles "
            "FROM feeds f JOIN article_feeds af ON af.feed_id = f.id "
            f"GROUP BY f.id ORDER BY articles DESC, {_FEED_NAME_ORDER} LIMIT 10",
            (),
        )
        edits = self._rows(
            f"SELECT {_FEED_NAME} AS feed, f.url, "
            "count(*) FILTER (WHERE r.reason = 'update') AS updates, "
            "count(*) FILTER (WHERE r.reason = 'enrichment') AS enrichments, "
            "count(DISTINCT r.article_id) AS articles "
            "FROM article_revisions r JOIN feeds f ON f.id = r.replaced_by "
            f"GROUP BY f.id ORDER BY count(*) DESC, {_FEED_NAME_ORDER}",
            (),
        )
        links = {
            row["outcome"]: row["n"]
            for row in self._rows(
                "SELECT outcome, count(*) AS n FROM links GROUP BY outcome "
                'ORDER BY n DESC, outcome COLLATE "C"',
                (),
            )
        }
        size = int(self._rows("SELECT pg_database_size(current_database()) AS n", ())[0]["n"])
        return {
            "feeds": {"total": sum(states.values()), **states},
            "articles": totals["articles"],
            "duplicates": totals["duplicates"],
            "article_feeds": totals["article_feeds"],
            "ingest_per_day": [{"day": day, "articles": counted.get(day, 0)} for day in days],
            "top_feeds": top,
            "edits": edits,
            "links": links,
            "database_bytes": {"file": size, "wal": None, "total": size},
        }
