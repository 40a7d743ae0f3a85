"""Browser context joins and the browser Purchase policy, around the store insert of accept().

DESIGN.md "Joining browser context": the store backend knows the order, the browser knows the
shopper. Three joins bring them together:

1. Same event id (the confirmation page's beacon and the store's Purchase): the store's
   duplicate merge (``context.merge_context``) when the server copy came first; when the
   browser's came first, :func:`insert` below lets the store's copy replace it.
2. Same ``cart_id`` / ``customer_id``: a server event takes the newest browser identifiers seen
   for its cart or customer within the retention period (fbp, fbc, IP, user agent, GA ids),
   before its outbox is planned, so consent and the join window see it. A browser event only
   carries such an id when the page also sent the store's token for it (sources/browser.py
   drops the id otherwise, with a note): customer ids are guessable, the token is not.
3. Consent captured in the browser travels with whichever join brought it, and combines with
   the event's own and every other context's to the most restrictive choice per signal
   (``context.most_restrictive_consent``): a join only ever adds what the event lacks and
   never upgrades a denial.

Browser Purchase policy: anyone can post to /collect, so a browser Purchase is sent on its own
word only when signed by the store (``TRACKSIDE_SIGNING_KEY``) or when the owner trusts the
browser (``TRACKSIDE_TRUST_BROWSER_PURCHASES``). Otherwise it is stored (the reconciliation
report sees it) but held: its outbox rows are never due on their own. The store's copy of the
order confirms it: within the join window of the browser copy's arrival (the confirmation page
fires seconds after the order), the browser's context joins the store's copy; later, the
browser copy lends nothing and the store's copy goes on its own data, because a beacon nobody
confirmed in time may be a forgery planted for a guessed order reference. Without a store copy
the held rows end ``suppressed`` with :data:`UNCONFIRMED_REASON` after the join window.

The store work is done by Store protocol methods (SQLite: store/sqlite_context.py):
``browser_events_by_key``, ``confirm_held_purchase``, ``has_expired_holds``,
``finish_expired_holds``, ``add_event_notes``.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from trackside.consent import BROWSER_SOURCES
from trackside.context import BROWSER_KEYS, merge_context, most_restrictive_consent
from trackside.events import NormalizedEvent
from trackside.quality import has_sufficient_customer_information
from trackside.sources.facts import facts_of
from trackside.store import HOLD_UNTIL, InsertResult, NewEvent

if TYPE_CHECKING:
    from trackside.pipeline import Pipeline

BROWSER_SOURCE = "browser"
UNCONFIRMED = "unconfirmed_browser_purchase"
SEEN_BY_BROWSER = "seen_by_browser"
PIXEL_ABSENT = "pixel_absent"
SIGNED = "signed_browser_purchase"
UNCONFIRMED_REASON = "browser purchase not confirmed by the store"
#: Note kind for a cart or customer id that a beacon named without the store's token.
UNVERIFIED_KEY = "join_key_refused"
_CONTEXT_ROWS = 10
_SWEEP_EVERY_S = 1.0
_last_sweep: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()


def insert(pipeline: Pipeline, records: list[NewEvent], source: str,
           now: float) -> list[InsertResult]:
    """``store.insert_events`` with the joins and the browser Purchase policy around it."""
    store = pipeline.store
    notes: list[tuple[str, str, str, str]] = []
    if source in BROWSER_SOURCES:
        records = [_browser_record(pipeline, record, notes) for record in records]
        results = store.insert_events(records, now)
    else:
        records = [_join_by_key(pipeline, record, now, notes) for record in records]
        results = _insert_confirming_held(pipeline, records, now)
    queued = {(r.event_name, r.event_id) for r in results if r.status == "queued"}
    store.add_event_notes([n for n in notes if (n[0], n[1]) in queued], now)
    sweep(pipeline, now)
    return results


def _insert_confirming_held(pipeline: Pipeline, records: list[NewEvent],
                            now: float) -> list[InsertResult]:
    # A server Purchase whose browser copy is held confirms it before the insert: the
    # duplicate merge of insert_events would let the browser's values win and could release
    # the held rows before confirm_held_purchase decides what the browser copy may lend.
    confirmed: dict[int, InsertResult] = {}
    for index, record in enumerate(records):
        if record.event.event_name == "Purchase":
            result = _confirm_held(pipeline, record, now)
            if result is not None:
                confirmed[index] = result
    inserted = iter(pipeline.store.insert_events(
        [r for i, r in enumerate(records) if i not in confirmed], now))
    results: list[InsertResult] = []
    for index, record in enumerate(records):
        result = confirmed.get(index) or next(inserted)
        if result.status == "duplicate" and record.event.event_name == "Purchase":
            # Another process stored the browser's copy between the check and the insert.
            result = _confirm_held(pipeline, record, now) or result
        results.append(result)
    return results


def _confirm_held(pipeline: Pipeline, record: NewEvent, now: float) -> InsertResult | None:
    added = pipeline.store.confirm_held_purchase(
        record, UNCONFIRMED, SEEN_BY_BROWSER, HOLD_UNTIL, UNCONFIRMED_REASON, now,
        lends_since=now - pipeline.settings.join_window_s)
    if added is None:
        return None
    # The store's first copy of the order: for its sender it is new.
    return InsertResult(record.event.event_name, record.event.event_id, "queued", added)


def sweep(pipeline: Pipeline, now: float, force: bool = False) -> int:
    """End held purchases whose join window is over; at most once a second unless forced."""
    store = pipeline.store
    if not force and now - _last_sweep.get(store, 0.0) < _SWEEP_EVERY_S:
        return 0
    _last_sweep[store] = now
    cutoff = now - pipeline.settings.join_window_s
    if not store.has_expired_holds(pipeline.destinations, HOLD_UNTIL, cutoff):
        return 0
    return store.finish_expired_holds(pipeline.destinations, HOLD_UNTIL, cutoff,
                                    UNCONFIRMED_REASON, now)


def _browser_record(pipeline: Pipeline, record: NewEvent,
                    notes: list[tuple[str, str, str, str]]) -> NewEvent:
    # In place: the record was built by this accept() call and is not shared (hot path).
    event = record.event
    facts = facts_of(record)
    for detail in facts.refused_join_keys:
        notes.append((event.event_name, event.event_id, UNVERIFIED_KEY, detail))
    if facts.pixel is False:
        event.flags.append(PIXEL_ABSENT)
    if event.event_name == "Purchase":
        event.flags.append(SEEN_BY_BROWSER)
        if facts.verified:
            event.flags.append(SIGNED)
        elif not pipeline.settings.trust_browser_purchases:
            event.flags.append(UNCONFIRMED)
            for plan in record.outbox:
                if plan.status == "pending":
                    plan.next_attempt_at = HOLD_UNTIL
    return record


def _join_by_key(pipeline: Pipeline, record: NewEvent, now: float,
                 notes: list[tuple[str, str, str, str]]) -> NewEvent:
    event = record.event
    join_keys: tuple[Literal["cart_id", "customer_id"], ...] = ("cart_id", "customer_id")
    keys = [(key, getattr(event, key)) for key in join_keys if getattr(event, key)]
    if not keys:
        return record
    since = now - pipeline.settings.retention_days * 86400
    rows: list[NormalizedEvent] = []
    seen: set[tuple[str, str]] = set()
    used: list[str] = []
    for key, value in keys:
        candidates = pipeline.store.browser_events_by_key(key, value, since, _CONTEXT_ROWS)
        found = [row for row in candidates if (row.event_name, row.event_id) not in seen]
        if found:
            used.append(key)
            seen.update((row.event_name, row.event_id) for row in found)
            rows.extend(found)
    if not rows:
        return record
    merged, added = merge_context(event, browser_context(event, rows))
    if not added:
        return record
    notes.append((event.event_name, event.event_id, "joined",
                  f"browser context by {', '.join(used)}: added {', '.join(added)}"))
    # Planned again: the joined consent and browser keys change what is due and when.
    return NewEvent(merged, record.source, pipeline.plan(merged, record.source, now))


def browser_context(event: NormalizedEvent, rows: Sequence[NormalizedEvent]) -> NormalizedEvent:
    """One event holding what ``rows`` (most relevant first: the cart's newest, then the
    customer's newest) say about the shopper.

    Identifiers: the first row's value wins, so a later click's fbc replaces an older one.
    Consent: the most restrictive of all rows per signal, so a denial on any page of the cart
    or customer is never upgraded by a grant on another (nor by a forged beacon's).
    """
    user: dict[str, Any] = {}
    picked: dict[str, Any] = {}
    for row in rows:
        for key in BROWSER_KEYS:
            if key in row.user_data:
                user.setdefault(key, row.user_data[key])
        for name in ("ga_client_id", "ga_session_id", "event_source_url"):
            if picked.get(name) is None and getattr(row, name) is not None:
                picked[name] = getattr(row, name)
    consent = most_restrictive_consent(*(row.consent for row in rows))
    return NormalizedEvent(
        event_name=event.event_name, event_id=event.event_id, event_time=event.event_time,
        action_source="website", user_data=user, source=BROWSER_SOURCE, consent=consent,
        consent_source="browser" if consent is not None else None, **picked,
        # merge_context clears the server event's flag only if the context itself suffices.
        flags=[] if has_sufficient_customer_information(user) else ["no_customer_information"],
    )
