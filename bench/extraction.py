"""Article extraction (feedd/extract.py) on scrapinghub's article-extraction benchmark.

    python bench/extraction.py [--corpus PATH] [--pages N] [--worst N] [--json PATH]

The pages are the 181 of ``article-extraction/`` in the shared corpus
(--corpus, else $FEEDD_CORPUS, else ../shared/corpus): ``html/<key>.html.gz``
and ``ground-truth.json`` (each key's ``url`` and hand-annotated
``articleBody``). Without them the script says so and exits 2.

Extractors, each given the page's bytes and URL:

- ``feedd``: ``extract.extract``, feedd's whole path: trafilatura, then
  feedd's sanitizer and boilerplate rules (normalize.clean_fragment); its
  ``text`` is scored.
- ``trafilatura``: the library alone, ``trafilatura.extract`` as plain text with
  the options feedd gives it (comments left out, tables kept).
- ``feedd without its boilerplate rules``: feedd's path with only the sanitizer
  and the text (what the boilerplate rules alone change is the difference).
- ``readability-lxml``: the alternative alone, ``Document(...).summary()``'s text
  (lxml ``text_content``); and ``readability-lxml + feedd``: its summary through
  feedd's cleaning, as extract.py would use it in trafilatura's place.
  Skipped when readability-lxml is not installed (``pip install -e .[dev]``).

Scoring, re-implemented from the benchmark's description (its evaluate.py):
each text is split into word tokens with the Unicode regular expression
``\\w+`` and turned into the multiset of its 4-token shingles (consecutive
runs of four tokens; a text of one to three tokens is one shorter shingle).
Per page, true positives are the shingles both multisets share (the smaller
count of each), false positives the extracted ones beyond the annotation's
count, false negatives the annotated ones beyond the extracted count.
Precision = TP / (TP + FP) and recall = TP / (TP + FN) per page (0 when
their denominator is 0 while the other side has shingles); pages with no
shingle on either side are left out; precision and recall are averaged over
the pages, and F1 is computed from the two averages.

Speed and memory: each extractor runs in a fresh process of its own (spawned:
no state shared with the others), its pages one after the other;
milliseconds per page are the median and mean of the wall time of each call,
peak memory is the process's peak resident set size (``ru_maxrss``) and how
much of it the extraction added over the process after its imports and a
first page (libxml2 allocates outside Python's allocator, so tracemalloc
would miss most of it).

Hostile pages: synthetic pages of ``extract.MAX_PAGE_BYTES`` (a flat run of
paragraphs, deeply nested ``<div>``s, one huge text node, a list of links,
bytes that are no HTML) and the largest trees extract accepts
(``extract.MAX_ELEMENTS``), through feedd's path: time and the peak RSS each
adds, in a fresh process each.

Prints Markdown tables; ``--json PATH`` writes the figures; ``--worst N``
lists the N pages where feedd's cleaning loses most F1 against trafilatura
alone (to find which rule strips annotated text).
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing
import os
import re
import resource
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_CORPUS = Path(os.environ.get("FEEDD_CORPUS", ROOT.parent / "shared" / "corpus"))
TOKEN = re.compile(r"\w+")
SHINGLE = 4
# The benchmark's README (trafilatura 2.0.0, readability.js, readability-lxml...).
PUBLISHED = {
    "trafilatura 2.0.0": (0.958, 0.938, 0.978),
    "readability.js": (0.947, None, None),
    "newspaper4k": (0.949, None, None),
    "readability-lxml": (0.922, None, None),
    "goose3": (0.896, None, None),
    "justext": (0.804, None, None),
}
BAR_F1 = 0.95
BAR_LOSS = 0.01


# -- scoring


def shingles(text: str | None) -> Counter[tuple[str, ...]]:
    tokens = TOKEN.findall(text or "")
    if not tokens:
        return Counter()
    if len(tokens) < SHINGLE:
        return Counter([tuple(tokens)])
    return Counter(tuple(tokens[i : i + SHINGLE]) for i in range(len(tokens) - SHINGLE + 1))


def counts(extracted: str | None, annotated: str | None) -> tuple[int, int, int]:
    """(TP, FP, FN) of one page over the shingle multisets."""
    got, want = shingles(extracted), shingles(annotated)
    tp = sum((got & want).values())
    return tp, sum((got - want).values()), sum((want - got).values())


def page_scores(tp: int, fp: int, fn: int) -> tuple[float, float] | None:
    """(precision, recall) of one page; None when neither side has a shingle."""
    if tp + fp + fn == 0:
        return None
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return precision, recall


def f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def score(pairs: Sequence[tuple[str | None, str | None]]) -> tuple[float, float, float]:
    """(F1, precision, recall) over pages: the averages, then F1 of the averages."""
    scored = [s for s in (page_scores(*counts(got, want)) for got, want in pairs) if s]
    if not scored:
        return 0.0, 0.0, 0.0
    precision = statistics.fmean(p for p, _ in scored)
    recall = statistics.fmean(r for _, r in scored)
    return f1(precision, recall), precision, recall


def page_f1(extracted: str | None, annotated: str | None) -> float:
    scores = page_scores(*counts(extracted, annotated))
    return f1(*scores) if scores else 1.0


# -- the extractors (each run in a process of its own)


def feedd_text(page: bytes, url: str) -> str | None:
    from feedd.extract import extract

    return extract(page, url).text


def feedd_sanitizer_only_text(page: bytes, url: str) -> str | None:
    """feedd's path without its boilerplate rules: what they alone change."""
    import feedd.extract
    from feedd.normalize import html_to_text, sanitize_html

    def sanitized(fragment: str | None, base_url: str | None = None, **_: object) -> tuple:
        html = sanitize_html(fragment, base_url)
        return html, html_to_text(html, sanitized=True), ()

    feedd.extract.clean_fragment = sanitized  # type: ignore[assignment]  # this process only
    return feedd.extract.extract(page, url).text


