"""Revision history: a story edited after publication keeps each version it
replaced (article_revisions), from a real server over real polls."""

from __future__ import annotations

import dataclasses
import itertools
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conftest import write_config
from feedserver import FeedServer
from integration_support import Item, rows, rss20
from test_store import NOW, add_feeds, entry, write

from feedd.config import load_config
from feedd.output import word_diff
from feedd.pipeline import fetch_once
from feedd.store.reading import Filters
from feedd.store.sqlite import SQLiteStore
from feedd.store.sqlite.connection import split_statements
from feedd.store.sqlite.reading import SQLiteReader
from feedd.store.sqlite.schema import MIGRATIONS, SCHEMA_VERSION
from feedd.types import Action, Intent, format_timestamp

P1 = "The minister resigned on Monday after a vote of the whole council."
P1_FIXED = "The minister resigned on Tuesday after a vote of the whole council."
P2 = "Her deputy takes over until the election in the spring."
P3 = "A spokesman said the decision had been taken weeks ago."

# The story as the feed serves it at each poll: published, corrected (title
# and a word), a paragraph added, that paragraph removed.
VERSIONS = [
    ("Minister resigns", [P1, P2]),
    ("Minister resigns after council vote", [P1_FIXED, P2]),
    ("Minister resigns after council vote", [P1_FIXED, P2, P3]),
    ("Minister resigns after council vote", [P1_FIXED, P2]),
]


def serve(server: FeedServer, version: int) -> str:
    title, paragraphs = VERSIONS[version]
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return server.add(
        "/edits.xml",
        rss20(Item("m1", title, "https://news.example/minister", body), title="News"),
    )


def revisions(db: Path) -> list[dict[str, object]]:
    return rows(db, "SELECT * FROM article_revisions ORDER BY article_id, revision")


async def poll_three_edits(server: FeedServer, tmp_path: Path, extra: str = ""):
    config = load_config(write_config(tmp_path, [serve(server, 0)], extra))
    await fetch_once(config)
    await fetch_once(config)  # the same document again: nothing to keep
    assert revisions(config.database) == []
    for version in (1, 2, 3):
        serve(server, version)
        (outcome,) = await fetch_once(config)
        assert outcome.updated == 1
        await fetch_once(config)  # identical re-delivery
    return config


async def test_three_edits_over_three_polls_keep_three_revisions(
    server: FeedServer, tmp_path: Path
):
    config = await poll_three_edits(server, tmp_path)
    kept = revisions(config.database)
    assert [r["revision"] for r in kept] == [1, 2, 3]
    assert [r["reason"] for r in kept] == ["update"] * 3
    (article,) = rows(config.database, "SELECT id, title, content_text FROM articles")
    assert {r["article_id"] for r in kept} == {article["id"]}
    # Each row is the version that was replaced, oldest first.
    assert [r["title"] for r in kept] == [v[0] for v in VERSIONS[:3]]
    assert [r["content_text"] for r in kept] == ["\n".join(v[1]) for v in VERSIONS[:3]]
    assert article["content_text"] == "\n".join(VERSIONS[3][1])
    assert len({r["content_hash"] for r in kept}) == 3
    (feed,) = rows(config.database, "SELECT id FROM feeds")
    assert all(r["feed_id"] == r["replaced_by"] == feed["id"] for r in kept)
    for earlier, later in itertools.pairwise(kept):
        assert earlier["replaced_at"] <= later["first_seen_at"] == earlier["replaced_at"]
        assert earlier["first_seen_at"] <= earlier["last_seen_at"] <= earlier["replaced_at"]

    with SQLiteReader(config.database) as reader:
        texts = [r["content_text"] for r in reader.revisions(article["id"])]
        edited = reader.articles(Filters(edited=True), ("id", "edited_at", "revisions"))
        stats = reader.stats(datetime.now(UTC))
    assert edited == [{"id": article["id"], "edited_at": kept[-1]["replaced_at"], "revisions": 3}]
    assert stats["edits"] == [
        {"feed": "News", "url": server.url("/edits.xml"), "updates": 3, "enrichments": 0,
         "articles": 1}
    ]  # fmt: skip
    # The diffs of each version against the next: the correction, the
    # paragraph added, the paragraph removed.
    current = article["content_text"]
    assert word_diff(texts[0], texts[1]) == (
        "The minister resigned on [-Monday-] {+Tuesday+} after a vote of the whole council.\n" + P2
    )
    assert word_diff(texts[1], texts[2]) == f"{P1_FIXED}\n{P2}\n{{+{P3}+}}"
    assert word_diff(texts[2], current) == f"{P1_FIXED}\n{P2}\n[-{P3}-]"
    assert word_diff(kept[0]["title"], kept[1]["title"]) == (
        "Minister resigns {+after council vote+}"
    )


async def test_max_revisions_keeps_the_newest(server: FeedServer, tmp_path: Path):
    config = await poll_three_edits(server, tmp_path, "[retention]\nmax_revisions = 2\n")
    kept = revisions(config.database)
    assert [r["revision"] for r in kept] == [2, 3]
    assert [r["title"] for r in kept] == [v[0] for v in VERSIONS[1:3]]


