"""links: the shipped data files (shortener list, ClearURLs rules) and how they are read."""

from __future__ import annotations

import json
import re
from importlib import resources

from hypothesis import given
from hypothesis import strategies as st

from feedd import links

DATA = resources.files("feedd").joinpath("data")


def test_data_files_and_their_licences_ship_in_the_package():
    names = {entry.name for entry in DATA.iterdir()}
    assert {
        "shorteners.txt",
        "clearurls.json",
        "feedd_rules.toml",
        "LICENSES.md",
        "LICENSE.CC-BY-SA-4.0.txt",
        "LICENSE.LGPL-3.0.txt",
        "LICENSE.GPL-3.0.txt",
    } <= names
    notice = DATA.joinpath("LICENSES.md").read_text(encoding="utf-8")
    for name in (
        "shorteners.txt",
        "clearurls.json",
        "feedd_rules.toml",
        "CC-BY-SA-4.0",
        "LGPL-3.0",
    ):
        assert name in notice


def test_shortener_list_header_names_source_and_licence():
    head = DATA.joinpath("shorteners.txt").read_text(encoding="utf-8")[:2000]
    assert "PeterDaveHello/url-shorteners" in head
    assert "CC-BY-SA-4.0" in head
    assert re.search(r"Commit:\s+[0-9a-f]{40}", head)


def test_shortener_hosts():
    hosts = links.shortener_hosts()
    assert len(hosts) > 1000
    for host in ("ift.tt", "bit.ly", "t.co", "buff.ly", "dlvr.it", "ow.ly", "tinyurl.com"):
        assert host in hosts
    for host in ("goo.gl", "trib.al", "lnkd.in", "fb.me", "youtu.be", "feedproxy.google.com"):
        assert host in hosts
    assert all(host == host.strip().lower() and host and " " not in host for host in hosts)
    assert not any(host.startswith("#") for host in hosts)
    assert links.shortener_hosts() is hosts  # read once


def test_clearurls_rules_load_and_compile():
    data = json.loads(DATA.joinpath("clearurls.json").read_text(encoding="utf-8"))
    assert len(data["providers"]) > 100
    rules = links._rules()
    compiled = _all_providers()
    assert len(compiled) == len(data["providers"])
    assert any(p.name == "globalRules" and p.pattern is None for p in rules.always)
    assert links._rules() is rules  # read once


def _all_providers() -> list[links._Provider]:
    rules = links._rules()
    named = [links._provider(name) for group in rules.by_needle.values() for name in group]
    return named + list(rules.always)


NEEDLES = sorted(links._rules().by_needle)
LABELS = st.sampled_from(["www", "m", "news", "l", "out", "fls-na", "a-b", "x1", "old"])
SUFFIXES = st.sampled_from(["", ".com", ".de", ".co.uk", ".ru", ".com.my", ".net", "x.com"])
PATHS = st.sampled_from(["/", "/s?k=1", "/search?q=1", "/learning/x", "/pagead/x", "/a?ref=1"])


@given(
    st.lists(LABELS, max_size=2),
    st.one_of(st.sampled_from(NEEDLES), st.just("example")),
    SUFFIXES,
    PATHS,
)
def test_needle_prefilter_never_drops_a_matching_provider(labels, needle, suffix, path):
    """_providers(host) is an optimization: it must hold every provider whose pattern matches."""
    host = ".".join([*labels, needle + suffix]).lower()
    url = f"https://{host}{path}"
    matching = {p.name for p in _all_providers() if p.pattern is None or p.pattern.search(url)}
    assert matching <= {p.name for p in links._providers(host)}


def test_needle_extraction():
    assert links._needle(r"^https?:\/\/(?:[a-z0-9-]+\.)*?facebook\.com") == "facebook.com"
    assert links._needle(r"^https?:\/\/(?:[a-z0-9-]+\.)*?google(?:\.[a-z]{2,}){1,}") == "google"
    assert links._needle(r"^https?:\/\/vk\.com") == "vk.com"
    assert links._needle(r"https?:\/\/outgoing\.prod\.mozaws\.net\/") == "outgoing.prod.mozaws.net"
    # An unescaped dot is any character: the literal stops before it.
    assert links._needle(r"^https?:\/\/(?:[a-z0-9-]+\.)*?twitter.com") == "twitter"
    # A quantifier makes the last character optional.
    assert links._needle(r"^https?:\/\/(?:[a-z0-9-]+\.)*?exampl?e") == "examp"
    # Alternation or a group first: no needle, tried on every URL.
    assert links._needle(r"^https?:\/\/(?:[a-z0-9-]+\.)*?(?:yandex|ya\.ru)") is None
    assert links._needle(r"^https?:\/\/(?:accounts\.)?firefox\.com") is None
    assert links._needle(".*") is None
