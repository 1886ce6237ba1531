"""Feed management in the config: `feedd opml import|export` and `feedd add`.

Registered on the main group by cli.py (``COMMANDS``). Shared with the other
command modules: cli_common (the -c option, config loading).

Changing the config file: the new ``[[feeds]]`` tables are added with
tomlkit, which keeps every comment and the layout of the rest of the file.
The result must decode to the old document plus the new feeds, and must pass
load_config; otherwise the original file is put back and the command fails.
The file is replaced atomically, so a daemon reloading it never sees half.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import click
import tomlkit
import tomlkit.items

from .cli_common import EXIT_USAGE, config_option, load_or_exit
from .config import Config, load_config
from .errors import ConfigError, FeeddError, FetchError, ParseError
from .fetch import fetch_feed
from .opml import OpmlError, OpmlFeed, check_feed_url, feed_key, parse_opml, render_opml
from .types import FeedSource, Fetched, ParsedFeed

EXIT_NOTHING = 1


def _fail(message: str, status: int) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(status)


def _check_tag(_ctx: click.Context, _param: click.Parameter, values: Sequence[str]) -> Any:
    tags = [value.strip() for value in values]
    if not all(tags):
        raise click.BadParameter("a tag must not be empty")
    return tuple(dict.fromkeys(tags))


tag_option = click.option(
    "--tag",
    "extra_tags",
    multiple=True,
    metavar="TAG",
    callback=_check_tag,
    help="Give the feed this tag (repeatable).",
)


# -- the config file


def feed_table(url: str, name: str | None, tags: Sequence[str]) -> tomlkit.items.Table:
    table = tomlkit.table()
    table["url"] = url
    if name:
        table["name"] = name
    if tags:
        table["tags"] = list(tags)
    return table


def feeds_toml(tables: Sequence[tomlkit.items.Table]) -> str:
    """[[feeds]] entries as TOML text, a blank line between them."""
    return "\n".join(tomlkit.dumps({"feeds": [table]}) for table in tables)


def append_feeds(path: Path, tables: Sequence[tomlkit.items.Table]) -> Config:
    """Add [[feeds]] tables to the config file, keeping its comments and layout.

    Raises ConfigError, with the file restored, when the result would not be a
    valid config, or when the file cannot be changed this way.
    """
    target = path.expanduser().absolute().resolve()
    try:
        original = target.read_bytes()
        text = original.decode("utf-8")
        before = tomllib.loads(text)
        document = tomlkit.parse(text)
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read: {exc.strerror or exc}"]) from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, tomlkit.exceptions.TOMLKitError) as exc:
        raise ConfigError(str(path), [f"not valid TOML: {exc}"]) from None

    existing = document.get("feeds")
    if existing is None:
        entries = tomlkit.aot()
        for table in tables:
            entries.append(table)
        if not text.endswith("\n\n"):
            document.add(tomlkit.nl())
        document.append("feeds", entries)
    elif isinstance(existing, tomlkit.items.AoT):
        last = existing[-1] if len(existing) else None
        # The blank line that ended the last entry (before the next table, say)
        # moves to the end of the new ones; one blank line between entries.
        trailing = last is not None and last.as_string().endswith("\n\n")
        if last is not None and not trailing:
            last.add(tomlkit.nl())
        for index, table in enumerate(tables):
            if index < len(tables) - 1 or trailing:
                table.add(tomlkit.nl())
            existing.append(table)
    else:
        raise ConfigError(
            str(path), ["feeds: not an array of tables ([[feeds]]); add the feeds by hand"]
        )
    new_text = tomlkit.dumps(document)

    expected = dict(before)
    expected["feeds"] = [*before.get("feeds", []), *(table.unwrap() for table in tables)]
    try:
        same = tomllib.loads(new_text) == expected
    except tomllib.TOMLDecodeError:
        same = False
    if not same:
        raise ConfigError(
            str(path), ["could not add the feeds without changing the rest of the file"]
        )

    _replace(target, new_text.encode("utf-8"))
    try:
        return load_config(path)
    except ConfigError:
        _replace(target, original)
        raise


def _replace(target: Path, data: bytes) -> None:
    """Write data to target atomically, keeping its permissions."""
    mode = target.stat().st_mode & 0o7777
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


# -- feedd opml


@click.group()
def opml() -> None:
    """Import feeds from an OPML subscription list, or export the configured feeds as OPML."""


@opml.command("import")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@config_option(
    required=False,
    help="The config: feeds already in it are left out (and --append adds to it).",
)
@click.option(
    "--append",
    is_flag=True,
    help="Append the new feeds to the config file (-c) instead of printing them.",
)
@tag_option
def import_(file: str, config_path: str | None, append: bool, extra_tags: tuple[str, ...]) -> None:
    """Read an OPML file (FILE, or - for stdin) and print its feeds as [[feeds]] entries.

    Folders (nested outlines) and `category` attributes become tags. Files
    that are not well-formed XML are read leniently. With --append -c CONFIG
    the new feeds are added to the config file instead, its comments and
    layout kept; the result is validated and the file left unchanged if it is
    invalid. A summary goes to stderr: imported, already present, skipped and
    why. Exits 0 (even when outlines were skipped), 1 when FILE cannot be
    read or is not OPML, 2 for a usage or config error.
    """
    if append and not config_path:
        _fail("feedd opml import: --append needs the config file (-c CONFIG)", EXIT_USAGE)
    config = load_or_exit(config_path) if config_path else None
    try:
        data = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
        document = parse_opml(data)
    except OSError as exc:
        _fail(f"feedd opml import: cannot read {file}: {exc.strerror or exc}", EXIT_NOTHING)
    except OpmlError as exc:
        _fail(f"feedd opml import: {file}: {exc}", EXIT_NOTHING)

    configured = {feed_key(feed.url) for feed in config.feeds} if config else set()
    new = [feed for feed in document.feeds if feed_key(feed.url) not in configured]
    tables = [
        feed_table(feed.url, feed.title, tuple(dict.fromkeys([*feed.tags, *extra_tags])))
        for feed in new
    ]
    if append and config_path and tables:
        try:
            append_feeds(Path(config_path), tables)
        except ConfigError as exc:
            for problem in exc.problems:
                click.echo(f"{exc.path}: {problem}", err=True)
            _fail(f"feedd opml import: {config_path} left unchanged", EXIT_USAGE)
    elif tables:
        click.echo(feeds_toml(tables), nl=False)

    for note in document.repairs:
        click.echo(f"{file}: note: {note}", err=True)
    for skipped in document.skipped:
        click.echo(f"{file}: {skipped}", err=True)
    verb = f"appended to {config_path}" if append else "imported"
    click.echo(
        f"{file}: {len(tables)} feeds {verb}, "
        f"{len(document.feeds) - len(tables)} already present, "
        f"{len(document.skipped)} outlines skipped",
        err=True,
    )


@opml.command("export")
@config_option(required=True, help="The TOML config file.")
def export(config_path: str) -> None:
    """Print the configured feeds (enabled or not) as an OPML 2.0 document.

    Each tag becomes a folder, nested in the order of the feed's tags, so
    `feedd opml import` of the result gives back the same feeds and tags.
    """
    config = load_or_exit(config_path)
    feeds = [OpmlFeed(url=feed.url, title=feed.name, tags=feed.tags) for feed in config.feeds]
    sys.stdout.buffer.write(render_opml(feeds))
    sys.stdout.flush()


# -- feedd add


def _is_feed(fetched: Fetched) -> ParsedFeed | str:
    """The parsed feed, or why the response is not one."""
    # Imported here: every `feedd` command loads this module, `feedd run` too, whose
    # process never parses a feed (its workers do).
    from .parse import parse_feed

    try:
        return parse_feed(
            fetched.body, url=fetched.final_url, content_type=fetched.header("content-type")
        )
    except ParseError as exc:
        return str(exc)


def _feed_url(requested: str, fetched: Fetched) -> str:
    # Only a permanent redirect says the feed has moved; other redirects may be
    # tracking or load balancing, so the address asked for is kept.
    return fetched.moved_to or requested


async def find_feed(
    config: Config, url: str, say: Callable[[str], None]
) -> tuple[str, ParsedFeed] | None:
    """The feed at url, or the first feed the page at url leads to; None if there is none."""
    # The pipeline loads only for the commands that fetch; discovery as parse, above.
    from .discover import candidates, looks_like_html
    from .pipeline import make_client

    # Discovery asks one page and then one feed at a time: two connections do.
    async with make_client(config, concurrency=2) as client:

        async def get(target: str) -> Fetched | str:
            try:
                result = await fetch_feed(
                    client,
                    FeedSource(url=target),
                    deadline=config.fetch.timeout,
                    max_body_size=config.fetch.max_body_size,
                )
            except FetchError as exc:
                return str(exc)
            if not isinstance(result, Fetched):
                return f"HTTP {result.status} without a body"
            return result

        page = await get(url)
        if isinstance(page, str):
            say(f"{url}: {page}")
            return None
        parsed = _is_feed(page)
        if isinstance(parsed, ParsedFeed):
            return _feed_url(url, page), parsed
        if not looks_like_html(page.body, page.header("content-type")):
            say(f"{url}: {parsed}")
            return None
        say(f"{url}: an HTML page; looking for its feed")
        for candidate in candidates(page.body, page.final_url):
            response = await get(candidate)
            if isinstance(response, str):
                say(f"  {candidate}: {response}")
                continue
            parsed = _is_feed(response)
            if isinstance(parsed, ParsedFeed):
                return _feed_url(candidate, response), parsed
            say(f"  {candidate}: {parsed}")
    return None


@click.command("add")
@click.argument("url")
@config_option(required=True, help="The TOML config file to add the feed to.")
@click.option("--name", help="The feed's display name (default: the feed's own title).")
@tag_option
def add(url: str, config_path: str, name: str | None, extra_tags: tuple[str, ...]) -> None:
    """Find the feed of URL and append it to the config as a [[feeds]] entry.

    URL may be the feed itself or a web page: the page's <link rel="alternate">
    feeds are tried first, then the usual places (/feed, /rss, /atom.xml,
    /feed.xml, /index.xml, /rss.xml, /feed.json, ...); each is fetched and
    must parse as a feed. The first that does is added, the config's comments
    and layout kept, and the result validated (the file is left unchanged if
    it is invalid). A feed already configured is not added twice. Exits 0
    when the feed was added (or was already there), 1 when no feed was found,
    2 for a usage or config error.
    """
    if name is not None and not name.strip():
        _fail("feedd add: --name must not be empty", EXIT_USAGE)
    problem = check_feed_url(url)
    if problem:
        _fail(f"feedd add: {problem.replace('xmlUrl', 'URL')}", EXIT_USAGE)
    config = load_or_exit(config_path)
    configured = {feed_key(feed.url): feed.url for feed in config.feeds}
    if feed_key(url) in configured:
        click.echo(f"{url} is already in {config.path}; nothing changed")
        return

    def say(message: str) -> None:
        click.echo(message, err=True)

    try:
        found = asyncio.run(find_feed(config, url, say))
    except FeeddError as exc:
        _fail(f"feedd add: {exc}", EXIT_NOTHING)
    if found is None:
        _fail(f"feedd add: no feed found at {url}", EXIT_NOTHING)
    feed_url, parsed = found
    if feed_key(feed_url) in configured:
        click.echo(f"{feed_url} (the feed of {url}) is already in {config.path}; nothing changed")
        return
    title = name.strip() if name else parsed.title
    try:
        append_feeds(Path(config_path), [feed_table(feed_url, title, extra_tags)])
    except ConfigError as exc:
        for line in exc.problems:
            click.echo(f"{exc.path}: {line}", err=True)
        _fail(f"feedd add: {config_path} left unchanged", EXIT_USAGE)
    label = f" ({title})" if title else ""
    click.echo(f"added {feed_url}{label} to {config.path}")


COMMANDS = (opml, add)
