"""All-304 re-poll with ``feedd fetch``, A/B: checkouts and [fetch] settings, interleaved.

    python bench/fetch_304.py VARIANT [VARIANT ...] [--copies 10] [--runs 5]

A VARIANT is a checkout, optionally followed by lines for the [fetch] table after
a '|': ``/work/main``, ``.|fetchers = 0``, ``.|fetchers = 2``. The server
(bench/perf_server.py, --copies copies of the 261 real-world feeds over 256
loopback addresses) answers 304 to every request; each variant's database is
primed by one fetch, then the variants run in turn, --runs rounds (alternating
runs: the machine's other load hits every variant alike). Prints, per run and as
medians: feeds/s over the whole process (start included: the issue's figure),
feeds/s over the polls alone, CPU seconds of the process tree, the tree's peak
memory (MB).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import perf
from corpus_run import DEFAULT_CORPUS


def configure(folder: Path, urls: list[str], fetch_lines: str) -> Path:
    config = perf.write_config(folder, urls)
    if fetch_lines:
        text = config.read_text(encoding="utf-8")
        config.write_text(text.replace("[fetch]\n", f"[fetch]\n{fetch_lines}\n", 1), "utf-8")
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="+")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    perf.become_subreaper()
    rows: dict[str, list[tuple[float, float, float, float]]] = {v: [] for v in args.variants}
    with tempfile.TemporaryDirectory(prefix="feedd-304-") as tmp:
        server = perf.Server(args.corpus, Path(tmp), copies=args.copies)
        try:
            server.control("unchanged", on=1)
            configs = {}
            for number, variant in enumerate(args.variants):
                checkout, _, lines = variant.partition("|")
                folder = Path(tmp, f"v{number}")
                folder.mkdir()
                configs[variant] = (
                    str(Path(checkout).resolve()),
                    configure(folder, server.urls, lines),
                )
            for checkout, config in configs.values():  # prime: validators stored
                perf.CHILD_ENV["PYTHONPATH"] = checkout
                perf.run_measured([*perf.FEEDD, "fetch", "-c", str(config)])
            feeds = len(server.urls)
            for _ in range(args.runs):
                for variant, (checkout, config) in configs.items():
                    perf.CHILD_ENV["PYTHONPATH"] = checkout
                    child = perf.run_measured([*perf.FEEDD, "fetch", "-c", str(config)])
                    polls = perf.poll_seconds(child.output) or child.wall
                    row = (feeds / child.wall, feeds / polls, child.cpu, child.peak_rss_mb)
                    rows[variant].append(row)
                    print(
                        f"{variant}: {row[0]:.0f} feeds/s ({child.wall:.2f} s), polls "
                        f"{row[1]:.0f}/s, CPU {row[2]:.2f} s, tree {row[3]:.0f} MB, "
                        f"exit {child.status}",
                        flush=True,
                    )
        finally:
            server.close()
    print(f"\nmedians of {args.runs}, {feeds:,} feeds all answering 304:")
    print("| variant | feeds/s, start included | feeds/s, polls | CPU s | tree MB |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for variant, measured in rows.items():
        medians = [statistics.median(r[i] for r in measured) for i in range(4)]
        rates = f"{medians[0]:.0f} | {medians[1]:.0f}"
        print(f"| {variant} | {rates} | {medians[2]:.2f} | {medians[3]:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
