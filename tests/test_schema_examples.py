"""Every example in docs/schema.md runs against a real database.

The examples are read from the fenced blocks of the page:

- ```sql blocks: each statement runs through the sqlite3 module;
- ```sh blocks: `sqlite3 feedd.db "..."` runs its SQL the same way;
  `sqlite-utils ...` and `datasette ...` run as the commands installed next to
  this Python, in a folder holding feedd.db;
- ```python blocks run as they are (pandas: skipped when it is not installed);
- ```postgresql blocks (the page's PostgreSQL section) run against a PostgreSQL
  database that ``feedd migrate-db``'s copy filled from the same SQLite file.

The database is built through Store and dedupe, with rows that every example
should find, so an example that returns nothing fails too: a WHERE clause
that drifts from the data feedd writes is as wrong as a misspelt column.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import shlex
import sqlite3
import subprocess
import sys
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from feedd import dedupe, normalize
from feedd.store.sqlite import SQLiteStore as Store
from feedd.types import (
    Entry,
    Extracted,
    FeedSettings,
    FeedUpdate,
    Hop,
    Page,
    RawEntry,
    Resolution,
)

ROOT = Path(__file__).parents[1]
SCHEMA_DOC = ROOT / "docs" / "schema.md"
BIN = Path(sys.executable).parent
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Example:
    language: str
    code: str
    line: int

    @property
    def id(self) -> str:
        return f"{self.language}-line{self.line}"


def examples() -> list[Example]:
    text = SCHEMA_DOC.read_text()
    return [
        Example(m.group(1), m.group(2), text.count("\n", 0, m.start()) + 1)
        for m in FENCE.finditer(text)
    ]


def by_language(*languages: str) -> list[Any]:  # pytest.param values
    return [pytest.param(e, id=e.id) for e in examples() if e.language in languages]


def statements(sql: str) -> list[str]:
    """Split a script into statements the way sqlite3 sees them."""
    found, buffer = [], ""
    for line in sql.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            found.append(buffer.strip())
            buffer = ""
    assert not buffer.strip(), f"unterminated statement: {buffer!r}"
    return found


def commands(script: str) -> list[list[str]]:
    """Split a shell block into commands: lines, joined while a quote is open."""
    found, buffer = [], ""
    for line in script.splitlines(keepends=True):
        buffer += line
        try:
            argv = shlex.split(buffer, comments=True)
        except ValueError:  # "No closing quotation": the command goes on
            continue
        if argv:
            found.append(argv)
        buffer = ""
    assert not buffer.strip(), f"unterminated command: {buffer!r}"
    return found


# -- the sample database

NOW = datetime.now(UTC).replace(microsecond=0)  # the examples filter on 'now'


def settings(url: str, name: str | None, tags: tuple[str, ...], enabled: bool = True):
    return FeedSettings(url=url, name=name, interval=1800.0, tags=tags, enabled=enabled)


def entry(guid: str, title: str, url: str, text: str, age: timedelta):
    raw = RawEntry(
        id=guid,
        link=url,
        title=title,
        summary=None,
        content=f"<p>{text}</p>",
        author="Ann",
        published=NOW - age,
        updated=None,
        published_raw=None,
        updated_raw=None,
        tags=("politics",),
    )
    return normalize.normalize_entry(raw, link=url, url=url)


def write(store: Store, feed_url: str, entries: list[Entry]) -> None:
    (feed,) = store.feeds_by_url([feed_url])
    with store.transaction():
        intents = dedupe.decide(store.known(feed.id, entries), entries)
        store.apply(feed.id, intents, language="en", now=NOW)


def build_database(path: Path) -> None:
    news, world, broken = (
        "https://news.example/feed",
        "https://world.example/rss",
        "https://broken.example/feed",
    )
    summit = entry(
        "summit",
        "Climate summit opens",
        "https://news.example/summit",
        "Leaders meet at the climate summit.",
        timedelta(hours=2),
    )
    with Store(path) as store:
        store.sync_feeds(
            [
                settings(news, "News", ("news", "world")),
                settings(world, None, ("world",)),
                settings(broken, "Broken", ("news",)),
                settings("https://old.example/feed", "Old", (), enabled=False),
            ],
            NOW,
        )
        write(
            store,
            news,
            [
                summit,
                entry(
                    "rates",
                    "Rates unchanged",
                    "https://news.example/rates",
                    "The bank held rates.",
                    timedelta(hours=5),
                ),
            ],
        )
        write(store, world, [summit])  # the same story from a second feed
        # A corrected headline: the version it replaces goes to article_revisions.
        write(store, news, [dataclasses.replace(summit, title="Climate summit opens in Bonn",
                                                content_hash="edited")])  # fmt: skip
        (feed,) = store.feeds_by_url([broken])
        store.record_poll(
            feed.id,
            FeedUpdate(
                "failing",
                500,
                NOW,
                1,
                "HTTP 500 Internal Server Error",
                NOW + timedelta(minutes=5),
            ),
        )
        with store.transaction():
            for resolution, failures in (
                (
                    Resolution(
                        "https://t.example/a",
                        "https://news.example/summit",
                        "ok",
                        200,
                        (
                            Hop("https://t.example/a", 301, "https://news.example/summit"),
                            Hop("https://news.example/summit", 200, None),
                        ),
                        permanent=True,
                    ),
                    0,
                ),
                (
                    Resolution(
                        "https://t.example/b",
                        "https://t.example/b",
                        "not_found",
                        404,
                        (Hop("https://t.example/b", 404, None),),
                        permanent=False,
                        error="HTTP 404",
                    ),
                    1,
                ),
            ):
                store.save_link(
                    resolution,
                    failures=failures,
                    checked_at=NOW,
                    expires_at=NOW + timedelta(days=1),
                )
        # [fulltext]: both stories' pages queued; the summit's read (fuller than
        # the feed's teaser), the rates' not found.
        (feed,) = store.feeds_by_url([news])
        stories = store.conn.execute(
            "SELECT id, url FROM articles WHERE url LIKE 'https://news.example/%' ORDER BY id"
        ).fetchall()
        with store.transaction():
            store.queue_pages(feed.id, [(id_, url, "short") for id_, url in stories], NOW)
        for job in store.claim_pages(NOW, 10, hold=300):
            if job.url.endswith("/summit"):
                text = "Leaders meet at the climate summit. " + " ".join(["More."] * 60)
                words = normalize.word_count(text)
                extracted = Extracted(job.url, text=text, word_count=words, image=f"{job.url}.jpg")
                with store.transaction():
                    store.save_page(
                        Page(job, job.url, 200, extracted, dedupe.text_hash_of(text, words)),
                        NOW,
                        20,
                    )
            else:
                store.page_failed(job, error="HTTP 404", http_status=404, now=NOW, retry_at=None)
        assert store.integrity_problems() == []


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding feedd.db (as the examples call it) and config/ from the repo."""
    folder = tmp_path_factory.mktemp("schema-examples")
    build_database(folder / "feedd.db")
    (folder / "config").symlink_to(ROOT / "config", target_is_directory=True)
    return folder


