"""parse.parse_feed on bytes: RSS 0.91/1.0/2.0, Atom 1.0, JSON Feed 1.0/1.1, and non-feeds."""

from __future__ import annotations

import json
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest

from feedd import normalize
from feedd.errors import ParseError
from feedd.parse import (
    MAX_ENTITY_EXPANSION,
    MAX_ENTITY_VALUE,
    MAX_LONG_FIELD,
    MAX_SHORT_FIELD,
    parse_feed,
    parse_json_date,
    parse_json_feed,
    plain_to_html,
    strip_internal_subset,
)

DATA = Path(__file__).parents[1] / "data"
URL = "https://feeds.example.net/dir/feed.xml"

# feedparser 6 warns (DeprecationWarning) when `updated_parsed` is read from an item that
# only has a published date, then returns the published date. parse.py does that for every
# RSS item with a <pubDate>. test_rss_pubdate_only_item_has_no_updated_date covers that bug.
# Tests about other things ignore the warning so they don't all fail for the same reason.
IGNORE_UPDATED_FALLBACK = pytest.mark.filterwarnings(
    "ignore:To avoid breaking existing software:DeprecationWarning"
)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def rss(items: str, channel: str = "<title>T</title>") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<channel>{channel}{items}</channel></rss>"
    ).encode()


def atom(entries: str, feed: str = "<title>T</title>") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<feed xmlns="http://www.w3.org/2005/Atom">{feed}{entries}</feed>'
    ).encode()


def json_feed(items: list[object], version: str = "https://jsonfeed.org/version/1.1") -> bytes:
    return json.dumps({"version": version, "title": "J", "items": items}).encode()


# -- RSS 2.0


@IGNORE_UPDATED_FALLBACK
def test_rss20_item_fields():
    body = rss(
        """
        <link>https://example.com/</link><language>en-gb</language>
        <item>
          <title>First post</title>
          <link>https://example.com/posts/1</link>
          <guid isPermaLink="false">post-1</guid>
          <pubDate>Tue, 10 Jun 2003 04:00:00 +0200</pubDate>
          <author>jo@example.com (Jo)</author>
          <category>Python</category><category>feeds</category><category>Python</category>
          <description>Short &lt;b&gt;summary&lt;/b&gt;</description>
          <content:encoded><![CDATA[<p>Full <em>body</em></p>]]></content:encoded>
        </item>
        """,
        channel="<title>Example</title>",
    )
    parsed = parse_feed(body, url=URL, content_type="application/rss+xml")
    assert parsed.version == "rss20"
    assert parsed.title == "Example"
    assert parsed.site_url == "https://example.com/"
    assert parsed.language == "en-gb"
    assert parsed.warning is None
    [entry] = parsed.entries
    assert entry.id == "post-1"
    assert entry.link == "https://example.com/posts/1"
    assert entry.title == "First post"
    assert entry.summary == "Short <b>summary</b>"
    assert entry.content == "<p>Full <em>body</em></p>"
    assert entry.author == "jo@example.com (Jo)"
    assert entry.tags == ("Python", "feeds")  # repeats dropped, order kept
    # +0200 is converted to UTC.
    assert entry.published == utc(2003, 6, 10, 2, 0)
    assert entry.published.tzinfo is UTC
    assert entry.published_raw == "Tue, 10 Jun 2003 04:00:00 +0200"


@IGNORE_UPDATED_FALLBACK
def test_rss20_sample_feed():
    parsed = parse_feed((DATA / "lemon24-reader/full.rss").read_bytes(), url=URL)
    assert parsed.version == "rss20"
    assert parsed.title == "RSS Title"
    assert parsed.site_url == "http://www.example.com/main.html"
    assert [e.id for e in parsed.entries] == [
        "7bd204c6-1655-4c27-aeee-53f933c5395f",
        "00000000-1655-4c27-aeee-00000000",
    ]
    # source:only-url, source:only-title and source:empty have an id and nothing else.
    assert parsed.empty_items == 3
    first = parsed.entries[0]
    assert first.published == utc(2009, 9, 6, 16, 20)
    assert first.author == "Example editor"
    # Enclosures with an empty url are dropped; the others are kept in order.
    enclosures = dict(first.extra)["enclosures"]
    assert [href for href, _, _ in enclosures] == [
        "http://example.com/enclosure",
        "http://example.com/enclosure-with-type",
        "http://example.com/enclosure-with-length",
        "http://example.com/enclosure-with-bad-length",
    ]
    assert enclosures[1][1] == "image/jpeg"
    assert enclosures[2][2] == "100000"


def test_rss_pubdate_only_item_has_no_updated_date():
    """An RSS item gives only <pubDate>. `updated` stays None (it was never updated).

    feedparser's deprecated fallback returns the published date for `updated_parsed`
    and raises a DeprecationWarning. The suite turns warnings into errors, so the
    warning fails this test too.
    """
    body = rss(
        "<item><guid isPermaLink='false'>a</guid><title>A</title>"
        "<pubDate>Sun, 06 Sep 2009 16:20:00 +0000</pubDate></item>"
    )
    [entry] = parse_feed(body, url=URL).entries
    assert entry.published == utc(2009, 9, 6, 16, 20)
    assert entry.updated is None
    assert entry.updated_raw is None


# -- RSS 1.0 (RDF) and RSS 0.91


def test_rss10_rdf_sample():
    parsed = parse_feed((DATA / "feedparser/rss10.rdf").read_bytes(), url=URL)
    assert parsed.version == "rss10"
    assert parsed.title == "Sample Feed"
    assert parsed.site_url == "http://www.example.org/"
    assert parsed.language == "en"
    [entry] = parsed.entries
    assert entry.id == "http://www.example.org/1"
    assert entry.link == "http://example.org/archives/2002/09/04.html#first_of_all"
    assert entry.title == "First of all"
    assert entry.author == "Aaron Swartz"
    assert entry.tags == ("Politics",)
    # dc:date, -06:00, in UTC.
    assert entry.updated == utc(2004, 5, 30, 20, 23, 54)
    assert entry.content is not None
    assert entry.content.startswith("<cite>Ian Hickson</cite>")
    assert entry.summary is not None
    assert "Americans are fat." in entry.summary


