"""POST /v1/events and GET /v1/events/{event_id}: the server-to-server API.

Order of checks, each with its own status: API key (401), body size (413), JSON and the
envelope shape (400, naming the body), then every event on its own — its fields, then whether
any configured destination would ever take it (trackside/admission.py). A batch with
rejected events still accepts the others, and the 202 tells which was which by index; a batch
in which every event was rejected answers 422 with the same body (docs/api.md, "POST /v1/events").
Reading the body into events is sources/api.py's; this module answers over HTTP.
"""

from __future__ import annotations

import asyncio
import json

from starlette.requests import Request
from starlette.responses import Response

from trackside import metrics
from trackside.crm import complete_crm_events
from trackside.pipeline import AcceptResult
from trackside.runtime import Runtime, ShopRuntime
from trackside.sources.api import SOURCE, EnvelopeError, read_events
from trackside.web.committer import Committer, CommitterClosed
from trackside.web.errors import ApiError, unauthorized
from trackside.web.requests import BodyIncomplete, BodyTooLarge, bearer_token, read_body
from trackside.web.responses import FastJSONResponse
from trackside.web.views import event_lookup


def require_api_key(request: Request, runtime: Runtime) -> ShopRuntime:
    """The shop the request's API key belongs to (a key names exactly one shop), or 401."""
    if not any(shop.settings.api_keys for shop in runtime.shops):
        raise unauthorized("No API key is configured on this server: set TRACKSIDE_API_KEYS "
                           "and send one as Authorization: Bearer <key>")
    token = bearer_token(request)
    if token is None:
        raise unauthorized("Send an API key as Authorization: Bearer <key>")
    shop = runtime.shops.by_api_key(token)
    if shop is None:
        raise unauthorized("The API key is not valid")
    return runtime.shop(shop.name)


class EventsAPI:
    def __init__(self, runtime: Runtime, committer: Committer) -> None:
        self.runtime = runtime
        self.committer = committer

    async def post_events(self, request: Request) -> Response:
        shop = require_api_key(request, self.runtime)
        try:
            body = await read_body(request, self.runtime.settings.max_body_bytes)
        except BodyTooLarge:
            raise ApiError(413, f"The request body is over the limit of "
                                f"{self.runtime.settings.max_body_bytes} bytes") from None
        except BodyIncomplete:
            raise ApiError(400, "The request body was not received completely") from None
        try:
            parsed = read_events(body, self.runtime.settings.max_event_bytes)
        except EnvelopeError as exc:
            raise ApiError(400, exc.message, exc.errors) from None
        # The shop's CRM name on CRM events, errors named by their index in this request.
        complete_crm_events(parsed, shop.settings.crm_name, prefix="events")
        results: list[AcceptResult | None] = [None] * (len(parsed.events) + len(parsed.rejected))
        for rejected in parsed.rejected:
            results[rejected.index] = AcceptResult(rejected.index, "rejected",
                                                   errors=rejected.errors)
        if parsed.rejected:
            metrics.EVENTS_REJECTED.labels(shop.name, SOURCE).inc(len(parsed.rejected))
        try:
            accepted = await self.committer.accept(parsed.events, SOURCE,
                                                   pipeline=shop.pipeline)
        except CommitterClosed:
            raise ApiError(503, "The service is shutting down; retry on another instance",
                           headers={"Retry-After": "5"}) from None
        except Exception:
            # Logged with its traceback by the committer; nothing was stored.
            raise ApiError(503, headers={"Retry-After": "5"}) from None
        refused = 0
        for index, result in zip(parsed.positions, accepted, strict=True):
            if result.status == "rejected":  # no destination would ever take it
                refused += 1
            result.move_to(index)
            results[index] = result
        if refused:
            metrics.EVENTS_REJECTED.labels(shop.name, SOURCE).inc(refused)

        counts = {"queued": 0, "duplicate": 0, "rejected": 0}
        out = []
        for answer in results:
            assert answer is not None
            counts[answer.status] += 1
            out.append(answer.as_dict())
        # Nothing stored: 422 says so at once, with the same body (every reason by index).
        status = 422 if counts["rejected"] == len(out) else 202
        return FastJSONResponse({**counts, "results": out}, status_code=status)

    async def get_event(self, request: Request) -> Response:
        shop = require_api_key(request, self.runtime)
        event_id: str = request.path_params["event_id"]
        # Another shop's event is "no event": 404, never 403, so its ids do not leak.
        views = await asyncio.to_thread(self.runtime.store.event_view, event_id,
                                        shop=shop.name)
        if not views:
            raise ApiError(404, "No event with this id")
        # Belt and braces: the stored payloads never hold a secret, but a vendor's error text
        # quoted in a message might; the redactor masks any configured secret value.
        text = json.dumps(event_lookup(event_id, views), ensure_ascii=False)
        return Response(self.runtime.redactor(text) or "", media_type="application/json")