def run_sql(db: Path, sql: str) -> None:
    # Read-only, as the docs tell readers to open the file.
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        for statement in statements(sql):
            rows = conn.execute(statement).fetchall()
            assert rows, f"no rows from the documented query:\n{statement}"


# -- the tests


def test_every_block_is_a_language_this_test_runs():
    assert {e.language for e in examples()} <= {"sql", "sh", "python", "postgresql"}
    assert len(by_language("sql")) >= 5


def test_the_documented_version_is_the_schema_version():
    from feedd.store.sqlite import SCHEMA_VERSION

    assert f"(currently **{SCHEMA_VERSION}**)" in SCHEMA_DOC.read_text()


@pytest.mark.parametrize("example", by_language("sql"))
def test_sql_example(example: Example, workdir: Path):
    run_sql(workdir / "feedd.db", example.code)


def test_the_documented_postgresql_version_is_its_schema_version():
    from feedd.store.postgres.schema import SCHEMA_VERSION

    assert f"`schema_version`, currently **{SCHEMA_VERSION}**" in SCHEMA_DOC.read_text()


@pytest.fixture(scope="module")
def postgres_copy(workdir: Path, postgres_server: str) -> str:
    """A PostgreSQL database holding the SQLite example database's rows."""
    psycopg = pytest.importorskip("psycopg")
    from feedd.store.transfer import copy_sqlite_to_postgres

    name = f"feedd_examples_{id(workdir)}"
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    url = f"{postgres_server.rpartition('/')[0]}/{name}"
    copy_sqlite_to_postgres(workdir / "feedd.db", url)
    return url


