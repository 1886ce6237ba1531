"""prescan: a body's fingerprint and item hashes, on bytes; and digest's shortcut.

A change feedparser's result cannot show leaves the fingerprint as it was; any
other change moves it (and feedparser runs, exact, as before the pre-scan).
"""

from __future__ import annotations

import dataclasses

import pytest

from feedd import digest, parse, prescan

URL = "https://news.example/feed.xml"
CONTEXT = "code\x1f" + URL


def item(number: int, title: str | None = None) -> str:
    return (
        f"<item><guid>https://news.example/{number}</guid>"
        f"<link>https://news.example/{number}</link>"
        f"<title>{title or f'Story {number}'}</title>"
        f"<pubDate>Mon, 0{1 + number % 9} Jan 2024 10:00:00 GMT</pubDate>"
        f"<description><![CDATA[<p>Story {number} goes on &amp; on.</p>]]></description></item>"
    )


def rss(
    *items: str,
    head: str = "<lastBuildDate>Mon, 01 Jan 2024 10:00:00 GMT</lastBuildDate>",
    namespaces: str = "",
    channel: str = "",
    prolog: str = '<?xml version="1.0" encoding="utf-8"?>\n',
) -> bytes:
    return (
        f'{prolog}<rss version="2.0"{namespaces}><channel{channel}>'
        f"<title>News</title><link>https://news.example/</link>{head}"
        f"{''.join(items)}</channel></rss>"
    ).encode()


ITEMS = (item(1), item(2), item(3))


def scan(body: bytes, content_type: str | None = None) -> prescan.Scan:
    scanned = prescan.scan(body, content_type, CONTEXT)
    assert scanned is not None
    return scanned


def test_a_document_is_split_into_its_items():
    scanned = scan(rss(*ITEMS))
    assert len(scanned.items) == 3
    assert len(set(scanned.items)) == 3


def test_atom_and_rdf_are_split_too():
    atom = (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>'
        b"<updated>2024-01-01T00:00:00Z</updated>"
        b"<entry><id>1</id><title>One</title></entry><entry><id>2</id><title>Two</title></entry>"
        b"</feed>"
    )
    assert len(scan(atom).items) == 2
    rdf = (
        b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
        b' xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        b'<channel rdf:about="x"><title>R</title><dc:date>2024-01-01</dc:date></channel>'
        b'<item rdf:about="1"><title>One</title></item></rdf:RDF>'
    )
    later = rdf.replace(b"2024-01-01<", b"2024-01-02<")
    assert len(scan(rdf).items) == 1
    assert scan(rdf) == scan(later)


@pytest.mark.parametrize(
    "changed",
    [
        rss(*ITEMS, head="<lastBuildDate>Tue, 02 Jan 2024 11:00:00 GMT</lastBuildDate>"),
        rss(*ITEMS, head="<pubDate>Tue, 02 Jan 2024 11:00:00 GMT</pubDate>"),
        rss(*ITEMS, head="<!-- built in 12 ms --><lastBuildDate>x</lastBuildDate>"),
        rss(*ITEMS, head="<lastBuildDate>x</lastBuildDate><adSlot>banner 7</adSlot>"),
        rss(*ITEMS).replace(b"</item><item>", b"</item>\n\n  <item>"),
        rss(*ITEMS).replace(b'version="2.0"', b"version = '2.0'  "),
        rss(*ITEMS).replace(
            b"<![CDATA[<p>Story 2 goes on &amp; on.</p>]]>",
            b"&lt;p>Story 2 goes on &amp;amp; on.&lt;/p>",
        ),
        rss(*ITEMS).replace(b"</rss>", b"</rss>\n<!-- cached -->\n"),
    ],
    ids=[
        "lastBuildDate",
        "pubDate",
        "comment",
        "rotating element",
        "whitespace",
        "quoting",
        "cdata",
        "trailer",
    ],
)
def test_what_feedparser_cannot_show_leaves_the_fingerprint(changed):
    before = scan(rss(*ITEMS))
    after = scan(changed)
    assert after.items == before.items
    assert after.fingerprint == before.fingerprint


