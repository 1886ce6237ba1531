"""An article page -> ``Extracted``: the story's text and HTML, cleaned as feed content is.

Pure: bytes and the page's URL in, a value out; no I/O (fetching the page is
fetch's job, through the same guarded client as feeds). In this order:

1. **Bounds.** At most ``MAX_PAGE_BYTES`` of the page are read (the rest is
   cut: an HTML parser closes what is left open). A tree of more than
   ``MAX_ELEMENTS`` elements is no article page and gives nothing (the
   extractor's time grows with the tree; bench/extraction.py measures both).
2. **Extraction** with trafilatura (``bare_extraction``, comments left out):
   the main text as simplified HTML (headings, paragraphs, lists, quotes,
   tables, links; no images but the lead one), and the page's metadata: title, author, date and
   lead image (``og:image`` and the like). With ``selector`` (a CSS selector,
   as FreshRSS's per-feed article selector), the elements it matches are the
   article instead, in page order; the metadata still comes from the page.
3. **Cleaning** exactly as a feed item's content (``normalize.clean_fragment``):
   feedd's allow-list sanitizer, relative URLs made absolute against the page's
   URL, boilerplate rules (pixels, ad links, "Read more" lines and trailers,
   the title repeated on the first line, taxonomy lines; boilerplate.py), then
   the text, one paragraph per line.

A page that cannot be decoded, holds no article (also: a text that is mostly
link text, ``MAX_LINK_SHARE``), or trips the extractor gives
an ``Extracted`` with empty text, never an exception: the page is the
publisher's, not feedd's, fault. Only a ``selector`` that is no CSS selector
raises (``BadSelector``: the config's fault).

Why trafilatura: on scrapinghub's article-extraction benchmark (181 pages,
bench/extraction.py) it scores the best F1 of the libraries measured, and is
faster than readability-lxml. Its HTML cleaner is the separate package
lxml_html_clean, which pyproject.toml declares.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode
from trafilatura import bare_extraction, extract_metadata
from trafilatura.htmlprocessing import build_html_output
from trafilatura.settings import Document
from trafilatura.utils import decode_file, load_html

from .errors import BadSelector
from .normalize import clean_fragment, one_line, scrub, word_count
from .types import Extracted

log = logging.getLogger("feedd.extract")

# Bytes of a page read: the largest of the benchmark's 181 real pages is 1.5 MB
# (inline scripts and JSON, mostly); a page past this is cut, not refused.
MAX_PAGE_BYTES = 4 * 1024 * 1024
# Elements of the parsed page. The benchmark's real pages have 85 to 1,709
# (median 785); trafilatura's time grows with the elements that hold text
# (0.2-0.5 ms each, measured: 30,000 short paragraphs take 5-13 s), so past
# FAST_AFTER the extractor skips its second opinion (its readability and
# jusText fallbacks, a third of its time on such trees), and a tree past
# MAX_ELEMENTS (12 times the largest real page) is refused: 1.3-6 s at most.
# bench/extraction.py, "Hostile pages".
MAX_ELEMENTS = 20_000
FAST_AFTER = 5_000
# A "text" mostly made of link text is a list of links (a section front, a
# sitemap, a tag page), no article. Of the benchmark's 181 articles, all but
# one have at most 0.33 and a page of deals (each a linked heading) 0.59.
MAX_LINK_SHARE = 0.8
EARLIEST = datetime(1995, 1, 1, tzinfo=UTC)  # as normalize: an older date is a broken one
FUTURE_TOLERANCE = timedelta(minutes=10)

# Comments are not the article (the benchmark's annotation leaves them out, and
# trafilatura keeps them by default). Formatting and links are kept: the HTML
# is a reader's copy of the article; the text is made from it. Images are not:
# with them trafilatura also keeps the blocks around them (captions, photo
# credits, a print logo and the page's URL), text the annotation leaves out
# (bench/extraction.py: F1 0.956 with images, 0.963 without); the lead image
# stays, as ``Extracted.image``.
_OPTIONS: dict[str, Any] = {
    "include_comments": False,
    "include_tables": True,
    "include_images": False,
    "include_links": True,
    "include_formatting": True,
    "with_metadata": True,
}
# htmldate: the publication date, not the last modification, with its time
# when the page gives one. Its extensive search (date patterns anywhere in the
# page's text) finds 2 more of the benchmark's 181 dates, but costs ~1 s per
# MB of text (3.5 s of a 4 MB text node's 5.6): only on pages up to this size.
_DATE_OPTIONS: dict[str, Any] = {"original_date": True, "outputformat": "%Y-%m-%dT%H:%M:%S%z"}
EXTENSIVE_DATE_SEARCH_CHARS = 1_000_000
_INDENT = re.compile(r">\n[ \t]+<")
_DATE_FORMATS = ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d")


def empty(url: str | None = None) -> Extracted:
    """What a page without an article gives."""
    return Extracted(url=url)


def check_selector(selector: str) -> None:
    """Raise ``BadSelector`` unless ``selector`` is a CSS selector feedd can match."""
    if not selector.strip():
        raise BadSelector("the CSS selector is empty")
    try:
        LexborHTMLParser("<p></p>").css(selector)
    except Exception as exc:  # selectolax raises ValueError, or others, for a bad selector
        raise BadSelector(f"not a CSS selector: {selector!r} ({exc})") from None


def extract(
    page: bytes,
    url: str | None = None,
    *,
    selector: str | None = None,
    now: datetime | None = None,
) -> Extracted:
    """The article in one HTML page (see the module docstring).

    ``url``: where the page is (after redirects), the base of its relative
    links. ``selector``: a CSS selector for the article's elements, instead of
    the extractor's guess. ``now``: for the "future date" check.
    """
    if selector is not None:
        check_selector(selector)
    try:
        text = decode_file(page[:MAX_PAGE_BYTES])
    except Exception:  # trafilatura tries several codecs; a failure is the page's
        log.debug("undecodable page: %s", url, exc_info=True)
        return empty(url)
    if not isinstance(text, str) or not text.strip():
        return empty(url)
    tree = _tree(text, url)
    if tree is None:
        return empty(url)
    size = _size(tree)
    if size > MAX_ELEMENTS:
        log.debug("page of more than %d elements: %s", MAX_ELEMENTS, url)
        return empty(url)
    dates = _DATE_OPTIONS | {"extensive_search": len(text) <= EXTENSIVE_DATE_SEARCH_CHARS}
    content: str | None = None
    if selector is not None:
        document = _metadata(tree, url, dates)
        content = _selected(text, selector)
    else:
        document = _extraction(tree, url, size, dates)
        if document is not None and document.body is not None:
            content = build_html_output(document)
            if "<pre" not in content:  # whitespace there is the code's own
                # trafilatura pretty-prints: indentation between tags, which would be kept.
                content = _INDENT.sub(">\n<", content)
    return _cleaned(document, content, url, now or datetime.now(UTC), chosen=selector is not None)


def _tree(text: str, url: str | None) -> Any:
    """The page's lxml tree (trafilatura's parser), or None."""
    try:
        tree = load_html(text)
    except Exception:
        log.debug("unparsable page: %s", url, exc_info=True)
        return None
    if tree is None:
        return None
    return tree


def _size(tree: Any) -> int:
    """The tree's elements, counted up to MAX_ELEMENTS + 1 (a huge tree stops the count)."""
    count = 0
    for count, _ in enumerate(tree.iter(), start=1):
        if count > MAX_ELEMENTS:
            break
    return count


