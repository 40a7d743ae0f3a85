"""Refunds: a GA4 ``refund`` for an order, tied to its Purchase.

Meta has no refund event (the pipeline records "not applicable" for it). The refund reuses
what the stored Purchase knows: its event id as GA4 ``transaction_id``, its currency and value
(a full refund when no value is given), the browser's client id (so GA4 credits the same
user) and the consent the shopper gave. GA4's ``refund``:
https://developers.google.com/analytics/devguides/collection/ga4/reference/events
"""

from __future__ import annotations

import time
from typing import Any

from trackside.config import Settings
from trackside.errors import RefundError
from trackside.identity.event_id import order_event_id, purchase_event_id
from trackside.shop_names import DEFAULT_SHOP
from trackside.store import EventView, Store


def stored_purchase(store: Store, settings: Settings, reference: str, *,
                    shop: str = DEFAULT_SHOP) -> EventView | None:
    """Shop ``shop``'s stored Purchase of order ``reference`` (``settings`` are that shop's)."""
    purchase_id = purchase_event_id(reference, settings.event_id_prefix)
    return next((v for v in store.event_view(purchase_id, shop=shop)
                 if v.event_name == "Purchase"), None)


def inherit_from_purchase(event: dict[str, Any], purchase: EventView | None) -> dict[str, Any]:
    """The refund with what it lacks taken from the order's Purchase: the browser's GA client
    id (GA4 credits the same user), the hashed external id, the country and the consent."""
    if purchase is None:
        return event
    stored = purchase.event
    user: dict[str, Any] = dict(event.get("user") or {})
    if stored.ga_client_id:
        user.setdefault("ga_client_id", stored.ga_client_id)
    if "external_id" in stored.user_data:
        user.setdefault("external_id", stored.user_data["external_id"])
    if stored.country_hint:
        user.setdefault("country", stored.country_hint)
    event = {**event, "user": user}
    if stored.consent is not None and event.get("consent") is None:
        event["consent"] = stored.consent.model_dump(exclude_none=True)
    return event


def build_refund(
    store: Store,
    settings: Settings,
    reference: str,
    value: float | None = None,
    currency: str | None = None,
    now: float | None = None,
    *,
    shop: str = DEFAULT_SHOP,
) -> dict[str, Any]:
    purchase_id = purchase_event_id(reference, settings.event_id_prefix)
    purchase = stored_purchase(store, settings, reference, shop=shop)
    order = purchase.event.order if purchase else None
    if value is None:
        if order is None or order.value is None:
            raise RefundError(f"no stored Purchase {purchase_id} with a value: pass --value")
        value = order.value
    if currency is None:
        if order is None or order.currency is None:
            raise RefundError(f"no stored Purchase {purchase_id} with a currency: pass --currency")
        currency = order.currency
    if value <= 0:
        raise RefundError("the refunded value must be positive")
    event: dict[str, Any] = {
        "event_name": "Refund",
        "event_id": order_event_id("Refund", reference, settings.event_id_prefix),
        "event_time": int(now if now is not None else time.time()),
        "action_source": "system_generated",
        "order": {"reference": reference, "value": value, "currency": currency},
        "user": {},
    }
    return inherit_from_purchase(event, purchase)
