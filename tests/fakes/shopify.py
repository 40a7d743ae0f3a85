"""A fake Shopify webhook sender: bodies shaped like Shopify's documented payloads, signed
and headed as Shopify does, with this module's own code (never trackside's).

Payload shapes: the REST Admin API order and refund resources, as the webhook reference's
examples show them (https://shopify.dev/docs/api/webhooks?reference=toml, topics orders/paid,
orders/create, orders/cancelled, refunds/create). Headers:
https://shopify.dev/docs/apps/build/webhooks/delivery-structure. Signature: base64 of the
HMAC-SHA256 of the raw body, key = the app's client secret
(https://shopify.dev/docs/apps/build/webhooks/verify-deliveries).
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

SHOP_DOMAIN = "canary-shop.myshopify.com"


def shopify_signature(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


def order(order_id: int, *, financial_status: str = "paid", total: str = "199.00",
          currency: str = "EUR", email: str = "jeanne.dupont@example.com",
          note_attributes: list[dict[str, Any]] | None = None,
          landing_site: str | None = "/?fbclid=IwAR2canaryClickId_123",
          refunds: list[dict[str, Any]] | None = None, created: float = 1_700_000_000,
          cancelled: float | None = None) -> dict[str, Any]:
    """An order resource like the orders/paid example of Shopify's webhook reference."""
    address = {"first_name": "Jeanne", "last_name": "Dupont", "address1": "1 rue de la Paix",
               "city": "Paris", "province": None, "province_code": None, "country": "France",
               "country_code": "FR", "zip": "75002", "phone": "06 12 34 56 78",
               "company": None, "name": "Jeanne Dupont"}
    return {
        "id": order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "app_id": 580111,
        "browser_ip": "203.0.113.17",
        "buyer_accepts_marketing": False,
        "cancel_reason": "customer" if cancelled else None,
        "cancelled_at": iso(cancelled) if cancelled else None,
        "cart_token": "hWN2zFXwRkd4nHn3ZUXSc8LT",
        "checkout_token": "bd5a8aa1ecd019dd3520ff791ee3a24c",
        "client_details": {"accept_language": "fr-FR", "browser_height": None,
                           "browser_ip": "203.0.113.17", "browser_width": None,
                           "session_hash": None,
                           "user_agent": "Mozilla/5.0 (X11; Linux x86_64) canary-shopper"},
        "confirmed": True,
        "contact_email": email,
        "created_at": iso(created),
        "currency": currency,
        "current_total_price": total,
        "customer_locale": "fr",
        "email": email,
        "financial_status": financial_status,
        "landing_site": landing_site,
        "name": "#1001",
        "note": None,
        "note_attributes": note_attributes or [],
        "order_number": 1001,
        "order_status_url": f"https://{SHOP_DOMAIN}/690933842/orders/123456abcd/authenticate"
                            "?key=canary-order-status-key",
        "phone": None,
        "presentment_currency": currency,
        "processed_at": iso(created),
        "referring_site": "https://www.facebook.com/",
        "source_name": "web",
        "subtotal_price": "189.00",
        "tags": "",
        "test": False,
        "total_discounts": "0.00",
        "total_price": total,
        "total_shipping_price_set": {"shop_money": {"amount": "10.00", "currency_code": currency},
                                     "presentment_money": {"amount": "10.00",
                                                           "currency_code": currency}},
        "total_tax": "31.50",
        "updated_at": iso(created),
        "billing_address": address,
        "shipping_address": address,
        "customer": {"id": 115310627314723954, "email": email, "first_name": "Jeanne",
                     "last_name": "Dupont", "phone": None, "state": "enabled",
                     "currency": currency},
        "line_items": [
            {"id": 866550311766439020, "admin_graphql_api_id": "gid://shopify/LineItem/1",
             "name": "Enamel mug - Blue", "price": "94.50", "product_id": 632910392,
             "quantity": 2, "sku": "MUG-BLUE", "title": "Enamel mug",
             "variant_id": 808950810, "variant_title": "Blue", "vendor": None},
        ],
        "refunds": refunds or [],
        "shipping_lines": [],
    }


def refund(order_id: int, refund_id: int, amount: str, *, currency: str = "EUR",
           status: str = "success", created: float | None = None) -> dict[str, Any]:
    """A refund resource like the refunds/create example of Shopify's webhook reference
    (made a minute ago unless ``created`` says when)."""
    created = time.time() - 60 if created is None else created
    return {
        "id": refund_id,
        "order_id": order_id,
        "created_at": iso(created),
        "note": "damaged",
        "user_id": None,
        "processed_at": iso(created),
        "restock": False,
        "admin_graphql_api_id": f"gid://shopify/Refund/{refund_id}",
        "refund_line_items": [
            {"id": 1, "quantity": 1, "line_item_id": 866550311766439020, "location_id": None,
             "restock_type": "no_restock", "subtotal": amount, "total_tax": "0.00",
             "line_item": {"id": 866550311766439020, "name": "Enamel mug - Blue",
                           "price": "94.50", "product_id": 632910392, "quantity": 2,
                           "sku": "MUG-BLUE", "title": "Enamel mug", "variant_id": 808950810}},
        ],
        "transactions": [
            {"id": refund_id + 1, "order_id": order_id, "kind": "refund", "gateway": "bogus",
             "status": status, "message": None, "created_at": iso(created), "test": False,
             "authorization": None, "currency": currency, "amount": amount,
             "parent_id": 389404469},
        ],
        "order_adjustments": [],
    }


def delivery(topic: str, payload: dict[str, Any] | bytes, secret: str, *,
             event_id: str | None = None, webhook_id: str | None = None,
             triggered_at: float | None = None) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one delivery (a retry passes the first one's ids again)."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": shopify_signature(body, secret),
        "X-Shopify-Shop-Domain": SHOP_DOMAIN,
        "X-Shopify-API-Version": "2025-07",
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Shopify-Event-Id": event_id or str(uuid.uuid4()),
    }
    if triggered_at is not None:
        headers["X-Shopify-Triggered-At"] = datetime.fromtimestamp(
            triggered_at, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    return body, headers
