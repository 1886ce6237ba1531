"""OPML round trip on the real lists of the shared corpus (awesome-rss-feeds, 118 files).

import -> export -> import must give the same feeds (URLs and tags); files
that are not well-formed are read leniently and reported, never fatal.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from feedd.config import load_config
from feedd.opml import parse_opml, render_opml

pytestmark = pytest.mark.corpus

FEEDD = str(Path(sys.executable).parent / "feedd")
XML_URL = re.compile(rb'xmlUrl="([^"]*)"')


def opml_files(corpus: Path) -> list[Path]:
    files = sorted((corpus / "awesome-rss-feeds").rglob("*.opml"))
    assert len(files) == 118
    return files


def feeds_of(document) -> set[tuple[str, tuple[str, ...]]]:
    return {(feed.url, feed.tags) for feed in document.feeds}


def test_every_list_round_trips(corpus):
    total = repaired = 0
    for path in opml_files(corpus):
        data = path.read_bytes()
        first = parse_opml(data)
        # Every xmlUrl in the file becomes a feed: nothing lost to the repairs.
        listed = {url.replace(b"&amp;", b"&").decode() for url in XML_URL.findall(data)}
        assert {feed.url for feed in first.feeds} == listed, path.name
        assert first.skipped == (), path.name
        if "with_category" in path.parts:
            # one folder, named after the file ("UI / UX" is in "UI - UX.opml")
            assert len({feed.tags for feed in first.feeds}) == 1, path.name
            (tags,) = {feed.tags for feed in first.feeds}
            assert len(tags) == 1, path.name
            assert tags[0].replace("/", "-") == path.stem, path.name
        else:
            assert all(feed.tags == () for feed in first.feeds), path.name
        again = parse_opml(render_opml(first.feeds))
        assert again.feeds == first.feeds, path.name
        assert again.repairs == (), path.name
        total += len(first.feeds)
        repaired += bool(first.repairs)
    # The counts as of the corpus commit (see ../shared/corpus/SOURCES.md).
    assert total == 1572
    assert repaired == 80


def test_cli_round_trip_through_a_config(corpus, tmp_path):
    """All 118 lists through the config's opml key, `feedd opml export`, then
    `feedd opml import --append` into an empty config."""
    files = opml_files(corpus)
    config = tmp_path / "all.toml"
    listed = ", ".join(f'"{path}"' for path in files)
    config.write_text(f'database = "feedd.db"\nopml = [{listed}]\n')
    loaded = load_config(config)
    assert loaded.warnings == ()
    expected = {(feed.url, feed.name, feed.tags) for feed in loaded.feeds}
    # with_category and without_category list the same feeds: tags merge
    assert len(expected) == len({feed.url for feed in loaded.feeds}) > 700

    exported = subprocess.run(
        [FEEDD, "opml", "export", "-c", str(config)], capture_output=True, check=False
    )
    assert exported.returncode == 0, exported.stderr
    (tmp_path / "export.opml").write_bytes(exported.stdout)

    printed = subprocess.run(
        [FEEDD, "opml", "import", str(tmp_path / "export.opml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert printed.returncode == 0, printed.stderr
    entries = tomllib.loads(printed.stdout)["feeds"]
    assert {(e["url"], e.get("name"), tuple(e.get("tags", ()))) for e in entries} == expected

    fresh = tmp_path / "fresh.toml"
    fresh.write_text('database = "feedd.db"\n')
    appended = subprocess.run(
        [FEEDD, "opml", "import", str(tmp_path / "export.opml"), "-c", str(fresh), "--append"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert appended.returncode == 0, appended.stderr
    again = load_config(fresh)
    assert {(feed.url, feed.name, feed.tags) for feed in again.feeds} == expected
