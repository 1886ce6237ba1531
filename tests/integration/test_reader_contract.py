"""Both read backends answer alike: the SQLite and the PostgreSQL Reader on the
same content.

The content is written with plain SQL, the same rows into both (``ROWS``),
so that this tests the readers and nothing else: a SQLite file created by
``SQLiteStore``, a PostgreSQL database with the PostgreSQL schema and its
version in ``feedd_meta``, as the write side leaves them. Each test runs on
both backends with the same expectations; ``test_every_answer_is_the_same``
puts the two side by side, answer by answer.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from feedd.errors import BadQuery, QueryError
from feedd.store import Reader, open_reader
from feedd.store.reading import ARTICLE_FIELDS, MARK_END, MARK_START, TAIL_BATCH, Filters
from feedd.store.sqlite import SQLiteStore

NOW = datetime(2025, 6, 10, 12, 0, 0, tzinfo=UTC)
BACKENDS = ["sqlite", "postgres"]

# A long text: the snippet shows a window of it, with an ellipsis on each side.
_LONG = (
    " ".join(f"word{n}" for n in range(40)) + " football " + " ".join(f"more{n}" for n in range(40))
)


def _feed(id: int, url: str, **columns: Any) -> dict[str, Any]:
    return {
        "id": id,
        "url": url,
        "interval_seconds": 1800,
        "created_at": "2025-05-01T00:00:00Z",
        **columns,
    }


def _article(id: int, title: str | None, first_seen_at: str, **columns: Any) -> dict[str, Any]:
    return {
        "id": id,
        "url": f"https://example.com/{id}",
        "title": title,
        "first_seen_at": first_seen_at,
        "modified_at": first_seen_at,
        **columns,
    }


def _item(article_id: int, feed_id: int, first_seen_at: str, **columns: Any) -> dict[str, Any]:
    return {
        "article_id": article_id,
        "feed_id": feed_id,
        "guid": f"g{article_id}-{feed_id}",
        "first_seen_at": first_seen_at,
        **columns,
    }


# Table -> rows, in the order they are inserted. Values in SQLite's form (text
# timestamps, JSON text, 0/1 flags); _postgres_values converts what differs.
ROWS: dict[str, list[dict[str, Any]]] = {
    "feeds": [
        _feed(
            1,
            "https://a.example/feed",
            name="Alpha",
            title="Feed A",
            tags='["news"]',
            state="ok",
            last_status=200,
            last_fetched_at="2025-06-10T11:00:00Z",
            next_fetch_at="2025-06-10T11:30:00Z",
        ),
        _feed(
            2,
            "https://b.example/feed",
            title="Feed B",
            state="failing",
            error_count=3,
            last_status=500,
            last_error="HTTP 500",
            last_fetched_at="2025-06-10T11:10:00Z",
            next_fetch_at="2025-06-10T12:10:00Z",
        ),
        # Lower case sorts with the others (lower()), disabled whatever its state.
        _feed(
            3,
            "https://c.example/feed",
            name="charlie",
            tags='["science", "news"]',
            state="ok",
            enabled=0,
        ),
        # No name or title: listed by URL, named None.
        _feed(4, "https://d.example/feed", state="new"),
        # Non-ASCII sorts after ASCII, byte by byte, in both.
        _feed(5, "https://e.example/feed", name="Émile", state="gone", last_status=410),
    ],
    "articles": [
        _article(
            1,
            "Climate summit opens",
            "2025-06-09T10:05:00Z",
            published_at="2025-06-09T10:00:00Z",
            summary="Leaders meet in Bonn.",
            content_text="Leaders meet in Bonn to talk.",
            tags='["science"]',
            author="Ann",
            language="en",
            content_html="<p>Leaders meet</p>",
        ),
        _article(
            2,
            "Football final",
            "2025-06-08T10:05:00Z",
            published_at="2025-06-08T10:00:00Z",
            summary="A match.",
            content_text="A match was played.",
        ),
        _article(
            3,
            "Climate summit again",
            "2025-06-09T10:06:00Z",
            published_at="2025-06-09T09:00:00Z",
            summary="S3",
            content_text="again",
            duplicate_of=1,
        ),
        # Undated: after every dated article, the newest seen first.
        _article(4, "Undated new", "2025-06-10T08:00:00Z", summary="u4", content_text="u4"),
        _article(5, "Undated old", "2025-06-01T08:00:00Z", summary="u5", content_text="u5"),
        _article(
            6,
            "Old story",
            "2025-05-01T00:00:00Z",
            published_at="2025-05-01T00:00:00Z",
            summary="old",
            content_text="old",
        ),
        # Carried by two feeds, edited twice.
        _article(
            7,
            "Budget passes",
            "2025-06-07T10:00:00Z",
            published_at="2025-06-07T09:00:00Z",
            summary="The budget passed.",
            content_text="The budget passed after a long night.",
            updated_at="2025-06-07T12:00:00Z",
        ),
        _article(
            8,
            "A long read",
            "2025-06-06T10:00:00Z",
            published_at="2025-06-06T09:00:00Z",
            summary="Long.",
            content_text=_LONG,
        ),
        # The same date: the higher id first.
        _article(
            9,
            "Twin one",
            "2025-06-05T10:00:00Z",
            published_at="2025-06-05T09:00:00Z",
            content_text="twin",
        ),
        _article(
            10,
            "Twin two",
            "2025-06-05T10:00:00Z",
            published_at="2025-06-05T09:00:00Z",
            content_text="twin",
            tags='["science"]',
        ),
    ],
    "article_feeds": [
        _item(1, 1, "2025-06-09T10:05:00Z", link="https://a.example/item/1"),
        _item(2, 2, "2025-06-08T10:05:00Z"),
        _item(3, 2, "2025-06-09T10:06:00Z"),
        _item(4, 1, "2025-06-10T08:00:00Z"),
        _item(5, 5, "2025-06-01T08:00:00Z"),
        _item(6, 3, "2025-05-01T00:00:00Z"),
        _item(7, 2, "2025-06-07T10:00:00Z", link="https://b.example/item/7"),
        _item(7, 1, "2025-06-07T11:00:00Z", link="https://a.example/item/7"),
        _item(8, 1, "2025-06-06T10:00:00Z"),
        _item(9, 2, "2025-06-05T10:00:00Z"),
        _item(10, 2, "2025-06-05T10:00:00Z"),
    ],
    "article_revisions": [
        {
            "article_id": 7,
            "revision": 1,
            "title": "Budget vote",
            "summary": "Vote.",
            "content_text": "A vote.",
            "content_hash": "h1",
            "first_seen_at": "2025-06-07T10:00:00Z",
            "last_seen_at": "2025-06-07T10:30:00Z",
            "feed_id": 2,
            "reason": "update",
            "replaced_at": "2025-06-07T11:00:00Z",
            "replaced_by": 2,
        },
        {
            "article_id": 7,
            "revision": 2,
            "title": "Budget passes",
            "summary": "Vote.",
            "content_text": "A vote passed.",
            "content_hash": "h2",
            "first_seen_at": "2025-06-07T11:00:00Z",
            "last_seen_at": "2025-06-07T11:30:00Z",
            "feed_id": 2,
            "reason": "enrichment",
            "replaced_at": "2025-06-07T12:00:00Z",
            "replaced_by": 1,
        },
        {
            "article_id": 2,
            "revision": 1,
            "title": "Football",
            "summary": "A match.",
            "content_text": "A match.",
            "content_hash": "h3",
            "first_seen_at": "2025-06-08T10:05:00Z",
            "last_seen_at": "2025-06-08T11:00:00Z",
            "feed_id": 2,
            "reason": "page",
            "replaced_at": "2025-06-08T11:05:00Z",
            "replaced_by": None,
        },
    ],
    "links": [
        {
            "url": f"https://t.co/{n}",
            "resolved_url": f"https://x.example/{n}",
            "outcome": outcome,
            "hops": 1,
            "checked_at": "2025-06-09T00:00:00Z",
            "expires_at": "2025-07-09T00:00:00Z",
        }
        for n, outcome in enumerate(["ok", "ok", "ok", "not_found", "not_found", "timeout"])
    ],
}


def _insert_sql(table: str, row: dict[str, Any], mark: str) -> str:
    return f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join([mark] * len(row))})"  # noqa: S608 - names are the test's own constants


def _fill_sqlite(path: Path) -> None:
    SQLiteStore(path).close()  # today's schema, as the daemon creates it
    with sqlite3.connect(path) as conn:
        for table, rows in ROWS.items():
            for row in rows:
                conn.execute(_insert_sql(table, row, "?"), list(row.values()))
    conn.close()


def _postgres_values(table: str, row: dict[str, Any]) -> list[Any]:
    if table == "feeds" and "enabled" in row:
        row = {**row, "enabled": bool(row["enabled"])}
    # Text timestamps and JSON text go as they are: the server casts them.
    return list(row.values())


def _fill_postgres(url: str) -> None:
    import psycopg

    from feedd.store.postgres.schema import META, SCHEMA, SCHEMA_VERSION

    with psycopg.connect(url) as conn:
        conn.execute(META)
        conn.execute(SCHEMA)
        conn.execute(
            "INSERT INTO feedd_meta (key, value) VALUES ('schema_version', %s)",
            (str(SCHEMA_VERSION),),
        )
        for table, rows in ROWS.items():
            for row in rows:
                conn.execute(_insert_sql(table, row, "%s"), _postgres_values(table, row))


@pytest.fixture
def database(request, tmp_path) -> Callable[[Callable[[str], None] | None], str | Path]:
    """A function making the backend's database, filled with ROWS (or by ``fill``)."""
    backend = request.param

    def make(fill: Callable[[Any], None] | None = None) -> str | Path:
        if backend == "sqlite":
            path = tmp_path / "feedd.db"
            (fill or _fill_sqlite)(path)
            return path
        url = request.getfixturevalue("postgres_url")
        (fill or _fill_postgres)(url)
        return url

    return make


