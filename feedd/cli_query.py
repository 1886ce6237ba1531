"""The read-only query commands: articles, search, show, feeds, stats, tail, export.

Registered on the main group by cli.py (``COMMANDS``). They read through a
``feedd.store.Reader`` (``open_reader``), which never writes, so they run
beside the daemon, and any backend that implements it answers them
unchanged. Exit statuses: 0 success
(an empty result too), 1 the database is missing or unreadable, 2 a usage
error (bad --since, unknown field or format, bad search syntax).

Shared with the other command modules: cli_common (the -c option, config loading).
"""

from __future__ import annotations

import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from types import FrameType
from typing import Any, NoReturn

import click

from . import output
from .cli_common import EXIT_USAGE, config_option, load_or_exit
from .config import parse_duration
from .errors import BadQuery, QueryError
from .query import EXPORT_FIELDS, parse_fields, parse_when
from .store import Reader, open_reader
from .store.reading import Filters, Row
from .types import format_timestamp

EXIT_DATABASE = 1


def _fail(command: str, message: str, status: int) -> NoReturn:
    click.echo(f"feedd {command}: {message}", err=True)
    sys.exit(status)


@contextmanager
def _database(command: str, config_path: str) -> Iterator[Reader]:
    """A reader of the config's database; errors become messages and exit codes."""
    config = load_or_exit(config_path)
    try:
        reader = open_reader(config.database, password=config.database_password)
    except QueryError as exc:
        _fail(command, str(exc), EXIT_DATABASE)
    try:
        yield reader
    except BadQuery as exc:
        _fail(command, str(exc), EXIT_USAGE)
    except QueryError as exc:
        _fail(command, str(exc), EXIT_DATABASE)
    except BrokenPipeError:
        # The reader went away (| head): not an error. Keep Python from
        # complaining again when it flushes stdout at exit.
        sys.stderr.close()
        sys.exit(0)
    finally:
        reader.close()


def _now() -> datetime:
    return datetime.now(UTC)


def _filters(command: str, **options: Any) -> Filters:
    try:
        since = parse_when(options["since"], _now()) if options.get("since") else None
        until = parse_when(options["until"], _now()) if options.get("until") else None
    except BadQuery as exc:
        _fail(command, str(exc), EXIT_USAGE)
    limit = options.get("limit", 0)
    return Filters(
        feeds=tuple(options.get("feed") or ()),
        tags=tuple(options.get("tag") or ()),
        since=format_timestamp(since),
        until=format_timestamp(until),
        limit=limit,
        include_duplicates=bool(options.get("include_duplicates")),
        edited=bool(options.get("edited")),
    )


def _fields(
    command: str, value: str | None, default: Sequence[str] | None = None
) -> tuple[str, ...]:
    try:
        return parse_fields(value) if default is None else parse_fields(value, default)
    except BadQuery as exc:
        _fail(command, str(exc), EXIT_USAGE)


def filter_options(limit_default: int) -> Callable[[Any], Any]:
    options = [
        click.option(
            "--feed",
            multiple=True,
            metavar="URL|NAME",
            help="Only articles from this feed: its URL, config name or title (repeatable).",
        ),
        click.option(
            "--tag",
            multiple=True,
            metavar="TAG",
            help="Only articles with this tag, the feed's or the item's own (repeatable).",
        ),
        click.option(
            "--since",
            metavar="WHEN",
            help="Only articles dated at or after WHEN: a duration ago (2d, 12h, 30m) or an "
            "ISO date/datetime (naive means UTC). The date is published, else first seen.",
        ),
        click.option("--until", metavar="WHEN", help="Only articles dated before WHEN."),
        click.option(
            "--limit",
            type=click.IntRange(min=0),
            default=limit_default,
            show_default=True,
            help="At most this many articles (0: no limit).",
        ),
        click.option(
            "--include-duplicates",
            is_flag=True,
            help="Also list articles marked as duplicates of another.",
        ),
    ]

    def decorate(func: Any) -> Any:
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


format_options = [
    click.option("--json", "as_json", is_flag=True, help="One JSON object per line."),
    click.option("--csv", "as_csv", is_flag=True, help="CSV with a header line."),
]


