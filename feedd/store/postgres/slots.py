"""[fetch] per_host for the whole cluster: slots in host_slots, leased like feeds."""

from __future__ import annotations

import threading

from .connection import PgConnection, connect, translated

# Takes a slot when it is free: no row, or a row whose lease expired (its
# poller stopped without giving it back). A live row is left alone and
# nothing is returned.
_TAKE = """
INSERT INTO host_slots (host, slot, owner, lease_until)
VALUES (%(host)s, %(slot)s, %(owner)s, now() + make_interval(secs => %(lease)s))
ON CONFLICT (host, slot) DO UPDATE
    SET owner = excluded.owner, lease_until = excluded.lease_until
    WHERE host_slots.lease_until < now()
RETURNING slot
"""


class PostgresHostSlots:
    """HostSlots (base.py) on the database. Thread-safe: one connection of its
    own (autocommit), one call at a time. The store's renewal thread renews the
    slots held; close() gives them all back."""

    def __init__(
        self, url: str, *, password: str | None, name: str, owner: str, lease_seconds: float
    ) -> None:
        self.url = url
        self.name = name
        self.owner = owner
        self.lease_seconds = lease_seconds
        self._password = password
        self._lock = threading.Lock()
        self._conn: PgConnection | None = None

    def _connection(self) -> PgConnection:
        if self._conn is None or self._conn.closed:
            self._conn = connect(self.url, self._password, self.name)
        return self._conn

    def take(self, host: str, limit: int) -> int | None:
        """The lowest free slot of the host below ``limit``; None when all are held.
        Each slot is tried in its own statement: one INSERT of several rows would
        take every free slot at once."""
        with self._lock, translated(self.name):
            conn = self._connection()
            for slot in range(limit):
                row = conn.execute(
                    _TAKE,
                    {"host": host, "slot": slot, "owner": self.owner, "lease": self.lease_seconds},
                ).fetchone()
                if row is not None:
                    return int(row[0])
        return None

    def give_back(self, host: str, slot: int) -> None:
        with self._lock, translated(self.name):
            self._connection().execute(
                "DELETE FROM host_slots WHERE host = %s AND slot = %s AND owner = %s",
                (host, slot, self.owner),
            )

    def close(self) -> None:
        """Give back every slot this poller holds, and close the connection."""
        with self._lock:
            if self._conn is None:
                return
            try:
                if not self._conn.closed:
                    with translated(self.name):
                        self._conn.execute("DELETE FROM host_slots WHERE owner = %s", (self.owner,))
            finally:
                self._conn.close()
                self._conn = None
