"""``doctor``'s GA4 check: one sample purchase validated by ``/debug/mp/collect``.

Google's validation server: https://developers.google.com/analytics/devguides/collection/protocol/ga4/validating-events
"""

from __future__ import annotations

import hashlib
import re
import time
from typing import Any

import httpx

from trackside.config import Settings
from trackside.destinations import Skip
from trackside.destinations.ga4.destination import GA4Destination
from trackside.destinations.ga4.settings import GA4Settings
from trackside.events import NormalizedEvent

__all__ = ["debug_validate"]


def _sample_event(now: float) -> NormalizedEvent:
    return NormalizedEvent.model_validate(
        {
            "event_name": "Purchase",
            "event_id": "TRACKSIDE-DOCTOR",
            "event_time": int(now),
            "action_source": "website",
            "user_data": {"external_id": [hashlib.sha256(b"trackside-doctor").hexdigest()]},
            "ga_client_id": "GA1.1.1234567890.1700000000",
            "ga_session_id": "GS2.1.s1700000000$o1$g1$t1700000100$j0$l0$h0",
            "order": {
                "reference": "TRACKSIDE-DOCTOR",
                "value": 10.0,
                "currency": "EUR",
                "items": [{"id": "SKU-1", "name": "Doctor sample", "price": 10.0, "quantity": 1}],
            },
            "consent": {"analytics_storage": "granted", "ad_user_data": "denied",
                        "ad_personalization": "denied"},
        }
    )  # fmt: skip


def debug_validate(settings: Settings, client: httpx.Client) -> list[dict[str, Any]] | str:
    """Send one sample purchase to ``{ga4_url}/debug/mp/collect``.

    Returns GA4's validation messages (an empty list means the payload is valid), or a
    plain-words explanation when GA4 cannot be asked. Nothing is recorded in reports: the debug
    endpoint does not process events.
    """
    url = settings.destination("ga4", GA4Settings).ga4_url
    try:
        destination = GA4Destination(settings)
    except ValueError as exc:
        return str(exc)
    now = time.time()
    prepared = destination.prepare(0, _sample_event(now), now)
    if isinstance(prepared, Skip):
        return f"trackside could not build a sample GA4 payload: {prepared.reason}"
    request = destination.request_for(
        [prepared.payload],
        "/debug/mp/collect",
        {"validation_behavior": "ENFORCE_RECOMMENDATIONS"},
    )
    try:
        response = client.send(request)
    except httpx.TimeoutException:
        return f"cannot reach GA4 at {url}: the request timed out"
    except httpx.HTTPError as exc:
        # "[Errno 111] Connection refused" → "Connection refused": the words, not the number.
        reason = re.sub(r"^\[Errno -?\d+\]\s*", "", str(exc)) or type(exc).__name__
        return destination.scrub(f"cannot reach GA4 at {url}: {reason}")
    if response.status_code != 200:
        return destination.scrub(
            f"GA4's debug endpoint at {url} answered HTTP {response.status_code}"
        )
    try:
        messages = response.json().get("validationMessages")
    except (ValueError, AttributeError):
        messages = None
    if not isinstance(messages, list):
        return (
            f"GA4's debug endpoint at {url} did not answer with validation "
            "messages; is TRACKSIDE_GA4_URL right?"
        )
    return messages