def with_formats(func: Any) -> Any:
    for option in reversed(format_options):
        func = option(func)
    return func


def _width() -> int:
    return shutil.get_terminal_size().columns


EDITED_FIELDS = ("id", "edited_at", "revisions", "feeds", "title", "url")


def _table_cell(column: str, value: object) -> str:
    if column in (
        "date",
        "published_at",
        "first_seen_at",
        "last_fetched_at",
        "next_fetch_at",
        "edited_at",
    ):
        return output.short_time(value)
    return output.plain(value)


def _emit(
    command: str,
    rows: Sequence[Row],
    columns: Sequence[str],
    as_json: bool,
    as_csv: bool,
    cell: Callable[[str, object], str] = _table_cell,
    marks: tuple[str, str] = ("[", "]"),
) -> None:
    if as_json and as_csv:
        _fail(command, "--json and --csv are exclusive", EXIT_USAGE)
    if as_json:
        for line in output.json_lines(
            {column: row.get(column) for column in columns} for row in rows
        ):
            click.echo(line)
    elif as_csv:
        click.echo(output.csv_text(rows, columns), nl=False)
    elif rows:
        for line in output.table(rows, columns, _width(), cell=cell, marks=marks):
            click.echo(line)


@click.command()
@config_option(help="The TOML config file (it names the database).")
@filter_options(limit_default=20)
@click.option(
    "--fields",
    metavar="A,B,...",
    help="Columns to show, comma-separated (default id,date,feeds,title,url; with --edited "
    "id,edited_at,revisions,feeds,title,url); any of: "
    "id, date, feeds, title, url, author, language, tags, summary, content_text, "
    "content_html, published_at, updated_at, first_seen_at, modified_at, duplicate_of, "
    "edited_at, revisions.",
)
@click.option(
    "--edited",
    is_flag=True,
    help="Only articles whose title, summary or text changed after they were first "
    "stored, the newest change first (see `feedd show ID --history`).",
)
@with_formats
def articles(
    config_path: str, fields: str | None, as_json: bool, as_csv: bool, **options: Any
) -> None:
    """List stored articles, newest first (published date, else first seen).

    Articles marked as duplicates are hidden unless --include-duplicates.
    Read-only: safe while the daemon runs.
    """
    filters = _filters("articles", **options)
    columns = _fields("articles", fields, EDITED_FIELDS if filters.edited else None)
    with _database("articles", config_path) as reader:
        rows = reader.articles(filters, columns)
        _emit("articles", rows, columns, as_json, as_csv)


@click.command()
@click.argument("query")
@config_option(help="The TOML config file (it names the database).")
@filter_options(limit_default=20)
@click.option(
    "--fields",
    metavar="A,B,...",
    help="Columns to show before the snippet (default id,date,feeds,title,url).",
)
@with_formats
def search(
    query: str, config_path: str, fields: str | None, as_json: bool, as_csv: bool, **options: Any
) -> None:
    """Full-text search of titles, summaries and text, best matches first.

    QUERY's syntax is the database's. SQLite (FTS5): words (all must match),
    "exact phrases", OR, NOT, prefix*, title:word. PostgreSQL (web search):
    words (all must match), "exact phrases", OR, -word to exclude. Matches
    are highlighted in the snippet (bold on a terminal, [brackets]
    otherwise). A malformed query, or one with no word to look for, exits 2.
    """
    filters = _filters("search", **options)
    columns = (*_fields("search", fields), "snippet")
    with _database("search", config_path) as reader:
        rows = reader.search(query, filters, columns[:-1])
        # Bold on a terminal (applied after the table's layout), else [ ].
        bold = sys.stdout.isatty() and not (as_json or as_csv)
        for row in rows:
            row["snippet"] = " ".join((row["snippet"] or "").split())
            if not bold:
                row["snippet"] = output.highlight(row["snippet"], "[", "]")
        marks = (click.style("", bold=True, reset=False), click.style("", reset=True))
        _emit("search", rows, columns, as_json, as_csv, marks=marks)


