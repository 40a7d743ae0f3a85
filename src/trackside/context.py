"""Joining context: what a later copy of an event may add to the stored one.

The store backend knows the order, the browser knows the shopper's cookies, IP and consent
(docs/browser-tag.md "Browser purchases: signed, trusted or held"). Both paths share the event
id, so the second copy to arrive fills what the first lacked. It never overwrites: the first
value wins, because a later copy (anyone can post to /collect) must not rewrite an order's
identity. Consent is the exception to "first wins": two copies of one event state the
shopper's choice at the same moment, so they combine to the most restrictive choice per signal
(:func:`most_restrictive_consent`) and no copy can upgrade a denial. Choices made at different
moments (the beacons of a cart or customer, trackside.join) are another matter: the newest
stated choice per signal counts (:func:`newest_consent`), since consent is given and withdrawn
at any time.
"""

from __future__ import annotations

from collections.abc import Sequence

from trackside.consent import BROWSER_SOURCES
from trackside.events import Consent, NormalizedEvent
from trackside.identity.keys import BROWSER_KEYS, JOINABLE_KEYS
from trackside.outcomes import OPEN
from trackside.store import InsertResult, NewEvent, UnitOfWork

#: The consent signals, each combined on its own.
CONSENT_SIGNALS = ("ad_storage", "analytics_storage", "ad_user_data", "ad_personalization")


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


def newest_consent(*choices: Consent | None) -> Consent | None:
    """Per signal: the first stated value of ``choices`` (given newest first).

    A shopper may grant and withdraw consent at any time, so their latest choice counts, both
    ways: a grant today overrides a refusal of months ago, and a withdrawal overrides every
    earlier grant. A choice that leaves a signal unstated says nothing about it, so an older
    statement of that signal still holds.
    """
    known = [c for c in choices if c is not None]
    if not known:
        return None
    combined: dict[str, str] = {}
    for signal in CONSENT_SIGNALS:
        for choice in known:
            value = getattr(choice, signal)
            if value is not None:
                combined[signal] = value
                break
    return Consent.model_validate(combined)


def merge_context(
    stored: NormalizedEvent, incoming: NormalizedEvent
) -> tuple[NormalizedEvent, list[str]]:
    """The stored event with what ``incoming`` adds, and the names of what it added.

    Both are copies of one event (or an event and what its browser says about the shopper
    now): their consent combines to the most restrictive choice per signal."""
    user_data = dict(stored.user_data)
    added: list[str] = []
    for key in JOINABLE_KEYS:  # user_data keys a later copy may add
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


def insert_or_merge(unit: UnitOfWork, records: Sequence[NewEvent],
                    now: float) -> list[InsertResult]:
    """Store the new events; a duplicate adds to the stored copy what it lacks.

    Only while some row is still to be sent (pending or held): after that, what was sent is
    the record. When a duplicate brings browser keys (:data:`BROWSER_KEYS`), rows that were
    waiting for them (a server Purchase's join window) become due now; held rows stay held,
    because another browser copy is no confirmation. Every duplicate gets a note.
    """
    inserted = unit.insert_new(records, now)
    results: list[InsertResult] = []
    for record, new in zip(records, inserted, strict=True):
        incoming = record.event
        if new:
            results.append(InsertResult(incoming.event_name, incoming.event_id, "queued"))
            continue
        stored = unit.find_event(incoming.event_name, incoming.event_id, shop=record.shop)
        assert stored is not None  # the insert conflicted with it in this transaction
        added: list[str] = []
        if any(status in OPEN for status in stored.statuses):
            merged, added = merge_context(stored.event, incoming)
            if added:
                unit.update_event(stored.ref, merged)
                if BROWSER_KEYS.intersection(added):
                    unit.make_due(stored.ref, now)
        detail = f"duplicate from {record.source}"
        detail += f"; added {', '.join(added)}" if added else "; nothing new"
        unit.note(stored.ref, "duplicate", detail, now)
        results.append(InsertResult(incoming.event_name, incoming.event_id, "duplicate", added))
    return results
