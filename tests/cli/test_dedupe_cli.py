"""`feedd dedupe [--repair]` on a database written by the rules before schema 7.

Those rules inserted a story twice when one document carried it twice (an
applet's two short links to one article): the rows are made here as they made
them, with plain INSERT intents, then the installed command merges them.
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from test_cli import FEEDD, query

from feedd import normalize
from feedd.store.sqlite import SQLiteStore as Store
from feedd.types import Action, Entry, FeedSettings, Intent, RawEntry

NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
STORY = "https://www.rt.com/russia/544702-russia-us-security-talks/"
SHOW = "https://show.example/"
LEAD = "Russia and the US will hold security talks in Geneva in January, the Kremlin said."
FULL = " ".join(
    [LEAD, *(f"Paragraph {n} of the whole story, with its own words." for n in range(40))]
)


def entry(guid: str, title: str, url: str, text: str) -> Entry:
    raw = RawEntry(
        id=guid, link=url, title=title, summary=None, content=f"<p>{text}</p>", author=None,
        published=NOW - timedelta(days=1), updated=None, published_raw=None, updated_raw=None,
    )  # fmt: skip
    return normalize.normalize_entry(raw, link=url, url=url)


def old_database(path: Path) -> None:
    """An applet feed that posted the story twice, the publisher's feed whose fuller
    item came later (stored as a third row), and a podcast whose episodes all link to
    the show's page."""
    feeds = ["https://applet.example/feed", "https://rt.example/rss", "https://show.example/rss"]
    with Store(path) as store:
        store.sync_feeds([FeedSettings(u, None, 1800.0, (), True) for u in feeds], NOW)
        applet, publisher, podcast = (feed.id for feed in store.feeds_by_url(feeds))
        batches = {
            applet: [
                entry("ift-1", "Russia-US security talks set", STORY, LEAD),
                entry("ift-2", "Russia-US security talks set", STORY, LEAD),
            ],
            publisher: [entry("rt-1", "Russia-US security talks set for January", STORY, FULL)],
            podcast: [
                entry(f"ep-{n}", f"Episode {n}", SHOW, f"Show notes of episode {n}.")
                for n in (1, 2, 3)
            ],
        }
        for feed_id, entries in batches.items():
            with store.transaction():
                intents = [Intent(Action.INSERT, e, "new") for e in entries]
                store.apply(feed_id, intents, language=None, now=NOW)


def feedd(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FEEDD, *args], capture_output=True, text=True, timeout=60, check=False)


def test_dedupe_lists_then_repairs_a_split_story_and_leaves_the_podcast_alone(tmp_path: Path):
    db = tmp_path / "feedd.db"
    old_database(db)
    config = tmp_path / "feedd.toml"
    config.write_text('database = "feedd.db"\n')
    assert query(db, "SELECT count(*) FROM articles WHERE url = ?", STORY) == [(3,)]

    listed = feedd("dedupe", "-c", str(config))
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == [
        "would merge 2, 3 into 1 (the text of 3)",
        "1 stories, 2 articles to merge (run with --repair)",
    ]
    assert query(db, "SELECT count(*) FROM articles") == [(6,)]  # nothing written

    repaired = feedd("dedupe", "-c", str(config), "--repair")
    assert repaired.returncode == 0, repaired.stderr
    assert repaired.stdout.splitlines()[-1] == "1 stories, 2 articles merged"
    # One row for the story: the oldest id, the publisher's full text, every item.
    assert query(db, "SELECT id, title, word_count > 300 FROM articles WHERE url = ?", STORY) == [
        (1, "Russia-US security talks set for January", 1)
    ]
    assert query(db, "SELECT guid FROM article_feeds WHERE article_id = 1 ORDER BY guid") == [
        ("ift-1",),
        ("ift-2",),
        ("rt-1",),
    ]
    assert query(db, "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH 'Geneva'") == [
        (1,)
    ]
    # Different stories on one URL stay apart.
    assert query(db, "SELECT count(*) FROM articles WHERE url = ?", SHOW) == [(3,)]
    with Store(db) as store:
        assert store.integrity_problems() == []

    again = feedd("dedupe", "-c", str(config), "--repair")
    assert again.stdout.splitlines() == ["0 stories, 0 articles merged"]
    assert query(db, "SELECT count(*) FROM articles") == [(4,)]
