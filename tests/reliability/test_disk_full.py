"""The database's disk fills up, then space comes back.

Two ways to fill it:

- in-process, on any machine: the pipeline's own Store connection gets
  ``PRAGMA max_page_count`` equal to the pages the file has, so SQLite
  answers SQLITE_FULL ("database or disk is full") as soon as a write needs
  one more page;
- ``feedd run`` on a small tmpfs that a filler file fills to the last byte
  (needs root to mount; skipped otherwise).

Either way: the failure is logged with SQLite's reason, the daemon or
pipeline keeps going (other feeds, later polls), nothing already stored is
lost, no validator is recorded for items that were not stored, and once
there is room the feed that failed is stored on a later poll. On a full
disk even the failure cannot be written, so the feed stays due: the daemon
must then wait the feed's interval rather than fetch it at every tick
(checked on tmpfs, and in-process with a read-only connection), and a
reload (SIGHUP), which writes the feeds table, must fail without stopping it.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import write_config

from feedd.config import load_config
from feedd.daemon import Daemon
from feedd.errors import StoreError
from feedd.pipeline import Pipeline, make_client, make_guard, open_store
from feedd.store.sqlite import SQLiteStore as Store
from feedd.types import Status

FEEDD = str(Path(sys.executable).parent / "feedd")
FULL = "database or disk is full"
TEXT = "The quick brown fox jumps over the lazy dog near the riverbank at dawn. " * 12


def rss(name: str, count: int, start: int = 0) -> bytes:
    """An RSS feed of ``count`` items numbered from ``start``, with some text each."""
    items = "".join(
        f"<item><guid>{name}-{n}</guid><title>{name} item {n}</title>"
        f"<link>https://example.org/{name}/{n}</link>"
        f"<pubDate>Tue, 03 Jun 2025 09:00:00 +0000</pubDate>"
        f"<description>&lt;p&gt;{name} {n}: {TEXT}&lt;/p&gt;</description></item>"
        for n in range(start, start + count)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{name}</title>'
        f"<link>https://example.org/{name}/</link>{items}</channel></rss>"
    ).encode()


def snapshot(conn: sqlite3.Connection) -> dict[str, object]:
    """What must not change while the disk is full."""
    return {
        "articles": conn.execute("SELECT count(*) FROM articles").fetchone()[0],
        "article_feeds": conn.execute("SELECT count(*) FROM article_feeds").fetchone()[0],
        "fts": conn.execute("SELECT count(*) FROM articles_fts").fetchone()[0],
        "validators": conn.execute(
            "SELECT url, etag, last_modified, body_hash FROM feeds ORDER BY url"
        ).fetchall(),
        "items": conn.execute(
            "SELECT af.guid, a.title, a.content_text FROM article_feeds af "
            "JOIN articles a ON a.id = af.article_id ORDER BY af.guid"
        ).fetchall(),
    }


def feed_row(conn: sqlite3.Connection, url: str) -> dict[str, object]:
    cursor = conn.execute("SELECT * FROM feeds WHERE url = ?", (url,))
    names = [column[0] for column in cursor.description]
    return dict(zip(names, cursor.fetchone(), strict=True))


# -- in-process: PRAGMA max_page_count on the pipeline's connection


async def test_pipeline_survives_a_full_database(server, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="feedd")
    grows = server.add("/grows.xml", rss("grows", 5), etag='"g1"')
    same = server.add("/same.xml", rss("same", 5), etag='"s1"')
    config = load_config(write_config(tmp_path, [grows, same]))
    store = open_store(config)
    guard = make_guard(config)
    client = make_client(config, guard)
    pipeline = Pipeline(config, store, client, guard)

    async def poll(url: str):
        (feed,) = await pipeline.run_in_db(store.feeds_by_url, [url])
        return await pipeline.poll(feed)

    try:
        assert (await poll(grows)).status is Status.OK
        assert (await poll(same)).status is Status.OK
        before = snapshot(store.conn)
        assert before["articles"] == 10
        stored_validators = feed_row(store.conn, grows)

        # The disk is full: not one more page.
        pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
        store.conn.execute(f"PRAGMA max_page_count = {pages}")
        server.add("/grows.xml", rss("grows", 60), etag='"g2"')
        caplog.clear()
        failed = await poll(grows)
        assert failed.status is Status.FAILED
        assert FULL in (failed.error or "")
        logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert any(FULL in message for message in logged), logged
        # SQLite rolled the transaction back itself; a second ROLLBACK must not
        # replace its reason with "cannot rollback - no transaction is active".
        assert not any("cannot rollback" in message for message in caplog.messages)
        # A full disk is not a bug: no "unexpected error" with a traceback.
        assert not any("unexpected error" in message for message in caplog.messages)

        # Other feeds go on: a 304 needs no new page.
        assert (await poll(same)).status is Status.NOT_MODIFIED
        # The next poll of the full feed fails the same way, and nothing breaks.
        again = await poll(grows)
        assert again.status is Status.FAILED
        assert FULL in (again.error or "")

        # Nothing stored was lost, and the feed kept its old validators: the
        # next poll fetches the new items again.
        assert snapshot(store.conn) == before
        assert store.integrity_problems() == []
        row = feed_row(store.conn, grows)
        for key in ("etag", "last_modified", "body_hash"):
            assert row[key] == stored_validators[key]
        assert row["state"] == "failing"
        assert row["error_count"] == 2
        assert FULL in row["last_error"]
        assert server.hits("/grows.xml")[-1].get("if-none-match") == '"g1"'

        # Room again: the next poll stores the feed.
        store.conn.execute("PRAGMA max_page_count = 1073741823")
        stored = await poll(grows)
        assert stored.status is Status.OK, stored.error
        assert stored.new == 55
        after = snapshot(store.conn)
        assert after["articles"] == 65
        row = feed_row(store.conn, grows)
        assert (row["etag"], row["state"], row["error_count"]) == ('"g2"', "ok", 0)
        assert store.integrity_problems() == []
    finally:
        pipeline.close()
        await client.aclose()
        store.close()


def test_a_failed_commit_leaves_the_store_usable(tmp_path):
    """The transaction helper: SQLITE_FULL becomes a StoreError naming the
    database, and the next transaction starts normally."""
    store = Store(tmp_path / "feedd.db")
    try:
        store.conn.execute("CREATE TABLE filler (x TEXT)")
        pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
        store.conn.execute(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(StoreError, match=FULL) as raised, store.transaction():
            for _ in range(100):
                store.conn.execute("INSERT INTO filler VALUES (?)", ("x" * 4000,))
        assert str(tmp_path / "feedd.db") in str(raised.value)
        assert not store.conn.in_transaction
        with store.transaction():
            store.conn.execute("UPDATE feeds SET name = 'x' WHERE 0")
        assert store.conn.execute("SELECT count(*) FROM filler").fetchone()[0] == 0
    finally:
        store.close()


async def test_daemon_holds_back_a_feed_whose_failure_cannot_be_written(server, tmp_path):
    """When even the failure cannot be written (here the file system went
    read-only), the feed stays due in the database; the daemon must not poll
    it again at every tick."""
    url = server.add("/f.xml", rss("f", 3))
    config = load_config(write_config(tmp_path, [url], interval='"1h"'))
    store = open_store(config)
    guard = make_guard(config)
    client = make_client(config, guard)
    daemon = Daemon(config)
    daemon.pipeline = Pipeline(config, store, client, guard)

    async def tick() -> None:
        await daemon.tick()
        await asyncio.gather(*daemon.in_flight.values())

    try:
        store.conn.execute("PRAGMA query_only = ON")
        await tick()
        assert len(server.hits("/f.xml")) == 1
        assert store.conn.execute("SELECT next_fetch_at FROM feeds").fetchone() == (None,)
        await tick()
        await tick()
        assert len(server.hits("/f.xml")) == 1
        # Writable again and the hold over (as after an hour): stored, hold dropped.
        store.conn.execute("PRAGMA query_only = OFF")
        daemon.held_back = dict.fromkeys(daemon.held_back, 0.0)
        await tick()
        assert len(server.hits("/f.xml")) == 2
        assert store.count("articles") == 3
        assert daemon.held_back == {}
    finally:
        daemon.pipeline.close()
        await client.aclose()
        store.close()


# -- the daemon on a tmpfs that fills up


@pytest.fixture
def small_disk(tmp_path):
    """A 6 MiB tmpfs at tmp_path/disk (root only)."""
    mountpoint = tmp_path / "disk"
    mountpoint.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=6m,mode=0755", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def fill(disk: Path) -> Path:
    """Write a file until the file system has no byte left."""
    filler = disk / "filler"
    chunk = b"\0" * 65536
    with filler.open("wb", buffering=0) as handle:
        while True:
            try:
                handle.write(chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                if len(chunk) == 1:
                    break
                chunk = chunk[: len(chunk) // 2]
    return filler


def read(db: Path, sql: str, *params: object) -> list[tuple]:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)) as conn:
        return conn.execute(sql, params).fetchall()


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except sqlite3.OperationalError:
            pass  # the database does not exist yet
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_daemon_survives_a_full_disk(server, tmp_path, small_disk):
    grows = server.add("/grows.xml", rss("grows", 5), etag='"g1"')
    same = server.add("/same.xml", rss("same", 5), etag='"s1"')
    plain = server.add("/plain.xml", rss("plain", 5))  # no validators: a 200 each time
    extra = server.add("/extra.xml", rss("extra", 5))
    urls = [grows, same, plain]
    config = write_config(tmp_path, urls, interval='"6s"')
    database = '"disk/feedd.db"'
    config.write_text(config.read_text().replace('"feedd.db"', database))
    db = small_disk / "feedd.db"
    log_path = tmp_path / "daemon.log"
    with log_path.open("w") as log:
        daemon = subprocess.Popen(
            [FEEDD, "run", "-c", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
    try:
        wait_for(
            lambda: read(db, "SELECT count(*) FROM feeds WHERE state = 'ok'") == [(3,)],
            30,
            "the first round",
        )
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            before = snapshot(conn)
        assert before["articles"] == 15

        filler = fill(small_disk)
        server.add("/grows.xml", rss("grows", 300), etag='"g2"')
        wait_for(lambda: FULL in log_path.read_text(), 30, "the disk-full error in the log")
        polled = {url: len(server.hits(urlsplit(url).path)) for url in urls}
        started = time.monotonic()

        # A reload needs a write: refused, and the daemon keeps its old config.
        write_config(tmp_path, [*urls, extra], interval='"6s"')
        config.write_text(config.read_text().replace('"feedd.db"', database))
        daemon.send_signal(signal.SIGHUP)
        wait_for(lambda: "reload failed" in log_path.read_text(), 30, "the refused reload")

        # It keeps polling every feed, each at its interval (6 s): a failure it
        # could not write must not make the feed due again at every 2 s tick.
        time.sleep(max(0.0, 10 - (time.monotonic() - started)))
        assert daemon.poll() is None, log_path.read_text()
        for url in urls:
            polls = len(server.hits(urlsplit(url).path)) - polled[url]
            assert 1 <= polls <= 3, (url, polls)

        # Nothing stored was lost; the full feed kept its old validators.
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            during = snapshot(conn)
            row = feed_row(conn, grows)
        assert during == before
        assert row["etag"] == '"g1"'
        assert read(db, "PRAGMA integrity_check") == [("ok",)]

        # Room again: the full feed is stored on its next poll, a reload works.
        filler.unlink()
        daemon.send_signal(signal.SIGHUP)
        wait_for(
            lambda: read(db, "SELECT etag FROM feeds WHERE url = ?", grows) == [('"g2"',)],
            30,
            "the full feed stored once there is room",
        )
        wait_for(
            lambda: read(db, "SELECT count(*) FROM feeds WHERE state = 'ok'") == [(4,)],
            30,
            "the feed added by the reload",
        )
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            code = daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            code = daemon.wait()
    text = log_path.read_text()
    assert code == 0, text[-3000:]
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        after = snapshot(conn)
    assert after["articles"] == 15 + 295 + 5
    assert set(before["items"]) <= set(after["items"])
    with Store(db) as store:
        assert store.integrity_problems() == []
    assert f"cannot write to {db}: {FULL}" in text
    assert "reloaded: 4 feeds" in text
    # Named as what it is, not as a bug: no "unexpected error", no lost reason.
    assert "unexpected error" not in text, text[-3000:]
    assert "cannot rollback" not in text, text[-3000:]