async def test_max_revisions_0_keeps_none(server: FeedServer, tmp_path: Path):
    config = await poll_three_edits(server, tmp_path, "[retention]\nmax_revisions = 0\n")
    assert revisions(config.database) == []


async def test_a_fuller_copy_from_another_feed_is_an_enrichment(server: FeedServer, tmp_path: Path):
    link = "https://news.example/harbour"
    full = [P1, P2, P3, "The council meets again next week to choose a successor for her."]
    brief = server.add(
        "/brief.xml",
        rss20(Item("b1", "Minister resigns", link, f"<p>{P1}</p>"), title="Briefs"),
    )
    publisher = server.add(
        "/publisher.xml",
        rss20(Item("p1", "Minister resigns", link, "".join(f"<p>{p}</p>" for p in full)),
              title="Publisher"),
    )  # fmt: skip
    config = load_config(write_config(tmp_path, [brief, publisher]))
    await fetch_once(config, [brief])
    await fetch_once(config, [publisher])
    (kept,) = revisions(config.database)
    feeds = {r["url"]: r["id"] for r in rows(config.database, "SELECT id, url FROM feeds")}
    assert kept["reason"] == "enrichment"
    assert kept["content_text"] == P1
    assert (kept["feed_id"], kept["replaced_by"]) == (feeds[brief], feeds[publisher])
    (article,) = rows(config.database, "SELECT content_text FROM articles")
    assert article["content_text"] == "\n".join(full)


async def test_retention_deletes_an_articles_revisions(server: FeedServer, tmp_path: Path):
    config = await poll_three_edits(server, tmp_path)
    assert len(revisions(config.database)) == 3
    with SQLiteStore(config.database) as store:
        assert store.housekeeping(datetime.now(UTC) + timedelta(days=30), max_age=86400) == 1
    assert revisions(config.database) == []


async def test_housekeeping_trims_to_a_lowered_limit(server: FeedServer, tmp_path: Path):
    config = await poll_three_edits(server, tmp_path)
    with SQLiteStore(config.database) as store:
        store.housekeeping(datetime.now(UTC), max_revisions=1)
    assert [r["revision"] for r in revisions(config.database)] == [3]


def test_an_update_that_changes_no_words_keeps_no_revision(tmp_path: Path):
    with SQLiteStore(tmp_path / "feedd.db") as store:
        (fid,) = add_feeds(store, "https://a.example/feed")
        first = entry("g1", "Title", "https://a.example/1", "The same words")
        write(store, fid, [first])
        (article,) = rows(store.path, "SELECT id FROM articles")
        # Another author and tags, the same title and text: written, nothing kept.
        again = dataclasses.replace(first, author="Bob", tags=("t2",), content_hash="other")
        with store.transaction():
            store.apply(
                fid, [Intent(Action.UPDATE, again, "edited", article["id"])],
                language=None, now=NOW,
            )  # fmt: skip
        assert rows(store.path, "SELECT tags FROM articles") == [{"tags": '["t2"]'}]
        assert revisions(store.path) == []
        changed = dataclasses.replace(again, title="Title, corrected")
        with store.transaction():
            store.apply(
                fid, [Intent(Action.UPDATE, changed, "edited", article["id"])],
                language=None, now=NOW + timedelta(hours=1),
            )  # fmt: skip
        (kept,) = revisions(store.path)
        assert (kept["title"], kept["reason"]) == ("Title", "update")
        assert kept["first_seen_at"] == format_timestamp(NOW)
        assert kept["replaced_at"] == format_timestamp(NOW + timedelta(hours=1))


def test_a_version_7_database_migrates_and_keeps_revisions(tmp_path: Path):
    path = tmp_path / "v7.db"
    with sqlite3.connect(path) as conn:
        for script in MIGRATIONS[:7]:
            for statement in split_statements(script):
                conn.execute(statement)
        conn.execute(
            "INSERT INTO articles (id, url, title, content_text, first_seen_at, modified_at) "
            "VALUES (1, 'https://a.example/1', 'Old', 'Old text', '2024-01-01T00:00:00Z', "
            "'2024-01-01T00:00:00Z')"
        )
        conn.execute("PRAGMA user_version = 7")
    conn.close()
    with SQLiteStore(path) as store:
        assert store.schema_version == SCHEMA_VERSION  # 8, and what came after
        (fid,) = add_feeds(store, "https://a.example/feed")
        replacement = entry("g1", "New", "https://a.example/1", "New text")
        with store.transaction():
            store.apply(
                fid, [Intent(Action.UPDATE, replacement, "edited", 1)], language=None, now=NOW
            )
    (kept,) = revisions(path)
    assert (kept["article_id"], kept["revision"], kept["title"]) == (1, 1, "Old")
    assert kept["content_text"] == "Old text"
    assert kept["first_seen_at"] == "2024-01-01T00:00:00Z"