@pytest.mark.parametrize(
    ("changed", "items_change"),
    [
        (rss(item(1, "Story one, edited"), item(2), item(3)), True),
        (rss(item(0), *ITEMS), True),
        (rss(item(2), item(1), item(3)), False),  # the same items, in another order
        (rss(*ITEMS, namespaces=' xmlns:dc="http://purl.org/dc/elements/1.1/"'), True),
        (rss(*ITEMS, channel=' xml:base="https://elsewhere.example/"'), True),
        (rss(*ITEMS, channel=' xml:lang="fr"'), True),
        (rss(*ITEMS, prolog='<?xml version="1.0"?>\n'), True),
        (rss(*ITEMS, head="<language>fr</language>"), False),
        (rss(*ITEMS, head="<ttl>60</ttl>"), False),
        (rss(*ITEMS).replace(b"<title>News", b"<title>Old news"), False),
        (rss(*ITEMS, head="<lastBuildDate lang='x'>y</lastBuildDate>"), False),
        (rss(*ITEMS, head="<image><url>https://news.example/a.png</url></image>"), False),
        # dated elements after the first item are counted, as any element there
        (rss(*ITEMS).replace(b"</channel>", b"<pubDate>x</pubDate></channel>"), False),
    ],
    ids=[
        "item edited",
        "item added",
        "order",
        "namespace",
        "xml:base",
        "xml:lang",
        "encoding",
        "language",
        "ttl",
        "title",
        "attribute",
        "element",
        "after the items",
    ],
)
def test_what_feedparser_may_show_moves_the_fingerprint(changed, items_change):
    before = scan(rss(*ITEMS))
    after = scan(changed)
    assert after.fingerprint != before.fingerprint
    assert (set(after.items) != set(before.items)) is items_change


def test_the_content_type_and_the_context_count():
    body = rss(*ITEMS)
    assert scan(body, "application/rss+xml").fingerprint != scan(body).fingerprint
    other = prescan.scan(body, None, "code\x1fhttps://news.example/other.xml")
    assert other is not None
    assert other.items != scan(body).items


def test_a_namespace_prefix_that_feedparser_knows_is_never_left_out():
    # "dc" bound to another URI: feedparser still names it dc:title (by the prefix).
    namespaces = ' xmlns:dc="urn:not-dublin-core"'
    before = rss(*ITEMS, namespaces=namespaces, head="<dc:title>One</dc:title>")
    after = rss(*ITEMS, namespaces=namespaces, head="<dc:title>Two</dc:title>")
    assert scan(before).fingerprint != scan(after).fingerprint


@pytest.mark.parametrize(
    "body",
    [
        b'{"version": "https://jsonfeed.org/version/1.1", "items": []}',
        b"<rss><channel><item><title>unclosed</channel></rss>",
        b"\n<?xml version='1.0'?><rss><channel></channel></rss>",  # feedparser's loose reader
        b"<html><body>Moved</body></html>",
        "<?xml version='1.0' encoding='iso-8859-1'?><rss><channel><title>caf\xe9</title>"
        "</channel></rss>".encode("latin-1"),
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "b">]><rss><channel/></rss>',
        b"<rss><channel><item><item><title>nested</title></item></item></channel></rss>",
        b"<rss><channel><foo><item><title>hidden</title></item></foo></channel></rss>",
        b"<rss><channel/><item><title>outside</title></item></rss>",
        b'<rss xmlns:a="urn:x" xmlns:b="urn:x"><channel/></rss>',
        b"<?xml version='1.0' encoding='us-ascii'?><rss><channel/></rss>",
        b"",
    ],
    ids=[
        "json",
        "malformed",
        "leading blank",
        "html",
        "latin-1",
        "internal subset",
        "nested item",
        "hidden item",
        "item outside",
        "two prefixes",
        "us-ascii",
        "empty",
    ],
)
def test_no_prescan_for_what_feedparser_alone_reads(body):
    assert prescan.scan(body, None, CONTEXT) is None


