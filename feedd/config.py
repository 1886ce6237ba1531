"""Load and validate the TOML config into a frozen Config.

One table, SCHEMA, describes every key: its type, default and meaning.
Validation, the defaults and docs/config.md (see ``render_reference``) are all
generated from it, so they cannot drift apart.

Every problem is collected (not just the first) and reported with the file,
the key path (``feeds[3].interval``, counting from 0) and what is wrong.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigError
from .opml import OpmlError, feed_key, parse_opml
from .types import DEFAULT_MAX_ITEMS, DEFAULT_MAX_REVISIONS, FeedSettings

# -- value parsers: each returns the converted value or raises ValueError with a user message.

_DURATION = re.compile(r"(?:\d+(?:\.\d+)?[smhdw])+")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?$", re.IGNORECASE)
_SIZE_UNITS = {
    "b": 1,
    "kb": 1000,
    "kib": 1024,
    "mb": 1000**2,
    "mib": 1024**2,
    "gb": 1000**3,
    "gib": 1024**3,
}


MAX_DURATION = 366 * 86400.0


def duration_seconds(text: str) -> float | None:
    """'90s', '1h30m', '2 d' (whitespace and case ignored) -> seconds; None when
    ``text`` is not such a duration. The one parser of duration text: the
    config's values and the read commands' --since/--until both use it."""
    compact = "".join(text.split()).lower()
    if not _DURATION.fullmatch(compact):
        return None
    return sum(float(n) * _DURATION_UNITS[u] for n, u in _DURATION_PART.findall(compact))


def parse_duration(value: object) -> float:
    """'90s', '15m', '2h', '1d', '1h30m' or a number of seconds -> seconds (> 0)."""
    if isinstance(value, bool):
        raise ValueError("expected a duration, got a boolean")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        parsed = duration_seconds(value)
        if parsed is None:
            raise ValueError(
                f'bad duration {value!r} (use e.g. "90s", "15m", "2h", "1d" or seconds)'
            )
        seconds = parsed
    else:
        raise ValueError(f"expected a duration, got {type(value).__name__}")
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"duration must be positive, got {value!r}")
    if seconds > MAX_DURATION:
        raise ValueError(f"duration must be at most 366 days, got {value!r}")
    return seconds


def parse_size(value: object) -> int:
    """'10MB', '512KiB' or a number of bytes -> bytes (> 0)."""
    if isinstance(value, bool):
        raise ValueError("expected a size, got a boolean")
    if isinstance(value, int):
        size = value
    elif isinstance(value, str):
        match = _SIZE.match(value.strip())
        if not match:
            raise ValueError(f'bad size {value!r} (use e.g. "10MB", "512KiB" or bytes)')
        size = int(float(match[1]) * _SIZE_UNITS[(match[2] or "b").lower()])
    else:
        raise ValueError(f"expected a size, got {type(value).__name__}")
    if size <= 0:
        raise ValueError(f"size must be positive, got {value!r}")
    return size


def _check_http_url(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a URL string, got {type(value).__name__}")
    try:
        parts = urlsplit(value.strip())
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        raise ValueError(f"bad URL {value!r}: {exc}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"URL must be http or https, got {value!r}")
    if not parts.hostname:
        raise ValueError(f"URL has no host: {value!r}")
    if parts.username is not None or parts.password is not None:
        # The config is often world-readable, and URLs end up in logs and the database.
        raise ValueError("URL must not hold credentials; use username and password")
    return value.strip()


def _typed(kind: type, label: str) -> Callable[[object], Any]:
    def check(value: object) -> Any:
        # bool is an int in Python; TOML keeps them apart, so do we.
        if isinstance(value, bool) and kind is not bool:
            raise ValueError(f"expected {label}, got a boolean")
        if not isinstance(value, kind):
            raise ValueError(f"expected {label}, got {type(value).__name__}")
        return value

    return check


def _positive_int(value: object) -> int:
    number = _typed(int, "an integer")(value)
    if number < 1:
        raise ValueError(f"must be at least 1, got {number}")
    return int(number)


def _non_negative_int(value: object) -> int:
    number = _typed(int, "an integer")(value)
    if number < 0:
        raise ValueError(f"must be at least 0, got {number}")
    return int(number)


def _workers(value: object) -> int:
    number = _typed(int, "an integer")(value)
    if not 0 <= number <= 64:
        raise ValueError(f"must be between 0 and 64, got {number}")
    return int(number)


MIN_WORKER_MEMORY = 64 * 2**20  # an idle worker's data is ~45 MiB: less could not start


def _worker_memory(value: object) -> int:
    if value == 0 or value == "0":
        return 0
    size = parse_size(value)
    if size < MIN_WORKER_MEMORY:
        raise ValueError(f"must be 0 (no budget) or at least 64MiB, got {value!r}")
    return size


def default_workers() -> int:
    """One worker process per CPU core this process may use, at most 4; none on
    one core (a worker would add memory, not speed)."""
    return workers_for(usable_cores())


def workers_for(cores: int) -> int:
    return 0 if cores < 2 else min(4, cores)


CGROUP_ROOT = Path("/sys/fs/cgroup")


def usable_cores(cgroups: Path = Path("/proc/self/cgroup"), root: Path = CGROUP_ROOT) -> int:
    """The cores this process may run on (its affinity), fewer when its cgroup
    or a parent has a CPU quota (systemd's CPUQuota=, docker run --cpus).
    The paths are parameters for the tests."""
    if hasattr(os, "sched_getaffinity"):
        cores = len(os.sched_getaffinity(0))
    else:
        cores = os.cpu_count() or 1
    quotas = []
    try:
        for line in cgroups.read_text().splitlines():
            # cgroup v2: "0::/system.slice/feedd.service"; "0::/" inside a container.
            if line.startswith("0::"):
                group = root / line[3:].lstrip("/")
                # A quota may sit on a parent (a slice with CPUQuota=): the smallest.
                for folder in (group, *group.parents):
                    if not folder.is_relative_to(root):
                        break
                    if (folder / "cpu.max").is_file():
                        quota = quota_cores((folder / "cpu.max").read_text())
                        quotas += [quota] if quota is not None else []
    except (OSError, ValueError):
        pass  # no cgroup v2 CPU controller here: the affinity alone
    return min([cores, *quotas])


def quota_cores(cpu_max: str) -> int | None:
    """Whole cores in a cgroup v2 ``cpu.max`` ("quota period", "max period" for
    none), at least 1; None without a quota."""
    quota, period = cpu_max.split()  # ValueError when it is not two fields
    if quota == "max":
        return None
    return max(1, int(quota) // int(period))


def _non_empty_str(value: object) -> str:
    text = _typed(str, "a string")(value)
    if not text.strip():
        raise ValueError("must not be empty")
    return str(text)


def _tags(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(t, str) and t.strip() for t in value):
        raise ValueError("expected a list of non-empty strings")
    # keep order, drop repeats
    return tuple(dict.fromkeys(t.strip() for t in value))


def _paths(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(p, str) and p.strip() for p in value):
        raise ValueError("expected a list of file paths")
    return tuple(p.strip() for p in value)


def _hosts(value: object) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(h, str) and h.strip() for h in value):
        raise ValueError("expected a list of host names")
    hosts = set()
    for host in value:
        name = host.strip().lower().rstrip(".")
        if "/" in name or ":" in name or " " in name:
            raise ValueError(f'expected a host name like "go.example.com", got {host!r}')
        hosts.add(name)
    return frozenset(hosts)


def _networks(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(n, str) for n in value):
        raise ValueError('expected a list of networks like ["192.168.1.10/32"]')
    networks = []
    for text in value:
        try:
            networks.append(ipaddress.ip_network(text.strip(), strict=False).compressed)
        except ValueError:
            raise ValueError(
                f"bad network {text!r} (use e.g. 192.168.1.0/24 or fd00::/8)"
            ) from None
    return tuple(networks)


def _listen_address(value: object) -> tuple[str, int]:
    text = _non_empty_str(value)
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f'expected "host:port", e.g. "127.0.0.1:9464", got {value!r}')
    return host.strip("[]"), int(port)


_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
# Set by httpx or by feedd itself; a per-feed value would break the request or the guard.
_RESERVED_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "accept-encoding",
        "authorization",
    }
)


def _secret_source(value: object) -> tuple[str, str]:
    """A header value: "text", { file = "path" } or { env = "NAME" } -> (kind, value)."""
    if isinstance(value, str):
        return ("text", value)
    if isinstance(value, dict) and len(value) == 1:
        ((kind, where),) = value.items()
        if kind in ("file", "env") and isinstance(where, str) and where.strip():
            return (kind, where.strip())
    raise ValueError('expected a string, { file = "path" } or { env = "NAME" }')


def _headers(value: object) -> tuple[tuple[str, tuple[str, str]], ...]:
    if not isinstance(value, dict):
        raise ValueError(f"expected a table of header names and values, got {type(value).__name__}")
    headers = []
    for name, raw in value.items():
        if not _HEADER_NAME.match(name):
            raise ValueError(f"bad header name {name!r}")
        if name.lower() in _RESERVED_HEADERS:
            hint = " (use username and password)" if name.lower() == "authorization" else ""
            raise ValueError(f"{name} cannot be set per feed{hint}")
        try:
            headers.append((name, _secret_source(raw)))
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
    return tuple(headers)


def _password_source(value: object) -> tuple[str, str]:
    if isinstance(value, str):
        raise ValueError(
            'put the password in a file or the environment: { file = "path" } or { env = "NAME" }'
        )
    return _secret_source(value)


# The same as feedd.store.URL_SCHEMES (this module imports no part of feedd's
# stages; tests/unit/test_config.py checks the two agree).
DATABASE_URL_SCHEMES = ("postgresql://", "postgres://")


def _database(value: object) -> str:
    """A SQLite path, or a PostgreSQL URL that holds no password."""
    text = _non_empty_str(value)
    if "://" not in text:
        return text
    if not text.startswith(DATABASE_URL_SCHEMES):
        scheme = text.split("://", 1)[0]
        raise ValueError(
            f"{scheme}:// is not a database feedd can use: a SQLite file's path, "
            "or postgresql://user@host:port/dbname"
        )
    parts = urlsplit(text)
    if parts.password is not None or re.search(r"(^|&)password=", parts.query):
        raise ValueError(
            "the URL holds a password: remove it, and give it as database_password "
            '({ file = "..." } or { env = "..." })'
        )
    return text


def _css_selector(value: object) -> str:
    selector = _non_empty_str(value)
    # extract imports trafilatura (0.2 s): only for a config that names a selector.
    from .errors import BadSelector
    from .extract import check_selector

    try:
        check_selector(selector)
    except BadSelector as exc:
        raise ValueError(str(exc)) from None
    return selector


def _one_of(*choices: str) -> Callable[[object], str]:
    def check(value: object) -> str:
        if value not in choices:
            listed = ", ".join(f'"{c}"' for c in choices)
            raise ValueError(f"must be one of {listed}, got {value!r}")
        return str(value)

    return check


@dataclass(frozen=True, slots=True)
class Key:
    name: str
    convert: Callable[[object], Any]
    default: Any
    doc: str
    example: str  # TOML literal shown in the reference
    required: bool = False


RESOLVE_MODES = ("shorteners", "all", "off")
FULLTEXT_MODES = ("off", "auto", "always")

DEFAULT_USER_AGENT = "feedd/{version} (+https://github.com/feedd/feedd)"

SCHEMA: dict[str, tuple[Key, ...]] = {
    "": (
        Key(
            "database",
            _database,
            "feedd.db",
            "Where articles are stored: a SQLite file (a relative path is relative to the "
            "config file's folder), or a PostgreSQL URL, `postgresql://user@host:port/dbname` "
            "(any libpq URL, without the password; needs `pip install 'feedd[postgres]'`), "
            "which several pollers on several machines can share: see docs/scale-out.md.",
            '"feedd.db"',
        ),
        Key(
            "database_password",
            _password_source,
            None,
            'The PostgreSQL password: `{ file = "path" }` (looked up in '
            "`$CREDENTIALS_DIRECTORY` when set, else in the config file's folder) or "
            '`{ env = "NAME" }`, never the password itself. Unset: libpq finds it '
            "(`PGPASSWORD`, `~/.pgpass`) or the server needs none.",
            '{ env = "FEEDD_DATABASE_PASSWORD" }',
        ),
        Key(
            "opml",
            _paths,
            (),
            'OPML subscription lists, e.g. `["subscriptions.opml"]`, whose feeds are added '
            "after the [[feeds]] entries; "
            "folders (nested outlines) and `category` become tags. Paths are relative to the "
            "config file's folder. A URL also in [[feeds]] keeps its [[feeds]] settings. A file "
            "that cannot be read is an error; outlines that are not feeds are skipped with a "
            "warning.",
            "[]",  # the reference example must load without the file
        ),
    ),
    "fetch": (
        Key(
            "interval",
            parse_duration,
            1800.0,
            'Default poll interval: "90s", "15m", "2h", "1d" or integer seconds.',
            '"30m"',
        ),
        Key(
            "adaptive",
            _typed(bool, "true or false"),
            True,
            "Adapt each feed's interval to how often it posts, within min_interval and "
            "max_interval (a feed's own `interval` turns it off for that feed). "
            "The feed's hints (`<ttl>`, `sy:updatePeriod`, Cache-Control max-age, Expires) "
            "are honoured either way: feedd never polls more often than they ask.",
            "true",
        ),
        Key(
            "min_interval",
            parse_duration,
            600.0,
            "Shortest adaptive interval.",
            '"10m"',
        ),
        Key(
            "max_interval",
            parse_duration,
            86400.0,
            "Longest adaptive interval (a dormant feed is still polled this often).",
            '"1d"',
        ),
        Key(
            "timeout",
            parse_duration,
            20.0,
            "Whole-request deadline per feed, redirects included.",
            '"20s"',
        ),
        Key(
            "allow_private_networks",
            _typed(bool, "true or false"),
            False,
            "Allow feeds on loopback, private and link-local addresses (off: such URLs fail).",
            "false",
        ),
        Key(
            "allowed_networks",
            _networks,
            (),
            "Private networks allowed even when allow_private_networks is false, e.g. "
            '`["192.168.1.10/32"]` for a feed on your own server. Checked on the address each '
            "connection dials, for feeds, redirects and links alike.",
            "[]",
        ),
        Key(
            "concurrency",
            _positive_int,
            16,
            "How many feeds are fetched at the same time.",
            "16",
        ),
        Key(
            "per_host",
            _positive_int,
            2,
            "How many feeds of one host are fetched at the same time.",
            "2",
        ),
        Key(
            "workers",
            _workers,
            None,
            "Processes that parse and clean fetched feeds beside the one that fetches and "
            "stores (default: one per CPU core the process may use, cgroup CPU quota "
            "included, at most 4, none on one core; 0: all in one process).",
            "2",
        ),
        Key(
            "fetchers",
            _workers,
            0,
            "Processes that make the feed requests, beside the one that schedules and "
            "stores, so that a sweep of unchanged feeds can use more than one core (0: "
            "requests on the main process's event loop). Each holds only the HTTP client "
            "(~23 MB). Off by default: on a loaded 2-core machine they cost more CPU "
            "than they save (docs/performance.md).",
            "0",
        ),
        Key(
            "max_body_size",
            parse_size,
            16 * 1024 * 1024,
            'Largest feed body accepted, after decompression: "16MiB", "500KB" or bytes.',
            '"16MiB"',
        ),
        Key(
            "worker_memory",
            _worker_memory,
            256 * 2**20,
            "Memory budget of each worker process (its heap and private mappings, idle "
            "under 45 MiB): a document whose parsing needs more (stopped at 95%) fails "
            "with a reason, the worker lives on; so does one that takes more than 60 s. "
            "The corpus's largest feeds need ~45 MiB more than idle; a 13 MiB podcast "
            "feed of 1,000 episodes ~140 MiB with its result; a 16 MiB body (the limit) "
            'proportionally more. 0: no budget. "256MiB", "1GB" or bytes.',
            '"256MiB"',
        ),
        Key(
            "max_items",
            _positive_int,
            DEFAULT_MAX_ITEMS,
            "Most items kept from one feed document, the newest by date (undated ones "
            "last); the rest are left out and logged. Real feeds carry up to ~1,000; a "
            "longer document is cut to its newest items before it is parsed, so a hostile "
            "one of 100,000 tiny items costs neither 100,000 rows nor the memory of "
            "parsing them.",
            "5000",
        ),
        Key(
            "user_agent",
            _non_empty_str,
            DEFAULT_USER_AGENT,
            "User-Agent header; {version} is replaced by feedd's version.",
            f'"{DEFAULT_USER_AGENT}"',
        ),
    ),
    "links": (
        Key(
            "resolve",
            _one_of(*RESOLVE_MODES),
            "shorteners",
            'Which new item links are followed to the real article: "shorteners" (links on '
            'known shortener hosts), "all" (every link, once) or "off".',
            '"shorteners"',
        ),
        Key(
            "shorteners",
            _hosts,
            frozenset(),
            "More shortener hosts, beside the list shipped with feedd (feedd/data/shorteners.txt).",
            '["go.example.com"]',
        ),
        Key(
            "max_hops",
            _positive_int,
            8,
            "Most redirects followed for one link.",
            "8",
        ),
        Key(
            "timeout",
            parse_duration,
            15.0,
            "Deadline for resolving one link, all hops included.",
            '"15s"',
        ),
        Key(
            "concurrency",
            _positive_int,
            8,
            "How many links are resolved at the same time.",
            "8",
        ),
        Key(
            "per_host",
            _positive_int,
            2,
            "How many requests of link resolution one host gets at the same time.",
            "2",
        ),
    ),
    "fulltext": (
        Key(
            "mode",
            _one_of(*FULLTEXT_MODES),
            "off",
            "Whether new items' article pages are fetched and their text stored instead of "
            'the feed\'s: "off", "auto" (only for items that look cut short: a teaser, a '
            '"Read more" trailer, an ellipsis; docs/fulltext.md) or "always". The default for '
            "feeds without their own `fulltext`: pages multiply requests.",
            '"auto"',
        ),
        Key(
            "concurrency",
            _positive_int,
            4,
            "How many article pages are fetched at the same time.",
            "4",
        ),
        Key(
            "per_host",
            _positive_int,
            1,
            "How many article pages one host serves at the same time.",
            "1",
        ),
        Key(
            "timeout",
            parse_duration,
            60.0,
            "How long `feedd fetch` waits, after its polls, for the pages of the items it "
            "stored (the daemon fetches them in the background). Each page has [fetch].timeout.",
            '"60s"',
        ),
        Key(
            "attempts",
            _positive_int,
            3,
            "How many times a page is tried (later each time: 15 minutes, then 2 hours, ...) "
            "before its article keeps the feed's text for good.",
            "3",
        ),
    ),
    "log": (
        Key(
            "level",
            _one_of("debug", "info", "warning", "error"),
            "info",
            "Least severe log level written (-v and -q on the command line move it).",
            '"info"',
        ),
        Key(
            "format",
            _one_of("text", "json"),
            "text",
            '"text": one readable line per event; "json": one JSON object per line '
            "(feed url, status, duration, counts) for journald or log shippers.",
            '"text"',
        ),
    ),
    "http": (
        Key(
            "listen",
            _listen_address,
            None,
            'Serve /healthz and /metrics (Prometheus) on "host:port"; unset: off.',
            '"127.0.0.1:9464"',
        ),
    ),
    "retention": (
        Key(
            "max_age",
            parse_duration,
            None,
            "Delete articles first seen longer ago than this (unset: keep all).",
            '"180d"',
        ),
        Key(
            "max_per_feed",
            _positive_int,
            None,
            "Keep at most this many articles per feed, the newest (unset: no limit).",
            "5000",
        ),
        Key(
            "max_revisions",
            _non_negative_int,
            DEFAULT_MAX_REVISIONS,
            "Keep at most this many earlier versions of each article (its revision history: "
            "titles, summaries and texts that an update or a fuller copy replaced), the newest; "
            "0 keeps none.",
            "20",
        ),
    ),
    "cluster": (
        Key(
            "lease",
            parse_duration,
            90.0,
            "PostgreSQL: how long a feed a poller claimed stays its own without news "
            "from it. A running poll renews it every third of this; the feeds of a poller "
            "that died are polled by the others after it expires.",
            '"90s"',
        ),
        Key(
            "poll_only",
            _typed(bool, "true or false"),
            False,
            "Poll the feeds stored in the database without making them match this "
            "config's [[feeds]] and `opml` (another poller's config, or `feedd add`, owns "
            "the list). For all but one of several pollers sharing a database.",
            "false",
        ),
        Key(
            "name",
            _non_empty_str,
            None,
            "This poller's name in leases and logs. Unset: host name and process id.",
            '"poller-1"',
        ),
    ),
    "feeds[]": (
        Key(
            "url",
            _check_http_url,
            None,
            "The feed's URL (http or https).",
            '"https://example.org/feed.xml"',
            required=True,
        ),
        Key("name", _non_empty_str, None, "Display name.", '"Example"'),
        Key(
            "interval",
            parse_duration,
            None,
            "Poll interval for this feed; overrides [fetch].interval.",
            '"15m"',
        ),
        Key("tags", _tags, (), "Tags for this feed's articles.", '["news", "world"]'),
        Key(
            "enabled",
            _typed(bool, "true or false"),
            True,
            "false keeps the feed configured but not polled.",
            "true",
        ),
        Key(
            "resolve",
            _one_of(*RESOLVE_MODES),
            None,
            "Link resolution for this feed; overrides [links].resolve.",
            '"all"',
        ),
        Key(
            "fulltext",
            _one_of(*FULLTEXT_MODES),
            None,
            "Article pages for this feed's new items; overrides [fulltext].mode.",
            '"always"',
        ),
        Key(
            "fulltext_selector",
            _css_selector,
            None,
            "A CSS selector for the article's elements on this feed's pages, where the "
            "extractor needs help (`feedd extract URL --selector` tries one).",
            '"article .entry-content"',
        ),
        Key(
            "headers",
            _headers,
            (),
            "Extra request headers, e.g. an API key. A value is a string, or for secrets "
            '`{ file = "path" }` or `{ env = "NAME" }` (read like `password`). Sent only to the '
            "feed's own host, never to a redirect elsewhere.",
            '{ "Accept-Language" = "en" }',
        ),
        Key(
            "username",
            _non_empty_str,
            None,
            "HTTP basic auth user (sent only to the feed's own host).",
            '"reader"',
        ),
        Key(
            "password",
            _password_source,
            None,
            'Its basic-auth password: `{ file = "path" }` (trailing newline ignored; a relative '
            "path is looked up in `$CREDENTIALS_DIRECTORY` when set, as systemd "
            "`LoadCredential=` provides, else in the config file's folder) or "
            '`{ env = "NAME" }`. Never the password itself: configs are often world-readable.',
            '{ env = "EXAMPLE_FEED_PASSWORD" }',
        ),
    ),
}


# The tables a config may hold, beside the top-level keys.
TABLES = ("fetch", "links", "fulltext", "log", "http", "retention", "cluster", "feeds")


@dataclass(frozen=True, slots=True)
class FetchConfig:
    interval: float
    timeout: float
    adaptive: bool
    min_interval: float
    max_interval: float
    allow_private_networks: bool
    allowed_networks: tuple[str, ...]
    concurrency: int
    per_host: int
    workers: int | None  # None: default_workers()
    fetchers: int
    max_body_size: int
    worker_memory: int  # bytes of data per worker process; 0: no budget
    max_items: int
    user_agent: str


@dataclass(frozen=True, slots=True)
class LinksConfig:
    resolve: str
    shorteners: frozenset[str]
    max_hops: int
    timeout: float
    concurrency: int
    per_host: int


@dataclass(frozen=True, slots=True)
class FulltextConfig:
    mode: str = "off"
    concurrency: int = 4
    per_host: int = 1
    timeout: float = 60.0
    attempts: int = 3


@dataclass(frozen=True, slots=True)
class LogConfig:
    level: str
    format: str


@dataclass(frozen=True, slots=True)
class HttpConfig:
    listen: tuple[str, int] | None


@dataclass(frozen=True, slots=True)
class RetentionConfig:
    max_age: float | None
    max_per_feed: int | None
    max_revisions: int = DEFAULT_MAX_REVISIONS


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    lease: float = 90.0
    poll_only: bool = False
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Config:
    path: Path
    database: Path | str  # a SQLite file, or a PostgreSQL URL without its password
    fetch: FetchConfig
    links: LinksConfig
    log: LogConfig
    http: HttpConfig
    retention: RetentionConfig
    feeds: tuple[FeedSettings, ...]
    # Problems that did not make the config invalid (outlines skipped in OPML files).
    warnings: tuple[str, ...] = ()
    cluster: ClusterConfig = ClusterConfig()
    database_password: str | None = None
    fulltext: FulltextConfig = FulltextConfig()

    @property
    def enabled_feeds(self) -> tuple[FeedSettings, ...]:
        return tuple(feed for feed in self.feeds if feed.enabled)


def _section(table: object, section: str, where: str, problems: list[str]) -> dict[str, Any]:
    """Validate one table against SCHEMA[section]; return converted values."""
    keys = SCHEMA[section]
    if not isinstance(table, dict):
        problems.append(f"{where or section}: expected a table, got {type(table).__name__}")
        table = {}
    prefix = f"{where}." if where else ""
    known = {key.name for key in keys}
    for name in table:
        if name not in known and not (section == "" and name in TABLES):
            problems.append(f"{prefix}{name}: unknown key")
    values: dict[str, Any] = {}
    for key in keys:
        if key.name not in table:
            if key.required:
                problems.append(f"{prefix}{key.name}: missing (required)")
            values[key.name] = key.default
            continue
        try:
            values[key.name] = key.convert(table[key.name])
        except ValueError as exc:
            problems.append(f"{prefix}{key.name}: {exc}")
            values[key.name] = key.default
    return values


def parse_config(data: dict[str, Any], path: Path) -> Config:
    """Validate an already-decoded TOML document. Raises ConfigError with every problem."""
    problems: list[str] = []
    top = _section(data, "", "", problems)
    fetch = _section(data.get("fetch", {}), "fetch", "fetch", problems)
    links = _section(data.get("links", {}), "links", "links", problems)
    fulltext = _section(data.get("fulltext", {}), "fulltext", "fulltext", problems)
    log = _section(data.get("log", {}), "log", "log", problems)
    http = _section(data.get("http", {}), "http", "http", problems)
    retention = _section(data.get("retention", {}), "retention", "retention", problems)
    cluster = _section(data.get("cluster", {}), "cluster", "cluster", problems)

    raw_feeds = data.get("feeds", [])
    if not isinstance(raw_feeds, list):
        problems.append("feeds: expected an array of tables ([[feeds]])")
        raw_feeds = []
    feeds: list[FeedSettings] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(raw_feeds):
        where = f"feeds[{index}]"
        values = _section(raw, "feeds[]", where, problems)
        url = values["url"]
        if url is None:
            continue
        key = feed_key(url)
        if key in seen:
            problems.append(f"{where}.url: duplicate of feeds[{seen[key]}].url ({url})")
            continue
        seen[key] = index
        headers = tuple(
            (name, _read_secret(source, f"{where}.headers.{name}", path, problems))
            for name, source in values["headers"]
        )
        auth = None
        if values["username"] is not None or values["password"] is not None:
            if values["username"] is None or values["password"] is None:
                missing = "password" if values["username"] is not None else "username"
                if missing not in raw:  # else its bad value is already reported
                    problems.append(
                        f"{where}.{missing}: missing (username and password go together)"
                    )
            else:
                password = _read_secret(values["password"], f"{where}.password", path, problems)
                auth = (values["username"], password)
        feeds.append(
            FeedSettings(
                url=url,
                name=values["name"],
                interval=values["interval"] or fetch["interval"],
                tags=values["tags"],
                enabled=values["enabled"],
                resolve=values["resolve"] or links["resolve"],
                adaptive=fetch["adaptive"] and values["interval"] is None,
                fulltext=values["fulltext"] or fulltext["mode"],
                fulltext_selector=values["fulltext_selector"],
                headers=headers,
                auth=auth,
            )
        )
    if fetch["min_interval"] > fetch["max_interval"]:
        problems.append(
            f"fetch.min_interval: {fetch['min_interval']:g}s is longer than "
            f"fetch.max_interval ({fetch['max_interval']:g}s)"
        )

    warnings = _add_opml_feeds(
        top["opml"], path, fetch, links, fulltext["mode"], feeds, seen, problems
    )

    # Read only for a server: the secret need not exist where SQLite is used.
    database_password = None
    if top["database_password"] is not None:
        if str(top["database"]).startswith(DATABASE_URL_SCHEMES):
            database_password = _read_secret(
                top["database_password"], "database_password", path, problems
            )
        else:
            warnings.append("database_password: ignored: the database is a SQLite file")

    if problems:
        raise ConfigError(str(path), problems)

    database: Path | str = top["database"]
    if not str(database).startswith(DATABASE_URL_SCHEMES):
        database = Path(database).expanduser()
        if not database.is_absolute():
            database = path.parent / database
    return Config(
        path=path,
        database=database,
        fetch=FetchConfig(**fetch),
        links=LinksConfig(**links),
        log=LogConfig(**log),
        http=HttpConfig(**http),
        retention=RetentionConfig(**retention),
        feeds=tuple(feeds),
        warnings=tuple(warnings),
        cluster=ClusterConfig(**cluster),
        database_password=database_password,
        fulltext=FulltextConfig(**fulltext),
    )


def _read_secret(source: tuple[str, str], key: str, path: Path, problems: list[str]) -> str:
    """The value of a literal, { file = ... } or { env = ... } secret; problems named by key."""
    kind, where = source
    if kind == "text":
        return where
    if kind == "env":
        value = os.environ.get(where)
        if value is None:
            problems.append(f"{key}: environment variable {where} is not set")
            return ""
        return value
    file = Path(where).expanduser()
    if not file.is_absolute():
        credentials = os.environ.get("CREDENTIALS_DIRECTORY")
        file = Path(credentials, file) if credentials else path.parent / file
    try:
        value = file.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        problems.append(f"{key}: cannot read {file}: {exc.strerror or exc}")
        return ""
    except UnicodeDecodeError:
        problems.append(f"{key}: {file} is not UTF-8 text")
        return ""
    if "\n" in value or "\r" in value:
        problems.append(f"{key}: {file} holds more than one line")
    return value


def _add_opml_feeds(
    files: tuple[str, ...],
    path: Path,
    fetch: dict[str, Any],
    links: dict[str, Any],
    fulltext: str,
    feeds: list[FeedSettings],
    seen: dict[str, int],
    problems: list[str],
) -> list[str]:
    """Append the feeds of the `opml` files to feeds; return the warnings.

    A URL already in [[feeds]] keeps its settings; one listed by several OPML
    files gets the tags of all of them.
    """
    warnings: list[str] = []
    from_opml: dict[str, int] = {}  # canonical URL -> position in feeds
    for index, name in enumerate(files):
        file = Path(name).expanduser()
        if not file.is_absolute():
            file = path.parent / file
        where = f"opml[{index}]"
        try:
            document = parse_opml(file.read_bytes())
        except OSError as exc:
            problems.append(f"{where}: cannot read {file}: {exc.strerror or exc}")
            continue
        except OpmlError as exc:
            problems.append(f"{where}: {file}: {exc}")
            continue
        warnings += [f"{where} ({file}): {skipped}" for skipped in document.skipped]
        for feed in document.feeds:
            key = feed_key(feed.url)
            if key in from_opml:
                known = feeds[from_opml[key]]
                tags = tuple(dict.fromkeys([*known.tags, *feed.tags]))
                feeds[from_opml[key]] = dataclasses.replace(known, tags=tags)
                continue
            if key in seen:
                continue
            from_opml[key] = len(feeds)
            feeds.append(
                FeedSettings(
                    url=feed.url,
                    name=feed.title,
                    interval=fetch["interval"],
                    tags=feed.tags,
                    enabled=True,
                    resolve=links["resolve"],
                    adaptive=fetch["adaptive"],
                    fulltext=fulltext,
                )
            )
    return warnings


def load_config(path: str | Path) -> Config:
    """Read and validate a config file. Raises ConfigError naming the file."""
    path = Path(path).expanduser().absolute()
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except FileNotFoundError:
        raise ConfigError(str(path), ["file not found"]) from None
    except IsADirectoryError:
        raise ConfigError(str(path), ["is a directory, expected a TOML file"]) from None
    except PermissionError:
        raise ConfigError(str(path), ["permission denied"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [f"not valid TOML: {exc}"]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), [f"not UTF-8 text: {exc}"]) from None
    return parse_config(data, path)


def render_reference() -> str:
    """docs/config.md, generated from SCHEMA (tests check the file is current)."""
    lines = [
        "# Configuration reference",
        "",
        "<!-- Generated from feedd/config.py SCHEMA by `python docs/generate.py`;",
        "     tests/test_docs.py fails when this file is out of date. -->",
        "",
        "feedd reads one TOML file, given by `-c/--config` or the `FEEDD_CONFIG` environment",
        "variable. Unknown keys, wrong types, bad durations or sizes, duplicate feed URLs and",
        "non-http(s) URLs are errors; `feedd check -c FILE` lists every problem with the file,",
        "the key (`feeds[3].interval`, counting from 0) and what is wrong.",
        "",
    ]
    titles = {
        "": "Top level",
        "fetch": "`[fetch]`",
        "links": "`[links]`",
        "fulltext": "`[fulltext]` (article pages: docs/fulltext.md)",
        "log": "`[log]`",
        "http": "`[http]` (health and metrics)",
        "retention": "`[retention]`",
        "cluster": "`[cluster]` (several pollers on one PostgreSQL database)",
        "feeds[]": "`[[feeds]]` (one table per feed)",
    }
    for section, keys in SCHEMA.items():
        lines += [f"## {titles[section]}", "", "| key | default | meaning |", "| --- | --- | --- |"]
        for key in keys:
            default = "required" if key.required else _toml_literal(key.default)
            lines.append(f"| `{key.name}` | {default} | {key.doc} |")
        lines.append("")
    lines += ["## Example", "", "```toml"]
    for section, keys in SCHEMA.items():
        if section == "feeds[]":
            lines.append("[[feeds]]")
        elif section:
            lines.append(f"[{section}]")
        for key in keys:
            lines.append(f"{key.name} = {key.example}")
        lines.append("")
    lines[-1] = "```"
    return "\n".join(lines) + "\n"


def _toml_literal(value: Any) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str):
        return f'`"{value}"`'
    if isinstance(value, tuple | frozenset):
        return "`[]`"
    if isinstance(value, float) and value.is_integer():
        return f"`{int(value)}` s"
    return f"`{value}`"
