"""The item's path as ``Pipeline``'s docstring draws it names only what exists, and
names every step the pipeline asks the store and the schedule for a poll."""

from __future__ import annotations

import ast
import inspect
import re

import pytest

from feedd import dedupe, digest, fetch, links, pipeline, schedule
from feedd.store import Storage

DOC = inspect.getdoc(pipeline.Pipeline) or ""
NAMED = re.compile(r"\b(store|schedule|dedupe|digest|links|fetch)\.(\w+)\(")
OWNERS = {
    "store": Storage,
    "schedule": schedule,
    "dedupe": dedupe,
    "digest": digest,
    "links": links,
    "fetch": fetch,
}


def calls_in_pipeline(owner: str) -> set[str]:
    """Methods the pipeline module calls on ``self.store`` (owner "store") or a module."""
    tree = ast.parse(inspect.getsource(pipeline))
    found = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        target = node.func.value
        on_store = isinstance(target, ast.Attribute) and target.attr == "store"
        on_module = isinstance(target, ast.Name) and target.id == owner
        if on_store if owner == "store" else on_module:
            found.add(node.func.attr)
    return found


@pytest.mark.parametrize(("owner", "name"), sorted(set(NAMED.findall(DOC))))
def test_every_step_the_docstring_names_exists(owner, name):
    assert hasattr(OWNERS[owner], name), f"{owner}.{name} in Pipeline's docstring"


def test_the_docstring_names_every_poll_decision_and_write():
    named = set(NAMED.findall(DOC))
    # What decides and records a poll: all of it is in the drawing.
    for name in calls_in_pipeline("schedule") - {"IntervalPolicy"}:
        assert ("schedule", name) in named, f"schedule.{name} is missing from the docstring"
    for name in ("record_poll", "transaction", "known", "apply", "save_digest_state"):
        assert name in calls_in_pipeline("store")
        assert ("store", name) in named, f"store.{name} is missing from the docstring"


def test_the_module_docstring_lists_the_same_steps():
    steps = re.findall(r"^\d\. (\w+)", pipeline.__doc__ or "", re.MULTILINE)
    assert steps == ["fetch", "digest", "prepare", "resolve", "finish", "record"]
    for step in ("prepare", "resolve_all", "finish", "record_poll"):
        assert step in DOC
