"""The read-only query commands, run as the installed `feedd` against a database
filled by a real `feedd fetch` from a local server (issue 7)."""

from __future__ import annotations

import csv
import io
import json
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape

import feedparser
import pytest
from feedserver import FeedServer
from test_cli import FEEDD, feedd, rss

NOW = datetime.now(UTC)


def item(guid: str, title: str, when: datetime, categories: tuple[str, ...] = ()) -> str:
    cats = "".join(f"<category>{c}</category>" for c in categories)
    return (
        f"<item><guid>{guid}</guid><title>{escape(title)}</title>"
        f"<link>https://example.org/{guid}</link>"
        f"<pubDate>{format_datetime(when)}</pubDate>{cats}"
        f"<description>{escape(f'<p>Text of {escape(title)} &amp; more</p>')}</description></item>"
    )


def channel(title: str, items: list[str]) -> str:
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>'
        f"<link>https://example.org/</link>{''.join(items)}</channel></rss>"
    )


def config_text(alpha: str, beta: str) -> str:
    return (
        'database = "feedd.db"\n[fetch]\nallow_private_networks = true\ntimeout = "10s"\n'
        f'[[feeds]]\nurl = "{alpha}"\nname = "Alpha"\ntags = ["news"]\n'
        f'[[feeds]]\nurl = "{beta}"\n'
    )


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """A database with 5 articles from two feeds; article 'a3' marked a duplicate of 'a1'."""
    root = tmp_path_factory.mktemp("query")
    server = FeedServer()
    try:
        alpha = server.add(
            "/alpha.xml",
            channel(
                "Alpha Feed",
                [
                    item("a1", "Climate summit opens", NOW - timedelta(hours=1)),
                    item("a2", "Budget & tax vote", NOW - timedelta(days=3)),
                    item("a3", "Climate summit opens again", NOW - timedelta(hours=2)),
                ],
            ),
        )
        beta = server.add(
            "/beta.xml",
            channel(
                "Beta Feed",
                [
                    item("b1", "Old climate report", datetime(2024, 1, 5, tzinfo=UTC)),
                    item("b2", "Football final", NOW - timedelta(minutes=30), ("sport",)),
                ],
            ),
        )
        config = root / "feedd.toml"
        config.write_text(config_text(alpha, beta))
        result = feedd("fetch", "-c", str(config))
        assert result.returncode == 0, result.stdout + result.stderr
    finally:
        server.close()
    db = root / "feedd.db"
    with sqlite3.connect(db) as conn:
        ids = dict(conn.execute("SELECT title, id FROM articles"))
        conn.execute(
            "UPDATE articles SET duplicate_of = ? WHERE id = ?",
            (ids["Climate summit opens"], ids["Climate summit opens again"]),
        )
    conn.close()
    return {"config": str(config), "db": db, "ids": ids, "alpha": alpha, "beta": beta}


