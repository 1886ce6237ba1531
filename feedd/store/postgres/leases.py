"""Keeping this poller's leases alive: a thread with its own connection renews
them every third of the lease, so a slow poll keeps its feed while a poller
that stopped (crashed, frozen, cut off) loses its feeds within one lease."""

from __future__ import annotations

import threading

import psycopg

from .connection import Connection, PgConnection, connect, log

# A renewal at every third of the lease: two can fail (a slow server, a
# network blip) before the lease runs out.
RENEWALS_PER_LEASE = 3


class Leases(Connection):
    _renewer: threading.Thread | None = None
    _renewal_conn: PgConnection | None = None
    _stop: threading.Event

    def _init_renewal(self, renew: bool) -> None:
        """``renew`` False: no renewal (tests of a poller that stopped renewing)."""
        self._stop = threading.Event()
        self.renews_slots = False  # set once host_slots() is used
        if renew:
            self._renewer = threading.Thread(
                target=self._renew_loop, name="feedd-lease-renewal", daemon=True
            )
            self._renewer.start()

    def _renew_loop(self) -> None:
        every = self.lease_seconds / RENEWALS_PER_LEASE
        while not self._stop.wait(every):
            try:
                self.renew()
            except (psycopg.Error, OSError) as exc:
                log.warning("cannot renew leases on %s: %s", self.name, exc)
                self._drop_renewal_connection()
            except Exception:
                log.exception("cannot renew leases on %s", self.name)
                self._drop_renewal_connection()
        self._drop_renewal_connection()

    def _drop_renewal_connection(self) -> None:
        if self._renewal_conn is not None:
            self._renewal_conn.close()
            self._renewal_conn = None

    def renew(self) -> None:
        """Extend every lease this store holds (feeds and host slots); forget the
        feeds whose lease another poller took meanwhile."""
        with self.leases_lock:
            held = dict(self.leases)
        if not held and not self.renews_slots:
            return
        if self._renewal_conn is None or self._renewal_conn.closed:
            self._renewal_conn = connect(self.url, self._password, self.name)
        conn = self._renewal_conn
        if held:
            ids, tokens = list(held), list(held.values())
            renewed = {
                row[0]
                for row in conn.execute(
                    "UPDATE feeds f SET lease_until = now() + make_interval(secs => %s) "
                    "FROM unnest(%s::int8[], %s::int8[]) AS h (id, token) "
                    "WHERE f.id = h.id AND f.lease_owner = %s AND f.lease_token = h.token "
                    "RETURNING f.id",
                    (self.lease_seconds, ids, tokens, self.owner),
                )
            }
            with self.leases_lock:
                ending = self.ending()
                for feed_id, token in held.items():
                    if feed_id in renewed or self.leases.get(feed_id) != token:
                        continue
                    del self.leases[feed_id]
                    # A poll just recorded ended its own lease: not a loss.
                    if feed_id not in ending:
                        log.warning(
                            "lost the lease on feed %d: its poll was too slow and "
                            "another poller claimed it",
                            feed_id,
                        )
        if self.renews_slots:
            conn.execute(
                "UPDATE host_slots SET lease_until = now() + make_interval(secs => %s) "
                "WHERE owner = %s",
                (self.lease_seconds, self.owner),
            )

    def stop_renewal(self) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
            self._renewer = None

    def release_leases(self) -> None:
        """Give back every feed this store holds (close())."""
        with self.leases_lock:
            self.leases.clear()
        self.execute(
            "UPDATE feeds SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = %s",
            (self.owner,),
        )
