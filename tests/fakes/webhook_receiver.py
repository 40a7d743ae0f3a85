"""A shop's webhook receiver on loopback: verifies X-Trackside-Signature with its own code.

Written from docs/destinations.md, not from ``trackside.destinations.webhook`` (it imports
nothing from trackside): if trackside signed other bytes than the documentation says, this
receiver refuses them with 401 and the tests fail. Each request is answered by the next
scripted answer (``answer_next``), else 200; only verified requests are recorded.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes.server import ThreadedServer

#: Older signed timestamps are refused as replays (the documented receiver's tolerance).
TOLERANCE_S = 300


def signature_ok(secret: str, timestamp: str | None, signature: str | None, body: bytes) -> bool:
    """The receiver's check, as docs/destinations.md shows it."""
    if not timestamp or not signature or not timestamp.isdigit():
        return False
    if abs(time.time() - int(timestamp)) > TOLERANCE_S:
        return False
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body,
                        hashlib.sha256).hexdigest()
    return hmac.compare_digest(signature, "sha256=" + expected)


@dataclass
class Answer:
    status: int
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    #: Answer this late (a slow receiver: the worker's timeout is the test).
    delay_s: float = 0.0


@dataclass
class WebhookReceiver:
    secret: str
    path: str = "/hooks/trackside"
    url: str = ""
    #: Verified bodies, parsed, in arrival order.
    received: list[dict[str, Any]] = field(default_factory=list)
    #: Requests refused for their signature.
    forged: int = 0
    #: Every request's headers, verified or not.
    headers: list[dict[str, str]] = field(default_factory=list)
    _script: list[Answer] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def endpoint(self) -> str:
        return self.url + self.path

    def answer_next(self, *answers: Answer) -> None:
        with self._lock:
            self._script.extend(answers)

    def event_ids(self) -> list[str]:
        return [event_id for body in self.received for event_id in body["event_ids"]]

    async def _handle(self, request: Request) -> Response:
        body = await request.body()
        with self._lock:
            self.headers.append(dict(request.headers))
        if not signature_ok(self.secret, request.headers.get("x-trackside-timestamp"),
                            request.headers.get("x-trackside-signature"), body):
            with self._lock:
                self.forged += 1
            return Response("bad signature", status_code=401)
        with self._lock:
            answer = self._script.pop(0) if self._script else Answer(200, "ok")
        if answer.delay_s:
            await asyncio.sleep(answer.delay_s)
            return Response(answer.body, status_code=answer.status, headers=answer.headers)
        with self._lock:
            if 200 <= answer.status < 300:
                self.received.append(json.loads(body))
        return Response(answer.body, status_code=answer.status, headers=answer.headers)

    def app(self) -> Starlette:
        return Starlette(routes=[Route(self.path, self._handle, methods=["POST"])])


@contextmanager
def webhook_receiver(secret: str) -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(secret=secret)
    server = ThreadedServer(receiver.app()).start()
    receiver.url = server.url
    try:
        yield receiver
    finally:
        server.stop()
