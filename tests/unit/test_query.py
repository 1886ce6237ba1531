"""The pure parts of the query commands: --since parsing, SQL building, formatting."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import UTC, datetime, timedelta

import feedparser
import pytest

from feedd import output
from feedd.errors import BadQuery
from feedd.query import parse_fields, parse_when
from feedd.store.reading import MARK_END, MARK_START, Filters
from feedd.store.sqlite.reading import articles_sql, search_sql, tail_sql, where_clauses

NOW = datetime(2025, 6, 10, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2d", NOW - timedelta(days=2)),
        ("12h", NOW - timedelta(hours=12)),
        ("30m", NOW - timedelta(minutes=30)),
        ("1h30m", NOW - timedelta(minutes=90)),
        ("1w", NOW - timedelta(weeks=1)),
        ("45s", NOW - timedelta(seconds=45)),
        ("2025-06-03", datetime(2025, 6, 3, tzinfo=UTC)),
        ("2025-06-03T09:30", datetime(2025, 6, 3, 9, 30, tzinfo=UTC)),
        ("2025-06-03 09:30:15", datetime(2025, 6, 3, 9, 30, 15, tzinfo=UTC)),
        ("2025-06-03T09:30:00Z", datetime(2025, 6, 3, 9, 30, tzinfo=UTC)),
        ("2025-06-03T11:30:00+02:00", datetime(2025, 6, 3, 9, 30, tzinfo=UTC)),
    ],
)
def test_parse_when(text, expected):
    assert parse_when(text, NOW) == expected


@pytest.mark.parametrize("text", ["", "soon", "2x", "d2", "2025-13-01", "yesterday", "-2d"])
def test_parse_when_rejects(text):
    with pytest.raises(BadQuery, match="bad time"):
        parse_when(text, NOW)


def test_parse_fields():
    assert parse_fields(None) == ("id", "date", "feeds", "title", "url")
    assert parse_fields("title, url") == ("title", "url")
    with pytest.raises(BadQuery, match="unknown field"):
        parse_fields("title,password")
    with pytest.raises(BadQuery):
        parse_fields(" , ")


def test_where_clauses_bind_every_value():
    hostile = "x'); DROP TABLE articles; --"
    clauses, params = where_clauses(
        Filters(feeds=(hostile,), tags=("news", "world"), since="2025-06-01T00:00:00Z")
    )
    sql = " AND ".join(clauses)
    assert hostile not in sql
    assert "a.duplicate_of IS NULL" in clauses
    assert params == [hostile] * 3 + ["news", "world"] * 2 + ["2025-06-01T00:00:00Z"]
    assert sql.count("?") == len(params)


def test_include_duplicates_drops_the_condition():
    clauses, params = where_clauses(Filters(include_duplicates=True))
    assert clauses == [] and params == []


def _db() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.executescript(
        """
        CREATE TABLE feeds (id INTEGER PRIMARY KEY, url TEXT, name TEXT, title TEXT,
                            tags TEXT DEFAULT '[]');
        CREATE TABLE articles (id INTEGER PRIMARY KEY, url TEXT, title TEXT, summary TEXT,
            content_text TEXT, content_html TEXT, author TEXT, published_at TEXT,
            updated_at TEXT, first_seen_at TEXT, modified_at TEXT, language TEXT,
            tags TEXT DEFAULT '[]', duplicate_of INTEGER);
        CREATE TABLE article_feeds (article_id INTEGER, feed_id INTEGER, guid TEXT, link TEXT,
                                    first_seen_at TEXT);
        CREATE VIRTUAL TABLE articles_fts USING fts5 (title, summary, content_text,
                                                      content=articles);
        INSERT INTO feeds VALUES (1, 'https://a.example/feed', 'A', 'Feed A', '["news"]'),
                                 (2, 'https://b.example/feed', NULL, 'Feed B', '[]');
        INSERT INTO articles (id, title, published_at, first_seen_at, tags, duplicate_of) VALUES
            (1, 'old climate', '2025-01-01T00:00:00Z', '2025-06-01T00:00:00Z', '[]', NULL),
            (2, 'new climate', NULL, '2025-06-09T00:00:00Z', '["science"]', NULL),
            (3, 'copy of new', '2025-06-08T00:00:00Z', '2025-06-09T00:00:00Z', '[]', 2);
        INSERT INTO articles_fts (rowid, title) SELECT id, title FROM articles;
        INSERT INTO article_feeds VALUES (1, 1, 'g1', NULL, ''), (2, 2, 'g2', NULL, ''),
                                         (3, 1, 'g3', NULL, '');
        """
    )
    return conn


def _ids(conn, built):
    sql, params = built
    return [row[0] for row in conn.execute(sql, params)]


def test_articles_sql_runs_and_filters():
    conn = _db()
    fields = ("id", "feeds")
    # The undated article (2) comes after every dated one, however recently seen.
    assert _ids(conn, articles_sql(Filters(), fields)) == [1, 2]
    assert _ids(conn, articles_sql(Filters(include_duplicates=True), fields)) == [3, 1, 2]
    assert _ids(conn, articles_sql(Filters(feeds=("A",)), fields)) == [1]
    assert _ids(conn, articles_sql(Filters(feeds=("Feed B",)), fields)) == [2]
    assert _ids(conn, articles_sql(Filters(feeds=("https://a.example/feed",)), fields)) == [1]
    assert _ids(conn, articles_sql(Filters(tags=("news",)), fields)) == [1]
    assert _ids(conn, articles_sql(Filters(tags=("science",)), fields)) == [2]
    assert _ids(conn, articles_sql(Filters(since="2025-06-01T00:00:00Z"), fields)) == [2]
    assert _ids(conn, articles_sql(Filters(until="2025-06-01T00:00:00Z"), fields)) == [1]
    assert _ids(conn, articles_sql(Filters(limit=1), fields)) == [1]
    assert _ids(conn, articles_sql(Filters(limit=0), fields)) == [1, 2]
    assert _ids(conn, tail_sql(1, Filters(), fields)) == [2]


def test_search_sql_marks_matches():
    conn = _db()
    sql, params = search_sql("climate", Filters(), ("id", "title"))
    rows = conn.execute(sql, params).fetchall()
    assert sorted(row[0] for row in rows) == [1, 2]
    assert all(f"{MARK_START}climate{MARK_END}" in row[2] for row in rows)


def test_table_fits_the_width():
    rows = [{"id": 1, "title": "x" * 200, "url": "https://example.org/" + "y" * 100}]
    lines = output.table(rows, ("id", "title", "url"), 80)
    assert lines[0].split() == ["id", "title", "url"]
    assert all(len(line) <= 80 for line in lines)
    assert "…" in lines[1]
    wide = output.table(rows, ("id", "title", "url"), 1000)
    assert "x" * 200 in wide[1]


def test_plain_cells():
    assert output.plain(None) == ""
    assert output.plain(["a", "b"]) == "a, b"
    assert output.plain("two\nlines") == "two lines"
    assert output.short_time("2025-06-03T07:39:21Z") == "2025-06-03 07:39"
    assert output.highlight(f"a {MARK_START}b{MARK_END}", "[", "]") == "a [b]"


ROWS = [
    {
        "id": 7,
        "url": "https://example.org/a?x=1&y=2",
        "title": "Fish & <chips> \x01",
        "summary": "Sum",
        "content_text": "Text",
        "content_html": "<p>Text &amp; more</p>",
        "author": "Ann",
        "published_at": "2025-06-03T07:39:21Z",
        "updated_at": None,
        "first_seen_at": "2025-06-03T08:00:00Z",
        "language": "en",
        "tags": ["a", "b"],
        "feeds": "Feed A",
    }
]


def test_json_lines_and_csv_round_trip():
    assert [json.loads(line) for line in output.json_lines(ROWS)] == ROWS
    parsed = list(csv.DictReader(io.StringIO(output.csv_text(ROWS, ("id", "title", "tags")))))
    assert parsed == [{"id": "7", "title": ROWS[0]["title"], "tags": '["a", "b"]'}]


@pytest.mark.parametrize("render", [output.rss, output.atom])
def test_xml_feeds_parse_back(render):
    text = render(ROWS, "My <export>", "https://example.org/", NOW)
    parsed = feedparser.parse(text.encode())
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.feed.title == "My <export>"
    (entry,) = parsed.entries
    assert entry.title == "Fish & <chips>"
    assert entry.link == "https://example.org/a?x=1&y=2"
    assert entry.id == "urn:feedd:article:7"
    assert entry.published_parsed[:6] == (2025, 6, 3, 7, 39, 21)
    assert [tag.term for tag in entry.tags] == ["a", "b"]


def test_json_feed():
    document = json.loads(output.json_feed(ROWS, "T", "https://example.org/"))
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    (item,) = document["items"]
    assert item["id"] == "urn:feedd:article:7"
    assert item["content_html"] == "<p>Text &amp; more</p>"
    assert item["date_published"] == "2025-06-03T07:39:21Z"
    assert item["authors"] == [{"name": "Ann"}]


def test_table_highlights_after_layout():
    rows = [{"snippet": f"a {MARK_START}match{MARK_END} and a long tail of text " * 3}]
    (_header, line) = output.table(rows, ("snippet",), 20, marks=("<b>", "</b>"))
    assert line.startswith("a <b>match</b> and")
    assert len(line.replace("<b>", "").replace("</b>", "")) <= 20
    (_header, cut) = output.table(
        [{"snippet": f"{MARK_START}abcdefghijkl{MARK_END}"}], ("snippet",), 8
    )
    assert cut == "[abcdefg]…"


# -- word_diff: what `feedd show ID --history` prints between two versions


def test_word_diff_marks_words_removed_and_added():
    assert output.word_diff("Minister resigns on Monday", "Minister resigns on Tuesday") == (
        "Minister resigns on [-Monday-] {+Tuesday+}"
    )
    assert output.word_diff("same  words", "same words") == "same words"
    assert output.word_diff(None, "New") == "{+New+}"


def test_word_diff_keeps_paragraphs_on_their_lines():
    old = "First paragraph.\nSecond paragraph."
    assert output.word_diff(old, old + "\nA third one.") == (
        "First paragraph.\nSecond paragraph.\n{+A third one.+}"
    )
    assert output.word_diff(old + "\nA third one.", old) == (
        "First paragraph.\nSecond paragraph.\n[-A third one.-]"
    )
    # Marks never span a line: a change across a paragraph break is marked on each.
    assert output.word_diff("a b\nc d", "a x y d", ("<", ">"), ("(", ")")) == "a <b>\n<c> (x y) d"
    assert output.word_diff("a b\nc d", "a x\ny d", ("<", ">"), ("(", ")")) == (
        "a <b> (x)\n<c> (y) d"
    )
