"""Article links: canonical URLs and the link-resolution policy (pure).

Everything here decides from values: no network, no database. Following a link
hop by hop is I/O and lives elsewhere; it asks this module what each
step means:

- ``unwrap``: the target of a redirect wrapper that carries it in the URL
  (``google.com/url?q=``, ``l.facebook.com/l.php?u=``, consent pages, ...).
- ``is_shortener`` / ``needs_resolution``: whether a link is worth following.
- ``redirect_target``: where one response sends the client next (Location,
  Refresh, meta refresh, the simple script redirects shorteners serve).
- ``canonical_link``: a page's own ``<link rel="canonical">``, when on the same site.
- ``canonical_url``: the article's identity (tracking parameters removed).
- ``link_expiry``: how long a resolution is cached.

Three data files ship in ``feedd/data/`` (provenance and licences in
``feedd/data/LICENSES.md``): the URL-shortener host list of
PeterDaveHello/url-shorteners (CC-BY-SA-4.0), the ClearURLs rules (LGPL-3.0),
and feedd's own rules, ``feedd_rules.toml`` (tracking parameters the ClearURLs
rules miss, each with the sites it applies to and why, and click-through
redirectors). All are read once, on first use.
"""

from __future__ import annotations

import functools
import json
import re
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any
from urllib.parse import unquote, unquote_plus, urljoin, urlsplit, urlunsplit

from selectolax.lexbor import LexborHTMLParser
from w3lib.url import safe_url_string

from . import schedule
from .types import header_value

DEFAULT_PORTS = {"http": 80, "https": 443}

# feedproxy.google.com (FeedBurner's item links) is not in the upstream list.
EXTRA_SHORTENERS = frozenset({"feedproxy.google.com"})
# Public suffixes that the upstream list names as shorteners for their bare
# host: only that host is a shortener there, not every site under the suffix
# (every *.gov.tw site would be followed otherwise).
_NO_PARENT_MATCH = frozenset({"gov.tw"})

OUTCOMES = ("ok", "not_found", "loop", "too_many_hops", "blocked", "timeout", "error")
RESOLVE_MODES = ("shorteners", "all", "off")
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_STATUSES = frozenset({301, 308})

# Cache policy (link_expiry). A resolved link rarely changes where it leads;
# a failed one is retried on schedule.backoff, from an hour up to a week.
OK_PERMANENT_TTL = timedelta(days=30)
OK_TEMPORARY_TTL = timedelta(days=1)
RETRY_FIRST = timedelta(hours=1)
RETRY_MAX = timedelta(days=7)

MAX_UNWRAP = 5  # a wrapper in a wrapper in a wrapper...
# A Refresh (header or meta) is followed only when it is this prompt (seconds):
# a page that reloads itself, or goes to its home page after five minutes, is
# an article, not a redirect.
MAX_REFRESH_DELAY = 10
# A script redirect counts only on a page with less visible text than this:
# shortener and interstitial pages say "Redirecting..."; an article whose own
# scripts assign location somewhere (a login button) has paragraphs of text.
MAX_INTERSTITIAL_TEXT = 1000
MAX_HTML = 512 * 1024  # bytes of a body looked at

_HOST = re.compile(r"^[a-z0-9._~\-\[\]:]+$")
# Characters w3lib's safe_url_string leaves as they are (but for the case of
# scheme and host), with well-formed percent escapes; no brackets (IPv6 hosts
# go the slow way), no fragment.
_ALREADY_SAFE = re.compile(r"https?://(?:[A-Za-z0-9\-._~:/?@!$&()*+,;=]|%[0-9A-Fa-f]{2})*", re.I)
_HTTP_PREFIX = re.compile(r"https?://", re.IGNORECASE)
_ENCODED_HTTP_PREFIX = re.compile(r"https?%3a", re.IGNORECASE)
_WS = " \t\n\f\r"


# -- data files


def _data_text(name: str) -> str:
    return resources.files("feedd").joinpath("data", name).read_text(encoding="utf-8")


@functools.cache
def shortener_hosts() -> frozenset[str]:
    """The shipped shortener hosts (lower-case, ASCII), plus EXTRA_SHORTENERS."""
    hosts = {
        line.strip().lower()
        for line in _data_text("shorteners.txt").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    }
    return frozenset(hosts | EXTRA_SHORTENERS)


