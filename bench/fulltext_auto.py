"""How fulltext's "auto" rule does on the real-world corpus, against hand-made labels.

    python bench/fulltext_auto.py [--corpus PATH] [--labels PATH] [--all] [--sample N]

Digests every realworld feed (realworld/INDEX.tsv; each stored_at file once) as
the pipeline does, without a server (feedd.digest.digest: parse, links offline,
normalize, learned boilerplate), and asks ``fulltext.pages_wanted("auto", ...)``
about all of its items, as if they were new. Prints, per feed: its label
(T: truncated, F: not; bench/data/fulltext_labels.toml says why), items, how
many pages the rule would fetch and for which reason, the median word count,
the verdict and a sample: the end of an item's text, a fetched one's when
there is one. Only the feeds with a wrong verdict are listed unless --all.

Then the totals against the labels, as counts of feeds and of items:

- a truncated feed is found when the rule fetches at least half of its items,
  missed (false negative) otherwise; its items left alone are false negatives;
- a complete feed is a false positive when the rule fetches any of its items;
  those items are false positives.

The labels are per feed: a truncated feed's occasional complete item (a
gallery, a one-line notice) counts as missed when left alone, a complete
feed's occasional teaser as a false positive when fetched.
Without the corpus (``--corpus``, else $FEEDD_CORPUS, else ../shared/corpus)
it says so and exits 0.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import os
import statistics
import sys
import tomllib
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from feedd import fulltext  # noqa: E402
from feedd.digest import digest  # noqa: E402
from feedd.errors import ParseError  # noqa: E402
from feedd.fulltext import pages_wanted  # noqa: E402
from feedd.types import Entry  # noqa: E402

DEFAULT_CORPUS = Path(os.environ.get("FEEDD_CORPUS", ROOT.parent / "shared" / "corpus"))
DEFAULT_LABELS = ROOT / "bench" / "data" / "fulltext_labels.toml"
# What a typical server would send, by INDEX.tsv format prefix (as bench/corpus_run.py).
CONTENT_TYPES = (
    ("jsonfeed", "application/feed+json"),
    ("json", "application/json"),
    ("atom", "application/atom+xml"),
    ("rss1.0", "application/rdf+xml"),
    ("rss", "application/rss+xml"),
    ("html", "text/html; charset=utf-8"),
)
REASONS = ("trailer", "ellipsis", "short feed")


@dataclass(frozen=True)
class Feed:
    path: str  # INDEX.tsv path without "realworld/": the labels' key
    entries: tuple[Entry, ...]
    wanted: tuple[str | None, ...]

    @property
    def fetched(self) -> int:
        return sum(1 for reason in self.wanted if reason)

    def verdict(self, truncated: bool | None) -> str:
        if truncated is None:
            return "unlabelled"
        if truncated:
            return "found" if 2 * self.fetched >= len(self.entries) else "FN"
        return "FP" if self.fetched else "ok"

    def sample(self) -> str:
        chosen = next(
            (e for e, reason in zip(self.entries, self.wanted, strict=True) if reason),
            self.entries[0],
        )
        return (chosen.content_text or chosen.title or "").replace("\n", " | ")[-70:]


def corpus_feeds(corpus: Path) -> tuple[list[Feed], int]:
    """Every realworld document that parses, digested and decided; and how many did not."""
    with (corpus / "realworld" / "INDEX.tsv").open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file, delimiter="\t"))
    feeds, failed, seen = [], 0, set()
    for row in rows:
        if row["stored_at"] in seen:
            continue
        seen.add(row["stored_at"])
        body = (corpus / row["stored_at"]).read_bytes()
        if body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
        kind = next(
            (value for prefix, value in CONTENT_TYPES if row["format"].startswith(prefix)),
            "application/xml",
        )
        try:
            entries = digest(body, f"https://corpus.invalid/{row['path']}", kind).entries
        except ParseError:
            failed += 1
            continue
        if entries:
            path = row["path"].removeprefix("realworld/")
            feeds.append(Feed(path, entries, pages_wanted("auto", entries)))
    return feeds, failed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--labels", type=Path, default=DEFAULT_LABELS)
    parser.add_argument("--all", action="store_true", help="list every feed, not only the misses")
    args = parser.parse_args(argv)
    if not (args.corpus / "realworld" / "INDEX.tsv").is_file():
        print(f"no corpus at {args.corpus} (--corpus or $FEEDD_CORPUS): nothing measured")
        return 0
    labels = tomllib.loads(args.labels.read_text(encoding="utf-8"))["feeds"]
    warnings.simplefilter("ignore")  # feedparser's complaints about the corpus's odd feeds
    feeds, failed = corpus_feeds(args.corpus)

    print(f"corpus: {args.corpus} (realworld); labels: {args.labels.relative_to(ROOT)}")
    print(
        f"rule: TRAILER_WORDS={fulltext.TRAILER_WORDS} SHORT_WORDS={fulltext.SHORT_WORDS} "
        f"SHORT_FEED_SHARE={fulltext.SHORT_FEED_SHARE} SHORT_FEED_ITEMS={fulltext.SHORT_FEED_ITEMS}"
    )
    print(f"feeds with items: {len(feeds)} (not parsed: {failed})\n")
    print(f"{'feed':44} {'label':5} {'items':>5} {'fetch':>5} {'trail':>5} {'ellip':>5} "
          f"{'short':>5} {'words':>5}  verdict  sample")  # fmt: skip
    verdicts: Counter[str] = Counter()
    items: Counter[str] = Counter()
    by_reason: Counter[tuple[str, bool]] = Counter()
    for feed in sorted(feeds, key=lambda f: f.path):
        label = labels.get(feed.path)
        truncated = label["truncated"] if label else None
        verdict = feed.verdict(truncated)
        verdicts[verdict] += 1
        reasons = Counter(reason for reason in feed.wanted if reason)
        for reason, count in reasons.items():
            by_reason[reason, bool(truncated)] += count
        if truncated is not None:
            left = len(feed.entries) - feed.fetched
            items["TP" if truncated else "FP"] += feed.fetched
            items["FN" if truncated else "TN"] += left
        if args.all or verdict not in ("ok", "found"):
            words = int(statistics.median(e.word_count for e in feed.entries))
            mark = "-" if truncated is None else "T" if truncated else "F"
            print(
                f"{Path(feed.path).name[:44]:44} {mark:5} {len(feed.entries):5d} "
                f"{feed.fetched:5d} {reasons['trailer']:5d} {reasons['ellipsis']:5d} "
                f"{reasons['short feed']:5d} {words:5d}  {verdict:7}  {feed.sample()!r}"
            )

    truncated_feeds = verdicts["found"] + verdicts["FN"]
    complete_feeds = verdicts["ok"] + verdicts["FP"]
    print("\n| labelled | feeds | items | fetched: feeds | items | left alone: feeds | items |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    print(
        f"| truncated | {truncated_feeds} | {items['TP'] + items['FN']} | "
        f"{verdicts['found']} | {items['TP']} | **{verdicts['FN']}** (FN) | **{items['FN']}** |"
    )
    print(
        f"| complete | {complete_feeds} | {items['FP'] + items['TN']} | "
        f"**{verdicts['FP']}** (FP) | **{items['FP']}** | {verdicts['ok']} | {items['TN']} |"
    )
    print("\n| reason | items fetched | of truncated feeds | of complete feeds |")
    print("| --- | ---: | ---: | ---: |")
    for reason in REASONS:
        right, wrong = by_reason[reason, True], by_reason[reason, False]
        print(f"| {reason} | {right + wrong} | {right} | {wrong} |")
    if verdicts["unlabelled"]:
        print(f"\nunlabelled feeds: {verdicts['unlabelled']} (add them to {args.labels.name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
