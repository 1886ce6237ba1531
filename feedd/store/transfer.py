"""Moving a database: a SQLite file's rows copied into an empty PostgreSQL
database (``feedd migrate-db``).

All or nothing: the rows go in one PostgreSQL transaction, the row counts of
both sides are compared before it commits, and any difference or error
leaves the target as it was (empty). The SQLite file is read inside one read
transaction, so a daemon still writing to it cannot give a half-copied poll;
it is never written.

Columns are matched by name: what both schemas have is copied (PostgreSQL
parses the schema's text timestamps, JSON and 0/1 flags into its own types);
what only PostgreSQL has (the search vector, computed; the leases) starts
empty. Ids are kept, so ``feedd show ID`` finds the same article after the
move, and each identity sequence continues after the highest id.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import StoreError

# Parents before children (the foreign keys), each table whole.
TABLES = (
    "feeds",
    "articles",
    "article_feeds",
    "article_signatures",
    "article_bands",
    "article_revisions",
    "pages",
    "links",
    "feed_digests",
)
# Tables whose ids the target's sequences must continue after.
IDENTITIES = ("feeds", "articles")
ROWS_PER_READ = 5_000


@dataclass(frozen=True, slots=True)
class Copied:
    table: str
    rows: int


def copy_sqlite_to_postgres(
    source: Path,
    target: str,
    *,
    password: str | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> tuple[Copied, ...]:
    """Copy every row of the SQLite database ``source`` into the PostgreSQL
    database at ``target`` (created or migrated to feedd's schema first; it
    must hold no feeds or articles). ``progress(table, rows)`` is called as
    rows go. Raises StoreError, with nothing written, on any failure."""
    if not source.is_file():
        raise StoreError(f"{source}: no such database")
    from .postgres import PostgresStore  # creates the schema
    from .sqlite import SCHEMA_VERSION as SQLITE_VERSION

    PostgresStore(target, password=password).close()
    import psycopg

    try:
        reader = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise StoreError(f"{source}: {exc}") from None
    try:
        version = reader.execute("PRAGMA user_version").fetchone()[0]
        if version != SQLITE_VERSION:
            raise StoreError(
                f"{source}: schema version {version}; this feedd writes {SQLITE_VERSION}: "
                "open it once with this feedd (feedd fetch or run migrates it), then move it"
            )
        reader.execute("BEGIN")  # one snapshot of the whole file
        try:
            with psycopg.connect(target, password=password) as conn:
                return _copy(reader, conn, progress)
        except psycopg.Error as exc:
            raise StoreError(f"migrate-db: {_plain(exc)}; nothing was written") from None
    finally:
        reader.close()


def _copy(
    reader: sqlite3.Connection,
    conn: Any,
    progress: Callable[[str, int], None] | None,
) -> tuple[Copied, ...]:
    with conn.transaction():
        for table in ("feeds", "articles"):
            (rows,) = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
            if rows:
                raise StoreError(
                    f"migrate-db: the target already holds {rows} {table}: it must be a new, "
                    "empty database; nothing was written"
                )
        copied = []
        for table in TABLES:
            columns = _common_columns(reader, conn, table)
            names = ", ".join(columns)
            rows = 0
            cursor = reader.execute(f"SELECT {names} FROM {table}")
            with conn.cursor().copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                while batch := cursor.fetchmany(ROWS_PER_READ):
                    for row in batch:
                        copy.write_row(row)
                    rows += len(batch)
                    if progress is not None:
                        progress(table, rows)
            (stored,) = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
            if stored != rows:
                raise StoreError(
                    f"migrate-db: {table}: {rows} rows read, {stored} in the target; "
                    "nothing was written"
                )
            copied.append(Copied(table, rows))
        for table in IDENTITIES:
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
            )
        return tuple(copied)


def _common_columns(reader: sqlite3.Connection, conn: Any, table: str) -> list[str]:
    """The columns both sides have, in the source's order; the target's computed
    columns left out."""
    source = [row[1] for row in reader.execute(f"PRAGMA table_info({table})")]
    target = {
        name
        for (name,) in conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = %s "
            "AND is_generated = 'NEVER'",
            (table,),
        )
    }
    return [name for name in source if name in target]


def _plain(exc: Exception) -> str:
    """The server's message, first line (no password: libpq never repeats it)."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
