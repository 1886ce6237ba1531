"""Every real-world feed of the shared corpus through the real pipeline.

The network is left out (bench/corpus_run.py covers it): each file becomes the
Fetched value fetch would have returned, and Pipeline.process runs parse ->
links -> normalize -> dedupe -> store on it, as the database thread does.
"""

from __future__ import annotations

import csv
import gzip
import logging
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from conftest import write_config
from integration_support import fetched, rows

from feedd.config import load_config
from feedd.pipeline import Pipeline, open_store
from feedd.store.sqlite import reading as query
from feedd.types import Fetched, Outcome, Status

pytestmark = pytest.mark.corpus

ILL_FORMED = {
    "realworld/smallweb/dylanharris.org__7ef13a42fa7e177a.xml": "not well-formed and no items",
}


def index_rows(corpus: Path) -> list[dict[str, str]]:
    with (corpus / "realworld" / "INDEX.tsv").open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file, delimiter="\t"))


def as_fetched(corpus: Path, row: dict[str, str], feed_url: str) -> Fetched:
    # stored_at is the real file: the curated/ entries are links to it.
    body = (corpus / row["stored_at"]).read_bytes()
    if body[:2] == b"\x1f\x8b":  # stored gzip-compressed: an HTTP client would decode it
        body = gzip.decompress(body)
    content_type = "application/feed+json" if row["format"] == "jsonfeed" else "application/xml"
    # The real address, when known, for relative links.
    return fetched(feed_url, body, content_type, final_url=row["url"] or feed_url)


async def test_realworld_corpus(corpus: Path, tmp_path: Path, caplog, capsys, record_property):
    caplog.set_level(logging.WARNING, logger="feedd")
    rows = index_rows(corpus)
    assert len(rows) > 200
    urls = [f"https://corpus.test/{quote(row['path'])}" for row in rows]
    config = load_config(write_config(tmp_path, urls))
    started = time.monotonic()

    store = open_store(config)
    async with httpx.AsyncClient() as unused_client:  # process() never touches the network
        pipeline = Pipeline(config, store, unused_client)
        try:
            feeds = store.feeds_by_url(urls)
            assert len(feeds) == len(rows)
            outcomes: list[Outcome] = []
            for feed, row in zip(feeds, rows, strict=True):
                fetched = as_fetched(corpus, row, feed.url)
                outcomes.append(pipeline.process(feed, fetched))

            # Polled again with the same documents: nothing is new or changed.
            again = [
                pipeline.process(feed, as_fetched(corpus, row, feed.url))
                for feed, row in list(zip(feeds, rows, strict=True))[::10]
            ]
            problems = store.integrity_problems()
            articles = store.count("articles")
            article_feeds = store.count("article_feeds")
        finally:
            pipeline.close()
            store.close()

    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [f"{r.getMessage()}\n{r.exc_text or ''}" for r in errors]
    assert len(outcomes) == len(rows)
    assert problems == []

    status = Counter(o.status for o in outcomes)
    failed = {row["path"]: o.error for row, o in zip(rows, outcomes, strict=True) if o.error}
    not_feeds = {row["path"] for row in rows if row["format"] == "html"}
    # Every real feed is read, except the non-feed and one that is not XML at
    # all (`<?xml?xml ... ??>`, unquoted attributes): feedparser recovers no item
    # from it, and a feed with no items from an ill-formed body is a failure.
    assert set(failed) == not_feeds | set(ILL_FORMED), failed
    for path, reason in ILL_FORMED.items():
        assert failed[path].startswith(reason)
    new = sum(o.new for o in outcomes)
    linked = sum(o.linked for o in outcomes)
    assert new == articles
    assert new + linked == article_feeds
    for o in again:
        if o.status is Status.OK:
            assert (o.new, o.updated, o.linked) == (0, 0, 0), o

    counts = {
        "feeds": len(outcomes),
        "ok": status[Status.OK],
        "failed": status[Status.FAILED],
        "articles": articles,
        "article_feeds": article_feeds,
        "unchanged": sum(o.unchanged for o in outcomes),
        "seconds": round(time.monotonic() - started, 1),
    }
    for name, value in counts.items():
        record_property(name, value)
    with capsys.disabled():
        sys.stdout.write(f"\ncorpus: {counts}\n")


async def test_a_hugo_sites_undated_pages_are_listed_after_its_posts(corpus: Path, tmp_path: Path):
    """pooriat.com's feed carries its "About", "Projects" and "Tags" pages, undated:
    stored undated (not dated by the fetch), listed after every dated post."""
    [row] = [
        r for r in index_rows(corpus) if r["path"].endswith("pooriat.com__995fa12531de4aa0.xml")
    ]
    url = f"https://corpus.test/{quote(row['path'])}"
    config = load_config(write_config(tmp_path, [url]))
    store = open_store(config)
    async with httpx.AsyncClient() as unused_client:
        pipeline = Pipeline(config, store, unused_client)
        try:
            [feed] = store.feeds_by_url([url])
            assert pipeline.process(feed, as_fetched(corpus, row, feed.url)).status is Status.OK
        finally:
            pipeline.close()
            store.close()
    sql, params = query.articles_sql(query.Filters(limit=0), ("title", "published_at"))
    listed = rows(config.database, sql, *params)
    undated = [r["title"] for r in listed if r["published_at"] is None]
    assert sorted(undated) == ["About", "Projects", "Tags"]
    assert [r["title"] for r in listed[-3:]] == undated  # after every dated post
