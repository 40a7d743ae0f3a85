"""The data of a :class:`~trackside.testing.MemoryStore` and its unit of work.

Rows are plain dataclasses shaped like the SQLite tables; events are kept as JSON text, as
SQLite keeps them, so no caller shares a mutable event with the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from trackside.events import NormalizedEvent
from trackside.quality import match_key_mask
from trackside.shop_names import DEFAULT_SHOP, checked_shop
from trackside.store import (
    FINAL_STATUSES,
    HELD,
    ORDER_SOURCES_EXCLUDED,
    AttemptRecord,
    DatasetQuality,
    DestinationState,
    Finished,
    NewEvent,
    OrderFacts,
    OrderRow,
    OutboxPlan,
    PurgeCandidate,
    StoredEvent,
    WebhookDelivery,
)
from trackside.store.records import VALUE_UNITS, OrderTally, order_columns


@dataclass
class StoredRow:
    pk: int
    event_name: str
    event_id: str
    event_time: int
    source: str
    accepted_at: float
    #: As SQLite keeps it: JSON text, so no caller shares a mutable event with the store.
    body: str
    purged_at: float | None = None
    shop: str = DEFAULT_SHOP
    #: trackside.quality.match_key_mask of the body the pipeline last wrote (kept on purge).
    match_keys: int = 0

    def event(self) -> NormalizedEvent:
        return NormalizedEvent.model_validate_json(self.body)


@dataclass
class OutboxState:
    id: int
    event_pk: int
    destination: str
    status: str
    attempts: int = 0
    next_attempt_at: float | None = None
    lease_owner: str | None = None
    lease_expires_at: float | None = None
    code: int | None = None
    subcode: int | None = None
    message: str | None = None
    finished_at: float | None = None
    sent: str | None = None
    attempts_not_kept: int = 0
    shop: str = DEFAULT_SHOP


@dataclass
class AttemptState:
    id: int
    outbox_id: int
    at: float
    record: AttemptRecord


@dataclass
class NoteState:
    id: int
    event_pk: int
    at: float
    kind: str
    destination: str | None
    detail: str


@dataclass
class JobState:
    last_started_at: float
    owner: str
    running_until: float | None


@dataclass
class State:
    events: dict[int, StoredRow] = field(default_factory=dict)
    #: (shop, event_name, event_id) → pk: dedup is per shop.
    keys: dict[tuple[str, str, str], int] = field(default_factory=dict)
    outbox: dict[int, OutboxState] = field(default_factory=dict)
    attempts: dict[int, list[AttemptState]] = field(default_factory=dict)
    notes: list[NoteState] = field(default_factory=list)
    #: (shop, destination) → its pause.
    paused: dict[tuple[str, str], DestinationState] = field(default_factory=dict)
    #: (shop, name) → value.
    cursors: dict[tuple[str, str], str] = field(default_factory=dict)
    #: Periodic jobs (Store.job_lock): name → its row.
    jobs: dict[str, JobState] = field(default_factory=dict)
    #: (shop, source, delivery_id) → the platform webhook delivery recorded.
    webhooks: dict[tuple[str, str, str], WebhookDelivery] = field(default_factory=dict)
    #: shop → its last Dataset Quality fetch.
    dataset_quality: dict[str, DatasetQuality] = field(default_factory=dict)
    last_id: int = 0

    def next_id(self) -> int:
        self.last_id += 1
        return self.last_id


def dump(event: NormalizedEvent) -> str:
    return event.model_dump_json(exclude_defaults=True)


def add_note(state: State, pk: int, now: float, kind: str, destination: str | None,
          detail: str) -> None:
    state.notes.append(NoteState(state.next_id(), pk, now, kind, destination, detail))


def rows_of(state: State, pk: int) -> list[OutboxState]:
    return [row for row in state.outbox.values() if row.event_pk == pk]


class MemoryUnit:
    """The unit of work of :class:`MemoryStore` (runs under its lock, within one write)."""

    def __init__(self, state: State) -> None:
        self._state = state

    def insert_new(self, records: Sequence[NewEvent], now: float) -> list[bool]:
        state = self._state
        inserted = []
        for record in records:
            event = record.event
            shop = checked_shop(record.shop, "NewEvent.shop")
            key = (shop, event.event_name, event.event_id)
            inserted.append(key not in state.keys)
            if key in state.keys:
                continue
            pk = state.next_id()
            state.keys[key] = pk
            state.events[pk] = StoredRow(pk, event.event_name, event.event_id, event.event_time,
                                      record.source, now, dump(event), shop=shop,
                                      match_keys=match_key_mask(event.user_data))
            for plan in record.outbox:
                oid = state.next_id()
                state.outbox[oid] = OutboxState(oid, pk, plan.destination, plan.status,
                                                shop=shop)
                apply_plan(state.outbox[oid], plan, now)
        return inserted

    def find_event(self, event_name: str, event_id: str, *,
                   shop: str = DEFAULT_SHOP) -> StoredEvent | None:
        pk = self._state.keys.get((shop, event_name, event_id))
        if pk is None:
            return None
        stored = self._state.events[pk]
        return StoredEvent(pk, stored.event(), stored.source, stored.accepted_at,
                           [row.status for row in rows_of(self._state, pk)], shop)

    def browser_events_by_key(
        self, key: Literal["cart_id", "customer_id"], value: str, since: float, limit: int = 10,
        *, shop: str = DEFAULT_SHOP,
    ) -> list[NormalizedEvent]:
        found = []
        for stored in self._state.events.values():
            if (stored.shop != shop or stored.source != "browser"
                    or stored.accepted_at < since):
                continue
            event = stored.event()
            if getattr(event, key) == value:
                found.append((stored.accepted_at, stored.pk, event))
        found.sort(key=lambda item: (-item[0], item[1]))
        return [event for _, _, event in found[:limit]]

    def update_event(self, ref: int, event: NormalizedEvent, source: str | None = None) -> None:
        stored = self._state.events[ref]
        stored.body = dump(event)
        stored.match_keys = match_key_mask(event.user_data)
        if source is not None:
            stored.source = source

    def make_due(self, ref: int, now: float) -> int:
        rows = [row for row in rows_of(self._state, ref)
                if row.status == "pending" and row.attempts == 0
                and row.next_attempt_at is not None and row.next_attempt_at > now]
        for row in rows:
            row.next_attempt_at = now
        return len(rows)

    def release_held(self, ref: int, now: float) -> int:
        rows = [row for row in rows_of(self._state, ref) if row.status == HELD]
        for row in rows:
            row.status, row.next_attempt_at = "pending", now
        return len(rows)

    def reopen(self, ref: int, reason: str, now: float) -> int:
        rows = [row for row in rows_of(self._state, ref)
                if row.status == "suppressed" and row.message == reason]
        for row in rows:
            row.status, row.next_attempt_at, row.finished_at, row.message = (
                "pending", now, None, None)
        return len(rows)

    def replan(self, ref: int, plans: Sequence[OutboxPlan], now: float) -> None:
        for plan in plans:
            for row in rows_of(self._state, ref):
                if (row.destination == plan.destination and row.attempts == 0
                        and row.sent is None and row.status in ("pending", HELD, "suppressed")):
                    apply_plan(row, plan, now, due=now)

    def note(self, ref: int, kind: str, detail: str, now: float,
             destination: str | None = None) -> None:
        add_note(self._state, ref, now, kind, destination, detail)

    def finish(self, results: Sequence[Finished], now: float) -> None:
        for result in results:
            row = self._state.outbox.get(result.outbox_id)
            if row is None or row.status != "pending":
                continue
            row.status, row.code, row.subcode = result.status, result.code, result.subcode
            row.message, row.sent, row.finished_at = result.message, result.sent, now
            row.attempts += 1 if result.sent is not None else 0
            row.lease_owner = row.lease_expires_at = row.next_attempt_at = None

    def set_cursor(self, name: str, value: str, now: float, *,
                   shop: str = DEFAULT_SHOP) -> None:
        self._state.cursors[(checked_shop(shop), name)] = value

    def _expired_holds(self, accepted_before: float, shop: str | None) -> list[OutboxState]:
        return [row for row in self._state.outbox.values() if row.status == HELD
                and (shop is None or row.shop == shop)
                and self._state.events[row.event_pk].accepted_at < accepted_before]

    def has_expired_holds(self, accepted_before: float, *, shop: str | None = None) -> bool:
        return bool(self._expired_holds(accepted_before, shop))

    def finish_expired_holds(self, accepted_before: float, reason: str, now: float, *,
                             shop: str | None = None) -> int:
        rows = self._expired_holds(accepted_before, shop)
        for row in rows:
            row.status, row.message, row.finished_at = "suppressed", reason, now
            row.next_attempt_at = None
        return len(rows)

    def purge_candidates(
        self, older_than: float, blocking: Sequence[str], *, shop: str | None = None
    ) -> list[PurgeCandidate]:
        found = []
        for event in self._state.events.values():
            rows = rows_of(self._state, event.pk)
            if (event.purged_at is None and event.accepted_at < older_than
                    and (shop is None or event.shop == shop)
                    and not any(row.status in blocking for row in rows)):
                found.append(PurgeCandidate(event.pk, event.event(), {
                    row.id: row.sent for row in rows if row.sent is not None}))
        return found

    def mark_purged(self, ref: int, event: NormalizedEvent, sent: dict[int, str],
                    now: float) -> None:
        stored = self._state.events[ref]
        stored.body, stored.purged_at = dump(event), now
        for oid, text in sent.items():
            if self._state.outbox[oid].event_pk == ref:
                self._state.outbox[oid].sent = text


def apply_plan(row: OutboxState, plan: OutboxPlan, now: float, due: float | None = None) -> None:
    pending = plan.status == "pending"
    if due is None:
        due = plan.next_attempt_at if plan.next_attempt_at is not None else now
    row.status, row.message = plan.status, plan.reason
    row.next_attempt_at = due if pending else None
    row.finished_at = now if plan.status in FINAL_STATUSES else None


#: The statuses whose stored reason Store.orders reports (why the row was not delivered).
ENDED_WITH_REASON = ("suppressed", "not_applicable", "dead", "expired")


def orders_of(state: State, since: int, until: int, shop: str,
              after: tuple[int, int] | None, limit: int | None,
              statuses: Sequence[str] | None = None) -> list[OrderFacts]:
    """Store.orders over the state (as the SQL stores' ORDERS query)."""
    after = after if after is not None else (-1, 0)
    picked = sorted(
        (stored for stored in state.events.values()
         if stored.shop == shop and stored.event_name == "Purchase"
         and stored.source not in ORDER_SOURCES_EXCLUDED
         and since <= stored.event_time < until and (stored.event_time, stored.pk) > after
         and (statuses is None
              or any(row.status in statuses for row in rows_of(state, stored.pk)))),
        key=lambda stored: (stored.event_time, stored.pk))
    found = []
    for stored in picked[:limit]:
        event = stored.event()
        value, currency, flags = order_columns(event)
        found.append(OrderFacts(stored.pk, stored.event_id, stored.event_time, value, currency,
                                tuple(flags.split()) if flags else (), [
            OrderRow(row.destination, row.status,
                     row.message if row.status in ENDED_WITH_REASON else None)
            for row in sorted(rows_of(state, stored.pk), key=lambda row: row.id)]))
    return found


def tallies_of(state: State, since: int, until: int, shop: str) -> list[OrderTally]:
    """Store.order_tallies over the state (as the SQL stores' ORDER_TALLIES query)."""
    groups: dict[tuple[object, ...], OrderTally] = {}
    for facts in orders_of(state, since, until, shop, None, None):
        rows = tuple(sorted(
            (OrderRow(row.destination, row.status, _reason_class_part(row))
             for row in facts.rows), key=lambda r: (r.destination, r.status, r.reason or "")))
        key = (facts.event_time // 86400, facts.currency, facts.flags, rows)
        units = round(facts.value * VALUE_UNITS) if facts.value is not None else None
        found = groups.get(key)
        if found is None:
            groups[key] = OrderTally(facts.event_time // 86400, facts.currency, facts.flags,
                                     rows, 1, units)
        else:
            found.count += 1
            if units is not None:
                found.value_units = (found.value_units or 0) + units
    return list(groups.values())


def _reason_class_part(row: OrderRow) -> str | None:
    if row.status not in ("suppressed", "not_applicable") or not row.reason:
        return None
    head, sep, _ = row.reason.partition(":")
    return head + sep if sep else None
