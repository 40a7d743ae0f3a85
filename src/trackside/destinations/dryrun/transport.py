"""An httpx transport that answers like Meta's Graph API, from Meta's rules, offline.

Mounted on the dry run's client (httpx ``MockTransport`` style): the worker sends the dry
run's requests like any other and classifies the answers with Meta's classifier, so it has no
dry-run special case. Each answer carries, besides Meta's shape, a ``dry_run`` object with the
rule's full description and the warnings (Meta's rules, destinations/meta/rules/), which the
dry run shows as the attempt's message.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from trackside.destinations.meta import rules as meta_rules
from trackside.destinations.meta.rules import RulesConfig, TokenGrant

__all__ = ["FBTRACE_ID", "DryRunTransport"]

#: The trace id of every dry-run answer (there is no Meta request to trace).
FBTRACE_ID = "dry-run"


class DryRunTransport(httpx.AsyncBaseTransport, httpx.BaseTransport):
    """``DryRunTransport(rules, tokens)``: Meta's verdict on each request, sent nowhere."""

    def __init__(
        self,
        rules: RulesConfig,
        tokens: Mapping[str, TokenGrant],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.rules = rules
        self._tokens = dict(tokens)
        self._clock = clock

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()  # multipart bodies are streams until read
        return self.answer(request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        return self.answer(request)

    def answer(self, request: httpx.Request, now: float | None = None) -> httpx.Response:
        """Meta's answer to ``request`` (its body already read)."""
        parts = request.url.path.strip("/").split("/")
        version, object_id = (parts[0], parts[1]) if len(parts) == 3 else (None, parts[0])
        parsed = meta_rules.parse_request(
            request.method,
            version,
            object_id,
            dict(request.url.params),
            {key.lower(): value for key, value in request.headers.items()},
            request.content,
        )
        if isinstance(parsed, meta_rules.MetaError):
            return _refusal(parsed, request)
        outcome = meta_rules.validate(
            parsed, self.rules, self._clock() if now is None else now, tokens=self._tokens
        )
        if outcome.error is not None:
            return _refusal(outcome.error, request)
        body: dict[str, Any] = meta_rules.success_body(
            len(meta_rules.request_events(parsed)), FBTRACE_ID
        )
        body["dry_run"] = {"warnings": list(outcome.warnings)}
        return httpx.Response(200, json=body, request=request)


def _refusal(error: meta_rules.MetaError, request: httpx.Request) -> httpx.Response:
    body = error.body(FBTRACE_ID)
    body["dry_run"] = {"described": error.describe()}
    return httpx.Response(error.http_status, json=body, request=request)
