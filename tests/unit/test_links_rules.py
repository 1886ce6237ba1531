"""links: feedd's own rules (feedd/data/feedd_rules.toml): tracking parameters and redirectors."""

from __future__ import annotations

import csv
import gzip
import sys
from collections import Counter
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from feedd import links
from feedd.links import canonical_url, is_redirector, needs_resolution, own_rules, unwrap

DATA = resources.files("feedd").joinpath("data")


def test_rules_file_ships_in_the_package_and_loads_once():
    assert DATA.joinpath("feedd_rules.toml").is_file()
    rules = own_rules()
    assert len(rules.tracking) > 10
    assert rules.redirectors
    assert own_rules() is rules


@pytest.mark.parametrize("rule", own_rules().tracking, ids=lambda rule: rule.example)
def test_every_tracking_rule_holds_its_example(rule):
    """The example pairs document each rule; the rule must remove something."""
    assert rule.example != rule.expected
    assert canonical_url(rule.example) == rule.expected
    assert canonical_url(rule.expected) == rule.expected
    host = urlsplit(rule.expected).hostname
    assert host is not None
    assert links._on(host, rule.hosts)


@pytest.mark.parametrize("rule", own_rules().redirectors, ids=lambda rule: rule.example)
def test_every_redirector_holds_its_example(rule):
    assert is_redirector(rule.example)
    assert needs_resolution(rule.example, "shorteners")


# Each: an item link as its feed gives it, what feedd stores, and the same
# parameters on another site, where they are left alone (they may select content there).
SITE_RULES = [
    (
        "https://www.dw.com/en/peru-ousts-interim-president/a-76013641?maca=en-rss-en-all-1573-rdf",
        "https://www.dw.com/en/peru-ousts-interim-president/a-76013641",
        "https://example.org/a?maca=en-rss-en-all-1573-rdf",
    ),
    (
        "https://www.bbc.com/news/articles/cp81l0e1eg5o?at_medium=RSS&at_campaign=rss",
        "https://www.bbc.com/news/articles/cp81l0e1eg5o",
        "https://example.org/a?at_medium=RSS&at_campaign=rss",
    ),
    (
        "https://www.bbc.co.uk/sport/football/1?at_link_id=2&at_bbc_team=editorial",
        "https://www.bbc.co.uk/sport/football/1",
        "https://example.org/a?at_link_id=2",
    ),
    (
        "https://www.aljazeera.com/news/2026/2/18/a-story?traffic_source=rss",
        "https://www.aljazeera.com/news/2026/2/18/a-story",
        "https://example.org/a?traffic_source=rss",
    ),
    (
        "https://www.csmonitor.com/USA/Politics/2026/0217/jesse-jackson-appreciation?icid=rss",
        "https://www.csmonitor.com/USA/Politics/2026/0217/jesse-jackson-appreciation",
        "https://example.org/a?icid=rss",
    ),
    (
        "http://www.nytimes.com/2013/05/06/nyregion/epa.html?partner=rss&emc=rss",
        "http://www.nytimes.com/2013/05/06/nyregion/epa.html",
        "https://example.org/a?partner=rss",
    ),
    (
        "http://www.dailymail.co.uk/news/article-2272640/x.html?ITO=1490",
        "http://www.dailymail.co.uk/news/article-2272640/x.html",
        "https://example.org/a?ITO=1490",
    ),
    (
        "http://www.washingtonpost.com/lifestyle/wellness/x_story.html?wprss=rss_wellness",
        "http://www.washingtonpost.com/lifestyle/wellness/x_story.html",
        "https://example.org/a?wprss=rss_wellness",
    ),
    (
        "http://www.pcmag.com/article2/0,2817,2525649,00.asp?kc=PCRSS03079TX1K0000584",
        "http://www.pcmag.com/article2/0,2817,2525649,00.asp",
        "https://example.org/a?kc=PCRSS03079TX1K0000584",
    ),
    (
        "http://science.sciencemag.org/cgi/content/short/356/6343/1134-a?rss=1",
        "http://science.sciencemag.org/cgi/content/short/356/6343/1134-a",
        "https://example.org/blog/index.php?rss=1",
    ),
    (
        "http://www.transfermarkt.de/a-story/view/news/326660?rss",
        "http://www.transfermarkt.de/a-story/view/news/326660",
        "https://example.org/blog?rss",
    ),
    (
        "https://www.sciencedirect.com/science/article/pii/S0012821X26000609?dgcid=rss_sd_all",
        "https://www.sciencedirect.com/science/article/pii/S0012821X26000609",
        "https://example.org/a?dgcid=rss_sd_all",
    ),
]


