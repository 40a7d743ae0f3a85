"""`trackside serve --workers N`: N server processes on one listening socket, on PostgreSQL.

The parent binds the address once and runs uvicorn's process supervisor (uvicorn.supervisors.
Multiprocess): it starts N children with the socket, replaces one that dies, and on SIGTERM or
Ctrl-C sends each child SIGTERM and waits for it. Every child is a whole server: it builds its
own runtime (its own store connections), its own committer, and unless --no-worker its own
delivery worker, exactly as `serve` does in one process.

Why PostgreSQL only: several workers on one store are safe there (claims use FOR UPDATE SKIP
LOCKED, the periodic jobs run under Store.job_lock, wake-ups come by LISTEN/NOTIFY), and each
process commits on its own connection, so commits proceed side by side. SQLite has one
writer per file: N processes would take turns at one write lock, each paying its own fsync
(group commit works within a process, not across them) and answering 503 when the lock stays
taken longer than the committer waits (docs/scale-out.md). So `--workers` above 1 on SQLite is
refused with a message rather than run slower than one process.

A child must be started from picklable parts (uvicorn spawns, it does not fork): the app is
:func:`served_app` with its options, called in the child.
"""

from __future__ import annotations

import functools
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from trackside import logs
from trackside.errors import ConfigError

log = logging.getLogger("trackside.web")

#: How long the supervisor waits for a child's answer to its health ping (uvicorn's 5 s
#: killed children that were still importing on a loaded 2-core machine).
WORKER_HEALTHCHECK_S = 30


class WorkersUnsupported(ConfigError):
    """--workers above 1 with a store that cannot take several server processes (exit 2)."""


#: The collector's first-generation threshold while serving (Python's default is 700). Each
#: event allocates a few hundred short-lived objects (parsed JSON, models, results) and
#: almost none in cycles, so the default ran a collection every few events.
GC_THRESHOLD = (20_000, 50, 100)


def tune_gc() -> None:
    """Fewer collections on the hot path: what was imported and built at start-up is moved
    out of the collector's view (gc.freeze) and the first generation collects less often.
    About 12-16 % less CPU per event in process (bench/stages.py, docs/benchmarks.md)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)


@dataclass(frozen=True)
class ServeOptions:
    """What each server process needs from the command line (picklable)."""

    run_worker: bool
    log_level: str


def check_workers(workers: int, database_url: str) -> None:
    """WorkersUnsupported when ``workers`` processes cannot share this store."""
    if workers < 1:
        raise WorkersUnsupported("--workers must be 1 or more")
    if workers > 1 and not database_url.startswith(("postgresql://", "postgres://")):
        raise WorkersUnsupported(
            "--workers above 1 needs the PostgreSQL store (TRACKSIDE_DATABASE_URL="
            "postgresql://…): on SQLite the processes would take turns at one write lock, "
            "each with its own fsync, and be slower than one process (docs/scale-out.md)")


def served_app(options: ServeOptions) -> Any:
    """One child's app: its own runtime and store connections, closed when it stops.

    Called by uvicorn in the child (``factory=True``). The migrations ran in the parent, so
    a child never migrates; its log lines carry its process id (``pid``).
    """
    from trackside.runtime import Runtime
    from trackside.shops import load_shops
    from trackside.web.app import create_app

    runtime = Runtime.from_shops(load_shops(), migrate=False)
    logs.configure(runtime.redactor, options.log_level, process_id=True)
    app = create_app(runtime, run_worker=options.run_worker)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[None]:
        try:
            async with inner(application):
                yield
        finally:
            runtime.close()

    app.router.lifespan_context = lifespan
    tune_gc()
    return app


def run_processes(*, workers: int, host: str, port: int, options: ServeOptions,
                  http: Any) -> None:
    """Bind ``host:port`` once and run ``workers`` server processes on it until SIGTERM."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    # proxy_headers=False and the header-limited protocol: as `serve` in one process.
    config = uvicorn.Config(functools.partial(served_app, options), factory=True, host=host,
                            port=port, workers=workers, log_config=None,
                            log_level=options.log_level, access_log=False,
                            timeout_graceful_shutdown=10, proxy_headers=False, http=http,
                            # A child answers the supervisor's ping only once its imports
                            # are done: seconds on a loaded machine. Past this it is killed.
                            timeout_worker_healthcheck=WORKER_HEALTHCHECK_S)
    sock = config.bind_socket()
    try:
        log.info("serving with %d processes", workers, extra={"count": workers})
        Multiprocess(config, sockets=[sock]).run()
    finally:
        sock.close()
