"""Normalization cost per item on the real-world corpus: HEAD's normalize against this one.

    python bench/normalize_bench.py [--corpus PATH] [--repeat N] [--base REV]

Parses every realworld feed once (realworld/INDEX.tsv), then times, over all
their items:

- ``before``: normalize_entry of ``--base`` (default HEAD), loaded from
  ``git show REV:feedd/normalize.py`` into a temporary module (no stash, no
  checkout: the work tree is not touched);
- ``after``: this tree's normalize_entry (boilerplate rules, dates, language,
  word count, enclosures);
- ``after + learner``: the same plus, per feed, learn_boilerplate over the
  document's items and drop_learned on each (what the pipeline does);
- ``language``: detect_language alone, on the same samples.

Each figure is the best of ``--repeat`` rounds (the four runs alternate in
each round) of this process's CPU time, as mean microseconds per item: the
machine may be busy, and the load average is printed with them.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from boilerplate_audit import DEFAULT_CORPUS, parsed_corpus  # noqa: E402

from feedd import normalize  # noqa: E402
from feedd.types import RawEntry  # noqa: E402


def module_at(revision: str) -> ModuleType:
    """feedd/normalize.py as it was at ``revision``, imported as feedd._normalize_base."""
    source = subprocess.run(
        ["git", "show", f"{revision}:feedd/normalize.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    folder = Path(tempfile.mkdtemp(prefix="feedd-bench-"))
    path = folder / "normalize_base.py"
    path.write_text(source, encoding="utf-8")
    # A name inside the feedd package, so its relative imports (.types) resolve.
    spec = importlib.util.spec_from_file_location("feedd._normalize_base", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def best_of(repeat: int, runs: dict[str, Callable[[], int]]) -> dict[str, float]:
    """Best CPU seconds per item of each run over ``repeat`` rounds; run() returns
    the item count. The runs alternate within a round, so a busy spell on the
    machine hits them all alike rather than one of them."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeat):
        for name, run in runs.items():
            started = time.process_time()  # other processes on the machine count less
            count = run()
            best[name] = min(best[name], (time.process_time() - started) / count)
    return best


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--base", default="HEAD", help="the revision measured as 'before'")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    feeds = parsed_corpus(args.corpus)
    batches: list[tuple[str, str | None, tuple[RawEntry, ...]]] = [
        (url, parsed.language, parsed.entries) for _, url, parsed in feeds
    ]
    items = sum(len(entries) for _, _, entries in batches)
    base = module_at(args.base)
    normalize.detect_language("warm the language model up before timing anything", None)

    def before() -> int:
        for url, _, entries in batches:
            for raw in entries:
                base.normalize_entry(raw, link=raw.link, url=raw.link, base_url=url)
        return items

    def after() -> int:
        for url, language, entries in batches:
            for raw in entries:
                normalize.normalize_entry(
                    raw, link=raw.link, url=raw.link, base_url=url, feed_language=language
                )
        return items

    def after_learner() -> int:
        for url, language, entries in batches:
            done = [
                normalize.normalize_entry(
                    raw, link=raw.link, url=raw.link, base_url=url, feed_language=language
                )
                for raw in entries
            ]
            learned = normalize.learn_boilerplate([entry.content_text for entry in done])
            for entry in done:
                normalize.drop_learned(entry, learned)
        return items

    samples = []
    for url, language, entries in batches:
        for raw in entries:
            entry = normalize.normalize_entry(raw, link=raw.link, url=raw.link, base_url=url)
            samples.append(("\n".join(p for p in (entry.title, entry.content_text) if p), language))

    def language_only() -> int:
        for text, hint in samples:
            normalize.detect_language(text, hint)
        return len(samples)

    print(f"corpus: {args.corpus} (realworld): {len(feeds)} feeds, {items} items")
    print(f"load average before: {os.getloadavg()[0]:.2f} (on {os.cpu_count()} CPUs)")
    figures = best_of(
        args.repeat,
        {
            f"before ({args.base})": before,
            "after": after,
            "after + learner": after_learner,
            "language alone": language_only,
        },
    )
    for name, seconds in figures.items():
        print(f"{name:24} {seconds * 1e6:8.0f} us/item")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
