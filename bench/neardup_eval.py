"""Near-duplicate detection (feedd/neardup.py) on real article texts: precision and recall.

    python bench/neardup_eval.py [--corpus PATH] [--articles N] [--seed S] [--shingle-sizes 2,3,4]

The originals are the items of the shared corpus's real feeds
(realworld/INDEX.tsv; --corpus, else $FEEDD_CORPUS, else ../shared/corpus;
exit status 2 with a message when it is missing) whose text (the longest
content, else the summary, HTML stripped) has at least 80 words, exact
duplicates removed. Items of 30 to 79 words are kept as "short" extra
originals: they are indexed too and queried, so a thin item that matches
the wrong story would show. Every original is signed and indexed.

For --articles originals (default: all), drawn with --seed, one variant of
each kind is made (see KINDS) and looked up like a new article: candidates =
originals sharing at least one band key, flagged = candidates with estimated
Jaccard >= threshold. A variant is found when its original is flagged; any
other flagged original is a wrong merge. Negatives: every original queried
against all the others (nothing should be flagged), and explicit pairs of
different stories on the same topic: other items of the same feed, and the
items sharing the most salient words (tf-idf) from other feeds.

Prints (Markdown tables): per kind at the chosen parameters; the threshold
and the banding varied; recall by text length; signature and band-key
throughput (items/s), and against a classic 128-permutation MinHash; the
bytes per article in SQLite for the proposed tables, and lookups/s. With
--shingle-sizes, exact Jaccard (no MinHash) recall and the negatives'
highest similarity for other shingle sizes. Nothing is written outside a
temporary folder.
"""

from __future__ import annotations

import argparse
import calendar
import csv
import gzip
import hashlib
import math
import os
import random
import re
import sqlite3
import statistics
import struct
import sys
import tempfile
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import feedparser
from selectolax.lexbor import LexborHTMLParser

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from feedd import neardup  # noqa: E402 - after the path tweak

DEFAULT_CORPUS = Path(os.environ.get("FEEDD_CORPUS", ROOT.parent / "shared" / "corpus"))
MIN_ORIGINAL_WORDS = 80
THRESHOLDS = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9)
BANDINGS = ((32, 4), (20, 6), (16, 8), (12, 10), (8, 16))  # bands x rows (<= 128 rows)
WINDOW = 7 * 24 * 3600  # the lookup's time window: +-7 days
LENGTHS = ((80, 200), (200, 500), (500, 10**9))

# Variant kinds: name -> (description, same story?)
KINDS: dict[str, tuple[str, bool]] = {
    "exact": ("exact copy", True),
    "reformatted": ("case, quotes, spacing and line breaks changed", True),
    "words_1_3": ("1-3 words replaced", True),
    "boilerplate": ("weather and date lines before, 'Read more' and 'from X' after", True),
    "truncated_70": ("first 70% of the words", True),
    "truncated_50": ("first 50% of the words", True),
    "words_15pct": ("15% of the words replaced", True),
    "thin": ("title and first 20 words (a thin applet item)", True),
}
CITIES = ("London", "Moscow", "Berlin", "Chicago", "Lagos", "Sydney", "Lima", "Osaka")
WEATHER = ("Partly cloudy", "Light rain", "Sunny", "Overcast", "Snow showers", "Clear")
SOURCES = ("RT", "Reuters", "The Daily Post", "World Herald", "Tech Wire", "Local Times")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("January", "March", "May", "July", "September", "November", "December")
SALIENT = re.compile(r"[^\W\d_]{4,}")


@dataclass(frozen=True, slots=True)
class Item:
    feed: str
    title: str
    link: str
    text: str
    words: int
    published: float | None  # POSIX seconds (published, else updated), None when undated


@dataclass(slots=True)
class Tally:
    """Lookups of one kind at one setting."""

    queries: int = 0
    found: int = 0  # the original flagged
    flags: int = 0  # everything flagged
    wrong: int = 0  # a flagged original that is another story
    candidates: int = 0
    unsigned: int = 0  # no signature (too short)
    wrong_window: int = 0  # wrong merges of items published within WINDOW of each other
    wrong_policy: int = 0  # ... and from different feeds
    own_copies: int = 0  # flagged originals the corpus holds twice (same title or link)
    wrong_examples: list[tuple[int, int, float]] = field(default_factory=list)


# --- corpus -----------------------------------------------------------------


