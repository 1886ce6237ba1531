"""config: TOML files in tmp_path and decoded documents, validated against SCHEMA."""

from __future__ import annotations

import math
import re
import textwrap
import tomllib
from pathlib import Path

import pytest

from feedd.config import (
    DEFAULT_USER_AGENT,
    SCHEMA,
    ConfigError,
    load_config,
    parse_config,
    parse_duration,
    parse_size,
    quota_cores,
    render_reference,
    usable_cores,
    workers_for,
)

CONFIG_PATH = Path("/srv/feedd/feedd.toml")
DURATION_HINT = '(use e.g. "90s", "15m", "2h", "1d" or seconds)'


def write(tmp_path: Path, text: str, name: str = "feedd.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems_of(data: dict, path: Path = CONFIG_PATH) -> tuple[str, ...]:
    with pytest.raises(ConfigError) as info:
        parse_config(data, path)
    return info.value.problems


def one_feed(**fields: object) -> dict:
    return {"feeds": [{"url": "https://example.com/feed.xml", **fields}]}


# -- defaults


def test_empty_config_gets_every_default():
    config = parse_config({}, CONFIG_PATH)
    assert config.path == CONFIG_PATH
    assert config.database == Path("/srv/feedd/feedd.db")
    assert config.fetch.interval == 1800.0
    assert config.fetch.timeout == 20.0
    assert config.fetch.allow_private_networks is False
    assert config.fetch.concurrency == 16
    assert config.fetch.max_body_size == 16 * 1024 * 1024
    assert config.fetch.user_agent == DEFAULT_USER_AGENT
    assert config.links.resolve == "shorteners"
    assert config.feeds == ()


def test_defaults_match_the_schema():
    config = parse_config({}, CONFIG_PATH)
    for key in SCHEMA["fetch"]:
        assert getattr(config.fetch, key.name) == key.default
    for key in SCHEMA["links"]:
        assert getattr(config.links, key.name) == key.default


def test_feed_defaults_and_interval_inheritance():
    config = parse_config(
        {
            "fetch": {"interval": "10m"},
            "feeds": [
                {"url": "https://a.example/feed"},
                {
                    "url": "https://b.example/feed",
                    "name": "B",
                    "interval": "2h",
                    "tags": ["news", " world ", "news"],
                    "enabled": False,
                },
            ],
        },
        CONFIG_PATH,
    )
    a, b = config.feeds
    assert (a.url, a.name, a.interval, a.tags, a.enabled) == (
        "https://a.example/feed",
        None,
        600.0,
        (),
        True,
    )
    assert (b.name, b.interval, b.tags, b.enabled) == ("B", 7200.0, ("news", "world"), False)
    assert config.enabled_feeds == (a,)


def test_full_file(tmp_path):
    path = write(
        tmp_path,
        """
        database = "state/feedd.sqlite"

        [fetch]
        interval = "15m"
        timeout = 30
        allow_private_networks = true
        concurrency = 4
        max_body_size = "512KiB"
        user_agent = "my-agent/1.0"

        [links]
        resolve = "off"

        [[feeds]]
        url = "https://example.org/feed.xml"
        name = "Example"
        interval = "1h30m"
        tags = ["a"]

        [[feeds]]
        url = "http://example.net/rss"
        enabled = false
        """,
    )
    config = load_config(path)
    assert config.path == path
    assert config.database == tmp_path / "state" / "feedd.sqlite"
    assert config.fetch.interval == 900.0
    assert config.fetch.timeout == 30.0
    assert config.fetch.allow_private_networks is True
    assert config.fetch.concurrency == 4
    assert config.fetch.max_body_size == 512 * 1024
    assert config.fetch.user_agent == "my-agent/1.0"
    assert config.links.resolve == "off"
    assert [f.url for f in config.feeds] == [
        "https://example.org/feed.xml",
        "http://example.net/rss",
    ]
    assert config.feeds[0].interval == 5400.0
    assert config.feeds[1].interval == 900.0
    assert [f.url for f in config.enabled_feeds] == ["https://example.org/feed.xml"]


# -- the database path


def test_relative_database_is_relative_to_the_config_folder(tmp_path, monkeypatch):
    folder = tmp_path / "etc" / "feedd"
    folder.mkdir(parents=True)
    path = write(folder, 'database = "data/feedd.db"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert load_config(path).database == folder / "data" / "feedd.db"
    # Also when the config itself is named by a relative path.
    monkeypatch.chdir(tmp_path)
    assert load_config(Path("etc/feedd/feedd.toml")).database == folder / "data" / "feedd.db"


def test_absolute_database_is_kept(tmp_path):
    target = tmp_path / "other" / "x.db"
    path = write(tmp_path, f'database = "{target.as_posix()}"\n')
    assert load_config(path).database == target


def test_database_home_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    config = parse_config({"database": "~/feedd.db"}, CONFIG_PATH)
    assert config.database == tmp_path / "home" / "feedd.db"


@pytest.mark.parametrize("value", ["", "   ", 5, True])
def test_bad_database(value):
    [problem] = problems_of({"database": value})
    assert problem.startswith("database: ")


# -- durations


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("90s", 90.0),
        ("15m", 900.0),
        ("2h", 7200.0),
        ("1d", 86400.0),
        ("1w", 604800.0),
        ("1h30m", 5400.0),
        ("1d2h3m4s", 86400.0 + 7200 + 180 + 4),
        ("1.5h", 5400.0),
        (" 2 h ", 7200.0),
        ("2H", 7200.0),
        (45, 45.0),
        (1, 1.0),
        (2.5, 2.5),
    ],
)
def test_parse_duration(value, seconds):
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "bad duration"),
        ("abc", "bad duration"),
        ("5", "bad duration"),  # a string needs a unit; a number doesn't
        ("5x", "bad duration"),
        ("1h30", "bad duration"),
        ("h", "bad duration"),
        ("-5m", "bad duration"),
        ("1e3s", "bad duration"),
        ("0s", "positive"),
        (0, "positive"),
        (-5, "positive"),
        (True, "boolean"),
        (False, "boolean"),
        (None, "NoneType"),
        (["1h"], "list"),
    ],
)
def test_parse_duration_rejects(value, message):
    with pytest.raises(ValueError, match=message):
        parse_duration(value)


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_parse_duration_rejects_non_finite(value):
    """TOML has inf and nan. An infinite interval crashes the scheduler (timedelta
    overflow); a NaN one turns into a 1 s poll loop. Neither is a duration."""
    with pytest.raises(ValueError):
        parse_duration(value)


