"""The pipeline and the worker of one shop over a shared store: events stamped with the shop,
claims and pauses per (shop, destination), the other shop's rows left alone (issue 13)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.fixtures import WorkerClock, fake_graph  # noqa: F401  (fixture)
from tests.fakes.graph_api import FakeGraphAPI, Fault
from tests.integration.test_delivery import purchase
from trackside.pipeline import Pipeline
from trackside.runtime import Runtime
from trackside.shop_names import DEFAULT_SHOP, ShopNameError

OTHER = "shop-b"


@pytest.fixture
def runtime(fake_graph: FakeGraphAPI, tmp_path: Path) -> Iterator[Runtime]:  # noqa: F811
    settings = fake_graph.settings(database_url=f"sqlite:///{tmp_path}/s.db", join_window_s=0)
    runtime = Runtime.from_settings(settings)
    yield runtime
    runtime.close()


def other_pipeline(runtime: Runtime) -> Pipeline:
    return Pipeline(runtime.settings, runtime.store, runtime.pipeline.destinations, shop=OTHER)


def drain(runtime: Runtime, shop: str, clock: WorkerClock) -> int:
    async def run() -> int:
        async with runtime.worker(clock=clock, timeout_s=10, shop=shop) as worker:
            return await worker.drain()

    return asyncio.run(run())


def statuses(runtime: Runtime, shop: str, event_id: str) -> list[str]:
    [view] = runtime.store.event_view(event_id, shop=shop)
    return [row.status for row in view.outbox]


def test_the_same_order_in_two_shops_is_two_events_each_delivered_by_its_shops_worker(
    runtime: Runtime, fake_graph: FakeGraphAPI  # noqa: F811
) -> None:
    clock = WorkerClock()
    [here] = runtime.pipeline.accept([purchase("R1")], "api", now=clock.now)
    [there] = other_pipeline(runtime).accept([purchase("R1")], "api", now=clock.now)
    assert (here.status, there.status) == ("queued", "queued")
    assert here.event_id == there.event_id
    assert drain(runtime, OTHER, clock) == 1
    assert statuses(runtime, OTHER, here.event_id) == ["delivered"]
    assert statuses(runtime, DEFAULT_SHOP, here.event_id) == ["pending"]
    assert drain(runtime, DEFAULT_SHOP, clock) == 1
    assert statuses(runtime, DEFAULT_SHOP, here.event_id) == ["delivered"]
    assert len(fake_graph.requests) == 2


def test_a_throttled_shop_pauses_only_its_own_destination(
    runtime: Runtime, fake_graph: FakeGraphAPI  # noqa: F811
) -> None:
    clock = WorkerClock()
    [there] = other_pipeline(runtime).accept([purchase("R1")], "api", now=clock.now)
    runtime.pipeline.accept([purchase("R2")], "api", now=clock.now)
    fake_graph.fail_next(Fault.throttle(17))
    drain(runtime, OTHER, clock)
    [state] = runtime.store.destination_states()
    assert (state.shop, state.destination, state.code) == (OTHER, "meta", 17)
    assert statuses(runtime, OTHER, there.event_id) == ["pending"]
    # The default shop's worker sees no pause and delivers at once.
    assert drain(runtime, DEFAULT_SHOP, clock) == 1
    # Two requests: shop B's, throttled, then the default shop's, accepted.
    assert len(fake_graph.requests) == 2 and fake_graph.event_ids() == ["R2"]
    assert [s.shop for s in runtime.store.destination_states()] == [OTHER]


def test_a_pipeline_or_worker_with_a_bad_shop_name_is_refused(runtime: Runtime) -> None:
    with pytest.raises(ShopNameError, match="shop"):
        Pipeline(runtime.settings, runtime.store, [], shop="Shop B")
    with pytest.raises(ShopNameError, match="shop"):
        runtime.worker(shop="../b", clock=time.time)