def test_rss091_sample_with_netscape_doctype_entities():
    parsed = parse_feed((DATA / "feedvalidator/rss91n_entity.xml").read_bytes(), url=URL)
    assert parsed.version == "rss091n"
    assert parsed.title == "Sockenbärs Logbuch"
    [entry] = parsed.entries
    # &uuml; is defined by the RSS 0.91 DTD, not by XML; feedparser knows it.
    assert entry.title == "Und tschüss."
    assert entry.link == "http://www.xn--sockenbrlounge-cib.de/blog/246"
    assert entry.id is None
    assert entry.summary == 'Apple verkauft keine 17" G5 iMacs mehr im Online-Laden.'


def test_rss091_userland_inline():
    body = (
        b'<rss version="0.91"><channel><title>Old</title><link>http://old.example/</link>'
        b"<item><title>Item</title><link>http://old.example/1</link>"
        b"<description>Desc</description></item></channel></rss>"
    )
    parsed = parse_feed(body, url=URL)
    assert parsed.version == "rss091u"
    [entry] = parsed.entries
    assert (entry.title, entry.link, entry.summary) == ("Item", "http://old.example/1", "Desc")


# -- Atom 1.0


def test_atom10_entry_fields():
    body = atom(
        """
        <entry>
          <id>tag:example.com,2024:1</id>
          <title type="html">&lt;b&gt;Bold&lt;/b&gt; title</title>
          <link rel="alternate" href="https://example.com/a/1"/>
          <published>2024-03-01T10:00:00+05:30</published>
          <updated>2024-03-02T00:00:00Z</updated>
          <author><name>Ann</name></author>
          <category term="news"/><category term="tech" label="Technology"/>
          <summary type="text">1 &lt; 2</summary>
          <content type="xhtml">
            <div xmlns="http://www.w3.org/1999/xhtml"><p>Hi <b>there</b></p></div>
          </content>
        </entry>
        """,
        feed='<title>Atom T</title><link href="https://example.com/"/>',
    )
    parsed = parse_feed(body, url=URL, content_type="application/atom+xml")
    assert parsed.version == "atom10"
    assert parsed.title == "Atom T"
    assert parsed.site_url == "https://example.com/"
    [entry] = parsed.entries
    assert entry.id == "tag:example.com,2024:1"
    assert entry.link == "https://example.com/a/1"
    assert entry.title == "<b>Bold</b> title"
    assert entry.summary == "1 &lt; 2"  # type="text", escaped to HTML
    assert entry.content == "<p>Hi <b>there</b></p>"
    assert entry.author == "Ann"
    assert entry.tags == ("news", "tech")
    assert entry.published == utc(2024, 3, 1, 4, 30)
    assert entry.updated == utc(2024, 3, 2)
    assert entry.published_raw == "2024-03-01T10:00:00+05:30"


def test_atom10_sample_feed():
    parsed = parse_feed((DATA / "lemon24-reader/full.atom").read_bytes(), url=URL)
    assert parsed.version == "atom10"
    assert parsed.title == "Example Feed"
    assert len(parsed.entries) == 5
    first = parsed.entries[0]
    assert first.id == "urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a"
    assert first.link == "http://example.org/2003/12/13/atom03"
    assert first.published == utc(2003, 12, 13, 17, 17, 51)  # 09:17:51-08:00
    assert first.updated == utc(2003, 12, 13, 18, 30, 2)
    assert first.summary == "Some text."
    assert first.content == "content"
    assert first.author == "John Doe"
    second = parsed.entries[1]
    assert second.published is None
    assert second.updated == utc(2003, 12, 13)


def test_atom_relative_links_resolved_against_feed_url():
    # parse keeps links as the feed gave them; links + normalize make them absolute.
    from feedd.digest import entries_of

    body = atom(
        '<entry><id>urn:x:1</id><link href="posts/1"/>'
        '<content type="html">&lt;a href="../up"&gt;up&lt;/a&gt;</content></entry>'
    )
    feed_url = "https://example.com/blog/feed.xml"
    parsed = parse_feed(body, url=feed_url)
    assert parsed.entries[0].link == "posts/1"
    [entry] = entries_of(parsed, feed_url)
    assert entry.link == "https://example.com/blog/posts/1"
    assert entry.url == "https://example.com/blog/posts/1"
    assert entry.content_html == (
        '<a href="https://example.com/up" rel="noopener noreferrer nofollow">up</a>'
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(rss("<item><title>x</title><guid>abc</guid></item>"), "abc", id="rss-guid"),
        pytest.param(
            atom('<entry><id>42</id><link href="https://example.com/p"/></entry>'),
            "42",
            id="atom-id",
        ),
    ],
)
def test_item_id_is_kept_as_the_feed_gave_it(body, expected):
    """An id that is not an absolute URL stays as written.

    The id is the item's identity (normalize.entry_key says "the item's id as the feed
    gave it"). If it is resolved against the URL the feed was fetched from, every guid
    changes when the feed moves, and dedupe sees all items as new.
    """
    [entry] = parse_feed(body, url="https://example.com/dir/feed").entries
    assert entry.id == expected


# -- JSON Feed 1.0 and 1.1


