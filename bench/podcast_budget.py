"""A large podcast feed through one worker under [fetch] worker_memory.

    python bench/podcast_budget.py [--episodes 1000] [--budget-mib 256]

Podcast feeds are the largest real feeds: hundreds or thousands of episodes,
each with show notes in both <description> and <content:encoded>. This builds
one (1,000 episodes: ~13 MB, under the 16 MiB body limit), digests it in a
worker the way the daemon does (workers.Digesters with the given budget), and
prints the outcome, the time, and the worker's peak data segment (what
RLIMIT_DATA, and so the budget, counts), sampled every 3 ms from /proc.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import threading
import time

from feedd import workers

NOTES = "".join(
    f"<p>Segment {j}: the guests talk about topic {j} at length, with links "
    f'<a href="https://example.org/{j}">here</a>.</p>'
    for j in range(60)
)


def podcast(episodes: int) -> bytes:
    items = "".join(
        f"<item><title>Episode {i}</title><link>https://pod.example/ep/{i}</link>"
        f"<guid>ep-{i}</guid><pubDate>Mon, 0{1 + i % 9} Jan 2024 10:00:00 GMT</pubDate>"
        f"<description><![CDATA[{NOTES}]]></description>"
        f"<content:encoded><![CDATA[{NOTES}]]></content:encoded>"
        f'<enclosure url="https://cdn.example/{i}.mp3" length="1000" type="audio/mpeg"/>'
        f"<itunes:duration>01:00:00</itunes:duration></item>"
        for i in range(episodes)
    )
    return (
        '<?xml version="1.0"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">'
        f"<channel><title>Pod</title><link>https://pod.example/</link>{items}</channel></rss>"
    ).encode()


async def run(body: bytes, budget: int) -> None:
    digesters = workers.Digesters(1, memory_budget=budget)
    try:
        await digesters.digest(b"<rss/>", "https://pod.example/warm-up", None)
        assert digesters.pool is not None
        pid = await asyncio.get_running_loop().run_in_executor(digesters.pool, os.getpid)
        peak, done = [0], threading.Event()

        def sample() -> None:
            while not done.is_set():
                with open(f"/proc/{pid}/statm") as statm:
                    data = int(statm.read().split()[5]) * os.sysconf("SC_PAGE_SIZE")
                peak[0] = max(peak[0], data)
                time.sleep(0.003)

        sampler = threading.Thread(target=sample)
        sampler.start()
        started = time.monotonic()
        try:
            digested = await digesters.digest(body, "https://pod.example/feed", None)
            outcome = f"{len(digested.entries) if digested else 0} entries"
        except Exception as exc:  # the figure is what happened, whatever it was
            outcome = f"{type(exc).__name__}: {exc}"
        done.set()
        sampler.join()
        print(
            f"{outcome}; {time.monotonic() - started:.1f} s; "
            f"worker's peak data segment {peak[0] / 2**20:.0f} MiB (budget {budget >> 20} MiB)"
        )
    finally:
        digesters.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--budget-mib", type=int, default=256)
    args = parser.parse_args()
    body = podcast(args.episodes)
    print(f"{args.episodes} episodes, {len(body) / 2**20:.1f} MiB")
    asyncio.run(run(body, args.budget_mib * 2**20))


if __name__ == "__main__":
    main()
