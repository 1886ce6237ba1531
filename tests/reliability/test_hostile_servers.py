"""One `feedd run` daemon against every hostile server of bench/hostile_run.py, briefly.

The harness (servers, phases, sampling of /proc/PID, the checks) lives in
bench/hostile_run.py, whose full run lasts minutes; this is the same run for
~15 s of hostility (~35 s in all), with a 3 s interval and timeout and 64 MiB
bombs. It checks that the good feeds' new items are still stored within a
couple of intervals, that peak RSS and the memory of the daemon with its workers
stay bounded (a 10 MB document of 100,000 items among them), that the open fds (and
sockets: the proxy for leaked asyncio tasks, which feedd does not expose) come
back to the baseline and do not grow from round to round, that Retry-After is
obeyed and that the daemon logs no traceback and exits 0.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))

from hostile_run import Settings, run

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="binds 127.0.0.x and reads /proc"
)


@pytest.mark.timeout(180)
def test_daemon_survives_hostile_servers():
    # The tree's bound here guards against regressions: the target (250 MB,
    # the harness's default) is not met by design yet; a worker at its 128 MiB
    # budget on the 100,000-item document, beside the daemon's bodies, reaches
    # 248-257 MB (bench/hostile_run.py reports it).
    settings = Settings(
        seconds=15, interval=3, timeout=3, retry_after=10, bomb_mib=64, max_tree_mb=300
    )
    report = run(settings)
    print(report.render())  # shown with -s, or on failure  # noqa: T201
    assert report.problems() == [], report.render() + "\n" + report.stderr_tail
    # Every kind of hostility was met at least once while it was on.
    met = {name for name, count in report.hostile_hits.items() if count}
    assert met >= {"slow-drip", "stall", "gzip-bomb", "br-bomb", "reset-on-accept", "html-page"}
    assert report.peak_rss_mb < settings.max_rss_mb
    assert report.peak_tree_mb < settings.max_tree_mb
    assert report.hostile_hits["many-items"] >= 1