def test_json_feed_11_sample():
    parsed = parse_feed((DATA / "lemon24-reader/full.json").read_bytes(), url=URL)
    assert parsed.version == "json11"
    assert parsed.title == "My Example Feed"
    assert parsed.site_url == "https://example.org/"
    assert parsed.language == "en"
    second, first = parsed.entries
    assert second.id == "2"
    assert second.link == "https://example.org/second-item"
    assert second.title == "Title"
    assert second.summary == "A summary"
    # content_html wins over content_text.
    assert second.content == 'Content with <a href="http://example.com/">link</a>'
    # The only author has no name.
    assert second.author is None
    # -07:00 and +0100 offsets, in UTC.
    assert second.published == utc(2020, 1, 2, 21, 0)
    assert second.updated == utc(2020, 1, 4, 0, 0)
    assert second.published_raw == "2020-01-02T14:00:00-07:00"
    assert dict(second.extra)["enclosures"] == (
        ("http://example.com/downloads/file.m4a", "audio/x-m4a", "12345678"),
        ("http://example.com/downloads/another.mp3", None, None),
    )
    # JSON Feed 1.0 style "author" object still read.
    assert first.author == "Jane"
    assert first.published == utc(2020, 1, 2, 12, 0)
    assert first.updated is None


def test_json_feed_10_sample():
    parsed = parse_feed((DATA / "feedparser/example.json").read_bytes(), url=URL)
    assert parsed.version == "json10"
    assert parsed.title == "My Example Feed"
    second, first = parsed.entries
    assert second.tags == ("test", "JSON")
    assert second.content == "This is a second item."
    assert dict(second.extra)["enclosures"] == (
        ("https://example.org/second-item-show.mp4", "video/mp4", "12000000"),
    )
    assert first.author == "you"
    assert first.content == "<p>Hello, world!</p>\n\n<script>alert();</script>"


def test_json_feed_authors_joined_and_fields():
    body = json_feed(
        [
            {
                "id": "a",
                "external_url": "https://elsewhere.example/story",
                "title": "T",
                "authors": [{"name": "Ann"}, {"url": "https://x.example/"}, {"name": " Bob "}],
                "tags": ["x", " y ", "x", "", 5],
                "date_published": "2024-01-15T12:00:00Z",
                "date_modified": "2024-01-15T13:30:00.250+02:00",
                "attachments": [
                    {
                        "url": "https://cdn.example/a.mp3",
                        "mime_type": "audio/mpeg",
                        "size_in_bytes": 9,
                    },
                    {"mime_type": "audio/mpeg"},
                    "junk",
                ],
            }
        ]
    )
    parsed = parse_feed(body, url=URL)
    assert parsed.version == "json11"
    [entry] = parsed.entries
    assert entry.author == "Ann, Bob"
    # No "url": external_url is the link.
    assert entry.link == "https://elsewhere.example/story"
    assert dict(entry.extra)["external_url"] == "https://elsewhere.example/story"
    assert entry.tags == ("x", "y")
    assert entry.published == utc(2024, 1, 15, 12, 0)
    assert entry.updated == datetime(2024, 1, 15, 11, 30, 0, 250000, tzinfo=UTC)
    assert dict(entry.extra)["enclosures"] == (("https://cdn.example/a.mp3", "audio/mpeg", "9"),)


def test_json_feed_version_with_trailing_slash_and_by_content_type():
    body = json.dumps({"version": "https://jsonfeed.org/version/1/", "items": []}).encode()
    assert parse_feed(body, url=URL).version == "json10"
    # Sniffed from the content type even with leading whitespace.
    assert parse_feed(b"\n  " + body, url=URL, content_type="application/feed+json").version == (
        "json10"
    )


def test_json_feed_with_utf8_bom():
    """A UTF-8 byte order mark before '{' is still JSON (RFC 8259 lets parsers ignore it)."""
    body = b"\xef\xbb\xbf" + json_feed([{"id": "1", "content_text": "x"}])
    parsed = parse_feed(body, url=URL)
    assert parsed.version == "json11"
    assert [e.id for e in parsed.entries] == ["1"]


def test_json_feed_with_wrong_types_is_read_leniently():
    body = (DATA / "lemon24-reader/invalid.json").read_bytes()
    # Six items have an id and authors, and nothing to show: parse_feed leaves them out.
    kept = parse_feed(body, url=URL)
    assert [e.id for e in kept.entries] == ["2", "3.1415"]
    assert kept.empty_items == 6
    parsed = parse_json_feed(body)
    assert parsed.version == "json11"
    assert parsed.title is None
    assert parsed.site_url is None
    assert parsed.language is None
    assert [e.id for e in parsed.entries] == [
        "2",
        "3.1415",
        "author name",
        "author url",
        "author name fallback",
        "author empty dict",
        "author empty list",
        "second author is good",
    ]
    first = parsed.entries[0]
    assert first.content is None  # content_text is a list, content_html a bool
    assert first.summary is None
    assert first.published is None  # "not a date"
    assert first.updated is None
    assert [a[0] for a in dict(first.extra)["enclosures"]] == [
        "control",
        "float size",
        "non-number size",
    ]
    assert parsed.entries[1].title == "float id"
    assert [e.author for e in parsed.entries[2:]] == [None, None, None, None, None, "Jane"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2020-01-02T12:00:00Z", utc(2020, 1, 2, 12)),
        ("2020-01-02T14:00:00-07:00", utc(2020, 1, 2, 21)),
        ("2020-01-02T12:00:00+05:30", utc(2020, 1, 2, 6, 30)),
        ("2020-01-04T01:00:00+0100", utc(2020, 1, 4)),
        ("2019-10-12T07:20:50.52Z", datetime(2019, 10, 12, 7, 20, 50, 520000, tzinfo=UTC)),
        ("2020-01-02T12:00:00", utc(2020, 1, 2, 12)),  # no offset: taken as UTC
        ("Mon, 06 Sep 2010 00:01:00 +0000", utc(2010, 9, 6, 0, 1)),  # RFC 822 fallback
        ("not a date", None),
        ("", None),
        (None, None),
        (True, None),
        ({}, None),
    ],
)
def test_parse_json_date(value, expected):
    result = parse_json_date(value)
    assert result == expected
    if result is not None:
        assert result.utcoffset() is not None
        assert result.tzinfo is UTC


