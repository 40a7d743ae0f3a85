"""Browser context joins and the browser Purchase policy, around the store insert of accept().

The store backend knows the order, the browser knows the shopper (docs/browser-tag.md
"Joining browser context to server events"). Three joins bring them together:

1. Same event id (the confirmation page's beacon and the store's Purchase): the store's
   duplicate merge (``context.merge_context``) when the server copy came first; when the
   browser's came first, :func:`insert` below lets the store's copy replace it.
2. Same ``cart_id`` / ``customer_id``: a server event takes the newest browser identifiers seen
   for its cart or customer within the retention period (fbp, fbc, IP, user agent, GA ids),
   before its outbox is planned, so consent and the join window see it. A browser event only
   carries such an id when the page also sent the store's token for it (sources/browser.py
   drops the id otherwise, with a note): customer ids are guessable, the token is not.
3. Consent captured in the browser travels with whichever join brought it. Two copies of the
   same event (join 1, and the event's own consent against what join 2 brings) combine to
   the most restrictive choice per signal (``context.most_restrictive_consent``): they speak
   for the same moment. The beacons of a cart or customer (join 2) speak for different
   moments: per signal, the newest stated choice among them counts
   (:func:`browser_consent`), since a shopper may grant or withdraw consent at any time.

Browser Purchase policy: anyone can post to /collect, so a browser Purchase is sent on its own
word only when signed by the store (``TRACKSIDE_SIGNING_KEY``) or when the owner trusts the
browser (``TRACKSIDE_TRUST_BROWSER_PURCHASES``). Otherwise it is stored (the reconciliation
report sees it) but held: its outbox rows are never due on their own. The store's copy of the
order confirms it: within the join window of the browser copy's arrival (the confirmation page
fires seconds after the order), the browser's context joins the store's copy; later, the
browser copy lends nothing and the store's copy goes on its own data, because a beacon nobody
confirmed in time may be a forgery planted for a guessed order reference. Without a store copy
the held rows end ``suppressed`` with :data:`UNCONFIRMED_REASON` after the join window.

This is a stage of ``Pipeline.commit``: it gets the settings it needs and the pipeline's
planner (:class:`JoinStage`) and reads and writes through the unit of work of the accepted
group's one transaction (``Store.transaction``); the store runs the queries, the decisions are
here (and in trackside.context for what a duplicate adds).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from trackside.consent import BROWSER_SOURCES
from trackside.context import insert_or_merge, merge_context, newest_consent
from trackside.events import Consent, NormalizedEvent
from trackside.identity.keys import BROWSER_KEYS
from trackside.outcomes import Outcome
from trackside.quality import has_sufficient_customer_information
from trackside.shop_names import DEFAULT_SHOP
from trackside.sources.facts import facts_of
from trackside.store import InsertResult, NewEvent, OutboxPlan, UnitOfWork

BROWSER_SOURCE = "browser"
UNCONFIRMED = "unconfirmed_browser_purchase"
SEEN_BY_BROWSER = "seen_by_browser"
PIXEL_ABSENT = "pixel_absent"
SIGNED = "signed_browser_purchase"
UNCONFIRMED_REASON = "browser purchase not confirmed by the store"
#: Note kind for a cart or customer id that a beacon named without the store's token.
UNVERIFIED_KEY = "join_key_refused"
_CONTEXT_ROWS = 10
SWEEP_EVERY_S = 1.0

#: The planner of the pipeline: (event, source, now) → the outbox rows to create.
Planner = Callable[[NormalizedEvent, str, float], list[OutboxPlan]]


@dataclass
class JoinStage:
    """What the join needs from the pipeline: settings values and the planner (the store comes
    as the unit of work of the group's transaction)."""

    join_window_s: float
    retention_days: float
    trust_browser_purchases: bool
    plan: Planner
    #: When the sweep last looked (at most once a second unless forced).
    last_sweep: float = 0.0
    #: The shop whose held purchases this stage sweeps (its join window is the shop's).
    shop: str = DEFAULT_SHOP


def insert(stage: JoinStage, unit: UnitOfWork, records: list[NewEvent], source: str,
           now: float) -> list[InsertResult]:
    """The insert of the accepted group, with the joins and the browser Purchase policy."""
    notes: list[tuple[str, str, str, str, str]] = []
    if source in BROWSER_SOURCES:
        records = [_browser_record(stage, record, notes) for record in records]
        results = insert_or_merge(unit, records, now)
        _mark_seen_by_browser(unit, records, results)
    else:
        records = [_join_by_key(stage, unit, record, now, notes) for record in records]
        results = _insert_confirming_held(stage, unit, records, now)
    queued = {(r.event_name, r.event_id) for r in results if r.status == "queued"}
    for shop, event_name, event_id, kind, detail in notes:
        if (event_name, event_id) in queued:
            stored = unit.find_event(event_name, event_id, shop=shop)
            if stored is not None:
                unit.note(stored.ref, kind, detail, now)
    sweep(stage, unit, now)
    return results


#: The flags a browser copy of an event records on the stored copy, whichever came first: the
#: reconciliation report (trackside.reports.reconciliation) reads them.
BROWSER_SEEN_FLAGS = (SEEN_BY_BROWSER, PIXEL_ABSENT)


def _mark_seen_by_browser(unit: UnitOfWork, records: list[NewEvent],
                          results: list[InsertResult]) -> None:
    """A browser copy of an event already stored (the store's Purchase came first) marks it
    ``seen_by_browser`` (and ``pixel_absent`` when its page had no pixel), even when every row
    is final: whether the pixel fired is a fact about the order, not something sent."""
    for record, result in zip(records, results, strict=True):
        if result.status != "duplicate":
            continue
        missing = [f for f in BROWSER_SEEN_FLAGS if f in record.event.flags]
        if not missing:
            continue
        stored = unit.find_event(result.event_name, result.event_id, shop=record.shop)
        if stored is None:
            continue
        new = [flag for flag in missing if flag not in stored.event.flags]
        if new:
            unit.update_event(stored.ref, stored.event.model_copy(
                update={"flags": [*stored.event.flags, *new]}))


def _insert_confirming_held(stage: JoinStage, unit: UnitOfWork, records: list[NewEvent],
                            now: float) -> list[InsertResult]:
    # A server Purchase whose browser copy is held confirms it instead of being inserted: the
    # duplicate merge would let the browser's values win and could release the held rows
    # before _confirm_held decides what the browser copy may lend.
    confirmed: dict[int, InsertResult] = {}
    for index, record in enumerate(records):
        if record.event.event_name == "Purchase":
            result = _confirm_held(stage, unit, record, now)
            if result is not None:
                confirmed[index] = result
    inserted = iter(insert_or_merge(
        unit, [r for i, r in enumerate(records) if i not in confirmed], now))
    return [confirmed.get(index) or next(inserted) for index in range(len(records))]


def _confirm_held(stage: JoinStage, unit: UnitOfWork, record: NewEvent,
                  now: float) -> InsertResult | None:
    """Replace a held browser purchase by the store's copy of the same order.

    The store's order (value, items, hashed customer data) wins. A browser copy accepted
    within the join window lends its context where the store's copy lacks it: fbp, fbc, IP,
    user agent, GA ids, and consent, combined to the most restrictive; its held rows become
    due now, rows already finished as unconfirmed are due again. An older browser copy lends
    nothing: the event becomes the store's copy, and every row the browser copy planned and
    never sent is planned again from the store's copy (``record.outbox``), due now. None when
    the stored event is not a held browser purchase (an ordinary duplicate, or none).
    """
    incoming = record.event
    stored = unit.find_event(incoming.event_name, incoming.event_id, shop=record.shop)
    # Held purchases are stored as the browser's (``source``); the store's re-sends are not.
    if (stored is None or stored.source != BROWSER_SOURCE
            or UNCONFIRMED not in stored.event.flags):
        return None
    lends = stored.accepted_at >= now - stage.join_window_s
    merged, added = merge_context(incoming, stored.event) if lends else (incoming, [])
    dropped = (UNCONFIRMED, "no_customer_information")
    kept = [f for f in stored.event.flags if f not in dropped]
    flags = list(dict.fromkeys([*merged.flags, *kept, SEEN_BY_BROWSER]))
    unit.update_event(stored.ref, merged.model_copy(update={"flags": flags}),
                      source=record.source)
    if lends:
        unit.release_held(stored.ref, now)
        unit.reopen(stored.ref, UNCONFIRMED_REASON, now)
        detail = (f"confirmed by {record.source}: the store's order replaces the browser's; "
                  f"browser context kept: {', '.join(added) if added else 'nothing new'}")
    else:
        # Held rows were never due, so none was ever attempted or sent.
        unit.replan(stored.ref, record.outbox, now)
        detail = (f"confirmed by {record.source}: the browser's copy was not used: it arrived "
                  f"{now - stored.accepted_at:.0f} s earlier, outside the join window "
                  "(TRACKSIDE_JOIN_WINDOW_S), and an unconfirmed browser purchase lends nothing "
                  "(fbp, fbc, IP, user agent, consent, GA ids); sent on the store's own data")
    unit.note(stored.ref, "confirmed", detail, now)
    # The store's first copy of the order: for its sender it is new.
    return InsertResult(incoming.event_name, incoming.event_id, "queued", added)


def sweep(stage: JoinStage, unit: UnitOfWork, now: float, force: bool = False) -> int:
    """End held purchases whose join window is over; at most once a second unless forced."""
    if not force and now - stage.last_sweep < SWEEP_EVERY_S:
        return 0
    stage.last_sweep = now
    cutoff = now - stage.join_window_s
    # A cheap read first: almost always there is nothing to end.
    if not unit.has_expired_holds(cutoff, shop=stage.shop):
        return 0
    return unit.finish_expired_holds(cutoff, UNCONFIRMED_REASON, now, shop=stage.shop)


def _browser_record(stage: JoinStage, record: NewEvent,
                    notes: list[tuple[str, str, str, str, str]]) -> NewEvent:
    # In place: the record was built by this accept() call and is not shared (hot path).
    event = record.event
    facts = facts_of(record)
    for detail in facts.refused_join_keys:
        notes.append((record.shop, event.event_name, event.event_id, UNVERIFIED_KEY, detail))
    if facts.pixel is False:
        event.flags.append(PIXEL_ABSENT)
    if event.event_name == "Purchase":
        event.flags.append(SEEN_BY_BROWSER)
        if facts.verified:
            event.flags.append(SIGNED)
        elif not stage.trust_browser_purchases:
            event.flags.append(UNCONFIRMED)
            for plan in record.outbox:
                if plan.status == Outcome.PENDING:
                    plan.status = Outcome.HELD
    return record


def _join_by_key(stage: JoinStage, unit: UnitOfWork, record: NewEvent, now: float,
                 notes: list[tuple[str, str, str, str, str]]) -> NewEvent:
    event = record.event
    join_keys: tuple[Literal["cart_id", "customer_id"], ...] = ("cart_id", "customer_id")
    keys = [(key, getattr(event, key)) for key in join_keys if getattr(event, key)]
    if not keys:
        return record
    since = now - stage.retention_days * 86400
    rows: list[NormalizedEvent] = []
    seen: set[tuple[str, str]] = set()
    used: list[str] = []
    for key, value in keys:
        # Only the record's own shop: a shopper of another shop never lends context.
        candidates = unit.browser_events_by_key(key, value, since, _CONTEXT_ROWS,
                                                shop=record.shop)
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
    notes.append((record.shop, event.event_name, event.event_id, "joined",
                  f"browser context by {', '.join(used)}: added {', '.join(added)}"))
    # Planned again: the joined consent and browser keys change what is due and when.
    return NewEvent(merged, record.source, stage.plan(merged, record.source, now), record.shop)


def browser_context(event: NormalizedEvent, rows: Sequence[NormalizedEvent]) -> NormalizedEvent:
    """One event holding what ``rows`` (most relevant first: the cart's newest, then the
    customer's newest) say about the shopper.

    Identifiers: the first row's value wins, so a later click's fbc replaces an older one.
    Consent: the newest stated choice per signal (:func:`browser_consent`).
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
    consent = browser_consent(rows)
    return NormalizedEvent(
        event_name=event.event_name, event_id=event.event_id, event_time=event.event_time,
        action_source="website", user_data=user, source=BROWSER_SOURCE, consent=consent,
        consent_source="browser" if consent is not None else None, **picked,
        # merge_context clears the server event's flag only if the context itself suffices.
        flags=[] if has_sufficient_customer_information(user) else ["no_customer_information"],
    )


def browser_consent(rows: Sequence[NormalizedEvent]) -> Consent | None:
    """Per signal, the newest choice the shopper stated on the pages of ``rows``.

    Newest by ``event_time``: a beacon cannot state its own time (sources/browser.py sets none,
    so it is the gateway's clock at receipt), and the cart's and the customer's rows may
    interleave in time, so their order in ``rows`` (cart first) is not the order they were
    made in. Rows of the same second keep their order in ``rows`` (the store's newest-first
    per key, the cart's first).

    "Newest wins" cannot be used to upgrade someone's refusal: a row is found only by a cart
    or customer id, and a beacon keeps such an id only with the store's join token for it
    (sources/browser.py ``_join_keys``), rendered in the shopper's own pages; a forged beacon
    naming a guessed customer id is stored without it and never joins.
    """
    newest_first = sorted(rows, key=lambda row: row.event_time, reverse=True)
    return newest_consent(*(row.consent for row in newest_first))
