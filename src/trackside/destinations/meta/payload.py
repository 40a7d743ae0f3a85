"""The CAPI event dict for one stored event.

Its shape follows Meta's parameter pages (server-event, customer-information-parameters and
custom-data under
https://developers.facebook.com/documentation/ads-commerce/conversions-api/parameters/).
"""

from __future__ import annotations

import math
from typing import Any

from trackside.destinations.meta import rules as meta_rules
from trackside.events import NormalizedEvent

__all__ = ["event_payload"]

#: Keys ``custom_data`` may not override: trackside fills them from the order.
_STANDARD_CUSTOM_KEYS = (
    "value",
    "currency",
    "contents",
    "content_ids",
    "content_type",
    "order_id",
    "num_items",
)
_CLEAR_USER_KEYS = frozenset(meta_rules.USER_DATA_KEYS) - set(meta_rules.HASHED_KEYS)

def _one_or_list(values: Any) -> Any:
    """Hashed keys go as a list, or as a plain string when there is one value (Meta takes
    both)."""
    if isinstance(values, list):
        values = [v for v in values if v not in (None, "")]
        if len(values) == 1:
            return values[0]
        return values or None
    return values if values not in (None, "") else None


def _user_data(event: NormalizedEvent) -> dict[str, Any]:
    user: dict[str, Any] = {}
    for key, raw in event.user_data.items():
        if key in meta_rules.HASHED_KEYS or key == "external_id":
            value = _one_or_list(raw)
        elif key in _CLEAR_USER_KEYS:
            value = raw if raw not in (None, "", []) else None
            # Meta types these as integers; the store keeps text.
            if key in ("lead_id", "fb_login_id") and isinstance(value, str) and value.isdigit():
                value = int(value)
        else:
            continue  # not a Meta key: never invent fields Meta would refuse (rule 21)
        if value is not None:
            user[key] = value
    return user


def _number(value: float) -> int | float:
    """1.0 → 1, so the JSON matches what a shop owner typed."""
    return int(value) if math.isfinite(value) and value == int(value) else value


def _custom_data(event: NormalizedEvent) -> dict[str, Any]:
    custom: dict[str, Any] = {}
    order = event.order
    if order is not None:
        if order.value is not None:
            custom["value"] = _number(order.value)
        if order.currency:
            custom["currency"] = order.currency
        if order.items:
            contents = []
            for item in order.items:
                content: dict[str, Any] = {"id": item.id, "quantity": item.quantity}
                if item.price is not None:
                    content["item_price"] = _number(item.price)
                contents.append(content)
            custom["contents"] = contents
            custom["content_ids"] = [item.id for item in order.items]
            custom["content_type"] = "product"
            custom["num_items"] = sum(item.quantity for item in order.items)
        if order.reference:
            custom["order_id"] = order.reference
    for key, value in event.custom_data.items():
        # Passthrough, but the order is the source of truth for the standard keys.
        if key in custom or (key in _STANDARD_CUSTOM_KEYS and order is not None):
            continue
        custom[key] = value
    return custom


def event_payload(event: NormalizedEvent, ldu: str = "off") -> dict[str, Any]:
    """The CAPI event dict for one stored event, Limited Data Use per ``ldu``."""
    payload: dict[str, Any] = {
        "event_name": event.event_name,
        "event_time": event.event_time,
        "event_id": event.event_id,
        "action_source": event.action_source,
    }
    if event.event_source_url:
        payload["event_source_url"] = event.event_source_url
    if event.referrer_url:
        payload["referrer_url"] = event.referrer_url
    if event.opt_out:
        payload["opt_out"] = True
    # Rule 20: "geo" lets Meta geolocate (0/0); "always-california" pins USA (1) / CA (1000).
    if ldu == "geo":
        payload["data_processing_options"] = ["LDU"]
        payload["data_processing_options_country"] = 0
        payload["data_processing_options_state"] = 0
    elif ldu == "always-california":
        payload["data_processing_options"] = ["LDU"]
        payload["data_processing_options_country"] = 1
        payload["data_processing_options_state"] = 1000
    if event.data_processing_options is not None:
        # The sender decided LDU for this event itself (e.g. Meta's SDK through the
        # Graph-compatible endpoint): its choice wins over the gateway-wide setting.
        for key in ("data_processing_options", "data_processing_options_country",
                    "data_processing_options_state"):
            payload.pop(key, None)
            if getattr(event, key) is not None:
                payload[key] = getattr(event, key)
    payload["user_data"] = _user_data(event)
    custom = _custom_data(event)
    if custom:
        payload["custom_data"] = custom
    return payload
