"""WooCommerce webhooks end to end: deliveries shaped and signed like WooCommerce's (tests/
fakes/woocommerce.py) posted to the app, the worker draining to the strict fake Graph API and
the fake GA4; each test asserts exactly the events and ids that reach them.

Headers and topics: https://developer.woocommerce.com/docs/apis/rest-api/v3/webhooks/;
statuses: https://woocommerce.com/document/managing-orders/order-statuses/.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import app_client
from tests.fakes import woocommerce as woo
from tests.fakes.fixtures import fake_graph  # noqa: F401
from tests.fakes.ga4_fixtures import FakeGA4Handle, fake_ga4  # noqa: F401
from tests.fakes.graph_api import FakeGraphAPI
from trackside.runtime import Runtime

SECRET = "woo-canary-secret-new-91c3"
OLD_SECRET = "woo-canary-secret-old-28fa"
FBP = "fb.1.1700000000000.987654321"
FBC = "fb.1.1700000000000.IwAR-wooMetaClick"


@pytest.fixture
def runtime(fake_graph: FakeGraphAPI, fake_ga4: FakeGA4Handle,  # noqa: F811
            tmp_path: Path) -> Any:
    rt = Runtime.from_settings(fake_graph.settings(
        database_url=f"sqlite:///{tmp_path}/woo.db", join_window_s=0,
        server_event_consent="grant", woocommerce_webhook_secret=[SECRET, OLD_SECRET],
        ga4_measurement_id=fake_ga4.measurement_id, ga4_api_secret=fake_ga4.api_secret,
        ga4_url=fake_ga4.url))
    yield rt
    rt.close()


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async for c in app_client(runtime):
        yield c


async def post(client: httpx.AsyncClient, topic: str, payload: dict[str, Any] | bytes,
               secret: str = SECRET, **ids: Any) -> httpx.Response:
    body, headers = woo.delivery(topic, payload, secret, **ids)
    return await client.post("/webhooks/woocommerce", content=body, headers=headers)


async def drain(runtime: Runtime) -> None:
    async with runtime.worker() as worker:
        await worker.drain()


def stored(runtime: Runtime) -> list[tuple[str, str]]:
    conn = sqlite3.connect(runtime.settings.database_url[len("sqlite:///"):])
    try:
        return conn.execute("SELECT event_name, event_id FROM events ORDER BY pk").fetchall()
    finally:
        conn.close()


async def test_the_ping_of_a_saved_webhook_is_200_and_stores_nothing(
    client: httpx.AsyncClient, runtime: Runtime,
) -> None:
    body, headers = woo.ping()
    answer = await client.post("/webhooks/woocommerce", content=body, headers=headers)
    assert answer.status_code == 200
    assert stored(runtime) == [] and runtime.store.webhook_counts() == []
    # Anything else unsigned is refused.
    forged = await client.post("/webhooks/woocommerce", content=b"webhook_id=7&x=1",
                               headers=headers)
    assert forged.status_code == 401


async def test_an_order_becomes_one_purchase_once_paid_and_never_before(
    client: httpx.AsyncClient, runtime: Runtime, fake_graph: FakeGraphAPI,  # noqa: F811
    fake_ga4: FakeGA4Handle,  # noqa: F811
) -> None:
    meta = {"_fbp": FBP, "_fbc": FBC, "_billing_vat": "not a click id"}
    answers = [
        await post(client, "order.created", woo.order(727, "pending", meta=meta)),
        await post(client, "order.updated", woo.order(727, "on-hold", meta=meta)),
        await post(client, "order.updated", woo.order(728, "failed")),
        # date_paid set by a gateway, yet on hold: still not a purchase
        await post(client, "order.updated", woo.order(729, "on-hold", paid=True)),
    ]
    assert [(a.status_code, a.json()["reason"]) for a in answers] == [(200, "unpaid")] * 4
    await drain(runtime)
    assert fake_graph.events == [] and fake_ga4.events == []

    paid = await post(client, "order.updated", woo.order(727, "processing", meta=meta))
    completed = await post(client, "order.updated", woo.order(727, "completed", meta=meta))
    assert paid.json()["status"] == "converted"
    assert [r["status"] for r in completed.json()["results"]] == ["duplicate"]
    await drain(runtime)
    [event] = fake_graph.events
    assert (event["event_name"], event["event_id"]) == ("Purchase", "727")
    assert event["action_source"] == "website"
    assert event["event_source_url"] == f"{woo.SITE}/checkout/order-received/727/"
    user = event["user_data"]
    assert user["fbp"] == FBP and user["fbc"] == FBC
    assert user["client_ip_address"] == "198.51.100.23"
    assert event["custom_data"]["value"] == 29.35
    assert [c["id"] for c in event["custom_data"]["contents"]] == ["93", "23"]
    [ga4] = fake_ga4.events
    assert (ga4["name"], ga4["params"]["transaction_id"]) == ("purchase", "727")


async def test_a_custom_status_with_date_paid_is_a_purchase(
    client: httpx.AsyncClient, runtime: Runtime, fake_graph: FakeGraphAPI,  # noqa: F811
) -> None:
    answer = await post(client, "order.created",
                        woo.order(900, "awaiting-shipment", paid=True, created_via="admin"))
    assert answer.json()["status"] == "converted"
    await drain(runtime)
    [event] = fake_graph.events
    assert event["event_id"] == "900" and event["action_source"] == "system_generated"


async def test_refunds_become_ga4_refunds_of_the_purchase_each_once(
    client: httpx.AsyncClient, runtime: Runtime, fake_graph: FakeGraphAPI,  # noqa: F811
    fake_ga4: FakeGA4Handle,  # noqa: F811
) -> None:
    await post(client, "order.created", woo.order(730, "processing"))
    partial = [{"id": 731, "reason": "", "total": "-5.00"}]
    await post(client, "order.updated", woo.order(730, "completed", refunds=partial))
    whole = [*partial, {"id": 732, "reason": "", "total": "-24.35"}]
    await post(client, "order.updated", woo.order(730, "refunded", refunds=whole))
    unpaid_refunded = await post(client, "order.updated",
                                 woo.order(740, "refunded", total="0.00"))
    assert unpaid_refunded.json()["reason"] == "nothing_to_refund"
    await drain(runtime)
    assert fake_graph.event_ids() == ["730"]
    refunds = [(e["params"]["transaction_id"], e["params"]["value"])
               for e in fake_ga4.events if e["name"] == "refund"]
    assert refunds == [("730", 5.0), ("730", 24.35)]
    assert [eid for name, eid in stored(runtime) if name == "Refund"] == [
        "Refund:730-731", "Refund:730-732"]


async def test_a_retried_delivery_is_answered_duplicate_and_sends_one_event(
    client: httpx.AsyncClient, runtime: Runtime, fake_graph: FakeGraphAPI,  # noqa: F811
) -> None:
    first = await post(client, "order.created", woo.order(750, "processing"),
                       delivery_id="d-1")
    again = await post(client, "order.created", woo.order(750, "processing"),
                       delivery_id="d-1")
    ignored = await post(client, "order.created", woo.order(751, "pending"), delivery_id="d-2")
    ignored_again = await post(client, "order.created", woo.order(751, "pending"),
                               delivery_id="d-2")
    assert first.json()["status"] == "converted"
    assert again.json()["status"] == ignored_again.json()["status"] == "duplicate"
    assert ignored.json()["reason"] == "unpaid"
    await drain(runtime)
    assert fake_graph.event_ids() == ["750"]
    counts = {(c.outcome, c.reason): c.count for c in runtime.store.webhook_counts()}
    assert counts == {("converted", ""): 1, ("ignored", "unpaid"): 1}  # a retry counts once


async def test_bad_signatures_are_401_and_both_rotation_secrets_work(
    client: httpx.AsyncClient, runtime: Runtime, fake_graph: FakeGraphAPI,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    forged = woo.order(760, "processing")
    forged["billing"]["email"] = "canary-woo-forged@example.com"
    refused = await post(client, "order.created", forged, secret="guess")
    new = await post(client, "order.created", woo.order(761, "processing"))
    old = await post(client, "order.created", woo.order(762, "processing"), secret=OLD_SECRET)
    assert (refused.status_code, new.status_code, old.status_code) == (401, 200, 200)
    assert "TRACKSIDE_WOOCOMMERCE_WEBHOOK_SECRET" in refused.json()["error"]["message"]
    await drain(runtime)
    assert sorted(fake_graph.event_ids()) == ["761", "762"]
    assert "canary-woo-forged" not in caplog.text
    assert SECRET not in caplog.text and OLD_SECRET not in caplog.text
    assert any(r.levelno == logging.WARNING and "signature" in r.getMessage()
               for r in caplog.records)


async def test_other_topics_and_malformed_orders_are_200_and_counted(
    client: httpx.AsyncClient, runtime: Runtime,
) -> None:
    deleted = await post(client, "order.deleted", {"id": 770})
    product = await post(client, "product.updated", {"id": 93})
    broken = woo.order(771, "processing")
    broken["line_items"] = "not a list"
    malformed = await post(client, "order.created", broken)
    assert [a.json()["reason"] for a in (deleted, product, malformed)] == [
        "unknown_topic", "unknown_topic", "malformed"]
    assert "order.line_items" in malformed.json()["detail"]
    assert stored(runtime) == []


async def test_an_order_no_destination_would_take_is_ignored_as_undeliverable(
    client: httpx.AsyncClient, runtime: Runtime,
) -> None:
    # Paid 30 s short of Meta's 7 days: not stale for the mapping, but Meta's destination gives
    # up 60 s before the limit and GA4 takes 72 hours, so nobody would ever send it (issue 18).
    almost_a_week = woo.gmt(time.time() - 7 * 86400 + 30)
    paid = {**woo.order(901, "processing"), "date_paid": almost_a_week,
            "date_paid_gmt": almost_a_week}
    answer = await post(client, "order.updated", paid)
    assert answer.status_code == 200
    body = answer.json()
    assert (body["status"], body["reason"]) == ("ignored", "undeliverable")
    [result] = body["results"]
    assert result["status"] == "rejected"
    assert [e["reason"].split(":")[0] for e in result["errors"]] == ["meta", "ga4"]
    assert "events[0].event_time" in body["detail"]
    assert stored(runtime) == []
