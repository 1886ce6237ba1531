"""The PostgreSQL store: several pollers, on several machines, on one database.

The only package besides the SQLite one that writes a database, and (with
``reading``) the only one that imports psycopg. Split by topic like the SQLite
store, one mixin each over the shared ``Connection``; the schema is in
``schema``. What keeps the pollers apart:

- Feeds are leased: ``due_feeds`` and ``feeds_by_url`` claim each feed they
  return (owner, expiry, and a token raised at every claim); a thread renews
  the leases every third of ``lease_seconds``; ``record_poll`` ends one. A
  write for a feed whose token changed (the lease expired and another poller
  claimed it) raises LeaseLost, checked under the row's lock.
- Stories are locked: ``lock_identity`` takes one transaction-level advisory
  lock per bucket of story keys, in ascending order, under IDENTITY_LOCK
  shared; merges and retention take IDENTITY_LOCK exclusively.
- Config syncs, migrations and housekeeping each have an advisory lock of
  their own; housekeeping runs once per cluster (HOUSEKEEPING_EVERY).
- Host slots ([fetch] per_host) are rows of host_slots, leased like feeds.
- Article pages ([fulltext]) are claimed row by row (FOR UPDATE SKIP LOCKED)
  and held for a while: one poller fetches each.
"""

from __future__ import annotations

from .articles import IDENTITY_BUCKETS, MAX_KEY_LOCKS, identity_buckets
from .connection import DEFAULT_LEASE_SECONDS, describe, log
from .feeds import Feeds
from .leases import Leases
from .links import Links
from .maintenance import HOUSEKEEPING_EVERY, Maintenance
from .neardup import NearDuplicates
from .pages import Pages
from .schema import MIGRATIONS, SCHEMA, SCHEMA_VERSION
from .slots import PostgresHostSlots

__all__ = [
    "DEFAULT_LEASE_SECONDS",
    "HOUSEKEEPING_EVERY",
    "IDENTITY_BUCKETS",
    "MAX_KEY_LOCKS",
    "MIGRATIONS",
    "SCHEMA",
    "SCHEMA_VERSION",
    "PostgresHostSlots",
    "PostgresStore",
    "describe",
    "identity_buckets",
]


class PostgresStore(Feeds, Pages, Links, NearDuplicates, Maintenance, Leases):
    """A poller's connection to a shared PostgreSQL database. Use from one thread
    at a time (the renewal thread and the host slots have connections of their own).

    ``owner`` names this poller in leases (default: host, PID and a random
    part); ``lease_seconds`` is how long a claimed feed stays this poller's
    without renewal; ``renew`` False leaves the leases to expire (tests)."""

    _slots: PostgresHostSlots | None = None

    def host_slots(self) -> PostgresHostSlots:
        if self._slots is None:
            self._slots = PostgresHostSlots(
                self.url,
                password=self._password,
                name=self.name,
                owner=self.owner,
                lease_seconds=self.lease_seconds,
            )
            self.renews_slots = True
        return self._slots

    def close(self) -> None:
        """Stop renewing, give back this poller's feeds and host slots, disconnect.
        A database that cannot be reached now is left to expire the leases."""
        self.stop_renewal()
        try:
            if self._slots is not None:
                self._slots.close()
            if self._conn is not None and not self._conn.closed and not self.in_transaction:
                self.release_leases()
        except Exception as exc:  # closing must not fail: the leases expire anyway
            log.warning("cannot give back the leases on %s: %s", self.name, exc)
        finally:
            super().close()
