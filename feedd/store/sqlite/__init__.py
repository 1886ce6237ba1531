"""The SQLite store: feedd's embedded default, one file beside the config.

The only package that imports sqlite3 for writing and sqlite_utils. Split by
topic, one mixin each over the shared ``Connection``; the schema, today's and
how older versions get there, is in ``schema``.
"""

from __future__ import annotations

from .articles import Articles
from .connection import BUSY_TIMEOUT_MS, Connection
from .feeds import Feeds
from .links import Links
from .maintenance import WAL_LIMIT, Maintenance
from .neardup import NearDuplicates
from .pages import Pages
from .schema import MIGRATIONS, SCHEMA, SCHEMA_VERSION

__all__ = [
    "BUSY_TIMEOUT_MS",
    "MIGRATIONS",
    "SCHEMA",
    "SCHEMA_VERSION",
    "WAL_LIMIT",
    "SQLiteStore",
]


class SQLiteStore(Feeds, Articles, Pages, Links, NearDuplicates, Maintenance, Connection):
    """One write connection to a SQLite database. Use from one thread at a time.

    ``conn`` is the sqlite3 connection itself: SQLite-only, for tests and tools
    that check the file, never for the pipeline or the daemon."""