@pytest.mark.parametrize("literal", ["inf", "nan"])
def test_non_finite_interval_in_a_file_is_a_config_error(tmp_path, literal):
    path = write(
        tmp_path, f'[fetch]\ninterval = {literal}\n[[feeds]]\nurl = "https://a.example/"\n'
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert any(p.startswith("fetch.interval: ") for p in info.value.problems)


def test_bad_durations_in_config_name_their_key():
    problems = problems_of(
        {
            "fetch": {"interval": "soon", "timeout": 0},
            "feeds": [
                {"url": "https://a.example/"},
                {"url": "https://b.example/", "interval": "1x"},
            ],
        }
    )
    assert problems == (
        f"fetch.interval: bad duration 'soon' {DURATION_HINT}",
        "fetch.timeout: duration must be positive, got 0",
        f"feeds[1].interval: bad duration '1x' {DURATION_HINT}",
    )


# -- sizes


@pytest.mark.parametrize(
    ("value", "size"),
    [
        ("10MB", 10_000_000),
        ("10 MB", 10_000_000),
        ("512KiB", 524_288),
        ("500kb", 500_000),
        ("1GiB", 1024**3),
        ("2gb", 2 * 1000**3),
        ("16MiB", 16 * 1024**2),
        ("1.5KB", 1500),
        ("100", 100),
        ("100b", 100),
        (100, 100),
    ],
)
def test_parse_size(value, size):
    assert parse_size(value) == size


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "bad size"),
        ("abc", "bad size"),
        ("10TB", "bad size"),
        ("-1MB", "bad size"),
        ("0", "positive"),
        (0, "positive"),
        (-1, "positive"),
        ("0.1b", "positive"),
        (True, "boolean"),
        (1.5, "float"),
        (None, "NoneType"),
    ],
)
def test_parse_size_rejects(value, message):
    with pytest.raises(ValueError, match=message):
        parse_size(value)


def test_bad_size_in_config():
    assert problems_of({"fetch": {"max_body_size": "huge"}}) == (
        'fetch.max_body_size: bad size \'huge\' (use e.g. "10MB", "512KiB" or bytes)',
    )


