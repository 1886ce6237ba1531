"""The PostgreSQL connection every part of the store shares: opening, migrating,
transactions, errors, and the leases this poller holds.

- One connection, used from one thread (the pipeline's database thread), in
  autocommit mode: transactions are explicit (``transaction()``), never opened
  behind our back. The session's TimeZone is UTC.
- READ COMMITTED, PostgreSQL's default: each statement sees what committed
  before it, so a writer that waited on an identity lock (``lock_identity``)
  then reads what the other writer stored.
- Errors: a deadlock or a serialization failure is StoreConflict (run the
  transaction again); any other database error is StoreError naming the
  database (never its password). A connection the server dropped is opened
  again at the next call.
- Leases: the feeds this store claimed, with the token of each claim
  (``leases``), renewed by a thread of its own on its own connection.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from typing import Any, Self

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import TupleRow
from psycopg.sql import SQL, Composed

from ...errors import LeaseLost, StoreConflict, StoreError
from .schema import META, MIGRATE_LOCK, MIGRATIONS, SCHEMA_VERSION

DEFAULT_LEASE_SECONDS = 90.0
CONNECT_TIMEOUT = 10  # seconds: a server that does not answer is an error, not a hang

log = logging.getLogger("feedd")

PgConnection = psycopg.Connection[TupleRow]


def describe(url: str) -> str:
    """The database as messages name it: user, host, port and name, no password."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.Error:
        return "the PostgreSQL database (unparsable URL)"
    user = f"{parts['user']}@" if parts.get("user") else ""
    host = parts.get("host") or "localhost"
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"postgresql://{user}{host}{port}/{parts.get('dbname') or ''}"


def default_owner() -> str:
    """This poller's name in leases: the host, the process and a random part (two
    stores in one process, or a PID reused after a restart, are still told apart)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def connect(url: str, password: str | None, name: str) -> PgConnection:
    """A new autocommit connection with the session settings the store relies on."""
    try:
        conn = psycopg.connect(
            url,
            password=password,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT,
            application_name="feedd",
        )
    except psycopg.Error as exc:
        raise StoreError(f"cannot connect to {name}: {_reason(exc)}") from None
    try:
        conn.execute("SET TIME ZONE 'UTC'")
    except psycopg.Error as exc:
        conn.close()
        raise StoreError(f"cannot use {name}: {_reason(exc)}") from None
    return conn


@contextmanager
def translated(name: str) -> Iterator[None]:
    """Turn psycopg's errors into StoreConflict (run it again) and StoreError."""
    try:
        yield
    except (pg_errors.SerializationFailure, pg_errors.DeadlockDetected) as exc:
        raise StoreConflict(f"{name}: {_reason(exc)}") from exc
    except psycopg.Error as exc:
        raise StoreError(f"{name}: {_reason(exc)}") from exc


def _reason(exc: BaseException) -> str:
    return str(exc).strip() or type(exc).__name__


def utc(value: datetime | None) -> datetime | None:
    """A timestamp as read: in UTC (timezone.utc, as SQLite's store returns them)."""
    return None if value is None else value.astimezone(UTC)


def stamp(value: datetime | None) -> datetime | None:
    """A timestamp as written: whole seconds, as SQLite's text format keeps them
    (a value read back equals the one written on both backends)."""
    return None if value is None else value.replace(microsecond=0)


