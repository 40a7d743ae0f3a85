"""A fake GA4 Measurement Protocol server (Starlette, real HTTP via tests/fakes/server.py).

- ``POST /mp/collect`` records the request and its events and answers 204, like production GA4
  which answers 2xx to anything
  (https://developers.google.com/analytics/devguides/collection/protocol/ga4/reference). It
  also runs every validation rule and keeps what ``/debug/mp/collect`` would have said in
  ``.violations``, so a test can assert that every payload trackside sent was valid.
- ``POST /debug/mp/collect`` answers ``{"validationMessages": [...]}``
  (https://developers.google.com/analytics/devguides/collection/protocol/ga4/validating-events).
- A wrong or missing ``measurement_id``/``api_secret`` is still answered 2xx (GA4 does the
  same) but recorded in ``.auth_problems``.

The rules (body fields and limits from
https://developers.google.com/analytics/devguides/collection/protocol/ga4/sending-events,
ecommerce parameters from https://developers.google.com/analytics/devguides/collection/ga4/reference/events)
are written here on purpose without importing trackside's own validator
(``trackside.destinations.ga4.rules``): a bug there must show up as a message here.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")
UP_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,23}$")
RESERVED_EVENTS = {
    "ad_activeview", "ad_click", "ad_exposure", "ad_impression", "ad_query", "ad_reward",
    "adunit_exposure", "app_background", "app_clear_data", "app_exception", "app_install",
    "app_remove", "app_store_refund", "app_store_subscription_cancel",
    "app_store_subscription_convert", "app_store_subscription_renew", "app_update",
    "app_upgrade", "click", "dynamic_link_app_open", "dynamic_link_app_update",
    "dynamic_link_first_open", "error", "firebase_campaign", "firebase_in_app_message_action",
    "firebase_in_app_message_dismiss", "firebase_in_app_message_impression", "first_open",
    "first_visit", "in_app_purchase", "notification_dismiss", "notification_foreground",
    "notification_open", "notification_receive", "notification_send", "os_update",
    "page_view", "screen_view", "scroll", "session_start", "user_engagement",
}  # fmt: skip
RESERVED_PREFIXES = ("_", "firebase_", "ga_", "google_", "gtag.")
RESERVED_USER_PROPS = {
    "first_open_time", "first_visit_time", "last_deep_link_referrer", "user_id",
    "first_open_after_install",
}  # fmt: skip
ITEM_PARAMS = {
    "item_id", "item_name", "affiliation", "coupon", "discount", "index", "item_brand",
    "item_category", "item_category2", "item_category3", "item_category4", "item_category5",
    "item_list_id", "item_list_name", "item_variant", "location_id", "price", "quantity",
    "promotion_id", "promotion_name", "creative_name", "creative_slot",
}  # fmt: skip
NUMBER_PARAMS = {"value", "tax", "shipping", "engagement_time_msec"}
NUMBER_ITEM_PARAMS = {"price", "quantity", "discount", "index"}
TOP_LEVEL = {
    "client_id", "user_id", "timestamp_micros", "user_properties", "consent",
    "non_personalized_ads", "user_location", "ip_override", "device", "user_data",
    "validation_behavior", "events",
}  # fmt: skip
BODY_LIMIT = 130_000
HOURS_72_MICROS = 72 * 3600 * 1_000_000


def _msg(path: str, description: str, code: str) -> dict[str, str]:
    return {"fieldPath": path, "description": description, "validationCode": code}


def _number(value: Any) -> bool:
    return type(value) in (int, float)


class _Checker:
    """Collects GA4-style validation messages for one request body."""

    def __init__(self, now_micros: int) -> None:
        self.now = now_micros
        self.out: list[dict[str, str]] = []

    def add(self, path: str, description: str, code: str) -> None:
        self.out.append(_msg(path, description, code))

    def name(self, path: str, name: Any, pattern: re.Pattern[str] = NAME_RE) -> None:
        if not isinstance(name, str) or not pattern.match(name):
            self.add(path, f"Name {name!r} is invalid.", "NAME_INVALID")
        elif any(name.startswith(p) for p in RESERVED_PREFIXES):
            self.add(path, f"Name {name!r} uses a reserved prefix.", "NAME_RESERVED")

    def value(self, path: str, value: Any, limit: int = 100) -> None:
        if isinstance(value, str):
            if len(value) > limit:
                self.add(path, f"Value is longer than {limit} characters.", "VALUE_OUT_OF_BOUNDS")
        elif not (value is None or isinstance(value, bool) or _number(value)):
            self.add(path, "Value must be a string, number or boolean.", "VALUE_INVALID")

    def timestamp(self, path: str, ts: Any) -> None:
        if type(ts) is not int or not 10**15 <= ts < 10**16:
            self.add(path, "timestamp_micros must be Unix microseconds.", "VALUE_INVALID")
        elif ts < self.now - HOURS_72_MICROS:
            self.add(path, "timestamp_micros is more than 72 hours old.", "VALUE_OUT_OF_BOUNDS")
        elif ts > self.now + 60_000_000:
            self.add(path, "timestamp_micros is in the future.", "VALUE_OUT_OF_BOUNDS")

    def item(self, path: str, item: Any) -> None:
        if not isinstance(item, dict):
            self.add(path, "Item must be an object.", "VALUE_INVALID")
            return
        if not item.get("item_id") and not item.get("item_name"):
            self.add(path, "Item needs item_id or item_name.", "VALUE_REQUIRED")
        if sum(1 for k in item if k not in ITEM_PARAMS) > 10:
            self.add(path, "More than 10 custom item parameters.", "EXCEEDED_MAX_ENTITIES")
        for key, val in item.items():
            self.name(f"{path}.{key}", key)
            if key in NUMBER_ITEM_PARAMS:
                if not _number(val):
                    self.add(f"{path}.{key}", "Must be a number.", "VALUE_INVALID")
            else:
                self.value(f"{path}.{key}", val)

    def event(self, path: str, event: Any) -> None:
        if not isinstance(event, dict):
            self.add(path, "Event must be an object.", "VALUE_INVALID")
            return
        name = event.get("name")
        if name is None:
            self.add(f"{path}.name", "Event name is required.", "VALUE_REQUIRED")
        else:
            self.name(f"{path}.name", name)
            if name in RESERVED_EVENTS:
                self.add(f"{path}.name", f"Event name {name!r} is reserved.", "NAME_RESERVED")
        if "timestamp_micros" in event:
            self.timestamp(f"{path}.timestamp_micros", event["timestamp_micros"])
        params = event.get("params", {})
        if not isinstance(params, dict):
            self.add(f"{path}.params", "params must be an object.", "VALUE_INVALID")
            return
        if len(params) > 25:
            self.add(f"{path}.params", "More than 25 parameters.", "EXCEEDED_MAX_ENTITIES")
        for key, val in params.items():
            where = f"{path}.params.{key}"
            self.name(where, key)
            if key == "items":
                if isinstance(val, list):
                    for i, item in enumerate(val):
                        self.item(f"{where}[{i}]", item)
                else:
                    self.add(where, "items must be a list.", "VALUE_INVALID")
            elif key in NUMBER_PARAMS:
                if not _number(val):
                    self.add(where, "Must be a number.", "VALUE_INVALID")
            else:
                self.value(where, val)
        if "value" in params and not params.get("currency"):
            self.add(f"{path}.params.currency", "currency is required with value.", "VALUE_REQUIRED")
        cur = params.get("currency")
        if cur and not (isinstance(cur, str) and re.fullmatch(r"[A-Za-z]{3}", cur)):
            self.add(f"{path}.params.currency", "currency must be ISO 4217.", "VALUE_INVALID")
        if name in ("purchase", "refund"):
            tid = params.get("transaction_id")
            if not isinstance(tid, str) or tid.strip() == "":
                self.add(
                    f"{path}.params.transaction_id",
                    "transaction_id must be a non-empty string.",
                    "VALUE_REQUIRED",
                )

    def body(self, raw: bytes) -> list[dict[str, str]]:
        if len(raw) >= BODY_LIMIT:
            self.add("", f"Body is {len(raw)} bytes, must be under 130kB.", "VALUE_OUT_OF_BOUNDS")
        try:
            body = json.loads(raw)
        except ValueError:
            self.add("", "Body is not JSON.", "VALUE_INVALID")
            return self.out
        if not isinstance(body, dict):
            self.add("", "Body must be a JSON object.", "VALUE_INVALID")
            return self.out
        for key in body:
            if key not in TOP_LEVEL:
                self.add(key, f"Unknown field {key!r}.", "VALUE_INVALID")
        cid = body.get("client_id")
        if not isinstance(cid, str) or not cid.strip():
            self.add("client_id", "client_id is required.", "VALUE_REQUIRED")
        if "user_id" in body and (not isinstance(body["user_id"], str) or not body["user_id"]):
            self.add("user_id", "user_id must be a non-empty string.", "VALUE_INVALID")
        if "timestamp_micros" in body:
            self.timestamp("timestamp_micros", body["timestamp_micros"])
        if "consent" in body:
            consent = body["consent"]
            if not isinstance(consent, dict):
                self.add("consent", "consent must be an object.", "VALUE_INVALID")
            else:
                for key, val in consent.items():
                    if key not in ("ad_user_data", "ad_personalization"):
                        self.add(f"consent.{key}", "Unknown consent field.", "VALUE_INVALID")
                    elif val not in ("GRANTED", "DENIED"):
                        self.add(f"consent.{key}", "Must be GRANTED or DENIED.", "VALUE_INVALID")
        if "user_properties" in body:
            props = body["user_properties"]
            if not isinstance(props, dict):
                self.add("user_properties", "Must be an object.", "VALUE_INVALID")
            else:
                if len(props) > 25:
                    self.add("user_properties", "More than 25.", "EXCEEDED_MAX_ENTITIES")
                for key, entry in props.items():
                    self.name(f"user_properties.{key}", key, UP_NAME_RE)
                    if key in RESERVED_USER_PROPS:
                        self.add(f"user_properties.{key}", "Reserved.", "NAME_RESERVED")
                    if isinstance(entry, dict) and "value" in entry:
                        self.value(f"user_properties.{key}.value", entry["value"], 36)
                    else:
                        self.add(f"user_properties.{key}", "Needs a value.", "VALUE_REQUIRED")
        events = body.get("events")
        if not isinstance(events, list) or len(events) == 0:
            self.add("events", "At least one event is required.", "VALUE_REQUIRED")
        else:
            if len(events) > 25:
                self.add("events", "More than 25 events.", "EXCEEDED_MAX_ENTITIES")
            for i, event in enumerate(events):
                self.event(f"events[{i}]", event)
        return self.out


def validation_messages(raw: bytes, now: float | None = None) -> list[dict[str, str]]:
    """What this fake's /debug/mp/collect answers for a raw request body."""
    return _Checker(int((time.time() if now is None else now) * 1_000_000)).body(raw)


