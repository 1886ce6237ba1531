"""One story from three feeds, in every arrival order (issue 4).

A publisher's feed with the full article, an applet feed with the title, one
line and a short link to it, and a blog that republishes the text with a
weather widget, a date line and a trailer around it, all served on
127.0.0.1. Whatever order they answer in, the story is one article with the
publisher's full text (the applet's item is linked to it), the blog's copy is
its own row with ``duplicate_of`` pointing at it, and an unrelated story on
the same topic is not marked.
"""

from __future__ import annotations

import itertools
import random
import sqlite3
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from conftest import write_config
from feedserver import FeedServer
from integration_support import Item, rows, rss20

from feedd.config import load_config
from feedd.pipeline import fetch_once
from feedd.store.sqlite import SQLiteStore as Store

TOPIC_TEXT = (
    "the council voted on the new budget for the harbour district after a long debate "
    "about housing transport schools water rents and the old shipyard which has been "
    "empty for years"
)
TOPIC = TOPIC_TEXT.split()


def story(seed: int, paragraphs: int = 6, words: int = 50) -> list[str]:
    """Paragraphs of plausible text: the same topic words, in an order of its own."""
    rng = random.Random(seed)  # noqa: S311 - reproducible text, nothing secret
    return [
        " ".join(rng.choice(TOPIC) for _ in range(words)).capitalize() + "."
        for _ in range(paragraphs)
    ]


def html(paragraphs: list[str]) -> str:
    return "".join(f"<p>{p}</p>" for p in paragraphs)


STORY = story(1)
UNRELATED = story(2)
PUBLISHED = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)


def date(offset: timedelta) -> str:
    return format_datetime(PUBLISHED + offset, usegmt=True)


class Scene:
    """The four feeds and the article page, on one server."""

    def __init__(self, server: FeedServer, publisher_latency: float = 0.0) -> None:
        self.article = server.add(
            "/news/harbour-budget", f"<html><body>{html(STORY)}</body></html>",
            content_type="text/html",
        )  # fmt: skip
        self.short = f"http://localhost:{server.port}/s/hb1"
        server.add("/s/hb1", status=301, location=self.article)
        self.publisher = server.add(
            "/publisher.xml",
            rss20(Item("pub-1", "Council passes harbour budget", self.article, html(STORY),
                       date(timedelta())), title="Publisher"),
            latency=publisher_latency,
        )  # fmt: skip
        self.applet = server.add(
            "/applet.xml",
            rss20(Item("ift-1", "Council passes harbour budget", self.short,
                       f"<p>{STORY[0][:80]}</p><p>{self.short}</p>", date(timedelta(minutes=5))),
                  title="Applet"),
        )  # fmt: skip
        blog_html = (
            "<p>Weather: 12°C, light rain. Wind 20 km/h.</p>"
            f"<p>{PUBLISHED:%B %d, %Y at %I:%M%p}</p>"
            + html(STORY)
            + "<p>Read more: Council passes harbour budget</p>"
            + "<p>from Publisher \u2013 Daily news</p>"
        )
        self.blog = server.add(
            "/blog.xml",
            rss20(Item("blog-1", "Council passes harbour budget", server.url("/blog/harbour"),
                       blog_html, date(timedelta(hours=1))),
                  title="Blog"),
        )  # fmt: skip
        self.other = server.add(
            "/other.xml",
            rss20(Item("other-1", "Harbour district: what the budget means", server.url("/o/1"),
                       html(UNRELATED), date(timedelta(minutes=30))),
                  title="Other"),
        )  # fmt: skip

    @property
    def feeds(self) -> list[str]:
        return [self.publisher, self.applet, self.blog, self.other]


def config_for(tmp_path: Path, scene: Scene):
    extra = '[links]\nresolve = "shorteners"\nshorteners = ["localhost"]\n'
    return load_config(write_config(tmp_path, scene.feeds, extra))


def articles(db: Path) -> list[dict[str, object]]:
    return rows(
        db,
        "SELECT a.id, a.url, a.title, a.content_text, a.duplicate_of, "
        "group_concat(f.url, ' ') AS feeds "
        "FROM articles a JOIN article_feeds af ON af.article_id = a.id "
        "JOIN feeds f ON f.id = af.feed_id GROUP BY a.id ORDER BY a.id",
    )


def check(db: Path, scene: Scene) -> None:
    found = articles(db)
    by_feed = {feed: a for a in found for feed in str(a["feeds"]).split()}
    original = by_feed[scene.publisher]
    # The applet's item is the same story (its short link leads to the article).
    assert by_feed[scene.applet]["id"] == original["id"]
    assert original["url"] == scene.article
    # The publisher's full text, whichever item arrived first.
    assert STORY[-1][:60] in str(original["content_text"])
    assert original["duplicate_of"] is None
    # The blog's copy: its own row, marked as a duplicate of the original.
    copy = by_feed[scene.blog]
    assert copy["id"] != original["id"]
    assert copy["duplicate_of"] == original["id"]
    # The unrelated story on the same topic is left alone.
    assert by_feed[scene.other]["duplicate_of"] is None
    assert len(found) == 3
    with Store(db) as store:
        assert store.integrity_problems() == []


@pytest.mark.parametrize(
    "order", list(itertools.permutations(["publisher", "applet", "blog"])), ids="-".join
)
async def test_every_arrival_order_gives_the_same_result(
    server: FeedServer, tmp_path: Path, order: tuple[str, ...]
):
    scene = Scene(server)
    config = config_for(tmp_path, scene)
    await fetch_once(config, [scene.other])
    for name in order:
        await fetch_once(config, [getattr(scene, name)])
    check(config.database, scene)


