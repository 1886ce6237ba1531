"""`feedd fetch` and `feedd run` with fetching processes, as real subprocesses:
a fetching process killed mid-run leaves the database consistent and its feeds
polled the next time; the daemon stops its fetching processes with itself."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from conftest import write_config
from test_cli import FEEDD, feedd, query, rss, wait_for


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(p) for p in (task / "children").read_text().split()]
    return found


def test_a_fetching_process_killed_mid_run(server, tmp_path):
    quick = [server.add(f"/q{n}.xml", rss(f"Q{n}", [(f"q{n}", f"Quick {n}")])) for n in range(3)]
    slow = [
        server.add(f"/s{n}.xml", rss(f"S{n}", [(f"s{n}", f"Slow {n}")]), latency=30)
        for n in range(3)
    ]
    # per_host = 6: every request is in the fetching process when it dies (one
    # still waiting for a slot would go to its replacement, and be polled).
    config = write_config(tmp_path, quick + slow, "fetchers = 1\nper_host = 6")
    process = subprocess.Popen(
        [FEEDD, "fetch", "-c", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    db = tmp_path / "feedd.db"
    # The quick feeds are stored; the slow ones wait in the fetching process.
    wait_for(lambda: query(db, "SELECT count(*) FROM articles")[0][0] == 3)
    wait_for(lambda: sum(path.startswith("/s") for path, _ in server.requests) == 3)
    (child,) = children(process.pid)
    subprocess.run(["kill", "-9", str(child)], check=True)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 1, err
    assert out.count("FAILED") == 3
    assert "fetching process" in out
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # Nothing of the lost polls was written: no error counted, still due.
        rows = conn.execute(
            "SELECT url, last_fetched_at, error_count FROM feeds ORDER BY url"
        ).fetchall()
    lost = {url: (fetched, errors) for url, fetched, errors in rows if url in slow}
    assert lost == dict.fromkeys(slow, (None, 0))
    # The next fetch polls them.
    for n in range(len(slow)):
        server.add(f"/s{n}.xml", rss(f"S{n}", [(f"s{n}", f"Slow {n}")]))
    again = feedd("fetch", "-c", str(config))
    assert again.returncode == 0, again.stdout + again.stderr
    assert query(db, "SELECT count(*) FROM articles")[0][0] == 6


def test_the_daemon_polls_through_fetching_processes_and_stops_them(server, tmp_path):
    urls = [server.add(f"/f{n}.xml", rss(f"F{n}", [(f"g{n}", f"Item {n}")])) for n in range(4)]
    config = write_config(tmp_path, urls, "fetchers = 2\nper_host = 1")
    process = subprocess.Popen(
        [FEEDD, "run", "-c", str(config)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    db = tmp_path / "feedd.db"
    wait_for(lambda: query(db, "SELECT count(*) FROM articles")[0][0] == 4)
    started = children(process.pid)
    assert len(started) >= 2  # the fetching processes (the page reader starts none)
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=30)
    assert process.returncode == 0
    time.sleep(0.2)
    assert not [pid for pid in started if Path(f"/proc/{pid}").exists()]
    assert server.max_in_flight == 1
