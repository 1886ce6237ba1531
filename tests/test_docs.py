"""The docs cannot drift from the code: reference pages are generated and compared."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from feedd.cli import cli
from feedd.config import SCHEMA

ROOT = Path(__file__).parents[1]


def load_generator():
    spec = importlib.util.spec_from_file_location("generate", ROOT / "docs" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("page", ["config.md", "cli.md"])
def test_reference_pages_are_current(page):
    generator = load_generator()
    expected = generator.PAGES[page]()
    actual = (ROOT / "docs" / page).read_text()
    assert actual == expected, f"docs/{page} is out of date: run `python docs/generate.py`"


def test_every_command_has_help_and_is_documented():
    cli_page = (ROOT / "docs" / "cli.md").read_text()
    readme = (ROOT / "README.md").read_text()
    for name, command in cli.commands.items():
        assert command.help and command.help.strip(), f"feedd {name} has no help text"
        assert f"## `feedd {name}`" in cli_page
        assert f"feedd {name}" in readme, f"README does not mention feedd {name}"


def test_every_config_key_is_in_the_example_config():
    example = (ROOT / "config" / "feedd.toml").read_text()
    for section, keys in SCHEMA.items():
        if section not in ("", "feeds[]"):
            assert f"[{section}]" in example, section
        for key in keys:
            if key.name in ("max_body_size", "user_agent", "enabled"):
                continue  # defaults most users never touch; documented in docs/config.md
            # Optional features that are off by default may be shown commented out.
            off = key.default is None or key.default == ()
            optional = "(# )?" if off and not key.required else ""
            assert re.search(rf"^{optional}{key.name} = ", example, re.MULTILINE), key.name


def test_schema_doc_names_every_column(tmp_path):
    from feedd.store.sqlite import SQLiteStore as Store

    schema_page = (ROOT / "docs" / "schema.md").read_text()
    with Store(tmp_path / "x.db") as store:
        for table in ("feeds", "articles", "article_feeds"):
            for column in store.db[table].columns_dict:
                assert f"`{column}`" in schema_page, f"docs/schema.md misses {table}.{column}"


def test_readme_setup_commands_are_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    match = re.search(r"<!-- test-command -->\n```sh\n(.+?)\n```", readme, re.DOTALL)
    assert match, "README must mark its test command"
    assert match[1].strip() in ci
