"""The retention purge: what is cleared from stored events, and when (docs/consent-and-privacy.md).

After ``TRACKSIDE_RETENTION_DAYS`` an event keeps only hashed data: its IP address, user agent
and browser identifiers (fbp, fbc, GA client and session ids) are cleared, in the stored event
and in every payload recorded as sent. An event is purged once all its deliveries are final;
dead letters only on request (``include_dead``), because an operator may still replay them.
The store only finds candidates and writes what this module decided.
"""

from __future__ import annotations

import json
from collections.abc import Collection

from trackside.events import NormalizedEvent
from trackside.identity.keys import PURGED_KEYS
from trackside.outcomes import OPEN, Outcome
from trackside.store import Store

#: user_data keys the purge clears by default (docs/consent-and-privacy.md: only IP, user agent
#: and browser ids are stored in clear).
PURGED_USER_KEYS = PURGED_KEYS
#: Top-level keys of a sent payload the purge clears by default (GA4: the browser's client id).
PURGED_PAYLOAD_KEYS = ("client_id",)


def strip_browser_context(event: NormalizedEvent,
                          personal_keys: Collection[str] = PURGED_USER_KEYS) -> NormalizedEvent:
    user_data = {k: v for k, v in event.user_data.items() if k not in personal_keys}
    return event.model_copy(update={"user_data": user_data, "ga_client_id": None,
                                    "ga_session_id": None})


def strip_sent_payload(sent: str, personal_keys: Collection[str] = PURGED_USER_KEYS,
                       payload_keys: Collection[str] = PURGED_PAYLOAD_KEYS) -> str:
    """A delivered payload keeps only hashed data after the retention period."""
    payload = json.loads(sent)
    user = payload.get("user_data")
    if isinstance(user, dict):
        payload["user_data"] = {k: v for k, v in user.items() if k not in personal_keys}
    for key in payload_keys:
        payload.pop(key, None)
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def purge_personal_data(
    store: Store, older_than: float, now: float, include_dead: bool = False, *,
    personal_keys: Collection[str] | None = None,
    payload_keys: Collection[str] | None = None,
    shop: str | None = None,
) -> int:
    """Clear the browser data of final events (of ``shop``, or of every shop) accepted before
    ``older_than``; returns how many events were purged. The keys cleared are, unless given,
    those every registered destination declares (its DestinationSpec's purged paths)."""
    if personal_keys is None or payload_keys is None:
        from trackside.destinations import registry  # destinations import the store's records

        declared_user, declared_payload = registry.purged_keys()
        personal_keys = declared_user if personal_keys is None else personal_keys
        payload_keys = declared_payload if payload_keys is None else payload_keys
    blocking = [*OPEN] if include_dead else [*OPEN, Outcome.DEAD]
    with store.transaction() as unit:
        candidates = unit.purge_candidates(older_than, blocking, shop=shop)
        for candidate in candidates:
            unit.mark_purged(
                candidate.ref, strip_browser_context(candidate.event, personal_keys),
                {oid: strip_sent_payload(text, personal_keys, payload_keys)
                 for oid, text in candidate.sent.items()},
                now)
    return len(candidates)
