"""Meta's fbtrace_id reaches each attempt record (Meta support asks for it)."""

from __future__ import annotations

import asyncio

import httpx

from tests.fakes.fixtures import (  # noqa: F401  (fixtures)
    RuntimeFactory,
    WorkerClock,
    clock,
    fake_graph,
    graph_runtime,
)
from tests.fakes.graph_api import FakeGraphAPI, Fault
from trackside.delivery import Worker
from trackside.destinations import Verdict
from trackside.destinations.meta import classify_response
from trackside.store.sqlite import SQLiteStore


def test_the_trace_id_comes_from_the_error_body_then_the_header() -> None:
    refused = httpx.Response(400, json={"error": {"code": 100, "error_subcode": 2804016,
                                                  "message": "m", "fbtrace_id": "AbCdEf123"}},
                             headers={"x-fb-trace-id": "FromHeader"})
    assert classify_response(refused, None, 1).trace_id == "AbCdEf123"
    html = httpx.Response(502, text="<html>bad gateway</html>",
                          headers={"content-type": "text/html", "x-fb-trace-id": "Hdr456"})
    result = classify_response(html, None, 1)
    assert result.verdict is Verdict.RETRY and result.trace_id == "Hdr456"
    assert classify_response(httpx.Response(200, json={"events_received": 1}), None, 1) \
        .trace_id is None


async def test_the_worker_puts_it_on_the_attempt_record(tmp_path: object) -> None:
    store = SQLiteStore(f"{tmp_path}/t.db")
    try:
        async with Worker(store, []) as worker:
            refused = httpx.Response(400, json={"error": {"code": 100, "error_subcode": 33,
                                                          "fbtrace_id": "Trace789"}})
            record = worker._attempt_record(classify_response(refused, None, 1), 1)
        assert record.fbtrace_id == "Trace789"
    finally:
        store.close()


def test_the_trace_id_is_stored_on_each_attempt_row(
    fake_graph: FakeGraphAPI, graph_runtime: RuntimeFactory, clock: WorkerClock  # noqa: F811
) -> None:
    runtime = graph_runtime("trace")
    runtime.pipeline.accept([{
        "event_name": "Purchase", "event_id": "T1", "event_time": int(clock.now),
        "event_source_url": "https://shop.example/thanks",
        "user": {"email": "t1@example.com", "ip": "203.0.113.9", "user_agent": "Mozilla/5.0"},
        "order": {"reference": "T1", "value": 5, "currency": "EUR"},
        "consent": {"ad_storage": "granted", "ad_user_data": "granted"},
    }], "api", now=clock.now)
    fake_graph.fail_next(Fault.throttle(613))  # a JSON error from Meta: it carries fbtrace_id

    async def drain() -> None:
        async with runtime.worker(clock=clock) as worker:
            await worker.drain()

    asyncio.run(drain())
    [view] = runtime.store.event_view("T1")
    [attempt] = view.attempts
    assert attempt.verdict == "throttled" and attempt.fbtrace_id
