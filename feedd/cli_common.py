"""What every command module of the CLI shares: the -c option, loading the
config (problems reported, exit 2), the usage exit status.

Its own module because cli.py imports the other command modules
(cli_query, cli_feeds), which therefore cannot import cli.py.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from .config import Config, load_config
from .errors import ConfigError

EXIT_USAGE = 2


def config_option(
    *, required: bool = True, help: str = "The TOML config file.", default: str | None = None
) -> Callable[[Any], Any]:
    """-c/--config, also read from $FEEDD_CONFIG."""
    # Only pass a default that exists: click treats an explicit default=None
    # as given, and a required option would then not be checked.
    extra: dict[str, Any] = {"default": default, "show_default": True} if default else {}
    return click.option(
        "-c",
        "--config",
        "config_path",
        envvar="FEEDD_CONFIG",
        show_envvar=True,
        required=required,
        type=click.Path(dir_okay=False),
        help=help,
        **extra,
    )


def load_or_exit(path: str) -> Config:
    """The config, or every problem on stderr and exit 2."""
    try:
        config = load_config(path)
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(f"{exc.path}: {problem}", err=True)
        sys.exit(EXIT_USAGE)
    # Not errors: what a lenient read skipped (broken OPML outlines, say).
    for warning in config.warnings:
        click.echo(f"{config.path}: warning: {warning}", err=True)
    return config