# -- the contract: title/summary/content are HTML; plain text is escaped


@IGNORE_UPDATED_FALLBACK
def test_plain_text_fields_are_escaped_html():
    rss_body = rss("<item><guid>r</guid><title>Less: 1 &lt; 2 &amp; x &gt; y</title></item>")
    atom_body = atom(
        '<entry><id>urn:a</id><title type="text">Use &lt;b&gt; &amp; more</title>'
        '<summary type="text">a &lt;script&gt;x&lt;/script&gt; b</summary>'
        '<content type="text">1 &lt; 2</content></entry>'
    )
    json_body = json_feed(
        [
            {
                "id": "j",
                "title": "Use <b> & </b>",
                "summary": "1 < 2 & <i>x</i>",
                "content_text": "<script>alert(1)</script> & co",
            }
        ]
    )
    [r] = parse_feed(rss_body, url=URL).entries
    [a] = parse_feed(atom_body, url=URL).entries
    [j] = parse_feed(json_body, url=URL).entries
    assert r.title == "Less: 1 &lt; 2 &amp; x &gt; y"
    assert a.title == "Use &lt;b&gt; &amp; more"
    assert a.summary == "a &lt;script&gt;x&lt;/script&gt; b"
    assert a.content == "1 &lt; 2"
    assert j.title == "Use &lt;b&gt; &amp; &lt;/b&gt;"
    assert j.summary == "1 &lt; 2 &amp; &lt;i&gt;x&lt;/i&gt;"
    assert j.content == "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co"
    # Round trip: the text normalize extracts is the text the feed wrote.
    assert normalize.one_line(r.title) == "Less: 1 < 2 & x > y"
    assert normalize.one_line(a.title) == "Use <b> & more"
    assert normalize.html_to_text(a.summary) == "a <script>x</script> b"
    assert normalize.one_line(j.title) == "Use <b> & </b>"
    assert normalize.html_to_text(j.content) == "<script>alert(1)</script> & co"


def test_html_fields_are_not_escaped():
    body = atom(
        '<entry><id>urn:a</id><title type="html">&lt;i&gt;A&lt;/i&gt; &amp;amp; B</title>'
        '<content type="html">&lt;p&gt;x &amp;amp; y&lt;/p&gt;</content></entry>'
    )
    [entry] = parse_feed(body, url=URL).entries
    assert entry.title == "<i>A</i> &amp; B"
    assert entry.content == "<p>x &amp; y</p>"


def test_json_plain_text_paragraphs_stay_on_their_own_lines():
    body = json_feed([{"id": "1", "content_text": "First paragraph.\n\nSecond & last."}])
    [entry] = parse_feed(body, url=URL).entries
    assert normalize.html_to_text(entry.content) == "First paragraph.\nSecond & last."


# -- not feeds


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        pytest.param(b"", None, "empty body", id="empty"),
        pytest.param(b"  \r\n\t ", None, "empty body", id="whitespace"),
        pytest.param(
            (DATA / "lemon24-reader/sqlite_releases.html").read_bytes(),
            "text/html",
            "HTML page",
            id="html-sample",
        ),
        pytest.param(
            b"<!DOCTYPE html><html><head><title>Login</title></head><body>x</body></html>",
            None,
            "HTML page",
            id="html-inline",
        ),
        pytest.param(bytes(range(256)) * 4, None, "not a feed", id="garbage-bytes"),
        pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", None, "not a feed", id="png"),
        pytest.param(b"just some words, no markup", None, "not a feed", id="plain-text"),
        pytest.param(
            b'{"version": "https://jsonfeed.org/version/1.1", "items": [',
            None,
            "invalid JSON",
            id="truncated-json",
        ),
        # The body decides: a JSON content type does not make XML-looking bytes JSON.
        pytest.param(b"<rss", "application/json", "not a feed", id="json-content-type"),
        pytest.param(b'{"name": "x", "items": []}', None, "version", id="json-no-version"),
        pytest.param(
            (DATA / "lemon24-reader/unknown.json").read_bytes(),
            None,
            "https://jsonfeed.org/version/1234",
            id="json-unknown-version",
        ),
        pytest.param(
            b'{"version": "https://jsonfeed.org/version/1"}', None, "items", id="json-no-items"
        ),
        pytest.param(
            b'{"version": "https://jsonfeed.org/version/1", "items": {}}',
            None,
            "items",
            id="json-items-not-list",
        ),
        pytest.param(b"[1, 2, 3]", "application/json", "not an object", id="json-array"),
        pytest.param(
            b'{"version": "https://jsonfeed.org/version/1.1", "items": ["\xff"]}',
            None,
            "invalid JSON",
            id="json-not-utf8",
        ),
    ],
)
def test_not_a_feed_raises_parse_error(body, content_type, message):
    with pytest.raises(ParseError) as info:
        parse_feed(body, url=URL, content_type=content_type)
    text = str(info.value)
    assert message in text
    assert text == text.strip()
    assert "\n" not in text


def test_well_formed_xml_that_is_not_a_feed_says_so():
    """The message names the problem, not feedparser's complaint about a missing
    Content-Type (which every body parsed without one gets)."""
    body = b'<?xml version="1.0"?><note><to>Tove</to><body>Hi</body></note>'
    with pytest.raises(ParseError) as info:
        parse_feed(body, url=URL)
    message = str(info.value)
    assert message.startswith("not a feed")
    assert "Content-type" not in message
    assert "NonXMLContentType" not in message


# -- empty but valid feeds


