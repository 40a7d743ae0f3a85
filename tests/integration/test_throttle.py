"""Throttles and storms, on the worker's clock (no real minutes slept).

Throttling (Meta's codes 4 / 17 / 32 / 613 / 80000-80014, retried after a long backoff,
honour ``estimated_time_to_regain_access``; headers per
https://developers.facebook.com/docs/graph-api/overview/rate-limiting/): the pause starts at 5 s,
doubles per throttle in a row up to 15 minutes, and a success starts again at 5 s; Meta's own
estimate overrides it. Storms of 5xx open a circuit breaker: a few probes, not a request per
batch, and the backlog the storm pushed into backoff is due at once on recovery.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.fixtures import (  # noqa: F401  (fixtures)
    RuntimeFactory,
    WorkerClock,
    clock,
    fake_graph,
    graph_runtime,
)
from tests.fakes.graph_api import FakeGraphAPI, Fault
from trackside import delivery
from trackside.delivery import throttle
from trackside.destinations import Verdict
from trackside.destinations.meta import classify_response
from trackside.events import NormalizedEvent
from trackside.runtime import Runtime
from trackside.store import NewEvent, OutboxPlan

GRANTED = {"ad_storage": "granted", "ad_user_data": "granted", "analytics_storage": "granted",
           "ad_personalization": "granted"}


def purchase(reference: str, **custom: Any) -> dict[str, Any]:
    return {
        "event_name": "Purchase",
        "event_time": int(time.time()),
        "event_source_url": "https://shop.example/order-confirmation",
        "user": {"email": f"{reference.lower()}@example.com", "ip": "203.0.113.9",
                 "user_agent": "Mozilla/5.0"},
        "order": {"reference": reference, "value": 19.9, "currency": "EUR"},
        "custom_data": custom,
        "consent": GRANTED,
    }


def meta_counts(runtime: Runtime) -> dict[str, int]:
    return {c.destination: c.counts for c in runtime.store.counts()}.get("meta", {})


def test_throttle_pauses_escalate_from_5_s_to_15_min_and_reset_on_success(
    fake_graph: FakeGraphAPI, graph_runtime: RuntimeFactory, clock: WorkerClock  # noqa: F811
) -> None:
    runtime = graph_runtime("t")
    runtime.pipeline.accept([purchase(f"R{i}") for i in range(3)], "api", now=clock.now)

    async def scenario() -> tuple[list[float], float]:
        async with runtime.worker(clock=clock) as worker:
            pauses = []
            fake_graph.fail_next(Fault.throttle(613), times=9)
            for _ in range(9):
                await worker.drain()
                [state] = runtime.store.destination_states()
                assert state.paused_until is not None and state.code == 613
                pauses.append(round(state.paused_until - clock.now, 3))
                clock.now = state.paused_until + 0.001
            await worker.drain()  # the tenth try goes through: a success resets the escalation
            assert meta_counts(runtime) == {"delivered": 3}
            runtime.pipeline.accept([purchase("AFTER")], "api", now=clock.now)
            fake_graph.fail_next(Fault.throttle(4))
            await worker.drain()
            [state] = runtime.store.destination_states()
            assert state.paused_until is not None
            after_success = round(state.paused_until - clock.now, 3)
        return pauses, after_success

    pauses, after_success = asyncio.run(scenario())
    assert pauses == [5, 10, 20, 40, 80, 160, 320, 640, 900]
    assert after_success == 5
    assert len(fake_graph.requests) == 11  # one request per throttle, none while paused


def test_metas_estimate_overrides_the_escalation(
    fake_graph: FakeGraphAPI, graph_runtime: RuntimeFactory, clock: WorkerClock  # noqa: F811
) -> None:
    runtime = graph_runtime("e")
    runtime.pipeline.accept([purchase("R1")], "api", now=clock.now)
    # X-Business-Use-Case-Usage: estimated_time_to_regain_access = 2 minutes, on a first throttle.
    fake_graph.fail_next(Fault.throttle(80004, regain_minutes=2))

    async def run() -> None:
        async with runtime.worker(clock=clock) as worker:
            await worker.drain()

    asyncio.run(run())
    [state] = runtime.store.destination_states()
    assert state.paused_until == pytest.approx(clock.now + 120)


@pytest.mark.parametrize(
    ("header", "value", "seconds"),
    [
        ("x-app-usage", {"call_count": 100, "total_time": 40, "total_cputime": 30,
                         "estimated_time_to_regain_access": 4}, 240),
        ("x-ad-account-usage", {"acc_id_util_pct": 100, "reset_time_duration": 75}, 75),
        ("x-business-use-case-usage",
         {"1": [{"type": "ads_management", "estimated_time_to_regain_access": 3}]}, 180),
    ],
)
def test_usage_headers_give_the_throttle_pause(header: str, value: Any, seconds: float) -> None:
    response = httpx.Response(400, json={"error": {"code": 4, "is_transient": True}},
                              headers={header: json.dumps(value)})
    result = classify_response(response, None, 1)
    assert (result.verdict, result.retry_after_s) == (Verdict.THROTTLED, seconds)
    bare = classify_response(httpx.Response(400, json={"error": {"code": 4}}), None, 1)
    assert bare.retry_after_s is None  # the worker escalates from 5 s


def test_a_503_storm_opens_the_circuit_and_recovery_drains_the_backlog_at_once(
    fake_graph: FakeGraphAPI, graph_runtime: RuntimeFactory, clock: WorkerClock,  # noqa: F811
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Long backoffs, so "drained at once" cannot be the backoff running out by itself.
    monkeypatch.setattr(throttle, "BACKOFF_BASE_S", 600.0)
    # ~50 events per request: many batches per claim.
    runtime = graph_runtime("s", meta_max_request_bytes=64 * 1024)
    runtime.pipeline.accept([purchase(f"R{i:04d}", note="z" * 1000) for i in range(2000)],
                            "api", now=clock.now)
    # A row held for the join window (never tried): the recovery must not release it.
    held = NormalizedEvent(event_name="Purchase", event_id="HELD", event_time=int(clock.now),
                           action_source="website", event_source_url="https://shop.example/t",
                           user_data={"em": ["b" * 64]}, consent=GRANTED)
    held_until = clock.now + 3600
    runtime.store.insert_events(
        [NewEvent(held, "prestashop", [OutboxPlan("meta", next_attempt_at=held_until)])],
        clock.now)
    fake_graph.fail_until_cleared(Fault.server_error(503))

    async def scenario() -> None:
        async with runtime.worker(clock=clock) as worker:
            await worker.drain()
            breaker = worker.breakers["meta"]
            assert breaker.is_open
            # A few requests, then the circuit opened: not one per batch (40 batches were due).
            storm_requests = len(fake_graph.requests)
            assert delivery.BREAKER_THRESHOLD <= storm_requests <= delivery.BREAKER_THRESHOLD + 4
            assert fake_graph.probes == []
            # While open, one probe when it is due, each interval twice the last.
            for interval in (5, 10, 20):
                assert await worker.drain() == 0  # not due yet: nothing sent, nothing probed
                clock.now += interval + 0.01
                assert await worker.drain() == 0
            assert len(fake_graph.probes) == 3
            assert len(fake_graph.requests) == storm_requests
            with contextlib.closing(sqlite3.connect(str(tmp_path / "s.db"))) as db:
                retried, waiting_until = db.execute(
                    "SELECT COUNT(*), MAX(next_attempt_at) FROM outbox WHERE attempts > 0"
                ).fetchone()
            assert retried >= 50 and waiting_until > clock.now + 60
            assert meta_counts(runtime)["pending"] == 2001
            # Meta recovers: the next probe closes the circuit and the whole backlog goes now.
            fake_graph.clear_faults()
            clock.now += 40.01
            await worker.drain()
            assert not breaker.is_open
            assert clock.now < waiting_until  # sooner than the backoff the storm had set

    asyncio.run(scenario())
    assert meta_counts(runtime) == {"delivered": 2000, "pending": 1}
    assert len({e["event_id"] for e in fake_graph.unique_events}) == 2000
    [row] = runtime.store.event_view("HELD")[0].outbox
    assert (row.status, row.attempts) == ("pending", 0)
    assert row.next_attempt_at == pytest.approx(held_until)
