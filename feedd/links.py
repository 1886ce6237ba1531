"""Article links: canonical URLs (pure).

This first version only canonicalizes; following shorteners and redirect
wrappers to the real article is the link-resolution stage (issue 3), whose
policy will live here too, with the hops going through fetch.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
# Parameters that only say where a click came from; never part of the article's identity.
TRACKING_PREFIXES = ("utm_",)
TRACKING_PARAMS = frozenset({"fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid"})


def absolute_url(link: str | None, base: str | None) -> str | None:
    """The item link as the feed gave it, made absolute against base; None if unusable."""
    if not link or not link.strip():
        return None
    link = link.strip()
    try:
        return urljoin(base, link) if base else link
    except ValueError:
        return None


def canonical_url(url: str | None) -> str | None:
    """A stable form of an http(s) URL, used as the article's identity; None if not http(s).

    Lower-cases scheme and host, drops the default port, the fragment and
    tracking parameters; keeps the order of the other parameters (some
    servers care). Idempotent.
    """
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    if scheme not in DEFAULT_PORTS or not host:
        return None
    netloc = host.lower().rstrip(".")
    if ":" in netloc:  # IPv6 literal
        netloc = f"[{netloc}]"
    if parts.username or parts.password:
        userinfo = parts.username or ""
        if parts.password:
            userinfo += f":{parts.password}"
        netloc = f"{userinfo}@{netloc}"
    if port is not None and port != DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        kept = [(k, v) for k, v in pairs if not _is_tracking(k)]
        if len(kept) != len(pairs):
            query = urlencode(kept)
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)