@pytest.mark.parametrize(
    ("body", "version"),
    [
        pytest.param(rss(""), "rss20", id="rss20"),
        pytest.param(rss("", channel=""), "rss20", id="rss20-no-title"),
        pytest.param(atom(""), "atom10", id="atom10"),
        pytest.param(atom("", feed=""), "atom10", id="atom10-no-title"),
        pytest.param((DATA / "lemon24-reader/10.json").read_bytes(), "json10", id="json10-sample"),
        pytest.param(json_feed([]), "json11", id="json11"),
    ],
)
def test_empty_valid_feed_has_no_entries(body, version):
    parsed = parse_feed(body, url=URL)
    assert parsed.version == version
    assert parsed.entries == ()


# -- hostile XML


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
<!ENTITY lol "lol">
<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>&lol9;</title>
<item><guid isPermaLink="false">g</guid><title>&lol9;</title>
<description>&lol9;</description></item>
</channel></rss>"""

QUADRATIC_BLOWUP = (
    b'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY a "'
    + b"A" * 50_000
    + b'">]>\n<rss version="2.0"><channel><title>t</title><item>'
    + b'<guid isPermaLink="false">g</guid><description>'
    + b"&a;" * 5_000
    + b"</description></item></channel></rss>"
)


def _everything(parsed) -> str:
    return repr(parsed)


@pytest.mark.parametrize("body", [BILLION_LAUGHS, QUADRATIC_BLOWUP], ids=["billion", "quadratic"])
def test_entity_expansion_is_not_performed(body):
    # An expanding parser would not finish (pytest-timeout ends it) or would
    # return megabytes of text.
    try:
        parsed = parse_feed(body, url=URL)
    except ParseError:
        return  # refusing the document is fine too
    text = _everything(parsed)
    assert "lollol" not in text
    assert "AAAAAAAAAA" not in text
    assert len(text) < 200_000


def _xxe_documents(target: str) -> list[bytes]:
    return [
        (
            f'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{target}">]>\n'
            '<rss version="2.0"><channel><title>t &xxe;</title><item>'
            '<guid isPermaLink="false">g</guid><title>x &xxe;</title>'
            "<description>d &xxe;</description></item></channel></rss>"
        ).encode(),
        (
            f'<?xml version="1.0"?>\n<!DOCTYPE feed [<!ENTITY xxe SYSTEM "{target}">]>\n'
            '<feed xmlns="http://www.w3.org/2005/Atom"><title>&xxe;</title>'
            '<entry><id>urn:x</id><title>&xxe;</title><content type="html">&xxe;</content>'
            "</entry></feed>"
        ).encode(),
        (
            f'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY % ext SYSTEM "{target}"> %ext; ]>\n'
            '<rss version="2.0"><channel><title>t</title><item><guid isPermaLink="false">g'
            "</guid><title>x</title></item></channel></rss>"
        ).encode(),
        (
            f'<?xml version="1.0"?>\n<!DOCTYPE rss SYSTEM "{target}">\n'
            '<rss version="2.0"><channel><title>t</title><item><guid isPermaLink="false">g'
            "</guid><title>x</title></item></channel></rss>"
        ).encode(),
    ]


@pytest.mark.parametrize("index", range(4), ids=["rss", "atom", "parameter", "dtd"])
def test_external_entities_are_not_read(index):
    marker = DATA / "xxe-marker.txt"
    marker_text = marker.read_text().split(":")[0]
    for target in ("file:///etc/passwd", marker.as_uri()):
        body = _xxe_documents(target)[index]
        try:
            parsed = parse_feed(body, url=URL)
        except ParseError:
            continue
        text = _everything(parsed)
        assert "root:" not in text
        assert marker_text not in text


def test_a_body_that_is_a_local_path_is_not_opened():
    # feedparser reads a bytes argument as a file name if one exists by that name.
    path = str((DATA / "lemon24-reader" / "full.rss").resolve()).encode()
    with pytest.raises(ParseError):
        parse_feed(path, url=URL)


def test_an_undefined_html_entity_does_not_fail_an_empty_feed():
    body = (
        b'<?xml version="1.0"?><rss version="2.0">'
        b"<channel><title>Caf&eacute;</title></channel></rss>"
    )
    parsed = parse_feed(body, url=URL)
    assert parsed.entries == ()
    assert parsed.title == "Caf\u00e9"


def test_a_truncated_feed_with_no_items_fails():
    with pytest.raises(ParseError, match="not well-formed and no items"):
        parse_feed(b"<rss version='2.0'><channel><title>Broken", url=URL)


# -- entity expansion and oversized fields


def quadratic_blowup(entity_size: int = 50_000, references: int = 10_000) -> bytes:
    """One big internal entity referenced many times: ~0.5 MB that would expand to
    entity_size x references (here 500 MB) if the entity were honoured."""
    return (
        '<?xml version="1.0"?>\n'
        f'<!DOCTYPE rss [\n<!ENTITY e "{"a" * entity_size}">\n]>\n'
        '<rss version="2.0"><channel><title>Q</title>'
        f"<item><guid>q1</guid><title>Boom &e;</title><description>{'&e;' * references}"
        "</description></item></channel></rss>"
    ).encode()


@pytest.mark.timeout(60)  # a hang guard, not a speed target: unguarded, this takes minutes
def test_quadratic_entity_blowup_is_defused():
    body = quadratic_blowup()
    assert len(body) < 100_000
    tracemalloc.start()
    try:
        parsed = parse_feed(body, url=URL)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    (entry,) = parsed.entries
    assert entry.id == "q1"
    assert "a" * 1000 not in _everything(parsed)  # the entity was never expanded
    assert peak < 50 * 2**20, f"peak {peak / 2**20:.0f} MiB"


def test_internal_subset_is_stripped_but_the_doctype_kept():
    public = (
        b'PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
        b'"http://my.netscape.com/publish/formats/rss-0.91.dtd"'
    )
    body = b'<?xml version="1.0"?>\n<!DOCTYPE rss %s [ <!ENTITY x "]>"> ]>\n<rss/>' % public
    assert (
        strip_internal_subset(body) == b'<?xml version="1.0"?>\n<!DOCTYPE rss %s>\n<rss/>' % public
    )


def test_a_doctype_inside_the_content_is_left_alone():
    channel = b"<rss><channel><title>t</title><description>%s</description></channel></rss>"
    body = channel % b"&lt;!DOCTYPE x [ ]&gt;"
    assert strip_internal_subset(body) == body
    cdata = channel % b"<![CDATA[<!DOCTYPE x [<!ENTITY a 'b'>]>]]>"
    assert strip_internal_subset(cdata) == cdata


@pytest.mark.parametrize("size", [100, MAX_ENTITY_VALUE + 1])
def test_utf16_document_with_an_internal_subset(size):
    text = (
        quadratic_blowup(size, 10)
        .decode()
        .replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="utf-16"?>')
    )
    parsed = parse_feed(text.encode("utf-16"), url=URL)
    [entry] = parsed.entries
    assert entry.id == "q1"
    if size <= MAX_ENTITY_VALUE:  # a short entity is expanded, as in a UTF-8 document
        assert entry.title == "Boom " + "a" * size
    else:  # a long one is not
        assert entry.title == "Boom"
        assert "a" * 1000 not in _everything(parsed)


def test_fields_are_capped():
    title = "T" * (MAX_SHORT_FIELD + 10)
    content = "<p>" + "word " * (MAX_LONG_FIELD // 5 + 100) + "</p>"
    body = rss(f"<item><guid>g</guid><title>{title}</title><description><![CDATA[{content}]]>"
               "</description></item>")  # fmt: skip
    (entry,) = parse_feed(body, url=URL).entries
    assert len(entry.title or "") == MAX_SHORT_FIELD
    assert len(entry.summary or "") == MAX_LONG_FIELD


def test_ttl_and_syndication_hints():
    sy = 'xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"'

    def hint(channel: str) -> float | None:
        body = rss("", f"<title>T</title>{channel}").replace(
            b'version="2.0"', f'version="2.0" {sy}'.encode()
        )
        return parse_feed(body, url=URL).ttl

    assert hint("<ttl>60</ttl>") == 3600
    assert hint("<sy:updatePeriod>daily</sy:updatePeriod>") == 86400
    assert (
        hint("<sy:updatePeriod>hourly</sy:updatePeriod><sy:updateFrequency>4</sy:updateFrequency>")
        == 900
    )
    assert hint("<ttl>30</ttl><sy:updatePeriod>hourly</sy:updatePeriod>") == 3600  # the longer
    assert hint("<ttl>soon</ttl><sy:updatePeriod>often</sy:updatePeriod>") is None
    assert hint("<ttl>0</ttl>") is None
    assert hint("") is None


@pytest.mark.parametrize("declared", ["utf-16", "UTF-16LE", "utf-32", "ucs-2"])
@pytest.mark.parametrize("padding", [b"", b"\n"])  # feedparser believed it at even lengths
def test_single_byte_document_declaring_a_wide_encoding(declared, padding):
    body = (
        f'<?xml version="1.0" encoding="{declared}"?>\n<rss version="2.0"><channel><title>T'
        "</title><item><guid>a</guid><title>A</title></item></channel></rss>"
    ).encode() + padding
    assert [e.id for e in parse_feed(body, url=URL).entries] == ["a"]


# -- where feedparser disagrees with the feeds' own test suites (gofeed, feedparser)


def test_a_link_attribute_that_is_no_web_address_gives_way_to_the_text():
    """gofeed's fixture: <link uri="at://...">http://example.com/item</link>."""
    body = (DATA / "gofeed/rss_channel_item_uri_at_protocol.xml").read_bytes()
    [entry] = parse_feed(body, url=URL).entries
    assert entry.link == "http://example.com/item"


