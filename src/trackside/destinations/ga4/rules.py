"""Local validation of GA4 Measurement Protocol limits, run before anything is sent.

Production ``/mp/collect`` answers 2xx even for payloads it then throws away
(https://developers.google.com/analytics/devguides/collection/protocol/ga4/reference), so a
payload that breaks a limit must be caught here and dead-lettered with the reason instead of
being sent blind. The limits are Google's
(https://developers.google.com/analytics/devguides/collection/protocol/ga4/sending-events),
plus the field rules of the reference page above and of the ecommerce events
(https://developers.google.com/analytics/devguides/collection/ga4/reference/events).

``request_problems`` returns plain-words reasons, each naming the field path, and an empty list
for a valid request body. The fake GA4 server (tests/fakes/ga4.py) implements the same rules on
its own, so a bug here shows up as a validation message in the tests.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from typing import Any, TypeGuard

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_EVENTS",
    "MAX_PARAM_VALUE_CHARS",
    "MAX_TIMESTAMP_AGE_S",
    "encode_body",
    "is_reserved_event_name",
    "is_valid_name",
    "request_problems",
]

# https://developers.google.com/analytics/devguides/collection/protocol/ga4/sending-events
MAX_EVENTS = 25
MAX_PARAMS = 25
MAX_USER_PROPERTIES = 25
MAX_NAME_CHARS = 40
MAX_PARAM_VALUE_CHARS = 100
MAX_USER_PROPERTY_NAME_CHARS = 24
MAX_USER_PROPERTY_VALUE_CHARS = 36
MAX_ITEM_CUSTOM_PARAMS = 10
#: "POST body < 130 kB": read strictly as 130 000 bytes.
MAX_BODY_BYTES = 130_000
# Google's sending-events guide: events can be backdated up to 72 hours.
MAX_TIMESTAMP_AGE_S = 72 * 3600
#: Clock skew tolerated for timestamps slightly in the future.
MAX_TIMESTAMP_SKEW_S = 60

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")

# https://support.google.com/analytics/answer/13316687
RESERVED_EVENT_NAMES = frozenset(
    {
        "ad_activeview", "ad_click", "ad_exposure", "ad_impression", "ad_query", "ad_reward",
        "adunit_exposure", "app_background", "app_clear_data", "app_exception", "app_install",
        "app_remove", "app_store_refund", "app_store_subscription_cancel",
        "app_store_subscription_convert", "app_store_subscription_renew", "app_update",
        "app_upgrade", "click", "dynamic_link_app_open", "dynamic_link_app_update",
        "dynamic_link_first_open", "error", "firebase_campaign",
        "firebase_in_app_message_action", "firebase_in_app_message_dismiss",
        "firebase_in_app_message_impression", "first_open", "first_visit", "in_app_purchase",
        "notification_dismiss", "notification_foreground",
        "notification_open", "notification_receive", "notification_send", "os_update",
        "page_view", "screen_view", "scroll", "session_start", "user_engagement",
    }
)  # fmt: skip
RESERVED_PREFIXES = ("_", "firebase_", "ga_", "google_", "gtag.")
RESERVED_USER_PROPERTIES = frozenset(
    {"first_open_time", "first_visit_time", "last_deep_link_referrer", "user_id",
     "first_open_after_install"}
)  # fmt: skip

#: Item parameters GA4 defines (ecommerce events reference); any other item key counts as a
#: custom item parameter.
STANDARD_ITEM_PARAMS = frozenset(
    {
        "item_id", "item_name", "affiliation", "coupon", "discount", "index", "item_brand",
        "item_category", "item_category2", "item_category3", "item_category4",
        "item_category5", "item_list_id", "item_list_name", "item_variant", "location_id",
        "price", "quantity", "promotion_id", "promotion_name", "creative_name", "creative_slot",
    }
)  # fmt: skip
#: Parameters that must be JSON numbers, never strings.
NUMERIC_PARAMS = frozenset({"value", "tax", "shipping", "engagement_time_msec"})
NUMERIC_ITEM_PARAMS = frozenset({"price", "quantity", "discount", "index"})
#: Events whose transaction_id GA4 de-duplicates on; empty ids collapse together
#: (https://support.google.com/analytics/answer/12313109).
TRANSACTION_EVENTS = frozenset({"purchase", "refund"})

_REQUEST_KEYS = frozenset(
    {"client_id", "user_id", "timestamp_micros", "user_properties", "consent",
     "non_personalized_ads", "user_location", "ip_override", "device", "user_data",
     "validation_behavior", "events"}
)  # fmt: skip
_CONSENT_KEYS = frozenset({"ad_user_data", "ad_personalization"})
_CONSENT_VALUES = frozenset({"GRANTED", "DENIED"})


def encode_body(body: Mapping[str, Any]) -> bytes:
    """The exact bytes trackside sends, so size checks measure what goes on the wire."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def is_valid_name(name: object, max_chars: int = MAX_NAME_CHARS) -> bool:
    return isinstance(name, str) and _is_valid_str_name(name, max_chars)


