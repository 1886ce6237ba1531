"""feedd opml import/export, feedd add and the config's `opml` key (the installed command)."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest
from conftest import DATA, write_config
from test_cli import feedd, rss

from feedd.config import load_config
from feedd.errors import ConfigError
from feedd.opml import parse_opml

OPML = DATA / "opml"

CONFIG = """\
# my feeds, hand-written
database = "feedd.db"   # next to this file

[fetch]
interval = "1h"
allow_private_networks = true
timeout = "10s"

[[feeds]]
url = "https://www.legit.ng/rss/all.rss"   # already here
name = "Legit"
tags = ["mine"]

[links]
resolve = "off"   # keep this comment
"""


@pytest.fixture
def config(tmp_path) -> Path:
    path = tmp_path / "feedd.toml"
    path.write_text(CONFIG)
    return path


# -- the config's opml key


def test_config_opml_key_adds_feeds_after_feeds_entries(tmp_path, config):
    shutil.copy(OPML / "Nigeria.opml", tmp_path / "nigeria.opml")
    shutil.copy(OPML / "Indonesia.opml", tmp_path / "indonesia.opml")
    config.write_text(
        CONFIG.replace("\n[fetch]", 'opml = ["nigeria.opml", "indonesia.opml"]\n\n[fetch]')
    )
    loaded = load_config(config)
    assert len(loaded.feeds) == 1 + 9 + 4
    first = loaded.feeds[0]
    assert (first.url, first.name, first.tags) == (
        "https://www.legit.ng/rss/all.rss",
        "Legit",
        ("mine",),
    )
    assert [feed.url for feed in loaded.feeds].count("https://www.legit.ng/rss/all.rss") == 1
    republika = next(feed for feed in loaded.feeds if "republika" in feed.url)
    assert republika.tags == ("Indonesia",)
    assert republika.name == "Republika Online RSS Feed"
    assert republika.interval == 3600
    assert republika.resolve == "off"
    assert republika.enabled
    assert loaded.warnings == ()


def test_config_opml_key_problems(tmp_path, config):
    (tmp_path / "skips.opml").write_text(
        '<opml><body><outline text="gopher" xmlUrl="gopher://e.org/"/>'
        '<outline text="ok" xmlUrl="https://e.org/feed"/></body></opml>'
    )
    (tmp_path / "page.opml").write_text("<html><body>not opml</body></html>")
    config.write_text(
        CONFIG.replace("\n[fetch]", 'opml = ["skips.opml", "missing.opml", "page.opml"]\n\n[fetch]')
    )
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert caught.value.problems == (
        f"opml[1]: cannot read {tmp_path / 'missing.opml'}: No such file or directory",
        f"opml[2]: {tmp_path / 'page.opml'}: not an OPML document (root element <html>)",
    )

    config.write_text(CONFIG.replace("\n[fetch]", 'opml = ["skips.opml"]\n\n[fetch]'))
    loaded = load_config(config)
    assert [feed.url for feed in loaded.feeds][-1] == "https://e.org/feed"
    assert loaded.warnings == (
        f"opml[0] ({tmp_path / 'skips.opml'}): line 1: skipped outline 'gopher': "
        "xmlUrl is not http(s): 'gopher://e.org/'",
    )

    config.write_text(CONFIG.replace("\n[fetch]", 'opml = "x.opml"\n\n[fetch]'))
    result = feedd("check", "-c", str(config))
    assert result.returncode == 2
    assert "opml: expected a list of file paths" in result.stderr


def test_same_feed_in_two_opml_files_gets_both_tags(tmp_path, config):
    for name, folder in (("a.opml", "Tech"), ("b.opml", "Fun")):
        (tmp_path / name).write_text(
            f'<opml><body><outline text="{folder}">'
            '<outline text="X" xmlUrl="https://x.example/feed"/></outline></body></opml>'
        )
    config.write_text(CONFIG.replace("\n[fetch]", 'opml = ["a.opml", "b.opml"]\n\n[fetch]'))
    feeds = load_config(config).feeds
    assert [(feed.url, feed.tags) for feed in feeds[1:]] == [
        ("https://x.example/feed", ("Tech", "Fun"))
    ]


# -- feedd opml import / export


def test_import_prints_feeds_entries(config):
    result = feedd("opml", "import", str(OPML / "Nigeria.opml"))
    assert result.returncode == 0, result.stderr
    data = tomllib.loads(result.stdout)
    assert len(data["feeds"]) == 10
    assert data["feeds"][0] == {
        "url": "http://saharareporters.com/feeds/latest/feed",
        "name": "All Content",
        "tags": ["Nigeria"],
    }
    assert "10 feeds imported, 0 already present, 0 outlines skipped" in result.stderr
    assert "note: 1 raw '&' escaped" in result.stderr

    # with a config, the feeds it has are left out; --tag adds a tag
    known = feedd("opml", "import", str(OPML / "Nigeria.opml"), "-c", str(config), "--tag", "ng")
    assert known.returncode == 0, known.stderr
    feeds = tomllib.loads(known.stdout)["feeds"]
    assert len(feeds) == 9
    assert all(feed["tags"] == ["Nigeria", "ng"] for feed in feeds)
    assert "9 feeds imported, 1 already present" in known.stderr
    assert config.read_text() == CONFIG


def test_import_append_keeps_comments_and_layout(config):
    result = feedd("opml", "import", str(OPML / "Nigeria.opml"), "-c", str(config), "--append")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert f"9 feeds appended to {config}, 1 already present" in result.stderr
    text = config.read_text()
    # what was there is there, byte for byte, in the same order
    head, tail = CONFIG.split("\n[links]")
    assert text.startswith(head)
    assert text.endswith("\n[links]" + tail)
    assert text.count("[[feeds]]") == 10
    assert "\n\n\n" not in text
    loaded = load_config(config)
    assert len(loaded.feeds) == 10
    assert loaded.links.resolve == "off"

    again = feedd("opml", "import", str(OPML / "Nigeria.opml"), "-c", str(config), "--append")
    assert again.returncode == 0, again.stderr
    assert "0 feeds appended" in again.stderr
    assert config.read_text() == text


def test_import_append_to_a_config_without_feeds(tmp_path):
    config = tmp_path / "feedd.toml"
    config.write_text('database = "x.db"\n[fetch]\ninterval = "1h"')
    result = feedd("opml", "import", str(OPML / "Indonesia.opml"), "-c", str(config), "--append")
    assert result.returncode == 0, result.stderr
    assert config.read_text().startswith('database = "x.db"\n[fetch]\ninterval = "1h"\n')
    assert len(load_config(config).feeds) == 4


def test_import_append_refuses_what_would_make_the_config_invalid(tmp_path):
    config = tmp_path / "feedd.toml"
    original = 'database = "x.db"\nfeeds = [{url = "https://a.example/feed"}]\n'
    config.write_text(original)
    result = feedd("opml", "import", str(OPML / "Indonesia.opml"), "-c", str(config), "--append")
    assert result.returncode == 2
    assert "not an array of tables" in result.stderr
    assert "left unchanged" in result.stderr
    assert config.read_text() == original

    # an invalid config is reported before anything is written
    config.write_text('database = "x.db"\ncolour = 1\n')
    bad = feedd("opml", "import", str(OPML / "Indonesia.opml"), "-c", str(config), "--append")
    assert bad.returncode == 2
    assert "colour: unknown key" in bad.stderr
    assert config.read_text() == 'database = "x.db"\ncolour = 1\n'


def test_import_usage_and_bad_files(tmp_path, config):
    no_config = feedd("opml", "import", str(OPML / "Nigeria.opml"), "--append")
    assert no_config.returncode == 2
    assert "--append needs the config file" in no_config.stderr
    missing = feedd("opml", "import", str(tmp_path / "none.opml"))
    assert missing.returncode == 1
    assert "cannot read" in missing.stderr
    page = tmp_path / "page.html"
    page.write_text("<html><body>hi</body></html>")
    not_opml = feedd("opml", "import", str(page))
    assert not_opml.returncode == 1
    assert "not an OPML document" in not_opml.stderr
    empty_tag = feedd("opml", "import", str(OPML / "Nigeria.opml"), "--tag", " ")
    assert empty_tag.returncode == 2


def test_import_reports_skipped_outlines(tmp_path):
    source = tmp_path / "mixed.opml"
    source.write_text(
        '<opml><body>\n<outline text="ok" xmlUrl="https://e.org/feed"/>\n'
        '<outline text="bad" xmlUrl="file:///etc/passwd"/>\n</body></opml>'
    )
    result = feedd("opml", "import", str(source))
    assert result.returncode == 0, result.stderr
    assert "line 3: skipped outline 'bad': xmlUrl is not http(s)" in result.stderr
    assert "1 feeds imported, 0 already present, 1 outlines skipped" in result.stderr


def test_export_then_import_gives_the_same_feeds(tmp_path, config):
    shutil.copy(OPML / "History.opml", tmp_path / "history.opml")
    config.write_text(
        CONFIG.replace("\n[fetch]", 'opml = ["history.opml"]\n\n[fetch]')
        + '\n[[feeds]]\nurl = "https://off.example/feed"\nenabled = false\ntags = ["a", "b/c"]\n'
    )
    exported = feedd("opml", "export", "-c", str(config))
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.startswith(
        '<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">'
    )
    document = parse_opml(exported.stdout.encode())
    feeds = load_config(config).feeds
    assert len(feeds) == 1 + 11 + 1
    expected = {(f.url, f.name, f.tags) for f in feeds}
    assert {(f.url, f.title, f.tags) for f in document.feeds} == expected
    assert document.skipped == ()
    assert document.repairs == ()

    # the export, imported into an empty config, gives the same feeds again
    fresh = tmp_path / "fresh.toml"
    fresh.write_text('database = "feedd.db"\n')
    (tmp_path / "export.opml").write_text(exported.stdout)
    appended = feedd("opml", "import", str(tmp_path / "export.opml"), "-c", str(fresh), "--append")
    assert appended.returncode == 0, appended.stderr
    assert {(f.url, f.name, f.tags) for f in load_config(fresh).feeds} == expected


# -- feedd add


def html(head: str = "") -> str:
    return f"<!doctype html><html><head><title>Site</title>{head}</head><body>hi</body></html>"


def test_add_a_feed_url_directly(server, tmp_path):
    config = write_config(tmp_path, [])
    url = server.add("/feed.rss", rss("Direct", [("a", "A")]), content_type="application/rss+xml")
    result = feedd("add", url, "-c", str(config), "--tag", "x", "--tag", "y")
    assert result.returncode == 0, result.stderr
    assert f"added {url} (Direct) to {config}" in result.stdout
    (feed,) = load_config(config).feeds
    assert (feed.url, feed.name, feed.tags) == (url, "Direct", ("x", "y"))

    # never twice: neither the feed nor, below, a page that leads to it
    again = feedd("add", url, "-c", str(config))
    assert again.returncode == 0
    assert "already in" in again.stdout
    page = server.add(
        "/page.html",
        html(f'<link rel="alternate" type="application/rss+xml" href="{url}">'),
        content_type="text/html",
    )
    via_page = feedd("add", page, "-c", str(config))
    assert via_page.returncode == 0, via_page.stderr
    assert "already in" in via_page.stdout
    assert len(load_config(config).feeds) == 1


def test_add_finds_the_alternate_link_of_a_page(server, tmp_path):
    config = write_config(tmp_path, ["https://example.org/other.xml"])
    before = config.read_text()
    feed = server.add("/blog/atom", rss("Blog", [("a", "A")]), content_type="application/atom+xml")
    # a common path that is also a feed: the announced one must win
    server.add("/feed", rss("Wrong", [("b", "B")]))
    page = server.add(
        "/blog/",
        html(
            '<link rel="alternate" type="application/rss+xml" href="/missing.xml">'
            '<link rel="alternate" type="application/atom+xml" title="Blog" href="atom">'
        ),
        content_type="text/html; charset=utf-8",
    )
    result = feedd("add", page, "-c", str(config), "--name", "My blog")
    assert result.returncode == 0, result.stderr
    assert "missing.xml: HTTP 404" in result.stderr
    assert f"added {feed} (My blog)" in result.stdout
    assert config.read_text().startswith(before)
    feeds = load_config(config).feeds
    assert [(f.url, f.name) for f in feeds] == [
        ("https://example.org/other.xml", None),
        (feed, "My blog"),
    ]


def test_add_tries_common_paths(server, tmp_path):
    config = write_config(tmp_path, [])
    server.add("/", html(), content_type="text/html")
    feed = server.add("/feed.xml", rss("Found", [("a", "A")]))
    server.add("/rss", html(), content_type="text/html")  # a page, not a feed
    result = feedd("add", server.url("/"), "-c", str(config))
    assert result.returncode == 0, result.stderr
    assert f"added {feed} (Found)" in result.stdout
    assert "/rss: not a feed" in result.stderr
    assert [f.url for f in load_config(config).feeds] == [feed]


def test_add_nothing_found(server, tmp_path):
    config = write_config(tmp_path, [])
    before = config.read_text()
    page = server.add("/", html(), content_type="text/html")
    result = feedd("add", page, "-c", str(config))
    assert result.returncode == 1
    assert f"no feed found at {page}" in result.stderr
    assert config.read_text() == before

    gone = feedd("add", server.url("/gone"), "-c", str(config))
    assert gone.returncode == 1
    assert "HTTP 404" in gone.stderr

    text = server.add("/plain", "just text", content_type="text/plain")
    plain = feedd("add", text, "-c", str(config))
    assert plain.returncode == 1
    assert config.read_text() == before


def test_add_usage_errors(server, tmp_path):
    config = write_config(tmp_path, [])
    assert feedd("add", "ftp://example.org/feed", "-c", str(config)).returncode == 2
    assert feedd("add", "not a url", "-c", str(config)).returncode == 2
    assert feedd("add", server.url("/"), "-c", str(tmp_path / "none.toml")).returncode == 2
    assert feedd("add", server.url("/"), "-c", str(config), "--name", " ").returncode == 2


def test_add_respects_the_private_network_guard(server, tmp_path):
    config = tmp_path / "feedd.toml"
    config.write_text('database = "feedd.db"\n')
    url = server.add("/feed.rss", rss("Direct", [("a", "A")]))
    result = feedd("add", url, "-c", str(config))
    assert result.returncode == 1
    assert "private address" in result.stderr
    assert server.hits("/feed.rss") == []