def test_link_attribute_or_text():
    """The text stands in for an attribute that is no web address, and only then."""
    cases = {
        '<link href="at://did:plc:x/post/1">https://e.x/a</link>': "https://e.x/a",
        '<link href="https://e.x/attribute">https://e.x/text</link>': "https://e.x/attribute",
        '<link href="posts/1"/>': "posts/1",  # relative: made absolute later, as before
    }
    for link, expected in cases.items():
        body = atom(f"<entry><id>urn:x:1</id><title>T</title>{link}</entry>")
        [entry] = parse_feed(body, url=URL).entries
        assert entry.link == expected, link


def test_an_enclosure_keeps_its_address_whatever_its_scheme():
    body = atom(
        '<entry><id>urn:x:1</id><title>T</title><link href="at://x/1">https://e.x/1</link>'
        '<link rel="enclosure" type="application/x-bittorrent" href="magnet:?xt=urn:1"/></entry>'
    )
    [entry] = parse_feed(body, url=URL).entries
    assert entry.link == "https://e.x/1"
    assert dict(entry.extra)["enclosures"] == (
        ("magnet:?xt=urn:1", "application/x-bittorrent", None),
    )


@pytest.mark.parametrize(
    "name",
    [
        "atom10/entry_link_rel_enclosure_no_href.xml",
        "atom10/entry_link_no_href_link_priority.xml",
        "atom/entry_link_rel_enclosure_no_href.xml",
        "atom/entry_link_no_href_link_priority.xml",
    ],
)
def test_the_alternate_link_wins_over_an_enclosure_in_either_order(name):
    """feedparser's fixtures (Expect: entries[0]['link'] == entries[1]['link'] ==
    'http://www.example.com/alternate'), which feedparser 6.0 itself fails."""
    parsed = parse_feed((DATA / "feedparser" / name).read_bytes(), url=URL)
    assert [e.link for e in parsed.entries] == ["http://www.example.com/alternate"] * 2


def test_of_several_alternate_links_the_html_one():
    body = atom(
        "<entry><id>urn:x:1</id><title>T</title>"
        '<link rel="alternate" type="text/html; charset=utf-8" href="https://e.x/page"/>'
        '<link rel="alternate" type="application/json" href="https://e.x/page.json"/>'
        '<link rel="enclosure" href="https://e.x/a.mp3"/></entry>'
    )
    [entry] = parse_feed(body, url=URL).entries
    assert entry.link == "https://e.x/page"