@functools.lru_cache(maxsize=1024)
def _is_valid_str_name(name: str, max_chars: int) -> bool:
    # Memoized: the same few parameter names (value, currency, items…) are checked on every
    # event at accept time (trackside/admission.py) and again at send time.
    return len(name) <= max_chars and bool(_NAME.fullmatch(name))


def is_reserved_event_name(name: str) -> bool:
    return name in RESERVED_EVENT_NAMES or name.startswith(RESERVED_PREFIXES)


def _is_mapping(value: object) -> TypeGuard[Mapping[Any, Any]]:
    # A dict first: isinstance against the Mapping ABC is the slow path, and trackside's own
    # bodies are dicts (the same verdict either way).
    return type(value) is dict or isinstance(value, Mapping)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _name_problems(name: object, path: str, max_chars: int = MAX_NAME_CHARS) -> list[str]:
    if not is_valid_name(name, max_chars):
        return [
            f"{path}: name {name!r} must be at most {max_chars} characters of letters, digits "
            "and underscores, starting with a letter"
        ]
    assert isinstance(name, str)
    if name.startswith(RESERVED_PREFIXES):
        return [f"{path}: name {name!r} uses a reserved prefix"]
    return []


def _value_problems(value: object, path: str, max_chars: int = MAX_PARAM_VALUE_CHARS) -> list[str]:
    if isinstance(value, str):
        if len(value) > max_chars:
            return [f"{path}: value is {len(value)} characters long, at most {max_chars} allowed"]
        return []
    if value is None or isinstance(value, bool) or _is_number(value):
        return []
    return [f"{path}: value must be a string, a number or a boolean"]


def _timestamp_problems(value: object, path: str, now: float) -> list[str]:
    # Unix microseconds are 16 digits for any date between 2001 and 2286; 13 digits is the
    # classic milliseconds bug.
    if not isinstance(value, int) or isinstance(value, bool) or len(str(value)) != 16:
        return [f"{path}: must be Unix time in microseconds (16 digits)"]
    age_s = now - value / 1_000_000
    if age_s > MAX_TIMESTAMP_AGE_S:
        return [f"{path}: is {age_s / 3600:.1f} hours old; GA4 takes at most 72 hours"]
    if age_s < -MAX_TIMESTAMP_SKEW_S:
        return [f"{path}: is in the future"]
    return []


def _item_problems(item: object, path: str) -> list[str]:
    if not _is_mapping(item):
        return [f"{path}: must be an object"]
    problems: list[str] = []
    if not item.get("item_id") and not item.get("item_name"):
        problems.append(f"{path}: needs item_id or item_name")
    custom = [key for key in item if key not in STANDARD_ITEM_PARAMS]
    if len(custom) > MAX_ITEM_CUSTOM_PARAMS:
        problems.append(
            f"{path}: {len(custom)} custom item parameters, at most {MAX_ITEM_CUSTOM_PARAMS}"
        )
    for key, value in item.items():
        problems += _name_problems(key, f"{path}.{key}")
        if key in NUMERIC_ITEM_PARAMS and not _is_number(value):
            problems.append(f"{path}.{key}: must be a JSON number")
        else:
            problems += _value_problems(value, f"{path}.{key}")
    return problems


