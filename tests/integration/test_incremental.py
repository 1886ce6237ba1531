"""A feed whose body changed by one item: only that item is cleaned again, and
the database ends up exactly as if every item had been (real server, real
SQLite, the real pipeline; the pure side is in tests/unit/test_digest.py)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from conftest import write_config
from feedserver import FeedServer
from integration_support import Item, reader, rows, rss20, scalar

from feedd.config import load_config
from feedd.pipeline import fetch_once
from feedd.types import Status

SIGNATURE = "<p>Thanks for reading: subscribe for more stories like this.</p>"
WORDS = ["otter", "granite", "willow", "beacon", "saffron", "tundra", "mosaic", "quiver"]


def item(number: int, title: str | None = None) -> Item:
    text = " ".join(random.Random(number).choices(WORDS, k=70))  # noqa: S311 - test text
    return Item(
        guid=f"story-{number}",
        title=title or f"Story {number}",
        link=f"https://rss.example/{number}?utm_medium=feed",
        description=f"<p>{text}</p>{SIGNATURE}",
        pub_date=f"Tue, {10 + number:02d} Sep 2024 10:30:00 +0000",
    )


ARTICLE_COLUMNS = (
    "url, title, summary, content_text, content_html, author, published_at, updated_at, "
    "language, tags, date_flag, published_raw, word_count, enclosures, text_hash, duplicate_of"
)


def stored(db: Path) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    articles = rows(db, f"SELECT {ARTICLE_COLUMNS} FROM articles ORDER BY url")  # noqa: S608
    items = rows(db, "SELECT guid, link, content_hash, raw_hash FROM article_feeds ORDER BY guid")
    return articles, items


async def poll_twice(
    server: FeedServer, folder: Path, second: bytes, *, whole: bool, workers: int = 0
) -> tuple[Path, tuple[int, int, int], str]:
    """Store eight items, then poll the second body; ``whole``: forget the feed's
    digest state in between, so that every item is cleaned again."""
    path = "/feed.xml"  # one address: it is part of what an item is hashed with
    url = server.add(path, rss20(*(item(n) for n in range(1, 9))))
    folder.mkdir()
    config = load_config(write_config(folder, [url], f"workers = {workers}"))
    (first,) = await fetch_once(config)
    assert (first.status, first.new) == (Status.OK, 8), first
    state = scalar(config.database, "SELECT digest_state FROM feeds")
    assert isinstance(state, str)
    if whole:
        with reader(config.database) as conn:
            conn.execute("UPDATE feeds SET digest_state = NULL")
            conn.commit()
    server.add(path, second)
    (outcome,) = await fetch_once(config)
    assert outcome.status is Status.OK, outcome
    return config.database, (outcome.new, outcome.updated, outcome.unchanged), state


@pytest.mark.parametrize("workers", [0, 1])
async def test_one_new_item_gives_what_cleaning_every_item_gives(
    server: FeedServer, tmp_path: Path, workers: int
):
    second = rss20(item(9), *(item(n) for n in range(1, 9)))
    db, counts, state = await poll_twice(
        server, tmp_path / f"incremental{workers}", second, whole=False, workers=workers
    )
    whole_db, whole_counts, _ = await poll_twice(
        server, tmp_path / f"whole{workers}", second, whole=True, workers=workers
    )

    assert counts == whole_counts == (1, 0, 8)
    assert stored(db) == stored(whole_db)
    articles, items = stored(db)
    assert len(articles) == 9
    assert all("subscribe" not in str(a["content_text"]) for a in articles)  # learned
    assert all(i["raw_hash"] for i in items)
    # The incremental path ran: the state left by the first whole digest still holds.
    assert scalar(db, "SELECT digest_state FROM feeds") == state


async def test_an_edited_item_is_updated_as_a_whole_digest_would(
    server: FeedServer, tmp_path: Path
):
    second = rss20(item(1, title="Story 1, corrected"), *(item(n) for n in range(2, 9)))
    db, counts, _ = await poll_twice(server, tmp_path / "incremental", second, whole=False)
    whole_db, whole_counts, _ = await poll_twice(server, tmp_path / "whole", second, whole=True)

    assert counts == whole_counts == (0, 1, 7)
    assert stored(db) == stored(whole_db)
    assert "Story 1, corrected" in [a["title"] for a in stored(db)[0]]