@pytest.mark.parametrize(("url", "expected", "elsewhere"), SITE_RULES)
def test_site_tracking_parameters_go_on_their_site_only(url, expected, elsewhere):
    assert canonical_url(url) == expected
    assert canonical_url(elsewhere) == elsewhere


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # Parameters that pick the page stay, in order, beside the ones that go.
        (
            "https://www.dw.com/en/search/?searchNavigationId=9&maca=en-rss&page=2",
            "https://www.dw.com/en/search/?searchNavigationId=9&page=2",
        ),
        (
            "https://www.bbc.co.uk/programmes/a?page=3&at_medium=RSS",
            "https://www.bbc.co.uk/programmes/a?page=3",
        ),
        (
            "https://www.csmonitor.com/layout/set/print/x?id=7&icid=rss&p=2",
            "https://www.csmonitor.com/layout/set/print/x?id=7&p=2",
        ),
        (
            "https://www.aljazeera.com/program/x?v=12&traffic_source=rss",
            "https://www.aljazeera.com/program/x?v=12",
        ),
        # Case and percent-encoding of the name do not hide it.
        ("https://www.dw.com/en/a/a-1?MACA=x", "https://www.dw.com/en/a/a-1"),
        ("https://www.bbc.com/news/1?AT_MEDIUM=RSS", "https://www.bbc.com/news/1"),
        ("https://www.dw.com/en/a/a-1?%6Daca=x", "https://www.dw.com/en/a/a-1"),
        # comScore's names are tracking on every site.
        (
            "https://news.example.net/story/1?id=4&ns_mchannel=rss&ns_campaign=1490&ns_source=x",
            "https://news.example.net/story/1?id=4",
        ),
    ],
)
def test_tracking_parameters_go_and_content_parameters_stay(url, expected):
    assert canonical_url(url) == expected
    assert canonical_url(expected) == expected


@pytest.mark.parametrize(
    "url",
    [
        "https://notdw.com/a?maca=x",  # a suffix is not a parent domain
        "https://dw.com.example.net/a?maca=x",
        "https://www.bbc.com.example.net/a?at_medium=RSS",
        "https://www.bbc.com/news/1?atlas=3",  # at_ is the prefix, not "at"
    ],
)
def test_site_rules_need_the_site_itself(url):
    assert canonical_url(url) == url


PHEEDO = [
    "http://feeds.washingtonpost.com/click.phdo?i=2f874f0b0fd978fc92511a191f7a4644",
    "http://ads.pheedo.com/click.phdo?s=cc0c5fb09865354bbec8415210a554da&p=4",
    "http://feeds.example.com/CLICK.PHDO?i=abc",
]


@pytest.mark.parametrize("url", PHEEDO)
def test_pheedo_click_links_are_followed_like_short_links(url):
    """The hash in a Pheedo click link is no URL: nothing to unwrap, only a redirect to follow."""
    assert unwrap(url) == url
    assert is_redirector(url)
    assert needs_resolution(url, "shorteners")
    assert needs_resolution(url, "all")
    assert not needs_resolution(url, "off")


@pytest.mark.parametrize(
    "url",
    [
        "https://feeds.washingtonpost.com/rss/world",
        "https://www.washingtonpost.com/world/2025/11/12/us-strikes/",
        "https://example.com/click.phdo.html",  # the path must match in full
        "https://example.com/a/click.phdo",
        "ftp://feeds.example.com/click.phdo?i=1",
        "not a url",
    ],
)
def test_other_links_are_no_redirectors(url):
    assert not is_redirector(url)
    assert not needs_resolution(url, "shorteners")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"host": ["dw.com"], "params": ["maca"], "why": "w"}, "keys"),
        ({"params": ["maca"], "example": "e", "expected": "x"}, "why"),
        ({"hosts": ["dw.com"], "why": "w", "example": "e", "expected": "x"}, "params or prefixes"),
        ({"params": "maca", "why": "w", "example": "e", "expected": "x"}, "list"),
        ({"params": [""], "why": "w", "example": "e", "expected": "x"}, "list"),
    ],
)
def test_a_malformed_tracking_rule_is_refused(entry, message):
    """A misspelt key would make a rule apply everywhere, or to nothing."""
    with pytest.raises(ValueError, match=message):
        links._tracking_rule(entry)


