"""`feedd import applet` run as a subprocess against a real HTTP server on
127.0.0.1 (short links, article pages, the publisher's feed) and a real
SQLite file: the seed story, a partial date completed later by a feed, and a
synthetic archive of 1,000 blocks with damaged ones."""

from __future__ import annotations

import os
import random
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from conftest import write_config

from feedd import applet

FEEDD = str(Path(sys.executable).parent / "feedd")
SEED = Path(__file__).parents[1] / "data" / "applet" / "000_288665181018c694.txt"
ARTICLE_PATH = "/news/544592-russia-us-security-talks/"
SHORT_LINKS = '[links]\nshorteners = ["127.0.0.1"]'


def feedd(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FEEDD, *args], capture_output=True, text=True, timeout=timeout, check=False,
        env={**os.environ},
    )  # fmt: skip


def rt_page(canonical: str, published: str | None) -> str:
    meta = f'<meta property="article:published_time" content="{published}">' if published else ""
    return (
        f'<html><head><link rel="canonical" href="{canonical}">'
        f'<meta property="og:url" content="{canonical}">{meta}'
        "<title>Security talks</title></head><body><p>The article.</p></body></html>"
    )


def seed_story() -> applet.Story:
    [story] = applet.parse_archive(applet.decode(SEED.read_bytes()))
    assert isinstance(story, applet.Story)
    return story


def rt_feed(link: str, story: applet.Story, *, full: bool, extra: str = "") -> str:
    """RT's RSS shape: the lead as description, the story in content:encoded."""
    body = "".join(f"<p>{p}</p>" for p in story.paragraphs) + (f"<p>{extra}</p>" if extra else "")
    content = f"<content:encoded><![CDATA[{body}]]></content:encoded>" if full else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        "<channel><title>RT - Daily news</title><link>https://www.rt.com</link>"
        f"<item><title>{story.title.replace('&', '&amp;')}</title><link>{link}</link>"
        f"<guid>{link}</guid><pubDate>Tue, 28 Dec 2021 11:46:05 GMT</pubDate>"
        f"<description>{story.lead}</description>{content}</item></channel></rss>"
    )


def serve_seed(server, tmp_path: Path, published: str | None) -> tuple[Path, str]:
    """The seed with its short link pointing at the server: 301 -> the article page."""
    page = server.url(ARTICLE_PATH)
    server.add(ARTICLE_PATH, rt_page(page, published), content_type="text/html; charset=utf-8")
    server.add("/33QReyT", b"", status=301, location=page, content_type=None)
    archive = tmp_path / "archive"
    archive.mkdir()
    copy = archive / SEED.name
    copy.write_bytes(SEED.read_bytes().replace(b"https://ift.tt/", server.url("/").encode()))
    return archive, page


def rows(db: Path, sql: str, *args: object) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, args).fetchall()


def test_the_seed_story_then_its_publishers_feed(server, tmp_path):
    archive, page = serve_seed(server, tmp_path, "2021-12-28T11:46:05+00:00")
    story = seed_story()
    feed_url = server.url("/rt.xml")
    extra = "The talks will be held in Geneva, officials said later."
    server.add("/rt.xml", rt_feed(page, story, full=True, extra=extra))
    config = write_config(tmp_path, [feed_url], SHORT_LINKS)
    db = tmp_path / "feedd.db"

    dry = feedd("import", "applet", str(archive), "-c", str(config), "--timezone", "Europe/Moscow",
                "--dry-run")  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    assert f"would insert: {story.title}" in dry.stdout
    assert f"url    {page}" in dry.stdout and "date   2021-12-28T11:46:00Z" in dry.stdout
    assert rows(db, "SELECT count(*) FROM articles") == [(0,)]
    assert rows(db, "SELECT count(*) FROM feeds WHERE imported = 1") == [(0,)]

    done = feedd("import", "applet", str(archive), "-c", str(config), "--timezone", "Europe/Moscow")
    assert done.returncode == 0, done.stderr
    assert "stored 1 new" in done.stdout
    [(url, title, summary, text, published, flag, raw)] = rows(
        db, "SELECT url, title, summary, content_text, published_at, date_flag, published_raw "
        "FROM articles",
    )  # fmt: skip
    assert url == page  # where the short link led, by the page's canonical link
    assert title == story.title and summary == story.lead
    assert text == "\n".join(story.paragraphs)
    for debris in ("36.2 C", "Read more", "FILE PHOTO", "true mission", "from RT", "Most Popular"):
        assert debris not in text
    # 14:46 in Moscow (UTC+3), the month taken from the page's article:published_time
    assert (published, flag, raw) == ("2021-12-28T11:46:00Z", None, "28, 2021 at 02:46PM")
    [(name, imported, enabled, state)] = rows(
        db, "SELECT f.name, f.imported, f.enabled, f.state FROM feeds f "
        "JOIN article_feeds af ON af.feed_id = f.id"
    )  # fmt: skip
    assert (name, imported, enabled, state) == ("RT \u2013 Daily news", 1, 0, "imported")
    [(outcome, resolved)] = rows(db, "SELECT outcome, resolved_url FROM links")
    assert (outcome, resolved) == ("ok", page)

    # The publisher's feed brings the fuller copy: still one article, the feed's text.
    fetched = feedd("fetch", "-c", str(config))
    assert fetched.returncode == 0, fetched.stderr + fetched.stdout
    [(count,)] = rows(db, "SELECT count(*) FROM articles")
    assert count == 1
    [(text, published, flag)] = rows(
        db, "SELECT content_text, published_at, date_flag FROM articles"
    )
    assert text == "\n".join([*story.paragraphs, extra])
    assert (published, flag) == ("2021-12-28T11:46:05Z", None)
    assert rows(db, "SELECT count(*) FROM article_feeds") == [(2,)]

    # Importing again changes nothing (and follows no link: the cache has it).
    requests = len(server.requests)
    again = feedd(
        "import", "applet", str(archive), "-c", str(config), "--timezone", "Europe/Moscow"
    )
    assert again.returncode == 0, again.stderr
    assert "stored 0 new" in again.stdout and "1 unchanged" in again.stdout
    assert rows(db, "SELECT count(*) FROM articles") == [(1,)]
    assert rows(db, "SELECT content_text FROM articles") == [(text,)]
    assert len(server.requests) == requests


