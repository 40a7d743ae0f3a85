"""A fake WooCommerce webhook sender: order bodies shaped like WooCommerce's REST API v3 order
(https://woocommerce.github.io/woocommerce-rest-api-docs/#order-properties), headers and
signature as WooCommerce's WC_Webhook sends them, with this module's own code (never
trackside's): X-WC-Webhook-Signature = base64(HMAC-SHA256(secret, raw body)), X-WC-Webhook-
Topic / -Resource / -Event / -ID / -Delivery-ID / -Source
(https://developer.woocommerce.com/docs/apis/rest-api/v3/webhooks/), and the ping a saved
webhook sends: the form body ``webhook_id=<n>``, unsigned.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

SITE = "https://canary-woo.example"


def woo_signature(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def gmt(seconds: float) -> str:
    """WooCommerce's *_gmt dates: UTC, without an offset."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def order(order_id: int, status: str, *, paid: bool | None = None, total: str = "29.35",
          meta: dict[str, str] | None = None, refunds: list[dict[str, Any]] | None = None,
          created_via: str = "checkout") -> dict[str, Any]:
    """An order like the REST API's example; ``date_paid`` set when ``paid`` (by default:
    when the status is processing or completed)."""
    now = time.time()
    paid = status in ("processing", "completed") if paid is None else paid
    billing = {"first_name": "John", "last_name": "Doe", "company": "",
               "address_1": "969 Market", "address_2": "", "city": "San Francisco",
               "state": "CA", "postcode": "94103", "country": "US",
               "email": "john.doe@example.com", "phone": "(555) 555-5555"}
    return {
        "id": order_id,
        "parent_id": 0,
        "number": str(order_id),
        "order_key": "wc_order_58d2d042d1d",
        "created_via": created_via,
        "version": "9.4.0",
        "status": status,
        "currency": "USD",
        "date_created": gmt(now - 120),
        "date_created_gmt": gmt(now - 120),
        "date_modified_gmt": gmt(now - 60),
        "discount_total": "0.00",
        "discount_tax": "0.00",
        "shipping_total": "10.00",
        "shipping_tax": "0.00",
        "cart_tax": "1.35",
        "total": total,
        "total_tax": "1.35",
        "prices_include_tax": False,
        "customer_id": 26,
        "customer_ip_address": "198.51.100.23",
        "customer_user_agent": "Mozilla/5.0 (Macintosh) canary-woo-shopper",
        "customer_note": "",
        "billing": billing,
        "shipping": {k: v for k, v in billing.items() if k not in ("email", "phone")},
        "payment_method": "bacs",
        "payment_method_title": "Direct Bank Transfer",
        "transaction_id": "",
        "date_paid": gmt(now - 60) if paid else None,
        "date_paid_gmt": gmt(now - 60) if paid else None,
        "date_completed_gmt": None,
        "cart_hash": "",
        "meta_data": [{"id": 100 + i, "key": key, "value": value}
                      for i, (key, value) in enumerate((meta or {}).items())],
        "line_items": [
            {"id": 315, "name": "Woo Single #1", "product_id": 93, "variation_id": 0,
             "quantity": 2, "tax_class": "", "subtotal": "6.00", "total": "6.00",
             "taxes": [], "meta_data": [], "sku": "", "price": 3},
            {"id": 316, "name": "Ship Your Idea - Color: Black, Size: M Test",
             "product_id": 22, "variation_id": 23, "quantity": 1, "subtotal": "12.00",
             "total": "12.00", "taxes": [], "meta_data": [], "sku": "", "price": 12},
        ],
        "tax_lines": [],
        "shipping_lines": [{"id": 317, "method_title": "Flat Rate", "method_id": "flat_rate",
                            "total": "10.00"}],
        "fee_lines": [],
        "coupon_lines": [],
        "refunds": refunds or [],
    }


def delivery(topic: str, payload: dict[str, Any] | bytes, secret: str, *,
             delivery_id: str | None = None, webhook_id: int = 7) -> tuple[bytes, dict[str, str]]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    resource, _, event = topic.partition(".")
    return body, {
        "Content-Type": "application/json",
        "User-Agent": "WooCommerce/9.4.0 Hookshot (WordPress/6.7)",
        "X-WC-Webhook-Source": SITE + "/",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": resource,
        "X-WC-Webhook-Event": event,
        "X-WC-Webhook-Signature": woo_signature(body, secret),
        "X-WC-Webhook-ID": str(webhook_id),
        "X-WC-Webhook-Delivery-ID": delivery_id or uuid.uuid4().hex,
    }


def ping(webhook_id: int = 7) -> tuple[bytes, dict[str, str]]:
    """What saving a webhook sends: no signature, a form body."""
    return f"webhook_id={webhook_id}".encode(), {
        "Content-Type": "application/x-www-form-urlencoded",
        "User-Agent": "WooCommerce/9.4.0 Hookshot (WordPress/6.7)",
    }
