"""Meta's accept-time "yes", judged on the canonical event without building its payload.

:func:`surely_accepted` answers True only when the payload ``event_payload`` (payload.py) would
build for the event passes every check of Meta's ``prepare`` after the window: the request
budget and rules 10-34 (rules/events.py). It never answers "refused": whatever it cannot vouch
for (a refusal, or a shape it does not know: app, messaging and system_generated events, LDU set
by the sender, custom_data keys the rules look at, user_data keys or values other than what
the normalizer writes) is False, and the caller asks the general path (payload, JSON, rules)
for the exact verdict. So it can only accept what the general path accepts, and refusals
keep their exact reasons (tests/unit/test_meta_fast_admission.py holds it to that).

Why checks can be left out: trackside's own builder never writes an unknown event key
(rule 21), always writes user_data as an object (22) and custom_data as an object (30), writes
opt_out only as True (19), LDU only as ``["LDU"]`` with a valid country and state (20, every
``meta_ldu`` setting), and the order's contents only as ``{id, quantity, item_price}`` with
``content_type`` "product" (34). What still can fail is checked on the event itself.
"""

from __future__ import annotations

import math

import orjson

from trackside.destinations.meta.rules.events import absolute_url, valid_ip
from trackside.destinations.meta.rules.facts import (
    CURRENCIES,
    FBC,
    FBP,
    HASH_COMPAT,
    HASH_STRICT,
    HASHED_KEYS,
    HEX64,
    MAX_AGE_S,
    MILLISECONDS_THRESHOLD,
    PHYSICAL_STORE_MAX_AGE_S,
    TOO_BROAD_SETS,
)
from trackside.destinations.meta.rules.model import RulesConfig
from trackside.events import NormalizedEvent

__all__ = ["surely_accepted"]

#: Sources whose rules (15 for website) are judged here; app (17), business_messaging (16)
#: and system_generated (18, CRM) go the general way.
_PLAIN_SOURCES = frozenset({"website", "email", "phone_call", "chat", "physical_store", "other"})
_HASHED = frozenset(HASHED_KEYS)
#: Clear user_data keys whose only rule is "a string" (28) or none (the name variants).
_TEXT_KEYS = frozenset({
    "client_user_agent", "subscription_id", "anon_id", "madid", "ctwa_clid", "ig_sid",
    "page_id", "page_scoped_user_id", "ig_account_id", "whatsapp_business_account_id",
    "f5first", "f5last", "fi", "dobd", "dobm", "doby",
})  # fmt: skip
#: custom_data keys some rule looks at (31-34); an event passing one through is judged by
#: the rules themselves.
_RULED_CUSTOM = frozenset({"value", "predicted_ltv", "net_revenue", "currency", "content_ids",
                           "contents", "content_type", "delivery_category", "num_items"})
#: Every key name, bracket, comma and number of the payload outside the strings counted below,
#: generously (the keys alone are under 400 characters).
_FIXED_BYTES = 1024
#: Per order item: its keys, quantity and price (a float is at most 24 characters of JSON).
_ITEM_BYTES = 160
#: A JSON string's worst case per character: a control character is six (``\\u001f``).
_PER_CHAR = 6
#: orjson writes a float in at least 3 characters, json in at most 24: json's encoding of
#: the same JSON value is at most 8 times orjson's (strings and integers are equal or shorter).
_JSON_OVER_ORJSON = 8
_ORJSON_STRICT = (orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME
                  | orjson.OPT_PASSTHROUGH_SUBCLASS)


def _text_bytes(value: str | None) -> int:
    return _PER_CHAR * len(value) + 2 if value else 0


def surely_accepted(event: NormalizedEvent, rules: RulesConfig, now: float,
                    max_request_bytes: int) -> bool:
    """True when Meta's ``prepare`` would take ``event`` once it is inside its window (see
    the module doc); False when it might not."""
    name = event.event_name  # rule 10
    if type(name) is not str or not name.strip():
        return False
    time = event.event_time  # rules 11-13
    if type(time) is not int or time < 0 or time > MILLISECONDS_THRESHOLD:
        return False
    source = event.action_source  # rule 14
    if source not in _PLAIN_SOURCES:
        return False
    max_age = (PHYSICAL_STORE_MAX_AGE_S
               if rules.allow_physical_store_62d and source == "physical_store" else MAX_AGE_S)
    if time < now - max_age or time > now + rules.max_future_skew_s:
        return False
    if source == "website" and not absolute_url(event.event_source_url):  # rule 15
        return False
    if type(event.event_id) is not str:  # rule 19
        return False
    referrer = event.referrer_url
    if referrer and type(referrer) is not str:
        return False
    if event.data_processing_options is not None:  # rule 20: the sender's own LDU
        return False
    size = (_FIXED_BYTES + _text_bytes(name) + _text_bytes(event.event_id)
            + _text_bytes(event.event_source_url) + _text_bytes(referrer))
    user_bytes = _user_data_bytes(event, rules)  # rules 23-29
    if user_bytes < 0:
        return False
    order_bytes = _order_bytes(event)  # rules 31-34
    if order_bytes < 0:
        return False
    custom = event.custom_data  # passed through beside the order (payload._custom_data)
    custom_bytes = 0
    if custom:
        if type(custom) is not dict or not _RULED_CUSTOM.isdisjoint(custom):
            return False
        try:
            custom_bytes = _JSON_OVER_ORJSON * len(orjson.dumps(custom, option=_ORJSON_STRICT))
        except TypeError:  # orjson.JSONEncodeError: what json may encode differently
            return False
    # Meta's prepare: the payload's JSON plus the request's brackets within the budget.
    return size + user_bytes + order_bytes + custom_bytes + 2 <= max_request_bytes