def item_text(entry: feedparser.FeedParserDict) -> str:
    """The longest content, else the summary, as plain text with collapsed spaces."""
    candidates = [c.get("value") or "" for c in entry.get("content") or ()]
    candidates.append(entry.get("summary") or "")
    markup = max(candidates, key=len)
    if not markup.strip():
        return ""
    tree = LexborHTMLParser(markup)
    for node in tree.css("script, style, noscript, iframe, object, embed, svg"):
        node.decompose()
    text = tree.text(separator=" ") if tree.body is not None else ""
    return " ".join(text.split())


def document_items(name: str, document: Path) -> list[Item]:
    try:
        data = document.read_bytes()
    except OSError:
        return []
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = feedparser.parse(data)
    items = []
    for entry in parsed.entries:
        text = item_text(entry)
        when = entry.get("published_parsed") or entry.get("updated_parsed")
        items.append(
            Item(
                name,
                entry.get("title") or "",
                entry.get("link") or "",
                text,
                len(text.split()),
                calendar.timegm(when) if when else None,
            )
        )
    return items


def load_items(corpus: Path) -> tuple[list[Item], int]:
    index = corpus / "realworld" / "INDEX.tsv"
    with index.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    names = [row["path"] for row in rows]
    documents = [corpus / (row.get("stored_at") or row["path"]) for row in rows]
    with ProcessPoolExecutor() as pool:
        per_document = list(pool.map(document_items, names, documents, chunksize=4))
    return [item for items in per_document for item in items], len(rows)


# --- variants ---------------------------------------------------------------


def replace_words(
    words: list[str], count: int, vocabulary: Sequence[str], rng: random.Random
) -> list[str]:
    changed = list(words)
    for position in rng.sample(range(len(words)), min(count, len(words))):
        replacement = rng.choice(vocabulary)
        while replacement.casefold() == words[position].casefold():
            replacement = rng.choice(vocabulary)
        changed[position] = replacement
    return changed


def reformat(text: str, rng: random.Random) -> str:
    words = text.split()
    out = []
    for index, word in enumerate(words):
        choice = rng.random()
        if choice < 0.05:
            word = word.upper()
        elif choice < 0.1:
            word = word.replace('"', "\u201c").replace("'", "\u2019")
        out.append(word)
        out.append("\n" if index % 37 == 36 else "  " if choice > 0.95 else " ")
    return "".join(out).replace(",", " ,")


def boilerplate(text: str, rng: random.Random) -> str:
    code = "".join(rng.choice("abcdefghijkmnpqrstuvwxyz0123456789") for _ in range(7))
    before = (
        f"Weather: {rng.choice(CITIES)} {rng.randint(-5, 35)}°C, {rng.choice(WEATHER)}. "
        f"Wind {rng.randint(2, 40)} km/h.\n"
        f"{rng.choice(WEEKDAYS)}, {rng.randint(1, 28)} {rng.choice(MONTHS)} 2026\n"
    )
    source = rng.choice(SOURCES)
    # "\u2013" is an en dash, as such trailers have it.
    after = f"\nRead more: https://ift.tt/{code}\nfrom {source} \u2013 Daily news"
    return before + text + after


def make_variant(kind: str, item: Item, vocabulary: Sequence[str], rng: random.Random) -> str:
    words = item.text.split()
    if kind == "exact":
        return item.text
    if kind == "reformatted":
        return reformat(item.text, rng)
    if kind == "words_1_3":
        return " ".join(replace_words(words, rng.randint(1, 3), vocabulary, rng))
    if kind == "boilerplate":
        return boilerplate(item.text, rng)
    if kind == "truncated_70":
        return " ".join(words[: math.ceil(len(words) * 0.7)])
    if kind == "truncated_50":
        return " ".join(words[: math.ceil(len(words) * 0.5)])
    if kind == "words_15pct":
        return " ".join(replace_words(words, round(len(words) * 0.15), vocabulary, rng))
    if kind == "thin":
        return item.title + "\n" + " ".join(words[:20])
    raise ValueError(kind)


# --- negatives: different stories on the same topic -------------------------


def salient_words(items: Sequence[Item], top: int = 10) -> list[set[str]]:
    """Each item's `top` words by tf-idf (letters only, 4+ characters)."""
    counts = [Counter(SALIENT.findall(item.text.casefold())) for item in items]
    document_frequency: Counter[str] = Counter()
    for count in counts:
        document_frequency.update(count.keys())
    total = len(items)
    salient = []
    for count in counts:
        scored = sorted(
            count.items(),
            key=lambda pair: -pair[1] * math.log(total / document_frequency[pair[0]]),
        )
        salient.append({word for word, _ in scored[:top]})
    return salient


