"""POST /collect: the browser tag's beacon, turned into a canonical event for ``accept()``.

Order of checks, cheapest first: Origin (403), rate per client (429), body size (413), media
type (415), beacon shape (400). The answer (202) comes only after the event is committed, and
carries the first-party ``_fbp``/``_fbc`` cookies (spec/integrations.md §6, meta-capi.md §3.2).
The beacon names cookies and page data the tag read; the IP and user agent come from the
request itself, never from the body.
"""

from __future__ import annotations

import logging
import math
import re
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from trackside.config import ConfigError
from trackside.destinations.ga4.settings import GA4Settings
from trackside.events import Event, FieldError, parse_event, validation_errors
from trackside.identity.cookies import ga_client_id
from trackside.join import BROWSER_SOURCE, MARK
from trackside.runtime import Runtime
from trackside.web import browser
from trackside.web.committer import Committer, CommitterClosed
from trackside.web.errors import error_response
from trackside.web.event_names import BrowserEventNames
from trackside.web.requests import BodyIncomplete, BodyTooLarge, read_body
from trackside.web.tag import TagEndpoint

log = logging.getLogger("trackside.collect")

MAX_BODY_BYTES = 64 * 1024
RATE_PER_S = 20.0  # sustained beacons per client address (IPv6: per /64)
BURST = 200.0
_EVENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,200}")
_ITEM_KEYS = ("id", "name", "price", "quantity", "category")
# Never custom_data: the order's own fields, and Meta-shape keys (order_id, contents) the
# event model would read as an order.
# Join tokens are proofs for the gateway only: never custom_data, never a vendor's.
_ORDER_PARAMS = frozenset({"value", "currency", "items", "reference", "signature", "cart_id",
                           "customer_id", "order_id", "contents",
                           *browser.JOIN_TOKEN_PARAMS.values()})
_MAX_CUSTOM_KEYS = 30
_MEDIA_TYPES = ("", "application/json", "text/plain")


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