def trafilatura_text(page: bytes, url: str) -> str | None:
    import trafilatura

    return trafilatura.extract(page, url=url, include_comments=False, include_tables=True)


def readability_text(page: bytes, url: str) -> str | None:
    from lxml import html
    from readability import Document

    summary = Document(page, url=url).summary(html_partial=True)
    return html.fromstring(summary).text_content() if summary.strip() else None


def readability_feedd_text(page: bytes, url: str) -> str | None:
    from readability import Document

    from feedd.normalize import clean_fragment

    summary = Document(page, url=url).summary(html_partial=True)
    return clean_fragment(summary, url)[1]


EXTRACTORS: dict[str, Callable[[bytes, str], str | None]] = {
    "feedd (trafilatura + feedd's cleaning)": feedd_text,
    "trafilatura alone": trafilatura_text,
    "feedd without its boilerplate rules": feedd_sanitizer_only_text,
    "readability-lxml alone": readability_text,
    "readability-lxml + feedd's cleaning": readability_feedd_text,
}
NEEDS = {
    "readability-lxml alone": "readability",
    "readability-lxml + feedd's cleaning": "readability",
}


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


@dataclass
class Run:
    name: str
    texts: list[str | None]
    ms: list[float]
    peak_rss_mb: float
    added_rss_mb: float


def run_extractor(name: str, pages: list[tuple[bytes, str]]) -> Run:
    import logging
    import warnings

    logging.disable(logging.CRITICAL)  # trafilatura logs every page it discards
    warnings.simplefilter("ignore")
    function = EXTRACTORS[name]
    function(*pages[0])  # imports, caches
    base = rss_mb()
    texts, ms = [], []
    for page, url in pages:
        started = time.perf_counter()
        texts.append(function(page, url))
        ms.append((time.perf_counter() - started) * 1000)
    peak = rss_mb()
    return Run(name, texts, ms, peak, peak - base)


