"""A strict fake Meta Graph API for ``POST /{version}/{pixel_id}/events`` (validator rules 1-38).

Real HTTP (served by tests/fakes/server.py): trackside, httpx or Meta's own SDK talk to it as
they would talk to graph.facebook.com. The request rules are the fake's own, written from Meta's
pages in :mod:`tests.fakes.meta_checks` (rules 1-9) and :mod:`tests.fakes.meta_event_checks`
(10-34; errors in :mod:`tests.fakes.meta_errors`); nothing here imports trackside's Meta rules, so a bug there
fails a test instead of agreeing with itself. This module adds what only a server has: a
registry of tokens and pixels (rules 3-5), the version set (rule 2), Meta's 48-hour dedup
(rule 36), recorded requests and events (rule 35), fault injection (rule 37) and French
``error_user_*`` text on ``Accept-Language: fr`` (rule 38). It also serves a read of the pixel
node, ``GET /{version}/{pixel_id}`` (what trackside's probe asks), checking token and
pixel with its own registry, Meta's Dataset Quality API (``GET /{version}/dataset_quality``,
tests/fakes/graph_dataset_quality.py), and a poison mode: "answer this fault whenever the request
contains event id E" (:meth:`FakeGraphAPI.fail_when_contains`).

The test holds the :class:`FakeGraphAPI` object and steers it from Python.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes import meta_checks as checks
from tests.fakes import meta_errors as errors
from tests.fakes.graph_dataset_quality import DatasetQualityFake, default_figures
from tests.fakes.meta_checks import Call, FakeRules, Grant
from tests.fakes.meta_errors import GraphError
from trackside.config import Settings

# Rule 36: the same event_name and event_id to the same pixel within 48 hours is deduplicated
# (https://developers.facebook.com/documentation/ads-commerce/conversions-api/deduplicate-pixel-and-server-events).
DEDUP_WINDOW_S = 48 * 3600
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def fbtrace_id() -> str:
    """An opaque 23-character base64url id, like Meta's (rule 35)."""
    return secrets.token_urlsafe(17)[:23]


# -- faults ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Fault:
    """One canned answer that replaces the fake's normal processing for a whole request."""

    kind: str
    status: int = 500
    error: GraphError | None = None
    #: For ``timeout``: how long to hold the request before answering (past the client timeout).
    sleep_s: float = 0.0
    #: For throttles: sent in ``X-Business-Use-Case-Usage`` as ``estimated_time_to_regain_access``.
    regain_minutes: float | None = None
    body: bytes = b""
    content_type: str = "application/json"
    #: For ``short_count``: how many events fewer than sent ``events_received`` says.
    missing: int = 0

    @classmethod
    def transient(cls, code: int = 1) -> Fault:
        """Codes 1 or 2 with HTTP 500 (rule 37)."""
        error = errors.catalogue_error(code, 500, is_transient=True)
        return cls("transient", status=500, error=error)

    @classmethod
    def throttle(
        cls, code: int = 4, is_transient: bool = True, regain_minutes: float | None = None
    ) -> Fault:
        """4 / 17 / 32 / 613 / 80004 with HTTP 400 (rule 37)."""
        error = errors.catalogue_error(code, 400, is_transient=is_transient)
        return cls("throttle", status=400, error=error, regain_minutes=regain_minutes)

    @classmethod
    def server_error(cls, status: int = 503) -> Fault:
        return cls(
            "server_error", status=status, body=b"Service Unavailable", content_type="text/plain"
        )

    @classmethod
    def timeout(cls, seconds: float = 3.0) -> Fault:
        return cls("timeout", status=500, sleep_s=seconds, error=_FAULT_TIMEOUT)

    @classmethod
    def html(cls, status: int = 502) -> Fault:
        body = b"<!DOCTYPE html><html><head><title>Error</title></head><body>Sorry, something "
        body += b"went wrong.</body></html>"
        return cls("html", status=status, body=body, content_type="text/html; charset=utf-8")

    @classmethod
    def empty(cls, status: int = 200) -> Fault:
        return cls("empty", status=status, body=b"", content_type="application/json")

    @classmethod
    def invalid_token(cls) -> Fault:
        """190, HTTP 401 (rule 3, as observed from Graph)."""
        return cls("invalid_token", status=401, error=errors.token_unparseable())

    @classmethod
    def unknown_object(cls, object_id: str = "0") -> Fault:
        """100 / 33 (rule 5)."""
        return cls("unknown_object", status=400, error=errors.object_not_found(object_id))

    @classmethod
    def short_count(cls, missing: int = 1) -> Fault:
        """HTTP 200 with ``events_received`` ``missing`` below what was sent (never below 0).
        With :meth:`FakeGraphAPI.fail_when_contains`, the poisoned events are the uncounted."""
        return cls("short_count", status=200, missing=missing)

    @classmethod
    def meta_error(cls, error: Any) -> Fault:
        """Any other Meta error, e.g. ``GraphError(400, 368, "...")``; anything shaped like one
        (a trackside ``MetaError`` too) is copied into the fake's own :class:`GraphError`."""
        adopted = GraphError.adopt(error)
        return cls("meta_error", status=adopted.http_status, error=adopted)