def _user_data_bytes(event: NormalizedEvent, rules: RulesConfig) -> int:
    """An upper bound of the payload's user_data in JSON bytes when rules 15 (the user agent)
    and 23-29 surely pass on it, else -1; mirrors payload._user_data."""
    pattern = HASH_STRICT if rules.strict else HASH_COMPAT
    present: set[str] = set()
    size = 0
    for key, raw in event.user_data.items():
        if type(key) is not str:
            return -1
        if key in _HASHED or key == "external_id":  # rules 23, 24
            hashed = key != "external_id"
            if type(raw) is str:
                if not raw:
                    continue  # payload._one_or_list leaves the key out
                if hashed and not pattern.fullmatch(raw):
                    return -1
                size += _PER_CHAR * len(raw) + 3
            elif type(raw) is list:
                kept = 0
                for value in raw:
                    if value is None or value == "":
                        continue  # dropped by payload._one_or_list
                    if type(value) is not str or (hashed and not pattern.fullmatch(value)):
                        return -1
                    kept += 1
                    size += _PER_CHAR * len(value) + 3
                if not kept:
                    continue
            elif raw is None:
                continue
            else:
                return -1
        elif key in _TEXT_KEYS or key in ("client_ip_address", "fbc", "fbp"):
            if raw is None or raw == "" or raw == []:
                continue  # left out of the payload
            if type(raw) is not str:
                return -1
            if key == "client_ip_address" and (HEX64.fullmatch(raw) or not valid_ip(raw)):
                return -1  # rule 25
            if key == "fbc" and not FBC.fullmatch(raw):  # rule 26
                return -1
            if key == "fbp" and not FBP.fullmatch(raw):  # rule 27
                return -1
            size += _PER_CHAR * len(raw) + 3
        elif key in ("lead_id", "fb_login_id"):
            return -1  # written as integers (payload.py): judged by the rules
        else:
            continue  # not a Meta key: payload._user_data leaves it out
        present.add(key)
        size += _PER_CHAR * len(key) + 4
    if rules.require_user_agent and event.action_source == "website" \
            and "client_user_agent" not in present:
        return -1
    if not present or any(present <= broad for broad in TOO_BROAD_SETS):  # rule 29
        return -1
    return size


def _plain_number(value: object) -> bool:
    """A finite float below 10^15: payload._number writes 1e300 as a 301-digit integer, which
    the size bound does not count (at most 24 characters a number); rule 31 refuses NaN."""
    return type(value) is float and math.isfinite(value) and abs(value) < 1e15


def _order_bytes(event: NormalizedEvent) -> int:
    """An upper bound of the order's custom_data in JSON bytes when rules 31-34 surely pass
    on it, else -1; mirrors payload._custom_data."""
    order = event.order
    if order is None:
        # Rule 33: a Purchase needs the order's value and currency (custom_data's own are
        # judged by the rules, see _RULED_CUSTOM).
        return -1 if event.event_name == "Purchase" else 0
    value, currency = order.value, order.currency
    if value is not None and not _plain_number(value):
        return -1  # rule 31 (payload._number keeps NaN and infinities)
    if currency and (type(currency) is not str or currency.upper() not in CURRENCIES):
        return -1  # rule 32
    if event.event_name == "Purchase" and (value is None or not currency):
        return -1  # rule 33
    size = _text_bytes(currency) + _text_bytes(order.reference) + 64
    for item in order.items:  # rule 34: contents and content_ids
        quantity, price = item.quantity, item.price
        if type(item.id) is not str or type(quantity) is not int or not 0 <= quantity < 10**15:
            return -1
        if price is not None and not _plain_number(price):
            return -1
        size += 2 * _text_bytes(item.id) + _ITEM_BYTES
    return size
