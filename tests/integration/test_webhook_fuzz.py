"""Fuzzing the platform webhooks: authentic deliveries (signed with the right secret) whose
body holds a hostile value at a place the platform's JSON reaches, or whose headers are
garbage. Every answer must be 200 (authentic: answered, so the platform does not retry) with a
status trackside names, never a 4xx nor a 5xx; a good order sent beside them still gets in.
Hypothesis prints its seed when an example fails (``--hypothesis-seed`` replays it)."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import app_client
from tests.fakes import shopify, woocommerce
from tests.integration.test_fuzz import _hostile, put
from trackside.config import Settings
from trackside.runtime import Runtime

SECRET = "fuzz-webhook-canary-secret"
FUZZ = settings(deadline=None, database=None, max_examples=40,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])
_serial = itertools.count(1)

SHOPIFY_PATHS = [
    (), ("id",), ("email",), ("currency",), ("total_price",), ("financial_status",),
    ("browser_ip",), ("client_details",), ("client_details", "user_agent"), ("landing_site",),
    ("note_attributes",), ("note_attributes", 0), ("note_attributes", 0, "value"),
    ("customer",), ("customer", "id"), ("billing_address",), ("billing_address", "country_code"),
    ("billing_address", "phone"), ("line_items",), ("line_items", 0),
    ("line_items", 0, "quantity"), ("line_items", 0, "price"), ("line_items", 0, "variant_id"),
    ("refunds",), ("total_shipping_price_set",), ("cancelled_at",),
]
WOO_PATHS = [
    (), ("id",), ("status",), ("currency",), ("total",), ("date_paid_gmt",), ("billing",),
    ("billing", "email"), ("billing", "country"), ("customer_id",), ("customer_ip_address",),
    ("meta_data",), ("meta_data", 0), ("meta_data", 0, "value"), ("line_items",),
    ("line_items", 0, "quantity"), ("line_items", 0, "product_id"), ("refunds",),
    ("refunds", 0), ("refunds", 0, "total"),
]
_headers = st.one_of(st.text(max_size=300), st.sampled_from([
    "", " ", "\x1b[31m", "2026-13-45T99:99:99Z", "-1", "9" * 40, "orders/paid\r\nX: y", "é" * 300,
]))


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    rt = Runtime.from_settings(Settings(
        database_url=f"sqlite:///{tmp_path}/fuzz.db", join_window_s=0,
        shopify_webhook_secret=[SECRET], woocommerce_webhook_secret=[SECRET]))
    yield rt
    rt.close()


def deliver(runtime: Runtime, deliveries: list[tuple[str, bytes, dict[str, str]]]
            ) -> list[tuple[int, Any]]:
    async def run() -> list[tuple[int, Any]]:
        answers = []
        async for client in app_client(runtime):
            for path, body, headers in deliveries:
                answer = await client.post(path, content=body, headers=headers)
                answers.append((answer.status_code, answer.json()))
        return answers

    return asyncio.run(run())


def _hostile_body(payload: dict[str, Any], path: tuple[Any, ...], value: Any) -> bytes:
    try:
        return json.dumps(put(payload, path, value), allow_nan=True).encode("utf-8",
                                                                             "surrogatepass")
    except (TypeError, ValueError):
        return b'{"id": 1, "x": "\\ud800"}'


@FUZZ
@given(path=st.sampled_from(SHOPIFY_PATHS), value=_hostile,
       topic=st.sampled_from(["orders/paid", "orders/cancelled", "refunds/create"]))
def test_shopify_never_answers_an_authentic_delivery_with_an_error(
    runtime: Runtime, path: tuple[Any, ...], value: Any, topic: str,
) -> None:
    good_id = next(_serial)
    base = shopify.order(10**9 + good_id, note_attributes=[{"name": "_fbp", "value": "x"}],
                         refunds=[shopify.refund(10**9 + good_id, 1, "5.00")])
    hostile = _hostile_body(base, path, value)
    good = json.dumps(shopify.order(good_id)).encode()
    answers = deliver(runtime, [
        ("/webhooks/shopify", hostile, shopify.delivery(topic, hostile, SECRET)[1]),
        ("/webhooks/shopify", good, shopify.delivery("orders/paid", good, SECRET)[1]),
    ])
    for status, body in answers:
        assert status == 200, (status, body)
        assert body["status"] in ("converted", "ignored", "duplicate")
    assert answers[1][1]["status"] == "converted"


@FUZZ
@given(path=st.sampled_from(WOO_PATHS), value=_hostile,
       topic=st.sampled_from(["order.created", "order.updated"]))
def test_woocommerce_never_answers_an_authentic_delivery_with_an_error(
    runtime: Runtime, path: tuple[Any, ...], value: Any, topic: str,
) -> None:
    good_id = next(_serial)
    base = woocommerce.order(10**9 + good_id, "processing", meta={"_fbp": "x"},
                             refunds=[{"id": 1, "total": "-1.00"}])
    hostile = _hostile_body(base, path, value)
    good = json.dumps(woocommerce.order(good_id, "processing")).encode()
    answers = deliver(runtime, [
        ("/webhooks/woocommerce", hostile, woocommerce.delivery(topic, hostile, SECRET)[1]),
        ("/webhooks/woocommerce", good, woocommerce.delivery(topic, good, SECRET)[1]),
    ])
    for status, body in answers:
        assert status == 200, (status, body)
    assert answers[1][1]["status"] == "converted"


@FUZZ
@given(topic=_headers, event_id=_headers, triggered=_headers, domain=_headers)
def test_garbage_headers_on_an_authentic_shopify_delivery_are_answered(
    runtime: Runtime, topic: str, event_id: str, triggered: str, domain: str,
) -> None:
    body = json.dumps(shopify.order(next(_serial))).encode()
    headers = shopify.delivery("orders/paid", body, SECRET)[1]
    headers.update({"X-Shopify-Topic": topic, "X-Shopify-Event-Id": event_id,
                    "X-Shopify-Triggered-At": triggered, "X-Shopify-Shop-Domain": domain})
    # Latin-1 goes as bytes (HTTP allows it); httpx refuses CR/LF and the rest, which no
    # client can send either.
    sendable = {k: v.encode("latin-1") for k, v in headers.items()
                if v.isprintable() and all(ord(c) < 256 for c in v)}
    [(status, answer)] = deliver(runtime, [("/webhooks/shopify", body, sendable)])  # type: ignore[list-item]
    assert status == 200, answer