# -- unknown keys, wrong types


def test_unknown_keys_at_every_level():
    problems = problems_of(
        {
            "databse": "x.db",
            "fetch": {"intervall": "1h"},
            "links": {"follow": True},
            "feeds": [{"url": "https://a.example/"}, {"url": "https://b.example/", "title": "B"}],
        }
    )
    assert set(problems) == {
        "databse: unknown key",
        "fetch.intervall: unknown key",
        "links.follow: unknown key",
        "feeds[1].title: unknown key",
    }


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"fetch": {"concurrency": "16"}}, "fetch.concurrency: expected an integer, got str"),
        ({"fetch": {"concurrency": 0}}, "fetch.concurrency: must be at least 1, got 0"),
        ({"fetch": {"concurrency": 2.0}}, "fetch.concurrency: expected an integer, got float"),
        ({"fetch": {"user_agent": 5}}, "fetch.user_agent: expected a string, got int"),
        ({"fetch": {"user_agent": " "}}, "fetch.user_agent: must not be empty"),
        (
            {"fetch": {"allow_private_networks": "yes"}},
            "fetch.allow_private_networks: expected true or false, got str",
        ),
        (
            {"links": {"resolve": "sometimes"}},
            'links.resolve: must be one of "shorteners", "all", "off", got \'sometimes\'',
        ),
        (one_feed(tags="news"), "feeds[0].tags: expected a list of non-empty strings"),
        (one_feed(tags=["ok", ""]), "feeds[0].tags: expected a list of non-empty strings"),
        (one_feed(tags=["ok", 1]), "feeds[0].tags: expected a list of non-empty strings"),
        (one_feed(name=3), "feeds[0].name: expected a string, got int"),
        (one_feed(enabled="no"), "feeds[0].enabled: expected true or false, got str"),
        ({"fetch": 5}, "fetch: expected a table, got int"),
        ({"links": ["x"]}, "links: expected a table, got list"),
        (
            {"feeds": {"url": "https://a.example/"}},
            "feeds: expected an array of tables ([[feeds]])",
        ),
        ({"feeds": ["https://a.example/"]}, "feeds[0]: expected a table, got str"),
    ],
)
def test_wrong_types(data, problem):
    assert problem in problems_of(data)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"fetch": {"concurrency": True}}, "fetch.concurrency: expected an integer, got a boolean"),
        (
            {"fetch": {"allow_private_networks": 1}},
            "fetch.allow_private_networks: expected true or false, got int",
        ),
        ({"fetch": {"interval": True}}, "fetch.interval: expected a duration, got a boolean"),
        (
            {"fetch": {"max_body_size": False}},
            "fetch.max_body_size: expected a size, got a boolean",
        ),
        (one_feed(enabled=0), "feeds[0].enabled: expected true or false, got int"),
    ],
)
def test_booleans_and_integers_are_kept_apart(data, problem):
    assert problems_of(data) == (problem,)


# -- feed URLs


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        (
            "ftp://example.com/feed",
            "feeds[0].url: URL must be http or https, got 'ftp://example.com/feed'",
        ),
        (
            "file:///etc/feed.xml",
            "feeds[0].url: URL must be http or https, got 'file:///etc/feed.xml'",
        ),
        ("example.com/feed", "feeds[0].url: URL must be http or https, got 'example.com/feed'"),
        (
            "feed://example.com/rss",
            "feeds[0].url: URL must be http or https, got 'feed://example.com/rss'",
        ),
        ("http://", "feeds[0].url: URL has no host: 'http://'"),
        ("https:///path", "feeds[0].url: URL has no host: 'https:///path'"),
        ("http://[::1/", "feeds[0].url: bad URL 'http://[::1/'"),
        (42, "feeds[0].url: expected a URL string, got int"),
    ],
)
def test_non_http_feed_urls(url, problem):
    [found] = problems_of({"feeds": [{"url": url}]})
    assert found.startswith(problem)


def test_feed_url_is_required():
    assert problems_of({"feeds": [{"name": "No URL"}]}) == ("feeds[0].url: missing (required)",)


def test_feed_url_is_stripped_and_scheme_case_accepted():
    config = parse_config({"feeds": [{"url": "  HTTPS://Example.com/feed  "}]}, CONFIG_PATH)
    assert config.feeds[0].url == "HTTPS://Example.com/feed"