def _metadata(tree: Any, url: str | None, dates: dict[str, Any]) -> Document | None:
    """Only the page's metadata (a selector names the article): no extraction's cost."""
    try:
        return extract_metadata(tree, url, dates)
    except Exception:
        log.debug("no metadata: %s", url, exc_info=True)
        return None


def _extraction(tree: Any, url: str | None, size: int, dates: dict[str, Any]) -> Document | None:
    try:
        document = bare_extraction(
            tree, url=url, fast=size > FAST_AFTER, date_extraction_params=dates, **_OPTIONS
        )
    except Exception:  # a library bug on a hostile page must not fail the article
        log.debug("extraction failed: %s", url, exc_info=True)
        return None
    return document if isinstance(document, Document) else None


def _selected(text: str, selector: str) -> str | None:
    """The HTML of the elements ``selector`` matches, outermost only, in page order."""
    kept: list[LexborNode] = []
    seen: set[int] = set()
    for node in LexborHTMLParser(text).css(selector):  # in document order
        if not _inside(node, seen):
            kept.append(node)
        seen.add(node.mem_id)
    return "\n".join(node.html or "" for node in kept) or None


def _inside(node: LexborNode, matched: set[int]) -> bool:
    """Whether an ancestor of ``node`` is among the matched nodes (a walk up: one
    pass per match, not one per pair of them)."""
    parent = node.parent
    while parent is not None:
        if parent.mem_id in matched:
            return True
        parent = parent.parent
    return False


def _cleaned(
    document: Document | None,
    content: str | None,
    url: str | None,
    now: datetime,
    *,
    chosen: bool,
) -> Extracted:
    """The extracted content cleaned as feed content; ``chosen``: a selector picked
    it (what the user names is the article, even a list of links)."""
    title = author = image = None
    published = None
    if document is not None:
        title = one_line(scrub(document.title))
        author = one_line(scrub(document.author))
        image = _absolute_http(scrub(document.image), url)
        published = _date(document.date, now)
    html, text, _ = clean_fragment(scrub(content), url, title=title)
    if html and not chosen and _link_share(html) > MAX_LINK_SHARE:
        log.debug("no article, a list of links: %s", url)
        html = text = None
    return Extracted(
        url=url,
        title=title,
        author=author,
        published_at=published,
        image=image or _first_image(html),
        text=text,
        html=html,
        word_count=word_count(text),
    )


def _link_share(html: str) -> float:
    """How much of the text is link text."""
    if "<a " not in html:
        return 0.0
    tree = LexborHTMLParser(html)
    total = len("".join(tree.text(deep=True).split()))
    linked = sum(len("".join(link.text(deep=True).split())) for link in tree.css("a"))
    return linked / total if total else 0.0


_IMG_SRC = re.compile(r'<img\b[^>]*\ssrc="([^"]+)"')


def _first_image(html: str | None) -> str | None:
    """The article's first image (its HTML is sanitized: absolute, double-quoted src)."""
    match = _IMG_SRC.search(html) if html else None
    return match[1].replace("&amp;", "&") if match else None


def _absolute_http(href: str | None, base: str | None) -> str | None:
    if not href or not href.strip():
        return None
    try:
        absolute = urljoin(base, href.strip()) if base else href.strip()
        scheme = urlsplit(absolute).scheme.lower()
    except ValueError:
        return None
    return absolute if scheme in ("http", "https") else None


def _date(value: str | None, now: datetime) -> datetime | None:
    """htmldate's date in UTC (a date without a zone is taken as UTC); None when
    unreadable, before 1995 or in the future."""
    if not value:
        return None
    for layout in _DATE_FORMATS:
        try:
            parsed = datetime.strptime(value, layout)  # noqa: DTZ007 - zone added below
        except ValueError:
            continue
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        parsed = parsed.astimezone(UTC)
        if parsed < EARLIEST or parsed > now + FUTURE_TOLERANCE:
            return None
        return parsed
    return None