@pytest.mark.parametrize("example", by_language("postgresql"))
def test_postgresql_example(example: Example, postgres_copy: str):
    import psycopg

    # Read-only, as a downstream reader's role would be.
    with psycopg.connect(postgres_copy, options="-c default_transaction_read_only=on") as conn:
        for statement in statements(example.code):
            rows = conn.execute(statement).fetchall()
            assert rows, f"no rows from the documented query:\n{statement}"


@pytest.mark.parametrize("example", by_language("sh"))
def test_shell_example(example: Example, workdir: Path):
    for argv in commands(example.code):
        program, args = argv[0], argv[1:]
        if program == "sqlite3":
            assert len(args) == 2, argv
            db, sql = args
            run_sql(workdir / db, sql if sql.rstrip().endswith(";") else sql + ";")
        elif program == "sqlite-utils":
            check_columns(workdir, args)
            output = run(BIN / "sqlite-utils", args, workdir)
            assert output.strip(), f"no output from {shlex.join(argv)}"
        elif program == "datasette":
            if not (BIN / "datasette").exists():
                pytest.skip("datasette is not installed")
            # The documented command, asked for one page instead of serving.
            output = run(
                BIN / "datasette", [*args, "--get", "/feedd/latest_articles.json"], workdir
            )
            assert "Climate summit opens" in output
        elif program == "pip":
            assert args[0] == "install", argv  # shown, not run
        else:
            pytest.fail(f"schema.md runs {program!r}, which this test does not know")


def check_columns(workdir: Path, args: list[str]) -> None:
    """`sqlite-utils rows|search DB TABLE -c COLUMN`: COLUMN must exist.

    sqlite-utils quotes it as "COLUMN", and SQLite reads a double-quoted name
    it does not know as a string literal, so a misspelt column would print
    its own name on every row instead of failing.
    """
    if args[0] not in ("rows", "search"):
        return
    db, table = args[1], args[2]
    wanted = [args[i + 1] for i, arg in enumerate(args) if arg in ("-c", "--column")]
    with closing(sqlite3.connect(workdir / db)) as conn:
        columns = {r[1] for r in conn.execute(f"PRAGMA table_info([{table}])")}
    assert columns, f"no table {table}"
    assert set(wanted) <= columns, f"not columns of {table}: {set(wanted) - columns}"


def run(executable: Path, args: list[str], cwd: Path) -> str:
    result = subprocess.run(
        [str(executable), *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result.stdout


@pytest.mark.parametrize("example", by_language("python"))
def test_python_example(example: Example, workdir: Path, monkeypatch: pytest.MonkeyPatch):
    for module in re.findall(r"^import ([\w, ]+)", example.code, re.MULTILINE):
        for name in (m.split(" as ")[0].strip() for m in module.split(",")):
            if importlib.util.find_spec(name) is None:
                pytest.skip(f"{name} is not installed (the example needs it; feedd does not)")
    monkeypatch.chdir(workdir)
    namespace: dict[str, object] = {}
    exec(compile(example.code, f"{SCHEMA_DOC}:{example.line}", "exec"), namespace)  # noqa: S102
    conn = namespace.get("conn")
    if isinstance(conn, sqlite3.Connection):
        conn.close()
