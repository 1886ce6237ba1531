"""Article pages through the real commands: `feedd fetch` reports them, `feedd run`
reads them in the background (in a worker process) and counts them in /metrics."""

from __future__ import annotations

import gzip
import json
import subprocess
from pathlib import Path

import httpx
import pytest
from conftest import write_config
from test_cli import FEEDD, query, wait_for
from test_daemon import Notifications, free_port, start, stop

DATA = Path(__file__).parents[1] / "data" / "article-extraction"
NAME = next(n for n in json.loads((DATA / "ground-truth.json").read_text()) if n[:8] == "7916ecca")
PAGE = gzip.decompress((DATA / f"{NAME}.html.gz").read_bytes())


@pytest.fixture
def notify():
    notifications = Notifications()
    yield notifications
    notifications.close()


def teaser_feed(link: str) -> str:
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Teasers</title>'
        "<link>https://news.example/</link>"
        f"<item><guid>t-1</guid><title>Crash</title><link>{link}</link>"
        "<description>&lt;p&gt;Two United States service members have been killed in a "
        "helicopter crash in Afghanistan.&lt;/p&gt;&lt;p&gt;&lt;a href=&quot;"
        f"{link}&quot;&gt;Read Full Article at RT.com&lt;/a&gt;&lt;/p&gt;</description>"
        "</item></channel></rss>"
    )


def test_fetch_reports_the_pages_it_read(server, tmp_path):
    link = server.add("/story", PAGE, content_type="text/html")
    url = server.add("/feed.xml", teaser_feed(link))
    config = write_config(tmp_path, [url], '[fulltext]\nmode = "auto"', resolve='"off"')

    done = subprocess.run(
        [FEEDD, "fetch", "-c", str(config)], capture_output=True, text=True, timeout=120
    )

    assert done.returncode == 0, done.stderr
    assert "1 new, 0 updated, 1 pages to read" in done.stdout
    assert (
        "1 article pages: 1 stored in full, 0 not fuller than the feed, "
        "0 failed (tried again later), 0 failed for good" in done.stdout
    )
    db = tmp_path / "feedd.db"
    assert query(db, "SELECT content_source FROM articles") == [("page",)]


def test_the_daemon_reads_pages_in_the_background(server, tmp_path, notify):
    from prometheus_client.parser import text_string_to_metric_families

    link = server.add("/story", PAGE, content_type="text/html")
    url = server.add("/feed.xml", teaser_feed(link))
    port = free_port()
    config = write_config(
        tmp_path,
        [url],
        f'workers = 1\n[http]\nlisten = "127.0.0.1:{port}"\n[fulltext]\nmode = "always"',
        resolve='"off"',
    )
    db = tmp_path / "feedd.db"
    daemon = start(config, notify)
    try:
        wait_for(lambda: query(db, "SELECT state FROM pages") == [("stored",)], timeout=60)
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    finally:
        code, stderr = stop(daemon)
    assert code == 0, stderr
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(metrics)
        for s in family.samples
    }
    assert samples[("feedd_pages_total", (("outcome", "stored"),))] == 1
    assert samples[("feedd_pages_total", (("outcome", "failed"),))] == 0
    (row,) = query(db, "SELECT content_source, word_count FROM articles")
    assert row[0] == "page" and row[1] > 200