@click.command()
@click.argument("ref", metavar="ID|URL")
@config_option(help="The TOML config file (it names the database).")
@click.option("--json", "as_json", is_flag=True, help="The article as one JSON object.")
@click.option(
    "--history",
    is_flag=True,
    help="Its versions instead, oldest first: each earlier title, summary and text "
    "kept, with a word-level diff against the next ([-removed-] {+added+}); with --json, "
    "the versions as one JSON object.",
)
def show(ref: str, config_path: str, as_json: bool, history: bool) -> None:
    """Show one article in full: its text, dates, the feeds it came from, duplicates.

    ID is articles.id; a URL matches the article's canonical URL or an item
    link a feed gave. Exits 1 when there is no such article.
    """
    import json

    with _database("show", config_path) as reader:
        article = reader.article(ref)
        if article is None:
            _fail("show", f"no article {ref}", EXIT_DATABASE)
        if history:
            versions = _versions(article, reader.revisions(article["id"]))
            if as_json:
                document = {"id": article["id"], "url": article["url"], "versions": versions}
                click.echo(json.dumps(document, ensure_ascii=False))
                return
            for line in _history_lines(article, versions, color=sys.stdout.isatty()):
                click.echo(line)
            return
        if as_json:
            click.echo(json.dumps(article, ensure_ascii=False))
            return
        for line in _show_lines(article):
            click.echo(line)


def _show_lines(article: Row) -> Iterator[str]:
    yield click.style(article["title"] or "(untitled)", bold=True)
    yield article["url"] or ""
    yield ""
    for label, key in (
        ("id", "id"),
        ("published", "published_at"),
        ("updated", "updated_at"),
        ("first seen", "first_seen_at"),
        ("modified", "modified_at"),
        ("author", "author"),
        ("language", "language"),
        ("tags", "tags"),
    ):
        if article.get(key) not in (None, "", []):
            yield f"{label + ':':<12}{output.plain(article[key])}"
    for feed in article["feeds"]:
        yield f"{'feed:':<12}{feed['name'] or feed['title'] or feed['url']} <{feed['url']}>"
        yield f"{'':<12}guid {feed['guid']}"
        if feed["link"]:
            yield f"{'':<12}link {feed['link']}"
    original = article["duplicate_of"]
    if original:
        yield f"{'duplicate of:':<12} #{original['id']} {original.get('title') or ''}".rstrip()
    for duplicate in article["duplicates"]:
        described = f"{duplicate['title'] or ''} {duplicate['url'] or ''}"
        yield f"{'duplicate:':<12}#{duplicate['id']} {described}"
    yield ""
    text = article["content_text"] or article["summary"] or ""
    yield from text.splitlines()


_VERSION_FIELDS = ("title", "summary", "content_text")


def _versions(article: Row, revisions: Sequence[Row]) -> list[Row]:
    """The kept revisions, oldest first, then the current version (revision None)."""
    first = article["feeds"][0] if article["feeds"] else None
    current: Row = {
        "revision": None,
        **{field: article[field] for field in _VERSION_FIELDS},
        "first_seen_at": revisions[-1]["replaced_at"] if revisions else article["first_seen_at"],
        "feed": (
            revisions[-1]["replaced_by"]
            if revisions
            else first and (first["name"] or first["title"] or first["url"])
        ),
        "reason": None,
        "replaced_at": None,
    }
    return [dict(revision) for revision in revisions] + [current]


def _history_lines(article: Row, versions: Sequence[Row], color: bool) -> Iterator[str]:
    """Each version's header, then what the next version changed in it, field by field."""
    removed, added = ("[-", "-]"), ("{+", "+}")
    if color:
        removed = (click.style("[-", fg="red", reset=False), click.style("-]", reset=True))
        added = (click.style("{+", fg="green", reset=False), click.style("+}", reset=True))
    yield click.style(article["title"] or "(untitled)", bold=True)
    yield article["url"] or ""
    if len(versions) == 1:
        yield ""
        yield "no earlier version kept"
    for version, following in zip(versions, [*versions[1:], None], strict=True):
        yield ""
        seen = output.short_time(version.get("first_seen_at"))
        feed = f" from {version['feed']}" if version.get("feed") else ""
        if following is None:
            yield click.style(f"current version, since {seen}{feed}", bold=True)
            continue
        last = output.short_time(version.get("last_seen_at"))
        yield click.style(f"revision {version['revision']}, seen {seen} to {last}{feed}", bold=True)
        by = f" ({version['replaced_by']})" if version.get("replaced_by") else ""
        replaced = output.short_time(version["replaced_at"])
        yield f"replaced {replaced} by {_REASONS.get(version['reason'], version['reason'])}{by}:"
        for field in _VERSION_FIELDS:
            if (version[field] or "") == (following[field] or ""):
                continue
            if field == "summary" and all(
                v["summary"] == v["content_text"] for v in (version, following)
            ):
                continue  # a feed that gives only one text: shown once, as content_text
            diff = output.word_diff(version[field], following[field], removed, added)
            yield f"  {field}:"
            for line in diff.splitlines():
                yield f"    {line}"


