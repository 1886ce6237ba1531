"""OPML reading (lenient) and writing, on bytes: real files from tests/data/opml and fragments."""

from __future__ import annotations

from pathlib import Path

import pytest

from feedd.opml import OpmlError, OpmlFeed, feed_key, parse_opml, render_opml

DATA = Path(__file__).parents[1] / "data"
OPML = DATA / "opml"


def opml(body: str, head: str = "") -> bytes:
    return (
        f'<?xml version="1.0"?><opml version="2.0"><head>{head}</head><body>{body}</body></opml>'
    ).encode()


def urls_and_tags(document) -> dict[str, tuple[str, ...]]:
    return {feed.url: feed.tags for feed in document.feeds}


def test_well_formed_file_with_a_folder():
    document = parse_opml((OPML / "Indonesia.opml").read_bytes())
    assert document.title == "Export from Plenary"
    assert document.feeds == (
        OpmlFeed("https://www.republika.co.id/rss/", "Republika Online RSS Feed", ("Indonesia",)),
        OpmlFeed("https://www.tribunnews.com/rss", "Tribunnews.com", ("Indonesia",)),
        OpmlFeed("https://www.merdeka.com/feed/", "Merdeka.com", ("Indonesia",)),
        OpmlFeed("https://www.suara.com/rss", "Suara.com", ("Indonesia",)),
    )
    assert document.skipped == ()
    assert document.repairs == ()


def test_raw_ampersand_in_a_description_is_repaired():
    document = parse_opml((OPML / "Nigeria.opml").read_bytes())
    assert len(document.feeds) == 10
    assert all(feed.tags == ("Nigeria",) for feed in document.feeds)
    assert "https://www.legit.ng/rss/all.rss" in urls_and_tags(document)
    assert document.repairs == ("1 raw '&' escaped",)
    assert document.skipped == ()


def test_raw_quotes_and_html_in_attributes_are_repaired():
    document = parse_opml((OPML / "History.opml").read_bytes())
    feeds = urls_and_tags(document)
    assert len(feeds) == 11
    # description="In "Hardcore History" journalist ..." would otherwise lose this feed
    assert feeds["https://feeds.feedburner.com/dancarlin/history?format=xml"] == ("History",)
    assert any("raw quotes" in repair for repair in document.repairs)
    assert document.skipped == ()


def test_raw_ampersand_in_xml_url_is_kept_whole():
    # lxml's own recovery would drop "&b" and give ?a=1=2.
    document = parse_opml(opml('<outline text="A & B" xmlUrl="https://e.org/f?a=1&b=2"/>'))
    assert document.feeds == (OpmlFeed("https://e.org/f?a=1&b=2", "A & B", ()),)
    assert document.repairs == ("2 raw '&' escaped",)


def test_escaped_ampersand_and_character_references():
    document = parse_opml(
        opml('<outline text="Caf&#233; &amp; more" xmlUrl="https://e.org/f?a=1&amp;b=2"/>')
    )
    assert document.feeds == (OpmlFeed("https://e.org/f?a=1&b=2", "Café & more", ()),)
    assert document.repairs == ()


def test_html_entities_become_characters_and_unknown_ones_stay_as_text():
    document = parse_opml(
        opml('<outline text="a&nbsp;b &QUOT; &bogus;" xmlUrl="https://e.org/f"/>')
    )
    # attribute values are whitespace-normalized (the no-break space too)
    assert document.feeds[0].title == 'a b " &bogus;'
    assert len(document.repairs) == 2


def test_nested_folders_and_category_become_tags():
    document = parse_opml(
        opml(
            '<outline text="News"><outline title="World">'
            '<outline text="A" xmlUrl="https://a.example/feed" category="/Europe/Politics,tech"/>'
            "</outline></outline>"
            '<outline text="B" xmlUrl="https://b.example/feed"/>'
        )
    )
    assert urls_and_tags(document) == {
        "https://a.example/feed": ("News", "World", "Europe", "Politics", "tech"),
        "https://b.example/feed": (),
    }


def test_duplicates_are_merged_with_their_tags():
    document = parse_opml(
        opml(
            '<outline text="Tech"><outline text="A" xmlUrl="https://a.example/feed"/></outline>'
            '<outline text="Fun"><outline text="A again" xmlUrl="HTTPS://A.example:443/feed"/>'
            "</outline>"
        )
    )
    assert document.feeds == (OpmlFeed("https://a.example/feed", "A", ("Tech", "Fun")),)