@dataclass(frozen=True, slots=True)
class _Provider:
    """One ClearURLs provider, compiled. Patterns are case-insensitive, as in ClearURLs."""

    name: str
    pattern: re.Pattern[str] | None  # None: matches every URL (globalRules' ".*")
    exceptions: re.Pattern[str] | None
    params: re.Pattern[str] | None  # rules + referralMarketing, matched on a whole name
    redirections: tuple[re.Pattern[str], ...]

    def applies(self, url: str) -> bool:
        if self.pattern is not None and not self.pattern.search(url):
            return False
        return self.exceptions is None or not self.exceptions.search(url)


@dataclass(frozen=True, slots=True)
class _Rules:
    # Providers a URL's host must contain a literal for (the prefilter; by name,
    # compiled when a host first asks for them: ~140 providers cost 50 ms to
    # compile in every process that reads links), and those whose pattern has no
    # such literal and are tried on every URL.
    by_needle: dict[str, tuple[str, ...]]
    needles: re.Pattern[str] | None
    prefixes: dict[str, tuple[str, ...]]  # needle -> the shorter needles it starts with
    always: tuple[_Provider, ...]


# What ClearURLs' host patterns start with, before the host literal.
_PATTERN_PREFIX = re.compile(r"\^?https\?:\\/\\/(?:\(\?:\[a-z0-9-\]\+\\\.\)\*\?)?")
_PATTERN_LITERAL = re.compile(r"(?:[a-z0-9]|\\[.-]|-)+")


def _needle(pattern: str) -> str | None:
    """A literal every host the pattern matches contains, if one is easy to see.

    ``^https?:\\/\\/(?:[a-z0-9-]+\\.)*?facebook\\.com`` -> ``facebook.com``. Only
    for patterns without alternation (``|``) and where the literal is not made
    optional by a quantifier; the others are tried on every URL.
    """
    if "|" in pattern:
        return None
    prefix = _PATTERN_PREFIX.match(pattern)
    if not prefix:
        return None
    literal = _PATTERN_LITERAL.match(pattern, prefix.end())
    if not literal:
        return None
    text = literal.group()
    if pattern[literal.end() : literal.end() + 1] in ("?", "*", "{"):
        text = text[:-2] if text.endswith(("\\.", "\\-")) else text[:-1]
    text = text.replace("\\", "").lower()
    return text or None


def _alternation(patterns: list[str]) -> re.Pattern[str] | None:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE) if patterns else None


@functools.cache
def _specs() -> dict[str, dict[str, Any]]:
    specs: dict[str, dict[str, Any]] = json.loads(_data_text("clearurls.json"))["providers"]
    return specs


@functools.cache
def _provider(name: str) -> _Provider:
    spec = _specs()[name]
    pattern_text: str = spec.get("urlPattern", "")
    return _Provider(
        name=name,
        pattern=None if pattern_text in ("", ".*") else re.compile(pattern_text, re.I),
        exceptions=_alternation(spec.get("exceptions", [])),
        params=_alternation(spec.get("rules", []) + spec.get("referralMarketing", [])),
        redirections=tuple(re.compile(r, re.I) for r in spec.get("redirections", [])),
    )


@functools.cache
def _rules() -> _Rules:
    by_needle: dict[str, list[str]] = {}
    always: list[_Provider] = []
    for name, spec in _specs().items():
        needle = _needle(spec.get("urlPattern", ""))
        if needle is None:
            always.append(_provider(name))
        else:
            by_needle.setdefault(needle, []).append(name)
    names = sorted(by_needle, key=len, reverse=True)
    return _Rules(
        by_needle={needle: tuple(providers) for needle, providers in by_needle.items()},
        # A lookahead finds every needle starting at each position, longest first;
        # the shorter needles it starts with are added from ``prefixes``.
        needles=re.compile(f"(?=({'|'.join(map(re.escape, names))}))") if names else None,
        prefixes={n: tuple(m for m in names if m != n and n.startswith(m)) for n in names},
        always=tuple(always),
    )


@functools.lru_cache(maxsize=4096)
def _providers(host: str) -> tuple[_Provider, ...]:
    """The providers worth trying on a URL with this (lower-case) host."""
    rules = _rules()
    found: list[_Provider] = list(rules.always)
    if rules.needles is None:
        return tuple(found)
    seen: set[str] = set()
    for match in rules.needles.finditer(host):
        needle = match.group(1)
        for name in (needle, *rules.prefixes[needle]):
            if name not in seen:
                seen.add(name)
                found.extend(_provider(provider) for provider in rules.by_needle[name])
    return tuple(found)


