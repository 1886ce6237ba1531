"""What the boilerplate rules remove from the real-world corpus, per rule, with a sample.

    python bench/boilerplate_audit.py [--corpus PATH] [--sample N] [--seed S] [--rule R]

Parses every realworld feed once (realworld/INDEX.tsv), then for each item
runs the rules as normalize does (feedd.normalize.clean_fragment, with the
item's title for the rule that drops a first line repeating it) on its
content and its summary, and the per-feed learner (learn_boilerplate over the document's
items, then normalize.drop_learned). Prints, per rule: removals, items and
feeds touched, how many removals are long enough to be a real paragraph
(>= 30 words: each one is printed, to be checked by eye), and a random sample
of removed lines. "Paragraphs removed" counts each removed line or box once.

Then the paragraph check: every line of each item's raw HTML (its text as
normalize.html_to_text reads it, before any rule) is either in the stored
``content_text`` or in what a named rule removed. Lines that are neither are
"lost" and printed: there must be none.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import gzip
import os
import random
import sys
import warnings
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from feedd.boilerplate import (  # noqa: E402
    Removal,
    line_key,
    suspect,
)
from feedd.errors import ParseError  # noqa: E402
from feedd.normalize import (  # noqa: E402
    clean_fragment,
    drop_learned,
    html_to_text,
    learn_boilerplate,
    normalize_entry,
    one_line,
)
from feedd.parse import parse_feed  # noqa: E402
from feedd.types import ParsedFeed  # noqa: E402

LONG_WORDS = 30  # a removal this long could be a real paragraph: printed in full
DEFAULT_CORPUS = Path(os.environ.get("FEEDD_CORPUS", ROOT.parent / "shared" / "corpus"))
# What a typical server would send, by INDEX.tsv format prefix (as bench/corpus_run.py).
CONTENT_TYPES = (
    ("jsonfeed", "application/feed+json"),
    ("json", "application/json"),
    ("atom", "application/atom+xml"),
    ("rss1.0", "application/rdf+xml"),
    ("rss", "application/rss+xml"),
    ("html", "text/html; charset=utf-8"),
)


def clean(
    fragment: str, url: str, title: str | None
) -> tuple[str | None, str | None, tuple[Removal, ...]]:
    """normalize.clean_fragment, as normalize_entry calls it (with the item's title)."""
    return clean_fragment(fragment, url, title=title)


def lost_lines(raw_text: str | None, stored: str | None, removed: list[str]) -> list[str]:
    """The raw lines neither in the stored text nor in what a rule removed.

    A line a rule shortened (a widget link taken out of it) counts as kept
    when what is left of it is in the stored text."""
    if not raw_text:
        return []
    kept = line_key(stored or "")
    gone = [line_key(text) for text in removed if text.strip()]
    lost = []
    for line in raw_text.split("\n"):
        key = line_key(line)
        if not key or key in kept or any(key in text for text in gone):
            continue
        rest = key
        for text in gone:
            rest = rest.replace(text, " ")
        rest = " ".join(rest.split())
        if rest and rest not in kept:
            lost.append(line)
    return lost


def parsed_corpus(corpus: Path) -> list[tuple[str, str, ParsedFeed]]:
    """(listed path, base URL, parsed feed) for each realworld document that parses.

    Reads realworld/INDEX.tsv itself (not through corpus_run, which needs the
    whole pipeline importable): each stored_at file once.
    """
    feeds = []
    seen = set()
    with (corpus / "realworld" / "INDEX.tsv").open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file, delimiter="\t"))
    for row in rows:
        if row["stored_at"] in seen:
            continue
        seen.add(row["stored_at"])
        body = (corpus / row["stored_at"]).read_bytes()
        if body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
        url = f"https://corpus.invalid/{row['path']}"
        kind = next(
            (value for prefix, value in CONTENT_TYPES if row["format"].startswith(prefix)),
            "application/xml",
        )
        try:
            parsed = parse_feed(body, url=url, content_type=kind)
        except ParseError:
            continue
        feeds.append((row["path"], url, parsed))
    return feeds


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--sample", type=int, default=12, help="removed lines shown per rule")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--learned", action="store_true", help="list every learned line per feed")
    parser.add_argument("--rule", action="append", default=[], help="list every removal of R")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # feedparser's complaints about the corpus's odd feeds
    feeds = parsed_corpus(args.corpus)
    removals: dict[str, list[tuple[str, Removal]]] = defaultdict(list)
    items_by_rule: dict[str, set[tuple[str, int]]] = defaultdict(set)
    items = suspects = 0
    lost: list[tuple[str, str]] = []
    for path, url, parsed in feeds:
        name = Path(path).name
        entries = []
        removed_here: list[list[str]] = []
        for number, raw in enumerate(parsed.entries):
            items += 1
            title = one_line(raw.title)
            fragments = {raw.content, raw.summary} - {None, ""}
            removed_here.append([])
            for fragment in fragments:
                assert fragment is not None
                if suspect(fragment):
                    suspects += 1
                for removal in clean(fragment, url, title)[2]:
                    removals[removal.rule].append((name, removal))
                    items_by_rule[removal.rule].add((path, number))
                    removed_here[-1].append(removal.text)
            entry = normalize_entry(raw, link=raw.link, url=raw.link, base_url=url)
            if raw.content or raw.summary:
                content_html, content_text, _ = clean(raw.content or raw.summary or "", url, title)
                entry = dataclasses.replace(
                    entry, content_html=content_html, content_text=content_text
                )
            entries.append(entry)
        learned = learn_boilerplate([entry.content_text for entry in entries])
        for number, (raw, entry) in enumerate(zip(parsed.entries, entries, strict=True)):
            cleaned = drop_learned(entry, learned)
            if cleaned is not entry:
                before = (entry.content_text or "").split("\n")
                after = Counter(line_key(line) for line in (cleaned.content_text or "").split("\n"))
                for line in before:
                    key = line_key(line)
                    if after[key]:
                        after[key] -= 1
                        continue
                    removals["learned"].append((name, Removal("learned", line)))
                    items_by_rule["learned"].add((path, number))
                    removed_here[number].append(line)
            raw_text = html_to_text(raw.content or raw.summary)
            for line in lost_lines(raw_text, cleaned.content_text, removed_here[number]):
                lost.append((name, line))

    print(f"corpus: {args.corpus} (realworld)")
    print(f"feeds parsed: {len(feeds)}, items: {items}, fragments with a hint: {suspects}")
    print()
    print(f"{'rule':10} {'removed':>8} {'items':>6} {'feeds':>6} {'>=30 words':>11}")
    rng = random.Random(args.seed)
    long_ones: list[tuple[str, str, Removal]] = []
    for rule in sorted(removals, key=lambda r: -len(removals[r])):
        found = removals[rule]
        feeds_touched = {path for path, _ in items_by_rule[rule]}
        long_here = [(rule, n, r) for n, r in found if len(r.text.split()) >= LONG_WORDS]
        long_ones += long_here
        print(
            f"{rule:10} {len(found):8d} {len(items_by_rule[rule]):6d} "
            f"{len(feeds_touched):6d} {len(long_here):11d}"
        )
    for rule in sorted(removals):
        found = removals[rule]
        print(f"\n== {rule}: a sample of {min(args.sample, len(found))} of {len(found)}")
        for name, removal in rng.sample(found, min(args.sample, len(found))):
            print(f"  [{name[:32]}] {removal.text[:150]!r}")
    distinct = Counter((rule, name, removal.text) for rule, name, removal in long_ones)
    print(
        f"\n== removals of {LONG_WORDS} words or more (check each by eye): {len(long_ones)}, "
        f"{len(distinct)} distinct"
    )
    for (rule, name, text), count in sorted(distinct.items()):
        print(f"  {count:4d}x {rule:8} [{name[:32]}] {text[:240]!r}")
    print(f"\n== raw lines neither stored nor removed by a named rule (must be 0): {len(lost)}")
    for name, line in lost[:50]:
        print(f"  [{name[:32]}] {line[:200]!r}")
    for rule in args.rule:
        print(f"\n== every removal of {rule}: {len(removals[rule])}")
        for name, removal in removals[rule]:
            print(f"  [{name[:32]}] {removal.text[:200]!r}")
    if args.learned:
        print("\n== learned lines, per feed (distinct; removals)")
        per_feed: dict[str, Counter[str]] = defaultdict(Counter)
        for name, removal in removals["learned"]:
            per_feed[name][removal.text] += 1
        for name, lines in sorted(per_feed.items()):
            print(f"  [{name[:40]}]")
            for text, count in lines.most_common():
                print(f"    {count:4d}x {text[:140]!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
