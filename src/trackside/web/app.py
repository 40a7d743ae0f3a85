"""The ASGI app: routes listed in one place, and a lifespan that runs the delivery worker.

Shutdown order (uvicorn on SIGTERM): stop accepting connections, let in-flight requests
finish, then this lifespan's exit: the committer commits what is queued (so every 202 already
sent is durable — it was committed before being sent anyway), the worker is told to stop and
finishes its in-flight sends; rows it had not claimed stay pending for the next start.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from trackside import pollers
from trackside.runtime import Runtime
from trackside.web.api import EventsAPI
from trackside.web.collect import collect_routes
from trackside.web.committer import Committer
from trackside.web.console import console_routes
from trackside.web.errors import ApiError, api_error_handler, http_exception_handler
from trackside.web.graph import GraphEndpoint
from trackside.web.imports import OfflineImportAPI
from trackside.web.match_quality import MatchQualityAPI
from trackside.web.middleware import RequestContext
from trackside.web.openapi import build_openapi
from trackside.web.ops import Ops, WorkerState
from trackside.web.reports import ReportsAPI
from trackside.web.webhooks import webhook_routes

log = logging.getLogger("trackside.web")

#: How long shutdown waits for the worker's in-flight sends (uvicorn's own grace period for
#: requests is separate). Rows still leased after that are due again when the lease expires.
WORKER_STOP_TIMEOUT_S = 30.0
GRAPH_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def create_app(runtime: Runtime, *, run_worker: bool = True) -> Starlette:
    committer = Committer(runtime.pipeline)
    state = WorkerState()
    api = EventsAPI(runtime, committer)
    reports = ReportsAPI(runtime)
    graph = GraphEndpoint(runtime, committer)
    imports = OfflineImportAPI(runtime, committer)
    ops = Ops(runtime, state, run_worker)
    openapi = build_openapi()

    async def openapi_json(request: Request) -> Response:
        return JSONResponse(openapi)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if not any(shop.settings.api_keys for shop in runtime.shops):
            log.warning("TRACKSIDE_API_KEYS is empty: POST /v1/events and the Graph-compatible "
                        "endpoint refuse every request until a key is set")
        stop = asyncio.Event()
        # The worker's HTTP client closes when this stack does: after the task has stopped.
        async with AsyncExitStack() as resources:
            if run_worker:
                worker = runtime.worker()
                resources.push_async_callback(worker.aclose)
                # New events are due now (or after the join window): wake the idle worker
                # rather than letting it find them at its next poll.
                committer.on_commit = worker.wake.set
                state.worker, state.started_at = worker, time.time()
                state.task = asyncio.create_task(worker.run(stop), name="trackside-worker")
                state.task.add_done_callback(_report_worker_exit)
                # The periodic jobs run where the worker runs (trackside/pollers.py).
                jobs = pollers.start(runtime, stop)
            else:
                jobs = []
            try:
                yield
            finally:
                await committer.aclose()
                stop.set()
                if jobs:
                    await asyncio.wait(jobs, timeout=WORKER_STOP_TIMEOUT_S)
                task = state.task
                # asyncio.wait, not wait_for: a worker that already died (logged by
                # _report_worker_exit) must not turn shutdown into an error.
                if task is not None and not task.done():
                    done, _ = await asyncio.wait({task}, timeout=WORKER_STOP_TIMEOUT_S)
                    if not done:
                        log.warning("worker did not stop within %.0fs; its leased rows will "
                                    "be retried when their lease expires", WORKER_STOP_TIMEOUT_S)
                        task.cancel()
                log.info("stopped")

    routes = [
        # The two hot paths first: Starlette tries the routes in order, and scanning the 20
        # before /collect cost a tenth of its CPU (bench/stages.py). No other pattern
        # overlaps them.
        Route("/v1/events", api.post_events, methods=["POST"]),
        # POST /collect and GET /t.js (browser path, web/collect.py); they share the committer
        # through app.state.committer.
        *collect_routes(runtime),
        Route("/v1/events/{event_id}", api.get_event, methods=["GET"]),
        Route("/v1/imports/offline", imports.post_offline, methods=["POST"]),
        Route("/v1/reports/match-quality", MatchQualityAPI(runtime).get, methods=["GET"]),
        Route("/v1/reports/reconciliation", reports.reconciliation, methods=["GET"]),
        Route("/v1/reports/reconciliation/orders", reports.orders, methods=["GET"]),
        Route("/healthz", ops.healthz, methods=["GET"]),
        Route("/metrics", ops.metrics, methods=["GET"]),
        Route("/openapi.json", openapi_json, methods=["GET"]),
        # The console (web/console/): /dashboard and below, behind TRACKSIDE_ADMIN_PASSWORD.
        *console_routes(runtime),
        # POST /webhooks/shopify, /webhooks/woocommerce, /webhooks/stripe (and /{shop}):
        # web/webhooks.py.
        *webhook_routes(runtime, committer),
        # Last: its pattern would also match /v1/<anything>/events.
        Route("/{version}/{pixel_id}/events", graph.handle, methods=GRAPH_METHODS),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(RequestContext)],
        exception_handlers={ApiError: api_error_handler, HTTPException: http_exception_handler},
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.committer = committer
    app.state.worker = state
    return app


def _report_worker_exit(task: asyncio.Task[None]) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        log.error("the delivery worker stopped: %s", type(exc).__name__, exc_info=exc)