def test_a_partial_date_yields_to_a_shorter_copy_with_a_full_date(server, tmp_path):
    """No date on the page: stored partial (never guessed); then the feed's copy,
    only the lead (shorter than the stored text), completes it."""
    archive, page = serve_seed(server, tmp_path, None)
    story = seed_story()
    server.add("/rt.xml", rt_feed(page, story, full=False))
    config = write_config(tmp_path, [server.url("/rt.xml")], SHORT_LINKS)
    db = tmp_path / "feedd.db"
    done = feedd("import", "applet", str(archive), "-c", str(config), "--timezone", "Europe/Moscow")
    assert done.returncode == 0, done.stderr
    assert "1 with a partial date" in done.stdout
    assert rows(db, "SELECT published_at, date_flag FROM articles") == [(None, "partial")]
    assert feedd("fetch", "-c", str(config)).returncode == 0
    [(published, flag, text)] = rows(
        db, "SELECT published_at, date_flag, content_text FROM articles"
    )
    assert (published, flag) == ("2021-12-28T11:46:05Z", None)
    assert text == "\n".join(story.paragraphs)  # the fuller, imported text stays


def test_the_article_joins_a_configured_feed_with_the_sources_name(server, tmp_path):
    archive, _ = serve_seed(server, tmp_path, None)
    server.add("/rt.xml", rt_feed(server.url(ARTICLE_PATH), seed_story(), full=False))
    config = write_config(
        tmp_path, [server.url("/rt.xml")], SHORT_LINKS, name='"RT \u2013 Daily news"'
    )
    done = feedd("import", "applet", str(archive), "-c", str(config), "--timezone", "UTC")
    assert done.returncode == 0, done.stderr
    db = tmp_path / "feedd.db"
    assert rows(db, "SELECT f.url FROM feeds f JOIN article_feeds af ON af.feed_id = f.id") == [
        (server.url("/rt.xml"),)
    ]
    assert rows(db, "SELECT count(*) FROM feeds WHERE imported = 1") == [(0,)]


def test_a_bad_timezone_is_a_usage_error(tmp_path):
    config = write_config(tmp_path, [])
    result = feedd("import", "applet", str(SEED), "-c", str(config), "--timezone", "Mars/Base")
    assert result.returncode == 2
    assert "no such zone" in result.stderr


# -- a synthetic archive of 1,000 blocks

WORDS = (
    "council minister talks security border agreement report officials week proposal government "
    "capital meeting statement treaty troops region economy election parliament vote budget "
    "energy market prices court ruling investigation police protest city river storm season "
    "farmers harvest schools teachers hospital doctors patients research study"
)
WORD_LIST = WORDS.split()
SOURCES = ("RT \u2013 Daily news", "Example Wire", "The Daily Sample", "Local Post", "Tech Notes")