@pytest.fixture
def reader(database) -> Iterator[Reader]:
    opened = open_reader(database())
    yield opened
    opened.close()


def _ids(rows: list[dict[str, Any]]) -> list[int]:
    return [row["id"] for row in rows]


# Each test below runs on both backends.
both = pytest.mark.parametrize("database", BACKENDS, indirect=True)


# -- articles


@both
def test_articles_newest_first_undated_last_duplicates_hidden(reader):
    assert _ids(reader.articles(Filters(limit=0), ("id",))) == [1, 2, 7, 8, 10, 9, 6, 4, 5]
    assert _ids(reader.articles(Filters(limit=0, include_duplicates=True), ("id",))) == [
        1, 3, 2, 7, 8, 10, 9, 6, 4, 5,
    ]  # fmt: skip
    assert _ids(reader.articles(Filters(limit=3), ("id",))) == [1, 2, 7]


@both
def test_articles_fields_in_the_schemas_text_form(reader):
    [row] = reader.articles(Filters(feeds=("Alpha",), limit=1), ARTICLE_FIELDS)
    assert row == {
        "id": 1,
        "date": "2025-06-09T10:00:00Z",
        "feeds": "Alpha",
        "title": "Climate summit opens",
        "url": "https://example.com/1",
        "author": "Ann",
        "language": "en",
        "tags": ["science"],
        "summary": "Leaders meet in Bonn.",
        "content_text": "Leaders meet in Bonn to talk.",
        "content_html": "<p>Leaders meet</p>",
        "published_at": "2025-06-09T10:00:00Z",
        "updated_at": None,
        "first_seen_at": "2025-06-09T10:05:00Z",
        "modified_at": "2025-06-09T10:05:00Z",
        "duplicate_of": None,
        "edited_at": None,
        "revisions": 0,
    }
    [undated] = reader.articles(Filters(limit=1, since="2025-06-10T00:00:00Z"), ("id", "date"))
    assert undated == {"id": 4, "date": None}
    edited = Filters(limit=1, edited=True, feeds=("Alpha",))
    [shared] = reader.articles(edited, ("feeds", "edited_at", "revisions"))
    assert shared == {"feeds": "Feed B, Alpha", "edited_at": "2025-06-07T12:00:00Z", "revisions": 2}


