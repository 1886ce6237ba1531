"""RawEntry -> Entry: sanitized HTML, plain text, UTC dates, a stable key and a hash.

Pure functions. HTML is sanitized with nh3 (an allowlist; script, style and
embedded objects removed with their content); plain text is produced from the
sanitized HTML, one paragraph per line.
"""

from __future__ import annotations

import hashlib
import html
import re
from urllib.parse import urljoin, urlsplit

import nh3

from .types import Entry, RawEntry, format_timestamp

# Removed together with their content: their text is never article text.
DROP_WITH_CONTENT = frozenset(
    {
        "script",
        "style",
        "iframe",
        "noscript",
        "object",
        "embed",
        "svg",
        "math",
        "form",
        "template",
        "textarea",
        "select",
        "button",
        "head",
        "title",
    }
)
ALLOWED_TAGS = frozenset(nh3.ALLOWED_TAGS) - DROP_WITH_CONTENT | {
    "picture",
    "source",
    "video",
    "audio",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "source": {"src", "srcset", "type"},
    "video": {"src", "poster", "controls"},
    "audio": {"src", "controls"},
    "abbr": {"title"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "time": {"datetime"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})

# Tags that end a line of text: paragraphs, headings, list items, table rows...
_BLOCK = re.compile(
    r"<(?:/?(?:p|div|li|ul|ol|dl|dt|dd|h[1-6]|blockquote|pre|table|tr|thead|tbody|"
    r"section|article|aside|header|footer|nav|figure|figcaption|details|summary|hr)"
    r"|br)\b[^>]*>",
    re.IGNORECASE,
)
_CELL = re.compile(r"</t[dh]\s*>", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\r\n\f\v\u00a0\u2028\u2029]+")
_INVISIBLE = re.compile(r"[\u200b\ufeff]")  # zero-width space, stray byte-order marks
_PRE = re.compile(r"(<pre\b[^>]*>.*?</pre\s*>)", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[a-zA-Z][^>]*>")  # in nh3's output, text never holds a raw "<"
_URL_ATTRIBUTE = re.compile(r'\s(href|src|poster)="([^"]*)"')
_SURROGATES = re.compile(r"[\ud800-\udfff]")


def sanitize_html(fragment: str | None, base_url: str | None = None) -> str | None:
    """An allowlisted, safe HTML fragment (or None when nothing is left).

    Relative links and image sources are made absolute against base_url.
    """
    if not fragment:
        return None
    cleaned = nh3.clean(
        fragment,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROP_WITH_CONTENT),
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
    ).strip()
    if base_url and cleaned:
        cleaned = _TAG.sub(
            lambda tag: _URL_ATTRIBUTE.sub(lambda m: _absolute_attribute(m, base_url), tag[0]),
            cleaned,
        )
    return cleaned or None


def _absolute_attribute(match: re.Match[str], base_url: str) -> str:
    # nh3's output always double-quotes attributes and escapes their values.
    value = html.unescape(match[2])
    try:
        absolute = urljoin(base_url, value)
    except ValueError:
        return match[0]
    if urlsplit(absolute).scheme.lower() not in URL_SCHEMES:
        return ""  # resolving must not smuggle in a scheme the sanitizer refused
    return f' {match[1]}="{html.escape(absolute, quote=True)}"'


def html_to_text(fragment: str | None) -> str | None:
    """Plain text: one paragraph per line, entities decoded, whitespace collapsed."""
    if not fragment:
        return None
    safe = nh3.clean(fragment, tags=set(ALLOWED_TAGS), clean_content_tags=set(DROP_WITH_CONTENT))
    # Newlines in the source are spaces, except inside <pre>; tags make the lines.
    pieces = _PRE.split(safe)
    safe = "".join(
        piece.replace("\n", "<br>") if index % 2 else piece.replace("\n", " ")
        for index, piece in enumerate(pieces)
    )
    marked = _CELL.sub(" ", _BLOCK.sub("\n", safe))
    # nh3 with no tags allowed strips the rest and leaves text escaped.
    text = html.unescape(nh3.clean(marked, tags=set(), clean_content_tags=set(DROP_WITH_CONTENT)))
    text = _INVISIBLE.sub("", text)
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    joined = "\n".join(line for line in lines if line)
    return joined or None


def one_line(fragment: str | None) -> str | None:
    """A title: text on one line."""
    text = html_to_text(fragment)
    return " ".join(text.split()) if text else None


def entry_key(raw: RawEntry, link: str | None) -> str:
    """The item's id as the feed gave it; else its link; else a hash of what it says."""
    if raw.id and raw.id.strip():
        return raw.id.strip()
    if link:
        return link
    digest = hashlib.sha256(
        "\x1f".join(
            x or "" for x in (raw.title, raw.published_raw, raw.summary, raw.content)
        ).encode()
    ).hexdigest()
    return f"sha256:{digest[:32]}"


def scrub(text: str | None) -> str | None:
    """Drop what SQLite and nh3 cannot take: NUL and lone surrogates (from broken feeds)."""
    if text is None:
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = _SURROGATES.sub("", text)
    return text.replace("\x00", "") if "\x00" in text else text


def normalize_entry(
    raw: RawEntry, *, link: str | None, url: str | None, base_url: str | None = None
) -> Entry:
    """Clean one item. ``link`` is the absolute item link, ``url`` its canonical form,
    ``base_url`` the document's address (for relative URLs in the content)."""
    raw = RawEntry(
        id=scrub(raw.id),
        link=raw.link,
        title=scrub(raw.title),
        summary=scrub(raw.summary),
        content=scrub(raw.content),
        author=scrub(raw.author),
        published=raw.published,
        updated=raw.updated,
        published_raw=raw.published_raw,
        updated_raw=raw.updated_raw,
        tags=tuple(t for t in (scrub(t) for t in raw.tags) if t),
        extra=raw.extra,
    )
    link, url = scrub(link), scrub(url)
    content_html = sanitize_html(raw.content or raw.summary, base_url)
    content_text = html_to_text(content_html)
    summary = html_to_text(raw.summary)
    if summary is None and content_text:
        summary = content_text.split("\n", 1)[0]
    published = raw.published or raw.updated
    updated = raw.updated
    title = one_line(raw.title)
    author = one_line(raw.author)
    tags = raw.tags
    digest = hashlib.sha256()
    # The URL is left out: it is the story's identity, not its content, and
    # it may come from link resolution, which is not repeated for stored items.
    for part in (
        title,
        summary,
        content_text,
        content_html,
        author,
        format_timestamp(published),
        format_timestamp(updated),
        "\x1e".join(tags),
    ):
        digest.update((part or "").encode("utf-8"))
        digest.update(b"\x1f")
    return Entry(
        guid=entry_key(raw, link),
        link=link,
        url=url,
        title=title,
        summary=summary,
        content_text=content_text,
        content_html=content_html,
        author=author,
        published_at=published,
        updated_at=updated,
        tags=tags,
        content_hash=digest.hexdigest(),
    )
