"""The signed webhook destination end to end: the worker against a receiver on loopback that
checks X-Trackside-Signature with its own code (tests/fakes/webhook_receiver.py)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.fixtures import WorkerClock
from tests.fakes.webhook_receiver import Answer, WebhookReceiver, webhook_receiver
from trackside.config import ConfigError, load_settings, unknown_variable_problems
from trackside.destinations import registry
from trackside.runtime import Runtime
from trackside.store import OutboxRow

#: A canary: it may appear in no log line, stored message or byte of the database.
SECRET = "canary-webhook-secret-7f3a9c2e1b"
GRANTED = {"ad_storage": "granted", "ad_user_data": "granted", "analytics_storage": "granted",
           "ad_personalization": "granted"}


def purchase(reference: str, **consent: str) -> dict[str, Any]:
    return {
        "event_name": "Purchase",
        "event_time": int(time.time()),
        "event_source_url": "https://shop.example/order-confirmation",
        "user": {"email": f"{reference.lower()}@example.com", "ip": "203.0.113.9",
                 "user_agent": "Mozilla/5.0 canary-agent", "fbp": "fb.1.1700000000000.42"},
        "order": {"reference": reference, "value": 19.9, "currency": "EUR",
                  "items": [{"id": "SKU-1", "quantity": 1, "price": 19.9}]},
        "consent": {**GRANTED, **consent},
    }


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with webhook_receiver(SECRET) as fake:
        yield fake


def environ(receiver: WebhookReceiver, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"TRACKSIDE_DATABASE_URL": f"sqlite:///{tmp_path}/hook.db",
            "TRACKSIDE_JOIN_WINDOW_S": "0",
            "TRACKSIDE_WEBHOOK_URL": receiver.endpoint,
            "TRACKSIDE_WEBHOOK_SECRET": SECRET, **extra}


@pytest.fixture
def runtime(receiver: WebhookReceiver, tmp_path: Path) -> Iterator[Runtime]:
    runtime = Runtime.from_settings(load_settings(environ(receiver, tmp_path)))
    yield runtime
    runtime.close()


def drain(runtime: Runtime, clock: WorkerClock, timeout_s: float = 5) -> int:
    async def run() -> int:
        async with runtime.worker(clock=clock, timeout_s=timeout_s) as worker:
            return await worker.drain()

    return asyncio.run(run())


def webhook_row(runtime: Runtime, event_id: str) -> OutboxRow:
    [view] = runtime.store.event_view(event_id)
    [row] = [r for r in view.outbox if r.destination == "webhook"]
    return row


def test_the_webhook_is_registered_and_configured_from_its_own_settings(
    runtime: Runtime,
) -> None:
    assert [d.name for d in runtime.destinations] == ["dryrun", "webhook"]
    spec = registry.spec("webhook")
    assert spec is not None and spec.kind == "warehouse"
    assert registry.consent_kind("webhook", runtime.settings) == "ads"
    assert SECRET in runtime.settings.secret_values()
    assert runtime.settings.effective()["TRACKSIDE_WEBHOOK_SECRET"] == "**********"


def test_delivers_a_signed_batch_of_hashed_events(
    runtime: Runtime, receiver: WebhookReceiver
) -> None:
    runtime.pipeline.accept([purchase(f"R{i}") for i in range(3)], "api")
    drain(runtime, WorkerClock())
    assert receiver.forged == 0
    [body] = receiver.received
    assert body["event_ids"] == ["R0", "R1", "R2"]
    assert [e["event_id"] for e in body["events"]] == ["R0", "R1", "R2"]
    event = body["events"][0]
    assert event["order"]["reference"] == "R0" and event["action_source"] == "website"
    assert len(event["user_data"]["em"][0]) == 64  # hashed
    sent = str(body)
    for clear in ("203.0.113.9", "canary-agent", "fb.1.1700000000000.42", "r0@example.com"):
        assert clear not in sent
    assert {webhook_row(runtime, f"R{i}").status for i in range(3)} == {"delivered"}


def test_a_503_is_retried_then_delivered(runtime: Runtime, receiver: WebhookReceiver) -> None:
    receiver.answer_next(Answer(503, "maintenance"))
    runtime.pipeline.accept([purchase("R1")], "api")
    clock = WorkerClock()
    drain(runtime, clock)
    row = webhook_row(runtime, "R1")
    assert row.status == "pending" and receiver.received == []
    [view] = runtime.store.event_view("R1")
    [attempt] = [a for a in view.attempts if a.destination == "webhook"]
    assert attempt.verdict == "retry" and attempt.http_status == 503
    clock.advance(3600)
    drain(runtime, clock)
    assert webhook_row(runtime, "R1").status == "delivered"
    assert receiver.event_ids() == ["R1"]


def test_no_answer_in_time_is_retried(runtime: Runtime, receiver: WebhookReceiver) -> None:
    receiver.answer_next(Answer(200, "late", delay_s=2.0))  # after the worker gave up
    runtime.pipeline.accept([purchase("R1")], "api")
    clock = WorkerClock()
    drain(runtime, clock, timeout_s=0.5)
    assert webhook_row(runtime, "R1").status == "pending"
    [view] = runtime.store.event_view("R1")
    [attempt] = [a for a in view.attempts if a.destination == "webhook"]
    assert attempt.verdict == "retry" and "Timeout" in attempt.message
    clock.advance(3600)
    drain(runtime, clock)
    assert webhook_row(runtime, "R1").status == "delivered"
    assert receiver.event_ids() == ["R1"]


def test_retry_after_on_a_429_pauses_the_webhook_that_long(
    runtime: Runtime, receiver: WebhookReceiver
) -> None:
    receiver.answer_next(Answer(429, "slow down", {"Retry-After": "120"}))
    runtime.pipeline.accept([purchase("R1")], "api")
    clock = WorkerClock()
    drain(runtime, clock)
    [state] = [s for s in runtime.store.destination_states() if s.destination == "webhook"]
    assert state.paused_until == pytest.approx(clock.now + 120)
    clock.advance(121)
    drain(runtime, clock)
    assert webhook_row(runtime, "R1").status == "delivered"


def test_a_400_dead_letters_the_event_alone_with_the_status_and_an_excerpt(
    runtime: Runtime, receiver: WebhookReceiver
) -> None:
    # The batch of two is refused, split; R1 alone is refused again, R2 alone goes through.
    receiver.answer_next(Answer(400, "order R1: unknown currency\n" + "x" * 500),
                         Answer(400, "order R1: unknown currency"))
    runtime.pipeline.accept([purchase("R1"), purchase("R2")], "api")
    drain(runtime, WorkerClock())
    dead = webhook_row(runtime, "R1")
    assert dead.status == "dead"
    assert "HTTP 400" in dead.message and "unknown currency" in dead.message
    assert webhook_row(runtime, "R2").status == "delivered"
    assert receiver.event_ids() == ["R2"]


def test_a_wrong_secret_is_refused_by_the_receiver(
    receiver: WebhookReceiver, tmp_path: Path
) -> None:
    settings = load_settings(environ(receiver, tmp_path,
                                     TRACKSIDE_WEBHOOK_SECRET="not-the-receivers-secret"))
    runtime = Runtime.from_settings(settings)
    try:
        runtime.pipeline.accept([purchase("R1")], "api")
        drain(runtime, WorkerClock())
        assert receiver.forged >= 1 and receiver.received == []
        row = webhook_row(runtime, "R1")
        assert row.status == "dead" and "HTTP 401" in row.message
    finally:
        runtime.close()


def test_the_receiver_refuses_a_forged_or_replayed_body(receiver: WebhookReceiver) -> None:
    from trackside.destinations.webhook import sign

    body = b'{"event_ids":["X"],"events":[]}'
    now = int(time.time())
    with httpx.Client() as client:
        good = client.post(receiver.endpoint, content=body, headers={
            "X-Trackside-Timestamp": str(now),
            "X-Trackside-Signature": sign(SECRET, now, body)})
        tampered = client.post(receiver.endpoint, content=body.replace(b"X", b"Y"), headers={
            "X-Trackside-Timestamp": str(now),
            "X-Trackside-Signature": sign(SECRET, now, body)})
        old = now - 3600
        replayed = client.post(receiver.endpoint, content=body, headers={
            "X-Trackside-Timestamp": str(old),
            "X-Trackside-Signature": sign(SECRET, old, body)})
    assert (good.status_code, tampered.status_code, replayed.status_code) == (200, 401, 401)


def test_the_secret_never_reaches_logs_or_the_database(
    runtime: Runtime, receiver: WebhookReceiver, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A careless receiver echoes what it was given, the secret included.
    receiver.answer_next(Answer(503, f"upstream said: key={SECRET}"),
                         Answer(400, f"refused, your key {SECRET} is wrong"))
    runtime.pipeline.accept([purchase("R1")], "api")
    clock = WorkerClock()
    with caplog.at_level(logging.DEBUG):
        drain(runtime, clock)
        clock.advance(3600)
        drain(runtime, clock)
    assert webhook_row(runtime, "R1").status == "dead"
    assert SECRET not in caplog.text
    runtime.store.close()
    for path in tmp_path.glob("hook.db*"):
        assert SECRET.encode() not in path.read_bytes(), path
    assert any("sha256=" in h.get("x-trackside-signature", "") for h in receiver.headers)


def test_batches_respect_the_event_limit(receiver: WebhookReceiver, tmp_path: Path) -> None:
    settings = load_settings(environ(receiver, tmp_path, TRACKSIDE_WEBHOOK_MAX_BATCH_EVENTS="2"))
    runtime = Runtime.from_settings(settings)
    try:
        runtime.pipeline.accept([purchase(f"R{i}") for i in range(5)], "api")
        drain(runtime, WorkerClock())
        assert sorted(len(body["event_ids"]) for body in receiver.received) == [1, 2, 2]
        assert sorted(receiver.event_ids()) == [f"R{i}" for i in range(5)]
    finally:
        runtime.close()


def test_consent_applies_as_for_ads_unless_the_shop_says_analytics(
    receiver: WebhookReceiver, tmp_path: Path
) -> None:
    denied_ads = purchase("R1", ad_user_data="denied")
    runtime = Runtime.from_settings(load_settings(environ(receiver, tmp_path)))
    try:
        runtime.pipeline.accept([denied_ads], "api")
        assert webhook_row(runtime, "R1").status == "suppressed"
    finally:
        runtime.close()
    analytics = load_settings(environ(receiver, tmp_path, TRACKSIDE_WEBHOOK_CONSENT="analytics",
                                      TRACKSIDE_DATABASE_URL=f"sqlite:///{tmp_path}/a.db"))
    runtime = Runtime.from_settings(analytics)
    try:
        runtime.pipeline.accept([denied_ads], "api")
        assert webhook_row(runtime, "R1").status == "pending"
    finally:
        runtime.close()


# -- settings: strict like every other destination's ---------------------------------------------


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"TRACKSIDE_WEBHOOK_URL": "https://crm.example/hook"},
         "TRACKSIDE_WEBHOOK_URL is set but TRACKSIDE_WEBHOOK_SECRET is not"),
        ({"TRACKSIDE_WEBHOOK_URL": "http://crm.example/hook",
          "TRACKSIDE_WEBHOOK_SECRET": SECRET},
         "TRACKSIDE_WEBHOOK_URL: Value error, must be https://"),
        ({"TRACKSIDE_WEBHOOK_URL": "https://crm.example/hook",
          "TRACKSIDE_WEBHOOK_SECRET": "short"},
         "TRACKSIDE_WEBHOOK_SECRET: Value error, must be at least 16 characters"),
    ],
)
def test_bad_webhook_settings_are_refused_by_name(variables: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(variables)
    assert message in str(raised.value)
    assert SECRET not in str(raised.value)


def test_a_misspelt_webhook_variable_gets_a_did_you_mean() -> None:
    assert unknown_variable_problems({"TRACKSIDE_WEBHOOK_ULR": "https://crm.example/hook"}) == [
        "TRACKSIDE_WEBHOOK_ULR is not a known setting (did you mean TRACKSIDE_WEBHOOK_URL?)"]


def test_http_is_allowed_on_loopback_and_the_secret_may_come_from_a_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    settings = load_settings({"TRACKSIDE_WEBHOOK_URL": "http://127.0.0.1:9/hook",
                              "TRACKSIDE_WEBHOOK_SECRET_FILE": str(secret_file)})
    assert SECRET in settings.secret_values()
    assert unknown_variable_problems({"TRACKSIDE_WEBHOOK_SECRET_FILE": "x"}) == []


def test_doctor_reports_the_webhook(receiver: WebhookReceiver, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from trackside.cli import app

    result = CliRunner().invoke(app, ["doctor"], env=environ(receiver, tmp_path))
    assert result.exit_code == 0, result.output
    assert f"webhook: ready, signed POSTs to {receiver.endpoint}" in result.output
    assert "TRACKSIDE_WEBHOOK_SECRET" in result.output and SECRET not in result.output