@both
@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (Filters(feeds=("Alpha",)), [1, 7, 8, 4]),  # config name
        (Filters(feeds=("Feed B",)), [2, 7, 10, 9]),  # title
        (Filters(feeds=("https://c.example/feed", "Émile")), [6, 5]),  # URL, either
        (Filters(feeds=("nowhere",)), []),
        (Filters(tags=("news",)), [1, 7, 8, 6, 4]),  # the feed's
        (Filters(tags=("science",)), [1, 10, 6]),  # the article's own, or the feed's
        (Filters(tags=("news",), feeds=("Feed B",)), [7]),
        (Filters(since="2025-06-07T09:00:00Z"), [1, 2, 7, 4]),  # at or after
        (Filters(until="2025-06-07T09:00:00Z"), [8, 10, 9, 6, 5]),  # before
        (Filters(since="2025-06-01T00:00:00Z", until="2025-06-06T00:00:00Z"), [10, 9, 5]),
        (Filters(edited=True), [2, 7]),  # the newest change first
        (Filters(include_duplicates=True, feeds=("Feed B",)), [3, 2, 7, 10, 9]),
        (Filters(limit=0, tags=("news",)), [1, 7, 8, 6, 4]),
    ],
)
def test_articles_filters(reader, filters, expected):
    assert _ids(reader.articles(filters, ("id",))) == expected


