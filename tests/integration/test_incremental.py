"""A feed whose body changed by one item: only that item is cleaned again, and
the database ends up exactly as if every item had been (real server, real
SQLite, the real pipeline; the pure side is in tests/unit/test_digest.py)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import httpx
import pytest
from conftest import write_config
from feedserver import FeedServer
from integration_support import Item, fetched, reader, rows, rss20, scalar

from feedd.config import load_config
from feedd.pipeline import Pipeline, fetch_once, open_store, utcnow
from feedd.types import Fetched, Status

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
    server: FeedServer,
    folder: Path,
    second: bytes,
    *,
    whole: bool,
    workers: int = 0,
    first: bytes | None = None,
    extra: str = "",
) -> tuple[Path, tuple[int, int, int], str]:
    """Store the first body (eight items), then poll the second; ``whole``:
    forget the feed's digest state in between, so that every item is cleaned."""
    path = "/feed.xml"  # one address: it is part of what an item is hashed with
    url = server.add(path, first or rss20(*(item(n) for n in range(1, 9))))
    folder.mkdir()
    config = load_config(write_config(folder, [url], f"workers = {workers}\n{extra}"))
    (outcome,) = await fetch_once(config)
    assert outcome.status is Status.OK, outcome
    state = scalar(config.database, "SELECT state FROM feed_digests")
    assert isinstance(state, str)
    if whole:
        with reader(config.database) as conn:
            conn.execute("DELETE FROM feed_digests")
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
    # The incremental path ran: what was learned and what from is the first poll's.
    now = json.loads(str(scalar(db, "SELECT state FROM feed_digests")))
    assert now["learned_from"] == json.loads(state)["learned_from"]
    assert now["lines"] == [SIGNATURE[3:-4].casefold()]


async def test_an_edited_item_is_updated_as_a_whole_digest_would(
    server: FeedServer, tmp_path: Path
):
    second = rss20(item(1, title="Story 1, corrected"), *(item(n) for n in range(2, 9)))
    db, counts, _ = await poll_twice(server, tmp_path / "incremental", second, whole=False)
    whole_db, whole_counts, _ = await poll_twice(server, tmp_path / "whole", second, whole=True)

    assert counts == whole_counts == (0, 1, 7)
    assert stored(db) == stored(whole_db)
    assert "Story 1, corrected" in [a["title"] for a in stored(db)[0]]


async def test_kept_items_links_resolve_as_the_new_items_do(server: FeedServer, tmp_path: Path):
    # Podcast episodes all linking to the show through one short link: after
    # resolution that URL is shared, so a new episode is not "the same story"
    # as an old one. The old episodes are kept (not cleaned) but their link
    # resolves as the new one's does, as it would were they cleaned.
    show = server.add("/show/", "<html>the show</html>", content_type="text/html")
    short = server.add("/s", status=301, location=show)

    def episode(number: int) -> Item:
        return Item(f"ep-{number}", f"Episode {number}", short, f"<p>Episode {number}</p>")

    first = rss20(episode(1), episode(2))
    second = rss20(episode(3), episode(1), episode(2))
    links = '[links]\nresolve = "all"'
    db, counts, _ = await poll_twice(
        server, tmp_path / "incremental", second, whole=False, first=first, extra=links
    )
    whole_db, whole_counts, _ = await poll_twice(
        server, tmp_path / "whole", second, whole=True, first=first, extra=links
    )

    assert counts == whole_counts == (1, 0, 2)
    assert stored(db) == stored(whole_db)
    assert scalar(db, "SELECT count(*) FROM articles") == 3
    assert scalar(db, "SELECT count(DISTINCT url) FROM articles") == 1  # the show's page


async def test_kept_items_deleted_during_the_poll_are_stored_again(tmp_path: Path):
    # Retention (or another writer) deletes stored items between the read of the
    # feed's digest state and the transaction that relies on it: the document
    # is cleaned whole, and the deleted items come back, as they would have.
    url = "https://feeds.example/f.xml"
    config = load_config(write_config(tmp_path, [url]))

    def answer(*numbers: int) -> Fetched:
        return fetched(url, rss20(*(item(n) for n in numbers)))

    store = open_store(config)
    async with httpx.AsyncClient() as unused_client:  # nothing here goes to the network
        pipeline = Pipeline(config, store, unused_client)
        [feed] = store.feeds_by_url([url])
        assert pipeline.process(feed, answer(*range(1, 9))).new == 8
        later = answer(9, *range(1, 9))
        prepared = pipeline.prepare(feed, later)
        assert len(prepared.digested.kept) == 8
        assert store.housekeeping(utcnow(), max_per_feed=5) == 3
        outcome = pipeline.finish(feed, later, prepared, (), 0.0)
        pipeline.close()
    store.close()

    assert (outcome.new, outcome.unchanged) == (4, 5)
    assert scalar(config.database, "SELECT count(*) FROM article_feeds") == 9
