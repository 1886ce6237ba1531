"""The command line: a thin click layer over pipeline and daemon.

Exit statuses: 0 success; 1 at least one feed failed (or the database could
not be used); 2 a usage or config error.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import click

from . import __version__
from .cli_common import EXIT_USAGE, config_option, load_or_exit
from .config import DATABASE_URL_SCHEMES
from .errors import StoreError
from .logs import setup_logging
from .types import Outcome, PageResult, Status

EXIT_FEED_FAILED = 1

verbosity = [
    click.option("-v", "--verbose", count=True, help="More log output (repeatable)."),
    click.option("-q", "--quiet", count=True, help="Less log output (repeatable)."),
]


def with_verbosity(func: Any) -> Any:
    for option in reversed(verbosity):
        func = option(func)
    return func


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="feedd")
def cli() -> None:
    """feedd: a self-hosted feed ingestion daemon.

    Polls RSS, Atom and JSON feeds listed in a TOML config and stores clean,
    deduplicated articles in SQLite with full-text search.
    """


@cli.command()
@config_option()
def check(config_path: str) -> None:
    """Validate the config; print every problem and exit 2 if it is invalid."""
    config = load_or_exit(config_path)
    click.echo(
        f"{config.path}: ok: {len(config.feeds)} feeds ({len(config.enabled_feeds)} enabled), "
        f"database {config.database}"
    )


@cli.command()
@config_option()
@with_verbosity
def run(config_path: str, verbose: int, quiet: int) -> None:
    """Run the daemon: poll feeds on their schedule until SIGTERM or SIGINT."""
    config = load_or_exit(config_path)
    setup_logging(config.log.level, config.log.format, verbose=verbose, quiet=quiet)
    from .daemon import run as run_daemon  # apscheduler loads only for the daemon

    try:
        sys.exit(run_daemon(config, verbose=verbose, quiet=quiet))
    except StoreError as exc:
        logging.getLogger("feedd").error("%s", exc)
        sys.exit(EXIT_FEED_FAILED)


def _summary_line(outcome: Outcome) -> str:
    if outcome.status is Status.FAILED:
        return f"FAILED  {outcome.url}: {outcome.error}"
    if outcome.status is Status.NOT_MODIFIED:
        return f"ok      {outcome.url}: not modified"
    extra = f", {outcome.linked} already stored from another feed" if outcome.linked else ""
    if outcome.empty:
        extra += f", {outcome.empty} empty skipped"
    if outcome.pages_queued:
        extra += f", {outcome.pages_queued} pages to read"
    return f"ok      {outcome.url}: {outcome.new} new, {outcome.updated} updated{extra}"


@cli.command()
@config_option()
@click.option(
    "--feed",
    "feed_urls",
    multiple=True,
    metavar="URL",
    help="Fetch only this configured feed (repeatable); disabled feeds may be named.",
)
@with_verbosity
def fetch(config_path: str, feed_urls: tuple[str, ...], verbose: int, quiet: int) -> None:
    """Poll every enabled feed once, now, whatever the schedule, and exit.

    Prints one line per feed and the totals with the time the polls took;
    then, where [fulltext] wants article pages, reads them (at most [fulltext]
    timeout) and prints what they gave. Exits 0 when every feed was fetched
    and parsed, 1 when at least one failed (the others are still stored), 2
    for a usage or config error.
    """
    config = load_or_exit(config_path)
    # The summary is the output; the log only says what went wrong (-v for more).
    setup_logging("warning", config.log.format, verbose=verbose, quiet=quiet)
    configured = {feed.url for feed in config.feeds}
    unknown = [url for url in feed_urls if url not in configured]
    if unknown:
        for url in unknown:
            click.echo(f"feedd fetch: --feed {url}: not in {config.path}", err=True)
        sys.exit(EXIT_USAGE)

    from .pipeline import fetch_once

    show_bar = sys.stderr.isatty()
    bar: Any = None
    poll_started = time.monotonic()

    def on_start(total: int) -> None:
        nonlocal bar, poll_started
        poll_started = time.monotonic()  # the polls, after start-up (config, schema, sync)
        if show_bar and total:
            bar = click.progressbar(length=total, label="fetching", file=sys.stderr)
            bar.__enter__()

    def on_outcome(outcome: Outcome) -> None:
        if bar is not None:
            bar.update(1)
        else:
            # Not click.echo: it flushes every line, a system call per feed, which
            # cost ~0.1 ms a feed in a sweep of unchanged ones. Flushed at the end.
            sys.stdout.write(_summary_line(outcome) + "\n")

    pages: list[PageResult] = []
    try:
        outcomes = asyncio.run(fetch_once(config, feed_urls, on_outcome, on_start, pages.append))
    except StoreError as exc:
        click.echo(f"feedd: {exc}", err=True)
        sys.exit(EXIT_FEED_FAILED)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    if bar is not None:
        for outcome in outcomes:
            click.echo(_summary_line(outcome))

    failed = sum(o.status is Status.FAILED for o in outcomes)
    click.echo(
        f"{len(outcomes)} feeds: {sum(o.new for o in outcomes)} new, "
        f"{sum(o.updated for o in outcomes)} updated, "
        f"{sum(o.linked for o in outcomes)} already stored from another feed, "
        f"{sum(o.status is Status.NOT_MODIFIED for o in outcomes)} not modified, "
        f"{failed} failed, in {time.monotonic() - poll_started:.2f} s"
    )
    if pages:
        told = Counter(page.outcome for page in pages)
        click.echo(
            f"{len(pages)} article pages: {told['stored']} stored in full, "
            f"{told['not_fuller']} not fuller than the feed, "
            f"{told['retry']} failed (tried again later), {told['failed']} failed for good"
        )
    sys.exit(EXIT_FEED_FAILED if failed else 0)


@cli.command()
@click.argument("url")
@config_option(
    required=False,
    help="Take [links] and [fetch] settings from this config (default: built-in defaults).",
)
def resolve(url: str, config_path: str | None) -> None:
    """Follow a link hop by hop and print where it leads.

    Prints each hop (HTTP status, URL and where it redirects) and the final
    canonical URL, as feedd would store it. The links cache is neither read
    nor written. Exits 0 when the link resolved, 1 when it did not.
    """
    from .config import parse_config
    from .links import canonical_url, unwrap
    from .pipeline import resolve_one

    config = (
        load_or_exit(config_path) if config_path else parse_config({}, Path.cwd() / "feedd.toml")
    )
    unwrapped = unwrap(url)
    if unwrapped != url:
        click.echo(f"unwrapped  {unwrapped}")
    resolution = asyncio.run(resolve_one(config, url))
    for hop in resolution.hops:
        status = str(hop.status) if hop.status is not None else "---"
        click.echo(f"{status:>5}  {hop.url}")
        if hop.location:
            click.echo(f"       -> {hop.location}")
    click.echo(
        f"outcome    {resolution.outcome}"
        + (f" ({resolution.error})" if resolution.error and resolution.outcome != "ok" else "")
    )
    click.echo(f"canonical  {canonical_url(resolution.resolved_url) or resolution.resolved_url}")
    sys.exit(0 if resolution.outcome == "ok" else EXIT_FEED_FAILED)


@cli.command()
@config_option()
@click.option(
    "--repair", is_flag=True, help="Merge them (without it, only list what would be merged)."
)
def dedupe(config_path: str, repair: bool) -> None:
    """Find articles stored twice under one canonical URL that are one story.

    Databases written by feedd before schema 7 may hold a story twice when a
    feed posted it twice in one document (an applet's two short links). Each
    group is merged into its oldest article, which takes the fullest copy's
    text and every item of the others; different stories on one URL (podcast
    episodes on the show's page) are left apart. Safe to run again.
    """
    from .pipeline import repair_duplicates

    config = load_or_exit(config_path)
    try:
        merges = repair_duplicates(config, apply=repair)
    except StoreError as exc:
        click.echo(f"feedd: {exc}", err=True)
        sys.exit(EXIT_FEED_FAILED)
    verb = "merged" if repair else "would merge"
    for merge in merges:
        others = ", ".join(str(i) for i in merge.merged)
        click.echo(f"{verb} {others} into {merge.keep} (the text of {merge.text_from})")
    rows = sum(len(merge.merged) for merge in merges)
    done = "merged" if repair else "to merge (run with --repair)"
    click.echo(f"{len(merges)} stories, {rows} articles {done}")


@cli.command("migrate-db")
@config_option()
@click.option(
    "--to",
    "target",
    required=True,
    metavar="URL",
    help="The PostgreSQL database, postgresql://user@host:port/dbname: new or empty. "
    "The password, if one is needed, from PGPASSWORD or ~/.pgpass.",
)
def migrate_db(config_path: str, target: str) -> None:
    """Copy the config's SQLite database into an empty PostgreSQL database.

    Feeds with their schedules and validators, articles, the items of each
    feed, revisions, signatures, the links cache: every row, ids kept, in one
    transaction whose row counts are checked before it commits (on any error
    nothing is written). Stop the daemon first; then set `database` to the
    URL in the config and start it again. The SQLite file is left as it was.
    """
    from .pipeline import move_database

    config = load_or_exit(config_path)
    if not isinstance(config.database, Path):
        click.echo(
            f"feedd migrate-db: {config.path}: the database is already {config.database}", err=True
        )
        sys.exit(EXIT_USAGE)
    if not target.startswith(DATABASE_URL_SCHEMES):
        click.echo(f"feedd migrate-db: --to {target}: expected a postgresql:// URL", err=True)
        sys.exit(EXIT_USAGE)

    def progress(table: str, rows: int) -> None:
        if sys.stderr.isatty():
            click.echo(f"\r{table}: {rows:,} rows", nl=False, err=True)

    try:
        copied = move_database(config, target, progress)
    except StoreError as exc:
        click.echo(f"feedd: {exc}", err=True)
        sys.exit(EXIT_FEED_FAILED)
    if sys.stderr.isatty():
        click.echo("", err=True)
    for each in copied:
        click.echo(f"{each.table:<20} {each.rows:>10,} rows")
    click.echo(f"copied {config.database} to {target}: counts checked")


@cli.group("import")
def import_group() -> None:
    """Import archives written by other tools into the database."""


@import_group.command("applet")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@config_option()
@click.option("--dry-run", is_flag=True, help="Print what would be stored; store nothing.")
@click.option(
    "--timezone",
    "zone_name",
    metavar="ZONE",
    help="The IANA time zone the applet wrote its times in, e.g. Europe/Moscow "
    "(default: this machine's).",
)
@with_verbosity
def import_applet(
    paths: tuple[Path, ...],
    config_path: str,
    dry_run: bool,
    zone_name: str | None,
    verbose: int,
    quiet: int,
) -> None:
    """Import the text archive of an "RSS -> text" applet.

    PATHS are files, or folders searched for *.txt. Each story block becomes an
    article of the feed named on its "from ..." line (a configured feed with
    that name or title, else an imported feed that is never polled), its short
    link followed to the canonical URL, its date completed where the applet
    lost the month (else stored as partial, never guessed). A block that cannot
    be understood is reported with its file and line and skipped. Importing
    the same files again stores nothing new. docs/applet.md has the format.
    Exits 0 when every block was imported, 1 when some were damaged.
    """
    import zoneinfo

    from dateutil import tz  # type: ignore[import-untyped]

    config = load_or_exit(config_path)
    setup_logging("warning", config.log.format, verbose=verbose, quiet=quiet)
    zone: Any
    if zone_name:
        try:
            zone = zoneinfo.ZoneInfo(zone_name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            click.echo(f"feedd import applet: --timezone {zone_name}: no such zone", err=True)
            sys.exit(EXIT_USAGE)
    else:
        zone = tz.tzlocal()  # follows the machine's daylight saving rules

    from .pipeline import import_applet as run_import

    show_bar = sys.stderr.isatty()
    bar: Any = None

    def on_phase(label: str, steps: int) -> None:
        nonlocal bar
        if bar is not None:
            bar.__exit__(None, None, None)
            bar = None
        if show_bar and steps:
            bar = click.progressbar(length=steps, label=label, file=sys.stderr)
            bar.__enter__()

    def on_step() -> None:
        if bar is not None:
            bar.update(1)

    started = time.monotonic()
    try:
        report = run_import(
            config, list(paths), zone=zone, dry_run=dry_run, on_phase=on_phase, on_step=on_step
        )
    except StoreError as exc:
        click.echo(f"feedd: {exc}", err=True)
        sys.exit(EXIT_FEED_FAILED)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    for damaged in report.damaged:
        click.echo(f"{damaged.path}:{damaged.line}: skipped: {damaged.reason}", err=True)
    if dry_run:
        for done in report.stories:
            date = (
                done.published_at.strftime("%Y-%m-%dT%H:%M:%SZ")
                if done.published_at
                else f"partial ({done.story.date.raw})"
            )
            click.echo(
                f"{done.story.path}:{done.story.line}: would {done.action.value}: "
                f"{done.story.title}\n    feed   {done.story.source}\n    url    {done.url}"
                f"\n    date   {date}\n    why    {done.reason}"
            )
    counts = dict.fromkeys(("insert", "link", "enrich", "update", "skip"), 0)
    for done in report.stories:
        counts[done.action.value] += 1
    partial = sum(done.date_flag == "partial" for done in report.stories)
    verb = "would store" if dry_run else "stored"
    click.echo(
        f"{report.files} files, {len(report.stories) + len(report.damaged)} blocks: "
        f"{verb} {counts['insert']} new, {counts['link'] + counts['enrich']} already stored "
        f"from a feed ({counts['enrich']} fuller), {counts['update']} updated, "
        f"{counts['skip']} unchanged, {len(report.damaged)} damaged skipped; "
        f"{partial} with a partial date; {report.links_resolved} links followed "
        f"({report.links_failed} failed), in {time.monotonic() - started:.2f} s"
    )
    sys.exit(EXIT_FEED_FAILED if report.damaged else 0)


@cli.command("systemd-unit")
@config_option(
    required=False,
    default="/etc/feedd/feedd.toml",
    help="The config the service runs with (made absolute; not read).",
)
def systemd_unit(config_path: str) -> None:
    """Print a systemd unit that runs this install of feedd as a service.

    ExecStart runs the feedd command of the install this command runs from
    (the console script beside its Python, else `python -m feedd`). Save it
    as /etc/systemd/system/feedd.service; docs/deploy.md has the steps.
    Paths the sandboxed service could not see are warned about on stderr.
    """
    import os

    from .unit import installed_command, render_unit, unit_warnings

    command = installed_command()
    config = os.path.abspath(config_path)
    for warning in unit_warnings(command, config):
        click.echo(f"feedd systemd-unit: warning: {warning}", err=True)
    click.echo(render_unit(command, config), nl=False)


from .cli_query import COMMANDS as _QUERY_COMMANDS  # noqa: E402

for _command in _QUERY_COMMANDS:
    cli.add_command(_command)

from .cli_feeds import COMMANDS as _FEED_COMMANDS  # noqa: E402

for _command in _FEED_COMMANDS:
    cli.add_command(_command)

from .cli_extract import COMMANDS as _EXTRACT_COMMANDS  # noqa: E402

for _command in _EXTRACT_COMMANDS:
    cli.add_command(_command)


def main() -> None:
    cli(prog_name="feedd")
