"""WOOCOMMERCE: the WooCommerce webhook source (route ``/webhooks/woocommerce``).

Headers (https://developer.woocommerce.com/docs/apis/rest-api/v3/webhooks/):
``X-WC-Webhook-Signature`` base64 HMAC-SHA256 of the raw body with the webhook's secret,
``X-WC-Webhook-Topic`` (``order.created``, ``order.updated``, …), ``X-WC-Webhook-Delivery-ID``
(the dedup key), ``X-WC-Webhook-Source`` (the site URL). Saving a webhook sends an unsigned
ping, the form body ``webhook_id=<n>``, which must be answered 200 or the webhook is not saved
(woocommerce/woocommerce: includes/class-wc-webhook.php, ``deliver_ping``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from pydantic import SecretStr, ValidationError

from trackside.config import Settings
from trackside.events import validation_errors
from trackside.sources.webhooks import (
    Conversion,
    Delivery,
    MapContext,
    Unconverted,
    body_digest,
    parse_json_object,
    verify_base64_hmac,
)
from trackside.sources.woocommerce import map as woo_map
from trackside.sources.woocommerce.payload import Order

_PING = re.compile(rb"webhook_id=\d{1,20}")
_ORDER_TOPICS = frozenset({"order.created", "order.updated"})
#: The site URL as the header gives it (used only to build the order-received URL).
_SITE = re.compile(r"https?://[A-Za-z0-9.-]+(?::\d{1,5})?(?:/[A-Za-z0-9._~%/-]*)?")


class WooCommerceSource:
    name = "woocommerce"
    title = "WooCommerce"
    secret_key = "woocommerce_webhook_secret"

    def secrets(self, settings: Settings) -> Sequence[SecretStr]:
        return settings.woocommerce_webhook_secret

    def is_ping(self, headers: Mapping[str, str], body: bytes) -> bool:
        return "x-wc-webhook-signature" not in headers and _PING.fullmatch(body) is not None

    def verify(self, headers: Mapping[str, str], body: bytes,
               secrets: Sequence[SecretStr]) -> bool:
        return verify_base64_hmac(body, headers.get("x-wc-webhook-signature"), secrets)

    def delivery(self, headers: Mapping[str, str], body: bytes) -> Delivery:
        key = (headers.get("x-wc-webhook-delivery-id") or "").strip()[:200]
        site = (headers.get("x-wc-webhook-source") or "").strip()
        return Delivery(delivery_id=key or body_digest(body),
                        topic=(headers.get("x-wc-webhook-topic") or "").strip()[:100],
                        shop_domain=site if _SITE.fullmatch(site) else None)

    def convert(self, delivery: Delivery, body: bytes, context: MapContext) -> Conversion:
        if delivery.topic not in _ORDER_TOPICS:
            return Conversion.ignored(Unconverted.UNKNOWN_TOPIC,
                                      f"topic {delivery.topic or '(none)'!r} is not converted")
        parsed = parse_json_object(body)
        if parsed is None:
            return Conversion.ignored(Unconverted.MALFORMED, "the body is not a JSON object")
        try:
            order = Order.model_validate(parsed)
        except ValidationError as exc:
            fields = "; ".join(f"{e.field}: {e.reason}"
                               for e in validation_errors(exc, "order")[:5])
            return Conversion.ignored(Unconverted.MALFORMED, fields)
        events = woo_map.refunds(order, context)
        if woo_map.is_paid(order):
            events.insert(0, woo_map.purchase(order, context, delivery.shop_domain))
        if events:
            return Conversion(events)
        if order.status == "refunded":
            return Conversion.ignored(Unconverted.NOTHING_TO_REFUND,
                                      f"order {order.id} is refunded with no amount to reverse")
        return Conversion.ignored(Unconverted.UNPAID, f"order {order.id} is {order.status[:40]!r}"
                                  ": unpaid orders are not sent")


WOOCOMMERCE = WooCommerceSource()
