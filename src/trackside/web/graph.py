"""POST /{version}/{pixel_id}/events: the Meta Graph API, as trackside.

An application that already sends Conversions API calls (Meta's SDK, a GTM server tag, curl)
changes its base URL and its token — a trackside API key — and keeps working: the same body
encodings (form, multipart, JSON), the same token places (query, form, JSON body, Bearer
header), the same answers and the same error envelope and codes (rules 1-9 of
destinations/meta/rules/request.py). Behind it the events gain durability, dedup and fan-out
to every configured destination, through the one ``Pipeline.accept`` as source ``graph-api``.

Decisions where Meta has no counterpart:

- Any well-formed version (``v16.0``…``v26.0``) is accepted: trackside forwards with its own
  ``TRACKSIDE_META_API_VERSION``, and Meta's GTM server tag still hard-codes v16.0
  (facebookincubator/ConversionsAPI-Tag-for-GoogleTagManager, template.tpl).
- ``{pixel_id}`` picks the shop (trackside/shops.py): the shop whose ``meta_pixel_id`` it is,
  and the key must be one of that shop's (another shop's key is Meta's 190, invalid token; an
  unknown pixel is 100/33). A shop with no pixel configured (dry run, GA4 only) accepts any
  numeric id with its own key, so a client can be tested before Meta is set up.
- ``appsecret_proof``, ``test_event_code``, ``partner_agent`` and the upload parameters are
  accepted and not forwarded: the proof is tied to Meta's app secret, which the client keeps,
  and the test code used is trackside's ``TRACKSIDE_META_TEST_EVENT_CODE``.
- Events are checked with Meta's rules (compat mode) and then trackside's model; like Meta,
  one invalid event refuses the whole request and nothing is stored. Reading the body
  into events is sources/graph.py's; this module does the HTTP and the authentication.
"""

from __future__ import annotations

import logging
import re
import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from trackside import metrics
from trackside.destinations.meta import rules as meta_rules
from trackside.destinations.meta.rules import MetaError
from trackside.destinations.meta.settings import MetaSettings
from trackside.logs import request_id
from trackside.runtime import Runtime, ShopRuntime
from trackside.sources import graph as graph_source
from trackside.sources.graph import SOURCE
from trackside.web.committer import Committer
from trackside.web.requests import BodyIncomplete, BodyTooLarge, read_body

log = logging.getLogger("trackside.graph")

_VERSION = re.compile(r"v\d+\.\d+")


def _body_too_large(limit: int) -> MetaError:
    return MetaError(http_status=413, code=100,
                     message=f"(#100) The request body is over the limit of {limit} bytes")


def _unavailable() -> MetaError:
    # Code 2 is Meta's "service temporarily unavailable": SDK users already retry on it.
    return MetaError(http_status=503, code=2, is_transient=True,
                     message="An unexpected error has occurred. Please retry your request later.")


def _unreadable() -> MetaError:
    # The request made our own reading code fail: the same bytes would fail again, so it is
    # Meta's permanent code 100, never code 2 (an SDK retries code 2 forever).
    return MetaError(http_status=400, code=100, is_transient=False,
                     message="(#100) trackside could not read this request; the fbtrace_id "
                             "tells an operator what happened")


class GraphEndpoint:
    def __init__(self, runtime: Runtime, committer: Committer) -> None:
        self.runtime = runtime
        self.committer = committer

    def _error(self, error: MetaError) -> Response:
        # The request id doubles as fbtrace_id: the support id Meta users already quote.
        body = error.body(fbtrace_id=request_id.get() or "")
        return JSONResponse(body, status_code=error.http_status)

    async def handle(self, request: Request) -> Response:
        try:
            result = await self._handle(request)
        except Exception as exc:  # never a non-Meta body on this path
            # Store failures are answered inside _handle (code 2); anything reaching here
            # failed while reading the client's request.
            log.error("Graph-compatible request could not be read: %s.", type(exc).__name__,
                      exc_info=exc)
            result = _unreadable()
        if isinstance(result, MetaError):
            return self._error(result)
        return JSONResponse(meta_rules.success_body(result, request_id.get() or ""))

    async def _handle(self, request: Request) -> int | MetaError:
        """The number of events accepted, or Meta's refusal of the whole request."""
        settings = self.runtime.settings
        version = request.path_params["version"]
        pixel_id = request.path_params["pixel_id"]
        if request.method != "POST":  # rule 1
            return meta_rules.unsupported_method(request.method)
        if not _VERSION.fullmatch(version):  # rule 2: unversioned or malformed
            return meta_rules.deprecated_version()
        try:
            body = await read_body(request, settings.max_body_bytes)
        except BodyTooLarge:
            return _body_too_large(settings.max_body_bytes)
        except BodyIncomplete:
            return _unavailable()
        parsed = graph_source.read_request(version, pixel_id, request.query_params,
                                           request.headers, body)
        if isinstance(parsed, MetaError):
            return parsed
        token = parsed.access_token
        if not token:  # rule 3
            return meta_rules.missing_token()
        shop = self._shop(token, pixel_id)
        if isinstance(shop, MetaError):
            return shop
        events = graph_source.read_events(parsed, time.time(), settings.max_event_bytes)
        if isinstance(events, graph_source.Refused):
            metrics.EVENTS_REJECTED.labels(shop.name, SOURCE).inc(events.events)
            return events.error
        # Like Meta, one event refuses the whole request: one no configured destination would
        # ever take (trackside/admission.py) is found before anything is stored.
        screened = shop.pipeline.prepare(events, SOURCE)
        refused = next((r for r in screened.results if r.status == "rejected"), None)
        if refused is not None:
            metrics.EVENTS_REJECTED.labels(shop.name, SOURCE).inc(len(events))
            return graph_source.undeliverable(refused.errors[0])
        try:
            await self.committer.accept(events, SOURCE, pipeline=shop.pipeline)
        except Exception:  # the store failed (logged by the committer): retrying may work
            return _unavailable()
        return len(events)

    def _shop(self, token: str, pixel_id: str) -> ShopRuntime | MetaError:
        """The shop of the pixel in the path, when the key is one of that shop's."""
        shops = self.runtime.shops
        keyed = shops.by_api_key(token)
        if keyed is None:
            return meta_rules.invalid_token()
        owner = shops.by_pixel(pixel_id)
        if owner is None:  # rule 5, unless the key's shop has no pixel yet (dry run, GA4)
            configured = keyed.settings.destination("meta", MetaSettings).meta_pixel_id
            if configured or not pixel_id.isdigit():
                return meta_rules.unknown_object(pixel_id)
            owner = keyed
        if owner.name != keyed.name:  # another shop's key: not a token for this pixel
            return meta_rules.invalid_token()
        return self.runtime.shop(owner.name)
