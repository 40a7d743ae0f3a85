"""The memory store's periodic-job lock (Store.job_lock), a mixin of MemoryStore.

One process only, so the jobs "table" in the store's state with its lease is the whole lock;
the rule is SQLite's (trackside/store/jobs.py). No cross-process wake-up: ``subscribe``
returns None.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING

from trackside.store import JOB_LEASE_S, StoreLocked
from trackside.store.jobs import JOB_LOCK_WAIT_S, may_start
from trackside.testing.memory_unit import JobState, State


class MemoryJobs:
    if TYPE_CHECKING:
        def time_limit(self, seconds: float) -> AbstractContextManager[None]: ...

        def _write(self) -> AbstractContextManager[State]: ...

    @contextmanager
    def job_lock(self, name: str, interval_s: float, owner: str, now: float
                 ) -> Iterator[bool]:
        try:
            started = self._start_job(name, interval_s, owner, now)
        except StoreLocked:
            started = False
        if not started:
            yield False
            return
        try:
            yield True
        finally:
            with self._write() as state:
                job = state.jobs.get(name)
                if job is not None and (job.owner, job.last_started_at) == (owner, now):
                    job.running_until = None

    def _start_job(self, name: str, interval_s: float, owner: str, now: float) -> bool:
        with self.time_limit(JOB_LOCK_WAIT_S), self._write() as state:
            job = state.jobs.get(name)
            last, until = (None, None) if job is None else (job.last_started_at,
                                                            job.running_until)
            if not may_start(last, until, interval_s, now):
                return False
            state.jobs[name] = JobState(now, owner, now + JOB_LEASE_S)
            return True

    def subscribe(self, on_work: Callable[[], None]) -> Callable[[], None] | None:
        return None