class Connection:
    """One connection to the database; use from one thread at a time."""

    def __init__(
        self,
        url: str,
        *,
        password: str | None = None,
        owner: str | None = None,
        lease_seconds: float | None = None,
        renew: bool = True,
    ) -> None:
        self.url = url
        self.name = describe(url)
        self._password = password
        self.owner = owner or default_owner()
        self.lease_seconds = DEFAULT_LEASE_SECONDS if lease_seconds is None else lease_seconds
        self._conn: PgConnection | None = connect(url, password, self.name)
        self._in_transaction = False
        # Per transaction: the feeds whose lease was checked (fence), and those
        # whose lease record_poll ended (forgotten once the transaction commits).
        self._fenced: set[int] = set()
        self._ending: set[int] = set()
        # feed id -> token of this store's claim; the renewal thread reads it too.
        self.leases: dict[int, int] = {}
        self.leases_lock = threading.Lock()
        try:
            self._migrate()
        except BaseException:
            self._conn.close()
            raise
        self._init_renewal(renew)

    def _init_renewal(self, renew: bool) -> None:
        """Start what keeps the leases alive (the Leases mixin)."""

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the connection

    def connection(self) -> PgConnection:
        """The connection, opened again when the server dropped it (not inside a
        transaction: what it did is gone, the caller must start over)."""
        conn = self._conn
        if conn is not None and not conn.closed:
            return conn
        if self._in_transaction:
            raise StoreError(f"lost the connection to {self.name} during a transaction")
        if conn is not None:
            log.info("reconnecting to %s", self.name)
        self._conn = connect(self.url, self._password, self.name)
        return self._conn

    def errors(self) -> AbstractContextManager[None]:
        return translated(self.name)

    def execute(
        self, sql: str | SQL | Composed, params: Sequence[Any] | dict[str, Any] | None = None
    ) -> Any:
        """Run one statement; its cursor (fetchone, fetchall, rowcount, iteration)."""
        with self.errors():
            return self.connection().execute(sql, params)

    def executemany(self, sql: str, params: Sequence[Sequence[Any] | dict[str, Any]]) -> None:
        """Run one statement for each parameter set, in order (one round trip: a pipeline)."""
        if not params:
            return
        with self.errors(), self.connection().cursor() as cursor:
            cursor.executemany(sql, params)

    @contextmanager
    def pipeline(self) -> Iterator[None]:
        """Statements inside are sent without waiting for each one's answer (one
        round trip at the end); errors surface when it ends, as StoreError."""
        with self.errors(), self.connection().pipeline():
            yield

    # -- schema

    def _migrate(self) -> None:
        conn = self.connection()
        with self.errors():
            # Session-level, taken before creating feedd_meta: pollers starting
            # together would otherwise race in CREATE TABLE IF NOT EXISTS, which
            # is not safe against a concurrent create (a unique violation in pg_type).
            conn.execute("SELECT pg_advisory_lock(%s::int8)", (MIGRATE_LOCK,))
            try:
                # Created only when missing: a read-only server (a standby) opens
                # too, and check_writable() says what is wrong with it.
                found = conn.execute("SELECT to_regclass('feedd_meta')").fetchone()
                if found is None or found[0] is None:
                    conn.execute(META)
                row = conn.execute(
                    "SELECT value FROM feedd_meta WHERE key = 'schema_version'"
                ).fetchone()
                version = 0 if row is None else int(row[0])
                if version > SCHEMA_VERSION:
                    raise StoreError(
                        f"{self.name} has schema version {version}; this feedd knows up to "
                        f"{SCHEMA_VERSION}. Upgrade feedd."
                    )
                for number in range(version, SCHEMA_VERSION):
                    with conn.transaction():
                        conn.execute(MIGRATIONS[number])
                        conn.execute(
                            "INSERT INTO feedd_meta (key, value) VALUES ('schema_version', %s) "
                            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                            (str(number + 1),),
                        )
            finally:
                if not conn.closed:
                    conn.execute("SELECT pg_advisory_unlock(%s::int8)", (MIGRATE_LOCK,))

    @property
    def schema_version(self) -> int:
        row = self.execute("SELECT value FROM feedd_meta WHERE key = 'schema_version'").fetchone()
        return 0 if row is None else int(row[0])

    # -- transactions

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN ... COMMIT, or ROLLBACK on any exception. A deadlock or a
        serialization failure raises StoreConflict; nothing of it is kept."""
        if self._in_transaction:
            raise StoreError("nested transaction")
        conn = self._begin()
        self._in_transaction = True
        self._fenced.clear()
        with self.leases_lock:
            self._ending.clear()
        try:
            yield
            with self.errors():
                conn.execute("COMMIT")
        except BaseException:
            if not conn.closed:
                try:
                    conn.execute("ROLLBACK")
                except psycopg.Error:
                    log.debug("ROLLBACK failed on %s", self.name, exc_info=True)
            with self.leases_lock:
                self._ending.clear()
            raise
        finally:
            self._in_transaction = False
        self._leases_ended()

    def _begin(self) -> PgConnection:
        """BEGIN; once more on a new connection when the server dropped the old
        one since the last call (nothing was done yet: safe to repeat)."""
        for attempt in (1, 2):
            conn = self.connection()
            try:
                conn.execute("BEGIN")
            except psycopg.OperationalError as exc:
                if conn.closed and attempt == 1:
                    continue
                raise StoreError(f"{self.name}: {_reason(exc)}") from exc
            except psycopg.Error as exc:
                raise StoreError(f"{self.name}: {_reason(exc)}") from exc
            return conn
        raise AssertionError("unreachable")

    def atomic(self) -> Any:
        """The current transaction, or one of its own for a write made outside one."""
        return nullcontext() if self._in_transaction else self.transaction()

    @property
    def in_transaction(self) -> bool:
        return self._in_transaction

    # -- leases

    def claimed(self, tokens: Sequence[tuple[int, int]]) -> None:
        """Remember the token of each feed this store just claimed."""
        with self.leases_lock:
            self.leases.update(tokens)

    def fence(self, feed_id: int) -> None:
        """Before the transaction's first write for a feed: raise LeaseLost unless
        this store still holds the feed's lease (a feed it never claimed may be
        written while no other poller holds a live lease on it). The row stays
        locked to the transaction, so no claim can come between check and commit."""
        if feed_id in self._fenced:
            return
        row = self.execute(
            "SELECT lease_owner, lease_token, lease_until > now() FROM feeds "
            "WHERE id = %s FOR UPDATE",
            (feed_id,),
        ).fetchone()
        with self.leases_lock:
            token = self.leases.get(feed_id)
        if row is not None:
            owner, stored, live = row
            if token is not None and (owner != self.owner or stored != token):
                with self.leases_lock:
                    if self.leases.get(feed_id) == token:
                        del self.leases[feed_id]
                raise LeaseLost(f"feed {feed_id}: another poller claimed it (lease expired)")
            if token is None and owner is not None and owner != self.owner and live:
                raise LeaseLost(f"feed {feed_id}: another poller ({owner}) is polling it")
        self._fenced.add(feed_id)

    def end_lease(self, feed_id: int) -> None:
        """The feed's lease ends with this transaction (record_poll)."""
        with self.leases_lock:
            self._ending.add(feed_id)

    def _leases_ended(self) -> None:
        with self.leases_lock:
            for feed_id in self._ending:
                self.leases.pop(feed_id, None)
            self._ending.clear()

    def ending(self) -> frozenset[int]:
        """Feeds whose lease a transaction in progress ends (call with leases_lock held)."""
        return frozenset(self._ending)