@pytest.mark.parametrize(
    "second",
    [
        "https://example.com/feed",
        "https://EXAMPLE.com/feed",
        "HTTPS://Example.COM/feed",
        "  https://example.com/feed ",
    ],
)
def test_duplicate_feed_urls(second):
    problems = problems_of(
        {
            "feeds": [
                {"url": "https://example.com/feed"},
                {"url": "https://other.example/"},
                {"url": second},
            ]
        }
    )
    assert problems == (f"feeds[2].url: duplicate of feeds[0].url ({second.strip()})",)


def test_feed_url_paths_are_case_sensitive():
    config = parse_config(
        {"feeds": [{"url": "https://example.com/Feed"}, {"url": "https://example.com/feed"}]},
        CONFIG_PATH,
    )
    assert len(config.feeds) == 2


# -- every problem at once


def test_every_problem_is_reported_with_its_key_path_and_the_file(tmp_path):
    path = write(
        tmp_path,
        """
        database = 7
        colour = "blue"

        [fetch]
        interval = "often"
        concurrency = true

        [links]
        resolve = "maybe"

        [[feeds]]
        url = "https://example.com/feed"

        [[feeds]]
        url = "https://example.com/other"
        interval = "5 minutes"

        [[feeds]]
        url = "gopher://example.com/"

        [[feeds]]
        name = "nameless"
        tags = "x"

        [[feeds]]
        url = "https://EXAMPLE.com/feed"
        enabled = "yes"
        """,
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    error = info.value
    assert error.path == str(path)
    assert set(error.problems) == {
        "database: expected a string, got int",
        "colour: unknown key",
        f"fetch.interval: bad duration 'often' {DURATION_HINT}",
        "fetch.concurrency: expected an integer, got a boolean",
        'links.resolve: must be one of "shorteners", "all", "off", got \'maybe\'',
        f"feeds[1].interval: bad duration '5 minutes' {DURATION_HINT}",
        "feeds[2].url: URL must be http or https, got 'gopher://example.com/'",
        "feeds[3].url: missing (required)",
        "feeds[3].tags: expected a list of non-empty strings",
        "feeds[4].enabled: expected true or false, got str",
        "feeds[4].url: duplicate of feeds[0].url (https://EXAMPLE.com/feed)",
    }
    assert len(error.problems) == 11
    lines = str(error).splitlines()
    assert len(lines) == 11
    assert all(line.startswith(f"{path}: ") for line in lines)
    assert f"{path}: feeds[1].interval: bad duration '5 minutes'" in str(error)


# -- files that can't be read


def test_missing_file(tmp_path):
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems == ("file not found",)
    assert str(info.value) == f"{path}: file not found"


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert str(tmp_path) in str(info.value)
    assert "directory" in str(info.value)


@pytest.mark.parametrize(
    "text",
    [
        "database = \n",
        "[fetch\ninterval = '1h'\n",
        "database = 'a'\ndatabase = 'b'\n",  # duplicate key is a TOML error
        'database = "unterminated\n',
        "[[feeds]]\nurl = https://example.com/\n",
    ],
)
def test_invalid_toml(tmp_path, text):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    [problem] = info.value.problems
    assert problem.startswith("not valid TOML: ")
    assert re.search(r"line \d+", problem)
    assert str(info.value).startswith(f"{path}: not valid TOML")


def test_not_utf8(tmp_path):
    path = tmp_path / "feedd.toml"
    path.write_bytes('name = "caf\u00e9"\n'.encode("latin-1"))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: ")


# -- the reference page


def test_reference_mentions_every_key():
    reference = render_reference()
    for section, keys in SCHEMA.items():
        if section == "feeds[]":
            assert "[[feeds]]" in reference
        elif section:
            assert f"[{section}]" in reference
        for key in keys:
            assert f"| `{key.name}` |" in reference, f"{section}.{key.name} not documented"
            assert key.doc in reference
            assert f"{key.name} = {key.example}" in reference


def test_reference_example_is_a_valid_config(monkeypatch):
    monkeypatch.setenv("EXAMPLE_FEED_PASSWORD", "s3cret")  # the example reads it
    reference = render_reference()
    match = re.search(r"```toml\n(.*?)```", reference, re.DOTALL)
    assert match is not None
    config = parse_config(tomllib.loads(match.group(1)), CONFIG_PATH)
    assert len(config.feeds) == 1
    assert config.feeds[0].auth == ("reader", "s3cret")


# -- adaptive intervals, per-feed headers and credentials


def test_adaptive_defaults_and_a_feed_interval_pins_it():
    config = parse_config(
        {
            "feeds": [
                {"url": "https://a.example/feed"},
                {"url": "https://b.example/feed", "interval": "2h"},
            ]
        },
        CONFIG_PATH,
    )
    assert (config.fetch.adaptive, config.fetch.min_interval, config.fetch.max_interval) == (
        True,
        600.0,
        86400.0,
    )
    assert config.fetch.per_host == 2
    assert [feed.adaptive for feed in config.feeds] == [True, False]
    off = parse_config({"fetch": {"adaptive": False}, **one_feed()}, CONFIG_PATH)
    assert not off.feeds[0].adaptive


def test_min_interval_longer_than_max_interval():
    problems = problems_of({"fetch": {"min_interval": "2d", "max_interval": "1d"}})
    assert problems == ("fetch.min_interval: 172800s is longer than fetch.max_interval (86400s)",)


def test_headers_literal_file_and_env(tmp_path, monkeypatch):
    (tmp_path / "api-key").write_text("k-123\n")
    monkeypatch.setenv("FEED_TOKEN", "t-456")
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    headers = {
        "Accept-Language": "en",
        "X-Api-Key": {"file": "api-key"},
        "X-Token": {"env": "FEED_TOKEN"},
    }
    config = parse_config(one_feed(headers=headers), tmp_path / "feedd.toml")
    assert config.feeds[0].headers == (
        ("Accept-Language", "en"),
        ("X-Api-Key", "k-123"),
        ("X-Token", "t-456"),
    )
    # Secrets stay out of reprs (logs, tracebacks).
    assert "k-123" not in repr(config.feeds[0])


def test_password_from_credentials_directory(tmp_path, monkeypatch):
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "feed-password").write_text("pw\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    config = parse_config(
        one_feed(username="me", password={"file": "feed-password"}), tmp_path / "feedd.toml"
    )
    assert config.feeds[0].auth == ("me", "pw")
    assert "pw" not in repr(config.feeds[0]).replace("password", "")


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"username": "me", "password": "plain"}, "feeds[0].password: put the password in a file"),
        ({"username": "me"}, "feeds[0].password: missing (username and password go together)"),
        ({"password": {"env": "X"}}, "feeds[0].username: missing (username and password go"),
        (
            {"username": "me", "password": {"env": "FEEDD_TEST_UNSET"}},
            "feeds[0].password: environment variable FEEDD_TEST_UNSET is not set",
        ),
        (
            {"username": "me", "password": {"file": "/nonexistent/pw"}},
            "feeds[0].password: cannot read /nonexistent/pw: No such file or directory",
        ),
        ({"headers": {"Authorization": "x"}}, "feeds[0].headers: Authorization cannot be set"),
        ({"headers": {"Bad Name": "x"}}, "feeds[0].headers: bad header name 'Bad Name'"),
        ({"headers": {"X-A": {"url": "x"}}}, "feeds[0].headers: X-A: expected a string, { file"),
        ({"headers": ["X-A"]}, "feeds[0].headers: expected a table of header names"),
        (
            {"url": "https://user:pw@a.example/feed"},
            "feeds[0].url: URL must not hold credentials; use username and password",
        ),
    ],
)
def test_bad_credentials_and_headers(fields, problem, monkeypatch):
    monkeypatch.delenv("FEEDD_TEST_UNSET", raising=False)
    problems = problems_of(one_feed(**fields))
    assert len(problems) == 1
    assert problems[0].startswith(problem), problems


