"""The worker against the strict fake Graph API: retry, throttle, bisect, pause, expiry, replay.

Meta's error codes decide retry or not (https://developers.facebook.com/docs/graph-api/guides/error-handling,
https://developers.facebook.com/docs/marketing-api/overview/rate-limiting); one bad event rejects
the whole batch, and events older than 7 days are refused (Meta's using-the-api and server-event
pages).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.fixtures import WorkerClock, fake_graph  # noqa: F401  (fixture)
from tests.fakes.graph_api import FakeGraphAPI, Fault
from tests.waiting import wait_until_async
from trackside.delivery import Worker
from trackside.runtime import Runtime
from trackside.store import OutboxRow

DAY = 86400
GRANTED = {"ad_storage": "granted", "ad_user_data": "granted", "analytics_storage": "granted",
           "ad_personalization": "granted"}


@pytest.fixture
def runtime(fake_graph: FakeGraphAPI, tmp_path: Path) -> Iterator[Runtime]:  # noqa: F811
    settings = fake_graph.settings(database_url=f"sqlite:///{tmp_path}/d.db", join_window_s=0)
    runtime = Runtime.from_settings(settings)
    yield runtime
    runtime.close()


def purchase(reference: str, event_time: float | None = None, **user: Any) -> dict[str, Any]:
    return {
        "event_name": "Purchase",
        "event_time": int(event_time or time.time()),
        "event_source_url": "https://shop.example/order-confirmation",
        "user": {"email": f"{reference.lower()}@example.com", "ip": "203.0.113.9",
                 "user_agent": "Mozilla/5.0", **user},
        "order": {"reference": reference, "value": 19.9, "currency": "EUR",
                  "items": [{"id": "SKU-1", "quantity": 1, "price": 19.9}]},
        "consent": GRANTED,
    }


def drain(runtime: Runtime, clock: WorkerClock | None = None, timeout_s: float = 10.0) -> int:
    async def run() -> int:
        async with runtime.worker(clock=clock or time.time, timeout_s=timeout_s) as worker:
            return await worker.drain()

    return asyncio.run(run())


def outbox(runtime: Runtime, event_id: str) -> OutboxRow:
    [view] = runtime.store.event_view(event_id)
    [row] = view.outbox
    return row


def test_delivers_once_with_the_same_event_ids(runtime: Runtime, fake_graph: FakeGraphAPI) -> None:  # noqa: F811
    runtime.pipeline.accept([purchase(f"R{i}") for i in range(3)], "api")
    assert drain(runtime) == 3
    assert sorted(fake_graph.event_ids()) == ["R0", "R1", "R2"]
    assert len(fake_graph.accepted_requests) == 1  # one batch
    sent = fake_graph.events[0].payload
    assert len(sent["user_data"]["em"]) == 64 or len(sent["user_data"]["em"][0]) == 64
    row = outbox(runtime, "R0")
    assert row.status == "delivered" and row.sent["event_id"] == "R0"
    assert drain(runtime) == 0


def test_test_event_code_and_partner_agent_are_sent(
    fake_graph: FakeGraphAPI, tmp_path: Path  # noqa: F811
) -> None:
    settings = fake_graph.settings(database_url=f"sqlite:///{tmp_path}/t.db", join_window_s=0,
                                   meta_test_event_code="TEST12345")
    runtime = Runtime.from_settings(settings)
    runtime.pipeline.accept([purchase("R1")], "api")
    drain(runtime)
    runtime.close()
    [request] = fake_graph.accepted_requests
    assert request.test_event_code == "TEST12345"
    assert request.params["partner_agent"].startswith("trackside-")
    assert request.token_location == "body"  # never in the URL


@pytest.mark.parametrize(
    "fault",
    [Fault.transient(1), Fault.transient(2), Fault.server_error(503), Fault.html(502),
     Fault.empty(200)],
    ids=["code-1", "code-2", "http-503", "html-body", "empty-body"],
)
def test_transient_failures_are_retried_with_backoff(
    runtime: Runtime, fake_graph: FakeGraphAPI, fault: Fault  # noqa: F811
) -> None:
    clock = WorkerClock()
    fake_graph.fail_next(fault)
    runtime.pipeline.accept([purchase("R1")], "api", now=clock.now)
    drain(runtime, clock)
    row = outbox(runtime, "R1")
    assert row.status == "pending" and row.attempts == 1
    # Full jitter on 2 s: the first retry is due within seconds.
    assert clock.now < row.next_attempt_at <= clock.now + 2.01
    [attempt] = runtime.store.event_view("R1")[0].attempts
    assert attempt.verdict == "retry"
    clock.advance(3)
    drain(runtime, clock)
    assert outbox(runtime, "R1").status == "delivered"
    assert fake_graph.event_ids() == ["R1"]


def test_timeout_is_retried(runtime: Runtime, fake_graph: FakeGraphAPI) -> None:  # noqa: F811
    clock = WorkerClock()
    fake_graph.fail_next(Fault.timeout(2.0))
    runtime.pipeline.accept([purchase("R1")], "api", now=clock.now)
    drain(runtime, clock, timeout_s=0.5)
    assert outbox(runtime, "R1").status == "pending"
    clock.advance(3)
    drain(runtime, clock, timeout_s=0.5)
    assert outbox(runtime, "R1").status == "delivered"


@pytest.mark.parametrize("code", [4, 17, 32, 613, 80004])
def test_throttling_pauses_the_destination(
    runtime: Runtime, fake_graph: FakeGraphAPI, code: int  # noqa: F811
) -> None:
    clock = WorkerClock()
    fake_graph.fail_next(Fault.throttle(code))
    runtime.pipeline.accept([purchase("R1"), purchase("R2")], "api", now=clock.now)
    drain(runtime, clock)
    [state] = runtime.store.destination_states()
    assert state.destination == "meta" and state.code == code
    # A first throttle without a hint pauses 5 s; throttles in a row escalate (test_throttle.py).
    assert state.paused_until == pytest.approx(clock.now + 5)
    assert outbox(runtime, "R1").status == "pending"
    clock.advance(3)
    assert drain(runtime, clock) == 0  # still paused: nothing is sent
    assert len(fake_graph.requests) == 1
    clock.now = state.paused_until + 1
    drain(runtime, clock)
    assert sorted(fake_graph.event_ids()) == ["R1", "R2"]
    assert runtime.store.destination_states() == []


def test_throttle_honours_estimated_time_to_regain_access(
    runtime: Runtime, fake_graph: FakeGraphAPI  # noqa: F811
) -> None:
    clock = WorkerClock()
    fake_graph.fail_next(Fault.throttle(80004, regain_minutes=15))
    runtime.pipeline.accept([purchase("R1")], "api", now=clock.now)
    drain(runtime, clock)
    [state] = runtime.store.destination_states()
    assert state.paused_until == pytest.approx(clock.now + 15 * 60, abs=5)


def test_one_invalid_event_in_a_thousand_is_isolated_by_bisection(
    runtime: Runtime, fake_graph: FakeGraphAPI  # noqa: F811
) -> None:
    events = [purchase(f"R{i:04d}") for i in range(1000)]
    runtime.pipeline.accept(events, "api")
    fake_graph.reject_event_id("R0500", subcode=2804048)
    drain(runtime)
    assert len(set(fake_graph.event_ids())) == 999
    assert "R0500" not in fake_graph.event_ids()
    dead = outbox(runtime, "R0500")
    assert (dead.status, dead.code, dead.subcode) == ("dead", 100, 2804048)
    assert dead.message
    counts = {c.destination: c.counts for c in runtime.store.counts()}
    assert counts["meta"] == {"delivered": 999, "dead": 1}
    # log2(1000) levels, two requests per level at most, plus the first.
    assert len(fake_graph.requests) <= 1 + 2 * 10


@pytest.mark.parametrize(
    "fault", [Fault.invalid_token(), Fault.unknown_object()], ids=["190", "100-33"]
)
def test_bad_credentials_pause_instead_of_dead_lettering(
    runtime: Runtime, fake_graph: FakeGraphAPI, fault: Fault, caplog: pytest.LogCaptureFixture  # noqa: F811
) -> None:
    fake_graph.fail_until_cleared(fault)
    runtime.pipeline.accept([purchase(f"R{i}") for i in range(5)], "api")
    with caplog.at_level("ERROR", logger="trackside.delivery"):
        drain(runtime)
    [state] = runtime.store.destination_states()
    assert state.paused_until is None
    assert fault.error is not None and state.code == fault.error.code
    assert any("paused until an operator acts" in r.getMessage() for r in caplog.records)
    counts = {c.destination: c.counts for c in runtime.store.counts()}
    assert counts["meta"] == {"pending": 5}
    # The batch, then one event alone, and one probe of the pixel: refused the same way, so
    # the credentials are wrong, not an event (190 and 100/33 are configuration, not events).
    assert len(fake_graph.requests) == 2 and len(fake_graph.probes) == 1
    assert fake_graph.probes[0].token_location == "bearer"
    assert fake_graph.token not in caplog.text
    # The operator fixes the token and restarts: the worker resumes and delivers the backlog.
    fake_graph.clear_faults()

    async def restart() -> None:
        async with runtime.worker() as worker:
            stop = asyncio.Event()
            task = asyncio.create_task(worker.run(stop))
            try:
                await wait_until_async(lambda: len(fake_graph.events) == 5, timeout_s=10,
                                       what="the backlog of 5 at Meta")
            finally:
                stop.set()
                await task

    asyncio.run(restart())
    assert sorted(fake_graph.event_ids()) == [f"R{i}" for i in range(5)]


def test_events_older_than_seven_days_expire_without_being_sent(
    runtime: Runtime, fake_graph: FakeGraphAPI  # noqa: F811
) -> None:
    old = time.time() - 7 * DAY - 60
    # Accepted when it was fresh (the worker was down since); today it is refused at accept.
    runtime.pipeline.accept([purchase("OLD", event_time=old)], "api", now=old + 60)
    runtime.pipeline.accept([purchase("NEW")], "api")
    drain(runtime)
    assert fake_graph.event_ids() == ["NEW"]
    assert outbox(runtime, "OLD").status == "expired"


def test_retry_gives_up_only_when_the_window_closes(
    runtime: Runtime, fake_graph: FakeGraphAPI  # noqa: F811
) -> None:
    clock = WorkerClock()
    nearly_old = clock.now - 7 * DAY + 600
    fake_graph.fail_until_cleared(Fault.transient(2))
    runtime.pipeline.accept([purchase("EDGE", event_time=nearly_old)], "api", now=clock.now)
    # Follow the backoff (it doubles) until the event leaves Meta's window.
    for _ in range(30):
        drain(runtime, clock)
        row = outbox(runtime, "EDGE")
        if row.status != "pending":
            break
        clock.now = row.next_attempt_at
    row = outbox(runtime, "EDGE")
    assert row.status == "expired"
    assert row.attempts >= 2  # it was retried, not dropped at the first failure
    # Either the retry would land past the window, or the destination's own check (60 s
    # margin before 7 days) caught it first; both say why.
    assert "window" in row.message or "older than 7 days" in row.message
    assert clock.now <= nearly_old + 7 * DAY


def test_replay_resends_dead_letters(runtime: Runtime, fake_graph: FakeGraphAPI) -> None:  # noqa: F811
    fake_graph.reject_event_id("R1")
    runtime.pipeline.accept([purchase("R1")], "api")
    drain(runtime)
    assert outbox(runtime, "R1").status == "dead"
    fake_graph.clear_faults()
    now = time.time()
    result = runtime.store.replay(destination="meta", since=None, until=None, event_id="R1",
                                  min_event_time={"meta": now - 7 * DAY}, now=now)
    assert result.replayed == 1
    drain(runtime)
    assert outbox(runtime, "R1").status == "delivered"
    assert fake_graph.event_ids() == ["R1"]


def test_a_dead_workers_batch_is_resent_with_the_same_ids(
    runtime: Runtime, fake_graph: FakeGraphAPI  # noqa: F811
) -> None:
    clock = WorkerClock()
    runtime.pipeline.accept([purchase("R1"), purchase("R2")], "api", now=clock.now)
    # Worker A sends, then dies before recording the outcome: its lease simply runs out.
    rows = runtime.store.claim("meta", 10, "worker-a", 120, clock.now)
    assert len(rows) == 2
    clock.advance(121)
    drain(runtime, clock)
    assert sorted(fake_graph.event_ids()) == ["R1", "R2"]
    # Sending twice is safe: same event ids, so Meta counts each once (its 48-hour dedup).
    runtime.pipeline.accept([purchase("R1")], "browser", now=clock.now)
    assert fake_graph.deduplicated == 0


def test_worker_writes_nothing_it_did_not_claim(runtime: Runtime) -> None:
    async def drain_once() -> int:
        async with Worker(runtime.store, runtime.destinations) as worker:
            return await worker.drain()

    assert asyncio.run(drain_once()) == 0


async def test_a_worker_closes_the_client_it_made_and_leaves_a_callers_open(
    runtime: Runtime, fake_graph: FakeGraphAPI  # noqa: F811
) -> None:
    runtime.pipeline.accept([purchase("CM1")], "api")
    async with runtime.worker() as worker:
        assert await worker.drain() == 1
        own = worker.client
        assert not own.is_closed
    assert own.is_closed
    async with httpx.AsyncClient() as callers:
        async with runtime.worker(client=callers) as worker:
            assert worker.client is callers
        assert not callers.is_closed
        await runtime.worker(client=callers).aclose()  # aclose() is the same promise
        assert not callers.is_closed
    assert fake_graph.event_ids() == ["CM1"]


def test_consent_is_decided_again_when_the_join_window_ends(
    fake_graph: FakeGraphAPI, tmp_path: Path  # noqa: F811
) -> None:
    settings = fake_graph.settings(database_url=f"sqlite:///{tmp_path}/c.db", join_window_s=30)
    runtime = Runtime.from_settings(settings)
    clock = WorkerClock()
    order = purchase("R1")
    del order["consent"]
    order["user"] = {"email": "a@example.com", "country": "fr"}
    runtime.pipeline.accept([order, {**order, "order": {**order["order"], "reference": "R2"}}],
                            "prestashop", now=clock.now)
    # The shopper's browser grants consent for R1 during the window; R2's browser never shows up.
    beacon = purchase("R1")
    runtime.pipeline.accept([beacon], "browser", now=clock.now + 1)
    clock.advance(31)
    drain(runtime, clock)
    assert fake_graph.event_ids() == ["R1"]
    r2 = outbox(runtime, "R2")
    assert r2.status == "suppressed" and "TRACKSIDE_SERVER_EVENT_CONSENT=deny" in r2.message
    runtime.close()


def test_delivery_log_lines_carry_their_fields(
    runtime: Runtime, fake_graph: FakeGraphAPI, caplog: pytest.LogCaptureFixture  # noqa: F811
) -> None:
    clock = WorkerClock()
    fake_graph.fail_next(Fault.transient(2))
    runtime.pipeline.accept([purchase("R1"), purchase("R2")], "api", now=clock.now)
    with caplog.at_level("INFO", logger="trackside.delivery"):
        drain(runtime, clock)
        clock.advance(3)
        drain(runtime, clock)
    fields = [(getattr(r, "action", None), getattr(r, "destination", None),
               getattr(r, "count", None)) for r in caplog.records]
    assert ("retry", "meta", 2) in fields
    assert ("delivered", "meta", 2) in fields
    assert fake_graph.token not in caplog.text
