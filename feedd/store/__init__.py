"""Storage behind a seam: the protocol the pipeline and the daemon use, and its
backends.

``Storage`` (base.py) is all they know; ``open_store`` picks the backend for
the configured database. SQLite (``feedd.store.sqlite``) is the embedded
default. Nothing outside this package imports sqlite3 to write.
"""

from __future__ import annotations

from pathlib import Path

from .base import Storage
from .sqlite import SQLiteStore

__all__ = ["Storage", "open_store"]


def open_store(database: Path) -> Storage:
    """The store for a configured database (a path: SQLite)."""
    return SQLiteStore(database)