def synthetic_block(rng: random.Random, n: int, short: str, damage: str | None) -> str:
    def sentence(words: int) -> str:
        return " ".join(rng.choice(WORD_LIST) for _ in range(words)).capitalize() + "."

    title = f"Story {n}: " + " ".join(rng.choice(WORD_LIST) for _ in range(6))
    paragraphs = [sentence(18)] + [
        " ".join(sentence(rng.randint(12, 25)) for _ in range(3)) for _ in range(rng.randint(2, 5))
    ]
    if n % 7 == 0:  # an in-article box, as the applet scraped it
        paragraphs.insert(2, "Read more")
        paragraphs.insert(3, "FILE PHOTO. \u00a9 Reuters / Someone\nA related headline here")
    day, hour, minute = 1 + n % 28, 1 + n % 12, n % 60
    date = f"{day}, {2020 + n % 3} at {hour:02d}:{minute:02d}{'AM' if n % 2 else 'PM'}"
    if damage == "date":
        date = f"{day + 40}, 2021 at 02:46PM"
    lines = ["36.2 C", "Monday, April 22, 2024", "", title, ""]
    for paragraph in paragraphs:
        lines += [paragraph, ""]
    if damage != "trailer":
        lines += [f"{short} {date}", f"from {SOURCES[n % len(SOURCES)]}"]
    lines += ["", "Most Popular Articles"]  # no newline: the next block is glued on
    return "\n".join(lines)


def test_a_synthetic_archive_of_1000_blocks(server, tmp_path):
    rng = random.Random(20)  # noqa: S311 (test text, not secrets)
    archive = tmp_path / "archive"
    (archive / "2021").mkdir(parents=True)
    expected_damaged: set[str] = set()
    good = 0
    files: dict[Path, list[tuple[str, str, str | None]]] = {}
    for n in range(1000):
        damage = "trailer" if n % 97 == 13 else "date" if n % 89 == 40 else None
        target = server.url(f"/a/{n}")
        short = server.url(f"/s/{n}")
        server.add(f"/s/{n}", b"", status=301, location=target, content_type=None)
        server.add(f"/a/{n}", rt_page(target, None), content_type="text/html")
        path = archive / ("2021" if n % 2 else "") / f"{n % 10:03d}_applet.txt"
        files.setdefault(path, []).append((synthetic_block(rng, n, short, damage), short, damage))
        if damage is None:
            good += 1
    for path, blocks in files.items():
        text = ""
        for block, short, damage in blocks:
            start = text.count("\n") + 1  # glued: the line the last block's debris is on
            if damage == "trailer":
                expected_damaged.add(f"{path}:{start}")
            elif damage == "date":
                trailer = start + block[: block.index(f"{short} ")].count("\n")
                expected_damaged.add(f"{path}:{trailer}")
            text += block
        path.write_text(text, encoding="utf-8")
    (archive / "notes.md").write_text("not an archive: not a .txt file")
    # 1,000 links on one host: more at once than the polite default, which
    # this test is not about.
    config = write_config(tmp_path, [], SHORT_LINKS + "\nper_host = 16\nconcurrency = 32")
    db = tmp_path / "feedd.db"

    started = time.monotonic()
    first = feedd("import", "applet", str(archive), "-c", str(config), "--timezone", "UTC",
                  timeout=600)  # fmt: skip
    took = time.monotonic() - started
    assert first.returncode == 1, first.stderr  # some blocks were damaged
    reported = set(re.findall(r"^(\S+:\d+): skipped: ", first.stderr, re.MULTILINE))
    assert reported == expected_damaged
    assert len(reported) == 1000 - good
    assert f"stored {good} new" in first.stdout
    assert rows(db, "SELECT count(*) FROM articles") == [(good,)]
    assert rows(db, "SELECT count(*) FROM feeds WHERE imported = 1") == [(len(SOURCES),)]
    # No page said its date: every one is partial, none guessed.
    assert rows(db, "SELECT count(*) FROM articles WHERE published_at IS NULL "
                "AND date_flag = 'partial'") == [(good,)]  # fmt: skip
    debris = (
        "SELECT count(*) FROM articles WHERE content_text LIKE '%related headline%' "
        "OR content_text LIKE '%Most Popular%' OR content_text LIKE '%36.2 C%'"
    )
    assert rows(db, debris) == [(0,)]
    assert rows(db, "SELECT count(*) FROM articles WHERE url LIKE '%/a/%'") == [(good,)]

    second = feedd("import", "applet", str(archive), "-c", str(config), "--timezone", "UTC",
                   timeout=600)  # fmt: skip
    assert "stored 0 new" in second.stdout and f"{good} unchanged" in second.stdout
    assert rows(db, "SELECT count(*) FROM articles") == [(good,)]
    # The figures, for whoever runs it with -s.
    sys.stdout.write(f"\n1,000 blocks: {first.stdout.strip()} (wall {took:.1f} s)\n")
