"""One poisoned event never halts Meta for the others (docs/architecture.md, "Rules the layout
keeps": a refused batch is split until the culprit is alone).

Against the strict fake Graph API over HTTP, in its poison mode ("answer X whenever the request
contains event id E"): for each answer below, one bad event among 1,000 good ones ends with 999
delivered, the bad one dead-lettered with the reason, and Meta not paused — also when the worker
is stopped in the middle and a new one takes over the same store. Vendor facts: 190, 104 and
100/33 are credentials/configuration codes
(https://developers.facebook.com/docs/graph-api/guides/error-handling); "If any event you send
in a batch is invalid, we reject the entire batch"
(https://developers.facebook.com/documentation/ads-commerce/conversions-api/using-the-api);
``events_received`` is the number of events accepted.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.fakes.fixtures import (  # noqa: F401  (fixtures)
    RuntimeFactory,
    WorkerClock,
    clock,
    fake_graph,
    graph_runtime,
)
from tests.fakes.graph_api import FakeGraphAPI, Fault
from trackside.cli import app
from trackside.config import Settings
from trackside.destinations.meta import rules as meta_rules
from trackside.events import NormalizedEvent
from trackside.runtime import Runtime
from trackside.store import NewEvent, OutboxPlan, OutboxRow

GRANTED = {"ad_storage": "granted", "ad_user_data": "granted", "analytics_storage": "granted",
           "ad_personalization": "granted"}
POISON = "R0500"
GOOD = {f"R{i:04d}" for i in range(1000)} - {POISON}
#: The worker's client timeout in these tests; the fake holds a "timeout" request longer.
TIMEOUT_S = 0.3
#: Long enough that the test clock (advanced freely) never lets a claim lapse mid-send.
TEST_LEASE_S = 3600.0

#: (fault the fake answers when the request contains POISON, what the dead letter says)
CASES: dict[str, tuple[Fault, dict[str, Any]]] = {
    "190": (Fault.invalid_token(), {"code": 190, "message": "alone"}),
    "104": (Fault.meta_error(meta_rules.missing_token()), {"code": 104, "message": "alone"}),
    "100-33": (Fault.unknown_object(), {"code": 100, "subcode": 33, "message": "alone"}),
    "413-html": (Fault.html(413), {"message": "answered 413 to this event alone"}),
    "200-html": (Fault.html(200), {"message": "HTML body"}),
    "empty-body": (Fault.empty(200), {"message": "empty body"}),
    "timeout": (Fault.timeout(1.5), {"message": "timed out on this event alone"}),
    "short-count": (Fault.short_count(), {"message": "Meta counted 0 of 1 events"}),
}


def purchase(reference: str) -> dict[str, Any]:
    return {
        "event_name": "Purchase",
        "event_time": int(time.time()),
        "event_source_url": "https://shop.example/order-confirmation",
        "user": {"email": f"{reference.lower()}@example.com", "ip": "203.0.113.9",
                 "user_agent": "Mozilla/5.0"},
        "order": {"reference": reference, "value": 19.9, "currency": "EUR",
                  "items": [{"id": "SKU-1", "quantity": 1, "price": 19.9}]},
        "consent": GRANTED,
    }


@pytest.fixture
def settings(fake_graph: FakeGraphAPI, tmp_path: Path) -> Settings:  # noqa: F811
    return fake_graph.settings(database_url=f"sqlite:///{tmp_path}/poison.db", join_window_s=0,
                               worker_lease_s=TEST_LEASE_S, meta_timeout_s=TIMEOUT_S)


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    runtime = Runtime.from_settings(settings)
    yield runtime
    runtime.close()


def drain(runtime: Runtime, clock: WorkerClock) -> int:  # noqa: F811
    async def run() -> int:
        async with runtime.worker(clock=clock) as worker:
            return await worker.drain()

    return asyncio.run(run())


def counts(runtime: Runtime) -> dict[str, int]:
    return {c.destination: c.counts for c in runtime.store.counts()}.get("meta", {})


def settle(runtime: Runtime, clock: WorkerClock, deadline_s: float = 90.0) -> None:  # noqa: F811
    """Drain, then move the worker's clock to the next due row (backoff, or a dead worker's
    lease), until nothing is pending."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        handled = drain(runtime, clock)
        if not counts(runtime).get("pending"):
            return
        due = runtime.store.next_due("meta") or clock.now
        clock.now = max(clock.now, due) + (1 if handled else TEST_LEASE_S + 1)
    raise AssertionError(f"still pending after {deadline_s} s: {counts(runtime)}")


