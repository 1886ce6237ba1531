"""The storage seam is real: the pipeline polls feeds into a store that is not SQLite.

``DictStore`` implements ``feedd.store.Storage`` with dicts, written for this
test and nothing else. A real server on 127.0.0.1 serves two feeds; the
pipeline fetches, digests, resolves, dedupes and records them into it, and no
database file is ever created.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from conftest import write_config
from feedserver import FeedServer
from integration_support import Item, rss20

from feedd.config import load_config
from feedd.pipeline import Pipeline, make_client, make_guard
from feedd.store import Storage
from feedd.types import (
    Action,
    CachedLink,
    Counts,
    DueFeed,
    Entry,
    FeedSettings,
    FeedSource,
    FeedUpdate,
    Intent,
    Kept,
    Known,
    KnownArticle,
    KnownItem,
    Merge,
    Page,
    PageJob,
    PageResult,
    Resolution,
    Status,
)


class DictStore:
    """Storage in dicts: feeds by id, items by (feed, guid), articles by id."""

    def __init__(self) -> None:
        self.feeds: dict[int, dict[str, Any]] = {}
        self.items: dict[tuple[int, str], dict[str, Any]] = {}
        self.articles: dict[int, dict[str, Any]] = {}
        self.links: dict[str, CachedLink] = {}
        self.signatures: dict[int, bytes] = {}
        self.bands: dict[str, set[int]] = {}
        self.digests: dict[int, str] = {}
        self.pages: dict[int, dict[str, Any]] = {}  # by article id

    def close(self) -> None:
        pass

    @contextmanager
    def transaction(self) -> Iterator[None]:
        saved = copy.deepcopy(self.__dict__)
        try:
            yield
        except BaseException:
            self.__dict__.update(saved)
            raise

    # -- feeds and their schedule

    def sync_feeds(self, feeds: Sequence[FeedSettings], now: datetime) -> None:
        known = {row["url"]: id_ for id_, row in self.feeds.items()}
        for feed in feeds:
            if feed.url not in known:
                id_ = len(self.feeds) + 1
                self.feeds[id_] = {"url": feed.url, "interval": feed.interval, "state": "new"}

    def _due(self, id_: int) -> DueFeed:
        row = self.feeds[id_]
        source = FeedSource(
            row["url"], row.get("etag"), row.get("last_modified"), row.get("body_hash")
        )
        return DueFeed(id_, row["url"], row["interval"], row.get("errors", 0), source)

    def due_feeds(
        self, now: datetime, limit: int, exclude: Iterable[int] = ()
    ) -> tuple[DueFeed, ...]:
        skip = set(exclude)
        due = [
            i
            for i, row in self.feeds.items()
            if i not in skip and not row.get("imported") and row.get("next", now) <= now
        ]
        return tuple(self._due(i) for i in due[:limit])

    def feeds_by_url(self, urls: Iterable[str]) -> tuple[DueFeed, ...]:
        by_url = {row["url"]: id_ for id_, row in self.feeds.items()}
        return tuple(self._due(by_url[url]) for url in urls if url in by_url)

    def source_feed(self, name: str, url: str, now: datetime) -> int:
        for id_, row in self.feeds.items():
            if not row.get("imported") and name in (row.get("name"), row.get("title")):
                return id_
            if row.get("imported") and row["url"] == url:
                return id_
        id_ = len(self.feeds) + 1
        self.feeds[id_] = {"url": url, "name": name, "imported": True, "interval": 0}
        return id_

    def has_polled(self, feed_id: int) -> bool:
        return "ok_at" in self.feeds[feed_id]

    # -- recording a poll

    def record_poll(self, feed_id: int, update: FeedUpdate) -> None:
        row = self.feeds[feed_id]
        row.update(state=update.state, status=update.status, errors=update.error_count)
        row.update(error=update.error)
        if update.next_fetch_at is not None:
            row["next"] = update.next_fetch_at
        if update.answer is None:
            return
        answer = update.answer
        row.update(ok_at=update.fetched_at, etag=answer.etag, last_modified=answer.last_modified)
        if answer.document is not None:
            row.update(body_hash=answer.document.body_hash)
            row["title"] = answer.document.title or row.get("title")

    def digest_state(self, feed_id: int) -> str | None:
        return self.digests.get(feed_id)

    def save_digest_state(self, feed_id: int, state: str) -> None:
        self.digests[feed_id] = state

    # -- articles and their identity

    def still_stored(self, feed_id: int, items: Sequence[tuple[str, str]]) -> bool:
        return all(
            self.items.get((feed_id, guid), {}).get("raw_hash") == raw for guid, raw in items
        )

    def stored_guids(self, feed_id: int, guids: Sequence[str]) -> frozenset[str]:
        return frozenset(g for g in guids if (feed_id, g) in self.items)

    def lock_identity(self, keys: Iterable[str]) -> None:
        pass  # one writer

    def host_slots(self) -> None:
        """One writer."""

    def known(self, feed_id: int, entries: Sequence[Entry], kept: Sequence[Kept] = ()) -> Known:
        guids = [*(e.guid for e in entries), *(k.guid for k in kept)]
        items = tuple(
            KnownItem(g, row["article"], row["content_hash"], row["raw_hash"])
            for g in guids
            if (row := self.items.get((feed_id, g)))
        )
        urls = {e.url for e in entries if e.url}
        texts = {e.text_hash for e in entries if e.text_hash}
        articles = tuple(
            KnownArticle(
                id_,
                a["url"],
                a["text_hash"],
                a["words"],
                a["title"],
                None,
                None if a.get("date_flag") else a.get("published"),
            )
            for id_, a in self.articles.items()
            if a["url"] in urls or (a["text_hash"] and a["text_hash"] in texts)
        )
        return Known(items, articles)

    def apply(
        self,
        feed_id: int,
        intents: Iterable[Intent],
        *,
        language: str | None,
        now: datetime,
        estimate_dates: bool = True,
        max_revisions: int = 20,
    ) -> tuple[Counts, tuple[tuple[int, Entry], ...]]:
        done = dict.fromkeys(Action, 0)
        written: list[tuple[int, Entry]] = []
        inserted: dict[str, int] = {}
        for intent in sorted(intents, key=lambda i: i.action is not Action.INSERT):
            entry, target = intent.entry, intent.article_id
            if intent.action is Action.INSERT:
                target = inserted[entry.guid] = len(self.articles) + 1
                self.articles[target] = {"url": entry.url, "first_seen": now}
            elif target is None and intent.same_as is not None:
                target = inserted[intent.same_as]
            if intent.action in (Action.INSERT, Action.ENRICH, Action.UPDATE):
                assert target is not None
                article = self.articles[target]
                if intent.action is not Action.INSERT and max_revisions > 0:
                    before = (article.get("title"), article.get("text"))
                    if before != (entry.title, entry.content_text):
                        kept = article.setdefault("revisions", [])
                        kept.append(before)
                        del kept[:-max_revisions]
                dated = {"published": entry.published_at, "date_flag": entry.date_flag}
                if intent.action is Action.INSERT and entry.published_at is None:
                    dated["published"] = now if estimate_dates else None
                elif intent.action is not Action.INSERT and entry.date_flag is not None:
                    dated = {}  # a date the new version lacks keeps the stored one
                article.update(title=entry.title, **dated)
                # An update of the feed's item keeps a page's fuller text.
                if not (
                    intent.action is Action.UPDATE
                    and article.get("source") == "page"
                    and article["words"] > entry.word_count
                ):
                    article.update(
                        text=entry.content_text,
                        text_hash=entry.text_hash,
                        words=entry.word_count,
                        source="feed",
                    )
                written.append((target, entry))
            elif intent.action is Action.LINK:
                assert target is not None
                article = self.articles[target]
                # A partial date (an imported story's) yields to any copy's full date.
                if article.get("date_flag") == "partial" and entry.date_flag is None:
                    article.update(published=entry.published_at, date_flag=None)
            if intent.action in (Action.INSERT, Action.LINK, Action.ENRICH, Action.UPDATE):
                self.items[(feed_id, entry.guid)] = {
                    "article": target,
                    "content_hash": entry.content_hash,
                    "raw_hash": entry.raw_hash,
                }
            done[intent.action] += 1
        counts = Counts(
            new=done[Action.INSERT],
            updated=done[Action.UPDATE] + done[Action.ENRICH],
            linked=done[Action.LINK] + done[Action.ENRICH],
            unchanged=done[Action.SKIP],
        )
        return counts, tuple(written)

    def articles_sharing_urls(self) -> tuple[KnownArticle, ...]:
        return ()

    def merge_articles(self, merge: Merge, now: datetime) -> None:
        raise NotImplementedError("not needed to poll")

    # -- article pages

    def queue_pages(
        self, feed_id: int, pages: Sequence[tuple[int, str, str]], now: datetime
    ) -> int:
        queued = 0
        for article_id, url, reason in pages:
            if article_id in self.pages:
                continue  # once per article
            self.pages[article_id] = {
                "url": url,
                "feed_id": feed_id,
                "reason": reason,
                "state": "queued",
                "attempts": 0,
                "next": now,
            }
            queued += 1
        return queued

    def claim_pages(self, now: datetime, limit: int, hold: float) -> tuple[PageJob, ...]:
        due = sorted(
            (row["next"], article_id)
            for article_id, row in self.pages.items()
            if row["state"] == "queued" and row["next"] <= now
        )[:limit]
        jobs = []
        for _, article_id in due:
            row = self.pages[article_id]
            row.update(attempts=row["attempts"] + 1, next=now + timedelta(seconds=hold))
            feed_url = self.feeds[row["feed_id"]]["url"] if row["feed_id"] else None
            jobs.append(PageJob(article_id, row["url"], feed_url, row["attempts"], row["reason"]))
        return tuple(jobs)

    def save_page(self, page: Page, now: datetime, max_revisions: int) -> PageResult:
        """The text rule of applying.IntentWriter.save_page: fuller text wins;
        the author, a flagged date and the image only fill what is missing."""
        job, extracted = page.job, page.extracted
        article = self.articles.get(job.article_id)
        if article is None:
            return PageResult(job.article_id, job.url, "gone")
        filled = []
        if extracted.author and not article.get("author"):
            filled.append("author")
            article["author"] = extracted.author
        if extracted.published_at is not None and article.get("date_flag"):
            filled.append("published_at")
            article.update(published=extracted.published_at, date_flag="page")
        if extracted.image and not article.get("image"):
            filled.append("image")
            article["image"] = extracted.image
        fuller = bool(extracted.text) and extracted.word_count > article["words"]
        if fuller:
            if max_revisions > 0:
                kept = article.setdefault("revisions", [])
                kept.append((article.get("title"), article.get("text")))
                del kept[:-max_revisions]
            article.update(
                text=extracted.text,
                text_hash=page.text_hash,
                words=extracted.word_count,
                source="page",
            )
        state = "stored" if fuller else "not_fuller"
        self.pages[job.article_id].update(state=state, next=None, filled=filled)
        return PageResult(job.article_id, job.url, state, extracted.word_count)

    def page_failed(
        self,
        job: PageJob,
        *,
        error: str,
        http_status: int | None,
        now: datetime,
        retry_at: datetime | None,
    ) -> None:
        state = "queued" if retry_at is not None else "failed"
        self.pages[job.article_id].update(state=state, next=retry_at, error=error)

    def next_page_at(self) -> datetime | None:
        due = [row["next"] for row in self.pages.values() if row["state"] == "queued"]
        return min(due, default=None)

    # -- links

    def cached_links(self, urls: Sequence[str]) -> dict[str, CachedLink]:
        return {url: self.links[url] for url in urls if url in self.links}

    def save_link(
        self, resolution: Resolution, *, failures: int, checked_at: datetime, expires_at: datetime
    ) -> None:
        self.links[resolution.url] = CachedLink(
            resolution.url, resolution.resolved_url, resolution.outcome, failures, expires_at
        )

    # -- near-duplicates

    def signature_of(self, article_id: int) -> bytes | None:
        return self.signatures.get(article_id)

    def save_signature(
        self,
        article_id: int,
        signature: bytes | None,
        bands: Sequence[str],
        old_bands: Sequence[str] = (),
    ) -> None:
        for band in old_bands:
            self.bands.get(band, set()).discard(article_id)
        if signature is None:
            self.signatures.pop(article_id, None)
            return
        self.signatures[article_id] = signature
        for band in bands:
            self.bands.setdefault(band, set()).add(article_id)

    def near_candidates(
        self, article_id: int, bands: Sequence[str], window: timedelta
    ) -> tuple[tuple[int, bytes], ...]:
        others = {other for band in bands for other in self.bands.get(band, ())} - {article_id}
        return tuple((other, self.signatures[other]) for other in sorted(others))

    def duplicate_group(
        self, article_ids: Iterable[int]
    ) -> tuple[tuple[int, datetime | None], ...]:
        return tuple((i, self.articles[i].get("published")) for i in article_ids)

    def point_group(self, members: Iterable[int], root: int) -> None:
        for member in members:
            self.articles[member]["duplicate_of"] = None if member == root else root

    # -- maintenance

    def housekeeping(
        self,
        now: datetime,
        max_age: float | None = None,
        max_per_feed: int | None = None,
        max_revisions: int | None = None,
    ) -> int:
        return 0

    def upkeep_due(self) -> bool:
        return False

    def after_poll(self) -> None:
        pass

    def check_writable(self) -> None:
        pass

    def feed_states(self) -> dict[str, int]:
        states: dict[str, int] = {}
        for row in self.feeds.values():
            states[row["state"]] = states.get(row["state"], 0) + 1
        return states

    def count(self, table: str) -> int:
        return len(getattr(self, table))


def as_storage(store: DictStore) -> Storage:
    return store


def test_the_dict_store_implements_the_whole_protocol():
    wanted = {name for name in vars(Storage) if not name.startswith("_")}
    assert wanted <= {name for name in vars(DictStore) if not name.startswith("_")}


STORY = " ".join(f"word{n}" for n in range(120))


async def test_the_pipeline_polls_into_a_store_that_is_not_sqlite(
    server: FeedServer, tmp_path: Path
):
    story = server.url("/posts/story")
    first = server.add(
        "/a.xml",
        rss20(
            Item("a-1", "The story", f"{story}?utm_source=rss", f"<p>{STORY}</p>"),
            Item("a-2", "Another one", server.url("/posts/other"), "<p>Other text.</p>"),
            title="A",
        ),
    )
    second = server.add(
        "/b.xml", rss20(Item("b-1", "The story, again", story, "<p>A line.</p>"), title="B")
    )
    config = load_config(write_config(tmp_path, [first, second]))  # workers = 0
    store = DictStore()
    store.sync_feeds(config.feeds, datetime.now().astimezone())
    guard = make_guard(config)
    async with make_client(config, guard) as client:
        pipeline = Pipeline(config, as_storage(store), client, guard)
        try:
            # One after the other: which feed stores the story first is then known.
            outcomes = [
                *await pipeline.poll_many(store.feeds_by_url([first])),
                *await pipeline.poll_many(store.feeds_by_url([second])),
            ]
            again = await pipeline.poll_many(store.feeds_by_url([first, second]))
        finally:
            pipeline.close()

    assert [(o.status, o.new, o.linked) for o in outcomes] == [
        (Status.OK, 2, 0),
        (Status.OK, 0, 1),  # the same canonical URL: one story, linked
    ]
    assert {o.status for o in again} == {Status.NOT_MODIFIED}  # the validators were recorded
    assert len(store.articles) == 2
    story_row = next(a for a in store.articles.values() if a["url"] == story)
    assert story_row["title"] == "The story"  # the fuller copy's text
    assert {(feed, guid) for (feed, guid), row in store.items.items() if row["article"] == 1} == {
        (1, "a-1"),
        (2, "b-1"),
    }
    assert all(row["state"] == "ok" for row in store.feeds.values())
    assert not config.database.exists()  # no SQLite anywhere


ARTICLE = "".join(
    f"<p>Paragraph {n} of the article tells the whole story in plain words, "
    f"sentence after sentence, as the teaser in the feed never does.</p>"
    for n in range(8)
)


async def test_article_pages_are_read_into_a_store_that_is_not_sqlite(
    server: FeedServer, tmp_path: Path
):
    story = server.add(
        "/posts/story",
        f"<html><head><title>The story</title></head><body><article><h1>The story</h1>"
        f"{ARTICLE}</article></body></html>",
        content_type="text/html; charset=utf-8",
    )
    feed = server.add("/a.xml", rss20(Item("a-1", "The story", story, "<p>A teaser.</p>")))
    config = load_config(write_config(tmp_path, [feed], '[fulltext]\nmode = "always"'))
    store = DictStore()
    store.sync_feeds(config.feeds, datetime.now().astimezone())
    guard = make_guard(config)
    async with make_client(config, guard) as client:
        pipeline = Pipeline(config, as_storage(store), client, guard)
        try:
            (outcome,) = await pipeline.poll_many(store.feeds_by_url([feed]))
            results = await pipeline.pages.run_due()
        finally:
            pipeline.close()

    assert (outcome.new, outcome.pages_queued) == (1, 1)
    assert [(r.article_id, r.outcome) for r in results] == [(1, "stored")]
    article = store.articles[1]
    assert article["source"] == "page"
    assert article["text"].startswith("Paragraph 0 of the article")
    assert article["revisions"] == [("The story", "A teaser.")]
    assert store.pages[1]["state"] == "stored"
    assert store.next_page_at() is None
