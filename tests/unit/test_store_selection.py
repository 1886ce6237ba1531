"""open_store/open_reader: a path is SQLite, a postgresql:// URL PostgreSQL, and
a missing extra is a clear error naming it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from feedd.errors import QueryError, StoreError
from feedd.store import is_url, open_reader, open_store


def test_a_url_is_a_server_and_anything_else_a_file():
    assert is_url("postgresql://feedd@db.example/feedd")
    assert is_url("postgres://db.example/feedd")
    assert not is_url(Path("postgresql:"))  # a file that happens to be named so
    assert not is_url("feedd.db")


def test_without_the_extra_the_error_names_it(monkeypatch, tmp_path):
    for name in [n for n in sys.modules if n == "psycopg" or n.startswith("feedd.store.postgres")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg raises ImportError
    with pytest.raises(StoreError, match=r"pip install 'feedd\[postgres\]'"):
        open_store("postgresql://feedd@127.0.0.1:9/feedd")
    with pytest.raises(QueryError, match=r"pip install 'feedd\[postgres\]'"):
        open_reader("postgresql://feedd@127.0.0.1:9/feedd")
    open_store(tmp_path / "feedd.db").close()  # SQLite needs no extra
