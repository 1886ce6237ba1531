"""The SQLite reader: the read commands' queries over a read-only connection.

Opens the database read-only (a ``file:...?mode=ro`` URI, ``query_only``)
with the store's busy timeout, so it works while the daemon writes (WAL: it
never blocks the writer and never sees half a feed) and can never write.
SQL is built from constant fragments; every user value is a bound
parameter. The builders (``*_sql``, ``where_clauses``) are pure and tested
with values; ``SQLiteReader`` runs them.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Self

from ...errors import BadQuery, QueryError
from ...types import format_timestamp
from ..reading import MARK_END, MARK_START, TAIL_BATCH, Filters, Row
from .connection import BUSY_TIMEOUT_MS

# The date an article is listed, sorted and filtered by.
DATE_SQL = "coalesce(a.published_at, a.first_seen_at)"
# Newest first; undated articles (a feed's backlog of pages with no date) after
# every dated one, newest seen first.
ORDER_SQL = f"a.published_at IS NULL, {DATE_SQL} DESC, a.id DESC"

_FEEDS_OF_ARTICLE = (
    "(SELECT group_concat(coalesce(f.name, f.title, f.url), ', ') "
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
# --edited: the newest change first.
EDITED_ORDER_SQL = f"{COLUMNS['edited_at']} DESC, a.id DESC"


def _placeholders(count: int) -> str:
    return ", ".join("?" * count)


def where_clauses(filters: Filters) -> tuple[list[str], list[object]]:
    """SQL conditions on articles ``a`` and their parameters."""
    clauses: list[str] = []
    params: list[object] = []
    if not filters.include_duplicates:
        clauses.append("a.duplicate_of IS NULL")
    if filters.feeds:
        marks = _placeholders(len(filters.feeds))
        clauses.append(
            "EXISTS (SELECT 1 FROM article_feeds af JOIN feeds f ON f.id = af.feed_id "
            f"WHERE af.article_id = a.id AND (f.url IN ({marks}) OR f.name IN ({marks}) "
            f"OR f.title IN ({marks})))"
        )
        params += list(filters.feeds) * 3
    if filters.tags:
        marks = _placeholders(len(filters.tags))
        clauses.append(
            "(EXISTS (SELECT 1 FROM article_feeds af JOIN feeds f ON f.id = af.feed_id, "
            f"json_each(f.tags) t WHERE af.article_id = a.id AND t.value IN ({marks})) "
            f"OR EXISTS (SELECT 1 FROM json_each(a.tags) t WHERE t.value IN ({marks})))"
        )
        params += list(filters.tags) * 2
    if filters.edited:
        clauses.append("EXISTS (SELECT 1 FROM article_revisions r WHERE r.article_id = a.id)")
    if filters.since is not None:
        clauses.append(f"{DATE_SQL} >= ?")
        params.append(filters.since)
    if filters.until is not None:
        clauses.append(f"{DATE_SQL} < ?")
        params.append(filters.until)
    return clauses, params


def _select(fields: Sequence[str]) -> str:
    return ", ".join(f"{COLUMNS[name]} AS {name}" for name in fields)


def _limit(filters: Filters, params: list[object]) -> str:
    if filters.limit > 0:
        params.append(filters.limit)
        return " LIMIT ?"
    return ""


def articles_sql(filters: Filters, fields: Sequence[str]) -> tuple[str, list[object]]:
    """Newest first; duplicates hidden unless asked."""
    clauses, params = where_clauses(filters)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    order = EDITED_ORDER_SQL if filters.edited else ORDER_SQL
    sql = f"SELECT {_select(fields)} FROM articles a{where} ORDER BY {order}"
    return sql + _limit(filters, params), params


def search_sql(query: str, filters: Filters, fields: Sequence[str]) -> tuple[str, list[object]]:
    """Full-text search, best matches (bm25) first, with a snippet."""
    clauses, params = where_clauses(filters)
    conditions = " AND ".join(["articles_fts MATCH ?", *clauses])
    sql = (
        f"SELECT {_select(fields)}, "
        "snippet(articles_fts, -1, ?, ?, '…', 12) AS snippet "
        "FROM articles_fts JOIN articles a ON a.id = articles_fts.rowid "
        f"WHERE {conditions} ORDER BY bm25(articles_fts), a.id DESC"
    )
    params = [MARK_START, MARK_END, query, *params]
    return sql + _limit(filters, params), params


def tail_sql(after_id: int, filters: Filters, fields: Sequence[str]) -> tuple[str, list[object]]:
    """Articles stored after ``after_id``, oldest first."""
    clauses, params = where_clauses(filters)
    conditions = " AND ".join(["a.id > ?", *clauses])
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
        "CASE WHEN f.enabled = 0 AND f.state != 'imported' "
        "THEN 'disabled' ELSE f.state END AS state, "
        "f.last_fetched_at, f.next_fetch_at, f.error_count, f.last_status, f.last_error, "
        "(SELECT count(*) FROM article_feeds af WHERE af.feed_id = f.id) AS articles, "
        "round((SELECT count(*) FROM article_feeds af WHERE af.feed_id = f.id "
        "AND af.first_seen_at >= ?) / 30.0, 2) AS per_day "
        f"FROM feeds f{where} ORDER BY lower(coalesce(f.name, f.title, f.url)), f.id"
    )
    return sql, [format_timestamp(now - timedelta(days=30))]


def _decode_tags(rows: list[Row]) -> list[Row]:
    for row in rows:
        if isinstance(row.get("tags"), str):
            try:
                row["tags"] = json.loads(row["tags"])
            except ValueError:
                row["tags"] = [row["tags"]]
    return rows


# FTS5 reports a malformed query as one of these (sqlite3.OperationalError).
_FTS_SYNTAX = ("fts5:", "no such column", "unterminated string", "unknown special query")


class SQLiteReader:
    """A read-only connection to a feedd SQLite database (``reading.Reader``)."""

    def __init__(self, path: Path) -> None:
        """Raises QueryError when the file is missing or unusable."""
        if not path.is_file():
            raise QueryError(f"database {path} does not exist (run `feedd fetch` or `feedd run`)")
        self.path = path
        uri = path.absolute().as_uri() + "?mode=ro"
        try:
            conn = sqlite3.connect(
                uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None
            )
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA query_only = ON")
            conn.execute("SELECT count(*) FROM articles").fetchone()
        except sqlite3.Error as exc:
            raise QueryError(f"cannot read database {path}: {exc}") from None
        conn.row_factory = sqlite3.Row
        self.conn = conn

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _rows(self, sql: str, params: Sequence[object]) -> list[Row]:
        try:
            return [dict(row) for row in self.conn.execute(sql, params).fetchall()]
        except sqlite3.Error as exc:
            raise QueryError(f"query failed: {exc}") from None

    # -- articles

    def articles(self, filters: Filters, fields: Sequence[str]) -> list[Row]:
        return _decode_tags(self._rows(*articles_sql(filters, fields)))

    def search(self, query: str, filters: Filters, fields: Sequence[str]) -> list[Row]:
        sql, params = search_sql(query, filters, fields)
        try:
            rows = [dict(row) for row in self.conn.execute(sql, params).fetchall()]
        except sqlite3.OperationalError as exc:
            message = str(exc)
            if message.startswith(_FTS_SYNTAX):
                raise BadQuery(f"bad search query {query!r}: {message}") from None
            raise QueryError(f"search failed: {message}") from None
        return _decode_tags(rows)

    def tail(self, after_id: int, filters: Filters, fields: Sequence[str]) -> list[Row]:
        return _decode_tags(self._rows(*tail_sql(after_id, filters, fields)))

    def max_article_id(self) -> int:
        return int(self._rows("SELECT coalesce(max(id), 0) AS m FROM articles", ())[0]["m"])

    def article(self, ref: str) -> Row | None:
        columns = ", ".join(f"a.{name}" for name in _STORED)
        if ref.strip().isdecimal():
            article_id = int(ref)
            if article_id >= 2**63:
                return None  # beyond SQLite's integers: no such id (sqlite3 would overflow)
            found = self._rows(f"SELECT {columns} FROM articles a WHERE a.id = ?", (article_id,))
        else:
            found = self._rows(
                f"SELECT {columns} FROM articles a WHERE a.url = ? OR a.id IN "
                "(SELECT article_id FROM article_feeds WHERE link = ?) "
                "ORDER BY a.duplicate_of IS NOT NULL, a.id DESC LIMIT 1",
                (ref, ref),
            )
        if not found:
            return None
        article = _decode_tags(found)[0]
        article["feeds"] = self._rows(
            "SELECT f.id, f.url, f.name, f.title, af.guid, af.link, af.first_seen_at "
            "FROM article_feeds af JOIN feeds f ON f.id = af.feed_id "
            "WHERE af.article_id = ? ORDER BY af.first_seen_at, f.id",
            (article["id"],),
        )
        article["duplicates"] = self._rows(
            "SELECT id, title, url FROM articles WHERE duplicate_of = ? ORDER BY id",
            (article["id"],),
        )
        original = None
        if article["duplicate_of"] is not None:
            originals = self._rows(
                "SELECT id, title, url FROM articles WHERE id = ?",
                (article["duplicate_of"],),
            )
            original = originals[0] if originals else {"id": article["duplicate_of"]}
        article["duplicate_of"] = original
        return article

    def revisions(self, article_id: int) -> list[Row]:
        if not self._has_table("article_revisions"):
            return []  # a database of an older feedd, not yet migrated
        return self._rows(
            "SELECT r.revision, r.title, r.summary, r.content_text, r.content_hash, "
            "r.first_seen_at, r.last_seen_at, r.feed_id, "
            "coalesce(f.name, f.title, f.url) AS feed, r.reason, r.replaced_at, "
            "coalesce(b.name, b.title, b.url) AS replaced_by "
            "FROM article_revisions r LEFT JOIN feeds f ON f.id = r.feed_id "
            "LEFT JOIN feeds b ON b.id = r.replaced_by "
            "WHERE r.article_id = ? ORDER BY r.revision",
            (article_id,),
        )

    # -- feeds and totals

    def feeds(self, failing_only: bool, now: datetime) -> list[Row]:
        return self._rows(*feeds_sql(failing_only, now))

    def stats(self, now: datetime) -> Row:
        states = {
            row["state"]: row["n"]
            for row in self._rows(
                "SELECT CASE WHEN enabled = 0 AND state != 'imported' "
                "THEN 'disabled' ELSE state END AS state, "
                "count(*) AS n FROM feeds GROUP BY 1 ORDER BY 1",
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
                "SELECT substr(first_seen_at, 1, 10) AS day, count(*) AS n FROM articles "
                "WHERE first_seen_at >= ? GROUP BY day",
                (f"{first_day.isoformat()}T00:00:00Z",),
            )
        }
        days = [(first_day + timedelta(days=offset)).isoformat() for offset in range(14)]
        top = self._rows(
            "SELECT coalesce(f.name, f.title, f.url) AS feed, f.url, "
            "count(af.article_id) AS articles "
            "FROM feeds f JOIN article_feeds af ON af.feed_id = f.id "
            "GROUP BY f.id ORDER BY articles DESC, feed LIMIT 10",
            (),
        )
        edits = (
            self._rows(
                "SELECT coalesce(f.name, f.title, f.url) AS feed, f.url, "
                "sum(r.reason = 'update') AS updates, "
                "sum(r.reason = 'enrichment') AS enrichments, "
                "count(DISTINCT r.article_id) AS articles "
                "FROM article_revisions r JOIN feeds f ON f.id = r.replaced_by "
                "GROUP BY f.id ORDER BY count(*) DESC, feed",
                (),
            )
            if self._has_table("article_revisions")
            else []
        )
        sizes = self._sizes()
        return {
            "feeds": {"total": sum(states.values()), **states},
            "articles": totals["articles"],
            "duplicates": totals["duplicates"],
            "article_feeds": totals["article_feeds"],
            "ingest_per_day": [{"day": day, "articles": counted.get(day, 0)} for day in days],
            "top_feeds": top,
            "edits": edits,
            "links": self._link_outcomes(),
            "database_bytes": {**sizes, "total": sizes["file"] + sizes["wal"]},
        }

    def _has_table(self, name: str) -> bool:
        return bool(
            self._rows(
                "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = ?",
                (name,),
            )[0]["n"]
        )

    def _link_outcomes(self) -> dict[str, int]:
        """Resolutions per outcome; none in a database older than the links table."""
        if not self._has_table("links"):
            return {}
        return {
            row["outcome"]: row["n"]
            for row in self._rows(
                "SELECT outcome, count(*) AS n FROM links GROUP BY outcome ORDER BY n DESC", ()
            )
        }

    def _sizes(self) -> dict[str, int]:
        """The database file and its write-ahead log, in bytes (0 when absent)."""
        sizes = {}
        for label, file in (("file", self.path), ("wal", Path(f"{self.path}-wal"))):
            try:
                sizes[label] = file.stat().st_size
            except OSError:
                sizes[label] = 0
        return sizes
