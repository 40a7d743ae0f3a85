"""Dry run: what trackside would send to Meta, checked by Meta's rules, sent nowhere.

Active when no Meta credentials are configured, so a new install shows, event by event, the
payload Meta would receive and whether Meta would take it (destinations/meta/rules/), before
the owner pastes a token. It is the Meta destination built with placeholder credentials, with a
:class:`~trackside.destinations.dryrun.transport.DryRunTransport` as its client's transport:
the worker sends and classifies its requests like Meta's, and they never leave the process.
The payload and the request are byte for byte what Meta would get — only the pixel id and
token differ, and the real token (if one is configured anyway) never enters a dry-run request.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import httpx
from pydantic import SecretStr

from trackside.config import Settings
from trackside.destinations import Classification, Prepared, Verdict
from trackside.destinations.dryrun.transport import DryRunTransport
from trackside.destinations.meta import MetaDestination
from trackside.destinations.meta.rules import RulesConfig, TokenGrant
from trackside.destinations.meta.settings import MetaSettings

__all__ = ["PLACEHOLDER_PIXEL_ID", "PLACEHOLDER_TOKEN", "DryRunDestination"]

PLACEHOLDER_PIXEL_ID = "000000000000000"
PLACEHOLDER_TOKEN = "DRY-RUN-PLACEHOLDER-TOKEN"
#: Never resolved: the dry run's client answers through its transport.
PLACEHOLDER_GRAPH_URL = "https://graph.facebook.invalid"


class DryRunDestination(MetaDestination):
    """``DryRunDestination(settings)``: Meta's payloads, validated locally."""

    name = "dryrun"
    display_name = "the dry run"
    #: Nothing to probe: the dry run sends nothing.
    build_probe = None  # type: ignore[assignment]

    def __init__(self, settings: Settings, rules: RulesConfig | None = None) -> None:
        meta = settings.destination("meta", MetaSettings).model_copy(
            update={
                "meta_pixel_id": PLACEHOLDER_PIXEL_ID,
                "meta_access_token": SecretStr(PLACEHOLDER_TOKEN),
                "meta_graph_url": PLACEHOLDER_GRAPH_URL,
            }
        )
        placeholder = settings.model_copy(
            update={"destination_settings": {**settings.destination_settings, "meta": meta}}
        )
        super().__init__(placeholder, rules=rules)
        #: The worker gives this destination a client of its own on this transport.
        self.transport = DryRunTransport(
            self.rules, {PLACEHOLDER_TOKEN: TokenGrant(pixels=frozenset({PLACEHOLDER_PIXEL_ID}))}
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mode={self.rules.mode!r})"

    def classify(
        self, response: httpx.Response | None, error: Exception | None, batch_size: int
    ) -> Classification:
        """Meta's verdict, with the rule's whole description or the warnings as message."""
        result = super().classify(response, error, batch_size)
        extra = _dry_run_notes(response)
        if extra is None:
            return result
        described, warnings = extra
        if result.verdict is Verdict.DELIVERED:
            message = "; ".join(warnings) or None
            return Classification(result.verdict, http_status=result.http_status,
                                  message=message, trace_id=result.trace_id)
        return Classification(result.verdict, http_status=result.http_status, code=result.code,
                              subcode=result.subcode, message=described or result.message,
                              retry_after_s=result.retry_after_s, trace_id=result.trace_id)

    def simulate(self, batch: Sequence[Prepared], now: float | None = None) -> Classification:
        """Meta's verdict on this batch, from the request exactly as the worker sends it."""
        request = self.build_request(batch)
        request.read()
        return self.classify(self.transport.answer(request, now), None, len(batch))


def _dry_run_notes(response: httpx.Response | None) -> tuple[str | None, list[str]] | None:
    if response is None:
        return None
    try:
        notes = json.loads(response.content).get("dry_run")
    except (ValueError, AttributeError):
        return None
    if not isinstance(notes, dict):
        return None
    described = notes.get("described")
    warnings = [str(w) for w in notes.get("warnings") or []]
    return (str(described) if described else None), warnings
