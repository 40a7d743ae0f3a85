"""GA4's accept-time "yes" on a payload trackside built, without the general request check.

:func:`surely_valid` answers True only when ``rules.request_problems`` would find nothing in the
request body of this one payload (``destination._body``). It knows the payload's shape
(``GA4Destination._payload``: the client and user ids, the consent, one event of known
parameters and items of known keys), so the checks that shape makes impossible are left out
(unknown request keys, parameter and item-parameter counts and names); what still can fail is
checked, and the JSON size is bounded from the strings' lengths instead of encoded. Anything
else, or a body near the 130 kB limit, is False: the caller asks ``request_problems`` for the
exact verdict (tests/unit/test_ga4_fast_admission.py holds the two to that).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import Any

from trackside.destinations.ga4 import rules as ga4_rules
from trackside.limits import LONE_SURROGATE

__all__ = ["surely_valid"]

#: The parameters ``GA4Destination._params`` writes; other keys go the general way.
_TEXT_PARAMS = frozenset({"transaction_id", "currency", "coupon", "search_term", "session_id"})
_ITEM_TEXT = ("item_name", "item_category")
_ITEM_KEYS = frozenset({"item_id", "item_name", "price", "quantity", "item_category"})
#: Every key, bracket, comma and number outside the strings counted below, generously.
_FIXED_BYTES = 1024
#: Per item: its keys, price and quantity.
_ITEM_BYTES = 160
#: A JSON string's worst case per character: a control character is six (``\\u001f``).
_PER_CHAR = 6
_MAX_CHARS = ga4_rules.MAX_PARAM_VALUE_CHARS


@functools.lru_cache(maxsize=256)
def _good_event_name(name: str) -> bool:
    return not ga4_rules._name_problems(name, "") and not ga4_rules.is_reserved_event_name(name)


def _text(value: object, limit: int | None = _MAX_CHARS) -> int:
    """The string's JSON bytes at most, -1 when it is not a string GA4 and json both take."""
    if type(value) is not str or (limit is not None and len(value) > limit):
        return -1
    if not value.isascii() and LONE_SURROGATE.search(value):
        return -1  # UTF-8 cannot encode it: "(body): is not serializable as JSON"
    return _PER_CHAR * len(value) + 3


def _finite(value: object) -> bool:
    return (type(value) is float and math.isfinite(value)) or (
        type(value) is int and abs(value) < 10**15)


def surely_valid(payload: Mapping[str, Any], now: float) -> bool:
    """True when ``request_problems(_body([payload]), now)`` is surely empty (see above)."""
    client_id = payload.get("client_id")
    if type(client_id) is not str or not client_id.strip():
        return False
    size = _text(client_id, None)
    if size < 0:
        return False
    if "user_id" in payload:
        user_id = payload["user_id"]
        grown = _text(user_id, None)
        if not user_id or grown < 0:
            return False
        size += grown
    size += _FIXED_BYTES
    consent = payload.get("consent")
    if consent is not None and (type(consent) is not dict or any(
            key not in ("ad_user_data", "ad_personalization")
            or value not in ("GRANTED", "DENIED") for key, value in consent.items())):
        return False
    event = payload.get("event")
    if type(event) is not dict or set(event) != {"name", "params", "timestamp_micros"}:
        return False
    name = event["name"]
    if type(name) is not str or not _good_event_name(name):
        return False
    micros = event["timestamp_micros"]
    if type(micros) is not int or not 10**15 <= micros < 10**16:
        return False
    age_s = now - micros / 1_000_000
    if age_s > ga4_rules.MAX_TIMESTAMP_AGE_S or age_s < -ga4_rules.MAX_TIMESTAMP_SKEW_S:
        return False
    params = event["params"]
    if type(params) is not dict or len(params) > ga4_rules.MAX_PARAMS:
        return False
    for key, value in params.items():
        if key == "items":
            if type(value) is not list:
                return False
            for item in value:
                grown = _item_bytes(item)
                if grown < 0:
                    return False
                size += grown
        elif key in ga4_rules.NUMERIC_PARAMS:
            if not _finite(value):
                return False
        elif key in _TEXT_PARAMS:
            grown = _text(value)
            if grown < 0:
                return False
            size += grown
        else:
            return False
    if "value" in params and not params.get("currency"):
        return False
    currency = params.get("currency")
    if currency is not None and not (
            isinstance(currency, str) and len(currency) == 3 and currency.isalpha()):
        return False
    if name in ga4_rules.TRANSACTION_EVENTS:
        transaction_id = params.get("transaction_id")
        if not isinstance(transaction_id, str) or not transaction_id.strip():
            return False
    return size < ga4_rules.MAX_BODY_BYTES


def _item_bytes(item: object) -> int:
    """An item's JSON bytes at most when ``_item_problems`` finds nothing in it, else -1."""
    if type(item) is not dict or not _ITEM_KEYS.issuperset(item):
        return -1
    size = _text(item.get("item_id"))
    if size < 0 or not item["item_id"]:
        return -1
    for key in _ITEM_TEXT:
        if key in item:
            grown = _text(item[key])
            if grown < 0:
                return -1
            size += grown
    if "price" in item and not _finite(item["price"]):
        return -1
    if not _finite(item.get("quantity")):
        return -1
    return size + _ITEM_BYTES
