"""`feedd show ID --history`, `articles --edited`, `stats` and `export --revisions`,
run as the installed command on a story a local server edits over three polls."""

from __future__ import annotations

import json
from pathlib import Path
from xml.sax.saxutils import escape

from feedserver import FeedServer
from test_cli import feedd

P1 = "The minister resigned on Monday after a vote."
P1_FIXED = "The minister resigned on Tuesday after a vote."
P2 = "Her deputy takes over until the election."
P3 = "A spokesman said the decision was weeks old."
VERSIONS = [
    ("Minister resigns", [P1, P2]),
    ("Minister resigns after vote", [P1_FIXED, P2]),
    ("Minister resigns after vote", [P1_FIXED, P2, P3]),
    ("Minister resigns after vote", [P1_FIXED, P2]),
]


def document(version: int) -> str:
    title, paragraphs = VERSIONS[version]
    body = escape("".join(f"<p>{p}</p>" for p in paragraphs))
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>News</title>'
        "<link>https://news.example/</link><item><guid>m1</guid>"
        f"<title>{title}</title><link>https://news.example/minister</link>"
        "<pubDate>Tue, 03 Jun 2025 09:39:21 +0200</pubDate>"
        f"<description>{body}</description></item></channel></rss>"
    )


def test_the_history_of_an_edited_story(server: FeedServer, tmp_path: Path):
    url = server.add("/news.xml", document(0))
    config = tmp_path / "feedd.toml"
    config.write_text(
        'database = "feedd.db"\n[fetch]\nallow_private_networks = true\nworkers = 0\n'
        f'[[feeds]]\nurl = "{url}"\nname = "News"\n'
    )
    for version in (0, 1, 2, 3, 3):  # the last poll: an identical re-delivery
        server.add("/news.xml", document(version))
        assert feedd("fetch", "-c", str(config)).returncode == 0

    shown = feedd("show", "1", "--history", "-c", str(config))
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert "\x1b[" not in text  # not a terminal: no colour
    assert text.count("replaced ") == 3
    assert "by an update of the item (News)" in text
    assert "Minister resigns {+after vote+}" in text
    assert "The minister resigned on [-Monday-] {+Tuesday+} after a vote." in text
    assert f"{{+{P3}+}}" in text
    assert f"[-{P3}-]" in text
    assert "current version, since" in text

    as_json = json.loads(feedd("show", "1", "--history", "--json", "-c", str(config)).stdout)
    versions = as_json["versions"]
    assert [v["revision"] for v in versions] == [1, 2, 3, None]
    assert [v["title"] for v in versions] == [v[0] for v in VERSIONS]
    assert [v["content_text"] for v in versions] == ["\n".join(v[1]) for v in VERSIONS]
    assert [v["reason"] for v in versions] == ["update", "update", "update", None]

    edited = feedd("articles", "--edited", "--json", "-c", str(config))
    assert [json.loads(line) for line in edited.stdout.splitlines()] == [
        {"id": 1, "edited_at": versions[2]["replaced_at"], "revisions": 3, "feeds": "News",
         "title": "Minister resigns after vote", "url": "https://news.example/minister"}
    ]  # fmt: skip

    stats = json.loads(feedd("stats", "--json", "-c", str(config)).stdout)
    assert stats["edits"] == [
        {"feed": "News", "url": url, "updates": 3, "enrichments": 0, "articles": 1}
    ]
    assert "edits (revisions kept" in feedd("stats", "-c", str(config)).stdout

    exported = feedd("export", "--revisions", "-c", str(config))
    (row,) = [json.loads(line) for line in exported.stdout.splitlines()]
    assert [r["title"] for r in row["revisions"]] == [v[0] for v in VERSIONS[:3]]
    refused = feedd("export", "--revisions", "--format", "rss", "-c", str(config))
    assert refused.returncode == 2
    assert "--revisions needs --format jsonl" in refused.stderr


def test_an_article_never_edited_has_no_earlier_version(server: FeedServer, tmp_path: Path):
    url = server.add("/news.xml", document(0))
    config = tmp_path / "feedd.toml"
    config.write_text(
        'database = "feedd.db"\n[fetch]\nallow_private_networks = true\nworkers = 0\n'
        f'[[feeds]]\nurl = "{url}"\n'
    )
    assert feedd("fetch", "-c", str(config)).returncode == 0
    shown = feedd("show", "1", "--history", "-c", str(config))
    assert "no earlier version kept" in shown.stdout
    assert feedd("articles", "--edited", "--json", "-c", str(config)).stdout == ""
