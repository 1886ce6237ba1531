"""itemcut: a body of more items than max_items is cut to the newest before it
is read, giving the entries reading it whole and keeping the newest would."""

from __future__ import annotations

import pytest

from feedd import itemcut, parse
from feedd.parse import parse_feed

URL = "https://e.x/feed"
WHOLE = 10**9  # a max_items no document reaches: nothing is cut


def rss(items: str, after: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>T</title>'
        f"<link>https://e.x/</link>\n{items}\n{after}</channel></rss>"
    ).encode()


def item(n: int, date: str | None = None, tag: str = "pubDate") -> str:
    dated = f"<{tag}>{date}</{tag}>" if date else ""
    return f"<item><title>Item {n}</title><link>https://e.x/{n}</link>{dated}</item>"


def cut(body: bytes, limit: int) -> itemcut.Cut:
    return parse.prepared(body, limit)


def assert_same_as_whole(body: bytes, limit: int) -> None:
    """Cutting first gives what reading the body whole and keeping the newest gives."""
    whole = parse_feed(body, url=URL, max_items=WHOLE)
    kept = parse.newest(whole.entries, limit)
    parsed = parse_feed(body, url=URL, max_items=limit)
    assert parsed.entries == tuple(kept)
    assert parsed.dropped_items == len(whole.entries) - len(kept)
    assert (parsed.title, parsed.site_url, parsed.version) == (
        whole.title,
        whole.site_url,
        whole.version,
    )


def test_a_body_within_the_limit_is_left_as_it_is():
    body = rss("".join(item(n) for n in range(5)))
    result = cut(body, 5)
    assert result.body is body and result.dropped == 0


def test_the_newest_items_are_kept_in_document_order():
    days = [5, 20, None, 9, 30, 1, None, 12]
    body = rss(
        "".join(
            item(n, f"{day:02d} Jan 2024 10:00:00 GMT" if day else None)
            for n, day in enumerate(days)
        )
    )
    result = cut(body, 3)
    assert result.dropped == 5
    titles = [e.title for e in parse_feed(result.body, url=URL, max_items=WHOLE).entries]
    assert titles == ["Item 1", "Item 4", "Item 7"]
    assert_same_as_whole(body, 3)


def test_undated_items_keep_the_first_in_document_order():
    body = rss("".join(item(n) for n in range(10)))
    assert_same_as_whole(body, 4)
    assert [e.title for e in parse_feed(body, url=URL, max_items=4).entries] == [
        "Item 0",
        "Item 1",
        "Item 2",
        "Item 3",
    ]


def test_updated_dates_rank_items_without_a_published_date():
    body = rss(
        item(0, "2024-01-03T00:00:00Z", "dc:date")
        + item(1, "Mon, 01 Jan 2024 00:00:00 GMT")
        + item(2, "2024-01-05T00:00:00+02:00", "dc:date")
        + item(3)
    )
    assert [e.title for e in parse_feed(body, url=URL, max_items=2).entries] == [
        "Item 0",
        "Item 2",
    ]
    assert_same_as_whole(body, 2)


def test_atom_entries_and_what_follows_the_last_one_are_kept():
    entries = "".join(
        f"<entry><id>urn:{n}</id><title>E{n}</title><updated>2024-01-{n + 1:02d}T00:00:00Z"
        f"</updated><link href='https://e.x/{n}'/></entry>"
        for n in range(6)
    )
    body = (
        "<feed xmlns='http://www.w3.org/2005/Atom'><title>A</title>"
        f"{entries}<link href='https://e.x/site'/></feed>"
    ).encode()
    parsed = parse_feed(body, url=URL, max_items=2)
    assert [e.title for e in parsed.entries] == ["E4", "E5"]
    assert parsed.site_url == "https://e.x/site"
    assert_same_as_whole(body, 2)


def test_rdf_items_outside_the_channel_are_cut():
    items = "".join(
        f"<item rdf:about='https://e.x/{n}'><title>R{n}</title><link>https://e.x/{n}</link></item>"
        for n in range(5)
    )
    body = (
        "<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#' "
        "xmlns='http://purl.org/rss/1.0/'><channel rdf:about='https://e.x/'><title>R</title>"
        f"<link>https://e.x/</link></channel>{items}</rdf:RDF>"
    ).encode()
    assert cut(body, 2).dropped == 3
    assert_same_as_whole(body, 2)


def test_items_with_no_element_are_left_out_and_html_entities_read():
    body = rss(
        "<item/>" + item(0) + "<item rdf:about='x>y'/>" + item(1).replace("Item 1", "&eacute; 1")
    )
    result = cut(body, 1)
    assert (result.dropped, result.empty) == (1, 2)
    parsed = parse_feed(body, url=URL, max_items=1)
    assert [e.title for e in parsed.entries] == ["Item 0"]
    assert (parsed.dropped_items, parsed.empty_items) == (1, 2)
    assert_same_as_whole(body, 1)


def test_tags_in_text_are_not_items():
    # The byte pattern counts six; expat finds two: nothing to cut.
    fake = "<![CDATA[<item> <item> <entry> <item>]]>"
    body = rss(f"<item><title>A</title><description>{fake}</description></item>{item(1)}")
    result = cut(body, 2)
    assert result.body is body and result.dropped == 0


@pytest.mark.parametrize(
    "body",
    [
        rss("".join(item(n) for n in range(5))).replace(b"</channel>", b""),  # not well-formed
        b'<!DOCTYPE rss [<!ENTITY e "x">]>' + rss("".join(item(n) for n in range(5)))[40:],
        rss("".join(item(n) for n in range(5))).replace(b"utf-8", b"shift_jis"),
    ],
    ids=["ill-formed", "internal-subset", "multibyte-encoding"],
)
def test_a_body_expat_cannot_read_is_left_as_it_is(body):
    result = cut(body, 2)
    assert result.body is body and result.dropped == 0


def test_nested_items_belong_to_their_item():
    # node-feedparser's illegally-nested.xml: an <item/> inside each item.
    body = rss("".join(f"<item><title>N{n}</title><item/></item>" for n in range(4)))
    assert cut(body, 2).dropped == 2
    assert_same_as_whole(body, 2)


def test_a_hostile_document_is_cut_before_feedparser_reads_it():
    body = rss("".join(item(n) for n in range(20_000)))
    result = cut(body, 100)
    assert result.dropped == 19_900
    assert len(result.body) < len(body) // 100
    parsed = parse_feed(body, url=URL, max_items=100)
    assert len(parsed.entries) == 100 and parsed.dropped_items == 19_900


def test_a_single_byte_encoding_is_cut_on_its_bytes():
    body = rss("".join(item(n).replace("Item", "Статья") for n in range(6))).replace(
        b"utf-8", b"koi8-r"
    )
    body = body.decode("utf-8").encode("koi8-r")
    assert cut(body, 2).dropped == 4
    assert_same_as_whole(body, 2)


def test_the_digest_counts_what_the_cut_left_out_as_parse_feed_does():
    from feedd import digest

    body = rss("<item/>" + "".join(item(n) for n in range(5)) + "<item/>")
    parsed = parse_feed(body, url=URL, max_items=2)
    digested = digest.digest(body, URL, None, None, 2)
    assert (digested.feed.dropped_items, digested.feed.empty_items) == (3, 2)
    assert (parsed.dropped_items, parsed.empty_items) == (3, 2)