def test_a_charset_other_than_utf_8_is_left_to_feedparser():
    assert prescan.scan(rss(*ITEMS), "text/xml; charset=windows-1251", CONTEXT) is None
    assert prescan.scan(rss(*ITEMS), "text/xml; charset=UTF-8", CONTEXT) is not None


# -- digest's shortcut


def remembered(body: bytes) -> digest.Memory:
    memory = digest.Memory.from_state(digest.digest(body, URL, None).state)
    assert memory is not None
    return memory


def test_a_body_changed_only_in_its_date_is_not_parsed(monkeypatch):
    memory = remembered(rss(*ITEMS))
    assert memory.prescanned is not None
    changed = rss(*ITEMS, head="<lastBuildDate>Tue, 02 Jan 2024 11:00:00 GMT</lastBuildDate>")
    parsed = digest.digest(changed, URL, None, memory, shortcut=False)

    def no_parse(*args, **kwargs):
        raise AssertionError("parsed")

    monkeypatch.setattr(parse, "parse_prepared", no_parse)
    fast = digest.digest(changed, URL, None, memory)
    assert fast == parsed
    assert fast.entries == ()
    assert [kept.guid for kept in fast.kept] == [f"https://news.example/{n}" for n in (1, 2, 3)]
    assert fast.feed.title == "News"
    assert fast.state == parsed.state


def test_a_changed_item_is_parsed():
    memory = remembered(rss(*ITEMS))
    changed = rss(item(1, "Story one, edited"), item(2), item(3))
    result = digest.digest(changed, URL, None, memory)
    assert result == digest.digest(changed, URL, None, memory, shortcut=False)
    assert "Story one, edited" in [entry.title for entry in result.entries]


def test_an_older_state_means_no_prescan_this_time():
    memory = remembered(rss(*ITEMS))
    older = dataclasses.replace(memory, prescanned=None).state()
    assert '"prescan"' not in older
    read = digest.Memory.from_state(older)
    assert read is not None
    assert read.prescanned is None
    broken = memory.state().replace('"fingerprint"', '"fingerprint_"')
    again = digest.Memory.from_state(broken)
    assert again is not None
    assert again.prescanned is None
    assert again.last == memory.last


def test_an_item_dated_in_the_future_is_parsed_again():
    future = item(1).replace("Mon, 02 Jan 2024", "Mon, 02 Jan 2120")
    memory = remembered(rss(future, item(2)))
    assert memory.prescanned is None  # its date is withheld now, not later


def test_a_document_repeating_a_guid_is_parsed_again():
    memory = remembered(rss(item(1), item(1, "Same guid")))
    assert memory.prescanned is None


def test_a_plain_comment_in_the_prolog_is_left_out():
    # A generator's build time before the root element: feedparser never sees it.
    before = rss(*ITEMS, prolog='<?xml version="1.0" encoding="utf-8"?><!-- built 12:01 -->\n')
    after = rss(*ITEMS, prolog='<?xml version="1.0" encoding="utf-8"?><!-- built 12:02 -->\n')
    assert scan(before).fingerprint == scan(after).fingerprint == scan(rss(*ITEMS)).fingerprint


def test_a_prolog_comment_holding_markup_counts():
    # feedparser reads DOCTYPE and ENTITY declarations from the prolog's bytes.
    plain = rss(*ITEMS, prolog='<?xml version="1.0" encoding="utf-8"?>\n<!-- x -->\n')
    marked = rss(*ITEMS, prolog='<?xml version="1.0" encoding="utf-8"?>\n<!-- <!DOCTYPE> -->\n')
    assert scan(plain).fingerprint != scan(marked).fingerprint
