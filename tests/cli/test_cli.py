"""The installed `feedd` command, run as a subprocess against a real server and SQLite file."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import write_config

FEEDD = str(Path(sys.executable).parent / "feedd")


def rss(title: str, items: list[tuple[str, str]], link: str = "https://example.org/") -> str:
    """A small RSS 2.0 document; items are (guid, title)."""
    body = "".join(
        f"<item><guid>{guid}</guid><title>{item_title}</title>"
        f"<link>https://example.org/{guid}</link>"
        f"<pubDate>Tue, 03 Jun 2025 09:39:21 +0200</pubDate>"
        f"<description>&lt;p&gt;Text of {item_title}&lt;/p&gt;</description></item>"
        for guid, item_title in items
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>'
        f"<link>{link}</link>{body}</channel></rss>"
    )


def feedd(*args: str, env: dict[str, str] | None = None, timeout: float = 60):
    return subprocess.run(
        [FEEDD, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def query(db: Path, sql: str, *params: object) -> list[tuple]:
    # A separate read-only connection, as a downstream tool would open it.
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute(sql, params).fetchall()


def wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except sqlite3.OperationalError:
            pass  # the database does not exist yet
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_help_and_version():
    result = feedd("--help")
    assert result.returncode == 0
    for command in ("run", "fetch", "check"):
        assert command in result.stdout
    version = feedd("--version")
    assert version.returncode == 0
    assert "feedd" in version.stdout
    module = subprocess.run(
        [sys.executable, "-m", "feedd", "--help"], capture_output=True, text=True, check=False
    )
    assert module.returncode == 0
    assert "fetch" in module.stdout


def test_check_valid_config(tmp_path):
    config = write_config(tmp_path, ["https://example.org/feed.xml"])
    result = feedd("check", "-c", str(config))
    assert result.returncode == 0, result.stderr
    assert "ok: 1 feeds" in result.stdout


def test_check_reports_every_problem_with_file_and_key(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text(
        'database = "x.db"\n'
        "colour = 1\n"
        "[fetch]\n"
        'interval = "soon"\n'
        "[[feeds]]\n"
        'url = "ftp://example.org/feed"\n'
        "[[feeds]]\n"
        'url = "https://example.org/a"\n'
        "interval = true\n"
        "[[feeds]]\n"
        'url = "https://EXAMPLE.org/a"\n'
    )
    result = feedd("check", "-c", str(config))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert all(line.startswith(str(config)) for line in lines), lines
    text = result.stderr
    assert "colour: unknown key" in text
    assert "fetch.interval: bad duration 'soon'" in text
    assert "feeds[0].url: URL must be http or https" in text
    assert "feeds[1].interval: expected a duration, got a boolean" in text
    assert "feeds[2].url: duplicate of feeds[1].url" in text
    assert len(lines) == 5


def test_check_missing_file_and_bad_toml(tmp_path):
    missing = feedd("check", "-c", str(tmp_path / "nope.toml"))
    assert missing.returncode == 2
    assert "nope.toml: file not found" in missing.stderr
    broken = tmp_path / "broken.toml"
    broken.write_text("[fetch\n")
    result = feedd("check", "-c", str(broken))
    assert result.returncode == 2
    assert "broken.toml: not valid TOML" in result.stderr


def test_config_from_environment(tmp_path):
    config = write_config(tmp_path, ["https://example.org/feed.xml"])
    result = feedd("check", env={"FEEDD_CONFIG": str(config)})
    assert result.returncode == 0, result.stderr
    assert no_config_given().returncode == 2


def no_config_given():
    env = {k: v for k, v in os.environ.items() if k != "FEEDD_CONFIG"}
    return subprocess.run([FEEDD, "check"], capture_output=True, text=True, env=env, check=False)


def test_fetch_stores_and_reports(server, tmp_path):
    good = server.add("/good.xml", rss("Good", [("a", "First"), ("b", "Second")]), etag='"1"')
    other = server.add("/other.xml", rss("Other", [("c", "Third")]))
    config = write_config(tmp_path, [good, other])

    first = feedd("fetch", "-c", str(config))
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"ok      {good}: 2 new, 0 updated" in first.stdout
    assert "2 feeds: 3 new, 0 updated" in first.stdout
    assert "0 failed" in first.stdout

    db = tmp_path / "feedd.db"
    titles = {row[0] for row in query(db, "SELECT title FROM articles")}
    assert titles == {"First", "Second", "Third"}

    again = feedd("fetch", "-c", str(config))
    assert again.returncode == 0
    assert f"{good}: not modified" in again.stdout
    assert "2 feeds: 0 new" in again.stdout
    assert query(db, "SELECT count(*) FROM articles") == [(3,)]


def test_fetch_exit_1_when_a_feed_fails_but_stores_the_rest(server, tmp_path):
    good = server.add("/good.xml", rss("Good", [("a", "Kept")]))
    html = server.add(
        "/page.html", "<!doctype html><html><body>hi</body></html>", content_type="text/html"
    )
    missing = server.url("/missing.xml")
    config = write_config(tmp_path, [good, html, missing])

    result = feedd("fetch", "-c", str(config))
    assert result.returncode == 1
    assert f"FAILED  {html}: not a feed: the server sent an HTML page" in result.stdout
    assert f"FAILED  {missing}: HTTP 404" in result.stdout
    assert "3 feeds: 1 new" in result.stdout and "2 failed" in result.stdout
    db = tmp_path / "feedd.db"
    assert query(db, "SELECT title FROM articles") == [("Kept",)]
    failing = query(db, "SELECT url, error_count, last_error FROM feeds WHERE state = 'failing'")
    assert {row[0] for row in failing} == {html, missing}
    assert all(row[1] == 1 and row[2] for row in failing)


def test_fetch_only_named_feed(server, tmp_path):
    a = server.add("/a.xml", rss("A", [("a", "From A")]))
    b = server.add("/b.xml", rss("B", [("b", "From B")]))
    config = write_config(tmp_path, [a, b])
    result = feedd("fetch", "-c", str(config), "--feed", b)
    assert result.returncode == 0, result.stderr
    assert "1 feeds: 1 new" in result.stdout
    assert server.hits("/a.xml") == []
    unknown = feedd("fetch", "-c", str(config), "--feed", "https://elsewhere.example/x")
    assert unknown.returncode == 2
    assert "not in" in unknown.stderr


def start_daemon(config: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [FEEDD, "run", "-c", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> tuple[int, str]:
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=30)
    return process.returncode, stderr


def test_run_polls_and_stops_cleanly_on_sigterm(server, tmp_path):
    urls = [
        server.add(f"/f{i}.xml", rss(f"F{i}", [(f"{i}-a", f"A{i}"), (f"{i}-b", f"B{i}")]))
        for i in range(5)
    ]
    config = write_config(tmp_path, urls)
    db = tmp_path / "feedd.db"
    daemon = start_daemon(config)
    try:
        wait_for(lambda: query(db, "SELECT count(*) FROM articles") == [(10,)])
        wait_for(lambda: query(db, "SELECT count(*) FROM feeds WHERE state = 'ok'") == [(5,)])
    finally:
        code, stderr = stop(daemon)
    assert code == 0, stderr
    assert "feedd stopped" in stderr
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    # Each feed was polled once: their next poll is half an hour away.
    assert all(len(server.hits(f"/f{i}.xml")) == 1 for i in range(5))
    assert query(db, "SELECT count(*) FROM feeds WHERE next_fetch_at > last_fetched_at") == [(5,)]


def test_restart_keeps_the_schedule(server, tmp_path):
    """A restart resumes the stored schedule: no burst of every feed; only a feed
    new in the config is polled at once."""
    urls = [server.add(f"/f{n}.xml", rss(f"F{n}", [(f"{n}-a", "A")])) for n in range(5)]
    config = write_config(tmp_path, urls)
    db = tmp_path / "feedd.db"
    daemon = start_daemon(config)
    try:
        wait_for(lambda: query(db, "SELECT count(*) FROM feeds WHERE state = 'ok'") == [(5,)])
    finally:
        stop(daemon)
    before = query(db, "SELECT url, next_fetch_at FROM feeds ORDER BY url")
    added = server.add("/new.xml", rss("New", [("n-a", "A")]))
    write_config(tmp_path, [*urls, added])
    daemon = start_daemon(config)
    try:
        wait_for(lambda: len(server.hits("/new.xml")) == 1)
        time.sleep(3)  # more than one tick
    finally:
        code, stderr = stop(daemon, signal.SIGINT)
    assert code == 0, stderr
    assert [len(server.hits(f"/f{n}.xml")) for n in range(5)] == [1] * 5
    after = query(db, "SELECT url, next_fetch_at FROM feeds WHERE url != ? ORDER BY url", added)
    assert after == before


def test_sigterm_during_work_leaves_no_half_written_feed(server, tmp_path):
    # Slow bodies keep fetches in flight; fast ones get written meanwhile.
    urls = []
    for i in range(12):
        items = [(f"{i}-{n}", f"Item {i}.{n}") for n in range(30)]
        slow = {"delay": 0.2, "chunk": 512} if i % 2 else {}
        urls.append(server.add(f"/f{i}.xml", rss(f"F{i}", items), **slow))
    config = write_config(tmp_path, urls)
    db = tmp_path / "feedd.db"
    daemon = start_daemon(config)
    try:
        wait_for(lambda: query(db, "SELECT count(*) FROM feeds WHERE state = 'ok'")[0][0] >= 1)
    finally:
        code, stderr = stop(daemon)
    assert code == 0, stderr
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    # A feed is either fully stored with its validator, or untouched.
    rows = query(
        db,
        "SELECT f.body_hash IS NOT NULL, count(af.guid) FROM feeds f "
        "LEFT JOIN article_feeds af ON af.feed_id = f.id GROUP BY f.id",
    )
    assert len(rows) == 12
    for has_validator, items in rows:
        assert items == (30 if has_validator else 0)
    assert any(items == 0 for _, items in rows), "the slow feeds should still have been in flight"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_run_with_no_reachable_feeds_still_runs(tmp_path, signum):
    config = write_config(tmp_path, ["http://127.0.0.1:9/unreachable.xml"])
    db = tmp_path / "feedd.db"
    daemon = start_daemon(config)
    try:
        wait_for(lambda: query(db, "SELECT error_count FROM feeds") == [(1,)])
    finally:
        code, stderr = stop(daemon, signum)
    assert code == 0, stderr
    assert "failed" in stderr
    assert "Traceback" not in stderr


def test_run_with_bad_config_exits_2(tmp_path):
    config = tmp_path / "feedd.toml"
    config.write_text('[fetch]\ninterval = "never"\n')
    result = feedd("run", "-c", str(config))
    assert result.returncode == 2
    assert "fetch.interval" in result.stderr
    assert not (tmp_path / "feedd.db").exists()


def test_fetch_shows_a_progress_bar_on_a_terminal(server, tmp_path):
    import pty

    urls = [server.add(f"/p{i}.xml", rss(f"P{i}", [(f"p{i}", f"P{i}")])) for i in range(3)]
    config = write_config(tmp_path, urls)
    controller, terminal = pty.openpty()
    try:
        result = subprocess.run(
            [FEEDD, "fetch", "-c", str(config)],
            stdout=subprocess.PIPE,
            stderr=terminal,
            text=True,
            timeout=60,
            check=False,
        )
        os.close(terminal)
        terminal = -1
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:
                break  # EIO: the terminal side is closed and drained
            if not chunk:
                break
            shown += chunk
    finally:
        if terminal != -1:
            os.close(terminal)
        os.close(controller)
    assert result.returncode == 0
    assert b"fetching" in shown and b"100%" in shown
    # The per-feed lines still go to stdout, after the bar.
    assert result.stdout.count("ok      ") == 3


def test_resolve_prints_each_hop_and_the_canonical_url(server, tmp_path):
    article = server.add("/story", "<html>story</html>", content_type="text/html")
    server.add("/m/1", status=302, location=article + "?id=7&utm_source=x")
    link = server.add("/s/1", status=301, location=server.url("/m/1"))
    config = write_config(tmp_path, [])
    result = feedd("resolve", link, "-c", str(config))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:4] == [
        f"  301  {link}",
        f"       -> {server.url('/m/1')}",
        f"  302  {server.url('/m/1')}",
        f"       -> {article}?id=7&utm_source=x",
    ]
    assert lines[-2] == "outcome    ok"
    assert lines[-1] == f"canonical  {article}?id=7"


def test_resolve_without_a_config_refuses_private_addresses(server):
    link = server.add("/s/1", status=301, location=server.url("/story"))
    env = {k: v for k, v in os.environ.items() if k != "FEEDD_CONFIG"}
    result = subprocess.run(
        [FEEDD, "resolve", link], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 1
    assert "outcome    blocked" in result.stdout
    assert server.requests == []


def test_resolve_unwraps_offline_first(server, tmp_path):
    article = server.add("/story", "<html>story</html>", content_type="text/html")
    wrapped = "https://www.google.com/url?q=" + article.replace(":", "%3A").replace("/", "%2F")
    result = feedd("resolve", wrapped, "-c", str(write_config(tmp_path, [])))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[0] == f"unwrapped  {article}"
    assert result.stdout.splitlines()[-1] == f"canonical  {article}"