# -- search


@both
def test_search_ranks_a_title_match_first_and_marks_the_snippet(reader):
    rows = reader.search("football", Filters(), ("id", "title"))
    assert _ids(rows) == [2, 8]
    assert rows[0]["snippet"] == f"{MARK_START}Football{MARK_END} final"
    long = rows[1]["snippet"]
    assert f"{MARK_START}football{MARK_END}" in long
    assert long.startswith("…") and long.endswith("…")
    assert len(long.split()) <= 12


@both
@pytest.mark.parametrize(
    ("query", "filters", "expected"),
    [
        ("climate", Filters(), [1]),
        ("climate", Filters(include_duplicates=True), {1, 3}),
        ('"summit opens"', Filters(), [1]),
        ("CLIMATE bonn", Filters(), [1]),  # every word, in any column, any case
        ("budget OR twin", Filters(), {7, 9, 10}),
        ("twin", Filters(tags=("science",)), [10]),
        ("twin", Filters(limit=1), {9, 10}),
        ("nowhere", Filters(), []),
    ],
)
def test_search_matches(reader, query, filters, expected):
    found = _ids(reader.search(query, filters, ("id",)))
    if isinstance(expected, set):  # equal ranks: either order
        assert set(found) <= expected and len(found) == min(filters.limit, len(expected))
    else:
        assert found == expected


@both
def test_search_snippet_of_a_short_column_is_the_column(reader):
    [row] = reader.search("bonn", Filters(), ("id",))
    # The summary and the text both say it; the first of equal columns is shown.
    assert row["snippet"] == f"Leaders meet in {MARK_START}Bonn{MARK_END}."


@both
@pytest.mark.parametrize("query", ["", "   ", "!!!", "((("])
def test_a_search_with_nothing_to_search_for_is_a_bad_query(reader, query):
    with pytest.raises(BadQuery, match="bad search query"):
        reader.search(query, Filters(), ("id",))


# -- one article


@both
def test_article_by_id_and_by_url(reader):
    article = reader.article("7")
    assert article is not None
    assert article["title"] == "Budget passes"
    assert article["updated_at"] == "2025-06-07T12:00:00Z"
    assert article["tags"] == []
    assert article["feeds"] == [
        {"id": 2, "url": "https://b.example/feed", "name": None, "title": "Feed B",
         "guid": "g7-2", "link": "https://b.example/item/7",
         "first_seen_at": "2025-06-07T10:00:00Z"},
        {"id": 1, "url": "https://a.example/feed", "name": "Alpha", "title": "Feed A",
         "guid": "g7-1", "link": "https://a.example/item/7",
         "first_seen_at": "2025-06-07T11:00:00Z"},
    ]  # fmt: skip
    assert article["duplicates"] == []
    assert article["duplicate_of"] is None
    assert reader.article("https://example.com/7") == article  # canonical URL
    assert reader.article("https://a.example/item/7") == article  # an item link
    original = reader.article("https://example.com/1")
    assert original["duplicates"] == [
        {"id": 3, "title": "Climate summit again", "url": "https://example.com/3"}
    ]
    assert reader.article(" 3 ")["duplicate_of"] == {
        "id": 1,
        "title": "Climate summit opens",
        "url": "https://example.com/1",
    }
    assert reader.article("99") is None
    assert reader.article("99999999999999999999") is None
    assert reader.article("²") is None  # a digit, not a number: looked up as a URL
    assert reader.article("https://nowhere.example/") is None


