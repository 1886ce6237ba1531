"""The SQLite connection every part of the store shares: opening, migrating, transactions.

Durability rules:
- WAL mode, so readers (sqlite3, Datasette, the CLI) never block the daemon.
- Each feed's results, including its new validators (ETag, Last-Modified,
  body hash), are written in one BEGIN IMMEDIATE transaction, so a crash can
  never keep a validator whose items were not stored.
- The connection is in autocommit mode (isolation_level=None): transactions
  are explicit, never opened behind our back.
- A write the storage refuses (disk full, I/O error, read-only, busy) raises
  StoreError with SQLite's reason; nothing of its transaction is kept.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from ...errors import StoreError
from .schema import MIGRATIONS, SCHEMA, SCHEMA_VERSION

if TYPE_CHECKING:
    import sqlite_utils

BUSY_TIMEOUT_MS = 30_000
# SQLite's primary result codes for "the storage refused the write", as
# opposed to a mistake in our SQL: these become StoreError (transaction(), _write()).
_REFUSED = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
    }
)
CHUNK = 500  # parameters per IN (...) query; SQLite's limit is far higher, this keeps plans simple


class Connection:
    """One write connection to the database. Use from one thread at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
            )
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open database {path}: {exc}") from None
        self.conn = conn
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise StoreError(f"cannot put {path} in WAL mode (got {mode})")
            # NORMAL is durable in WAL mode against process crashes; a power
            # loss may lose the last transactions but never corrupts the file.
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"cannot use database {path}: {exc}") from None
        except BaseException:
            conn.close()
            raise

    @functools.cached_property
    def db(self) -> sqlite_utils.Database:
        """sqlite-utils over the same connection (counts, introspection)."""
        # Imported here: the polls write with sqlite3, and sqlite_utils (with
        # dateutil and click) costs ~50 ms and ~4 MB in every process that opens
        # the store.
        import sqlite_utils

        return sqlite_utils.Database(self.conn)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- schema

    def _migrate(self) -> None:
        with self.transaction():
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} has schema version {version}; this feedd knows up to "
                    f"{SCHEMA_VERSION}. Upgrade feedd."
                )
            if version == 0 and not self.conn.execute("SELECT 1 FROM sqlite_master").fetchone():
                scripts: Sequence[str] = (SCHEMA,)  # a new database: today's schema at once
            else:
                scripts = MIGRATIONS[version:]
            for script in scripts:
                for statement in split_statements(script):
                    self.conn.execute(statement)
            # PRAGMA takes no parameters; the value is our own integer.
            self.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    # -- transactions

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception.

        When the storage refuses the write (disk full, I/O error, the lock
        still held by another writer after the busy timeout), the error is a
        StoreError naming the database, with SQLite's reason.
        """
        if self.conn.in_transaction:
            raise StoreError("nested transaction")
        with self._refusals():
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield
                self.conn.execute("COMMIT")
            except BaseException:
                # After SQLITE_FULL or SQLITE_IOERR (in a statement or in
                # COMMIT), SQLite may have rolled back already: a second
                # ROLLBACK would fail and hide the reason.
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise

    def _write(self, sql: str, params: Sequence[Any]) -> None:
        """One statement outside transaction(), refusals turned into StoreError."""
        with self._refusals():
            self.conn.execute(sql, params)

    @contextmanager
    def _refusals(self) -> Iterator[None]:
        """Turn the storage's refusals (_REFUSED) into StoreError."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF in _REFUSED:
                raise StoreError(f"cannot write to {self.path}: {exc}") from exc
            raise


def chunks(values: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def split_statements(script: str) -> Iterator[str]:
    """Split a migration script into statements (triggers contain ';')."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        if line.strip().startswith("--") and not buffer.strip():
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                yield buffer.strip()
            buffer = ""
    if buffer.strip():
        yield buffer.strip()
