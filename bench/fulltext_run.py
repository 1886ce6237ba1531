"""Article pages through the whole pipeline: a teaser feed whose items' pages are
the article-extraction benchmark's 181 real pages.

    python bench/fulltext_run.py [--corpus PATH] [--pages N] [--workers N] [--resolve MODE]

A local FeedServer (tests/feedserver.py) on 127.0.0.1 serves each page at its
own path and one RSS feed whose items are RT-shaped teasers (the article's
first 30 annotated words and a "Read Full Article" link). ``feedd fetch``
(the real command, as a subprocess, process start included) polls the feed
with ``[fulltext] mode = "auto"``: the articles are stored with the teaser,
then the pages are fetched, extracted (in ``--workers`` worker processes; 0:
on feedd's page thread) and stored.

Prints: the wall time of the command, its CPU time (children included), pages
stored / not fuller / failed, pages per second, and the F1 of the stored
``content_text`` against the annotation with bench/extraction.py's scoring:
the same figure as extraction.py's "feedd" row, but through the queue, the
worker, the store and the text rule (the teaser kept where the page gives
fewer words). With ``--resolve all`` the items link to a redirect in front of
each page, so link resolution fetches the page and the reader takes it from
there: the number of GETs of each page is checked to be one.

Needs the corpus (``article-extraction/``; --corpus, $FEEDD_CORPUS or
../shared/corpus): without it, says so and exits 2.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from html import escape
from pathlib import Path

sys.dont_write_bytecode = True
ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "bench")]

from extraction import score  # noqa: E402
from feedserver import FeedServer  # noqa: E402

DEFAULT_CORPUS = Path(os.environ.get("FEEDD_CORPUS", ROOT.parent / "shared" / "corpus"))
FEEDD = str(Path(sys.executable).parent / "feedd")


def teaser(text: str, link: str) -> str:
    first = " ".join(text.split()[:30])
    return f'<p>{escape(first)}</p><p><a href="{escape(link)}">Read Full Article</a></p>'


def feed(items: list[tuple[str, str, str]]) -> bytes:
    parts = ['<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>']
    parts.append("<title>Teasers</title><link>https://news.example/</link>")
    for guid, link, description in items:
        parts.append(
            f"<item><guid>{guid}</guid><title>{guid}</title><link>{escape(link)}</link>"
            f"<description>{escape(description)}</description></item>"
        )
    parts.append("</channel></rss>")
    return "".join(parts).encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--pages", type=int, default=0, help="only the first N pages")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--resolve", choices=("off", "all"), default="off")
    args = parser.parse_args()
    folder = args.corpus / "article-extraction"
    if not (folder / "ground-truth.json").is_file():
        print(f"no article-extraction benchmark in {args.corpus}; set FEEDD_CORPUS")
        return 2
    truth = json.loads((folder / "ground-truth.json").read_text())
    keys = sorted(truth)[: args.pages or None]
    server = FeedServer()
    items = []
    annotated: dict[str, str] = {}
    for key in keys:
        body = gzip.decompress((folder / "html" / f"{key}.html.gz").read_bytes())
        page = server.add(f"/a/{key}", body, content_type="text/html; charset=utf-8")
        link = page
        if args.resolve == "all":
            link = server.add(f"/r/{key}", status=301, location=page)
        items.append((key, link, teaser(truth[key]["articleBody"], link)))
        annotated[key] = truth[key]["articleBody"]
    url = server.add("/teasers.xml", feed(items), content_type="application/rss+xml")
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "feedd.toml"
        config.write_text(
            f'database = "feedd.db"\n[fetch]\nallow_private_networks = true\n'
            f"workers = {args.workers}\n"
            f'[links]\nresolve = "{args.resolve}"\n'
            f'[fulltext]\nmode = "auto"\nconcurrency = 8\nper_host = 8\ntimeout = "10m"\n'
            f'[[feeds]]\nurl = "{url}"\n'
        )
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run([FEEDD, "fetch", "-c", str(config)], capture_output=True, text=True)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        peak = after.ru_maxrss / 1024
        if done.returncode != 0:
            print(done.stdout, done.stderr)
            return 1
        with sqlite3.connect(Path(tmp) / "feedd.db") as conn:
            rows = conn.execute(
                "SELECT f.guid, a.content_text, a.content_source, p.state FROM articles a "
                "JOIN article_feeds f ON f.article_id = a.id "
                "LEFT JOIN pages p ON p.article_id = a.id"
            ).fetchall()
    server.close()
    states: dict[str, int] = {}
    for _, _, _, state in rows:
        states[str(state)] = states.get(str(state), 0) + 1
    f1, precision, recall = score([(text, annotated[guid]) for guid, text, _, _ in rows])
    gets = [server.methods_for(f"/a/{key}").count("GET") for key in keys]
    print(f"pages: {len(keys)}, workers: {args.workers}, resolve: {args.resolve}")
    print(f"feedd fetch: {wall:.2f} s wall, {cpu:.2f} s CPU (children), peak RSS {peak:.0f} MB")
    per_page = 1000 * cpu / len(keys)
    print(f"pages per second: {len(keys) / wall:.1f}; CPU per page: {per_page:.0f} ms")
    print(f"page states: {states}")
    print(f"GETs per page: min {min(gets)}, max {max(gets)}")
    print(f"stored text vs annotation: precision {precision:.3f} recall {recall:.3f} F1 {f1:.3f}")
    print(done.stdout.strip().splitlines()[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
