-- Periodic jobs across every process sharing this file (Store.job_lock): when each job last
-- started, who started it, and the lease of the run in progress (NULL once it ended). The
-- lease is the cross-process lock: a holder that dies without ending its run stops blocking
-- the others when running_until passes.
CREATE TABLE jobs (
    name TEXT PRIMARY KEY,
    last_started_at REAL NOT NULL,
    owner TEXT NOT NULL,
    running_until REAL
);