def test_an_id_under_xml_base_is_kept_as_given():
    """reddit's Atom: an xml:base on <content> leaks to the <id> after it, and
    feedparser made <id>t3_42tizy</id> "/t3_42tizy"."""
    body = atom(
        '<entry><title>T</title><content type="xhtml" xml:base="/.rss?limit=50">'
        '<div xmlns="http://www.w3.org/1999/xhtml">x</div></content><id> t3_42tizy </id>'
        '<link href="https://www.reddit.com/r/x/comments/42tizy/"/></entry>'
    )
    [entry] = parse_feed(body, url=URL).entries
    assert entry.id == "t3_42tizy"


def test_a_relative_permalink_guid_is_kept_and_its_link_resolved_against_xml_base():
    body = (
        b'<rss version="2.0" xml:base="https://example.com/blog/"><channel><title>T</title>'
        b"<item><title>A</title><guid>posts/1</guid></item></channel></rss>"
    )
    [entry] = parse_feed(body, url=URL).entries
    assert entry.id == "posts/1"
    assert entry.link == "https://example.com/blog/posts/1"


# -- the document's own entities


def test_a_simple_internal_entity_is_expanded():
    """feedparser's entity_in_doctype.xml (Expect: entries[0]['guid'] ==
    'tag:example.com,2006-05-04:/blog/')."""
    body = (DATA / "feedparser/rss/entity_in_doctype.xml").read_bytes()
    expanded = strip_internal_subset(body)
    assert b"<guid isPermaLink='false'>tag:example.com,2006-05-04:/blog/</guid>" in expanded
    assert b"ENTITY" not in expanded
    # The item has a guid and nothing else, so parse_feed leaves it out; given a title:
    [entry] = parse_feed(body.replace(b"</guid>", b"</guid><title>T</title>"), url=URL).entries
    assert entry.id == "tag:example.com,2006-05-04:/blog/"


def test_entities_are_expanded_outside_cdata_and_comments_only():
    body = (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n'
        b'  <!ENTITY id "tag:x,">\n  <!ENTITY id "ignored: the first declaration counts">\n'
        b"  <!ENTITY co 'AT&amp;T &#233;'>\n"
        b'  <!ENTITY ext SYSTEM "file:///etc/passwd">\n'
        b'  <!ENTITY nested "&id;&id;">\n'
        b'  <!ENTITY % param "x">\n'
        b"]>\n"
        b"<rss><guid>&id;1</guid><t a='&co;'>&co; &ext;|&nested;|&eacute;&amp;</t>"
        b"<!-- &id; --><![CDATA[&id;]]></rss>"
    )
    assert strip_internal_subset(body) == (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss>\n'
        b"<rss><guid>tag:x,1</guid><t a='AT&amp;T &#233;'>AT&amp;T &#233; ||&eacute;&amp;</t>"
        b"<!-- &id; --><![CDATA[&id;]]></rss>"
    )


def test_a_declared_entity_never_stays_a_raw_reference():
    body = (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">'
        b'<!ENTITY big "' + b"b" * (MAX_ENTITY_VALUE + 1) + b'">]>\n'
        b'<rss version="2.0"><channel><title>t</title><item><guid isPermaLink="false">g&xxe;'
        b"</guid><title>x &xxe;&big;</title><description>d &xxe;</description></item>"
        b"</channel></rss>"
    )
    [entry] = parse_feed(body, url=URL).entries
    assert (entry.id, entry.title, entry.summary) == ("g", "x", "d")


@pytest.mark.timeout(60)
def test_many_references_to_a_short_entity_expand_within_a_budget():
    """Quadratic blow-up with entities under the size cap: 4,000 bytes x 100,000
    references would be 400 MB; the total expansion is bounded instead."""
    body = quadratic_blowup(entity_size=4_000, references=100_000)
    assert len(body) < 500_000
    tracemalloc.start()
    try:
        parsed = parse_feed(body, url=URL)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    [entry] = parsed.entries
    assert entry.title == "Boom " + "a" * 4_000
    assert len(_everything(parsed)) < 2 * MAX_ENTITY_EXPANSION
    assert peak < 50 * 2**20, f"peak {peak / 2**20:.0f} MiB"


@pytest.mark.timeout(20)  # a scan that restarted at every unterminated section would not end
def test_unterminated_sections_do_not_make_expansion_quadratic():
    body = (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY e "x">]>\n<rss>&e;'
        + b"<!--"
        + b"<![CDATA[" * 100_000
    )
    assert strip_internal_subset(body).startswith(b'<?xml version="1.0"?>\n<!DOCTYPE rss>\n<rss>x')


# -- media descriptions are the media's


MEDIA_RSS = (
    '<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/" '
    'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>T</title>'
    "{}</channel></rss>"
)


@pytest.mark.parametrize(
    ("item", "summary", "content"),
    [
        pytest.param(
            "<description>The story.</description>"
            '<media:content url="https://e.x/a.jpg" medium="image"/>'
            "<media:description>A caption.</media:description>",
            "The story.",
            None,
            id="caption-after-description",  # NYT
        ),
        pytest.param(
            "<media:group><media:description>A caption.</media:description>"
            '<media:content url="https://e.x/a.jpg"/></media:group>'
            "<description>The story.</description>",
            "The story.",
            None,
            id="caption-in-group-before-description",
        ),
        pytest.param(
            "<description>The story.</description>"
            '<media:description type="html">A &lt;b&gt;caption&lt;/b&gt;.</media:description>'
            "<content:encoded><![CDATA[<p>The whole story.</p>]]></content:encoded>",
            "The story.",
            "<p>The whole story.</p>",
            id="caption-between-description-and-content",
        ),
        pytest.param(
            '<media:content url="https://e.x/v.mp4"><media:title>Video</media:title>'
            "<media:description>What the video shows.\n\nMore.</media:description>"
            "</media:content>",
            "<p>What the video shows.</p>\n<p>More.</p>",
            None,
            id="media-only-item-described-by-its-media",  # YouTube
        ),
    ],
)
def test_a_media_description_is_never_the_items_text_when_it_has_one(item, summary, content):
    body = MEDIA_RSS.format(f"<item><title>Story</title><guid>g</guid>{item}</item>").encode()
    [entry] = parse_feed(body, url=URL).entries
    assert (entry.title, entry.summary, entry.content) == ("Story", summary, content)