_REASONS = {
    "update": "an update of the item",
    "enrichment": "a fuller copy",
    "page": "the page fetched in full",
}


FEED_COLUMNS = (
    "name",
    "url",
    "state",
    "last_fetched_at",
    "next_fetch_at",
    "error_count",
    "last_error",
    "articles",
    "per_day",
)


@click.command()
@config_option(help="The TOML config file (it names the database).")
@click.option("--failing", is_flag=True, help="Only feeds whose last fetches failed.")
@with_formats
def feeds(config_path: str, failing: bool, as_json: bool, as_csv: bool) -> None:
    """List feeds: state (new, ok, failing, disabled), last and next fetch, errors,
    article count and items per day (over the last 30 days)."""
    with _database("feeds", config_path) as reader:
        rows = reader.feeds(failing, _now())
        if as_json or as_csv:
            _emit("feeds", rows, ("id", *FEED_COLUMNS, "last_status"), as_json, as_csv)
        else:
            _emit("feeds", rows, FEED_COLUMNS, False, False)


@click.command()
@config_option(help="The TOML config file (it names the database).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
def stats(config_path: str, as_json: bool) -> None:
    """Totals, articles stored per day (14 days), top feeds, edits per feed, link
    outcomes, database size."""
    import json

    with _database("stats", config_path) as reader:
        data = reader.stats(_now())
        if as_json:
            click.echo(json.dumps(data, ensure_ascii=False))
            return
        feeds_line = ", ".join(
            f"{count} {state}" for state, count in data["feeds"].items() if state != "total"
        )
        click.echo(f"feeds          {data['feeds']['total']} ({feeds_line or 'none'})")
        click.echo(f"articles       {data['articles']} ({data['duplicates']} duplicates)")
        click.echo(f"article_feeds  {data['article_feeds']}")
        size = data["database_bytes"]
        # No wal on a server: its write-ahead log is the whole cluster's (None).
        wal = "" if size["wal"] is None else f", wal {_bytes(size['wal'])}"
        click.echo(f"database       {_bytes(size['total'])} (file {_bytes(size['file'])}{wal})")
        click.echo("")
        click.echo("stored per day")
        peak = max((day["articles"] for day in data["ingest_per_day"]), default=0) or 1
        for day in data["ingest_per_day"]:
            bar = "#" * round(30 * day["articles"] / peak)
            click.echo(f"  {day['day']}  {day['articles']:>6}  {bar}")
        if data["top_feeds"]:
            click.echo("")
            click.echo("top feeds")
            for feed in data["top_feeds"]:
                click.echo(f"  {feed['articles']:>6}  {feed['feed']}")
        if data["edits"]:
            click.echo("")
            click.echo("edits (revisions kept: updates, fuller copies, articles)")
            for feed in data["edits"]:
                click.echo(
                    f"  {feed['updates']:>6}  {feed['enrichments']:>6}  {feed['articles']:>6}  "
                    f"{feed['feed']}"
                )
        if data["links"]:
            click.echo("")
            click.echo("link resolution")
            for outcome, count in data["links"].items():
                click.echo(f"  {count:>6}  {outcome}")


def _bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover


TAIL_COLUMNS = ("id", "date", "feeds", "title", "url")


def _interval(value: str) -> float:
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if seconds <= 0:
        raise click.BadParameter("must be positive")
    return seconds


@click.command()
@config_option(help="The TOML config file (it names the database).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option(
    "--interval",
    default="1s",
    show_default=True,
    metavar="DURATION",
    help="How often to look for new articles (e.g. 0.5s, 1s, 1m).",
)
@click.option(
    "--since-id",
    type=click.IntRange(min=0),
    default=None,
    help="Start after this articles.id instead of at the newest article (to resume).",
)
@click.option("--feed", multiple=True, metavar="URL|NAME", help="Only this feed (repeatable).")
@click.option("--tag", multiple=True, metavar="TAG", help="Only this tag (repeatable).")
@click.option("--include-duplicates", is_flag=True, help="Also print duplicates.")
def tail(
    config_path: str,
    as_json: bool,
    interval: str,
    since_id: int | None,
    **options: Any,
) -> None:
    """Print articles as they are stored, one line each, until SIGINT or SIGTERM.

    Polls for articles with an id above the last one printed. Each line is
    flushed at once, for piping into other tools. Exits 0 when stopped.
    """
    try:
        every = _interval(interval)
    except click.BadParameter as exc:
        _fail("tail", f"--interval: {exc.message}", EXIT_USAGE)
    filters = _filters("tail", **options)
    # A plain flag, not a threading.Event: the handler runs in the main thread,
    # and Event.set() would deadlock on the Event's own lock if the signal
    # landed while Event.wait() held it (a hang seen under load).
    stopped: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopped.append(signum)  # the loop ends after the current poll

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with _database("tail", config_path) as reader:
            last = reader.max_article_id() if since_id is None else since_id
            while not stopped:
                rows = reader.tail(last, filters, TAIL_COLUMNS)
                for row in rows:
                    last = max(last, int(row["id"]))
                    if as_json:
                        click.echo(next(output.json_lines([row])))
                    else:
                        click.echo(
                            "  ".join(
                                _table_cell(column, row.get(column)) for column in TAIL_COLUMNS
                            )
                        )
                sys.stdout.flush()
                _sleep_unless(stopped, every)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _sleep_unless(stopped: list[int], seconds: float) -> None:
    """Sleep in short steps, so a stop request is seen within a tenth of a second."""
    deadline = time.monotonic() + seconds
    while not stopped and (left := deadline - time.monotonic()) > 0:
        time.sleep(min(left, 0.1))


EXPORT_FORMATS = ("jsonl", "csv", "rss", "atom", "json-feed")


@click.command()
@config_option(help="The TOML config file (it names the database).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(EXPORT_FORMATS),
    default="jsonl",
    show_default=True,
    help="jsonl and csv are data (every column); rss, atom and json-feed re-publish "
    "the stream as a feed.",
)
@click.option("--title", default="feedd", show_default=True, help="The exported feed's title.")
@click.option(
    "--link",
    default="http://localhost/",
    show_default=True,
    metavar="URL",
    help="The exported feed's home page.",
)
@click.option(
    "--revisions",
    "with_revisions",
    is_flag=True,
    help="With --format jsonl: each article's earlier versions too, as a "
    '"revisions" list (as `feedd show ID --history --json` gives them).',
)
@filter_options(limit_default=50)
def export(
    config_path: str, fmt: str, title: str, link: str, with_revisions: bool, **options: Any
) -> None:
    """Write articles to stdout, newest first, as data or as a feed.

    Takes the same filters as `feedd articles`; duplicates are left out
    unless --include-duplicates.
    """
    if with_revisions and fmt != "jsonl":
        _fail("export", "--revisions needs --format jsonl", EXIT_USAGE)
    filters = _filters("export", **options)
    with _database("export", config_path) as reader:
        rows = reader.articles(filters, EXPORT_FIELDS)
        if with_revisions:
            for row in rows:
                row["revisions"] = reader.revisions(row["id"])
        if fmt == "jsonl":
            for line in output.json_lines(rows):
                click.echo(line)
        elif fmt == "csv":
            click.echo(output.csv_text(rows, EXPORT_FIELDS), nl=False)
        elif fmt == "rss":
            click.echo(output.rss(rows, title, link, _now()), nl=False)
        elif fmt == "atom":
            click.echo(output.atom(rows, title, link, _now()), nl=False)
        else:
            click.echo(output.json_feed(rows, title, link), nl=False)


COMMANDS = [articles, search, show, feeds, stats, tail, export]