# -- the default number of worker processes


@pytest.mark.parametrize(
    ("cpu_max", "cores"),
    [("max 100000", None), ("200000 100000", 2), ("150000 100000", 1), ("50000 100000", 1)],
)
def test_a_cgroup_cpu_quota_in_whole_cores(cpu_max: str, cores: int | None):
    assert quota_cores(cpu_max + "\n") == cores


@pytest.mark.parametrize("cpu_max", ["", "max", "1 2 3", "x 100000"])
def test_an_unreadable_cpu_quota_is_a_value_error(cpu_max: str):
    with pytest.raises(ValueError):
        quota_cores(cpu_max)


@pytest.mark.parametrize(("cores", "workers"), [(1, 0), (2, 2), (3, 3), (4, 4), (16, 4)])
def test_workers_per_core(cores: int, workers: int):
    """None on one core: a worker would add memory and no speed."""
    assert workers_for(cores) == workers


def test_usable_cores_is_within_the_affinity():
    import os

    assert 1 <= usable_cores() <= len(os.sched_getaffinity(0))


def test_the_smallest_cpu_quota_of_the_cgroup_and_its_parents(tmp_path: Path):
    import os

    root = tmp_path / "cgroup"
    service = root / "system.slice" / "feedd.service"
    service.mkdir(parents=True)
    (service / "cpu.max").write_text("max 100000\n")
    (root / "system.slice" / "cpu.max").write_text("100000 100000\n")  # CPUQuota=100%
    cgroups = tmp_path / "self-cgroup"
    cgroups.write_text("0::/system.slice/feedd.service\n")
    assert usable_cores(cgroups, root) == 1
    (root / "system.slice" / "cpu.max").write_text("max 100000\n")
    assert usable_cores(cgroups, root) == len(os.sched_getaffinity(0))
    cgroups.write_text("12:cpu,cpuacct:/\n")  # cgroup v1 only: the affinity alone
    assert usable_cores(cgroups, root) == len(os.sched_getaffinity(0))


