"""Shopify webhooks end to end: deliveries shaped and signed like Shopify's (tests/fakes/
shopify.py) posted to the app, the worker draining to the strict fake Graph API and the fake
GA4 on loopback; each test asserts exactly the events and ids that reach them.

Topics and headers: https://shopify.dev/docs/apps/build/webhooks/delivery-structure;
dedup on X-Shopify-Event-Id: https://shopify.dev/docs/apps/build/webhooks/ignore-duplicates.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import app_client
from tests.fakes import shopify
from tests.fakes.fixtures import fake_graph  # noqa: F401
from tests.fakes.ga4_fixtures import FakeGA4Handle, fake_ga4  # noqa: F401
from tests.fakes.graph_api import FakeGraphAPI
from tests.fb_appendix import NO_CHANGE, appendix
from trackside.runtime import Runtime

#: Canaries: the secrets may appear in no log line, answer nor byte of the database.
SECRET = "shpss_canary-new-secret-4f1d9a"
OLD_SECRET = "shpss_canary-old-secret-77b2c0"
PREFIX = "sh1-"
ORDER_ID = 820982911946154508
FBP = "fb.1.1700000000000.1234567890"
FBC = "fb.1.1700000000000.IwAR-cartAttributeClick"


@pytest.fixture
def runtime(fake_graph: FakeGraphAPI, fake_ga4: FakeGA4Handle,  # noqa: F811
            tmp_path: Path) -> Any:
    settings = fake_graph.settings(
        database_url=f"sqlite:///{tmp_path}/shopify.db", join_window_s=0,
        event_id_prefix=PREFIX, server_event_consent="grant",
        shopify_webhook_secret=[SECRET, OLD_SECRET],
        ga4_measurement_id=fake_ga4.measurement_id, ga4_api_secret=fake_ga4.api_secret,
        ga4_url=fake_ga4.url)
    rt = Runtime.from_settings(settings)
    yield rt
    rt.close()


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async for c in app_client(runtime):
        yield c


Post = Callable[..., Any]


async def post(client: httpx.AsyncClient, topic: str, payload: dict[str, Any] | bytes,
               secret: str = SECRET, path: str = "/webhooks/shopify",
               **ids: Any) -> httpx.Response:
    body, headers = shopify.delivery(topic, payload, secret, **ids)
    return await client.post(path, content=body, headers=headers)


async def drain(runtime: Runtime) -> None:
    async with runtime.worker() as worker:
        await worker.drain()


def paid_order(**extra: Any) -> dict[str, Any]:
    attributes = [{"name": "_fbp", "value": FBP}, {"name": "_fbc", "value": FBC}]
    return shopify.order(ORDER_ID, note_attributes=attributes, **extra)


def rows(runtime: Runtime, sql: str) -> list[tuple[Any, ...]]:
    path = runtime.settings.database_url[len("sqlite:///"):]
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


async def test_orders_paid_reaches_meta_and_ga4_as_one_purchase_with_the_order_id(
    client: httpx.AsyncClient, runtime: Runtime, fake_graph: FakeGraphAPI,  # noqa: F811
    fake_ga4: FakeGA4Handle,  # noqa: F811
) -> None:
    answer = await post(client, "orders/paid", paid_order(), triggered_at=time.time() - 60)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "converted"
    assert [r["status"] for r in answer.json()["results"]] == ["queued"]
    await drain(runtime)

    [event] = fake_graph.events
    assert event["event_name"] == "Purchase"
    assert event["event_id"] == f"{PREFIX}{ORDER_ID}"
    assert event["action_source"] == "website"
    assert event["event_source_url"] == f"https://{shopify.SHOP_DOMAIN}/"
    user = event["user_data"]
    assert user["em"] == sha("jeanne.dupont@example.com")
    assert user["ph"] == sha("33612345678")
    assert user["ct"] == sha("paris") and user["country"] == sha("fr")
    assert user["client_ip_address"] == "203.0.113.17"
    assert user["client_user_agent"].endswith("canary-shopper")
    assert user["fbp"] == FBP and user["fbc"] == FBC  # the cart attributes win over the URL
    custom = event["custom_data"]
    assert (custom["value"], custom["currency"]) == (199.0, "EUR")
    assert custom["contents"] == [{"id": "808950810", "quantity": 2, "item_price": 94.5}]
    [ga4] = fake_ga4.events
    assert ga4["name"] == "purchase"
    assert ga4["params"]["transaction_id"] == f"{PREFIX}{ORDER_ID}"
    assert ga4["params"]["value"] == 199.0


async def test_the_landing_pages_fbclid_becomes_fbc_when_no_cart_attribute_has_one(
    client: httpx.AsyncClient, runtime: Runtime, fake_graph: FakeGraphAPI,  # noqa: F811
) -> None:
    await post(client, "orders/paid", shopify.order(ORDER_ID))
    await drain(runtime)
    [event] = fake_graph.events
    assert event["user_data"]["fbc"].endswith(".IwAR2canaryClickId_123")
    assert "fbp" not in event["user_data"]


async def test_orders_create_and_unpaid_orders_send_nothing_and_are_counted(
    client: httpx.AsyncClient, runtime: Runtime, fake_graph: FakeGraphAPI,  # noqa: F811
    fake_ga4: FakeGA4Handle,  # noqa: F811
) -> None:
    created = await post(client, "orders/create", shopify.order(1, financial_status="pending"))
    pending = await post(client, "orders/paid", shopify.order(2, financial_status="pending"))
    other = await post(client, "products/update", {"id": 3})
    for answer, reason in ((created, "not_a_purchase"), (pending, "unpaid"),
                           (other, "unknown_topic")):
        assert answer.status_code == 200
        assert (answer.json()["status"], answer.json()["reason"]) == ("ignored", reason)
    await drain(runtime)
    assert fake_graph.events == [] and fake_ga4.events == []
    assert rows(runtime, "SELECT COUNT(*) FROM events") == [(0,)]
    counts = {(c.outcome, c.reason): c.count for c in runtime.store.webhook_counts()}
    assert counts == {("ignored", "not_a_purchase"): 1, ("ignored", "unpaid"): 1,
                      ("ignored", "unknown_topic"): 1}


async def test_a_retried_delivery_is_one_event(
    client: httpx.AsyncClient, runtime: Runtime, fake_graph: FakeGraphAPI,  # noqa: F811
    fake_ga4: FakeGA4Handle,  # noqa: F811
) -> None:
    first = await post(client, "orders/paid", paid_order(), event_id="ev-1", webhook_id="wh-1")
    # Shopify's retry keeps the event id; a second subscription to the topic has another
    # webhook id with the same event id.
    again = await post(client, "orders/paid", paid_order(), event_id="ev-1", webhook_id="wh-1")
    second_subscription = await post(client, "orders/paid", paid_order(), event_id="ev-1",
                                     webhook_id="wh-2")
    assert first.json()["status"] == "converted"
    assert again.json()["status"] == second_subscription.json()["status"] == "duplicate"
    # The same order under a new event id (an app resending it) is still one Purchase.
    resent = await post(client, "orders/paid", paid_order(), event_id="ev-2")
    assert [r["status"] for r in resent.json()["results"]] == ["duplicate"]
    await drain(runtime)
    assert fake_graph.event_ids() == [f"{PREFIX}{ORDER_ID}"]
    assert len(fake_ga4.events) == 1


async def test_refunds_create_is_a_ga4_refund_of_the_orders_purchase(
    client: httpx.AsyncClient, runtime: Runtime, fake_graph: FakeGraphAPI,  # noqa: F811
    fake_ga4: FakeGA4Handle,  # noqa: F811
) -> None:
    await post(client, "orders/paid", paid_order())
    answer = await post(client, "refunds/create", shopify.refund(ORDER_ID, 929361463, "94.50"))
    failed = await post(client, "refunds/create",
                        shopify.refund(ORDER_ID, 929361464, "10.00", status="failure"))
    assert answer.json()["status"] == "converted"
    assert failed.json()["reason"] == "nothing_to_refund"
    await drain(runtime)
    assert fake_graph.event_ids() == [f"{PREFIX}{ORDER_ID}"]  # Meta has no refund event
    assert [e["name"] for e in fake_ga4.events] == ["purchase", "refund"]
    purchase, refund = fake_ga4.events
    assert refund["name"] == "refund"
    assert refund["params"]["transaction_id"] == f"{PREFIX}{ORDER_ID}"
    assert refund["params"]["value"] == 94.5
    assert refund["client_id"] == purchase["client_id"]  # the Purchase's context was joined
    [(refund_id,)] = rows(runtime, "SELECT event_id FROM events WHERE event_name = 'Refund'")
    assert refund_id == f"Refund:{PREFIX}{ORDER_ID}-929361463"


async def test_orders_cancelled_refunds_what_its_refunds_did_not_cover(
    client: httpx.AsyncClient, runtime: Runtime, fake_graph: FakeGraphAPI,  # noqa: F811
    fake_ga4: FakeGA4Handle,  # noqa: F811
) -> None:
    await post(client, "orders/paid", paid_order())
    earlier = shopify.refund(ORDER_ID, 5, "50.00")
    cancelled = paid_order(financial_status="partially_refunded", refunds=[earlier],
                           cancelled=time.time() - 30)
    answer = await post(client, "orders/cancelled", cancelled)
    assert answer.json()["status"] == "converted"
    fully = paid_order(financial_status="refunded", cancelled=time.time(),
                       refunds=[shopify.refund(ORDER_ID, 6, "199.00")])
    nothing_left = await post(client, "orders/cancelled", fully)
    never_paid = await post(client, "orders/cancelled",
                            shopify.order(77, financial_status="voided", cancelled=time.time()))
    assert nothing_left.json()["reason"] == "nothing_to_refund"
    assert never_paid.json()["reason"] == "unpaid"
    await drain(runtime)
    refunds = [e for e in fake_ga4.events if e["name"] == "refund"]
    assert [(r["params"]["transaction_id"], r["params"]["value"]) for r in refunds] == [
        (f"{PREFIX}{ORDER_ID}", 149.0)]
    assert fake_graph.event_ids() == [f"{PREFIX}{ORDER_ID}"]


async def test_a_bad_signature_is_401_stores_nothing_and_logs_no_body(
    client: httpx.AsyncClient, runtime: Runtime, fake_graph: FakeGraphAPI,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    forged = paid_order(email="canary-forged@example.com")
    wrong_key = await post(client, "orders/paid", forged, secret="an-attackers-guess")
    body, headers = shopify.delivery("orders/paid", forged, SECRET)
    tampered = await client.post("/webhooks/shopify", content=body.replace(b"199.00", b"1.00"),
                                 headers=headers)
    del headers["X-Shopify-Hmac-Sha256"]
    unsigned = await client.post("/webhooks/shopify", content=body, headers=headers)
    for answer in (wrong_key, tampered, unsigned):
        assert answer.status_code == 401
        assert "TRACKSIDE_SHOPIFY_WEBHOOK_SECRET" in answer.json()["error"]["message"]
    await drain(runtime)
    assert fake_graph.events == []
    assert rows(runtime, "SELECT COUNT(*) FROM events") == [(0,)]
    assert runtime.store.webhook_counts() == []
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3 and all("signature" in r.getMessage() for r in warnings)
    assert "canary-forged" not in caplog.text


async def test_during_a_rotation_both_secrets_are_accepted_and_no_other(
    client: httpx.AsyncClient, runtime: Runtime, fake_graph: FakeGraphAPI,  # noqa: F811
) -> None:
    new = await post(client, "orders/paid", shopify.order(10))
    old = await post(client, "orders/paid", shopify.order(11), secret=OLD_SECRET)
    retired = await post(client, "orders/paid", shopify.order(12), secret="shpss_retired")
    assert (new.status_code, old.status_code, retired.status_code) == (200, 200, 401)
    await drain(runtime)
    assert sorted(fake_graph.event_ids()) == [f"{PREFIX}10", f"{PREFIX}11"]


async def test_a_stale_delivery_is_ignored(
    client: httpx.AsyncClient, runtime: Runtime, fake_graph: FakeGraphAPI,  # noqa: F811
    fake_ga4: FakeGA4Handle,  # noqa: F811
) -> None:
    # Older than Meta's 7 days, the longest window of the shop's destinations.
    answer = await post(client, "orders/paid", paid_order(),
                        triggered_at=time.time() - 8 * 86400)
    assert (answer.status_code, answer.json()["reason"]) == (200, "stale")
    await drain(runtime)
    assert fake_graph.events == [] and fake_ga4.events == []
    assert rows(runtime, "SELECT COUNT(*) FROM events") == [(0,)]


async def test_authentic_but_malformed_bodies_are_200_with_the_field_named(
    client: httpx.AsyncClient, runtime: Runtime,
) -> None:
    not_json = await post(client, "orders/paid", b"{not json")
    no_id = shopify.order(1)
    del no_id["id"]
    missing = await post(client, "orders/paid", no_id)
    bad_currency = await post(client, "orders/paid", shopify.order(2, currency="EURO"))
    assert not_json.json()["reason"] == "malformed"
    assert missing.json()["reason"] == "malformed" and "order.id" in missing.json()["detail"]
    assert bad_currency.json()["reason"] == "malformed"
    assert "events[0].order.currency" in bad_currency.json()["detail"]
    assert all(a.status_code == 200 for a in (not_json, missing, bad_currency))
    assert rows(runtime, "SELECT COUNT(*) FROM events") == [(0,)]
    [count] = runtime.store.webhook_counts()
    assert (count.reason, count.count) == ("malformed", 3)


async def test_a_body_over_the_limit_is_413_before_the_signature_is_checked(
    fake_graph: FakeGraphAPI, tmp_path: Path,  # noqa: F811
) -> None:
    rt = Runtime.from_settings(fake_graph.settings(
        database_url=f"sqlite:///{tmp_path}/small.db", shopify_webhook_secret=[SECRET],
        max_body_bytes=2048))
    try:
        async for small in app_client(rt):
            answer = await post(small, "orders/paid", paid_order())
            assert answer.status_code == 413
    finally:
        rt.close()


def test_the_secret_never_reaches_logs_answers_or_the_database(
    runtime: Runtime, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)

    async def scenario() -> list[str]:
        texts = []
        async for c in app_client(runtime):
            for topic, payload, secret in (("orders/paid", paid_order(), SECRET),
                                           ("orders/paid", paid_order(), "wrong"),
                                           ("orders/create", shopify.order(3), OLD_SECRET)):
                texts.append((await post(c, topic, payload, secret=secret)).text)
        await drain(runtime)
        return texts

    answers = asyncio.run(scenario())
    path = Path(runtime.settings.database_url[len("sqlite:///"):])
    stored = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    for secret in (SECRET, OLD_SECRET):
        assert secret not in caplog.text
        assert all(secret not in text for text in answers)
        assert secret.encode() not in stored
    assert repr(runtime.settings.shopify_webhook_secret).count("**********") == 2


async def test_the_customer_events_pixels_beacon_and_the_webhook_are_one_purchase(
    fake_graph: FakeGraphAPI, tmp_path: Path,  # noqa: F811
) -> None:
    # docs/sources.md's custom pixel posts this beacon on checkout_completed, with
    # reference = checkout.order.id; the webhook's Purchase has the same id and joins it.
    rt = Runtime.from_settings(fake_graph.settings(
        database_url=f"sqlite:///{tmp_path}/pixel.db", join_window_s=60,
        event_id_prefix=PREFIX, shopify_webhook_secret=[SECRET],
        allowed_origins=[f"https://{shopify.SHOP_DOMAIN}"]))
    beacon = {"type": "purchase", "event_name": "Purchase",
              "url": f"https://{shopify.SHOP_DOMAIN}/checkouts/cn/abc/thank-you",
              "params": {"reference": str(ORDER_ID), "value": 199.0, "currency": "EUR"},
              "cookies": {"_fbp": FBP},
              "consent": {"ad_storage": "granted", "ad_user_data": "granted"}}
    try:
        async for c in app_client(rt):
            seen = await c.post("/collect", content=json.dumps(beacon).encode(), headers={
                "Origin": f"https://{shopify.SHOP_DOMAIN}", "Content-Type": "text/plain"})
            assert seen.status_code == 202, seen.text
            assert seen.json()["event_id"] == f"{PREFIX}{ORDER_ID}"
            paid = await post(c, "orders/paid", shopify.order(ORDER_ID))
            assert paid.json()["status"] == "converted"
        await drain(rt)
    finally:
        rt.close()
    [event] = fake_graph.events
    assert event["event_id"] == f"{PREFIX}{ORDER_ID}"
    # The browser's context joined the store's order: the beacon's _fbp, which Meta's
    # parameter builder marks unchanged (docs/browser-tag.md).
    assert event["user_data"]["fbp"] == f"{FBP}.{appendix(NO_CHANGE)}"
    assert event["user_data"]["em"] == sha("jeanne.dupont@example.com")


async def test_an_ignored_topic_never_hides_the_purchase_of_the_same_shop_event(
    client: httpx.AsyncClient, runtime: Runtime, fake_graph: FakeGraphAPI,  # noqa: F811
) -> None:
    updated = await post(client, "orders/updated", paid_order(), event_id="ev-7")
    paid = await post(client, "orders/paid", paid_order(), event_id="ev-7")
    assert updated.json()["reason"] == "not_a_purchase"
    assert paid.json()["status"] == "converted"
    await drain(runtime)
    assert fake_graph.event_ids() == [f"{PREFIX}{ORDER_ID}"]
