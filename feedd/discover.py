"""Find the feed of a web page (pure: the page's bytes in, candidate URLs out).

``feedd add URL`` fetches URL; when it is not a feed but an HTML page, the
candidates are, in order:

1. the page's ``<link rel="alternate" type="application/rss+xml">`` links
   (also Atom, JSON Feed and RDF), resolved against ``<base href>``;
2. the common places sites put their feed (``/feed``, ``/rss``, ``/atom.xml``,
   ...), first under the page's own folder, then at the site root.

Each candidate is then fetched and parsed by the caller; the first that is a
feed wins. Nothing here touches the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser

# Enough for any <head>; feed links after this are not looked for.
MAX_HTML = 2 * 1024 * 1024

FEED_TYPES = {
    "application/rss+xml": "rss",
    "application/atom+xml": "atom",
    "application/feed+json": "json",
    "application/json": "json",  # JSON Feed 1.0 suggested this one
    "application/rdf+xml": "rdf",
    "application/x-rss+xml": "rss",
    "application/x-atom+xml": "atom",
    "text/xml": "xml",
    "application/xml": "xml",
}

# Where sites commonly publish their feed, most likely first (WordPress, Hugo,
# Jekyll, Ghost, Blogger, Medium-like, static generators).
COMMON_PATHS = (
    "feed",
    "rss",
    "feed.xml",
    "atom.xml",
    "rss.xml",
    "index.xml",
    "feed.json",
    "atom",
    "index.rss",
    "feed/atom",
    "feeds/posts/default",
    "?feed=rss2",
)


@dataclass(frozen=True, slots=True)
class FeedLink:
    """A feed the page links to."""

    url: str
    kind: str  # rss, atom, json, rdf or xml
    title: str | None


def looks_like_html(body: bytes, content_type: str | None) -> bool:
    """True when the response is an HTML page (the header, else the first bytes, say so)."""
    if content_type and "html" in content_type.lower():
        return True
    head = body[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<head" in head


def _http_url(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return parts._replace(fragment="").geturl()


def find_feed_links(body: bytes, page_url: str) -> tuple[FeedLink, ...]:
    """The feeds a page announces with <link rel="alternate" type="...">, in page order."""
    tree = LexborHTMLParser(body[:MAX_HTML], encoding=True)
    base = page_url
    for node in tree.css("base[href]"):
        href = (node.attributes.get("href") or "").strip()
        if href:
            base = urljoin(page_url, href)
        break
    links: dict[str, FeedLink] = {}
    for node in tree.css("link[rel][href]"):
        attributes = node.attributes
        rel = (attributes.get("rel") or "").lower().split()
        if "alternate" not in rel and "feed" not in rel:
            continue
        kind_type = (attributes.get("type") or "").split(";", 1)[0].strip().lower()
        kind = FEED_TYPES.get(kind_type)
        if kind is None:
            continue
        try:
            url = _http_url(urljoin(base, (attributes.get("href") or "").strip()))
        except ValueError:
            continue
        if url is None or url in links:
            continue
        title = " ".join((attributes.get("title") or "").split()) or None
        links[url] = FeedLink(url=url, kind=kind, title=title)
    # Comment feeds ("Comments Feed" on WordPress) are announced too; the site's
    # own feed comes first.
    return tuple(sorted(links.values(), key=lambda link: "comment" in (link.title or "").lower()))


def common_feed_urls(page_url: str) -> tuple[str, ...]:
    """The usual feed locations for a page: under its folder, then at the site root."""
    parts = urlsplit(page_url)
    root = f"{parts.scheme}://{parts.netloc}/"
    folder = urljoin(root, parts.path.rsplit("/", 1)[0] + "/") if parts.path else root
    bases = [folder, root] if folder != root else [root]
    urls: dict[str, None] = {}
    for base in bases:
        for path in COMMON_PATHS:
            url = _http_url(urljoin(base, path))
            if url and url != page_url:
                urls[url] = None
    return tuple(urls)


def candidates(body: bytes, page_url: str) -> tuple[str, ...]:
    """Every URL worth trying as the page's feed, best first, without repeats."""
    urls = dict.fromkeys(link.url for link in find_feed_links(body, page_url))
    urls.update(dict.fromkeys(common_feed_urls(page_url)))
    urls.pop(page_url, None)
    return tuple(urls)
