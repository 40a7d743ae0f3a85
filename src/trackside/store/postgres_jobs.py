"""What a fleet of processes sharing one PostgreSQL database coordinates through it: periodic
jobs run by one process at a time (advisory locks), and wake-ups of idle workers when rows
become due (LISTEN/NOTIFY on ``trackside_work``).

A mixin of :class:`~trackside.store.postgres.PostgresStore`. Both use a dedicated connection of
their own, outside the pool: a session advisory lock and a LISTEN belong to one session, and
PostgreSQL ends both when that session (or the process) dies.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg

from trackside.store import StoreUnavailable
from trackside.store.jobs import start_after_failure
from trackside.store.postgres_outbox import PostgresHost

log = logging.getLogger(__name__)

#: The first key of every job's advisory lock (the second is the hash of its name), so the
#: jobs' locks do not collide with another application's in the same database.
_JOB_LOCK_NAMESPACE = 0x7472_6B6A  # "trkj"
#: The channel of cross-process wake-ups; the payload is the shop.
WORK_CHANNEL = "trackside_work"
#: How often the listening thread checks whether it was asked to stop.
_LISTEN_POLL_S = 0.5
#: Reconnection backoff of the listening thread after a lost connection.
_RECONNECT_FIRST_S, _RECONNECT_MAX_S = 0.2, 5.0


class JobQueries(PostgresHost):
    @contextmanager
    def job_lock(self, name: str, interval_s: float, owner: str, now: float
                 ) -> Iterator[bool]:
        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise StoreUnavailable(f"job {name}: cannot connect: {type(exc).__name__}") from None
        with conn:
            locked = conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))",
                                  (_JOB_LOCK_NAMESPACE, name)).fetchone()
            if not locked or not locked[0]:
                yield False  # another process runs it now
                return
            try:
                started = conn.execute(
                    "INSERT INTO jobs (name, last_started_at, owner) VALUES (%s, %s, %s)"
                    " ON CONFLICT (name) DO UPDATE SET last_started_at = excluded.last_started_at,"
                    " owner = excluded.owner WHERE jobs.last_started_at <= %s RETURNING name",
                    (name, now, owner, now - interval_s)).fetchone()
                try:
                    yield started is not None
                except BaseException:
                    if started is not None and not conn.broken:
                        conn.execute("UPDATE jobs SET last_started_at = %s WHERE name = %s"
                                     " AND owner = %s AND last_started_at = %s",
                                     (start_after_failure(now, interval_s), name, owner, now))
                    raise
            finally:
                if not conn.broken:
                    conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))",
                                 (_JOB_LOCK_NAMESPACE, name))

    def subscribe(self, on_work: Callable[[], None]) -> Callable[[], None] | None:
        stop = threading.Event()
        thread = threading.Thread(target=self._listen, args=(on_work, stop),
                                  name="trackside-listen", daemon=True)
        thread.start()

        def unsubscribe() -> None:
            stop.set()
            thread.join(_LISTEN_POLL_S * 4)
            if unsubscribe in self._subscriptions:
                self._subscriptions.remove(unsubscribe)

        self._subscriptions.append(unsubscribe)
        return unsubscribe

    def _listen(self, on_work: Callable[[], None], stop: threading.Event) -> None:
        def wake() -> None:
            try:
                on_work()
            except Exception:  # the caller's bug must not end the wake-ups
                log.exception("Store wake-ups: the on_work callback failed.")

        backoff = _RECONNECT_FIRST_S
        first = True
        while not stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as conn:
                    conn.execute(f"LISTEN {WORK_CHANNEL}")
                    backoff = _RECONNECT_FIRST_S
                    if not first:
                        wake()  # notifications sent while we were away are lost
                    first = False
                    while not stop.is_set():
                        for _ in conn.notifies(timeout=_LISTEN_POLL_S):
                            wake()
            except psycopg.Error as exc:
                log.warning("Store wake-ups: the listening connection failed (%s); "
                            "reconnecting in %.1fs.", type(exc).__name__, backoff)
                first = False
                stop.wait(backoff)
                backoff = min(_RECONNECT_MAX_S, backoff * 2)
