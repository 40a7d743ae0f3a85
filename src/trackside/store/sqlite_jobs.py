"""SQLite's periodic-job lock and (absent) cross-process wake-up, a mixin of SQLiteStore.

Every process sharing the file sees the jobs table (migration 0008); the row's lease is the
lock: taking it is one ``BEGIN IMMEDIATE`` check-and-set, so two processes never both see the
job free. SQLite has no notifications: ``subscribe`` returns None and idle workers poll.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING

from trackside.store import JOB_LEASE_S, StoreError, StoreLocked
from trackside.store.jobs import JOB_LOCK_WAIT_S, may_start
from trackside.store.sqlite_outbox import SQLiteHost

log = logging.getLogger("trackside.store")

_UPSERT = (
    "INSERT INTO jobs (name, last_started_at, owner, running_until) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (name) DO UPDATE SET last_started_at = excluded.last_started_at,"
    " owner = excluded.owner, running_until = excluded.running_until"
)
#: Only our own run's lease is ended (a run that outlived its lease may have been followed).
_END = ("UPDATE jobs SET running_until = NULL"
        " WHERE name = ? AND owner = ? AND last_started_at = ?")


class JobQueries(SQLiteHost):
    if TYPE_CHECKING:
        def time_limit(self, seconds: float) -> AbstractContextManager[None]: ...

    @contextmanager
    def job_lock(self, name: str, interval_s: float, owner: str, now: float
                 ) -> Iterator[bool]:
        try:
            started = self._start_job(name, interval_s, owner, now)
        except StoreLocked:
            log.debug("job %s not tried: the store is busy", name)
            started = False
        if not started:
            yield False
            return
        try:
            yield True
        finally:
            try:
                with self.time_limit(JOB_LOCK_WAIT_S), self._write() as conn:
                    conn.execute(_END, (name, owner, now))
            except StoreError as exc:  # the lease then ends on its own
                log.warning("job %s: its lease could not be ended (%s)", name, exc)

    def _start_job(self, name: str, interval_s: float, owner: str, now: float) -> bool:
        with self.time_limit(JOB_LOCK_WAIT_S), self._write() as conn:
            row = conn.execute("SELECT last_started_at, running_until FROM jobs"
                               " WHERE name = ?", (name,)).fetchone()
            last, until = (None, None) if row is None else (row[0], row[1])
            if not may_start(last, until, interval_s, now):
                return False
            conn.execute(_UPSERT, (name, now, owner, now + JOB_LEASE_S))
            return True

    def subscribe(self, on_work: Callable[[], None]) -> Callable[[], None] | None:
        return None