def negative_pairs(items: Sequence[Item], rng: random.Random) -> dict[str, list[tuple[int, int]]]:
    by_feed: dict[str, list[int]] = defaultdict(list)
    for index, item in enumerate(items):
        by_feed[item.feed].append(index)
    same_feed: list[tuple[int, int]] = []
    for members in by_feed.values():
        for index in members:
            others = [other for other in members if other != index]
            same_feed.extend((index, other) for other in rng.sample(others, min(3, len(others))))
    salient = salient_words(items, top=20)
    holders: dict[str, list[int]] = defaultdict(list)
    for index, words in enumerate(salient):
        for word in words:
            holders[word].append(index)
    same_topic: list[tuple[int, int]] = []
    for index, words in enumerate(salient):
        shared: Counter[int] = Counter()
        for word in words:
            if len(holders[word]) <= len(items) // 10:  # a word 10% of items have is no topic
                shared.update(holders[word])
        ranked = [
            (count, other)
            for other, count in shared.items()
            if other != index and items[other].feed != items[index].feed and count >= 2
        ]
        ranked.sort(reverse=True)
        same_topic.extend((index, other) for _, other in ranked[:3])
    return {"same_feed": same_feed, "same_topic": same_topic}


# --- LSH --------------------------------------------------------------------

PERSON = f"feedd.neardup.{neardup.SCHEME}".encode()


def keys_for(sig: neardup.Signature, bands: int, rows: int) -> tuple[str, ...]:
    """Band keys for any banding, computed as neardup.band_keys does for its own."""
    if (bands, rows) == (neardup.BANDS, neardup.ROWS):
        return neardup.band_keys(sig)
    keys = []
    for band in range(bands):
        values = sig.rows[band * rows : (band + 1) * rows]
        data = struct.pack(f"<B{rows}I", band, *values)
        keys.append(hashlib.blake2b(data, digest_size=8, person=PERSON).hexdigest())
    return tuple(keys)


class Index:
    """An in-memory stand-in for the article_bands table, for one banding."""

    def __init__(self, bands: int, rows: int) -> None:
        self.bands, self.rows = bands, rows
        self.table: dict[str, list[int]] = defaultdict(list)

    def add(self, article: int, sig: neardup.Signature) -> None:
        for key in keys_for(sig, self.bands, self.rows):
            self.table[key].append(article)

    def candidates(self, sig: neardup.Signature) -> set[int]:
        found: set[int] = set()
        for key in keys_for(sig, self.bands, self.rows):
            found.update(self.table.get(key, ()))
        return found


# --- classic MinHash, for the throughput comparison ---------------------------

MERSENNE = (1 << 61) - 1


def classic_minhash(shingles: Iterable[str], permutations: int = 128) -> list[int]:
    """NUM_PERM universal hashes of each shingle's 64-bit hash: the textbook way."""
    rng = random.Random(0)
    params = [(rng.randrange(1, MERSENNE), rng.randrange(MERSENNE)) for _ in range(permutations)]
    hashes = [
        int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "little")
        for s in shingles
    ]
    return [min([(a * h + b) % MERSENNE for h in hashes]) for a, b in params]


# --- helpers ----------------------------------------------------------------


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def quantile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def summed(tallies: Iterable[Tally]) -> Tally:
    total = Tally()
    for tally in tallies:
        for name in ("queries", "found", "flags", "wrong", "candidates", "unsigned"):
            setattr(total, name, getattr(total, name) + getattr(tally, name))
        for name in ("wrong_window", "wrong_policy", "own_copies"):
            setattr(total, name, getattr(total, name) + getattr(tally, name))
    return total


def wrongs(tally: Tally) -> str:
    return f"{tally.wrong} / {tally.wrong_window} / {tally.wrong_policy}"


def precisions(tally: Tally) -> str:
    """Precision counting every wrong merge / those in the window / and from other feeds."""
    right = tally.flags - tally.wrong
    if not tally.flags:
        return "-"
    return " / ".join(
        percent(right, right + wrong)
        for wrong in (tally.wrong, tally.wrong_window, tally.wrong_policy)
    )


def same_story(a: Item, b: Item) -> bool:
    """Two originals the corpus itself holds twice (a feed and its copy), by title or link."""
    title = a.title.strip().casefold()
    return bool(title and title == b.title.strip().casefold()) or bool(a.link and a.link == b.link)


def timed(function: Callable[[], object]) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