def test_outlines_that_are_not_feeds_are_skipped_with_the_reason():
    document = parse_opml(
        opml(
            '\n<outline text="ftp" xmlUrl="ftp://e.org/feed"/>'
            '\n<outline text="empty" xmlUrl=""/>'
            '\n<outline text="a link" type="link" url="https://e.org/page"/>'
            '\n<outline text="no host" xmlUrl="https:///feed"/>'
            '\n<outline text="javascript" xmlUrl="javascript:alert(1)"/>'
            '\n<outline text="ok" xmlUrl="https://e.org/feed"/>'
        )
    )
    assert [feed.url for feed in document.feeds] == ["https://e.org/feed"]
    reasons = [str(skipped) for skipped in document.skipped]
    assert reasons == [
        "line 2: skipped outline 'ftp': xmlUrl is not http(s): 'ftp://e.org/feed'",
        "line 3: skipped outline 'empty': empty xmlUrl",
        "line 4: skipped outline 'a link': no xmlUrl (it links to 'https://e.org/page', "
        "not a feed)",
        "line 5: skipped outline 'no host': xmlUrl has no host: 'https:///feed'",
        "line 6: skipped outline 'javascript': xmlUrl is not http(s): 'javascript:alert(1)'",
    ]


def test_attribute_names_in_any_case():
    document = parse_opml(opml('<outline TEXT="A" xmlurl="https://a.example/feed"/>'))
    assert document.feeds == (OpmlFeed("https://a.example/feed", "A", ()),)


def test_wrong_encoding_is_read_as_windows_1252():
    body = opml('<outline text="Caf\xe9" xmlUrl="https://e.org/f"/>').replace(
        "Café".encode(), b"Caf\xe9"
    )
    document = parse_opml(body)
    assert document.feeds[0].title == "Café"
    assert any("Windows-1252" in repair for repair in document.repairs)


def test_declared_encoding_is_used():
    body = (
        '<?xml version="1.0" encoding="ISO-8859-1"?><opml><body>'
        '<outline text="Café" xmlUrl="https://e.org/f"/></body></opml>'
    ).encode("latin-1")
    document = parse_opml(body)
    assert document.feeds[0].title == "Café"
    assert document.repairs == ()


def test_utf16_with_bom():
    body = opml('<outline text="Ω" xmlUrl="https://e.org/f"/>').decode().encode("utf-16")
    assert parse_opml(body).feeds[0].title == "Ω"


def test_external_entities_are_never_read():
    marker = DATA / "xxe-marker.txt"
    body = (
        f'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY xxe SYSTEM "file://{marker}">'
        '<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        '<opml><body><outline text="&xxe;&lol2;" xmlUrl="https://e.org/f"/></body></opml>'
    ).encode()
    document = parse_opml(body)
    assert len(document.feeds) == 1
    title = document.feeds[0].title or ""
    assert marker.read_text().strip() not in title
    assert "lollol" not in title
    assert any("DOCTYPE" in repair for repair in document.repairs)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty document"),
        (b"   \n", "empty document"),
        (b"<html><body><p>hi</p></body></html>", "not an OPML document"),
        (b'<?xml version="1.0"?><opml version="2.0"><head/></opml>', "no <body> element"),
        (b"just some text", "no XML document found"),
    ],
)
def test_documents_that_are_not_opml_raise(body, message):
    with pytest.raises(OpmlError, match=message):
        parse_opml(body)


def test_truncated_document_keeps_what_was_read():
    body = opml('<outline text="A" xmlUrl="https://a.example/feed"/>')[: -len("</body></opml>")]
    document = parse_opml(body + b'<outline text="B" xmlUrl="https://b.example/f')
    assert [feed.url for feed in document.feeds] == ["https://a.example/feed"]
    assert any("not well-formed" in repair for repair in document.repairs)


def test_render_nests_tags_as_folders_and_round_trips():
    feeds = [
        OpmlFeed("https://a.example/feed", "A & A", ("news", "world")),
        OpmlFeed("https://b.example/feed?x=1&y=2", None, ("news",)),
        OpmlFeed("https://c.example/feed", 'C "quoted" <c>', ()),
        OpmlFeed("https://d.example/feed", "D", ("news", "world")),
        OpmlFeed("https://e.example/feed", "E", ("a/b", "x,y")),
    ]
    rendered = render_opml(feeds, title="mine")
    assert rendered.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">')
    assert rendered.count(b'text="news"') == 1
    assert rendered.count(b'text="world"') == 1
    document = parse_opml(rendered)
    assert document.title == "mine"
    assert document.repairs == ()
    assert document.skipped == ()
    assert document.feeds == (
        OpmlFeed("https://a.example/feed", "A & A", ("news", "world")),
        OpmlFeed("https://d.example/feed", "D", ("news", "world")),
        OpmlFeed("https://b.example/feed?x=1&y=2", None, ("news",)),
        OpmlFeed("https://c.example/feed", 'C "quoted" <c>', ()),
        OpmlFeed("https://e.example/feed", "E", ("a/b", "x,y")),
    )


def test_round_trip_of_the_sample_files():
    for path in sorted(OPML.glob("*.opml")):
        first = parse_opml(path.read_bytes())
        again = parse_opml(render_opml(first.feeds))
        assert again.feeds == first.feeds, path.name


def test_feed_key_ignores_case_of_scheme_and_host_and_default_port():
    assert feed_key("HTTPS://Example.ORG:443/Feed") == feed_key("https://example.org/Feed")
    assert feed_key("http://example.org:8080/f") != feed_key("http://example.org/f")
