"""Request ids, one structured log line and one counter per request.

A plain ASGI middleware (Starlette's BaseHTTPMiddleware costs a task per request). The log
line names the route *template* (``/v1/events/{event_id}``), never the raw path or the query
string: a Graph client may put its access token in the query (Meta documents
``access_token`` as a query parameter), and nothing a client sends is echoed into the logs.
"""

from __future__ import annotations

import logging
import os
import re
import time

from prometheus_client import Counter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trackside import metrics
from trackside.logs import request_id
from trackside.web.errors import error_response

log = logging.getLogger("trackside.http")

_CLIENT_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
HEADER = b"x-request-id"


class RequestContext:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _incoming_id(scope) or new_request_id()
        token = request_id.set(rid)
        t0 = time.perf_counter()
        status = 500  # until the app answers
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
                headers = list(message.get("headers", []))
                headers.append((HEADER, rid.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            # Handled here rather than by Starlette's outermost error middleware so the log
            # line still carries the request id; the traceback passes the secret filter.
            log.error("unhandled error", exc_info=exc)
            if not started:
                await error_response(500)(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            _request_counter(template, status).inc()
            if log.isEnabledFor(logging.INFO):
                elapsed_ms = (time.perf_counter() - t0) * 1000
                log.info("%s %s %d %.1fms", scope["method"], template, status, elapsed_ms,
                         extra={"status": status})
            request_id.reset(token)


def new_request_id() -> str:
    """32 random hex digits, as ``uuid4().hex`` reads, at a fifth of its cost: nothing
    parses the id as a UUID, and building one was a fifth of the middleware's time."""
    return os.urandom(16).hex()


#: (route template, status) → its counter child. prometheus_client's ``labels()`` takes a
#: lock and checks its arguments on every call, three times the ``inc()`` itself; the keys are
#: bounded (the app's route templates, "unmatched", HTTP status codes) and nothing removes a
#: child of HTTP_REQUESTS, so the child it returned once stays the one /metrics reads.
_COUNTERS: dict[tuple[str, int], Counter] = {}


def _request_counter(template: str, status: int) -> Counter:
    counter = _COUNTERS.get((template, status))
    if counter is None:
        counter = _COUNTERS[(template, status)] = metrics.HTTP_REQUESTS.labels(
            template, str(status))
    return counter


def _incoming_id(scope: Scope) -> str | None:
    # Keep a proxy's id (so one id follows the request across hops) if it looks like one.
    for name, value in scope["headers"]:
        if name == HEADER:
            text = value.decode("latin-1")
            return text if _CLIENT_ID.fullmatch(text) else None
    return None