def run(filled, *args: str):
    result = feedd(*args, "-c", filled["config"], timeout=30)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def ok(filled, *args: str) -> str:
    result = run(filled, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def json_rows(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def titles(text: str) -> list[str]:
    return [row["title"] for row in json_rows(text)]


def test_articles_newest_first_duplicates_hidden(filled):
    assert titles(ok(filled, "articles", "--json")) == [
        "Football final",
        "Climate summit opens",
        "Budget & tax vote",
        "Old climate report",
    ]
    with_dups = titles(ok(filled, "articles", "--json", "--include-duplicates"))
    assert with_dups[2] == "Climate summit opens again"
    assert len(with_dups) == 5


def test_articles_table_and_csv(filled):
    table = ok(filled, "articles").splitlines()
    assert table[0].split() == ["id", "date", "feeds", "title", "url"]
    assert len(table) == 5
    assert "Football final" in table[1]
    rows = list(
        csv.DictReader(io.StringIO(ok(filled, "articles", "--csv", "--fields", "id,title,tags")))
    )
    assert [row["title"] for row in rows][:2] == ["Football final", "Climate summit opens"]
    assert json.loads(rows[0]["tags"]) == ["sport"]
    assert set(rows[0]) == {"id", "title", "tags"}


def run_many(config: str, *commands: tuple[str, ...]) -> list[subprocess.CompletedProcess]:
    """Run the commands at the same time (the suite stays fast); results in order."""
    procs = [
        subprocess.Popen(
            [FEEDD, *command, "-c", config],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in commands
    ]
    results = []
    for command, proc in zip(commands, procs, strict=True):
        out, err = proc.communicate(timeout=60)
        assert "Traceback" not in err, (command, err)
        results.append(subprocess.CompletedProcess(command, proc.returncode, out, err))
    return results


def ok_many(filled, *commands: tuple[str, ...]) -> list[str]:
    results = run_many(filled["config"], *commands)
    for result in results:
        assert result.returncode == 0, (result.args, result.stderr)
    return [result.stdout for result in results]


def test_articles_filters(filled):
    outs = ok_many(
        filled,
        ("articles", "--json", "--feed", "Alpha"),
        ("articles", "--json", "--feed", "Beta Feed", "--feed", filled["beta"]),
        ("articles", "--json", "--tag", "news"),
        ("articles", "--json", "--tag", "sport"),
        ("articles", "--json", "--since", "2d"),
        ("articles", "--json", "--until", "2025-01-01"),
        ("articles", "--json", "--since", "2024-01-01", "--until", "1d"),
        ("articles", "--json", "--limit", "1"),
    )
    assert [titles(out) for out in outs] == [
        ["Climate summit opens", "Budget & tax vote"],  # by config name
        ["Football final", "Old climate report"],  # by feed title or URL
        ["Climate summit opens", "Budget & tax vote"],  # the feed's tag
        ["Football final"],  # the item's own category
        ["Football final", "Climate summit opens"],
        ["Old climate report"],
        ["Budget & tax vote", "Old climate report"],
        ["Football final"],
    ]


def test_empty_results_exit_0(filled):
    assert ok_many(
        filled,
        ("articles", "--json", "--feed", "nobody"),
        ("articles", "--feed", "nobody"),
        ("articles", "--csv", "--feed", "nobody"),
        ("search", "zebra", "--json"),
        ("feeds", "--failing", "--json"),
    ) == ["", "", "id,date,feeds,title,url\n", "", ""]


BAD_ARGUMENTS = [
    (("articles", "--since", "soon"), "bad time 'soon'"),
    (("articles", "--until", "2025-13-45"), "bad time"),
    (("articles", "--fields", "title,secret"), "unknown field(s) secret"),
    (("articles", "--limit", "-1"), "--limit"),
    (("articles", "--json", "--csv"), "exclusive"),
    (("export", "--format", "pdf"), "--format"),
    (("search", "climate AND"), "bad search query"),
    (("search", '"unterminated'), "bad search query"),
    (("search", "nosuchcolumn:word"), "bad search query"),
    (("tail", "--interval", "never"), "--interval"),
]


def test_bad_arguments_exit_2(filled):
    results = run_many(filled["config"], *(args for args, _message in BAD_ARGUMENTS))
    for (args, message), result in zip(BAD_ARGUMENTS, results, strict=True):
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert result.stdout == ""


def test_missing_database_exits_1(tmp_path):
    config = tmp_path / "feedd.toml"
    config.write_text('database = "nothing.db"\n')
    commands = [("articles",), ("search", "x"), ("show", "1"), ("feeds",), ("stats",), ("export",)]
    for result in run_many(str(config), *commands):
        assert result.returncode == 1, (result.args, result.stderr)
        assert "nothing.db does not exist" in result.stderr
    assert not (tmp_path / "nothing.db").exists()  # read-only: nothing created
    bad_config = feedd("articles", "-c", str(tmp_path / "none.toml"))
    assert bad_config.returncode == 2
    assert "file not found" in bad_config.stderr


def test_search_ranks_and_highlights(filled):
    plain, dups, by_feed, by_column, table, as_csv = ok_many(
        filled,
        ("search", "climate", "--json"),
        ("search", "climate", "--json", "--include-duplicates"),
        ("search", "climate", "--json", "--feed", "Beta Feed"),
        ("search", "title:tax", "--json"),
        ("search", "climate"),
        ("search", "football", "--csv"),
    )
    rows = json_rows(plain)
    assert {row["title"] for row in rows} == {"Climate summit opens", "Old climate report"}
    assert all("[climate]" in row["snippet"].lower() for row in rows)
    assert "\\u0002" not in plain
    assert len(json_rows(dups)) == 3
    assert titles(by_feed) == ["Old climate report"]
    assert titles(by_column) == ["Budget & tax vote"]
    assert table.splitlines()[0].split()[-1] == "snippet"
    assert next(csv.DictReader(io.StringIO(as_csv)))["title"] == "Football final"


def test_show_by_id_and_url(filled):
    ids = filled["ids"]
    original = ids["Climate summit opens"]
    by_id, by_url, text, missing = run_many(
        filled["config"],
        ("show", str(original), "--json"),
        ("show", "https://example.org/a3", "--json"),
        ("show", str(original)),
        ("show", "999999"),
    )
    article = json.loads(by_id.stdout)
    assert article["title"] == "Climate summit opens"
    assert article["content_text"] == "Text of Climate summit opens & more"
    assert article["feeds"][0]["guid"] == "a1"
    assert article["feeds"][0]["link"] == "https://example.org/a1"
    assert [d["id"] for d in article["duplicates"]] == [ids["Climate summit opens again"]]
    assert article["duplicate_of"] is None
    assert json.loads(by_url.stdout)["duplicate_of"]["id"] == original
    assert "Climate summit opens" in text.stdout
    assert "guid a1" in text.stdout
    assert "Text of Climate summit opens & more" in text.stdout
    assert missing.returncode == 1
    assert "no article 999999" in missing.stderr


def test_feeds(filled):
    as_json, as_csv, table = ok_many(filled, ("feeds", "--json"), ("feeds", "--csv"), ("feeds",))
    rows = json_rows(as_json)
    assert [row["name"] for row in rows] == ["Alpha", "Beta Feed"]
    assert rows[0]["state"] == "ok"
    assert rows[0]["articles"] == 3
    assert rows[0]["per_day"] == pytest.approx(0.1)
    assert rows[1]["error_count"] == 0
    assert list(csv.DictReader(io.StringIO(as_csv)))[1]["url"] == filled["beta"]
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["name", "url", "state"]
    assert len(lines) == 3


def test_feeds_failing_and_disabled(filled, tmp_path):
    db = tmp_path / "feedd.db"
    shutil.copy(filled["db"], db)
    config = tmp_path / "feedd.toml"
    config.write_text(config_text(filled["alpha"], filled["beta"]))
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE feeds SET state = 'failing', error_count = 3, last_error = 'HTTP 500' "
            "WHERE name = 'Alpha'"
        )
        conn.execute("UPDATE feeds SET enabled = 0 WHERE name IS NULL")
    conn.close()
    rows = json_rows(feedd("feeds", "--json", "-c", str(config)).stdout)
    assert [row["state"] for row in rows] == ["failing", "disabled"]
    failing = json_rows(feedd("feeds", "--failing", "--json", "-c", str(config)).stdout)
    assert [(row["name"], row["error_count"], row["last_error"]) for row in failing] == [
        ("Alpha", 3, "HTTP 500")
    ]


def test_stats(filled):
    as_json, text = ok_many(filled, ("stats", "--json"), ("stats",))
    data = json.loads(as_json)
    assert data["feeds"] == {"total": 2, "ok": 2}
    assert data["articles"] == 5
    assert data["duplicates"] == 1
    assert data["article_feeds"] == 5
    assert len(data["ingest_per_day"]) == 14
    assert data["ingest_per_day"][-1]["articles"] == 5
    assert [feed["articles"] for feed in data["top_feeds"]] == [3, 2]
    assert isinstance(data["links"], dict)
    assert data["database_bytes"]["total"] > 0
    assert "articles       5 (1 duplicates)" in text
    assert "top feeds" in text


def test_export_data_formats(filled):
    jsonl, as_csv, json_feed = ok_many(
        filled,
        ("export",),
        ("export", "--format", "csv"),
        ("export", "--format", "json-feed", "--limit", "2"),
    )
    rows = json_rows(jsonl)
    assert rows[0]["title"] == "Football final"
    assert len(rows) == 4
    assert rows[0]["content_html"].startswith("<p>")
    assert rows[0]["tags"] == ["sport"]
    parsed = list(csv.DictReader(io.StringIO(as_csv)))
    assert [row["title"] for row in parsed] == [row["title"] for row in rows]
    assert parsed[2]["content_text"] == "Text of Budget & tax vote & more"
    document = json.loads(json_feed)
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    assert [item["title"] for item in document["items"]] == [
        "Football final",
        "Climate summit opens",
    ]
    assert all(item["id"] and "content_html" in item for item in document["items"])


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_export_feeds_parse_back(filled, fmt):
    text, filtered, empty = (
        feedparser.parse(out.encode())
        for out in ok_many(
            filled,
            ("export", "--format", fmt, "--title", "Mine & yours", "--limit", "0"),
            ("export", "--format", fmt, "--feed", "Alpha"),
            ("export", "--format", fmt, "--tag", "none"),
        )
    )
    assert not text.bozo, text.get("bozo_exception")
    assert text.feed.title == "Mine & yours"
    assert [entry.title for entry in text.entries] == [
        "Football final",
        "Climate summit opens",
        "Budget & tax vote",
        "Old climate report",
    ]
    assert text.entries[0].link == "https://example.org/b2"
    assert "Text of Football final &amp; more" in text.entries[0].content[0].value
    assert [tag.term for tag in text.entries[0].tags] == ["sport"]
    assert len(filtered.entries) == 2
    assert not empty.bozo
    assert empty.entries == []


def test_queries_while_a_writer_writes(filled, tmp_path):
    db = tmp_path / "feedd.db"
    shutil.copy(filled["db"], db)
    config = tmp_path / "feedd.toml"
    config.write_text(config_text(filled["alpha"], filled["beta"]))
    stop = threading.Event()
    written = []

    def writer():
        conn = sqlite3.connect(db, isolation_level=None, timeout=30)
        conn.execute("PRAGMA journal_mode = WAL")
        number = 0
        while not stop.is_set():
            conn.execute("BEGIN IMMEDIATE")
            for _ in range(20):
                number += 1
                conn.execute(
                    "INSERT INTO articles (title, url, content_text, first_seen_at, modified_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (f"Written {number}", f"https://w.example/{number}", "climate text", "x", "x"),
                )
            time.sleep(0.01)  # hold the write lock a little
            conn.execute("COMMIT")
            written.append(number)
            time.sleep(0.01)
        conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        commands = [
            ["articles", "--json"],
            ["search", "climate", "--json"],
            ["feeds", "--json"],
            ["stats", "--json"],
            ["export", "--format", "rss"],
            ["show", "1", "--json"],
        ]
        # All at once: concurrent readers beside the writer.
        procs = [
            (
                command,
                subprocess.Popen(
                    [FEEDD, *command, "-c", str(config)],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                ),
            )
            for command in commands
        ]
        for command, proc in procs:
            _out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, (command, err)
            assert "locked" not in err
    finally:
        stop.set()
        thread.join()
    assert written, "the writer never committed"


def test_tail_follows_new_articles_and_stops_on_sigterm(tmp_path):
    server = FeedServer()
    try:
        url = server.add("/t.xml", rss("Tail", [("t1", "Before tail")]))
        config = tmp_path / "feedd.toml"
        config.write_text(
            'database = "feedd.db"\n[fetch]\nallow_private_networks = true\n'
            f'[[feeds]]\nurl = "{url}"\n'
        )
        assert feedd("fetch", "-c", str(config)).returncode == 0
        tail = subprocess.Popen(
            [FEEDD, "tail", "--json", "--interval", "0.2s", "-c", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            time.sleep(0.8)  # let it find where it starts
            server.add("/t.xml", rss("Tail", [("t1", "Before tail"), ("t2", "During tail")]))
            assert feedd("fetch", "-c", str(config)).returncode == 0
            assert tail.stdout is not None
            line = tail.stdout.readline()
            assert json.loads(line)["title"] == "During tail"
            tail.send_signal(signal.SIGTERM)
            out, err = tail.communicate(timeout=10)
        finally:
            if tail.poll() is None:
                tail.kill()
                tail.communicate()
        assert tail.returncode == 0, err
        assert "Traceback" not in err
        assert out == ""  # nothing else, "Before tail" was there before it started
    finally:
        server.close()


def test_tail_since_id_and_sigint(filled):
    tail = subprocess.Popen(
        [FEEDD, "tail", "--since-id", "0", "--interval", "0.2s", "-c", filled["config"]],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert tail.stdout is not None
        lines = [tail.stdout.readline() for _ in range(4)]  # duplicates are hidden
        assert "Climate summit opens" in "".join(lines)
        tail.send_signal(signal.SIGINT)
        _out, err = tail.communicate(timeout=10)
    finally:
        if tail.poll() is None:
            tail.kill()
            tail.communicate()
    assert tail.returncode == 0, err
    assert "Traceback" not in err
