"""GET /healthz and GET /metrics: what an orchestrator and Prometheus ask."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from trackside import metrics
from trackside.delivery import Worker
from trackside.delivery.shops import ShopWorkers
from trackside.isotime import iso_utc
from trackside.runtime import Runtime
from trackside.store import DestinationCounts, DestinationState, Store, StoreError

log = logging.getLogger("trackside.ops")
T = TypeVar("T")

#: A worker that has not finished a cycle for this long is stalled. A cycle can legitimately
#: take a send timeout times the bisect depth; the claim lease (delivery.LEASE_S) bounds it.
WORKER_STALL_S = 120.0
#: The health probe's write transaction gives up after this (an orchestrator's probe
#: usually times out after 1 to 5 s; answering "locked" beats not answering).
STORE_PROBE_TIMEOUT_S = 1.0


@dataclass
class WorkerState:
    """Set by the app's lifespan; read by /healthz."""

    worker: Worker | ShopWorkers | None = None
    task: asyncio.Task[None] | None = None
    started_at: float = 0.0


class QueueCollector(Collector):
    """Queue depth and oldest pending age per destination, read from the store at scrape
    time (the store is shared by every process, so these are the whole system's figures)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.counts: list[DestinationCounts] = []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = time.time()
        rows = GaugeMetricFamily("trackside_outbox_rows",
                                 "Outbox rows by shop, destination and status (whole store).",
                                 labels=["shop", "destination", "status"])
        depth = GaugeMetricFamily("trackside_queue_depth",
                                  "Events waiting for delivery, by shop and destination.",
                                  labels=["shop", "destination"])
        oldest = GaugeMetricFamily("trackside_oldest_pending_age_seconds",
                                   "Age of the oldest pending event, by shop and destination "
                                   "(0 when nothing is pending).", labels=["shop", "destination"])
        for entry in self.counts:
            for status, count in sorted(entry.counts.items()):
                rows.add_metric([entry.shop, entry.destination, status], count)
            depth.add_metric([entry.shop, entry.destination],  # held rows wait too
                             entry.counts.get("pending", 0) + entry.counts.get("held", 0))
            accepted = entry.oldest_pending_accepted_at
            oldest.add_metric([entry.shop, entry.destination],
                              0.0 if accepted is None else now - accepted)
        yield rows
        yield depth
        yield oldest


class Ops:
    def __init__(self, runtime: Runtime, worker: WorkerState, run_worker: bool) -> None:
        self.runtime = runtime
        self.worker = worker
        self.run_worker = run_worker
        self._queue = QueueCollector(runtime.store)
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(self._queue)
        self._probe: asyncio.Future[str] | None = None
        # Its own threads: the default executor's few threads can all be taken by worker
        # store calls waiting on a lock, and health and metrics must not queue behind them.
        self._threads = ThreadPoolExecutor(max_workers=2, thread_name_prefix="trackside-ops")

    async def _in_thread(self, function: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._threads, function, *args)

    async def healthz(self, request: Request) -> Response:
        store = await self._store_health()
        paused = []
        if store != "unreachable":
            now = time.time()
            try:
                states = await self._in_thread(self._destination_states)
            except StoreError:
                states = []
            for state in states:
                if state.paused_until is None or state.paused_until > now:
                    entry = {"destination": state.destination, "paused": True,
                             "paused_until": iso_utc(state.paused_until), "reason": state.reason}
                    if len(self.runtime.shops) > 1:  # which shop's destination it is
                        entry = {"shop": state.shop, **entry}
                    paused.append(entry)
        worker, age = self._worker_status()
        failing = store != "ok" or worker == "stalled"
        status = "failing" if failing else "degraded" if paused else "ok"
        body: dict[str, object] = {
            "status": status,
            "store": store,
            "worker": worker,
            "worker_last_cycle_age_s": age,
            "paused_destinations": paused,
        }
        pool = self.runtime.store.health_details()  # in memory: no store call
        if pool:
            body["store_pool"] = pool
        return JSONResponse(body, status_code=503 if failing else 200)

    def _destination_states(self) -> list[DestinationState]:
        # Bounded like the probe: when the probe gave up ("locked") because the store went
        # away, an unbounded read waits for a pooled connection for 30 s, and two of them
        # hold both of these threads: /healthz would stop answering during the outage.
        with self.runtime.store.time_limit(STORE_PROBE_TIMEOUT_S):
            return self.runtime.store.destination_states()

    async def _store_health(self) -> str:
        """ok, locked, unwritable, disk_full or unreachable: from a real write transaction.

        Concurrent health checks share one probe, so a flood of them costs one write."""
        if self._probe is None or self._probe.done():
            self._probe = asyncio.ensure_future(self._probe_store())
        return await asyncio.shield(self._probe)

    async def _probe_store(self) -> str:
        try:
            await asyncio.wait_for(
                self._in_thread(self.runtime.store.probe_write, STORE_PROBE_TIMEOUT_S,
                                time.time()),
                STORE_PROBE_TIMEOUT_S + 0.5)
        except StoreError as exc:
            log.warning("Health check: the store cannot accept writes (%s).", exc.health)
            return exc.health
        except TimeoutError:
            log.warning("Health check: the store did not answer within %.1fs.",
                        STORE_PROBE_TIMEOUT_S)
            return "locked"
        except Exception as exc:
            log.warning("Health check: store unreachable (%s).", type(exc).__name__)
            return "unreachable"
        return "ok"

    def _worker_status(self) -> tuple[str, float | None]:
        if not self.run_worker:
            return "disabled", None
        state = self.worker
        if state.worker is None or state.task is None or state.task.done():
            return "stalled", None
        now = time.time()
        last = state.worker.last_cycle_at or state.started_at
        age = round(max(0.0, now - last), 3)
        return ("stalled" if age > WORKER_STALL_S else "ok"), age

    async def metrics(self, request: Request) -> Response:
        try:
            self._queue.counts = await self._in_thread(self.runtime.store.counts)
        except StoreError as exc:
            # The process's own counters still answer; the queue gauges need the store.
            log.warning("Metrics: queue figures unavailable (%s).", exc.health)
            self._queue.counts = []
        text = generate_latest(metrics.REGISTRY) + generate_latest(self._registry)
        return Response(text, media_type=CONTENT_TYPE_LATEST)
