"""Dry run: what trackside would send to Meta, checked by Meta's rules, sent nowhere.

Active when no Meta credentials are configured, so a new install shows, event by event, the
payload Meta would receive and whether Meta would take it (spec/meta-capi.md §13), before the
owner pastes a token. The worker calls :meth:`DryRunDestination.simulate` instead of sending
because ``offline`` is true.

It wraps a :class:`MetaDestination` built with placeholder credentials, so the payload and the
request are byte for byte what Meta would get — only the pixel id and token differ, and the real
token (if one is configured anyway) never enters a dry-run request.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import httpx
from pydantic import SecretStr

from trackside.config import Settings
from trackside.destinations import Classification, Prepared, Skip, Verdict
from trackside.destinations.meta import MetaDestination, classify_response
from trackside.destinations.meta import rules as meta_rules
from trackside.destinations.meta.rules import RulesConfig, TokenGrant
from trackside.events import NormalizedEvent

__all__ = ["PLACEHOLDER_PIXEL_ID", "PLACEHOLDER_TOKEN", "DryRunDestination"]

PLACEHOLDER_PIXEL_ID = "000000000000000"
PLACEHOLDER_TOKEN = "DRY-RUN-PLACEHOLDER-TOKEN"
#: Never resolved: the worker does not send offline destinations' requests.
PLACEHOLDER_GRAPH_URL = "https://graph.facebook.invalid"


class DryRunDestination:
    """``DryRunDestination(settings)``: Meta's payloads, validated locally."""

    name = "dryrun"
    display_name = "the dry run"
    offline = True
    #: Nothing to probe: the dry run sends nothing.
    build_probe = None
    max_batch_size = MetaDestination.max_batch_size
    max_event_age_s = MetaDestination.max_event_age_s
    expiry_margin_s = MetaDestination.expiry_margin_s
    age_limit = MetaDestination.age_limit

    def __init__(self, settings: Settings, rules: RulesConfig | None = None) -> None:
        placeholder = settings.model_copy(
            update={
                "meta_pixel_id": PLACEHOLDER_PIXEL_ID,
                "meta_access_token": SecretStr(PLACEHOLDER_TOKEN),
                "meta_graph_url": PLACEHOLDER_GRAPH_URL,
            }
        )
        self._meta = MetaDestination(placeholder, rules=rules)
        self.rules = self._meta.rules
        self._tokens = {PLACEHOLDER_TOKEN: TokenGrant(pixels=frozenset({PLACEHOLDER_PIXEL_ID}))}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mode={self.rules.mode!r})"

    def prepare(self, outbox_id: int, event: NormalizedEvent, now: float) -> Prepared | Skip:
        return self._meta.prepare(outbox_id, event, now)

    def batches(self, prepared: Sequence[Prepared]) -> list[list[Prepared]]:
        return self._meta.batches(prepared)

    def build_request(self, batch: Sequence[Prepared]) -> httpx.Request:
        return self._meta.build_request(batch)

    def classify(
        self, response: httpx.Response | None, error: Exception | None, batch_size: int
    ) -> Classification:
        return self._meta.classify(response, error, batch_size)

    def simulate(self, batch: Sequence[Prepared], now: float | None = None) -> Classification:
        """Meta's verdict on this batch, from the request exactly as it would be sent."""
        request = self.build_request(batch)
        parts = request.url.path.strip("/").split("/")
        version, object_id = (parts[0], parts[1]) if len(parts) == 3 else (None, parts[0])
        parsed = meta_rules.parse_request(
            request.method,
            version,
            object_id,
            dict(request.url.params),
            {key.lower(): value for key, value in request.headers.items()},
            request.read(),  # multipart bodies are streams until read
        )
        if isinstance(parsed, meta_rules.MetaError):
            return _verdict(parsed)
        outcome = meta_rules.validate(
            parsed, self.rules, time.time() if now is None else now, tokens=self._tokens
        )
        if outcome.error is not None:
            return _verdict(outcome.error)
        message = "; ".join(outcome.warnings) or None
        return Classification(Verdict.DELIVERED, http_status=200, message=message)


def _verdict(error: meta_rules.MetaError) -> Classification:
    """The verdict the real response would get, through the same classifier rules."""
    response = httpx.Response(error.http_status, json=error.body("dry-run"))
    classified = classify_response(response, None, 0)
    return Classification(
        classified.verdict,
        http_status=error.http_status,
        code=error.code,
        subcode=error.subcode,
        message=error.describe(),
    )
