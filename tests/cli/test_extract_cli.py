"""`feedd extract`, run as a subprocess: a saved page, --json, a page on a real local server.

Run as ``python -m feedd`` with this checkout first on PYTHONPATH, so the
command is this tree's code whatever `feedd` script the environment installed.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import write_config

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "article-extraction"
TRUTH = json.loads((DATA / "ground-truth.json").read_text())
KEY = next(key for key in TRUTH if key.startswith("7916ecca"))  # aljazeera.com, a news story


def feedd(*args: str, stdin: bytes | None = None, cwd: Path | None = None):
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    env.pop("FEEDD_CONFIG", None)
    result = subprocess.run(
        [sys.executable, "-m", "feedd", *args],
        input=stdin,
        capture_output=True,
        timeout=60,
        env=env,
        cwd=cwd,
        check=False,
    )
    return result.returncode, result.stdout.decode(), result.stderr.decode()


@pytest.fixture
def saved_page(tmp_path: Path) -> Path:
    path = tmp_path / "page.html"
    path.write_bytes(gzip.decompress((DATA / f"{KEY}.html.gz").read_bytes()))
    return path


def test_a_saved_page_prints_its_text(saved_page):
    status, out, err = feedd("extract", "--file", str(saved_page), "--url", TRUTH[KEY]["url"])
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("Two United States service members have been killed")
    assert "Newsletter" not in lines and "Middle East" not in lines
    assert "<p>" not in out


def test_json_has_every_field(saved_page):
    status, out, err = feedd(
        "extract", "--file", str(saved_page), "--url", TRUTH[KEY]["url"], "--json"
    )
    assert status == 0, err
    fields = json.loads(out)
    assert set(fields) == {
        "url",
        "title",
        "author",
        "published_at",
        "image",
        "word_count",
        "text",
        "html",
    }
    assert fields["url"] == TRUTH[KEY]["url"]
    assert fields["title"] == "US service members killed in Afghanistan helicopter crash"
    assert fields["published_at"] == "2019-11-20T00:00:00Z"
    assert fields["text"].startswith("Two United States service members")
    assert fields["html"].startswith('<p>Two <a href="https://www.aljazeera.com/topics/')
    assert fields["word_count"] > 250


def test_stdin_and_a_selector(saved_page):
    status, out, err = feedd(
        "extract", "--file", "-", "--selector", "nav", stdin=saved_page.read_bytes()
    )
    assert status == 0, err
    assert "Hong Kong protests" in out and "helicopter" not in out


def test_no_article_and_usage_errors(tmp_path, saved_page):
    empty = tmp_path / "empty.html"
    empty.write_bytes(b"<html><body></body></html>")
    status, out, err = feedd("extract", "--file", str(empty))
    assert (status, out) == (1, "")
    assert "no article text" in err
    for args in (
        (),  # neither a URL nor --file
        ("https://example.org/a", "--file", str(saved_page)),  # both
        ("https://example.org/a", "--url", "https://example.org/b"),  # --url without --file
        ("--file", str(saved_page), "--selector", "div["),  # not a CSS selector
    ):
        status, _, err = feedd("extract", *args)
        assert status == 2, (args, err)
        assert err.startswith("feedd extract:")


def test_a_page_from_a_real_server(server, saved_page, tmp_path):
    url = server.add(
        "/news/story.html",
        body=saved_page.read_bytes(),
        content_type="text/html; charset=utf-8",
        gzip=True,
    )
    server.add("/short", status=301, location=url)
    config = write_config(tmp_path, [])
    status, out, err = feedd("extract", server.url("/short"), "-c", str(config), "--json")
    assert status == 0, err
    fields = json.loads(out)
    assert fields["url"] == url  # after the redirect: the base of the page's links
    assert fields["text"].startswith("Two United States service members")
    [(_, headers)] = [hit for hit in server.requests if hit[0] == "/news/story.html"]
    assert headers["accept"].startswith("text/html")


def test_a_private_address_is_refused_without_the_config_allowing_it(server, saved_page, tmp_path):
    url = server.add("/story.html", body=saved_page.read_bytes(), content_type="text/html")
    # The built-in defaults (no config), run where no feedd.toml is found.
    status, out, err = feedd("extract", url, cwd=tmp_path)
    assert (status, out) == (1, "")
    assert "private address" in err
    assert server.requests == []


def test_a_missing_page_fails(server, tmp_path):
    config = write_config(tmp_path, [])
    status, out, err = feedd("extract", server.url("/gone.html"), "-c", str(config))
    assert (status, out) == (1, "")
    assert "HTTP 404" in err
