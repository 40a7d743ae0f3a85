"""POST /collect: the browser tag's beacon over HTTP; sources/browser.py maps it to an event.

Order of checks, cheapest first: Origin (403), rate per client (429), body size (413), media
type (415), beacon shape (400), then whether any configured destination would ever take the
event (422, nothing stored: trackside/admission.py, as ``POST /v1/events`` answers a batch of
rejected events). The answer (202) comes only after the event is committed, and carries the
first-party ``_fbp``/``_fbc`` cookies (docs/browser-tag.md "Cookies it sets").
The beacon names cookies and page data the tag read; the IP and user agent come from the
request itself, never from the body.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from trackside import metrics
from trackside.config import ConfigError
from trackside.events import FieldError
from trackside.join import BROWSER_SOURCE
from trackside.runtime import Runtime, ShopRuntime
from trackside.sources.browser import BeaconMapping, BeaconRefused, read_beacon
from trackside.web import browser
from trackside.web.committer import Committer, CommitterClosed
from trackside.web.cookie_header import set_cookie
from trackside.web.errors import error_response
from trackside.web.refusals import RefusedOrigins
from trackside.web.requests import BodyIncomplete, BodyTooLarge, read_body
from trackside.web.responses import FastJSONResponse
from trackside.web.tag import ShopTags

log = logging.getLogger("trackside.collect")

MAX_BODY_BYTES = 64 * 1024
RATE_PER_S = 20.0  # sustained beacons per client address (IPv6: per /64)
BURST = 200.0
_MEDIA_TYPES = ("", "application/json", "text/plain")


@dataclass(frozen=True)
class _ShopBeacons:
    """What a beacon needs from its shop: its mapping, cookie domain and pipeline."""

    shop: ShopRuntime
    mapping: BeaconMapping
    index: int


class CollectEndpoint:
    """The beacon's Origin picks the shop (origins are unique across shops, shops.py)."""

    def __init__(self, runtime: Runtime, *, rate_per_s: float = RATE_PER_S,
                 burst: float = BURST) -> None:
        self.runtime = runtime
        try:
            self.trusted = browser.parse_networks(runtime.settings.trusted_proxies)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        self.shops = {name: _ShopBeacons(shop, BeaconMapping(shop.settings),
                                         browser.subdomain_index(shop.settings.cookie_domain))
                      for name, shop in runtime.per_shop.items()}
        self.limiter = browser.RateLimiter(rate_per_s, burst)
        self.refusals = RefusedOrigins()
        self._own_committer: Committer | None = None

    def _shop(self, origin: str | None, host: str | None) -> _ShopBeacons | None:
        shop = self.runtime.shops.by_origin(origin, host)
        return None if shop is None else self.shops[shop.name]

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

    def _refused(self, origin: str | None) -> Response:
        """403, saying which setting admits the page; a warning in the server's log (once
        per origin per minute): the browser itself only shows a CORS error."""
        self.refusals.refused(origin)
        return error_response(403, "This origin may not send events here: add the shop "
                                   "page's origin (scheme://host[:port]) to "
                                   "TRACKSIDE_ALLOWED_ORIGINS on the gateway")

    async def preflight(self, request: Request) -> Response:
        origin = request.headers.get("origin")
        if self._shop(origin, request.headers.get("host")) is None:
            return self._refused(origin)
        headers = self._cors(origin)
        headers.update({"Access-Control-Allow-Methods": "POST",
                        "Access-Control-Allow-Headers": "Content-Type",
                        "Access-Control-Max-Age": "86400"})
        return Response(status_code=204, headers=headers)

    async def post(self, request: Request) -> Response:
        headers = request.headers
        origin, host = headers.get("origin"), headers.get("host")
        beacons = self._shop(origin, host)
        if beacons is None:
            return self._refused(origin)
        cors = self._cors(origin)
        peer = request.client.host if request.client else None
        ip = browser.client_ip(peer, headers.get("x-forwarded-for"), self.trusted)
        wait = self.limiter.check(browser.rate_key(ip or "unknown"))
        if wait is not None:
            retry = str(max(1, math.ceil(wait)))
            return error_response(429, f"Too many events from this address; retry in {retry} s",
                                  headers={**cors, "Retry-After": retry})
        media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
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
            beacon = read_beacon(body)
        except BeaconRefused as exc:
            # A beacon is one event: refused, it counts as one, as the API counts its own.
            metrics.EVENTS_REJECTED.labels(beacons.shop.name, BROWSER_SOURCE).inc()
            return error_response(400, exc.message, exc.errors, headers=cors)

        known = {**request.cookies, **beacon.cookies}
        consent = beacon.consent_signals()
        may_store = consent.get("ad_storage") == "granted" or (
            "ad_storage" not in consent and beacons.shop.settings.consent_mode == "off")
        settings = beacons.shop.settings
        # The builder's subdomainIndex is the eTLD+1 of the domain the cookie is set on.
        cookies = browser.first_party_cookies(
            known, beacon.click_id(), builder=settings.fb_cookie_builder,
            host=settings.cookie_domain or host, index=beacons.index,
            now_ms=int(time.time() * 1000), may_store=may_store)
        mapped = beacons.mapping.event(beacon, known, fbp=cookies.fbp, fbc=cookies.fbc,
                                       ip=ip, user_agent=headers.get("user-agent"),
                                       consent=consent)
        if isinstance(mapped, list):
            metrics.EVENTS_REJECTED.labels(beacons.shop.name, BROWSER_SOURCE).inc()
            return error_response(400, "The event is not valid", mapped, headers=cors)
        event, facts = mapped
        try:
            results = await self._committer(request).accept(
                [event], BROWSER_SOURCE, facts=[facts], pipeline=beacons.shop.pipeline)
        except CommitterClosed:
            return error_response(503, "The gateway is shutting down; retry later", headers=cors)
        except Exception as exc:  # noqa: BLE001 (the store failed: 503; the log says why)
            log.error("Beacon not stored: %s.", type(exc).__name__)
            return error_response(503, headers={**cors, "Retry-After": "5"})
        result = results[0]
        response: Response
        if result.status == "rejected":
            # sendBeacon ignores the answer, but fetch callers (the tag's first beacon of a
            # page, the shop's own scripts) read it: a 202 would say it was taken. The cookies
            # are still set: they name the browser, not this event, and the page's other
            # beacons wait for them.
            metrics.EVENTS_REJECTED.labels(beacons.shop.name, BROWSER_SOURCE).inc()
            response = error_response(422, "No configured destination would take this event; "
                                      "nothing was stored",
                                      [_beacon_error(e) for e in result.errors], headers=cors)
        else:
            response = FastJSONResponse({"status": result.status, "event_id": result.event_id},
                                        status_code=202, headers=cors)
        # The scope's scheme is what request.url would say, without building the URL.
        secure = (origin or "").startswith("https://") or request.scope.get("scheme") == "https"
        for name, value, wanted in (("_fbp", cookies.fbp, cookies.set_fbp),
                                    ("_fbc", cookies.fbc, cookies.set_fbc)):
            if wanted and value:
                # Not HttpOnly: the Meta Pixel reads these.
                set_cookie(response, name, value, max_age=browser.COOKIE_MAX_AGE_S,
                           domain=beacons.shop.settings.cookie_domain, secure=secure)
        return response


#: Admission names the canonical event's fields; the page wrote them as the beacon's.
_BEACON_FIELDS = {"custom_data": "params", "order": "params", "event_source_url": "url",
                  "referrer_url": "referrer"}


def _beacon_error(error: FieldError) -> FieldError:
    """``events[0].custom_data`` → ``params``; the event as a whole → ``beacon``."""
    field = error.field.partition(".")[2]
    return FieldError(field=_BEACON_FIELDS.get(field, field) or "beacon", reason=error.reason)


def collect_routes(runtime: Runtime, *, rate_per_s: float = RATE_PER_S,
                   burst: float = BURST) -> list[BaseRoute]:
    """``POST /collect`` (and its CORS preflight) and ``GET /t.js``."""
    collect = CollectEndpoint(runtime, rate_per_s=rate_per_s, burst=burst)
    tag = ShopTags({name: shop.settings for name, shop in runtime.per_shop.items()})
    return [
        Route("/collect", collect.post, methods=["POST"]),
        Route("/collect", collect.preflight, methods=["OPTIONS"]),
        Route("/t.js", tag.handle, methods=["GET", "HEAD"]),
    ]
