"""SHOPIFY: the Shopify webhook source (route ``/webhooks/shopify``, web/webhooks.py).

Headers (https://shopify.dev/docs/apps/build/webhooks/delivery-structure, case-insensitive):
``X-Shopify-Hmac-Sha256`` base64 HMAC-SHA256 of the raw body with the app's secret
(https://shopify.dev/docs/apps/build/webhooks/verify-deliveries), ``X-Shopify-Topic``,
``X-Shopify-Event-Id`` (the same for every delivery of one event: the dedup key,
https://shopify.dev/docs/apps/build/webhooks/ignore-duplicates), ``X-Shopify-Webhook-Id``
(the fallback key), ``X-Shopify-Triggered-At`` (when the event happened; retries keep it,
https://shopify.dev/changelog/updates-to-webhook-retry-mechanism), ``X-Shopify-Shop-Domain``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TypeVar

from pydantic import BaseModel, SecretStr, ValidationError

from trackside.config import Settings
from trackside.events import parse_event_time, validation_errors
from trackside.sources.shopify import map as shopify_map
from trackside.sources.shopify.map import UNPAID_STATUSES
from trackside.sources.shopify.payload import Order, Refund
from trackside.sources.webhooks import (
    Conversion,
    Delivery,
    MapContext,
    Unconverted,
    body_digest,
    parse_json_object,
    verify_base64_hmac,
)

_M = TypeVar("_M", bound=BaseModel)

#: A shop's myshopify or own domain as the header names it (never a path or a port).
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})+")
#: Topics that are known but are not conversions by themselves.
_NOT_A_PURCHASE = {
    "orders/create": "orders/create is sent for unpaid orders too; the Purchase comes with "
                     "orders/paid",
    "orders/updated": "orders/updated is no payment; the Purchase comes with orders/paid",
}


def _malformed(what: str, exc: ValidationError) -> Conversion:
    fields = "; ".join(f"{e.field}: {e.reason}" for e in validation_errors(exc, what)[:5])
    return Conversion.ignored(Unconverted.MALFORMED, fields)


def _model(model: type[_M], body: dict[str, object]) -> _M | ValidationError:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        return exc


class ShopifySource:
    name = "shopify"
    title = "Shopify"
    secret_key = "shopify_webhook_secret"

    def secrets(self, settings: Settings) -> Sequence[SecretStr]:
        return settings.shopify_webhook_secret

    def is_ping(self, headers: Mapping[str, str], body: bytes) -> bool:
        return False  # Shopify's test deliveries are signed like any other

    def verify(self, headers: Mapping[str, str], body: bytes,
               secrets: Sequence[SecretStr]) -> bool:
        return verify_base64_hmac(body, headers.get("x-shopify-hmac-sha256"), secrets)

    def delivery(self, headers: Mapping[str, str], body: bytes) -> Delivery:
        key = (headers.get("x-shopify-event-id") or headers.get("x-shopify-webhook-id")
               or "").strip()[:200]
        triggered: float | None
        try:
            raw = headers.get("x-shopify-triggered-at")
            triggered = float(parse_event_time(raw)) if raw else None
        except ValueError:
            triggered = None
        domain = (headers.get("x-shopify-shop-domain") or "").strip().lower()
        topic = (headers.get("x-shopify-topic") or "").strip()[:100]
        # Keyed with its topic: should one shop event ever be delivered under two topics
        # (orders/updated and orders/paid), the ignored one must not hide the Purchase.
        return Delivery(delivery_id=f"{topic}:{key or body_digest(body)}", topic=topic,
                        triggered_at=triggered,
                        shop_domain=domain if _DOMAIN.fullmatch(domain) else None)

    def convert(self, delivery: Delivery, body: bytes, context: MapContext) -> Conversion:
        if delivery.triggered_at is not None and \
                context.now - delivery.triggered_at > context.max_age_s:
            age_h = (context.now - delivery.triggered_at) / 3600
            return Conversion.ignored(Unconverted.STALE, f"{delivery.topic} triggered "
                                      f"{age_h:.1f} h ago, older than every destination accepts")
        if delivery.topic in _NOT_A_PURCHASE:
            return Conversion.ignored(Unconverted.NOT_A_PURCHASE,
                                      _NOT_A_PURCHASE[delivery.topic])
        if delivery.topic not in ("orders/paid", "refunds/create", "orders/cancelled"):
            return Conversion.ignored(Unconverted.UNKNOWN_TOPIC,
                                      f"topic {delivery.topic or '(none)'!r} is not converted")
        parsed = parse_json_object(body)
        if parsed is None:
            return Conversion.ignored(Unconverted.MALFORMED, "the body is not a JSON object")
        if delivery.topic == "refunds/create":
            return self._refund(parsed, context)
        order = _model(Order, parsed)
        if isinstance(order, ValidationError):
            return _malformed("order", order)
        status = order.financial_status or ""
        if delivery.topic == "orders/paid":
            if status in UNPAID_STATUSES:
                return Conversion.ignored(Unconverted.UNPAID, f"order {order.id} is {status}")
            return Conversion([shopify_map.purchase(order, delivery, context)])
        if status in UNPAID_STATUSES:
            return Conversion.ignored(Unconverted.UNPAID, f"order {order.id} was cancelled "
                                      f"{status}: it was never paid, nothing was sent")
        raw, remainder = shopify_map.cancellation(order, context)
        if raw is None:
            return Conversion.ignored(Unconverted.NOTHING_TO_REFUND, f"order {order.id} was "
                                      f"cancelled; its refunds already cover it ({remainder})")
        return Conversion([raw])

    def _refund(self, parsed: dict[str, object], context: MapContext) -> Conversion:
        refund = _model(Refund, parsed)
        if isinstance(refund, ValidationError):
            return _malformed("refund", refund)
        raw = shopify_map.refund(refund, context)
        if raw is None:
            return Conversion.ignored(Unconverted.NOTHING_TO_REFUND,
                                      f"refund {refund.id} of order {refund.order_id} gave no "
                                      "money back")
        return Conversion([raw])


SHOPIFY = ShopifySource()