def outbox(runtime: Runtime, event_id: str) -> OutboxRow:
    [view] = runtime.store.event_view(event_id)
    [row] = view.outbox
    return row


def assert_isolated(runtime: Runtime, fake: FakeGraphAPI, expected: dict[str, Any]) -> None:
    assert counts(runtime) == {"delivered": 999, "dead": 1}
    assert {e["event_id"] for e in fake.unique_events} == GOOD
    dead = outbox(runtime, POISON)
    assert dead.status == "dead"
    assert expected["message"] in dead.message, dead.message
    for key in ("code", "subcode"):
        if key in expected:
            assert getattr(dead, key) == expected[key]
    assert runtime.store.destination_states() == []  # never paused
    # Every split and probe step is on the poisoned event's timeline, with the vendor's code.
    attempts = runtime.store.event_view(POISON)[0].attempts
    sizes = {a.batch_size for a in attempts}
    assert {1000, 1} <= sizes and len(sizes) >= 5, sizes
    assert fake.token not in str(attempts) and fake.token not in dead.message


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_one_poisoned_event_among_a_thousand_is_dead_lettered_alone(
    runtime: Runtime, fake_graph: FakeGraphAPI, clock: WorkerClock, case: str  # noqa: F811
) -> None:
    fault, expected = CASES[case]
    fake_graph.fail_when_contains(POISON, fault)
    runtime.pipeline.accept([purchase(ref) for ref in sorted(GOOD | {POISON})], "api",
                            now=clock.now)
    settle(runtime, clock)
    assert_isolated(runtime, fake_graph, expected)
    # Bisection, not one request per event: log2(1000) levels, two requests per level at
    # most, plus the first try (and its repeat for answers that may be a passing fault).
    assert len(fake_graph.requests) <= 2 + 2 * 10
    assert len(fake_graph.probes) <= 2
    assert all(p.token_location == "bearer" for p in fake_graph.probes)
    if fault.kind in ("html", "empty", "timeout"):
        # Once could be a passing fault: the first answer was retried, not split.
        first = runtime.store.event_view(POISON)[0].attempts[0]
        assert (first.verdict, first.batch_size) == ("retry", 1000)


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_poisoned_event_is_isolated_across_a_restart(
    settings: Settings, runtime: Runtime, fake_graph: FakeGraphAPI,  # noqa: F811
    clock: WorkerClock, case: str,  # noqa: F811
) -> None:
    fault, expected = CASES[case]
    fake_graph.fail_when_contains(POISON, fault)
    fake_graph.latency_s = 0.05  # the isolation takes ~20 requests: stop it within them
    runtime.pipeline.accept([purchase(ref) for ref in sorted(GOOD | {POISON})], "api",
                            now=clock.now)

    async def first_worker_stopped_mid_way() -> None:
        async with runtime.worker(clock=clock) as worker:
            task = asyncio.create_task(worker.run(asyncio.Event()))
            deadline = time.monotonic() + 30
            # Stop it once the isolation is under way (a few requests in), whatever it was doing.
            while time.monotonic() < deadline and len(fake_graph.requests) < 4:
                await asyncio.sleep(0.01)
                clock.now += 0.5  # lets a first retry's backoff come due
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    asyncio.run(first_worker_stopped_mid_way())
    assert len(fake_graph.requests) >= 4
    assert outbox(runtime, POISON).status == "pending"  # stopped before it was isolated
    runtime.close()
    restarted = Runtime.from_settings(settings)
    try:
        settle(restarted, clock)
        assert_isolated(restarted, fake_graph, expected)
        # The new worker did not pause Meta on the event the first one was isolating.
        assert restarted.store.destination_states() == []
    finally:
        restarted.close()


@pytest.mark.parametrize(
    "fault",
    [Fault.html(200), Fault.empty(200), Fault.html(413), Fault.timeout(1.5)],
    ids=["200-html", "empty-body", "413-html", "timeout"],
)
def test_a_real_outage_never_dead_letters_the_backlog(
    runtime: Runtime, fake_graph: FakeGraphAPI, clock: WorkerClock, fault: Fault  # noqa: F811
) -> None:
    # Every request fails, the probe too: that is the vendor, not an event.
    fake_graph.fail_until_cleared(fault)
    runtime.pipeline.accept([purchase(f"R{i:04d}") for i in range(50)], "api", now=clock.now)
    for _ in range(4):
        drain(runtime, clock)
        clock.now = max(clock.now, runtime.store.next_due("meta") or clock.now) + 400
    assert counts(runtime) == {"pending": 50}
    assert runtime.store.destination_states() == []  # not an operator matter either
    assert fake_graph.probes, "the worker never asked whether Meta was up"
    fake_graph.clear_faults()
    settle(runtime, clock)
    assert counts(runtime) == {"delivered": 50}