@both
def test_revisions_oldest_first(reader):
    revisions = reader.revisions(7)
    assert [(r["revision"], r["feed"], r["reason"], r["replaced_by"]) for r in revisions] == [
        (1, "Feed B", "update", "Feed B"),
        (2, "Feed B", "enrichment", "Alpha"),
    ]
    assert revisions[0] == {
        "revision": 1,
        "title": "Budget vote",
        "summary": "Vote.",
        "content_text": "A vote.",
        "content_hash": "h1",
        "first_seen_at": "2025-06-07T10:00:00Z",
        "last_seen_at": "2025-06-07T10:30:00Z",
        "feed_id": 2,
        "feed": "Feed B",
        "reason": "update",
        "replaced_at": "2025-06-07T11:00:00Z",
        "replaced_by": "Feed B",
    }
    assert reader.revisions(2)[0]["replaced_by"] is None
    assert reader.revisions(1) == []


# -- tail


@both
def test_tail_oldest_first_after_an_id(reader):
    assert reader.max_article_id() == 10
    assert _ids(reader.tail(0, Filters(), ("id",))) == [1, 2, 4, 5, 6, 7, 8, 9, 10]
    assert _ids(reader.tail(7, Filters(), ("id",))) == [8, 9, 10]
    assert _ids(reader.tail(0, Filters(feeds=("Alpha",), include_duplicates=True), ("id",))) == [
        1, 4, 7, 8,
    ]  # fmt: skip
    assert reader.tail(10, Filters(), ("id",)) == []


def _fill_many(count: int) -> Callable[[Any], None]:
    """A filler of ``count`` articles and nothing else."""
    rows = [
        (n, f"a{n}", "2025-06-01T00:00:00Z", "2025-06-01T00:00:00Z") for n in range(1, count + 1)
    ]
    sql = "INSERT INTO articles (id, title, first_seen_at, modified_at) VALUES ({0}, {0}, {0}, {0})"

    def fill_sqlite(path: Path) -> None:
        SQLiteStore(path).close()
        with sqlite3.connect(path) as conn:
            conn.executemany(sql.format("?"), rows)
        conn.close()

    def fill_postgres(url: str) -> None:
        import psycopg

        from feedd.store.postgres.schema import META, SCHEMA, SCHEMA_VERSION

        with psycopg.connect(url) as conn:
            conn.execute(META)
            conn.execute(SCHEMA)
            conn.execute(
                "INSERT INTO feedd_meta VALUES ('schema_version', %s)", (str(SCHEMA_VERSION),)
            )
            conn.cursor().executemany(sql.format("%s"), rows)

    def fill(target: Any) -> None:
        (fill_sqlite if isinstance(target, Path) else fill_postgres)(target)

    return fill


@both
def test_tail_reads_in_batches(database):
    reader = open_reader(database(_fill_many(TAIL_BATCH + 5)))
    try:
        assert reader.max_article_id() == TAIL_BATCH + 5
        first = _ids(reader.tail(0, Filters(), ("id",)))
        assert first == list(range(1, TAIL_BATCH + 1))
        assert _ids(reader.tail(first[-1], Filters(), ("id",))) == list(
            range(TAIL_BATCH + 1, TAIL_BATCH + 6)
        )
    finally:
        reader.close()


@both
def test_an_empty_database(database):
    reader = open_reader(database(_fill_many(0)))
    try:
        assert reader.max_article_id() == 0
        assert reader.articles(Filters(), ("id",)) == []
        assert reader.search("anything", Filters(), ("id",)) == []
        assert reader.feeds(False, NOW) == []
        stats = reader.stats(NOW)
        assert stats["feeds"] == {"total": 0}
        assert (stats["articles"], stats["top_feeds"], stats["edits"], stats["links"]) == (
            0, [], [], {},
        )  # fmt: skip
    finally:
        reader.close()


