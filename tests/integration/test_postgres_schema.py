"""PostgreSQL: migrating from version 1 gives exactly today's SCHEMA (as
tests/integration/test_schema.py checks for SQLite)."""

from __future__ import annotations

from typing import Any

import pytest

from feedd.store import open_store


def shape(url: str) -> dict[str, Any]:
    psycopg = pytest.importorskip("psycopg")
    with psycopg.connect(url) as conn:
        columns = conn.execute(
            "SELECT table_name, ordinal_position, column_name, data_type, is_nullable, "
            "column_default FROM information_schema.columns WHERE table_schema = 'public' "
            "ORDER BY 1, 2"
        ).fetchall()
        views = conn.execute(
            "SELECT viewname, definition FROM pg_views WHERE schemaname = 'public' ORDER BY 1"
        ).fetchall()
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1"
        ).fetchall()
    return {"columns": columns, "views": views, "indexes": indexes}


def test_migrations_end_at_the_schema(postgres_url, postgres_server):
    psycopg = pytest.importorskip("psycopg")
    from feedd.store.postgres.schema import META, SCHEMA

    open_store(postgres_url).close()  # a new database: every migration, in order
    base, _, _ = postgres_server.rpartition("/")
    name = postgres_url.rpartition("/")[2] + "_new"
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        fresh = f"{base}/{name}"
        with psycopg.connect(fresh) as conn:
            conn.execute(META)
            conn.execute(SCHEMA)
        migrated, new = shape(postgres_url), shape(fresh)
        assert migrated["columns"] == new["columns"]
        assert migrated["views"] == new["views"]
        assert migrated["indexes"] == new["indexes"]
        assert any(row[2] == "imported" for row in new["columns"])
    finally:
        with psycopg.connect(postgres_server, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
