"""POST /v1/events and GET /v1/events/{event_id}: the server-to-server API.

Order of checks, each with its own status: API key (401), body size (413), JSON (415),
envelope shape (400), then every event on its own — a batch with invalid events still accepts
the valid ones, and the 202 tells which was which by index (DESIGN.md "Public interface").
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from trackside import metrics
from trackside.events import validation_errors
from trackside.pipeline import AcceptResult
from trackside.runtime import Runtime
from trackside.sources.batch import parse_batch
from trackside.web.committer import Committer, CommitterClosed
from trackside.web.errors import ApiError, unauthorized
from trackside.web.requests import BodyIncomplete, BodyTooLarge, bearer_token, read_body
from trackside.web.schemas import ENVELOPE
from trackside.web.views import event_lookup

SOURCE = "api"

_JSON_ERRORS = frozenset({"json_invalid", "json_type"})


def require_api_key(request: Request, runtime: Runtime) -> None:
    settings = runtime.settings
    if not settings.api_keys:
        raise unauthorized("No API key is configured on this server: set TRACKSIDE_API_KEYS "
                           "and send one as Authorization: Bearer <key>")
    token = bearer_token(request)
    if token is None:
        raise unauthorized("Send an API key as Authorization: Bearer <key>")
    if not settings.api_key_matches(token):
        raise unauthorized("The API key is not valid")


def parse_envelope(body: bytes) -> list[Any]:
    """The raw events of a request body, or ApiError 415 (not JSON) / 400 (wrong shape)."""
    try:
        return ENVELOPE.validate_json(body).events
    except ValidationError as exc:
        if not any(error["type"] in _JSON_ERRORS for error in exc.errors()):
            raise _bad_envelope(exc) from None
    # The fast parser refuses a whole body for one lone surrogate ("\ud800") or nesting past
    # its recursion limit; the standard library reads both, so the event that holds them is
    # rejected by index (trackside/limits.py) and the rest of the batch is still accepted.
    try:
        document = json.loads(body)
    except RecursionError:
        raise ApiError(400, "The request body is nested too deeply to read") from None
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        raise ApiError(415, "The request body is not valid JSON") from None
    try:
        return ENVELOPE.validate_python(document).events
    except ValidationError as exc:
        raise _bad_envelope(exc) from None


def _bad_envelope(exc: ValidationError) -> ApiError:
    return ApiError(
        400,
        'The body must be a JSON object {"events": [...]} with 1 to 1000 events',
        validation_errors(exc),
    )


class EventsAPI:
    def __init__(self, runtime: Runtime, committer: Committer) -> None:
        self.runtime = runtime
        self.committer = committer

    async def post_events(self, request: Request) -> Response:
        require_api_key(request, self.runtime)
        try:
            body = await read_body(request, self.runtime.settings.max_body_bytes)
        except BodyTooLarge:
            raise ApiError(413, f"The request body is over the limit of "
                                f"{self.runtime.settings.max_body_bytes} bytes") from None
        except BodyIncomplete:
            raise ApiError(400, "The request body was not received completely") from None
        raw_events = parse_envelope(body)

        parsed = parse_batch(raw_events, prefix="events",
                             max_event_bytes=self.runtime.settings.max_event_bytes)
        results: list[AcceptResult | None] = [None] * len(raw_events)
        for rejected in parsed.rejected:
            results[rejected.index] = AcceptResult(rejected.index, "rejected",
                                                   errors=rejected.errors)
        if parsed.rejected:
            metrics.EVENTS_REJECTED.labels(SOURCE).inc(len(parsed.rejected))
        try:
            accepted = await self.committer.accept(parsed.events, SOURCE)
        except CommitterClosed:
            raise ApiError(503, "The service is shutting down; retry on another instance",
                           headers={"Retry-After": "5"}) from None
        except Exception:
            # Logged with its traceback by the committer; nothing was stored.
            raise ApiError(503, headers={"Retry-After": "5"}) from None
        for index, result in zip(parsed.positions, accepted, strict=True):
            result.index = index
            results[index] = result

        counts = {"queued": 0, "duplicate": 0, "rejected": 0}
        out = []
        for answer in results:
            assert answer is not None
            counts[answer.status] += 1
            out.append(answer.as_dict())
        return JSONResponse({**counts, "results": out}, status_code=202)

    async def get_event(self, request: Request) -> Response:
        require_api_key(request, self.runtime)
        event_id: str = request.path_params["event_id"]
        views = await asyncio.to_thread(self.runtime.store.event_view, event_id)
        if not views:
            raise ApiError(404, "No event with this id")
        # Belt and braces: the stored payloads never hold a secret, but a vendor's error text
        # quoted in a message might; the redactor masks any configured secret value.
        text = json.dumps(event_lookup(event_id, views), ensure_ascii=False)
        return Response(self.runtime.redactor(text) or "", media_type="application/json")