@dataclass
class RecordedRequest:
    path: str
    query: dict[str, str]
    body: bytes
    json: Any
    messages: list[dict[str, str]]
    auth_ok: bool


@dataclass
class FakeGA4:
    """State shared by the app and the test. Thread-safe: the app runs in uvicorn's thread."""

    measurement_id: str = "G-FAKE123456"
    api_secret: str = "fake-ga4-secret"
    url: str = ""
    requests: list[RecordedRequest] = field(default_factory=list)
    #: Events received at /mp/collect, each with the request's client_id/user_id/consent.
    events: list[dict[str, Any]] = field(default_factory=list)
    #: What /debug/mp/collect would have answered for payloads sent to /mp/collect.
    violations: list[dict[str, str]] = field(default_factory=list)
    auth_problems: list[str] = field(default_factory=list)
    #: Added to the fake's clock, to play a GA4 whose time differs from the sender's.
    clock_offset_s: float = 0.0
    #: Canned answers for the next /mp/collect requests: (status, headers).
    _canned: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, status: int, times: int = 1, headers: dict[str, str] | None = None) -> None:
        with self._lock:
            self._canned.extend([(status, headers or {})] * times)

    def _auth(self, request: Request) -> bool:
        problems = []
        if request.query_params.get("measurement_id") != self.measurement_id:
            problems.append(f"{request.url.path}: measurement_id missing or wrong")
        if request.query_params.get("api_secret") != self.api_secret:
            problems.append(f"{request.url.path}: api_secret missing or wrong")
        self.auth_problems.extend(problems)
        return not problems

    async def _handle(self, request: Request) -> Response:
        raw = await request.body()
        debug = request.url.path.startswith("/debug/")
        messages = validation_messages(raw, time.time() + self.clock_offset_s)
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None
        with self._lock:
            auth_ok = self._auth(request)
            self.requests.append(
                RecordedRequest(
                    request.url.path, dict(request.query_params), raw, parsed, messages, auth_ok
                )
            )
            if debug:
                return JSONResponse({"validationMessages": messages})
            self.violations.extend(messages)
            if self._canned:
                status, headers = self._canned.pop(0)
                return Response(status_code=status, headers=headers)
            if isinstance(parsed, dict) and isinstance(parsed.get("events"), list):
                shared = {k: parsed.get(k) for k in ("client_id", "user_id", "consent")}
                for event in parsed["events"]:
                    self.events.append({**shared, **event} if isinstance(event, dict) else event)
        return Response(status_code=204)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/mp/collect", self._handle, methods=["POST"]),
                Route("/debug/mp/collect", self._handle, methods=["POST"]),
            ]
        )
