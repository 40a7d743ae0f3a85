"""Joining context: what a later copy of an event may add to the stored one.

The store backend knows the order, the browser knows the shopper's cookies, IP and consent
(DESIGN.md "Joining browser context"). Both paths share the event id, so the second copy to
arrive fills what the first lacked. It never overwrites: the first value wins, because a
later copy (anyone can post to /collect) must not rewrite an order's identity. Consent is the
exception to "first wins": it combines to the most restrictive choice per signal
(:func:`most_restrictive_consent`), so no copy can upgrade a shopper's denial.
"""

from __future__ import annotations

import json

from trackside.consent import BROWSER_SOURCES
from trackside.events import Consent, NormalizedEvent

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


#: The consent signals, each combined on its own.
CONSENT_SIGNALS = ("ad_storage", "analytics_storage", "ad_user_data", "ad_personalization")

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


def most_restrictive_consent(*choices: Consent | None) -> Consent | None:
    """Per signal: ``denied`` if any choice denies it, else ``granted`` if any grants it.

    A signal nobody stated stays unstated (the consent policy decides what that means), and a
    denial is never upgraded by another context's grant, whichever came first or last.
    """
    known = [c for c in choices if c is not None]
    if not known:
        return None
    combined: dict[str, str] = {}
    for signal in CONSENT_SIGNALS:
        values = {getattr(c, signal) for c in known}
        if "denied" in values:
            combined[signal] = "denied"
        elif "granted" in values:
            combined[signal] = "granted"
    return Consent.model_validate(combined)


def merge_context(
    stored: NormalizedEvent, incoming: NormalizedEvent
) -> tuple[NormalizedEvent, list[str]]:
    """The stored event with what ``incoming`` adds, and the names of what it added."""
    user_data = dict(stored.user_data)
    added: list[str] = []
    for key in JOINABLE_USER_KEYS:
        if key not in user_data and key in incoming.user_data:
            user_data[key] = incoming.user_data[key]
            added.append(key)
    updates: dict[str, object] = {}
    for name in ("ga_client_id", "ga_session_id", "cart_id", "customer_id",
                 "event_source_url", "referrer_url", "country_hint"):
        if getattr(stored, name) is None and getattr(incoming, name) is not None:
            updates[name] = getattr(incoming, name)
            added.append(name)
    consent = most_restrictive_consent(stored.consent, incoming.consent)
    if (consent or Consent()) != (stored.consent or Consent()):
        updates["consent"] = consent
        # What changed came from the incoming copy (its grant filled a gap, or its denial won).
        updates["consent_source"] = incoming.consent_source
        added.append("consent")
        if consent is not None and consent.ad_personalization == "denied" and not stored.opt_out:
            # As normalize() does for an event's own consent: attribution only (Meta's opt_out).
            updates["opt_out"] = True
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
