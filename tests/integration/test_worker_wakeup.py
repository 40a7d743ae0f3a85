"""The idle worker's wake-up by other processes' commits (delivery/wakeup.py, Store.subscribe).

Over PostgreSQL a worker idle on one store object is woken by a commit through another (as
another `serve --no-worker` would make) well before its fallback poll, and does not claim in
a loop meanwhile; over SQLite, without notifications, it keeps its short idle poll and finds
the row that way. Several shops' workers (ShopWorkers) share one subscription (one LISTEN
session) and wake for any shop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.fakes.fixtures import fake_graph  # noqa: F401  (fixture)
from tests.fakes.graph_api import FakeGraphAPI
from tests.integration.test_delivery import purchase
from tests.pg import fresh_database
from tests.waiting import wait_until_async
from trackside.delivery import Worker
from trackside.delivery.shops import ShopWorkers
from trackside.delivery.wakeup import IDLE_POLL_S, NOTIFIED_IDLE_POLL_S
from trackside.runtime import Runtime
from trackside.shops import Shop, Shops
from trackside.store import Claimed, Store

#: How long the test watches an idle worker to count its claims.
IDLE_WINDOW_S = 2.0


class ClaimCounter:
    """The real store, with its claim calls counted (busy polling would show here)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.claims = 0

    def claim(self, *args: Any, **kwargs: Any) -> list[Claimed]:
        self.claims += 1
        return self._store.claim(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def _listening_sessions(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname ="
                           " current_database() AND query ILIKE 'LISTEN%'").fetchone()
    return int(row[0]) if row else 0


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/wake.db"
        return
    with fresh_database() as url:
        yield url


async def test_an_idle_worker_is_woken_by_another_store_objects_commit(
        database_url: str, fake_graph: FakeGraphAPI) -> None:  # noqa: F811
    settings = fake_graph.settings(database_url=database_url, join_window_s=0)
    delivering, ingesting = Runtime.from_settings(settings), Runtime.from_settings(settings)
    counted = ClaimCounter(delivering.store)
    worker = Worker(counted, delivering.destinations)  # type: ignore[arg-type]
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        await wait_until_async(lambda: counted.claims >= 1, what="the worker's first claim")
        notified = worker.idle_poll_s == NOTIFIED_IDLE_POLL_S
        assert worker.idle_poll_s == (NOTIFIED_IDLE_POLL_S if database_url.startswith(
            "postgresql") else IDLE_POLL_S)
        # Idle: watch it for a while (nothing to wait for: this is the window measured).
        before = counted.claims
        await asyncio.wait({running}, timeout=IDLE_WINDOW_S)
        idle_claims = counted.claims - before
        polls = IDLE_WINDOW_S / worker.idle_poll_s
        assert idle_claims <= worker.concurrency * (polls + 1), idle_claims

        committed = time.monotonic()
        await asyncio.to_thread(ingesting.pipeline.accept, [purchase("WAKE-1")], "api")
        await wait_until_async(lambda: "WAKE-1" in fake_graph.event_ids(), timeout_s=15,
                               what="WAKE-1 at the fake Graph API")
        took = time.monotonic() - committed
        print(f"{database_url.split(':')[0]}: idle claims in {IDLE_WINDOW_S}s: "
              f"{idle_claims}, commit to delivery {took:.3f}s")
        if notified:
            assert took < NOTIFIED_IDLE_POLL_S / 2, took
    finally:
        stop.set()
        await asyncio.wait_for(running, timeout=15)
        await worker.aclose()
        delivering.close()
        ingesting.close()


async def test_several_shops_workers_share_one_subscription_and_wake_for_any_shop(
        pixels: tuple[FakeGraphAPI, FakeGraphAPI]) -> None:
    alpha, beta = pixels
    with fresh_database() as url:
        shops = Shops([Shop("alpha", alpha.settings(database_url=url, join_window_s=0)),
                       Shop("beta", beta.settings(database_url=url, join_window_s=0))])
        delivering, ingesting = Runtime.from_shops(shops), Runtime.from_shops(shops)
        workers = delivering.worker()
        assert isinstance(workers, ShopWorkers)
        stop = asyncio.Event()
        running = asyncio.create_task(workers.run(stop))
        try:
            await wait_until_async(lambda: all(w.idle_poll_s == NOTIFIED_IDLE_POLL_S
                                               for w in workers.workers),
                                   what="every shop's lanes on the notified idle poll")
            # Every lane idle: its first claims found nothing (next_due says none due).
            await wait_until_async(lambda: all(w.last_cycle_at for w in workers.workers),
                                   what="a first cycle of every shop")
            committed = time.monotonic()
            await asyncio.to_thread(ingesting.shop("beta").pipeline.accept,
                                    [purchase("BETA-1")], "api")
            await wait_until_async(lambda: "BETA-1" in beta.event_ids(), timeout_s=15,
                                   what="BETA-1 at beta's pixel")
            took = time.monotonic() - committed
            print(f"beta's event, commit to delivery: {took:.3f}s")
            assert took < NOTIFIED_IDLE_POLL_S / 2, took
            assert _listening_sessions(url) == 1  # one LISTEN for both shops' workers
        finally:
            stop.set()
            await asyncio.wait_for(running, timeout=15)
            await workers.aclose()
            delivering.close()
            ingesting.close()
