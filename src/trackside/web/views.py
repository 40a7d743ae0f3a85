"""GET /v1/events/{event_id}: a stored event as the API shows it, personal data hashed only.

The store keeps contact keys hashed already, but IP address, user agent, click and browser ids
stay in clear because Meta wants them unhashed, and the payload recorded as "sent" carries them
too. The API is read by shop staff and scripts, so every value under a personal-data key is
shown as its SHA-256 hex: still comparable ("same IP as the pixel saw?"), never readable.
Meta's keys: https://developers.facebook.com/documentation/ads-commerce/conversions-api/parameters/customer-information-parameters
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from trackside import timeline
from trackside.destinations import registry
from trackside.identity import is_sha256_hex, sha256_hex
from trackside.identity.keys import PERSONAL_KEYS
from trackside.isotime import iso_utc
from trackside.store import EventView, OutboxRow


@functools.cache
def personal_keys() -> frozenset[str]:
    """Keys whose values are personal data in any stored or sent document: trackside's own
    (identity/keys.py) and every registered destination's payload keys (its DestinationSpec).
    Meta's hashed keys are included: a value that is not already a hash (e.g. external_id with
    TRACKSIDE_HASH_EXTERNAL_ID=false) gets hashed here."""
    return PERSONAL_KEYS | registry.personal_keys()


def hash_personal(value: Any, key: str | None = None) -> Any:
    """A copy of ``value`` where every string under a personal key is SHA-256 hex."""
    if isinstance(value, dict):
        return {k: hash_personal(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [hash_personal(v, key) for v in value]
    if key in personal_keys() and value is not None and not isinstance(value, bool):
        text = str(value)
        return text if is_sha256_hex(text) else sha256_hex(text)
    return value


def _timeline(view: EventView) -> list[dict[str, Any]]:
    return [
        {"at": iso_utc(entry.at), "kind": entry.kind, "destination": entry.destination,
         "detail": (entry.detail or entry.kind) if entry.final else entry.detail}
        for entry in timeline.build(view)
    ]


def _outcome(row: OutboxRow) -> dict[str, Any]:
    return {
        "destination": row.destination,
        "status": row.status,
        "attempts": row.attempts,
        "next_attempt_at": iso_utc(row.next_attempt_at) if row.status == "pending" else None,
        "finished_at": iso_utc(row.finished_at),
        "code": row.code,
        "subcode": row.subcode,
        "message": row.message,
        "sent": hash_personal(row.sent),
    }


def event_lookup(event_id: str, views: Sequence[EventView]) -> dict[str, Any]:
    """The body of GET /v1/events/{event_id} (schema: schemas.EventLookup)."""
    events = []
    for view in views:
        stored = view.event.model_dump(mode="json", exclude_defaults=True)
        # The consent policy's country hint is derived from the address: not for display.
        stored.pop("country_hint", None)
        # The event's own time as the API's other times (the recorded payload, under "sent",
        # stays as the destination received it: Meta's unix seconds).
        stored["event_time"] = iso_utc(view.event.event_time, "seconds")
        events.append({
            "event_name": view.event_name,
            "event_id": view.event_id,
            "source": view.source,
            "accepted_at": iso_utc(view.accepted_at),
            "event": hash_personal(stored),
            "destinations": [_outcome(row) for row in view.outbox],
            "timeline": _timeline(view),
        })
    return {"event_id": event_id, "events": events}