def _event_problems(event: object, path: str, now: float) -> list[str]:
    if not _is_mapping(event):
        return [f"{path}: must be an object"]
    name = event.get("name")
    problems = _name_problems(name, f"{path}.name")
    if not problems and isinstance(name, str) and is_reserved_event_name(name):
        problems.append(f"{path}.name: {name!r} is a reserved event name")
    if "timestamp_micros" in event:
        problems += _timestamp_problems(event["timestamp_micros"], f"{path}.timestamp_micros", now)
    params = event.get("params", {})
    if not _is_mapping(params):
        return [*problems, f"{path}.params: must be an object"]
    if len(params) > MAX_PARAMS:
        problems.append(f"{path}.params: {len(params)} parameters, at most {MAX_PARAMS}")
    for key, value in params.items():
        where = f"{path}.params.{key}"
        problems += _name_problems(key, where)
        if key == "items":
            if not isinstance(value, list):
                problems.append(f"{where}: must be a list")
                continue
            for index, item in enumerate(value):
                problems += _item_problems(item, f"{where}[{index}]")
        elif key in NUMERIC_PARAMS and not _is_number(value):
            problems.append(f"{where}: must be a JSON number")
        else:
            problems += _value_problems(value, where)
    if "value" in params and not params.get("currency"):
        problems.append(f"{path}.params.currency: is required when value is set")
    currency = params.get("currency")
    if currency is not None and not (
        isinstance(currency, str) and len(currency) == 3 and currency.isalpha()
    ):
        problems.append(f"{path}.params.currency: must be a 3-letter ISO 4217 code")
    if name in TRANSACTION_EVENTS:
        transaction_id = params.get("transaction_id")
        if not isinstance(transaction_id, str) or not transaction_id.strip():
            problems.append(f"{path}.params.transaction_id: must be a non-empty string")
    return problems


def _user_property_problems(properties: object) -> list[str]:
    if not _is_mapping(properties):
        return ["user_properties: must be an object"]
    problems: list[str] = []
    if len(properties) > MAX_USER_PROPERTIES:
        problems.append(
            f"user_properties: {len(properties)} properties, at most {MAX_USER_PROPERTIES}"
        )
    for key, entry in properties.items():
        path = f"user_properties.{key}"
        problems += _name_problems(key, path, MAX_USER_PROPERTY_NAME_CHARS)
        if key in RESERVED_USER_PROPERTIES:
            problems.append(f"{path}: {key!r} is a reserved user property")
        if not _is_mapping(entry) or "value" not in entry:
            problems.append(f"{path}: must be an object with a value")
            continue
        problems += _value_problems(
            entry["value"], f"{path}.value", MAX_USER_PROPERTY_VALUE_CHARS
        )
    return problems


def request_problems(body: Mapping[str, Any], now: float) -> list[str]:
    """Every reason GA4 would drop or mangle this request body; empty when it is valid."""
    problems = [
        f"{key}: is not a Measurement Protocol field" for key in body if key not in _REQUEST_KEYS
    ]
    client_id = body.get("client_id")
    if not isinstance(client_id, str) or not client_id.strip():
        problems.append("client_id: is required (a non-empty string)")
    if "user_id" in body and (not isinstance(body["user_id"], str) or not body["user_id"]):
        problems.append("user_id: must be a non-empty string")
    if "timestamp_micros" in body:
        problems += _timestamp_problems(body["timestamp_micros"], "timestamp_micros", now)
    consent = body.get("consent")
    if consent is not None:
        if not _is_mapping(consent):
            problems.append("consent: must be an object")
        else:
            for key, value in consent.items():
                if key not in _CONSENT_KEYS:
                    problems.append(f"consent.{key}: is not a consent field GA4 takes")
                elif value not in _CONSENT_VALUES:
                    problems.append(f"consent.{key}: must be GRANTED or DENIED")
    if "user_properties" in body:
        problems += _user_property_problems(body["user_properties"])
    events = body.get("events")
    if not isinstance(events, list) or not events:
        problems.append("events: at least one event is required")
    else:
        if len(events) > MAX_EVENTS:
            problems.append(f"events: {len(events)} events, at most {MAX_EVENTS} per request")
        for index, event in enumerate(events):
            problems += _event_problems(event, f"events[{index}]", now)
    try:
        size = len(encode_body(body))
    except (TypeError, ValueError):
        problems.append("(body): is not serializable as JSON")
    else:
        if size >= MAX_BODY_BYTES:
            problems.append(f"(body): {size} bytes, must be under {MAX_BODY_BYTES}")
    return problems