@functools.lru_cache(maxsize=4096)
def _redirecting(host: str) -> tuple[_Provider, ...]:
    """The providers with redirection rules worth trying on a URL with this host."""
    return tuple(provider for provider in _providers(host) if provider.redirections)


# feedd's own rules: what the ClearURLs rules miss, in feedd's own data file.


@dataclass(frozen=True, slots=True)
class TrackingRule:
    """One ``[[tracking]]`` entry of feedd_rules.toml: names and prefixes lower-case."""

    hosts: tuple[str, ...]  # empty: every host
    params: frozenset[str]
    prefixes: tuple[str, ...]
    why: str
    example: str
    expected: str


@dataclass(frozen=True, slots=True)
class Redirector:
    """One ``[[redirectors]]`` entry: a click-through link worth following."""

    hosts: tuple[str, ...]  # empty: every host
    path: re.Pattern[str]
    why: str
    example: str


@dataclass(frozen=True, slots=True)
class OwnRules:
    """feedd_rules.toml, checked: tracking parameters and redirectors."""

    tracking: tuple[TrackingRule, ...]
    redirectors: tuple[Redirector, ...]


_TRACKING_KEYS = frozenset({"hosts", "params", "prefixes", "why", "example", "expected"})
_REDIRECTOR_KEYS = frozenset({"hosts", "path", "why", "example"})


def _strings(entry: dict[str, Any], key: str) -> tuple[str, ...]:
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"feedd_rules.toml: {key} must be a list of non-empty strings")
    return tuple(v.lower() for v in value)


def _text(entry: dict[str, Any], key: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"feedd_rules.toml: every rule needs {key}")
    return value


def _checked(entry: object, keys: frozenset[str]) -> dict[str, Any]:
    # A misspelt key would silently make a rule apply everywhere (hosts) or to
    # nothing (params): refuse it.
    if not isinstance(entry, dict) or not set(entry) <= keys:
        raise ValueError(f"feedd_rules.toml: a rule with keys outside {sorted(keys)}")
    return entry


def _tracking_rule(entry: object) -> TrackingRule:
    spec = _checked(entry, _TRACKING_KEYS)
    rule = TrackingRule(
        hosts=_strings(spec, "hosts"),
        params=frozenset(_strings(spec, "params")),
        prefixes=_strings(spec, "prefixes"),
        why=_text(spec, "why"),
        example=_text(spec, "example"),
        expected=_text(spec, "expected"),
    )
    if not rule.params and not rule.prefixes:
        raise ValueError("feedd_rules.toml: a tracking rule needs params or prefixes")
    return rule


def _redirector(entry: object) -> Redirector:
    spec = _checked(entry, _REDIRECTOR_KEYS)
    return Redirector(
        hosts=_strings(spec, "hosts"),
        path=re.compile(_text(spec, "path"), re.IGNORECASE),
        why=_text(spec, "why"),
        example=_text(spec, "example"),
    )


@functools.cache
def own_rules() -> OwnRules:
    """feedd's own rules (``feedd/data/feedd_rules.toml``), checked and compiled."""
    data = tomllib.loads(_data_text("feedd_rules.toml"))
    if not set(data) <= {"tracking", "redirectors"}:
        raise ValueError("feedd_rules.toml: only [[tracking]] and [[redirectors]] tables")
    return OwnRules(
        tracking=tuple(_tracking_rule(entry) for entry in data.get("tracking", [])),
        redirectors=tuple(_redirector(entry) for entry in data.get("redirectors", [])),
    )


def _on(host: str, hosts: tuple[str, ...]) -> bool:
    """Whether host is one of hosts or a subdomain of one; an empty hosts is every host."""
    return not hosts or any(host == h or host.endswith("." + h) for h in hosts)


@functools.lru_cache(maxsize=4096)
def _own_tracking(host: str) -> tuple[frozenset[str], tuple[str, ...]]:
    """The tracking names and prefixes of feedd's rules that apply on this (lower-case) host."""
    params: set[str] = set()
    prefixes: list[str] = []
    for rule in own_rules().tracking:
        if _on(host, rule.hosts):
            params |= rule.params
            prefixes.extend(rule.prefixes)
    return frozenset(params), tuple(prefixes)