@pytest.mark.parametrize("incremental", [True, False], ids=["incremental", "whole"])
@pytest.mark.parametrize("reverse", [False, True], ids=["in-order", "reversed"])
@pytest.mark.parametrize(
    "order", list(itertools.permutations(["publisher", "applet", "blog"])), ids="-".join
)
async def test_an_applet_posting_the_story_twice_gives_one_article(
    server: FeedServer, tmp_path: Path, order: tuple[str, ...], reverse: bool, incremental: bool
):
    """The applet posts the story twice in one document, the second time under another
    short link (302, then 301 to the article with tracking parameters): one article,
    both of the applet's items linked to it, whatever the order of feeds and items,
    and whether the applet's document is digested incrementally (an older item of
    it stored and kept) or whole."""
    scene = Scene(server)
    server.add("/s/hb2", status=302, location=server.url("/r/hb2"))
    server.add("/r/hb2", status=301, location=f"{scene.article}?utm_source=ifttt&utm_medium=rss")
    lead = f"<p>{STORY[0][:80]}</p>"
    older = Item("ift-0", "Ferry timetable changes", server.url("/ferry"), html(story(7)),
                 date(-timedelta(days=1)))  # fmt: skip
    first = Item("ift-1", "Council passes harbour budget", scene.short, lead, date(timedelta()))
    again = Item(
        "ift-2", "Council passes harbour budget", f"http://localhost:{server.port}/s/hb2",
        lead, date(timedelta()),
    )  # fmt: skip
    config = config_for(tmp_path, scene)
    await fetch_once(config, [scene.other])
    for name in order:
        if name != "applet":
            await fetch_once(config, [getattr(scene, name)])
            continue
        server.add("/applet.xml", rss20(older, title="Applet"))
        await fetch_once(config, [scene.applet])
        both = [again, first] if reverse else [first, again]
        server.add("/applet.xml", rss20(*both, older, title="Applet"))
        if not incremental:
            with sqlite3.connect(config.database) as conn:
                conn.execute("DELETE FROM feed_digests")
        (outcome,) = await fetch_once(config, [scene.applet])
        stored_before = order.index("applet") > order.index("publisher")
        assert (outcome.new, outcome.linked) == ((0, 2) if stored_before else (1, 1))
    items = rows(
        config.database,
        "SELECT f.url AS feed, af.guid, af.article_id, a.url, a.content_text, a.duplicate_of "
        "FROM article_feeds af JOIN feeds f ON f.id = af.feed_id "
        "JOIN articles a ON a.id = af.article_id",
    )
    by_guid = {str(r["guid"]): r for r in items}
    original = by_guid["pub-1"]
    assert original["url"] == scene.article
    assert STORY[-1][:60] in str(original["content_text"])  # the publisher's full text
    assert original["duplicate_of"] is None
    assert (
        by_guid["ift-1"]["article_id"] == by_guid["ift-2"]["article_id"] == original["article_id"]
    )
    assert by_guid["ift-0"]["article_id"] != original["article_id"]
    assert by_guid["blog-1"]["article_id"] != original["article_id"]
    assert by_guid["blog-1"]["duplicate_of"] == original["article_id"]
    assert len({r["article_id"] for r in items}) == 4  # the story, the blog's copy, ferry, other
    with Store(config.database) as store:
        assert store.integrity_problems() == []


async def test_concurrent_fetch_with_a_slow_publisher(server: FeedServer, tmp_path: Path):
    scene = Scene(server, publisher_latency=1.0)
    config = config_for(tmp_path, scene)
    await fetch_once(config)  # the applet and the blog are stored before the publisher
    check(config.database, scene)


async def test_a_feed_that_restamps_its_items_at_each_fetch_is_not_updated(
    server: FeedServer, tmp_path: Path
):
    def document(stamp: timedelta) -> bytes:
        items = [
            Item(f"g{n}", f"Story {n}", server.url(f"/s/{n}"), html(story(10 + n)), date(stamp))
            for n in range(3)
        ]
        return rss20(*items, title="Restamper")

    url = server.add("/restamp.xml", document(timedelta()))
    config = load_config(write_config(tmp_path, [url]))
    (first,) = await fetch_once(config)
    assert first.new == 3
    for minutes in (10, 20):
        server.add("/restamp.xml", document(timedelta(minutes=minutes)))
        (again,) = await fetch_once(config)
        assert (again.new, again.updated, again.unchanged) == (0, 0, 3)


async def test_an_edited_item_is_updated_in_place_with_its_search_index(
    server: FeedServer, tmp_path: Path
):
    url = server.add(
        "/edits.xml", rss20(Item("e1", "Draft title", server.url("/e/1"), html(story(20))))
    )
    config = load_config(write_config(tmp_path, [url]))
    await fetch_once(config)
    (before,) = articles(config.database)
    edited = [*story(20)[:-1], "Correction: the vote was unanimous, zebras included."]
    server.add("/edits.xml", rss20(Item("e1", "Final title", server.url("/e/1"), html(edited))))
    (outcome,) = await fetch_once(config)
    assert outcome.updated == 1
    (after,) = articles(config.database)
    assert after["id"] == before["id"]
    assert after["title"] == "Final title"
    hits = rows(
        config.database,
        "SELECT rowid FROM articles_fts WHERE articles_fts MATCH 'zebras'",
    )
    assert [h["rowid"] for h in hits] == [before["id"]]
