"""A fake Stripe webhook sender, with this module's own code (never trackside's).

Events shaped like Stripe's documented ones: the Event object
(https://docs.stripe.com/api/events/object) wrapping an Invoice
(https://docs.stripe.com/api/invoices/object) of API version 2025-03-31 and later (the
subscription under ``parent.subscription_details``), or of an older version (``subscription``
at the top) with ``legacy=True``. Signed as Stripe signs
(https://docs.stripe.com/webhooks#verify-manually): ``Stripe-Signature: t=<ts>,v1=<hex>``,
HMAC-SHA256 of ``"{t}.{body}"``, one ``v1`` per secret while an endpoint secret is rolled.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any

DAY = 86400


def stripe_signature(body: bytes, secrets: list[str], timestamp: int) -> str:
    parts = [f"t={timestamp}"]
    for secret in secrets:
        signed = f"{timestamp}.".encode() + body
        parts.append("v1=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest())
    return ",".join(parts)


def invoice(subscription: str, period_start: int, *, first: bool, amount: int = 2000,
            currency: str = "usd", legacy: bool = False, paid_at: int | None = None,
            email: str = "jenny.rosen@example.com") -> dict[str, Any]:
    """A paid subscription invoice: ``period_start`` is the start of the period paid for (its
    line's ``period.start``); the invoice's own period_start looks back one period, as
    Stripe's do for a renewal."""
    period_end = period_start + 30 * DAY
    paid_at = paid_at if paid_at is not None else int(time.time()) - 60
    line: dict[str, Any] = {
        "id": "il_" + uuid.uuid4().hex[:14], "object": "line_item", "amount": amount,
        "currency": currency, "description": "1 × Pro plan (at $20.00 / month)",
        "period": {"start": period_start, "end": period_end}, "quantity": 1,
        "pricing": {"type": "price_details",
                    "price_details": {"price": "price_1Pro", "product": "prod_Pro"}},
        "parent": {"type": "subscription_item_details",
                   "subscription_item_details": {"subscription": subscription,
                                                 "subscription_item": "si_1"}},
    }
    body: dict[str, Any] = {
        "id": "in_" + uuid.uuid4().hex[:24], "object": "invoice",
        "account_country": "US", "amount_due": amount, "amount_paid": amount,
        "amount_remaining": 0, "attempt_count": 1, "attempted": True,
        "billing_reason": "subscription_create" if first else "subscription_cycle",
        "collection_method": "charge_automatically", "created": paid_at - 5,
        "currency": currency, "customer": "cus_NeZwdNtLEOXuvB",
        "customer_address": {"city": "South San Francisco", "country": "US",
                             "line1": "354 Oyster Point Blvd", "line2": None,
                             "postal_code": "94080", "state": "CA"},
        "customer_email": email, "customer_name": "Jenny Rosen",
        "customer_phone": "(650) 555-1212", "livemode": False,
        "lines": {"object": "list", "data": [line], "has_more": False,
                  "url": "/v1/invoices/in_x/lines"},
        "paid": True,
        "period_start": period_start if first else period_start - 30 * DAY,
        "period_end": period_start,
        "status": "paid", "status_transitions": {"paid_at": paid_at, "finalized_at": paid_at},
        "total": amount,
    }
    if legacy:
        body["subscription"] = subscription
        line.pop("parent")
        line["subscription"] = subscription
        line["price"] = {"id": "price_1Pro", "object": "price", "product": "prod_Pro"}
        line.pop("pricing")
    else:
        body["parent"] = {"type": "subscription_details",
                          "subscription_details": {"subscription": subscription,
                                                   "metadata": {}}}
    return body


def event(event_type: str, data_object: dict[str, Any], event_id: str | None = None,
          created: int | None = None) -> dict[str, Any]:
    return {
        "id": event_id or "evt_" + uuid.uuid4().hex[:24], "object": "event",
        "api_version": "2025-03-31.basil", "created": created or int(time.time()),
        "data": {"object": data_object}, "livemode": False, "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None}, "type": event_type,
    }


def delivery(payload: dict[str, Any] | bytes, secrets: list[str],
             timestamp: int | None = None) -> tuple[bytes, dict[str, str]]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    timestamp = int(time.time()) if timestamp is None else timestamp
    return body, {"Content-Type": "application/json; charset=utf-8",
                  "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                  "Stripe-Signature": stripe_signature(body, secrets, timestamp)}
