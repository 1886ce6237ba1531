"""Article links: canonical URLs (pure).

This first version only canonicalizes; following shorteners and redirect
wrappers to the real article is the link-resolution stage (issue 3), whose
policy will live here too, with the hops going through fetch.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_plus, urljoin, urlsplit, urlunsplit

from w3lib.url import safe_url_string

DEFAULT_PORTS = {"http": 80, "https": 443}
# Parameters that only say where a click came from; never part of the article's identity.
TRACKING_PREFIXES = ("utm_",)
TRACKING_PARAMS = frozenset({"fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid"})
_HOST = re.compile(r"^[a-z0-9._~\-\[\]:]+$")


def absolute_url(link: str | None, base: str | None) -> str | None:
    """An http(s) item link made absolute against base; None if there is none.

    feedparser fills an Atom entry's missing link from its id (often a
    ``urn:uuid:``), which is not a link: non-http(s) results are dropped.
    """
    if not link or not link.strip():
        return None
    try:
        url = urljoin(base, link.strip()) if base else link.strip()
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    return url if scheme in DEFAULT_PORTS else None


def canonical_url(url: str | None) -> str | None:
    """A stable form of an http(s) URL, used as the article's identity; None if not http(s).

    Percent-encodes what must be (w3lib, IDNA hosts), lower-cases scheme and
    host, drops the default port, credentials, the fragment and tracking
    parameters; keeps the other parameters byte for byte, in order (some
    servers care). Idempotent.
    """
    if not url or not url.strip():
        return None
    try:
        parts = urlsplit(safe_url_string(url.strip()))
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").rstrip(".")
        port = parts.port
    except (ValueError, UnicodeError):
        return None
    if scheme not in DEFAULT_PORTS or not host or not _HOST.match(host):
        return None
    netloc = f"[{host}]" if ":" in host else host  # IPv6 literal
    if port is not None and port != DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    query = "&".join(
        segment
        for segment in parts.query.split("&")
        if segment and not _is_tracking(unquote_plus(segment.split("=", 1)[0]))
    )
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)