# -- feeds and totals


@both
def test_feeds_by_name_with_states_and_per_day(reader):
    rows = reader.feeds(False, NOW)
    assert [(r["id"], r["name"], r["state"], r["articles"], r["per_day"]) for r in rows] == [
        (1, "Alpha", "ok", 4, 0.13),
        (3, "charlie", "disabled", 1, 0.0),  # first carried 40 days ago
        (2, "Feed B", "failing", 5, 0.17),
        (4, None, "new", 0, 0.0),  # listed by its URL, https://d.example/feed
        (5, "Émile", "gone", 1, 0.03),
    ]
    assert rows[2] == {
        "id": 2,
        "name": "Feed B",
        "url": "https://b.example/feed",
        "state": "failing",
        "last_fetched_at": "2025-06-10T11:10:00Z",
        "next_fetch_at": "2025-06-10T12:10:00Z",
        "error_count": 3,
        "last_status": 500,
        "last_error": "HTTP 500",
        "articles": 5,
        "per_day": 0.17,
    }
    assert [row["id"] for row in reader.feeds(True, NOW)] == [2]


@both
def test_stats(reader):
    stats = reader.stats(NOW)
    assert list(stats["feeds"].items()) == [
        ("total", 5),
        ("disabled", 1),
        ("failing", 1),
        ("gone", 1),
        ("new", 1),
        ("ok", 1),
    ]
    assert (stats["articles"], stats["duplicates"], stats["article_feeds"]) == (10, 1, 11)
    per_day = {day["day"]: day["articles"] for day in stats["ingest_per_day"]}
    assert [*per_day][0::13] == ["2025-05-28", "2025-06-10"]  # 14 days up to now
    assert sum(per_day.values()) == 9  # all but the one of 2025-05-01
    assert per_day["2025-06-05"] == 2 and per_day["2025-06-02"] == 0
    assert stats["top_feeds"][:2] == [
        {"feed": "Feed B", "url": "https://b.example/feed", "articles": 5},
        {"feed": "Alpha", "url": "https://a.example/feed", "articles": 4},
    ]
    assert [(row["feed"], row["articles"]) for row in stats["top_feeds"][2:]] == [
        ("charlie", 1),
        ("Émile", 1),
    ]
    assert stats["edits"] == [
        {"feed": "Alpha", "url": "https://a.example/feed", "updates": 0, "enrichments": 1,
         "articles": 1},
        {"feed": "Feed B", "url": "https://b.example/feed", "updates": 1, "enrichments": 0,
         "articles": 1},
    ]  # fmt: skip
    assert list(stats["links"].items()) == [("ok", 3), ("not_found", 2), ("timeout", 1)]
    size = stats["database_bytes"]
    assert set(size) == {"file", "wal", "total"}
    assert size["file"] > 0
    assert size["total"] == size["file"] + (size["wal"] or 0)


# -- the database itself


@both
def test_the_reader_cannot_write(reader):
    with pytest.raises(Exception, match=r"(?i)read-?only"):
        reader.conn.execute(
            "INSERT INTO feeds (url, interval_seconds, created_at) VALUES ('u', 1, '2025-06-10')"
        )
    with pytest.raises(Exception, match=r"(?i)read-?only"):
        reader.conn.execute("DELETE FROM articles")
    assert reader.max_article_id() == 10


@both
def test_a_database_without_feedd_is_refused(database, request, tmp_path):
    def nothing(target: Any) -> None:
        if isinstance(target, Path):
            sqlite3.connect(target).close()  # an empty file, no tables

    with pytest.raises(QueryError, match=r"no feedd database|cannot read database"):
        open_reader(database(nothing))


