"""One order, one id: the same Purchase at the fake Meta and the fake GA4 (issue 6).

Also the refund path (CLI) and `doctor`'s GA4 debug check.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.fakes.fixtures import fake_graph  # noqa: F401
from tests.fakes.ga4_fixtures import FakeGA4Handle, fake_ga4  # noqa: F401
from tests.fakes.graph_api import FakeGraphAPI
from trackside.cli import app
from trackside.runtime import Runtime

GRANTED = {"ad_storage": "granted", "ad_user_data": "granted", "analytics_storage": "granted",
           "ad_personalization": "granted"}


def environ(fake_graph: FakeGraphAPI, fake_ga4: FakeGA4Handle, db: Path) -> dict[str, str]:  # noqa: F811
    settings = fake_graph.settings()
    return {
        "TRACKSIDE_DATABASE_URL": f"sqlite:///{db}",
        "TRACKSIDE_META_PIXEL_ID": fake_graph.pixel_id,
        "TRACKSIDE_META_ACCESS_TOKEN": fake_graph.token,
        "TRACKSIDE_META_GRAPH_URL": fake_graph.url,
        "TRACKSIDE_META_API_VERSION": settings.meta_api_version,
        "TRACKSIDE_GA4_MEASUREMENT_ID": fake_ga4.measurement_id,
        "TRACKSIDE_GA4_API_SECRET": fake_ga4.api_secret,
        "TRACKSIDE_GA4_URL": fake_ga4.url,
        "TRACKSIDE_JOIN_WINDOW_S": "5",
        "TRACKSIDE_EVENT_ID_PREFIX": "shop1-",
    }


def drain(runtime: Runtime, clock: Any = time.time) -> None:
    async def run() -> None:
        async with runtime.worker(clock=clock) as worker:
            await worker.drain()

    asyncio.run(run())


def test_store_purchase_seen_in_browser_reaches_meta_and_ga4_with_one_id(
    fake_graph: FakeGraphAPI, fake_ga4: FakeGA4Handle,  # noqa: F811
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = environ(fake_graph, fake_ga4, tmp_path / "e2e.db")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    from trackside.config import load_settings

    runtime = Runtime.from_settings(load_settings())
    now = time.time()
    order = {"event_name": "Purchase", "event_time": int(now) - 5,
             "event_source_url": "https://shop.example/order-confirmation",
             "user": {"email": "Jeanne@Example.fr", "phone": "06 12 34 56 78", "country": "FR",
                      "external_id": "customer-42"},
             "order": {"reference": "XKBKNABJK", "value": 59.8, "currency": "EUR", "shipping": 4.9,
                       "items": [{"id": "SKU-1", "name": "Mug", "price": 27.45, "quantity": 2}]}}
    runtime.pipeline.accept([order], "prestashop", now=now)
    beacon = {**order, "user": {"fbp": "fb.1.1700000000000.123456789", "ip": "203.0.113.5",
                                "user_agent": "Mozilla/5.0",
                                "ga_client_id": "GA1.1.1197596843.1673515099",
                                "ga_session_id": "GS2.1.s1747132561$o1$g0$t1747132655$j0$l0$h0"},
              "consent": GRANTED}
    runtime.pipeline.accept([beacon], "browser")
    drain(runtime)

    [meta_event] = fake_graph.events
    [ga4_event] = fake_ga4.events
    assert meta_event["event_id"] == "shop1-XKBKNABJK"
    assert ga4_event["name"] == "purchase"
    assert ga4_event["params"]["transaction_id"] == meta_event["event_id"]
    assert ga4_event["params"]["value"] == 59.8 and ga4_event["params"]["currency"] == "EUR"
    [request] = fake_ga4.requests
    assert request.json["client_id"] == "1197596843.1673515099"
    assert ga4_event["params"]["session_id"] == "1747132561"
    assert meta_event["user_data"]["fbp"] == "fb.1.1700000000000.123456789"
    assert meta_event["user_data"]["client_ip_address"] == "203.0.113.5"

    # A refund from the CLI reaches GA4 with the purchase's transaction id and client id.
    runtime.close()
    result = CliRunner().invoke(app, ["refund", "XKBKNABJK"])
    assert result.exit_code == 0, result.output
    assert "Refund:shop1-XKBKNABJK: queued" in result.output
    runtime = Runtime.from_settings(load_settings())
    drain(runtime)
    refund = fake_ga4.events[-1]
    assert refund["name"] == "refund"
    assert refund["params"]["transaction_id"] == "shop1-XKBKNABJK"
    assert refund["params"]["value"] == 59.8
    assert fake_ga4.requests[-1].json["client_id"] == "1197596843.1673515099"
    [view] = runtime.store.event_view("Refund:shop1-XKBKNABJK")
    assert {r.destination: r.status for r in view.outbox} == {
        "meta": "not_applicable", "ga4": "delivered"}
    assert len(fake_graph.events) == 1
    runtime.close()


def test_refund_of_an_unknown_order_needs_value_and_currency(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKSIDE_DATABASE_URL", f"sqlite:///{tmp_path}/r.db")
    result = CliRunner().invoke(app, ["refund", "NOPE"])
    assert result.exit_code == 1
    assert "pass --value" in result.output
    result = CliRunner().invoke(app, ["refund", "NOPE", "--value", "10", "--currency", "EUR"])
    assert result.exit_code == 0, result.output


def test_doctor_validates_a_ga4_sample(
    fake_graph: FakeGraphAPI, fake_ga4: FakeGA4Handle,  # noqa: F811
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in environ(fake_graph, fake_ga4, tmp_path / "d.db").items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(app, ["doctor", "--online"])
    assert result.exit_code == 0, result.output
    assert "validated by /debug/mp/collect with no messages" in result.output
    assert fake_graph.token not in result.output and fake_ga4.api_secret not in result.output


def test_doctor_says_when_ga4_cannot_be_reached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fakes.server import free_port

    monkeypatch.setenv("TRACKSIDE_DATABASE_URL", f"sqlite:///{tmp_path}/d.db")
    monkeypatch.setenv("TRACKSIDE_GA4_MEASUREMENT_ID", "G-TEST123")
    monkeypatch.setenv("TRACKSIDE_GA4_API_SECRET", "canary-ga4-secret-value")
    monkeypatch.setenv("TRACKSIDE_GA4_URL", f"http://127.0.0.1:{free_port()}")
    result = CliRunner().invoke(app, ["doctor", "--online"])
    # Asked for and not answered: doctor cannot say GA4 works (fail, exit 1).
    assert result.exit_code == 1, result.output
    assert "fail GA4: sample payload not validated: cannot reach GA4" in result.output
    assert "canary-ga4-secret-value" not in result.output
