"""Storage behind a seam: the protocol the pipeline and the daemon use, and its
backends.

``Storage`` (base.py) is all they know; ``open_store`` picks the backend for
the configured database. The read commands know only ``Reader``
(reading.py), from ``open_reader``: read-only, safe beside the daemon.
SQLite (``feedd.store.sqlite``) is the embedded default. Nothing outside
this package imports sqlite3.
"""

from __future__ import annotations

from pathlib import Path

from .base import Storage
from .reading import Reader

__all__ = ["Reader", "Storage", "open_reader", "open_store"]

# The backend is imported when a database is opened, not with this package:
# the protocols and the read side's values (reading.py) are what the CLI
# imports at start, and the SQLite backend loads sqlite_utils (50 ms that
# `feedd --help`, `check` or `opml` would otherwise pay).


def open_store(database: Path) -> Storage:
    """The store for a configured database (a path: SQLite)."""
    from .sqlite import SQLiteStore

    return SQLiteStore(database)


def open_reader(database: Path) -> Reader:
    """A read-only view of a configured database (a path: SQLite). Raises
    QueryError when it does not exist or cannot be read."""
    from .sqlite.reading import SQLiteReader

    return SQLiteReader(database)
