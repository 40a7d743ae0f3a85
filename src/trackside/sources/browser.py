"""The browser tag's beacon → the canonical event, and the facts the join needs about it.

What t.js posts names the page, the cookies the tag read and the order; the IP and the user
agent come from the request (web/collect.py passes them), never from the body. A Purchase's
event id is the server's rule applied to the order reference, never the browser's word
(docs/browser-tag.md "Page API"). A cart or customer id is kept only with the store's join token
(sources/signing.py): a stored id would be found by the store's later events (trackside.join),
and anyone can claim a guessable customer id.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from trackside.config import Settings
from trackside.destinations.ga4.settings import GA4Settings
from trackside.errors import RequestError
from trackside.events import Event, FieldError, parse_event, validation_errors
from trackside.identity.cookies import ga_client_id
from trackside.sources import signing
from trackside.sources.event_names import BrowserEventNames
from trackside.sources.facts import BrowserFacts

_EVENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,200}")
_ITEM_KEYS = ("id", "name", "price", "quantity", "category")
# Never custom_data: the order's own fields, and Meta-shape keys (order_id, contents) the
# event model would read as an order.
# Join tokens are proofs for the gateway only: never custom_data, never a vendor's.
_ORDER_PARAMS = frozenset({"value", "currency", "items", "reference", "signature", "cart_id",
                           "customer_id", "order_id", "contents",
                           *signing.JOIN_TOKEN_PARAMS.values()})
_MAX_CUSTOM_KEYS = 30
_CONSENT_SIGNALS = ("ad_storage", "analytics_storage", "ad_user_data", "ad_personalization")


class Beacon(BaseModel):
    """What t.js posts (text/plain or JSON): one event and the page's context."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["track", "purchase"] = "track"
    event_name: str = Field(min_length=1, max_length=100)
    event_id: str | None = Field(default=None, max_length=200)
    url: str | None = Field(default=None, max_length=8192)
    referrer: str | None = Field(default=None, max_length=8192)
    params: dict[str, Any] = Field(default_factory=dict)
    cookies: dict[str, str] = Field(default_factory=dict, max_length=40)
    fbclid: str | None = Field(default=None, max_length=1000)
    consent: dict[str, Any] | None = None
    pixel: bool | None = None

    def consent_signals(self) -> dict[str, str]:
        """The Consent Mode signals the page stated, each ``granted`` or ``denied``."""
        return {key: value for key, value in (self.consent or {}).items()
                if key in _CONSENT_SIGNALS and value in ("granted", "denied")}

    def click_id(self) -> str | None:
        """The fbclid the tag read, else the one in the page URL."""
        return self.fbclid or _fbclid_of(self.url)


class BeaconRefused(RequestError):
    """The body is not a beacon; ``errors`` names the fields when it is JSON of another shape."""

    def __init__(self, message: str, errors: list[FieldError] | None = None) -> None:
        self.message = message
        self.errors = errors or []
        super().__init__(message)


def read_beacon(body: bytes) -> Beacon:
    try:
        return Beacon.model_validate_json(body)
    except ValidationError as exc:
        if any(e["type"] in ("json_invalid", "json_type") for e in exc.errors()):
            raise BeaconRefused("The beacon is not valid JSON") from None
        raise BeaconRefused("The beacon is not a trackside event",
                            validation_errors(exc)) from None


