"""The schema in one place: a new database gets ``SCHEMA`` at once; an old one is
brought forward by ``MIGRATIONS``. Both must end the same, or the docs describe
one database and users have another."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from feedd.store.sqlite import MIGRATIONS, SCHEMA_VERSION, SQLiteStore
from feedd.store.sqlite.connection import split_statements


def shape(path: Path) -> dict[str, object]:
    """Everything a schema is made of, compared by meaning: the columns of each table
    (an added column's text differs from a declared one's), its foreign keys and
    indexes, and the text of indexes, triggers and views."""
    with sqlite3.connect(path) as conn:
        objects = conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master "
            "WHERE name NOT LIKE 'sqlite_%' AND name NOT LIKE 'articles_fts_%' ORDER BY name"
        ).fetchall()
        found: dict[str, object] = {"version": conn.execute("PRAGMA user_version").fetchone()}
        for kind, name, table, sql in objects:
            if kind == "table" and not (sql or "").startswith("CREATE VIRTUAL"):
                found[name] = (
                    conn.execute(f"PRAGMA table_xinfo([{name}])").fetchall(),
                    conn.execute(f"PRAGMA foreign_key_list([{name}])").fetchall(),
                    sorted(conn.execute(f"PRAGMA index_list([{name}])").fetchall()),
                )
            else:
                found[name] = (kind, table, re.sub(r"\s+", " ", sql or "").strip())
        return found


def test_a_version_1_database_migrates_to_exactly_the_new_schema(tmp_path: Path):
    old = tmp_path / "v1.db"
    with sqlite3.connect(old) as conn:
        for statement in split_statements(MIGRATIONS[0]):
            conn.execute(statement)
        conn.execute("PRAGMA user_version = 1")
    SQLiteStore(old).close()
    SQLiteStore(tmp_path / "new.db").close()
    migrated, new = shape(old), shape(tmp_path / "new.db")
    assert migrated["version"] == new["version"] == (SCHEMA_VERSION,)
    assert migrated.keys() == new.keys()
    for name in new:
        assert migrated[name] == new[name], name


def test_each_migration_step_is_what_shipped():
    """Migrations are history: one per version, and the new schema is the last one's."""
    assert len(MIGRATIONS) == SCHEMA_VERSION