def test_a_malformed_redirector_is_refused():
    with pytest.raises(ValueError, match="keys"):
        links._redirector({"paths": "/x", "why": "w", "example": "e"})
    with pytest.raises(ValueError, match="path"):
        links._redirector({"why": "w", "example": "e"})


# -- the real-world feeds of the shared corpus

# The tracking parameters found in the corpus's item links, with the site
# each one was seen on. A fixed list, not read from the rules file: the test
# measures what feedd stores, whatever the file says.
CORPUS_TRACKING = {
    "maca": ("dw.com",),
    "at_medium": ("bbc.com", "bbc.co.uk"),
    "at_campaign": ("bbc.com", "bbc.co.uk"),
    "traffic_source": ("aljazeera.com",),
    "icid": ("csmonitor.com",),
    "rss": ("sciencemag.org", "transfermarkt.de"),
    "partner": ("nytimes.com",),
    "ito": ("dailymail.co.uk",),
    "ns_mchannel": (),
    "ns_campaign": (),
}
# Parameters that pick the page, with the sites they do it on.
CORPUS_CONTENT = {"v": ("youtube.com",), "p": (), "id": ()}


def _hits(url: str | None, names: dict[str, tuple[str, ...]]) -> Counter[str]:
    """The names of ``names`` in url's query, each only on its sites (none: any site)."""
    found: Counter[str] = Counter()
    if not url:
        return found
    parts = urlsplit(url)
    host = parts.hostname or ""
    for name, _value in parse_qsl(parts.query, keep_blank_values=True):
        sites = names.get(name.lower())
        if sites is not None and links._on(host, sites):
            found[name.lower()] += 1
    return found


def _item_targets(corpus: Path) -> list[str]:
    """Every real-world item's link to follow (unwrapped offline), as the pipeline takes it."""
    from feedd import parse
    from feedd.digest import item_links
    from feedd.errors import ParseError

    with (corpus / "realworld" / "INDEX.tsv").open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file, delimiter="\t"))
    targets = []
    for row in rows:
        body = (corpus / row["stored_at"]).read_bytes()
        if body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
        base = row["url"] or f"https://corpus.test/{row['path']}"
        content_type = "application/feed+json" if row["format"] == "jsonfeed" else "application/xml"
        try:
            parsed = parse.parse_feed(body, url=base, content_type=content_type)
        except ParseError:
            continue
        for raw in parsed.entries:
            target = item_links(raw, base)[1]
            if target:
                targets.append(target)
    return targets


@pytest.mark.corpus
def test_realworld_item_links_keep_no_tracking_parameters(corpus, capsys, record_property):
    targets = _item_targets(corpus)
    canonical = [canonical_url(target) for target in targets]
    before = sum((_hits(t, CORPUS_TRACKING) for t in targets), Counter())
    after = sum((_hits(c, CORPUS_TRACKING) for c in canonical), Counter())
    record_property("tracking_before", before.total())
    record_property("tracking_after", after.total())
    with capsys.disabled():
        sys.stdout.write(
            f"\ntracking parameters in {len(targets)} item links: {dict(before)} -> {dict(after)}\n"
        )
    assert before["maca"] >= 100 and before["at_medium"] >= 30  # the feeds are there
    assert after == Counter()
    # What picks the page is never taken away.
    assert sum((_hits(c, CORPUS_CONTENT) for c in canonical), Counter()) == sum(
        (_hits(t, CORPUS_CONTENT) for t in targets), Counter()
    )
    # Pheedo's click links (the Washington Post's feed) are followed like short links.
    clicks = [t for t in targets if urlsplit(t).path.lower() == "/click.phdo"]
    assert len(clicks) >= 20
    assert all(needs_resolution(t, "shorteners") for t in clicks)
