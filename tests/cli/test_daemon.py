"""`feedd run` as systemd runs it: notifications on $NOTIFY_SOCKET, reload on SIGHUP."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from conftest import write_config
from test_cli import FEEDD, query, rss, wait_for


class Notifications:
    """A datagram socket standing in for systemd's notify socket."""

    def __init__(self) -> None:
        # Socket paths are limited to ~100 bytes: keep it short, not in tmp_path.
        self.folder = tempfile.mkdtemp(prefix="feedd-")
        self.path = os.path.join(self.folder, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.received: list[str] = []

    def drain(self) -> list[str]:
        while True:
            try:
                self.received.append(self.sock.recv(4096).decode())
            except TimeoutError:
                return self.received

    def wait_for(self, text: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in message for message in self.drain()):
                return
        raise AssertionError(f"{text!r} not received; got {self.received}")

    def close(self) -> None:
        self.sock.close()
        os.unlink(self.path)
        os.rmdir(self.folder)


@pytest.fixture
def notify():
    notifications = Notifications()
    yield notifications
    notifications.close()


def start(config: Path, notify: Notifications) -> subprocess.Popen:
    return subprocess.Popen(
        [FEEDD, "run", "-c", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NOTIFY_SOCKET": notify.path},
    )


def stop(process: subprocess.Popen) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    return process.returncode, stderr


def test_ready_watchdog_and_stopping_are_sent(server, tmp_path, notify):
    url = server.add("/a.xml", rss("A", [("a1", "A one")]))
    daemon = start(write_config(tmp_path, [url]), notify)
    try:
        notify.wait_for("READY=1")
        notify.wait_for("WATCHDOG=1")
    finally:
        code, stderr = stop(daemon)
    assert code == 0, stderr
    notify.wait_for("STOPPING=1")
    ready = next(i for i, m in enumerate(notify.received) if "READY=1" in m)
    assert ready <= min(i for i, m in enumerate(notify.received) if "WATCHDOG=1" in m)


def test_no_notify_socket_is_fine(server, tmp_path):
    url = server.add("/a.xml", rss("A", [("a1", "A one")]))
    config = write_config(tmp_path, [url])
    env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
    daemon = subprocess.Popen(
        [FEEDD, "run", "-c", str(config)], stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        wait_for(lambda: query(tmp_path / "feedd.db", "SELECT count(*) FROM articles") == [(1,)])
    finally:
        daemon.send_signal(signal.SIGTERM)
        _, stderr = daemon.communicate(timeout=30)
    assert daemon.returncode == 0, stderr


def test_sighup_adds_a_feed_without_a_restart(server, tmp_path, notify):
    first = server.add("/a.xml", rss("A", [("a1", "A one")]))
    second = server.add("/b.xml", rss("B", [("b1", "B one")]))
    config = write_config(tmp_path, [first])
    db = tmp_path / "feedd.db"
    daemon = start(config, notify)
    try:
        wait_for(lambda: query(db, "SELECT count(*) FROM articles") == [(1,)])
        write_config(tmp_path, [first, second])
        daemon.send_signal(signal.SIGHUP)
        notify.wait_for("RELOADING=1")
        wait_for(
            lambda: (
                query(db, "SELECT title FROM articles ORDER BY id")
                == [
                    ("A one",),
                    ("B one",),
                ]
            )
        )
        # Removing a feed stops its polling; its article stays.
        write_config(tmp_path, [second])
        daemon.send_signal(signal.SIGHUP)
        wait_for(lambda: query(db, "SELECT enabled FROM feeds WHERE url = ?", first) == [(0,)])
        assert daemon.poll() is None  # still the same process
    finally:
        code, stderr = stop(daemon)
    assert code == 0, stderr
    assert "reloaded: 2 feeds" in stderr
    assert query(db, "SELECT count(*) FROM articles") == [(2,)]
    assert len(server.hits("/a.xml")) == 1


def test_sighup_with_a_broken_config_keeps_the_old_one(server, tmp_path, notify):
    url = server.add("/a.xml", rss("A", [("a1", "A one")]))
    config = write_config(tmp_path, [url])
    db = tmp_path / "feedd.db"
    daemon = start(config, notify)
    try:
        wait_for(lambda: query(db, "SELECT count(*) FROM articles") == [(1,)])
        config.write_text(config.read_text() + '\n[fetch2]\nnonsense = "x"\ninterval = 3\n')
        daemon.send_signal(signal.SIGHUP)
        notify.wait_for("reload refused")
        time.sleep(0.5)
        assert daemon.poll() is None
        # Still working on the old config: a feed change is picked up by a fetch
        # forced through the database's schedule.
        server.add("/a.xml", rss("A", [("a1", "A one"), ("a2", "A two")]))
        with closing(sqlite3.connect(db)) as conn, conn:
            conn.execute("UPDATE feeds SET next_fetch_at = NULL")
        wait_for(lambda: query(db, "SELECT count(*) FROM articles") == [(2,)])
    finally:
        code, stderr = stop(daemon)
    assert code == 0, stderr
    assert "fetch2: unknown key" in stderr
    assert "reload refused" in stderr
    assert "Traceback" not in stderr


def test_a_changed_interval_takes_effect_on_reload(server, tmp_path, notify):
    url = server.add("/a.xml", rss("A", [("a1", "A one")]))
    config = write_config(tmp_path, [url], interval='"1d"')
    db = tmp_path / "feedd.db"
    daemon = start(config, notify)
    try:
        wait_for(lambda: query(db, "SELECT count(*) FROM feeds WHERE state = 'ok'") == [(1,)])
        write_config(tmp_path, [url], interval="3")
        daemon.send_signal(signal.SIGHUP)
        # Due three seconds after its last fetch, not in a day.
        wait_for(lambda: len(server.hits("/a.xml")) >= 2, timeout=20)
    finally:
        code, stderr = stop(daemon)
    assert code == 0, stderr


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_healthz_and_metrics_while_running(server, tmp_path, notify):
    from prometheus_client.parser import text_string_to_metric_families

    url = server.add("/a.xml", rss("A", [("a1", "A one"), ("a2", "A two")]))
    port = free_port()
    config = write_config(tmp_path, [url], f'[http]\nlisten = "127.0.0.1:{port}"\n')
    db = tmp_path / "feedd.db"
    daemon = start(config, notify)
    try:
        wait_for(lambda: query(db, "SELECT count(*) FROM feeds WHERE state = 'ok'") == [(1,)])
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
        assert (health.status_code, health.text) == (200, "ok\n")
        wait_for(
            lambda: (
                "feedd_fetches_total"
                in httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            )
        )
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    finally:
        code, stderr = stop(daemon)
    assert code == 0, stderr
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(metrics.text)
        for s in family.samples
    }
    assert samples[("feedd_fetches_total", (("outcome", "ok"),))] == 1
    assert samples[("feedd_feeds", (("state", "ok"),))] == 1
    assert samples[("feedd_articles", ())] == 2
    assert samples[("feedd_articles_stored_total", ())] == 2
    assert samples[("feedd_last_tick_timestamp_seconds", ())] > 0


def test_json_logs(server, tmp_path, notify):
    good = server.add("/a.xml", rss("A", [("a1", "A one")]))
    bad = server.url("/missing.xml")
    config = write_config(tmp_path, [good, bad], '[log]\nformat = "json"\n')
    db = tmp_path / "feedd.db"
    daemon = start(config, notify)
    try:
        wait_for(lambda: query(db, "SELECT count(*) FROM feeds WHERE state != 'new'") == [(2,)])
    finally:
        code, stderr = stop(daemon)
    assert code == 0, stderr
    records = [json.loads(line) for line in stderr.splitlines()]
    by_feed = {r["feed"]: r for r in records if "feed" in r}
    assert by_feed[good]["status"] == "ok" and by_feed[good]["new"] == 1
    assert by_feed[bad]["level"] == "warning"
    assert by_feed[bad]["http_status"] == 404
    assert "traceback" not in by_feed[bad]


async def test_a_tick_cancelled_by_the_stop_is_not_an_error(tmp_path):
    """At a stop the scheduler cancels a tick still waiting for the claim lock
    (held by a refill); that tick ends quietly (as housekeeping does: both are
    daemon._quiet_at_stop) instead of reaching apscheduler's "raised an
    exception" log (seen in test_readers). Outside a stop, a cancellation
    still propagates."""
    import asyncio

    from feedd.config import load_config
    from feedd.daemon import Daemon

    daemon = Daemon(load_config(write_config(tmp_path, [])))
    async with daemon.claim_lock:
        waiting = asyncio.create_task(daemon.tick())
        await asyncio.sleep(0.01)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        waiting = asyncio.create_task(daemon.tick())
        await asyncio.sleep(0.01)
        daemon.stopping.set()
        waiting.cancel()
        assert await waiting is None