_FAULT_TIMEOUT = errors.catalogue_error(2, 500, is_transient=True)


# -- records -----------------------------------------------------------------------------------


@dataclass
class ReceivedRequest:
    """One HTTP request that reached the fake, whatever it answered."""

    method: str
    path: str
    version: str | None
    pixel_id: str
    content_type: str
    #: Where the token came from: "query", "body", "bearer" or None. The token itself is not kept.
    #: (For a probe, a token in both the query and the header counts as "query".)
    token_location: str | None
    params: dict[str, Any]
    status: int = 0
    error_code: int | None = None
    error_subcode: int | None = None
    fault: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    body: dict[str, Any] | None = None
    #: Size of the request body as it arrived, in bytes.
    body_bytes: int = 0

    @property
    def accepted(self) -> bool:
        return self.status == 200 and self.fault is None

    @property
    def test_event_code(self) -> str | None:
        value = self.params.get("test_event_code")
        return value if isinstance(value, str) else None


@dataclass
class ReceivedEvent:
    """One event of an accepted request; ``event["event_id"]`` reads the payload."""

    pixel_id: str
    payload: dict[str, Any]
    test_event_code: str | None
    received_at: float
    #: A later copy of (pixel, event_name, event_id) within 48 h: Meta would drop it (rule 36).
    deduplicated: bool = False

    def __getitem__(self, key: str) -> Any:
        return self.payload[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.payload.get(key, default)


# -- the fake ----------------------------------------------------------------------------------


class FakeGraphAPI:
    """The fake server's state and its Starlette ``app``; steer it from the test."""

    def __init__(
        self,
        pixel_id: str | None = None,
        token: str | None = None,
        app_secret: str | None = None,
        rules: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.pixel_id = pixel_id or str(10**14 + secrets.randbelow(9 * 10**14))
        self.token = token or "EAAT" + secrets.token_urlsafe(24)
        self.app_secret = app_secret or secrets.token_hex(16)
        #: The fake's switches; a trackside ``RulesConfig`` is read into a :class:`FakeRules`.
        self.rules = FakeRules.adopt(rules)
        self.clock = clock
        self.url = ""  # set by whoever serves the app
        self.tokens: dict[str, Grant] = {}
        self.add_token(self.token, [self.pixel_id], app_secret=self.app_secret)
        self.requests: list[ReceivedRequest] = []
        self.events: list[ReceivedEvent] = []
        self._first_seen: dict[tuple[str, str, str], float] = {}
        self._faults: deque[Fault] = deque()
        self._sticky_fault: Fault | None = None
        self._rejected_ids: dict[str, int] = {}
        self._poison: dict[str, Fault] = {}
        #: Reads of the pixel node (trackside's probe), apart from the /events requests.
        self.probes: list[ReceivedRequest] = []
        #: Added before every /events answer: a slower vendor, so a test can act mid-way.
        self.latency_s = 0.0
        self._lock = threading.Lock()
        self._closing = threading.Event()
        #: GET /{version}/dataset_quality (Meta's Dataset Quality API), its own checks.
        self.dataset_quality = DatasetQualityFake(self.tokens, frozenset(self.rules.versions),
                                                  {self.pixel_id: default_figures()})
        routes = [
            Route("/{version}/dataset_quality", self.dataset_quality.handle, methods=["GET"]),
            Route("/{version}/{object_id}/events", self._handle, methods=_METHODS),
            Route("/{object_id}/events", self._handle, methods=_METHODS),
            Route("/{version}/{object_id}", self._read_node, methods=["GET"]),
        ]
        self.app = Starlette(routes=routes)

    def __repr__(self) -> str:
        return f"FakeGraphAPI(url={self.url!r}, pixel_id={self.pixel_id!r})"

    # -- control API ----------------------------------------------------------------------------

    def add_token(
        self,
        token: str,
        pixels: Iterable[str],
        app_secret: str | None = None,
        expired: bool = False,
        require_proof: bool = False,
    ) -> None:
        self.tokens[token] = Grant(
            pixels=frozenset(pixels),
            app_secret=app_secret,
            expired=expired,
            require_proof=require_proof,
        )

    def fail_next(self, fault: Fault, times: int = 1) -> None:
        """Answer the next ``times`` requests with ``fault``, then behave normally."""
        with self._lock:
            self._faults.extend([fault] * times)

    def fail_until_cleared(self, fault: Fault) -> None:
        with self._lock:
            self._sticky_fault = fault

    def reject_event_id(self, event_id: str, subcode: int = 2804048) -> None:
        """Refuse, like Meta, every whole batch that contains this event id (100/subcode)."""
        with self._lock:
            self._rejected_ids[event_id] = subcode

    def fail_when_contains(self, event_id: str, fault: Fault) -> None:
        """Answer ``fault`` to every /events request that carries this event id (any other
        request is processed normally), until :meth:`clear_faults`."""
        with self._lock:
            self._poison[event_id] = fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._sticky_fault = None
            self._rejected_ids.clear()
            self._poison.clear()

    def reset(self) -> None:
        """Forget requests, events and dedup state (not tokens or rules)."""
        self.clear_faults()
        with self._lock:
            self.requests.clear()
            self.probes.clear()
            self.events.clear()
            self._first_seen.clear()

    def close(self) -> None:
        """Release requests held by a ``timeout`` fault so the server can stop."""
        self._closing.set()

    def settings(self, **overrides: Any) -> Settings:
        """Settings that point trackside's Meta destination at this fake."""
        values: dict[str, Any] = {
            "meta_pixel_id": self.pixel_id,
            "meta_access_token": self.token,
            "meta_graph_url": self.url,
            "meta_api_version": max(self.rules.versions, key=checks.version_order),
        }
        values.update(overrides)
        return Settings(**values)

    # -- what the test asserts on ---------------------------------------------------------------

    @property
    def accepted_requests(self) -> list[ReceivedRequest]:
        return [r for r in self.requests if r.accepted]

    @property
    def unique_events(self) -> list[ReceivedEvent]:
        """What Meta would count: accepted events minus dedup'd copies."""
        return [e for e in self.events if not e.deduplicated]

    @property
    def deduplicated(self) -> int:
        return sum(1 for e in self.events if e.deduplicated)

    def event_ids(self) -> list[str]:
        return [str(e.get("event_id")) for e in self.events]

    # -- HTTP -----------------------------------------------------------------------------------

    def _next_fault(self) -> Fault | None:
        with self._lock:
            if self._faults:
                return self._faults.popleft()
            return self._sticky_fault

    async def _handle(self, request: Request) -> Response:
        body = await request.body()
        version = request.path_params.get("version")
        object_id = request.path_params["object_id"]
        headers = {k.lower(): v for k, v in request.headers.items()}
        language = headers.get("accept-language", "en")
        call = checks.read_call(
            request.method, version, object_id, dict(request.query_params), headers, body
        )
        if isinstance(call, Call):
            location, params = call.token_location, dict(call.params)
        else:  # an unreadable body: where a token could still be seen
            location = "query" if "access_token" in request.query_params else None
            if location is None and headers.get("authorization", "")[:7].lower() == "bearer ":
                location = "bearer"
            params = {}
        record = ReceivedRequest(
            method=request.method,
            path=request.url.path,
            version=version,
            pixel_id=object_id,
            content_type=headers.get("content-type", ""),
            token_location=location,
            params=params,
            body_bytes=len(body),
        )
        with self._lock:
            self.requests.append(record)
        if self.latency_s:
            await asyncio.sleep(self.latency_s)

        fault = self._next_fault()
        if fault is not None and fault.kind != "short_count":
            return await self._fault_response(fault, record, language)
        if isinstance(call, GraphError):
            return self._error(call, record, language)
        error = checks.check_route(call, self.rules) or checks.check_grant(call, self.tokens)
        if error is not None:
            return self._error(error, record, language)
        poisoned = self._poisoned(call.params.get("data"))
        if poisoned:
            fault = poisoned[0][1]
        if fault is not None and fault.kind != "short_count":
            return await self._fault_response(fault, record, language)

        verdict = checks.check_body(call, self.rules, self.clock())
        record.events = verdict.events
        record.warnings = verdict.warnings
        if verdict.error is not None:
            return self._error(verdict.error, record, language)
        if fault is not None:  # short_count, from fail_next or from poison mode
            return self._short_count(fault, {event_id for event_id, _ in poisoned}, call, verdict,
                                     record)
        with self._lock:
            rejected = [
                (e.get("event_id"), self._rejected_ids[str(e.get("event_id"))])
                for e in verdict.events
                if str(e.get("event_id")) in self._rejected_ids
            ]
        if rejected:
            event_id, subcode = rejected[0]
            refusal = errors.invalid_event(
                subcode, "Invalid Event", f"The event {event_id} was rejected by the test.", "data"
            )
            return self._error(refusal, record, language)
        self._record_events(call.object_id, verdict.events, record.test_event_code)
        return self._success(len(verdict.events), record)

    def _success(self, events_received: int, record: ReceivedRequest) -> Response:
        """Rule 35: no per-event status, ``messages`` always observed empty (success body of the edge
        reference, https://developers.facebook.com/docs/marketing-api/reference/ads-pixel/events/)."""
        answer = {"events_received": events_received, "messages": [], "fbtrace_id": fbtrace_id()}
        record.status, record.body = 200, answer
        return JSONResponse(answer)

    # -- poison mode and the pixel node ---------------------------------------------------------

    def _poisoned(self, data: Any) -> list[tuple[str, Fault]]:
        """(event id, fault) for each poisoned id in ``data``, read with this fake's own
        decoding: a JSON array (or its text) of objects or of JSON-encoded objects (rule 6)."""
        with self._lock:
            if not self._poison:
                return []
            poison = dict(self._poison)
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except ValueError:
                return []
        found = []
        for item in data if isinstance(data, list) else []:
            if isinstance(item, str):
                try:
                    item = json.loads(item)
                except ValueError:
                    continue
            event_id = str(item.get("event_id")) if isinstance(item, dict) else None
            if event_id in poison:
                found.append((event_id, poison[event_id]))
        return found

    def _short_count(
        self, fault: Fault, bad: set[str], call: Call, verdict: checks.Verdict,
        record: ReceivedRequest,
    ) -> Response:
        """Meta took the request but counted fewer events; the poisoned ones are not counted."""
        counted = [e for e in verdict.events if str(e.get("event_id")) not in bad]
        missing = max(fault.missing, len(verdict.events) - len(counted))
        counted = counted[: max(0, len(verdict.events) - missing)]
        self._record_events(call.object_id, counted, record.test_event_code)
        record.fault, record.events = fault.kind, counted
        return self._success(len(counted), record)

    async def _read_node(self, request: Request) -> Response:
        """``GET /{version}/{pixel_id}?fields=id``: the pixel node, for a token that may use it.

        Checked here, with this fake's own registry: no token → 104, unknown → 190 (HTTP 401),
        expired → 190/463, a pixel the token has no access to → 100/33. It creates nothing.
        """
        object_id = request.path_params["object_id"]
        version = request.path_params["version"]
        headers = {k.lower(): v for k, v in request.headers.items()}
        language = headers.get("accept-language", "en")
        token, location = None, None
        authorization = headers.get("authorization", "")
        if authorization[:7].lower() == "bearer ":
            token, location = authorization[7:].strip(), "bearer"
        if "access_token" in request.query_params:
            token, location = request.query_params["access_token"], "query"
        record = ReceivedRequest(
            method="GET", path=request.url.path, version=version, pixel_id=object_id,
            content_type=headers.get("content-type", ""), token_location=location,
            params={k: v for k, v in request.query_params.items() if k != "access_token"},
        )
        with self._lock:
            self.probes.append(record)
        fault = self._next_fault()
        if fault is not None and fault.kind != "short_count":
            return await self._fault_response(fault, record, language)
        if version not in self.rules.versions:
            return self._error(errors.version_unknown(version), record, language)
        grant = self.tokens.get(token) if token else None
        if not token:
            error: GraphError | None = errors.token_required()
        elif grant is None:
            error = errors.token_unparseable()
        elif grant.expired:
            error = errors.token_expired()
        elif object_id not in grant.pixels:
            error = errors.object_not_found(object_id)
        else:
            error = None
        if error is not None:
            return self._error(error, record, language)
        answer = {"id": object_id}
        record.status, record.body = 200, answer
        return JSONResponse(answer)

    def _record_events(
        self, pixel_id: str, events: list[dict[str, Any]], test_event_code: str | None
    ) -> None:
        now = self.clock()
        with self._lock:
            for payload in events:
                duplicate = False
                event_id = payload.get("event_id")
                if event_id is not None:
                    key = (pixel_id, str(payload.get("event_name")), str(event_id))
                    first = self._first_seen.get(key)
                    if first is not None and now - first <= DEDUP_WINDOW_S:
                        duplicate = True
                    else:
                        self._first_seen[key] = now
                self.events.append(
                    ReceivedEvent(pixel_id, payload, test_event_code, now, deduplicated=duplicate)
                )

    def _error(self, error: GraphError, record: ReceivedRequest, language: str) -> Response:
        body = error.body(fbtrace_id(), language)
        record.status, record.error_code, record.error_subcode = (
            error.http_status,
            error.code,
            error.subcode,
        )
        record.body = body
        return JSONResponse(body, status_code=error.http_status)

    async def _fault_response(
        self, fault: Fault, record: ReceivedRequest, language: str
    ) -> Response:
        record.fault = fault.kind
        if fault.sleep_s:
            deadline = time.monotonic() + fault.sleep_s
            # Small steps so close() can release the request when the test ends.
            while time.monotonic() < deadline and not self._closing.is_set():
                await asyncio.sleep(0.05)
        if fault.error is None:
            record.status = fault.status
            return Response(fault.body, status_code=fault.status, media_type=fault.content_type)
        response = self._error(fault.error, record, language)
        record.status = fault.status
        response.status_code = fault.status
        if fault.regain_minutes is not None:
            usage = {
                self.pixel_id: [
                    {
                        "type": "ads_management",
                        "call_count": 100,
                        "total_cputime": 100,
                        "total_time": 100,
                        "estimated_time_to_regain_access": fault.regain_minutes,
                    }
                ]
            }
            response.headers["x-business-use-case-usage"] = json.dumps(usage)
        return response
