"""One hostile document through digest: what [fetch] max_items bounds, and what not.

    python bench/max_items.py [--items 100000] [--cap 5000]

Builds an RSS document of --items tiny items (100,000 make ~8.5 MiB, under the
16 MiB body limit), digests it in this fresh process with max_items = --cap,
and prints the entries kept, the items dropped, the CPU time and the peak RSS.
Run it once with the default cap and once with a huge one to see that the cap
bounds what is stored, while feedparser's own memory on the document is not.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from feedd import digest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--cap", type=int, default=5_000)
    args = parser.parse_args()
    items = "".join(
        f"<item><title>t{i}</title><link>https://h.example/{i}</link><guid>g{i}</guid></item>"
        for i in range(args.items)
    )
    body = f'<rss version="2.0"><channel><title>T</title>{items}</channel></rss>'.encode()
    started = time.process_time()
    digested = digest.digest(body, "https://h.example/feed", "application/rss+xml", None, args.cap)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"body {len(body) / 2**20:.1f} MiB, max_items {args.cap}: {len(digested.entries)} entries, "
        f"{digested.feed.dropped_items} dropped, {time.process_time() - started:.1f} s CPU, "
        f"peak RSS {peak:.0f} MB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
