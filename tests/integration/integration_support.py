"""Sample documents and database readers shared by the integration tests.

Not a conftest: plain helpers, imported by name (pytest puts this folder on
sys.path because it has no __init__.py).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from feedd.types import Fetched


@contextmanager
def reader(path: Path) -> Iterator[sqlite3.Connection]:
    """A second connection to the database, as sqlite3 or Datasette would open it."""
    with closing(sqlite3.connect(path)) as conn:
        conn.row_factory = sqlite3.Row
        yield conn


def rows(path: Path, sql: str, *params: object) -> list[dict[str, object]]:
    with reader(path) as conn:
        return [dict(row) for row in conn.execute(sql, params)]


def one(path: Path, sql: str, *params: object) -> dict[str, object]:
    found = rows(path, sql, *params)
    assert len(found) == 1, found
    return found[0]


def scalar(path: Path, sql: str, *params: object) -> object:
    with reader(path) as conn:
        return conn.execute(sql, params).fetchone()[0]


@dataclass(frozen=True)
class Item:
    guid: str
    title: str
    link: str
    description: str = "<p>Body text</p>"
    pub_date: str = "Tue, 02 Jan 2024 10:30:00 +0200"


def rss20(*items: Item, title: str = "Example RSS", site: str = "https://rss.example/") -> bytes:
    """An RSS 2.0 document; descriptions are HTML, escaped as RSS does."""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<rss version="2.0"><channel>',
        f"<title>{escape(title)}</title><link>{escape(site)}</link>",
        "<language>en-gb</language><description>An example</description>",
    ]
    for item in items:
        parts.append(
            f"<item><title>{escape(item.title)}</title><link>{escape(item.link)}</link>"
            f'<guid isPermaLink="false">{escape(item.guid)}</guid>'
            f"<pubDate>{item.pub_date}</pubDate>"
            f"<description>{escape(item.description)}</description></item>"
        )
    parts.append("</channel></rss>")
    return "\n".join(parts).encode("utf-8")


RSS20_FIRST = Item(
    guid="rss-1",
    title="First & best",
    link="https://rss.example/posts/1?utm_source=feed&id=7",
    description="<p>Hello <b>world</b></p><script>alert(1)</script>",
    pub_date="Tue, 02 Jan 2024 10:30:00 +0200",
)
RSS20_SECOND = Item(
    guid="rss-2",
    title="Second",
    link="https://rss.example/posts/2",
    description="<p>Zebras gallop</p><p>across the plain</p>",
    pub_date="Wed, 03 Jan 2024 00:00:00 GMT",
)

RSS10 = b"""<?xml version="1.0" encoding="utf-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://rdf.example/">
    <title>Example RDF</title>
    <link>https://rdf.example/</link>
    <description>An RSS 1.0 channel</description>
    <dc:language>fr</dc:language>
    <items><rdf:Seq><rdf:li rdf:resource="https://rdf.example/a"/></rdf:Seq></items>
  </channel>
  <item rdf:about="https://rdf.example/a">
    <title>RDF item</title>
    <link>https://rdf.example/a</link>
    <description>An RDF description about lemurs</description>
    <dc:date>2024-02-03T04:05:06-05:00</dc:date>
    <dc:creator>Rita</dc:creator>
  </item>
</rdf:RDF>
"""

ATOM10 = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://atom.example/">
  <title type="text">Example Atom</title>
  <link rel="alternate" href="https://atom.example/"/>
  <id>urn:uuid:60a76c80-d399-11d9-b93C-0003939e0af6</id>
  <updated>2024-03-05T00:00:00Z</updated>
  <entry>
    <title type="html">Atom &lt;em&gt;entry&lt;/em&gt;</title>
    <link rel="alternate" href="entries/1"/>
    <id>tag:atom.example,2024:1</id>
    <published>2024-03-04T05:06:07+01:00</published>
    <updated>2024-03-05T00:00:00Z</updated>
    <author><name>Ada</name></author>
    <summary>Short summary of narwhals</summary>
    <content type="html">&lt;p&gt;Para one&lt;/p&gt;&lt;p&gt;Para two&lt;/p&gt;</content>
  </entry>
</feed>
"""

JSON_FEED = json.dumps(
    {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Example JSON",
        "home_page_url": "https://json.example/",
        "language": "de",
        "items": [
            {
                "id": "j1",
                "url": "https://json.example/j1",
                "title": "JSON item",
                "content_html": "<p>JSON <i>body</i> about capybaras</p>",
                "summary": "JSON summary",
                "date_published": "2024-04-05T06:07:08-07:00",
                "tags": ["a", "b"],
                "authors": [{"name": "Ann"}],
            }
        ],
    }
).encode("utf-8")


def fetched(
    url: str, body: bytes, content_type: str = "application/rss+xml", final_url: str | None = None
) -> Fetched:
    """A 200 answer with this body, as fetch hands it over (for Pipeline.process,
    prepare and finish, which never touch the network)."""
    return Fetched(
        url=url,
        final_url=final_url or url,
        status=200,
        headers=(("content-type", content_type),),
        body=body,
        etag=None,
        last_modified=None,
        body_hash=hashlib.sha256(body).hexdigest(),
    )