class CollectEndpoint:
    def __init__(self, runtime: Runtime, *, rate_per_s: float = RATE_PER_S,
                 burst: float = BURST) -> None:
        self.runtime = runtime
        settings = runtime.settings
        try:
            self.trusted = browser.parse_networks(settings.trusted_proxies)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        self.origins = browser.OriginPolicy(settings.allowed_origins)
        self.names = BrowserEventNames(settings.browser_custom_events)
        self.limiter = browser.RateLimiter(rate_per_s, burst)
        self.index = browser.subdomain_index(settings.cookie_domain)
        ga4 = settings.destination("ga4", GA4Settings)
        stream = (ga4.ga4_measurement_id or "").removeprefix("G-")
        self.ga_session_cookie = f"_ga_{stream}" if stream else None
        self._own_committer: Committer | None = None

    def _committer(self, request: Request) -> Committer:
        shared = getattr(request.app.state, "committer", None)
        if isinstance(shared, Committer):
            return shared
        if self._own_committer is None:  # mounted outside create_app (tests, demo)
            self._own_committer = Committer(self.runtime.pipeline)
        return self._own_committer

    def _cors(self, origin: str | None) -> dict[str, str]:
        if not origin:
            return {}
        return {"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true",
                "Vary": "Origin"}

    async def preflight(self, request: Request) -> Response:
        origin = request.headers.get("origin")
        if not self.origins.allows(origin, request.headers.get("host")):
            return error_response(403, "This origin may not send events here "
                                       "(TRACKSIDE_ALLOWED_ORIGINS)")
        headers = self._cors(origin)
        headers.update({"Access-Control-Allow-Methods": "POST",
                        "Access-Control-Allow-Headers": "Content-Type",
                        "Access-Control-Max-Age": "86400"})
        return Response(status_code=204, headers=headers)

    async def post(self, request: Request) -> Response:
        origin = request.headers.get("origin")
        if not self.origins.allows(origin, request.headers.get("host")):
            return error_response(403, "This origin may not send events here "
                                       "(TRACKSIDE_ALLOWED_ORIGINS)")
        cors = self._cors(origin)
        peer = request.client.host if request.client else None
        ip = browser.client_ip(peer, request.headers.get("x-forwarded-for"), self.trusted)
        wait = self.limiter.check(browser.rate_key(ip or "unknown"))
        if wait is not None:
            retry = str(max(1, math.ceil(wait)))
            return error_response(429, f"Too many events from this address; retry in {retry} s",
                                  headers={**cors, "Retry-After": retry})
        media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media not in _MEDIA_TYPES:
            return error_response(415, "Send the beacon as application/json or text/plain",
                                  headers=cors)
        try:
            body = await read_body(request, MAX_BODY_BYTES)
        except BodyTooLarge:
            return error_response(413, f"The beacon is over {MAX_BODY_BYTES} bytes", headers=cors)
        except BodyIncomplete:
            return error_response(400, "The beacon was not received completely", headers=cors)
        try:
            beacon = Beacon.model_validate_json(body)
        except ValidationError as exc:
            if any(e["type"] in ("json_invalid", "json_type") for e in exc.errors()):
                return error_response(400, "The beacon is not valid JSON", headers=cors)
            return error_response(400, "The beacon is not a trackside event",
                                  validation_errors(exc), headers=cors)

        known = {**request.cookies, **beacon.cookies}
        consent = _consent(beacon.consent)
        fbclid = beacon.fbclid or _fbclid_of(beacon.url)
        may_store = consent.get("ad_storage") == "granted" or (
            "ad_storage" not in consent and self.runtime.settings.consent_mode == "off")
        cookies = browser.decide_cookies(known, fbclid, int(time.time() * 1000), self.index,
                                         may_store)
        event_or_errors = self._event(beacon, known, consent, cookies, ip,
                                      request.headers.get("user-agent"))
        if isinstance(event_or_errors, list):
            return error_response(400, "The event is not valid", event_or_errors, headers=cors)
        try:
            results = await self._committer(request).accept([event_or_errors], BROWSER_SOURCE)
        except CommitterClosed:
            return error_response(503, "The gateway is shutting down; retry later", headers=cors)
        except Exception as exc:  # noqa: BLE001 (the store failed: 503; the log says why)
            log.error("Beacon not stored: %s.", type(exc).__name__)
            return error_response(503, headers={**cors, "Retry-After": "5"})
        result = results[0]
        response = JSONResponse({"status": result.status, "event_id": result.event_id},
                                status_code=202, headers=cors)
        secure = (origin or "").startswith("https://") or request.url.scheme == "https"
        for name, value, wanted in (("_fbp", cookies.fbp, cookies.set_fbp),
                                    ("_fbc", cookies.fbc, cookies.set_fbc)):
            if wanted and value:
                # Not HttpOnly: the Meta Pixel reads these (spec/integrations.md §6.3).
                response.set_cookie(name, value, max_age=browser.COOKIE_MAX_AGE_S, path="/",
                                    domain=self.runtime.settings.cookie_domain, secure=secure,
                                    httponly=False, samesite="lax")
        return response

    def _event(self, beacon: Beacon, known: dict[str, str], consent: dict[str, str],
               cookies: browser.CookieDecision, ip: str | None,
               user_agent: str | None) -> Event | list[FieldError]:
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
        user: dict[str, Any] = {"ip": ip, "user_agent": user_agent, "fbp": cookies.fbp,
                                "fbc": cookies.fbc}
        if known.get("_ga"):
            user["ga_client_id"] = ga_client_id(known["_ga"])
        session = self._ga_session(known)
        if session:
            user["ga_session_id"] = session
        join_keys, notes = self._join_keys(params)
        raw: dict[str, Any] = {
            "event_name": name,
            # A purchase's id is the server's own rule applied to the reference, never the
            # browser's word (DESIGN.md "Event ids").
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
                            max_event_bytes=self.runtime.settings.max_event_bytes)
        if isinstance(event, list):
            return [FieldError(field=_beacon_field(e.field), reason=e.reason) for e in event]
        verified = False
        if purchase and event.order is not None:
            key = self.runtime.settings.signing_key
            verified = browser.verify_purchase(
                key.get_secret_value() if key else None, params.get("signature"),
                event.order.reference, event.order.value, event.order.currency)
        # Read and removed by trackside.join before the event is stored; a client cannot
        # set it (params never reach this key, see _custom_data).
        event.custom_data[MARK] = {"pixel": beacon.pixel, "verified": verified, "notes": notes}
        return event

    def _join_keys(self, params: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
        """The cart and customer ids the store vouched for, and a note for each one it did not.

        An id without its token is not stored at all: a stored id would be found by the
        store's later events (trackside.join), and anyone can claim a guessable customer id.
        """
        key = self.runtime.settings.signing_key
        secret = key.get_secret_value() if key else None
        kept: dict[str, str] = {}
        notes: list[str] = []
        for id_param, token_param in browser.JOIN_TOKEN_PARAMS.items():
            value = _text(params.get(id_param))
            if value is None:
                continue
            kind = id_param.removesuffix("_id")
            if browser.verify_join_token(secret, kind, value, params.get(token_param)):
                kept[id_param] = value
            else:
                why = ("TRACKSIDE_SIGNING_KEY is not set" if secret is None
                       else f"no valid {token_param}")
                notes.append(f"{id_param} not used for joins: {why}")
        return kept, notes

    def _ga_session(self, known: dict[str, str]) -> str | None:
        if self.ga_session_cookie:
            return known.get(self.ga_session_cookie)
        return next((v for k, v in sorted(known.items()) if k.startswith("_ga_")), None)


def _consent(raw: dict[str, Any] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in (raw or {}).items():
        if key in ("ad_storage", "analytics_storage", "ad_user_data", "ad_personalization") \
                and value in ("granted", "denied"):
            out[key] = value
    return out


def _fbclid_of(url: str | None) -> str | None:
    if not url or "fbclid=" not in url:
        return None
    from urllib.parse import parse_qs, urlsplit

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
        if key in _ORDER_PARAMS or key == MARK or len(out) >= _MAX_CUSTOM_KEYS:
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


def collect_routes(runtime: Runtime, *, rate_per_s: float = RATE_PER_S,
                   burst: float = BURST) -> list[BaseRoute]:
    """``POST /collect`` (and its CORS preflight) and ``GET /t.js``."""
    collect = CollectEndpoint(runtime, rate_per_s=rate_per_s, burst=burst)
    tag = TagEndpoint(runtime.settings)
    return [
        Route("/collect", collect.post, methods=["POST"]),
        Route("/collect", collect.preflight, methods=["OPTIONS"]),
        Route("/t.js", tag.handle, methods=["GET", "HEAD"]),
    ]