# -- canonical URLs


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
    host, drops the default port, credentials, the fragment (but keeps a
    ``#!`` route: it is the page) and tracking parameters (feedd's own rules,
    ``feedd_rules.toml``, and the ClearURLs rules, each for the URL's site);
    keeps the other parameters byte for byte, in order (some servers care).
    Idempotent.
    """
    if not url or not url.strip():
        return None
    url = url.strip()
    try:
        # w3lib is the slow part; a URL of only characters it leaves alone (most
        # item links) skips it. Case it would change is lower-cased below anyway.
        # This runs for every item of every feed: measured as a hot spot.
        if _ALREADY_SAFE.fullmatch(url):
            parts = urlsplit(url)
        elif urlsplit(url).netloc:
            parts = urlsplit(safe_url_string(url))
        else:
            # No host ("http:///path"): unusable, as on the fast path; w3lib 2.6,
            # as the URL standard, would make a host of the path.
            return None
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
    path = parts.path or "/"
    fragment = parts.fragment if parts.fragment.startswith("!") and parts.fragment != "!" else ""
    query = parts.query
    if query:
        query = _strip_tracking(f"{scheme}://{netloc}{path}", host, query)
    return urlunsplit((scheme, netloc, path, query, fragment))


def _strip_tracking(base: str, host: str, query: str) -> str:
    """The query without tracking parameters, the rest byte for byte.

    Repeated until nothing changes: a ClearURLs exception can depend on a
    parameter another rule removes, and canonical_url must be idempotent.
    """
    providers = _providers(host)
    own = _own_tracking(host)
    for _ in range(4):
        segments = [s for s in query.split("&") if s]
        names = [s.split("=", 1)[0] for s in segments]
        decoded = [unquote_plus(n) for n in names]
        drop = {i for i, name in enumerate(decoded) if _is_tracking(name, own)}
        url = f"{base}?{query}"
        for provider in providers:
            if provider.params is None:
                continue
            hits = [
                i
                for i in range(len(segments))
                if i not in drop
                and (
                    provider.params.fullmatch(decoded[i])
                    or (names[i] != decoded[i] and provider.params.fullmatch(names[i]))
                )
            ]
            if hits and provider.applies(url):
                drop.update(hits)
        new = "&".join(s for i, s in enumerate(segments) if i not in drop)
        if new == query:
            break
        query = new
    return query


def _is_tracking(name: str, own: tuple[frozenset[str], tuple[str, ...]]) -> bool:
    """Whether feedd's own rules (own: the host's names and prefixes) drop this name."""
    lowered = name.lower()
    params, prefixes = own
    return lowered in params or lowered.startswith(prefixes)


# -- offline unwrapping


def _http_target(value: str) -> str | None:
    """value if it is an absolute http(s) URL with a host, else None.

    A target still percent-encoded once more (``https%3A%2F%2F...``, wrappers
    that encode twice) is decoded until it starts with its scheme; a
    scheme-relative one (``//host/...``) gets https.
    """
    value = value.strip()
    for _ in range(3):
        if not _ENCODED_HTTP_PREFIX.match(value):
            break
        value = unquote(value).strip()
    if value.startswith("//"):
        value = "https:" + value
    if not _HTTP_PREFIX.match(value):
        return None
    try:
        if not urlsplit(value).hostname:
            return None
    except ValueError:
        return None
    return value


def _query_target(query: str, names: tuple[str, ...]) -> str | None:
    """The first http(s) URL among the named parameters of a query, decoded once.

    Decoded as application/x-www-form-urlencoded, as the wrapper's server reads
    it; the first name with a usable value wins (Google search's ``url?q=&url=...``
    has an empty ``q``).
    """
    values: dict[str, str] = {}
    for segment in query.split("&"):
        key, _, value = segment.partition("=")
        values.setdefault(unquote_plus(key), value)
    for name in names:
        raw = values.get(name)
        target = _http_target(unquote_plus(raw)) if raw else None
        if target:
            return target
    return None


@dataclass(frozen=True, slots=True)
class _Wrapper:
    """A redirect wrapper feedd knows itself: host and path patterns, where the target is."""

    host: re.Pattern[str]
    path: re.Pattern[str]
    params: tuple[str, ...]  # empty: the whole query is the target (href.li)


def _wrapper(host: str, path: str, *params: str) -> _Wrapper:
    return _Wrapper(re.compile(host), re.compile(path), params)


_GOOGLE = r"(?:www\.)?google(?:\.[a-z]{2,3}){1,2}"
# Ones the ClearURLs rules lack or get only partly (they want the target
# encoded, or miss a host); tried before the ClearURLs redirections.
_WRAPPERS = (
    _wrapper(_GOOGLE, r"/url", "q", "url"),
    _wrapper(r"(?:l|lm|m|www|web)\.facebook\.com", r"/l\.php", "u"),
    _wrapper(r"(?:www\.|m\.)?facebook\.com", r"/flx/warn/?", "u"),
    _wrapper(r"l\.messenger\.com", r"/l\.php", "u"),
    _wrapper(r"l\.instagram\.com", r"/?", "u"),
    _wrapper(r"l\.threads\.net", r"/?", "u"),
    _wrapper(r"(?:www\.|m\.)?youtube\.com", r"/redirect", "q"),
    _wrapper(r"out\.reddit\.com", r"/.*", "url"),
    _wrapper(r"consent\.google(?:\.[a-z]{2,3}){1,2}", r"/.*", "continue"),
    _wrapper(r"consent\.youtube\.com", r"/.*", "continue"),
    _wrapper(r"t\.umblr\.com", r"/redirect", "z"),
    _wrapper(r"href\.li", r"/?"),
    _wrapper(r"(?:[a-z0-9-]+\.)*safelinks\.protection\.outlook\.com", r"/.*", "url"),
    _wrapper(r"(?:www\.)?bing\.com", r"/news/apiclick\.aspx", "url"),
    _wrapper(r"(?:www\.)?medium\.com", r"/r/?", "url"),
    _wrapper(r"(?:html\.|lite\.)?duckduckgo\.com", r"/l/?", "uddg"),
    _wrapper(r"(?:www\.)?getpocket\.com", r"/redirect", "url"),
    _wrapper(r"(?:www\.)?linkedin\.com", r"/redir/redirect/?", "url"),
    _wrapper(r"slack-redir\.net", r"/link", "url"),
)
_GOOGLE_AMP = re.compile(rf"https?://{_GOOGLE}/amp/s/([^?#]+)", re.IGNORECASE)


def unwrap(url: str) -> str:
    """The target of a redirect wrapper that carries it in the URL; url if it is none.

    Offline: feedd's own wrapper table, then the ClearURLs redirection rules;
    repeated for a wrapper in a wrapper (at most MAX_UNWRAP times). Only http(s)
    targets are taken (never ``javascript:`` and the like). A query value is
    percent-decoded once, as the wrapper's server would.
    """
    current = url
    for _ in range(MAX_UNWRAP):
        try:
            target = _unwrap_once(current.strip())
        except (ValueError, UnicodeError):
            target = None
        if target is None or target == current:
            break
        current = target
    return current


@functools.lru_cache(maxsize=4096)
def _wrappers(host: str) -> tuple[_Wrapper, ...]:
    return tuple(wrapper for wrapper in _WRAPPERS if wrapper.host.fullmatch(host))


def _unwrap_once(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme.lower() not in DEFAULT_PORTS:
        return None
    host = (parts.hostname or "").rstrip(".")
    for wrapper in _wrappers(host):
        if wrapper.path.fullmatch(parts.path or "/"):
            if not parts.query:
                continue
            # No params: the whole query is the target (href.li/?https://...).
            if wrapper.params:
                target = _query_target(parts.query, wrapper.params)
            else:
                target = _http_target(parts.query)
            if target:
                return target
    amp = _GOOGLE_AMP.match(url)
    if amp:
        return _http_target("https://" + unquote(amp.group(1)))
    query_start = url.find("?")
    for provider in _redirecting(host):
        if not provider.applies(url):
            continue
        for redirection in provider.redirections:
            match = redirection.search(url)
            if not match or match.lastindex is None:
                continue
            raw = match.group(1)
            in_query = 0 <= query_start < match.start(1)
            target = _http_target(unquote_plus(raw) if in_query else unquote(raw))
            if target:
                return target
    return None


# -- which links to follow


def _host(url: str) -> str | None:
    """The lower-case ASCII (IDNA) host of an http(s) URL, None if it has none."""
    try:
        parts = urlsplit(url.strip())
        if parts.scheme.lower() not in DEFAULT_PORTS:
            return None
        host = (parts.hostname or "").rstrip(".")
        if not host:
            return None
        if not host.isascii():
            host = host.encode("idna").decode("ascii")
    except (ValueError, UnicodeError):
        return None
    return host.lower()


@functools.lru_cache(maxsize=64)
def _normalized_hosts(hosts: frozenset[str]) -> frozenset[str]:
    """Config hosts as _host gives them: lower-case, no trailing dot, IDNA."""
    normalized = set()
    for host in hosts:
        name = host.strip().rstrip(".")
        try:
            name = name.encode("idna").decode("ascii") if not name.isascii() else name
        except UnicodeError:
            continue
        normalized.add(name.lower())
    return frozenset(normalized)


def is_shortener(url: str, extra_hosts: frozenset[str] = frozenset()) -> bool:
    """Whether the http(s) URL's host, or a parent domain of it, is a known shortener.

    Known: the shipped list, or extra_hosts (``[links] shorteners``).
    """
    host = _host(url)
    if host is None:
        return False
    known = shortener_hosts()
    extra = _normalized_hosts(extra_hosts)
    labels = host.split(".")
    for i in range(len(labels)):
        candidate = ".".join(labels[i:])
        if i and candidate in _NO_PARENT_MATCH:
            continue
        if candidate in known or candidate in extra:
            return True
    return False


def is_redirector(url: str) -> bool:
    """Whether the http(s) URL is a click-through redirect of feedd's rules
    (``[[redirectors]]`` in feedd_rules.toml): no target in the URL, only a redirect."""
    host = _host(url)
    if host is None:
        return False
    try:
        path = urlsplit(url.strip()).path or "/"
    except ValueError:
        return False
    return any(
        _on(host, rule.hosts) and rule.path.fullmatch(path) for rule in own_rules().redirectors
    )


# Pages that stand between a reader and the article (cookie consent, sign-in
# walls). When one is where a link ends, the hop before it is the article.
INTERSTITIAL_HOSTS = re.compile(
    r"^(?:consent\.google(?:\.[a-z]{2,3}){1,2}|consent\.youtube\.com|consent\.yahoo\.com"
    r"|guce\.yahoo\.com|guce\.[a-z]+\.com|myprivacy\.dpgmedia\.[a-z]+"
    r"|consent\.[a-z0-9-]+\.[a-z.]+)$"
)


def is_interstitial(url: str) -> bool:
    """A consent or sign-in page, never an article (see INTERSTITIAL_HOSTS)."""
    host = _host(url)
    return bool(host and INTERSTITIAL_HOSTS.match(host))


def needs_resolution(url: str, mode: str, extra_hosts: frozenset[str] = frozenset()) -> bool:
    """Whether link resolution should follow url, per ``[links] resolve``.

    "shorteners": short links (is_shortener) and click-through redirects
    (is_redirector); "all": every http(s) link; "off": none.
    """
    if mode == "off":
        return False
    if mode == "all":
        return _host(url) is not None
    if mode == "shorteners":
        return is_shortener(url, extra_hosts) or is_redirector(url)
    raise ValueError(f"unknown resolve mode {mode!r}; expected one of {RESOLVE_MODES}")


# -- one hop


def redirect_target(
    url: str, status: int, headers: tuple[tuple[str, str], ...], body: bytes | None
) -> str | None:
    """Where this response sends the client next: an absolute http(s) URL, or None.

    In order: the Location of a 301/302/303/307/308; a prompt ``Refresh``
    header; for a 2xx HTML body, a prompt ``<meta http-equiv="refresh">``,
    then the simple script redirects shorteners serve (``location.replace("...")``,
    ``window.location.href = '...'``, ...) on a page with little text; last, for
    a 2xx, the target of url itself when it is a wrapper (a consent page). A
    refresh or script pointing back at url is no redirect. Never raises.

    Header names are lower-case. The caller unwraps each hop.
    """
    try:
        return _redirect_target(url, status, headers, body)
    except (ValueError, UnicodeError):
        return None


def _join(base: str, link: str) -> str | None:
    link = link.strip(_WS)
    if not link:
        return None
    return _http_target(urljoin(base, link))


def _redirect_target(
    url: str, status: int, headers: tuple[tuple[str, str], ...], body: bytes | None
) -> str | None:
    location = header_value(headers, "location")
    if status in REDIRECT_STATUSES and location is not None:
        return _join(url, location)
    refresh = header_value(headers, "refresh")
    if refresh is not None:
        target = _refresh_target(url, refresh)
        if target:
            return target
    if not 200 <= status < 300:
        return None
    content_type = (header_value(headers, "content-type") or "").lower()
    if body and (not content_type or "html" in content_type):
        target = _html_redirect(url, body)
        if target:
            return target
    unwrapped = unwrap(url)
    return unwrapped if unwrapped != url else None


def _not_self(url: str, target: str | None) -> str | None:
    if target is None:
        return None
    if target.split("#", 1)[0] == url.split("#", 1)[0]:
        return None
    return target


_REFRESH_DELAY = re.compile(r"[\t\n\f\r ]*(\d+)?[\d.]*", re.ASCII)
_REFRESH_URL_KEY = re.compile(r"url[\t\n\f\r ]*=[\t\n\f\r ]*", re.IGNORECASE)


def refresh_url(value: str) -> tuple[int, str] | None:
    """(delay, URL) from a Refresh header or meta refresh content; None if it names no URL.

    The HTML standard's "shared declarative refresh steps": ``0; url=...``,
    ``0;URL='...'``, ``5, ...``, ``0; https://...``.
    """
    match = _REFRESH_DELAY.match(value)
    if not match or match.end() == match.start() or not match.group().strip(_WS):
        return None
    digits = match.group(1) or "0"
    delay = int(digits) if len(digits) <= 9 else 10**9  # int() refuses very long strings
    rest = value[match.end() :]
    if not rest or rest[0] not in ";," + _WS:
        return None
    rest = rest.lstrip(_WS)
    if rest[:1] in (";", ","):
        rest = rest[1:].lstrip(_WS)
    key = _REFRESH_URL_KEY.match(rest)
    if key:
        rest = rest[key.end() :]
    if rest[:1] in ("'", '"'):
        quote, rest = rest[0], rest[1:]
        rest = rest.split(quote, 1)[0]
    rest = rest.strip(_WS)
    return (delay, rest) if rest else None


def _refresh_target(url: str, value: str) -> str | None:
    parsed = refresh_url(value)
    if parsed is None or parsed[0] > MAX_REFRESH_DELAY:
        return None
    return _not_self(url, _join(url, parsed[1]))


_JS_REDIRECT = re.compile(
    r"(?:(?<![\w$.])(?:window|document|top|self|parent)\s*\.\s*|(?<![\w$.]))location"
    r"(?:\s*\.\s*href\s*=(?!=)|\s*=(?!=)|\s*\.\s*(?:replace|assign)\s*\()"
    r"\s*(?P<q>[\"'])(?P<url>(?:\\.|(?!(?P=q))[^\\\n])*)(?P=q)",
)
_JS_ESCAPE = re.compile(
    r"\\(?:u\{([0-9a-fA-F]{1,6})\}|u([0-9a-fA-F]{4})|x([0-9a-fA-F]{2})|(.))", re.S
)
_JS_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}


def _js_unescape_one(match: re.Match[str]) -> str:
    code = match.group(1) or match.group(2) or match.group(3)
    if code is not None:
        point = int(code, 16)
        return chr(point) if point <= 0x10FFFF and not 0xD800 <= point <= 0xDFFF else "\ufffd"
    char = match.group(4)
    return _JS_SIMPLE_ESCAPES.get(char, char)


def js_unescape(value: str) -> str:
    """A JavaScript string literal's body, escapes resolved (``\\/``, ``\\u0026``, ``\\x26``)."""
    return _JS_ESCAPE.sub(_js_unescape_one, value)


def _parse_html(body: bytes) -> LexborHTMLParser:
    # encoding=True: lexbor detects the charset (BOM, meta) instead of assuming UTF-8.
    return LexborHTMLParser(body[:MAX_HTML], encoding=True)


def _html_redirect(url: str, body: bytes) -> str | None:
    tree = _parse_html(body)
    for meta in tree.css("meta[http-equiv]"):
        attrs = meta.attributes
        if (attrs.get("http-equiv") or "").strip(_WS).lower() != "refresh":
            continue
        target = _refresh_target(url, attrs.get("content") or "")
        if target:
            return target
    scripts = [node.text() for node in tree.css("script") if "src" not in node.attributes]
    if not any("location" in script for script in scripts):
        return None
    tree.strip_tags(["script", "style", "noscript", "template"])
    text = tree.body.text(separator=" ", strip=True) if tree.body else ""
    if len(text) > MAX_INTERSTITIAL_TEXT:
        return None
    for script in scripts:
        for match in _JS_REDIRECT.finditer(script):
            target = _not_self(url, _join(url, js_unescape(match.group("url"))))
            if target:
                return target
    return None


# -- the page's own word


def _site(host: str) -> str:
    return host[4:] if host.startswith("www.") else host


def same_site(a: str, b: str) -> bool:
    """Same host ignoring a leading ``www.``, or one a subdomain of the other."""
    host_a, host_b = _host(a), _host(b)
    if not host_a or not host_b:
        return False
    site_a, site_b = _site(host_a), _site(host_b)
    return (
        site_a == site_b or site_a.endswith("." + site_b) or site_b.endswith("." + site_a)
    ) and "." in min(site_a, site_b, key=len)


def canonical_link(page_url: str, body: bytes) -> str | None:
    """The page's ``<link rel="canonical">``, absolute; None unless it is http(s) on the same site.

    Resolved against ``<base href>`` when the page has one. A canonical link to
    the site's home page from any other page is ignored: it is a common
    template mistake, and taking it would make every article one.
    """
    try:
        return _canonical_link(page_url, body)
    except (ValueError, UnicodeError):
        return None


def _canonical_link(page_url: str, body: bytes) -> str | None:
    if not body:
        return None
    tree = _parse_html(body)
    href = None
    for link in tree.css("link[rel][href]"):
        attrs = link.attributes
        if "canonical" in (attrs.get("rel") or "").lower().split():
            href = (attrs.get("href") or "").strip(_WS)
            break
    if not href:
        return None
    base = page_url
    base_node = tree.css_first("base[href]")
    if base_node is not None:
        base = urljoin(page_url, (base_node.attributes.get("href") or "").strip(_WS))
    target = _join(base, href)
    if target is None or not same_site(page_url, target):
        return None
    if urlsplit(target).path in ("", "/") and urlsplit(page_url).path not in ("", "/"):
        return None
    return target


# The page's own publication date, in the order trusted: Open Graph's article
# tags (most news sites), then schema.org's microdata, then the older names.
PUBLISHED_META = (
    ("property", "article:published_time"),
    ("name", "article:published_time"),
    ("itemprop", "datePublished"),
    ("property", "og:published_time"),
    ("name", "pubdate"),
    ("name", "date"),
)


def published_time(body: bytes) -> datetime | None:
    """The publication date a page states in its meta tags (``PUBLISHED_META``), in
    UTC; None when it states none, or one without a time zone (never guessed)."""
    try:
        tree = _parse_html(body)
    except (ValueError, UnicodeError):
        return None
    for attribute, name in PUBLISHED_META:
        for meta in tree.css(f"meta[{attribute}][content]"):
            attrs = meta.attributes
            if (attrs.get(attribute) or "").strip().lower() != name.lower():
                continue
            try:
                value = datetime.fromisoformat((attrs.get("content") or "").strip())
            except ValueError:
                continue
            if value.tzinfo is not None:
                return value.astimezone(UTC)
    return None


# -- the cache


def link_expiry(outcome: str, *, permanent: bool, failures: int, now: datetime) -> datetime:
    """When a link's resolution should be tried again.

    "ok": OK_PERMANENT_TTL when every hop was permanent (301/308) or there was
    none, else OK_TEMPORARY_TTL. A failure: RETRY_FIRST doubled for each
    consecutive failure before this one (failures counts this one), at most
    RETRY_MAX: feeds' retry rule (schedule.backoff) with the link cache's own
    parameters.
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}; expected one of {OUTCOMES}")
    if outcome == "ok":
        return now + (OK_PERMANENT_TTL if permanent else OK_TEMPORARY_TTL)
    wait = schedule.backoff(
        RETRY_FIRST.total_seconds(), max(failures, 1) - 1, RETRY_MAX.total_seconds()
    )
    return now + timedelta(seconds=wait)
