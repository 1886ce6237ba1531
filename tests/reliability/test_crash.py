"""Crash consistency: `feedd` killed with SIGKILL at random moments loses and duplicates nothing.

A short run of bench/crash_loop.py (which has the harness and the full
version over the real-world corpus): the tests/data sample feeds plus 20
generated RSS feeds of 30 items (3 of them dripped slowly, so kills land
mid-transfer) change a little between rounds; `feedd fetch` or `feedd run`
is killed 4 times, half the kills aimed at a write transaction; after each
kill the database files are checked as the crash left them, and after a
final `feedd fetch` the database must hold exactly what one clean run holds.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))

import crash_loop

FEEDD = str(Path(sys.executable).parent / "feedd")


def test_sigkill_loses_and_duplicates_nothing(server, tmp_path):
    settings = crash_loop.Settings(
        kills=4,
        seed=7,
        min_delay=0.05,
        max_delay=2.0,
        churn=20,
        items=30,
        slow=3,
        slow_seconds=1.5,
        touch=0.5,
        late=0.2,
        aim=0.5,
        feedd=FEEDD,
        timeout=60.0,
    )
    report = crash_loop.crash_loop(settings, crash_loop.sample_documents(), server, tmp_path)
    table = report.table()

    assert len(report.kills) == settings.kills, table
    assert report.problems == [], table
    assert report.lost == [], table
    assert report.extra == [], table
    assert report.stale == [], table
    assert report.duplicated == 0, table
    assert report.final is not None and report.reference is not None
    assert report.final.problems == (), table
    assert report.final.articles == report.reference.articles > 600, table
    assert report.final.fts_docs == report.final.articles, table
    assert report.error_logs == [], table