# -- the database: a SQLite path or a PostgreSQL URL


def test_a_postgresql_url_is_kept_as_a_url_never_a_path():
    for url in ("postgresql://feedd@db.example:5432/feedd", "postgres://db.example/feedd"):
        config = parse_config({"database": url}, CONFIG_PATH)
        assert config.database == url
        assert isinstance(config.database, str)


def test_the_url_schemes_agree_with_the_store():
    from feedd.config import DATABASE_URL_SCHEMES
    from feedd.store import URL_SCHEMES

    assert DATABASE_URL_SCHEMES == URL_SCHEMES


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://feedd:secret@db.example/feedd",
        "postgresql://db.example/feedd?user=feedd&password=secret",
    ],
)
def test_a_password_in_the_url_is_refused(url):
    (problem,) = problems_of({"database": url})
    assert problem.startswith("database: the URL holds a password")
    assert "secret" not in problem


def test_an_unknown_database_url_is_refused():
    (problem,) = problems_of({"database": "mysql://db.example/feedd"})
    assert problem.startswith("database: mysql:// is not a database feedd can use")


def test_the_database_password_comes_from_a_secret(monkeypatch):
    monkeypatch.setenv("FEEDD_TEST_DB_PASSWORD", "s3cret")
    config = parse_config(
        {
            "database": "postgresql://feedd@db.example/feedd",
            "database_password": {"env": "FEEDD_TEST_DB_PASSWORD"},
        },
        CONFIG_PATH,
    )
    assert config.database_password == "s3cret"  # noqa: S105 - the test's own
    monkeypatch.delenv("FEEDD_TEST_DB_PASSWORD")
    (problem,) = problems_of(
        {
            "database": "postgresql://feedd@db.example/feedd",
            "database_password": {"env": "FEEDD_TEST_DB_PASSWORD"},
        }
    )
    assert problem == "database_password: environment variable FEEDD_TEST_DB_PASSWORD is not set"


def test_a_literal_database_password_is_refused():
    problems = problems_of(
        {"database": "postgresql://feedd@db.example/feedd", "database_password": "s3cret"}
    )
    assert [p.split(":")[0] for p in problems] == ["database_password"]


def test_a_database_password_beside_a_sqlite_file_is_ignored_with_a_warning():
    config = parse_config({"database_password": {"env": "UNSET_ANYWHERE"}}, CONFIG_PATH)
    assert config.database_password is None
    assert config.warnings == ("database_password: ignored: the database is a SQLite file",)


def test_cluster_settings():
    config = parse_config({}, CONFIG_PATH)
    assert (config.cluster.lease, config.cluster.poll_only, config.cluster.name) == (
        90.0,
        False,
        None,
    )
    config = parse_config(
        {"cluster": {"lease": "2m", "poll_only": True, "name": "poller-2"}}, CONFIG_PATH
    )
    assert (config.cluster.lease, config.cluster.poll_only, config.cluster.name) == (
        120.0,
        True,
        "poller-2",
    )
    (problem,) = problems_of({"cluster": {"poll_only": "yes"}})
    assert problem.startswith("cluster.poll_only:")