# -- text that is not HTML keeps its paragraphs


def test_plain_text_paragraphs_become_p_elements():
    assert plain_to_html("One\nline.\n\n \nTwo & <three>.") == (
        "<p>One<br>\nline.</p>\n<p>Two &amp; &lt;three&gt;.</p>"
    )
    assert plain_to_html("One\nparagraph") == "One<br>\nparagraph"


MARKDOWN = (
    "Intro paragraph, &amp; more.\n\n## A heading\n\nA list:\n- one\n- two\n\n"
    "Last &lt;b&gt; paragraph."
)


def test_markdown_in_content_encoded_keeps_its_paragraphs():
    """A static site generator's content:encoded holding Markdown source: HTML-typed,
    no tag at all, blank-line paragraphs."""
    from feedd.digest import entries_of

    encoded = MARKDOWN.replace("&", "&amp;")
    body = rss(f"<item><title>T</title><content:encoded>{encoded}</content:encoded></item>")
    parsed = parse_feed(body, url=URL)
    [raw] = parsed.entries
    assert raw.content == (
        "<p>Intro paragraph, &amp; more.</p>\n<p>## A heading</p>\n"
        "<p>A list:<br>\n- one<br>\n- two</p>\n<p>Last &lt;b&gt; paragraph.</p>"
    )
    [entry] = entries_of(parsed, URL)
    assert entry.content_text == (
        "Intro paragraph, & more.\n## A heading\nA list:\n- one\n- two\nLast <b> paragraph."
    )
    assert entry.content_html is not None
    assert entry.content_html.count("<p>") == 4
    # HTML with tags is HTML, blank lines or not.
    html_value = "<p>a</p>\n\n<p>b\nc</p>"
    body = rss(f"<item><title>T</title><description><![CDATA[{html_value}]]></description></item>")
    assert parse_feed(body, url=URL).entries[0].summary == html_value


def test_markdown_typed_atom_content_is_text():
    body = atom(
        '<entry><id>urn:x:1</id><title>T</title><content type="text/markdown">'
        "a &lt; b\n\n*c*</content></entry>"
    )
    [entry] = parse_feed(body, url=URL).entries
    assert entry.content == "<p>a &lt; b</p>\n<p>*c*</p>"


# -- items with nothing in them


def test_an_item_with_nothing_to_show_is_left_out_and_counted():
    """node-feedparser's illegally-nested.xml: an <item /> inside each item."""
    body = rss(
        "<item><title>A</title><item /><description>d</description></item>"
        "<item><guid isPermaLink='false'>only-an-id</guid>"
        "<pubDate>Sun, 06 Sep 2009 16:20:00 +0000</pubDate></item>"
        "<item><enclosure url='https://e.x/a.mp3' type='audio/mpeg' length='1'/></item>"
    )
    parsed = parse_feed(body, url=URL)
    assert [(e.title, e.id) for e in parsed.entries] == [("A", None), (None, None)]
    assert dict(parsed.entries[1].extra)["enclosures"][0][0] == "https://e.x/a.mp3"
    assert parsed.empty_items == 2


def test_a_json_item_with_nothing_to_show_is_left_out_and_counted():
    parsed = parse_feed(json_feed([{"id": "1"}, {"id": "2", "title": "T"}, {}]), url=URL)
    assert [e.id for e in parsed.entries] == ["2"]
    assert parsed.empty_items == 2


def _dated_items(days: list[int | None]) -> bytes:
    items = "".join(
        f"<item><title>Item {n}</title><link>https://e.x/{n}</link>"
        + (f"<pubDate>{day:02d} Jan 2024 10:00:00 GMT</pubDate>" if day else "")
        + "</item>"
        for n, day in enumerate(days)
    )
    return f'<rss version="2.0"><channel><title>T</title>{items}</channel></rss>'.encode()


def test_items_beyond_max_items_are_left_out_oldest_first_and_counted():
    body = _dated_items([5, 20, None, 9, 30, 1])
    parsed = parse_feed(body, url=URL, max_items=3)
    # The three newest by date, in document order; the undated one counts as oldest.
    assert [e.title for e in parsed.entries] == ["Item 1", "Item 3", "Item 4"]
    assert parsed.dropped_items == 3
    assert parse_feed(body, url=URL, max_items=6).dropped_items == 0


def test_undated_items_are_kept_in_document_order_when_none_has_a_date():
    parsed = parse_feed(_dated_items([None] * 5), url=URL, max_items=2)
    assert [e.title for e in parsed.entries] == ["Item 0", "Item 1"]
    assert parsed.dropped_items == 3


def test_a_blank_before_the_xml_declaration_does_not_make_the_document_html():
    # Ill-formed XML: feedparser would fall back to its lenient parser, which
    # leaves "amp;" in categories. Every reader reads such a feed as XML.
    body = (
        b'\n\n<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>T</title>'
        b"<item><title>A</title><link>https://e.x/a</link>"
        b"<category>Arts &amp; Culture</category></item></channel></rss>"
    )
    parsed = parse_feed(body, url=URL)
    assert parsed.warning is None
    assert parsed.entries[0].tags == ("Arts & Culture",)
    assert parse_feed(body.lstrip(), url=URL) == parsed