def test_wrong_credentials_still_pause_and_the_cli_says_so(
    settings: Settings, runtime: Runtime, fake_graph: FakeGraphAPI,  # noqa: F811
    clock: WorkerClock, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
) -> None:
    fake_graph.fail_until_cleared(Fault.invalid_token())  # every request, the probe included
    runtime.pipeline.accept([purchase(f"R{i:04d}") for i in range(1000)], "api", now=clock.now)
    drain(runtime, clock)
    [state] = runtime.store.destination_states()
    assert (state.destination, state.paused_until, state.code) == ("meta", None, 190)
    assert counts(runtime) == {"pending": 1000}  # nothing dead-lettered for a bad token
    # The batch, one event alone, one probe: not a bisection of the whole backlog.
    assert len(fake_graph.requests) == 2 and len(fake_graph.probes) == 1

    for key, value in {
        "TRACKSIDE_DATABASE_URL": settings.database_url,
        "TRACKSIDE_META_PIXEL_ID": fake_graph.pixel_id,
        "TRACKSIDE_META_ACCESS_TOKEN": fake_graph.token,
        "TRACKSIDE_META_GRAPH_URL": fake_graph.url,
        "TRACKSIDE_META_API_VERSION": settings.meta_api_version,
    }.items():
        monkeypatch.setenv(key, value)
    runner = CliRunner()
    status = runner.invoke(app, ["status"])
    assert status.exit_code == 0, status.output
    assert "meta is PAUSED until you act" in status.output
    assert "Invalid OAuth access token" in status.output
    doctor = runner.invoke(app, ["doctor"])
    assert doctor.exit_code == 1
    assert "meta: paused until you act" in doctor.output
    assert fake_graph.token not in status.output + doctor.output


def test_an_event_over_the_byte_budget_is_dead_lettered_never_sent(
    fake_graph: FakeGraphAPI, graph_runtime: RuntimeFactory, clock: WorkerClock  # noqa: F811
) -> None:
    runtime = graph_runtime("big")
    now = clock.now
    # Stored directly: rows accepted before ingest limits existed can be this large.
    big = NormalizedEvent(
        event_name="Lead", event_id="BIG", event_time=int(now) - 60, action_source="website",
        event_source_url="https://shop.example/contact", user_data={"em": ["a" * 64]},
        custom_data={"note": "x" * 3_000_000}, consent=GRANTED,
    )
    runtime.store.insert_events([NewEvent(big, "api", [OutboxPlan("meta")])], now)
    runtime.pipeline.accept([purchase(f"R{i}") for i in range(5)], "api", now=now)
    drain(runtime, clock)
    row = outbox(runtime, "BIG")
    assert row.status == "dead"
    assert "TRACKSIDE_META_MAX_REQUEST_BYTES" in row.message
    assert "BIG" not in fake_graph.event_ids()
    assert all(r.body_bytes < 100_000 for r in fake_graph.requests)
    assert counts(runtime) == {"delivered": 5, "dead": 1}
    assert runtime.store.destination_states() == []


def test_requests_are_cut_by_bytes_as_well_as_by_count(
    fake_graph: FakeGraphAPI, graph_runtime: RuntimeFactory, clock: WorkerClock  # noqa: F811
) -> None:
    budget = 64 * 1024
    runtime = graph_runtime("cut", meta_max_request_bytes=budget)
    events = []
    for i in range(100):
        event = purchase(f"R{i:03d}")
        event["custom_data"] = {"note": "y" * 4000}
        events.append(event)
    runtime.pipeline.accept(events, "api", now=clock.now)
    drain(runtime, clock)
    assert counts(runtime) == {"delivered": 100}
    assert len(fake_graph.requests) >= 7  # 100 events of ~4.5 kB do not fit 64 KiB
    # The event JSON stays within the budget; the rest is the form's token and fields.
    assert all(r.body_bytes <= budget + 2048 for r in fake_graph.requests)
    assert sorted(fake_graph.event_ids()) == sorted(f"R{i:03d}" for i in range(100))
