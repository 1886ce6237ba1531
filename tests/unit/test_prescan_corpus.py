"""The pre-scan's shortcut on a few real publishers' feeds of the shared corpus:
each changed as bench/prescan_check.py changes every one of them (a channel date,
a rotating element or comment, a re-serialization: not parsed; an edited item:
parsed), the digest with the shortcut equals the one without it."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

from feedd import parse

sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))

from prescan_check import CHANGES, Counting, check

pytestmark = pytest.mark.corpus

FEEDS = [
    "realworld/smallweb/rss.nytimes.com__78f77fae2e1ffc14.xml",  # RSS 2.0, media
    "realworld/smallweb/www.abc.net.au__5357198db71ce075.xml",
    "realworld/smallweb/herman.bearblog.dev__59990f9eb0e3b46d.xml",  # Atom
    "realworld/smallweb/www.youtube.com__021a787a782817fc.xml",  # Atom, yt: and media:
    "realworld/smallweb/rss.dw.com__14dda539770f94e3.xml",  # RSS 1.0 (RDF)
]


@pytest.mark.parametrize("path", FEEDS)
def test_a_changed_body_digests_the_same_with_the_prescan(corpus: Path, path, monkeypatch):
    counting = Counting()
    monkeypatch.setattr(parse, "parse_prepared", counting)
    counts: Counter[str] = Counter()
    body = (corpus / path).read_bytes()
    failures = []
    for name in CHANGES:
        found, _ = check(
            path, body, f"https://example.org/{Path(path).name}", name, counting, counts
        )
        failures += found
    assert failures == []
    assert counts["item: parsed"] == 1
    for name in ("date", "element", "comment", "reserialized"):
        assert counts[f"{name}: not parsed"] == 1, name