def in_own_process(function: Callable[..., object], *args: object) -> object:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(function, *args).result()


# -- hostile pages


def hostile_page(name: str) -> bytes:
    """One synthetic page of ``HOSTILE``, made only in the process that measures it."""
    from feedd.extract import MAX_ELEMENTS, MAX_PAGE_BYTES

    size = MAX_PAGE_BYTES

    def fill(head: bytes, unit: bytes, tail: bytes = b"") -> bytes:
        return head + unit * ((size - len(head) - len(tail)) // len(unit)) + tail

    pages: dict[str, Callable[[], bytes]] = {
        "paragraphs (4 MiB of <p>)": lambda: fill(b"<html><body>", b"<p>word word word.</p>"),
        "nested <div>s": lambda: fill(b"<html><body>", b"<div>x"),
        "one text node": lambda: fill(b"<html><body><p>", b"lorem ipsum ", b"</p>"),
        "links": lambda: fill(b"<html><body><ul>", b'<li><a href="/x">a link</a></li>'),
        "table cells": lambda: fill(b"<html><body><table><tr>", b"<td>cell text</td>"),
        # The largest trees extract takes (the others are refused): its worst time.
        "MAX_ELEMENTS of <div><p>": lambda: (
            b"<html><body>"
            + b"<div><p>Some words here, a sentence.</p></div>" * (MAX_ELEMENTS // 2 - 3)
        ),
        "MAX_ELEMENTS of <li><a>": lambda: (
            b"<html><body><ul>" + b'<li><a href="/x">a link</a></li>' * (MAX_ELEMENTS // 2 - 4)
        ),
        "not HTML (binary)": lambda: bytes(range(256)) * (size // 256),
    }
    return pages[name]()


HOSTILE = (
    "paragraphs (4 MiB of <p>)",
    "nested <div>s",
    "one text node",
    "links",
    "table cells",
    "MAX_ELEMENTS of <div><p>",
    "MAX_ELEMENTS of <li><a>",
    "not HTML (binary)",
)


def run_hostile(name: str) -> dict[str, float | int]:
    import logging

    from feedd.extract import extract

    logging.disable(logging.CRITICAL)
    extract(b"<html><body><p>warm up</p></body></html>", "https://example.org/")
    page = hostile_page(name)
    base = rss_mb()
    started = time.perf_counter()
    extracted = extract(page, "https://example.org/")
    ms = (time.perf_counter() - started) * 1000
    return {
        "ms": round(ms, 1),
        "peak_rss_mb": round(rss_mb(), 1),
        "added_rss_mb": round(rss_mb() - base, 1),
        "words": extracted.word_count,
    }


# -- report


def table(rows: list[list[str]], header: list[str]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--pages", type=int, default=0, help="only the first N pages")
    parser.add_argument("--worst", type=int, default=10, help="pages where feedd loses most")
    parser.add_argument("--no-hostile", action="store_true", help="skip the hostile pages")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)

    folder = args.corpus / "article-extraction"
    truth_file = folder / "ground-truth.json"
    if not truth_file.is_file():
        print(f"no article-extraction corpus at {folder}: nothing to measure (--corpus PATH)")
        return 2
    truth = json.loads(truth_file.read_text())
    keys = sorted(truth)[: args.pages or None]
    pages = [
        (gzip.decompress((folder / "html" / f"{key}.html.gz").read_bytes()), truth[key]["url"])
        for key in keys
    ]
    annotated = [truth[key].get("articleBody") or "" for key in keys]

    runs: dict[str, Run] = {}
    for name in EXTRACTORS:
        module = NEEDS.get(name)
        if module:
            try:
                __import__(module)
            except ImportError:
                print(f"{name}: skipped ({module} is not installed)", file=sys.stderr)
                continue
        print(f"{name}: {len(pages)} pages...", file=sys.stderr)
        run = in_own_process(run_extractor, name, pages)
        assert isinstance(run, Run)
        runs[name] = run

    results = {}
    rows = []
    for name, run in runs.items():
        f, p, r = score(list(zip(run.texts, annotated, strict=True)))
        results[name] = {
            "f1": round(f, 4),
            "precision": round(p, 4),
            "recall": round(r, 4),
            "ms_median": round(statistics.median(run.ms), 1),
            "ms_mean": round(statistics.fmean(run.ms), 1),
            "peak_rss_mb": round(run.peak_rss_mb, 1),
            "added_rss_mb": round(run.added_rss_mb, 1),
        }
        each = results[name]
        rows.append(
            [
                name,
                f"{f:.3f}",
                f"{p:.3f}",
                f"{r:.3f}",
                f"{each['ms_median']:.0f} / {each['ms_mean']:.0f}",
                f"{each['peak_rss_mb']:.0f} (+{each['added_rss_mb']:.0f})",
            ]
        )
    for name, (f, p, r) in PUBLISHED.items():
        rows.append(
            [
                f"published: {name}",
                f"{f:.3f}",
                f"{p:.3f}" if p else "",
                f"{r:.3f}" if r else "",
                "",
                "",
            ]
        )
    print(f"\n## {len(pages)} pages\n")
    header = ["extractor", "F1", "precision", "recall", "ms/page median / mean", "peak RSS MB (+)"]
    print(table(rows, header))

    feedd_name, library_name = list(EXTRACTORS)[:2]
    verdict: dict[str, object] = {}
    if feedd_name in results and library_name in results:
        ours, alone = results[feedd_name]["f1"], results[library_name]["f1"]
        loss = round(alone - ours, 4)
        verdict = {
            "f1": ours,
            "loss_to_cleaning": loss,
            "bar_f1": BAR_F1,
            "bar_loss": BAR_LOSS,
            "ok": ours >= BAR_F1 and loss <= BAR_LOSS,
        }
        print(
            f"\nfeedd: F1 {ours:.3f} (bar {BAR_F1}), {loss:+.3f} lost to its cleaning "
            f"(bar {BAR_LOSS}): {'ok' if verdict['ok'] else 'BELOW THE BAR'}"
        )
        worst = sorted(
            (
                page_f1(runs[library_name].texts[i], annotated[i])
                - page_f1(runs[feedd_name].texts[i], annotated[i]),
                keys[i],
            )
            for i in range(len(keys))
        )[::-1][: args.worst]
        worst = [(loss, key) for loss, key in worst if loss > 0]
        if worst:
            print(f"\nPages where feedd's path loses most against {library_name} (page F1):\n")
            print(
                table(
                    [[key[:12], truth[key]["url"][:70], f"{loss:.3f}"] for loss, key in worst],
                    ["page", "url", "F1 lost"],
                )
            )
        verdict["worst"] = [{"page": key, "f1_lost": round(loss, 4)} for loss, key in worst]

    hostile: dict[str, object] = {}
    if not args.no_hostile:
        for name in HOSTILE:
            hostile[name] = in_own_process(run_hostile, name)
        print("\n## Hostile pages, feedd's path\n")
        print(
            table(
                [
                    [
                        name,
                        f"{h['ms']:.0f}",
                        f"{h['peak_rss_mb']:.0f} (+{h['added_rss_mb']:.0f})",
                        str(h["words"]),
                    ]
                    for name, h in hostile.items()
                    if isinstance(h, dict)
                ],
                ["page", "ms", "peak RSS MB (+)", "words extracted"],
            )
        )

    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "pages": len(pages),
                    "results": results,
                    "published": {
                        k: dict(zip(("f1", "precision", "recall"), v, strict=True))
                        for k, v in PUBLISHED.items()
                    },
                    "verdict": verdict,
                    "hostile": hostile,
                    "runs": {name: asdict(run) | {"texts": None} for name, run in runs.items()},
                },
                indent=2,
            )
        )
    return 0 if not verdict or verdict.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