class BeaconMapping:
    """Beacons to canonical events under one configuration."""

    def __init__(self, settings: Settings) -> None:
        self.names = BrowserEventNames(settings.browser_custom_events)
        ga4 = settings.destination("ga4", GA4Settings)
        stream = (ga4.ga4_measurement_id or "").removeprefix("G-")
        self.ga_session_cookie = f"_ga_{stream}" if stream else None
        key = settings.signing_key
        self.signing_key = key.get_secret_value() if key else None
        self.max_event_bytes = settings.max_event_bytes

    def event(self, beacon: Beacon, cookies: Mapping[str, str], *, fbp: str | None,
              fbc: str | None, ip: str | None, user_agent: str | None,
              consent: dict[str, str] | None = None,
              ) -> tuple[Event, BrowserFacts] | list[FieldError]:
        """The canonical event and the facts the join needs, or the beacon's fields that
        refuse it.

        ``cookies`` are the request's and the beacon's; ``fbp``/``fbc`` the values the event
        carries (web/browser.py decides them with the cookies the response sets);
        ``consent`` the beacon's ``consent_signals()`` when the caller already has them.
        """
        params = beacon.params
        purchase = beacon.type == "purchase"
        name = "Purchase" if purchase else self.names.canonical(beacon.event_name)
        if name is None:
            return [FieldError(field="event_name", reason=self.names.refusal())]
        if not purchase and name == "Purchase":
            return [FieldError(field="event_name", reason="a Purchase is sent with "
                               "trackside('purchase', {reference, …}), not 'track'")]
        if purchase and not params.get("reference"):
            return [FieldError(field="params.reference", reason="a purchase needs the order "
                               "reference")]
        if not purchase and (beacon.event_id is None or not _EVENT_ID.fullmatch(beacon.event_id)):
            return [FieldError(field="event_id", reason="must be 1-200 letters, digits or ._:-")]
        user: dict[str, Any] = {"ip": ip, "user_agent": user_agent, "fbp": fbp, "fbc": fbc}
        if cookies.get("_ga"):
            user["ga_client_id"] = ga_client_id(cookies["_ga"])
        session = self._ga_session(cookies)
        if session:
            user["ga_session_id"] = session
        join_keys, notes = self._join_keys(params)
        if consent is None:
            consent = beacon.consent_signals()
        raw: dict[str, Any] = {
            "event_name": name,
            "event_id": None if purchase else beacon.event_id,
            "event_source_url": beacon.url or None,
            "referrer_url": beacon.referrer or None,
            "user": {k: v for k, v in user.items() if v},
            "consent": consent or None,
            **join_keys,
            "custom_data": _custom_data(params) or None,
        }
        order = {k: params[k] for k in ("value", "currency") if params.get(k) is not None}
        if isinstance(params.get("items"), list):
            order["items"] = [{k: it[k] for k in _ITEM_KEYS if k in it} if isinstance(it, dict)
                              else it for it in params["items"][:200]]
        if purchase:
            order["reference"] = params["reference"]
        if order:
            raw["order"] = order
        event = parse_event({k: v for k, v in raw.items() if v is not None}, prefix="",
                            max_event_bytes=self.max_event_bytes)
        if isinstance(event, list):
            return [FieldError(field=_beacon_field(e.field), reason=e.reason) for e in event]
        verified = False
        if purchase and event.order is not None:
            verified = signing.verify_purchase(
                self.signing_key, params.get("signature"),
                event.order.reference, event.order.value, event.order.currency)
        return event, BrowserFacts(pixel=beacon.pixel, verified=verified,
                                   refused_join_keys=tuple(notes))

    def _join_keys(self, params: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
        """The cart and customer ids the store vouched for, and a note for each one it did not."""
        kept: dict[str, str] = {}
        notes: list[str] = []
        for id_param, token_param in signing.JOIN_TOKEN_PARAMS.items():
            value = _text(params.get(id_param))
            if value is None:
                continue
            kind = id_param.removesuffix("_id")
            if signing.verify_join_token(self.signing_key, kind, value, params.get(token_param)):
                kept[id_param] = value
            else:
                why = ("TRACKSIDE_SIGNING_KEY is not set" if self.signing_key is None
                       else f"no valid {token_param}")
                notes.append(f"{id_param} not used for joins: {why}")
        return kept, notes

    def _ga_session(self, cookies: Mapping[str, str]) -> str | None:
        if self.ga_session_cookie:
            return cookies.get(self.ga_session_cookie)
        # The first by name, as sorting them all would find it.
        names = [name for name in cookies if name.startswith("_ga_")]
        return cookies[min(names)] if names else None


def _fbclid_of(url: str | None) -> str | None:
    if not url or "fbclid=" not in url:
        return None
    try:
        query = urlsplit(url).query
    except ValueError:  # e.g. an unclosed IPv6 bracket: no click id to read, not a 500
        return None
    values = parse_qs(query).get("fbclid")
    return values[0] if values else None


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (str, int)):
        return str(value)[:200] or None
    return None


def _custom_data(params: dict[str, Any]) -> dict[str, Any]:
    """Page parameters beyond the order (search_string, content_name…): scalars only."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if key in _ORDER_PARAMS or len(out) >= _MAX_CUSTOM_KEYS:
            continue
        if isinstance(value, (str, int, float, bool)) and len(key) <= 64:
            out[key] = value[:500] if isinstance(value, str) else value
    return out


def _beacon_field(field: str) -> str:
    """Name a field as the page passed it (params.value), not as the canonical event has it."""
    for prefix in ("order.items", "order.value", "order.currency", "order.reference"):
        if field.startswith(prefix):
            return "params." + field[len("order."):]
    return field