@both
def test_a_missing_database_is_an_error_that_names_it(database, request, tmp_path):
    if request.node.callspec.params["database"] == "sqlite":
        with pytest.raises(QueryError, match="does not exist"):
            open_reader(tmp_path / "missing.db")
        return
    url = re.sub(r"/[^/]*$", "/no_such_database", request.getfixturevalue("postgres_url"))
    with pytest.raises(QueryError, match="no_such_database") as raised:
        open_reader(url, password="s3cret-pw")  # noqa: S106 - a made-up one, to look for
    assert "s3cret-pw" not in str(raised.value)


# -- side by side

_SEARCHES = ("climate", "football", "bonn", '"summit opens"', "budget OR twin", "twin", "again")
_FILTERS = (
    Filters(limit=0),
    Filters(limit=0, include_duplicates=True),
    Filters(limit=2),
    Filters(feeds=("Alpha", "https://e.example/feed")),
    Filters(tags=("science",)),
    Filters(since="2025-06-06T00:00:00Z", until="2025-06-09T09:30:00Z"),
    Filters(edited=True, include_duplicates=True),
)


def _answers(reader: Reader) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for n, filters in enumerate(_FILTERS):
        answers[f"articles {n}"] = reader.articles(filters, ARTICLE_FIELDS)
        answers[f"tail {n}"] = reader.tail(2, filters, ARTICLE_FIELDS)
    for query in _SEARCHES:
        rows = reader.search(query, Filters(limit=0, include_duplicates=True), ARTICLE_FIELDS)
        for row in rows:
            # A phrase is marked as one in FTS5, word by word in ts_headline.
            row["snippet"] = row["snippet"].replace(f"{MARK_END} {MARK_START}", " ")
        # Ranks are each engine's own (bm25, ts_rank): the rows matched are the contract.
        answers[f"search {query}"] = sorted(rows, key=lambda row: row["id"])
    for ref in [*map(str, range(12)), "https://example.com/3", "https://b.example/item/7"]:
        answers[f"article {ref}"] = reader.article(ref)
    for article_id in range(12):
        answers[f"revisions {article_id}"] = reader.revisions(article_id)
    answers["max_article_id"] = reader.max_article_id()
    answers["feeds"] = reader.feeds(False, NOW)
    answers["failing feeds"] = reader.feeds(True, NOW)
    stats = reader.stats(NOW)
    del stats["database_bytes"]  # a file's size, a server's measure
    answers["stats"] = [(key, list(value.items()) if isinstance(value, dict) else value)
                        for key, value in stats.items()]  # fmt: skip
    return answers


def test_every_answer_is_the_same(tmp_path, postgres_url):
    _fill_sqlite(tmp_path / "feedd.db")
    _fill_postgres(postgres_url)
    with open_reader(tmp_path / "feedd.db") as sqlite, open_reader(postgres_url) as postgres:
        expected, answers = _answers(sqlite), _answers(postgres)
    assert list(answers) == list(expected)
    for name, answer in expected.items():
        assert answers[name] == answer, name


def test_a_postgres_database_being_created_is_not_yet_feedd(postgres_url):
    """feedd_meta comes first, the version last: a reader between the two refuses."""
    import psycopg

    from feedd.store.postgres.schema import META

    with psycopg.connect(postgres_url) as conn:
        conn.execute(META)
    with pytest.raises(QueryError, match=r"no feedd database at .*: run feedd once"):
        open_reader(postgres_url)


@both
def test_the_read_commands_print_either_backend(database, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from feedd import cli_query

    target = database()
    config = tmp_path / "feedd.toml"
    config.write_text('database = "elsewhere.db"\n[[feeds]]\nurl = "https://a.example/feed"\n')
    monkeypatch.setattr(
        cli_query, "open_reader", lambda path, password=None: open_reader(target, password=password)
    )
    runner = CliRunner()

    def run(command, *args):
        result = runner.invoke(command, ["-c", str(config), *args])
        assert result.exit_code == 0, result.output
        return result.output

    assert "[Football] final" in run(cli_query.search, "football")
    stats = run(cli_query.stats)
    assert "articles       10 (1 duplicates)" in stats
    # A server's write-ahead log is not this database's: no wal to show.
    assert ("wal" in stats.splitlines()[3]) == isinstance(target, Path)
    bad = runner.invoke(cli_query.search, ["-c", str(config), "!!!"])
    assert bad.exit_code == 2 and "bad search query" in bad.output