# --- the run ----------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--articles", type=int, default=0, help="originals to vary (0: all)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--shingle-sizes", default="", help="e.g. 2,3,4,5: compare word shingle sizes (exact J)"
    )
    args = parser.parse_args(argv)
    if not (args.corpus / "realworld" / "INDEX.tsv").is_file():
        print(
            f"neardup_eval: no corpus at {args.corpus} (realworld/INDEX.tsv missing); "
            "pass --corpus PATH or set FEEDD_CORPUS. Nothing evaluated.",
            file=sys.stderr,
        )
        return 2
    rng = random.Random(args.seed)
    started = time.perf_counter()

    # Originals: >= 80 words; "short" items (30-79 words) indexed as well.
    everything, documents = load_items(args.corpus)
    seen: set[str] = set()
    originals: list[Item] = []
    shorts: list[Item] = []
    for item in everything:
        fingerprint = " ".join(neardup.tokens(item.text)[0]) or item.text
        if item.words < neardup.MIN_WORDS or fingerprint in seen:
            continue
        seen.add(fingerprint)
        (originals if item.words >= MIN_ORIGINAL_WORDS else shorts).append(item)
    indexed = originals + shorts
    print(
        f"corpus: {documents} documents, {len(everything)} items; "
        f"{len(originals)} distinct originals of >= {MIN_ORIGINAL_WORDS} words "
        f"(from {len({i.feed for i in originals})} feeds, median "
        f"{statistics.median(i.words for i in originals):.0f} words), "
        f"{len(shorts)} short items of {neardup.MIN_WORDS}-{MIN_ORIGINAL_WORDS - 1} words; "
        f"loaded in {time.perf_counter() - started:.1f} s"
    )

    # Signatures of everything indexed, timed (signature + band keys).
    t0 = time.perf_counter()
    signatures = [neardup.signature(item.text) for item in indexed]
    sign_s = time.perf_counter() - t0
    keys_s = timed(lambda: [neardup.band_keys(s) for s in signatures if s is not None])
    words_total = sum(item.words for item in indexed)
    assert all(s is not None for s in signatures[: len(originals)])

    indexes = {banding: Index(*banding) for banding in BANDINGS}
    for article, sig in enumerate(signatures):
        if sig is not None:
            for index in indexes.values():
                index.add(article, sig)

    # Variants.
    vocabulary = [word for item in originals for word in item.text.split() if word.isalpha()]
    chosen = list(range(len(originals)))
    if 0 < args.articles < len(originals):
        chosen = sorted(rng.sample(chosen, args.articles))
    queries: list[tuple[str, int, str]] = []  # kind, original, text
    for article in chosen:
        for kind in KINDS:
            queries.append((kind, article, make_variant(kind, originals[article], vocabulary, rng)))
    t0 = time.perf_counter()
    query_signatures = [neardup.signature(text) for _, _, text in queries]
    sign_s += time.perf_counter() - t0
    keys_s += timed(lambda: [neardup.band_keys(s) for s in query_signatures if s is not None])
    words_total += sum(len(text.split()) for _, _, text in queries)
    signed = len(indexed) + len(queries)

    # Similarities are computed once per (query, candidate) and reused for every setting.
    similarity_cache: dict[tuple[int, int], float] = {}

    def similarity(query_id: int, sig: neardup.Signature, article: int) -> float:
        key = (query_id, article)
        if key not in similarity_cache:
            other = signatures[article]
            assert other is not None
            similarity_cache[key] = neardup.similarity(sig, other)
        return similarity_cache[key]

    # tallies[(bands, rows, threshold)][kind]
    tallies: dict[tuple[int, int, float], dict[str, Tally]] = defaultdict(
        lambda: defaultdict(Tally)
    )
    direct: dict[str, list[float]] = defaultdict(list)  # estimated J variant vs its original

    def close_in_time(a: Item, b: Item) -> bool:
        """Within the lookup window; an undated item counts as close (the worst case)."""
        if a.published is None or b.published is None:
            return True
        return abs(a.published - b.published) <= WINDOW

    def record(tally: Tally, query: Item, article: int, score: float, query_id: int) -> None:
        """A flagged original that is another story."""
        other = indexed[article]
        tally.flags += 1
        tally.wrong += 1
        if close_in_time(query, other):
            tally.wrong_window += 1
            if query.feed != other.feed:
                tally.wrong_policy += 1
        tally.wrong_examples.append((query_id, article, score))

    def look_up(query_id: int, kind: str, sig: neardup.Signature | None, original: int) -> None:
        """A variant of `original`, as a new article from another feed."""
        for banding, index in indexes.items():
            found = set() if sig is None else index.candidates(sig)
            for threshold in THRESHOLDS:
                tally = tallies[(*banding, threshold)][kind]
                tally.queries += 1
                tally.unsigned += sig is None
                tally.candidates += len(found)
                if sig is None:
                    continue
                for article in found:
                    score = similarity(query_id, sig, article)
                    if score < threshold:
                        continue
                    if article == original:
                        tally.flags += 1
                        tally.found += 1
                    elif same_story(indexed[article], indexed[original]):
                        tally.own_copies += 1  # the corpus's own copy of the story
                    else:
                        # The copy is published when its original is, in some feed
                        # other than both.
                        record(
                            tally,
                            replace(indexed[original], feed="(copy)"),
                            article,
                            score,
                            query_id,
                        )

    for number, ((kind, article, _), sig) in enumerate(zip(queries, query_signatures, strict=True)):
        query_id = -1 - number  # never an article id
        look_up(query_id, kind, sig, article)
        if sig is not None:
            original = signatures[article]
            assert original is not None
            direct[kind].append(neardup.similarity(sig, original))

    # Negatives 1: every indexed item against all the others; each pair counted once.
    def sweep(kind: str, members: range) -> None:
        for article in members:
            sig = signatures[article]
            for banding, index in indexes.items():
                found = set() if sig is None else index.candidates(sig) - {article}
                for threshold in THRESHOLDS:
                    tally = tallies[(*banding, threshold)][kind]
                    tally.queries += 1
                    tally.unsigned += sig is None
                    tally.candidates += len(found)
                    if sig is None:
                        continue
                    for other in found:
                        if other < article and other in members:
                            continue  # counted from the other side
                        score = similarity(article, sig, other)
                        if score < threshold:
                            continue
                        if same_story(indexed[article], indexed[other]):
                            tally.own_copies += 1
                        else:
                            record(tally, indexed[article], other, score, article)

    sweep("all_originals", range(len(originals)))
    sweep("short_items", range(len(originals), len(indexed)))

    # Negatives 2: explicit pairs of different stories on the same topic.
    pairs = negative_pairs(originals, rng)
    pair_scores: dict[str, list[tuple[float, int, int]]] = {}
    for name, members in pairs.items():
        scores = []
        for a, b in members:
            if same_story(originals[a], originals[b]):
                continue
            sa, sb = signatures[a], signatures[b]
            assert sa is not None and sb is not None
            scores.append((neardup.similarity(sa, sb), a, b))
        pair_scores[name] = scores

    # Exact Jaccard (the shingle sets themselves) per kind, for the estimates' accuracy.
    exact: dict[str, list[float]] = defaultdict(list)
    errors: list[float] = []
    shingle_sets = [neardup.shingles(item.text) for item in originals]
    for (kind, article, text), sig in zip(queries, query_signatures, strict=True):
        if sig is None:
            continue
        value = jaccard(neardup.shingles(text), shingle_sets[article])
        exact[kind].append(value)
        original = signatures[article]
        assert original is not None
        errors.append(neardup.similarity(sig, original) - value)

    # --- report ---
    chosen_setting = (neardup.BANDS, neardup.ROWS, neardup.NEAR_DUPLICATE)
    at = tallies[chosen_setting]
    print(
        f"\nvariants: {len(chosen)} originals x {len(KINDS)} kinds = {len(queries)} lookups "
        f"(seed {args.seed}) against {len(indexed)} indexed items\n"
    )
    print(
        f"## Per kind at {neardup.BANDS} bands x {neardup.ROWS} rows, "
        f"threshold {neardup.NEAR_DUPLICATE}\n"
    )
    print(
        "Wrong merges: all / between items published within 7 days of each other / "
        "those and from different feeds (the lookup the store should make).\n"
    )
    print(
        "| kind | what | lookups | no signature | exact J median (p10) "
        "| estimated J median | found (recall) | wrong merges | precision "
        "| candidates/lookup |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for kind, (what, _) in KINDS.items():
        tally = at[kind]
        exact_values = exact.get(kind, [])
        print(
            f"| {kind} | {what} | {tally.queries} | {tally.unsigned} "
            f"| {quantile(exact_values, 0.5):.2f} ({quantile(exact_values, 0.1):.2f}) "
            f"| {quantile(direct.get(kind, []), 0.5):.2f} "
            f"| {tally.found} ({percent(tally.found, tally.queries)}) | {wrongs(tally)} "
            f"| {precisions(tally)} | {tally.candidates / tally.queries:.2f} |"
        )
    for kind, what in (
        ("all_originals", "every original against all others"),
        ("short_items", f"items of {neardup.MIN_WORDS}-{MIN_ORIGINAL_WORDS - 1} words"),
    ):
        tally = at[kind]
        print(
            f"| {kind} | {what} | {tally.queries} | {tally.unsigned} | | | - "
            f"| {wrongs(tally)} | - | {tally.candidates / tally.queries:.2f} |"
        )
    total = summed(at.values())
    print(
        f"\noverall: {total.flags} flagged, wrong merges {wrongs(total)}, "
        f"precision {precisions(total)}; not counted: {total.own_copies} flags of a story "
        "the corpus holds twice (same title or link)"
    )

    print("\n## Explicit negatives: different stories on the same topic\n")
    print(
        "| pairs | count | flagged at threshold | estimated J max | p99 | median "
        "| exact J of the max |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, scores in pair_scores.items():
        values = [score for score, _, _ in scores]
        top = max(scores, default=(0.0, 0, 0))
        top_exact = jaccard(shingle_sets[top[1]], shingle_sets[top[2]]) if scores else 0.0
        flagged = sum(value >= neardup.NEAR_DUPLICATE for value in values)
        print(
            f"| {name} | {len(values)} | {flagged} | {top[0]:.2f} | {quantile(values, 0.99):.2f} "
            f"| {quantile(values, 0.5):.2f} | {top_exact:.2f} |"
        )

    for threshold in sorted({neardup.NEAR_DUPLICATE, THRESHOLDS[THRESHOLDS.index(0.8) - 1]}):
        print_wrong_pairs(
            tallies[(neardup.BANDS, neardup.ROWS, threshold)], threshold, indexed, queries
        )

    kinds = [kind for kind, (_, positive) in KINDS.items() if positive and kind != "thin"]
    print(f"\n## Threshold varied ({neardup.BANDS} x {neardup.ROWS})\n")
    print("Recall per kind; wrong merges and precision over every lookup above.\n")
    print("| threshold | " + " | ".join(kinds) + " | wrong merges | precision |")
    print("| ---: | " + " | ".join("---:" for _ in kinds) + " | ---: | ---: |")
    for threshold in THRESHOLDS:
        row = tallies[(neardup.BANDS, neardup.ROWS, threshold)]
        total = summed(row.values())
        print(
            f"| {threshold} | "
            + " | ".join(percent(row[k].found, row[k].queries) for k in kinds)
            + f" | {wrongs(total)} | {precisions(total)} |"
        )

    print(f"\n## Banding varied (threshold {neardup.NEAR_DUPLICATE})\n")
    print(
        "Without LSH = the share of variants whose estimated J reaches the threshold "
        "(what a full scan would find).\n"
    )
    print(
        "| bands x rows | S-curve midpoint | P(J=0.5) | P(J=0.7) | P(J=0.8) | P(J=0.9) | "
        + " | ".join(kinds)
        + " | candidates/lookup | wrong merges |"
    )
    print(
        "| --- | ---: | ---: | ---: | ---: | ---: | "
        + " | ".join("---:" for _ in kinds)
        + " | ---: | ---: |"
    )
    for bands, rows in BANDINGS:
        row = tallies[(bands, rows, neardup.NEAR_DUPLICATE)]
        lookups = sum(t.queries for t in row.values())
        candidates = sum(t.candidates for t in row.values())
        probabilities = " | ".join(
            f"{neardup.candidate_probability(j, bands, rows):.3f}" for j in (0.5, 0.7, 0.8, 0.9)
        )
        print(
            f"| {bands} x {rows} | {(1 / bands) ** (1 / rows):.2f} | {probabilities} | "
            + " | ".join(percent(row[k].found, row[k].queries) for k in kinds)
            + f" | {candidates / lookups:.2f} | {wrongs(summed(row.values()))} |"
        )
    scan = " | ".join(
        percent(sum(v >= neardup.NEAR_DUPLICATE for v in direct[k]), at[k].queries) for k in kinds
    )
    print(f"| without LSH | | | | | | {scan} | {len(indexed)} | |")

    print(
        f"\n## Recall by length of the original ({neardup.BANDS} x {neardup.ROWS}, "
        f"threshold {neardup.NEAR_DUPLICATE})\n"
    )
    print("| words | originals | " + " | ".join(kinds) + " |")
    print("| --- | ---: | " + " | ".join("---:" for _ in kinds) + " |")
    found_by: dict[tuple[str, int], list[bool]] = defaultdict(list)
    for number, ((kind, article, _), sig) in enumerate(zip(queries, query_signatures, strict=True)):
        hit = False
        if sig is not None:
            pool = indexes[(neardup.BANDS, neardup.ROWS)].candidates(sig)
            hit = article in pool and similarity(-1 - number, sig, article) >= (
                neardup.NEAR_DUPLICATE
            )
        bucket = next(
            i for i, (low, high) in enumerate(LENGTHS) if low <= originals[article].words < high
        )
        found_by[(kind, bucket)].append(hit)
    for bucket, (low, high) in enumerate(LENGTHS):
        label = f"{low}-{high - 1}" if high < 10**9 else f"{low}+"
        count = sum(1 for a in chosen if low <= originals[a].words < high)
        print(
            f"| {label} | {count} | "
            + " | ".join(
                percent(sum(found_by[(k, bucket)]), len(found_by[(k, bucket)])) for k in kinds
            )
            + " |"
        )

    print("\n## Cost\n")
    mean_error = statistics.fmean(errors)
    spread = statistics.pstdev(errors)
    print(
        f"estimated - exact Jaccard over {len(errors)} variant pairs: "
        f"mean {mean_error:+.4f}, standard deviation {spread:.4f} "
        f"(a 128-permutation MinHash: sqrt(J(1-J)/128) <= 0.044)"
    )
    print(
        f"signature: {signed} texts ({words_total} words) in {sign_s:.2f} s = "
        f"{signed / sign_s:.0f} items/s ({words_total / sign_s / 1e6:.2f} M words/s); "
        f"band keys: {signed / keys_s:.0f} items/s; both: "
        f"{signed / (sign_s + keys_s):.0f} items/s"
    )
    texts = [item.text for item in originals]
    best = min(timed(lambda: [neardup.signature(text) for text in texts]) for _ in range(3))
    words_originals = sum(item.words for item in originals)
    print(
        f"best of 3 over the {len(texts)} originals (mean {words_originals / len(texts):.0f} "
        f"words): {len(texts) / best:.0f} items/s ({words_originals / best / 1e6:.2f} M words/s, "
        f"{best / len(texts) * 1e3:.2f} ms per item)"
    )
    sample = random.Random(args.seed).sample(originals, min(200, len(originals)))
    sample_sets = [neardup.shingles(item.text) for item in sample]
    classic_s = timed(lambda: [classic_minhash(s) for s in sample_sets])
    oph_s = min(timed(lambda: [neardup.signature(i.text) for i in sample]) for _ in range(3))
    print(
        f"against a classic MinHash (128 universal hashes of each shingle, pure Python) on "
        f"{len(sample)} random originals: {len(sample) / classic_s:.0f} items/s "
        "(shingles given) vs "
        f"{len(sample) / oph_s:.0f} items/s for neardup.signature (text given), "
        f"{classic_s / oph_s:.0f}x"
    )
    sqlite_report(indexed, signatures)

    if args.shingle_sizes:
        sizes = [int(size) for size in args.shingle_sizes.split(",")]
        shingle_report(sizes, originals, queries, pair_scores)
    print(f"\nran in {time.perf_counter() - started:.1f} s")
    return 0


# The store's lookup, without the time window (the corpus has no article dates
# table here): candidates sharing a band key, with their signatures.
CANDIDATES_SQL = (
    "SELECT s.article_id, s.signature FROM article_signatures s WHERE s.article_id IN "  # noqa: S608 - "?" only
    "(SELECT DISTINCT article_id FROM article_bands WHERE band IN "
    f"({','.join('?' * neardup.BANDS)}))"
)


def print_wrong_pairs(
    row: dict[str, Tally],
    threshold: float,
    indexed: Sequence[Item],
    queries: Sequence[tuple[str, int, str]],
) -> None:
    """The distinct pairs of originals behind the wrong merges at one threshold."""
    pairs: dict[tuple[int, int], tuple[float, Counter[str]]] = {}
    for kind, tally in row.items():
        for query_id, article, score in tally.wrong_examples:
            source = query_id if query_id >= 0 else queries[-1 - query_id][1]
            key = (min(source, article), max(source, article))
            best, kinds = pairs.get(key, (0.0, Counter()))
            kinds[kind] += 1
            pairs[key] = (max(best, score), kinds)
    print(
        f"\nwrong merges at threshold {threshold} come from {len(pairs)} pairs of "
        "different stories:"
    )
    for (a, b), (score, kinds) in sorted(pairs.items(), key=lambda pair: -pair[1][0]):
        first, second = indexed[a], indexed[b]
        days = (
            f"{abs(first.published - second.published) / 86400:.0f} days apart"
            if first.published is not None and second.published is not None
            else "undated"
        )
        feeds = (
            f"same feed {Path(first.feed).name}"
            if first.feed == second.feed
            else f"feeds {Path(first.feed).name}, {Path(second.feed).name}"
        )
        flagged_by = ", ".join(f"{kind} x{count}" for kind, count in sorted(kinds.items()))
        print(
            f"- {first.title[:45]!r} / {second.title[:45]!r}: J {score:.2f}, {feeds}, {days} "
            f"(flagged by {flagged_by})"
        )


def sqlite_report(items: Sequence[Item], signatures: Sequence[neardup.Signature | None]) -> None:
    """Bytes per article for the proposed tables, and candidate lookups per second."""
    rows = [(n, s) for n, s in enumerate(signatures) if s is not None]
    with tempfile.TemporaryDirectory() as folder:
        for band_type in ("TEXT", "INTEGER"):
            path = Path(folder) / f"bands_{band_type}.sqlite"
            connection = sqlite3.connect(path)
            connection.executescript(
                "CREATE TABLE article_signatures (article_id INTEGER PRIMARY KEY, "
                "signature BLOB NOT NULL);"
                f"CREATE TABLE article_bands (band {band_type} NOT NULL, "
                "article_id INTEGER NOT NULL, PRIMARY KEY (band, article_id)) WITHOUT ROWID;"
            )
            convert: Callable[[str], object] = (
                (lambda key: key) if band_type == "TEXT" else (lambda key: int(key, 16) - 2**63)
            )
            with connection:
                connection.executemany(
                    "INSERT INTO article_signatures VALUES (?, ?)",
                    [(n, s.to_bytes()) for n, s in rows],
                )
                connection.executemany(
                    "INSERT OR IGNORE INTO article_bands VALUES (?, ?)",
                    [(convert(k), n) for n, s in rows for k in neardup.band_keys(s)],
                )
            connection.execute("VACUUM")
            sizes = (
                dict(
                    connection.execute(
                        "SELECT name, sum(pgsize) FROM dbstat GROUP BY name"
                    ).fetchall()
                )
                if has_dbstat(connection)
                else {}
            )
            query = CANDIDATES_SQL
            started = time.perf_counter()
            for n, sig in rows:
                keys = [convert(k) for k in neardup.band_keys(sig)]
                for other, blob in connection.execute(query, keys):
                    if other != n:
                        neardup.is_near_duplicate(sig, neardup.Signature.from_bytes(blob))
            lookup_s = time.perf_counter() - started
            connection.close()
            total = path.stat().st_size
            detail = (
                f" (signatures {sizes.get('article_signatures', 0) / len(rows):.0f}, "
                f"band keys {sizes.get('article_bands', 0) / len(rows):.0f})"
                if sizes
                else ""
            )
            print(
                f"SQLite, band {band_type}: {total / len(rows):.0f} bytes per article{detail} "
                f"for {len(rows)} articles ({neardup.SIGNATURE_BYTES}-byte signature blob, "
                f"{neardup.BANDS} band rows); lookup + verify: {len(rows) / lookup_s:.0f} "
                f"articles/s"
            )


def has_dbstat(connection: sqlite3.Connection) -> bool:
    try:
        connection.execute("SELECT 1 FROM dbstat LIMIT 1").fetchall()
    except sqlite3.Error:
        return False
    return True


def shingle_report(
    sizes: Sequence[int],
    originals: Sequence[Item],
    queries: Sequence[tuple[str, int, str]],
    pair_scores: dict[str, list[tuple[float, int, int]]],
) -> None:
    """Exact Jaccard (no MinHash, no LSH) per word shingle size: recall and the negatives."""
    kinds = [kind for kind in KINDS if kind != "thin"]
    print(f"\n## Word shingle size (exact Jaccard >= {neardup.NEAR_DUPLICATE}, no MinHash)\n")
    print(
        "| words per shingle | "
        + " | ".join(kinds)
        + " | same_feed max J | same_topic max J | same_topic p99 |"
    )
    print("| ---: | " + " | ".join("---:" for _ in kinds) + " | ---: | ---: | ---: |")
    for size in sizes:
        sets = [neardup.shingles(item.text, word_size=size) for item in originals]
        hits: dict[str, list[bool]] = defaultdict(list)
        for kind, article, text in queries:
            if kind in kinds:
                value = jaccard(neardup.shingles(text, word_size=size), sets[article])
                hits[kind].append(value >= neardup.NEAR_DUPLICATE)
        negatives = {
            name: [jaccard(sets[a], sets[b]) for _, a, b in scores]
            for name, scores in pair_scores.items()
        }
        print(
            f"| {size} | "
            + " | ".join(percent(sum(hits[k]), len(hits[k])) for k in kinds)
            + f" | {max(negatives['same_feed'], default=0):.2f}"
            + f" | {max(negatives['same_topic'], default=0):.2f}"
            + f" | {quantile(negatives['same_topic'], 0.99):.2f} |"
        )


if __name__ == "__main__":
    sys.exit(main())
