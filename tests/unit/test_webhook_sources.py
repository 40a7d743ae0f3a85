"""The webhook sources' pure parts: the signature check, click ids, statuses, action sources.
Signatures are computed here with this test's own code (hmac, base64), per the platforms'
docs: base64(HMAC-SHA256(secret, raw body))
(https://shopify.dev/docs/apps/build/webhooks/verify-deliveries,
https://developer.woocommerce.com/docs/apis/rest-api/v3/webhooks/)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

import pytest
from pydantic import SecretStr

from tests.fakes import shopify, woocommerce
from trackside.sources.shopify import SHOPIFY
from trackside.sources.shopify.map import purchase
from trackside.sources.shopify.payload import Order
from trackside.sources.webhooks import Delivery, MapContext, click_ids, verify_base64_hmac
from trackside.sources.woocommerce import WOOCOMMERCE
from trackside.sources.woocommerce.map import is_paid
from trackside.sources.woocommerce.payload import Order as WooOrder

BODY = b'{"id": 1}'
CONTEXT = MapContext(prefix="p-", now=time.time(), max_age_s=7 * 86400)


def sign(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@pytest.mark.parametrize(("signature", "expected"), [
    (sign(BODY, "new"), True),
    (sign(BODY, "old"), True),
    (sign(BODY, "other"), False),
    (sign(BODY + b" ", "new"), False),
    (sign(BODY, "new").lower(), False),
    ("not base64 !!", False),
    ("", False),
    (None, False),
    (hashlib.sha256(BODY).hexdigest(), False),
])
def test_the_signature_is_base64_hmac_sha256_of_the_raw_body_with_either_secret(
    signature: str | None, expected: bool,
) -> None:
    secrets = [SecretStr("new"), SecretStr("old")]
    assert verify_base64_hmac(BODY, signature, secrets) is expected


def test_no_secret_verifies_nothing() -> None:
    assert verify_base64_hmac(BODY, sign(BODY, ""), []) is False


def test_click_ids_from_pairs_and_the_landing_url() -> None:
    assert click_ids({"_fbp": "fb.1.1700000000000.42", "_fbc": "fb.1.1700000000000.AbC"},
                     "/?fbclid=ignored") == {"fbp": "fb.1.1700000000000.42",
                                            "fbc": "fb.1.1700000000000.AbC"}
    assert click_ids({}, "/products/x?utm_source=fb&fbclid=IwAR_1-x") == {"fbclid": "IwAR_1-x"}
    # Invalid values are left out rather than sent.
    assert click_ids({"_fbp": "tracking-cookie", "_fbc": 42}, "/?fbclid=%ff bad") == {}
    assert click_ids({"fbclid": "IwAR_from_meta"}, None) == {"fbclid": "IwAR_from_meta"}


def _shopify_order(**changes: Any) -> Order:
    return Order.model_validate({**shopify.order(5), **changes})


def test_shopify_action_source_follows_where_the_order_was_placed() -> None:
    delivery = Delivery("k", "orders/paid", shop_domain="shop.example")
    assert purchase(_shopify_order(), delivery, CONTEXT)["action_source"] == "website"
    pos = purchase(_shopify_order(source_name="pos"), delivery, CONTEXT)
    assert pos["action_source"] == "physical_store" and "event_source_url" not in pos
    draft = purchase(_shopify_order(client_details=None, source_name="shopify_draft_order"),
                     delivery, CONTEXT)
    assert draft["action_source"] == "system_generated"
    no_domain = purchase(_shopify_order(), Delivery("k", "orders/paid"), CONTEXT)
    assert no_domain["action_source"] == "system_generated"


def test_shopify_purchase_never_sends_the_order_status_url() -> None:
    raw = purchase(_shopify_order(), Delivery("k", "orders/paid", shop_domain="s.example"),
                   CONTEXT)
    assert "canary-order-status-key" not in repr(raw)
    assert raw["event_source_url"] == "https://s.example/"
    assert raw["event_id"] == "p-5"


def test_shopify_headers_name_the_delivery_and_its_topic() -> None:
    body, headers = shopify.delivery("orders/paid", {"id": 1}, "s", event_id="E",
                                     webhook_id="W", triggered_at=1_800_000_000.25)
    lowered = {k.lower(): v for k, v in headers.items()}
    delivery = SHOPIFY.delivery(lowered, body)
    assert delivery.delivery_id == "orders/paid:E"
    assert delivery.triggered_at == 1_800_000_000
    del lowered["x-shopify-event-id"]
    assert SHOPIFY.delivery(lowered, body).delivery_id == "orders/paid:W"
    del lowered["x-shopify-webhook-id"]
    assert SHOPIFY.delivery(lowered, body).delivery_id.startswith("orders/paid:sha256:")
    lowered["x-shopify-shop-domain"] = "evil.example/path"
    assert SHOPIFY.delivery(lowered, body).shop_domain is None


@pytest.mark.parametrize(("status", "paid", "expected"), [
    ("processing", False, True), ("completed", False, True), ("processing", True, True),
    ("pending", True, False), ("on-hold", True, False), ("failed", True, False),
    ("cancelled", True, False), ("refunded", True, False), ("checkout-draft", True, False),
    ("awaiting-shipment", True, True), ("awaiting-shipment", False, False),
])
def test_a_woocommerce_order_is_paid_by_status_or_date_paid(status: str, paid: bool,
                                                            expected: bool) -> None:
    order = WooOrder.model_validate(woocommerce.order(1, status, paid=paid))
    assert is_paid(order) is expected


def test_the_woocommerce_ping_is_only_the_unsigned_form_body() -> None:
    body, headers = woocommerce.ping(12)
    lowered = {k.lower(): v for k, v in headers.items()}
    assert WOOCOMMERCE.is_ping(lowered, body)
    assert not WOOCOMMERCE.is_ping({**lowered, "x-wc-webhook-signature": "x"}, body)
    assert not WOOCOMMERCE.is_ping(lowered, b"webhook_id=12&topic=order.created")
    assert not WOOCOMMERCE.is_ping(lowered, b'{"webhook_id": 12}')
