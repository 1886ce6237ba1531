"""Regenerate the reference pages from the code: `python docs/generate.py`.

docs/config.md comes from feedd.config.SCHEMA, docs/cli.md from the CLI's
own --help. tests/test_docs.py fails when either page is out of date.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from feedd.cli import cli
from feedd.config import render_reference

DOCS = Path(__file__).parent


def render_cli_reference() -> str:
    lines = [
        "# Command-line reference",
        "",
        "<!-- Generated from the CLI's --help by `python docs/generate.py`;",
        "     tests/test_docs.py fails when this file is out of date. -->",
        "",
        "Every command that takes `-c/--config` also reads the `FEEDD_CONFIG` environment",
        "variable. Exit statuses: 0 success, 1 a feed failed or the database could not be",
        "used, 2 a usage or config error.",
        "",
    ]
    commands: list[tuple[str, click.Command]] = [("feedd", cli)]
    for name in sorted(cli.commands):
        command = cli.commands[name]
        commands.append((f"feedd {name}", command))
        if isinstance(command, click.Group):  # e.g. feedd opml import / export
            commands += [
                (f"feedd {name} {sub}", command.commands[sub]) for sub in sorted(command.commands)
            ]
    for name, command in commands:
        with click.Context(command, info_name=name, terminal_width=88, max_content_width=88) as ctx:
            help_text = command.get_help(ctx)
        lines += [f"## `{name}`", "", "```", help_text.rstrip(), "```", ""]
    return "\n".join(lines)


PAGES = {"config.md": render_reference, "cli.md": render_cli_reference}


def main() -> None:
    for page, render in PAGES.items():
        (DOCS / page).write_text(render())
        sys.stdout.write(f"wrote docs/{page}\n")


if __name__ == "__main__":
    main()
