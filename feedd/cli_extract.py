"""`feedd extract`: the article feedd would take from one web page.

Its own module because it uses the extract stage, and cli.py already uses
another (links): only pipeline puts stages together.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import NoReturn

import click

from .cli_common import EXIT_USAGE, config_option, load_or_exit
from .errors import BadSelector, FetchError
from .types import Extracted, format_timestamp

EXIT_FAILED = 1


@click.command("extract")
@click.argument("url", required=False)
@click.option(
    "--file",
    "page_file",
    type=click.Path(exists=True, dir_okay=False, allow_dash=True),
    help="Read the page from this saved file ('-': stdin) instead of fetching URL.",
)
@click.option(
    "--url",
    "page_url",
    metavar="URL",
    help="With --file: the page's address, the base of its relative links.",
)
@click.option(
    "--selector",
    metavar="CSS",
    help="The article's elements, as a CSS selector, instead of the extractor's guess.",
)
@click.option("--json", "as_json", is_flag=True, help="Print every field as one JSON object.")
@config_option(
    required=False,
    help="Take [fetch] settings from this config (default: built-in defaults).",
)
def extract_command(
    url: str | None,
    page_file: str | None,
    page_url: str | None,
    selector: str | None,
    as_json: bool,
    config_path: str | None,
) -> None:
    """Print the article feedd would take from a web page: its text, one
    paragraph per line (with --json: url, title, author, published_at, image,
    word_count, text and html).

    Fetches URL through the same guarded client as feeds (private addresses
    refused unless the config allows them), or reads a saved page with --file.
    Nothing is stored. Exits 0 when an article was found, 1 when the page could
    not be fetched or holds no article text, 2 for a usage error.
    """
    if (url is None) == (page_file is None):
        _usage("give a URL or --file PATH (not both)")
    if page_url is not None and page_file is None:
        _usage("--url goes with --file (a URL to fetch is the argument)")
    from .extract import check_selector, extract

    try:
        if selector is not None:
            check_selector(selector)
    except BadSelector as exc:
        _usage(f"--selector: {exc}")
    if url is not None:
        extracted = _fetched(url, selector, config_path)
    else:
        page = sys.stdin.buffer.read() if page_file == "-" else Path(str(page_file)).read_bytes()
        extracted = extract(page, page_url, selector=selector)
    _show(extracted, as_json)
    if not extracted.text:
        where = extracted.url or page_file
        click.echo(f"feedd extract: no article text found in {where}", err=True)
        sys.exit(EXIT_FAILED)


def _fetched(url: str, selector: str | None, config_path: str | None) -> Extracted:
    from .config import parse_config
    from .pipeline import extract_page

    config = (
        load_or_exit(config_path) if config_path else parse_config({}, Path.cwd() / "feedd.toml")
    )
    try:
        return asyncio.run(extract_page(config, url, selector))
    except FetchError as exc:
        click.echo(f"feedd extract: {url}: {exc}", err=True)
        sys.exit(EXIT_FAILED)


def _show(extracted: Extracted, as_json: bool) -> None:
    if as_json:
        fields = {
            "url": extracted.url,
            "title": extracted.title,
            "author": extracted.author,
            "published_at": format_timestamp(extracted.published_at),
            "image": extracted.image,
            "word_count": extracted.word_count,
            "text": extracted.text,
            "html": extracted.html,
        }
        click.echo(json.dumps(fields, ensure_ascii=False, indent=2))
    elif extracted.text:
        click.echo(extracted.text)


def _usage(message: str) -> NoReturn:
    click.echo(f"feedd extract: {message}", err=True)
    sys.exit(EXIT_USAGE)


COMMANDS = [extract_command]
