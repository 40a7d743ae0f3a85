"""Joining context: what a later copy of an event may add to the stored one.

The store backend knows the order, the browser knows the shopper's cookies, IP and consent
(DESIGN.md "Joining browser context"). Both paths share the event id, so the second copy to
arrive fills what the first lacked. It never overwrites: the first value wins, because a
later copy (anyone can post to /collect) must not rewrite an order's identity.
"""

from __future__ import annotations

import json

from trackside.consent import BROWSER_SOURCES
from trackside.events import NormalizedEvent

#: user_data keys a later copy may add.
JOINABLE_USER_KEYS = (
    "client_ip_address",
    "client_user_agent",
    "fbp",
    "fbc",
    "em",
    "ph",
    "fn",
    "ln",
    "db",
    "ge",
    "ct",
    "st",
    "zp",
    "country",
    "external_id",
)

#: Keys whose arrival means "the browser was seen": a waiting server event may go now.
BROWSER_KEYS = frozenset({"client_ip_address", "client_user_agent", "fbp", "fbc"})


#: What the retention purge clears (DESIGN.md: only IP and user agent are stored in clear).
PURGED_USER_KEYS = ("client_ip_address", "client_user_agent", "fbp", "fbc")


def strip_browser_context(event: NormalizedEvent) -> NormalizedEvent:
    user_data = {k: v for k, v in event.user_data.items() if k not in PURGED_USER_KEYS}
    return event.model_copy(update={"user_data": user_data, "ga_client_id": None,
                                    "ga_session_id": None})


def strip_sent_payload(sent: str) -> str:
    """A delivered payload keeps only hashed data after the retention period."""
    payload = json.loads(sent)
    user = payload.get("user_data")
    if isinstance(user, dict):
        payload["user_data"] = {k: v for k, v in user.items() if k not in PURGED_USER_KEYS}
    payload.pop("client_id", None)  # GA4: the browser's _ga client id
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def merge_context(stored: NormalizedEvent, incoming: NormalizedEvent) -> tuple[NormalizedEvent, list[str]]:
    """The stored event with what ``incoming`` adds, and the names of what it added."""
    user_data = dict(stored.user_data)
    added: list[str] = []
    for key in JOINABLE_USER_KEYS:
        if key not in user_data and key in incoming.user_data:
            user_data[key] = incoming.user_data[key]
            added.append(key)
    updates: dict[str, object] = {}
    for name in ("ga_client_id", "ga_session_id", "consent", "cart_id", "customer_id",
                 "event_source_url", "referrer_url", "country_hint"):
        if getattr(stored, name) is None and getattr(incoming, name) is not None:
            updates[name] = getattr(incoming, name)
            added.append(name)
    if "consent" in added:
        updates["consent_source"] = incoming.consent_source
    if stored.source in BROWSER_SOURCES and incoming.source not in BROWSER_SOURCES:
        # The store confirms what the browser reported first: its order (summed split
        # checkouts, tax-inclusive totals, real items) is the truth, not the page's numbers.
        if incoming.order is not None and incoming.order != stored.order:
            updates["order"] = incoming.order
            added.append("order")
        updates["source"] = incoming.source
        added.append(f"confirmation from {incoming.source}")
    if not added:
        return stored, []
    flags = list(stored.flags)
    if "no_customer_information" in flags and "no_customer_information" not in incoming.flags:
        flags.remove("no_customer_information")
    merged = stored.model_copy(update={"user_data": user_data, "flags": flags, **updates})
    return merged, added
