"""The periodic-job lease rule SQLite and the memory store share (Store.job_lock).

A job's row says when its last run started and, while a run is in progress, until when it
holds the lease (``running_until``, NULL once the run ended). A new run may start when no live
lease is held and the last start is at least the interval ago.
"""

from __future__ import annotations

#: How long job_lock waits for the store's write lock before answering False (the job is
#: tried again at the loop's next check, trackside/pollers.py).
JOB_LOCK_WAIT_S = 2.0


def may_start(last_started_at: float | None, running_until: float | None,
              interval_s: float, now: float) -> bool:
    """Whether a run of a job whose row holds these values may start at ``now``."""
    if last_started_at is None:  # never ran
        return True
    if running_until is not None and running_until > now:  # a live holder
        return False
    return now - last_started_at >= interval_s
