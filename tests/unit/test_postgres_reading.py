"""The PostgreSQL reader's pure parts: the columns behind the fields, the URL
shown in messages and the session it asks for."""

from __future__ import annotations

import pytest

pytest.importorskip("psycopg", reason="pip install -e '.[test]' brings psycopg")

from psycopg.conninfo import conninfo_to_dict

from feedd.store.postgres import reading as postgres
from feedd.store.reading import ARTICLE_FIELDS, Filters
from feedd.store.sqlite import reading as sqlite


def test_every_field_has_a_column_in_both_backends():
    assert tuple(postgres.COLUMNS) == ARTICLE_FIELDS == tuple(sqlite.COLUMNS)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://feedd@db:5432/feedd", "postgresql://feedd@db:5432/feedd"),
        ("postgresql://feedd:s3cret@db/feedd", "postgresql://feedd@db/feedd"),
        ("postgres://:s3cret@db/feedd", "postgres://db/feedd"),
        (
            "postgresql://db/feedd?sslmode=require&password=s3cret",
            "postgresql://db/feedd?sslmode=require",
        ),
    ],
)
def test_a_url_is_shown_without_its_password(url, shown):
    assert postgres.redacted(url) == shown


def test_the_session_is_read_only_in_utc_and_keeps_the_urls_settings():
    given = conninfo_to_dict(
        postgres.session_conninfo(
            "postgresql://feedd@db/feedd?options=-c%20search_path%3Dfeedd&connect_timeout=3",
            "pw",
        )
    )
    assert given["options"] == f"-c search_path=feedd {postgres.SESSION_OPTIONS}"
    assert "default_transaction_read_only=on" in postgres.SESSION_OPTIONS
    assert "TimeZone=UTC" in postgres.SESSION_OPTIONS
    assert (given["password"], given["connect_timeout"], given["host"]) == ("pw", "3", "db")
    plain = conninfo_to_dict(postgres.session_conninfo("postgresql://db/feedd", None))
    assert "password" not in plain
    assert plain["connect_timeout"] == str(postgres.CONNECT_TIMEOUT_SECONDS)


def test_every_value_is_a_bound_parameter():
    filters = Filters(
        feeds=("x'); DROP TABLE feeds; --",), tags=("t",), since="s", until="u", limit=5
    )
    sql, params = postgres.search_sql("q'", filters, ("id",))
    assert "DROP" not in sql and "q'" not in sql
    assert sql.count("%s") == len(params)
    for build in (postgres.articles_sql, lambda f, c: postgres.tail_sql(3, f, c)):
        sql, params = build(filters, ("id", "feeds"))
        assert sql.count("%s") == len(params)
