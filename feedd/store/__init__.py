"""Storage behind a seam: the protocol the pipeline and the daemon use, and its
backends.

``Storage`` (base.py) is all they know; ``open_store`` picks the backend for
the configured database: a path is SQLite (``feedd.store.sqlite``), the
embedded default; a ``postgresql://`` URL is PostgreSQL
(``feedd.store.postgres``, the ``feedd[postgres]`` extra), which several
pollers on several machines can share. The read commands know only
``Reader`` (reading.py), from ``open_reader``: read-only, safe beside the
daemon. Nothing outside this package imports sqlite3 or psycopg.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import QueryError, StoreError
from .base import HostSlots, Storage
from .reading import Reader

__all__ = ["HostSlots", "Reader", "Storage", "is_url", "open_reader", "open_store"]

# The backend is imported when a database is opened, not with this package:
# the protocols and the read side's values (reading.py) are what the CLI
# imports at start (`feedd --help`, `check` or `opml` open no database).

URL_SCHEMES = ("postgresql://", "postgres://")
MISSING_EXTRA = "the PostgreSQL backend needs its extra: pip install 'feedd[postgres]' ({reason})"


def is_url(database: Path | str) -> bool:
    """Whether the configured database is a server's URL (else a SQLite file)."""
    return isinstance(database, str) and database.startswith(URL_SCHEMES)


def open_store(
    database: Path | str,
    *,
    password: str | None = None,
    owner: str | None = None,
    lease_seconds: float | None = None,
) -> Storage:
    """The store for a configured database: a path is SQLite, a postgresql://
    URL PostgreSQL (``owner`` names this poller in leases, ``lease_seconds``
    is how long a claimed feed stays its own without renewal)."""
    if is_url(database):
        try:
            from .postgres import PostgresStore
        except ImportError as exc:
            raise StoreError(MISSING_EXTRA.format(reason=exc)) from None
        return PostgresStore(
            str(database), password=password, owner=owner, lease_seconds=lease_seconds
        )
    from .sqlite import SQLiteStore

    return SQLiteStore(Path(database))


def open_reader(database: Path | str, *, password: str | None = None) -> Reader:
    """A read-only view of a configured database. Raises QueryError when it does
    not exist or cannot be read."""
    if is_url(database):
        try:
            from .postgres.reading import PostgresReader
        except ImportError as exc:
            raise QueryError(MISSING_EXTRA.format(reason=exc)) from None
        return PostgresReader(str(database), password=password)
    from .sqlite.reading import SQLiteReader

    return SQLiteReader(Path(database))
