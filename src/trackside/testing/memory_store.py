"""``MemoryStore``: the whole Store protocol in memory, for tests and for trying things out.

Pure Python, no file: what a store must do is stated once by the contract suite
(tests/contract/), which runs over this store and over SQLite, so a PostgreSQL store can be
checked the same way. Semantics match SQLite's: dedup on (shop, event_name, event_id), leases,
statuses, bounded attempts (first 5, last 20), ``time_limit``. Each write runs under one lock
and is all or nothing: a failure restores the state it started from.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Literal

from trackside.events import NormalizedEvent
from trackside.shop_names import DEFAULT_SHOP, checked_shop
from trackside.store import (
    ATTEMPTS_KEPT_FIRST,
    ATTEMPTS_KEPT_LAST,
    HELD,
    AttemptRecord,
    AttemptRow,
    Claimed,
    DestinationCounts,
    DestinationState,
    DropResult,
    EventView,
    Finished,
    InsertResult,
    NewEvent,
    NoteRow,
    OrderFacts,
    OrderTally,
    OutboxRow,
    ReplayResult,
    StoreLocked,
    StoreUnavailable,
)
from trackside.testing.memory_console import ConsoleQueries
from trackside.testing.memory_jobs import MemoryJobs
from trackside.testing.memory_quality import MemoryQuality
from trackside.testing.memory_unit import (
    AttemptState,
    MemoryUnit,
    State,
    add_note,
    orders_of,
    rows_of,
    tallies_of,
)
from trackside.testing.memory_webhooks import WebhookRecords

#: How long a store call waits for the lock outside ``time_limit`` (as SQLite's busy timeout).
WAIT_S = 30.0


class MemoryStore(MemoryJobs, WebhookRecords, MemoryQuality, ConsoleQueries):
    """A Store whose data lives in this object (thread-safe; lost when it goes)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._local = threading.local()
        self._state = State()
        self._closed = False

    # -- locking -------------------------------------------------------------------------------

    @contextmanager
    def time_limit(self, seconds: float) -> Iterator[None]:
        previous = getattr(self._local, "wait_limit", None)
        self._local.wait_limit = seconds if previous is None else min(previous, seconds)
        try:
            yield
        finally:
            self._local.wait_limit = previous

    @contextmanager
    def _locked(self) -> Iterator[State]:
        if self._closed:
            raise StoreUnavailable("the store is closed")
        limit: float | None = getattr(self._local, "wait_limit", None)
        wait = WAIT_S if limit is None else max(0.0, min(WAIT_S, limit))
        if not self._lock.acquire(timeout=wait):
            raise StoreLocked(f"another store call held the lock for {wait:.1f}s")
        try:
            yield self._state
        finally:
            self._lock.release()

    @contextmanager
    def _write(self) -> Iterator[State]:
        with self._locked() as state:
            if getattr(self._local, "writing", False):  # nested: inside our own write
                yield state
                return
            before = copy.deepcopy(state)
            self._local.writing = True
            try:
                yield state
            except BaseException:
                self._state = before
                raise
            finally:
                self._local.writing = False

    # -- the reconciliation report ------------------------------------------------------------

    def orders(
        self, since: int, until: int, *, shop: str = DEFAULT_SHOP,
        after: tuple[int, int] | None = None, limit: int | None = None,
        statuses: Sequence[str] | None = None,
    ) -> list[OrderFacts]:
        with self._locked() as state:
            return orders_of(state, since, until, shop, after, limit, statuses)

    def order_tallies(self, since: int, until: int, *,
                      shop: str = DEFAULT_SHOP) -> list[OrderTally]:
        with self._locked() as state:
            return tallies_of(state, since, until, shop)

    # -- schema and health -------------------------------------------------------------------

    def migrate(self) -> None:
        with self._locked():
            pass

    def close(self) -> None:
        self._closed = True

    def ping(self) -> None:
        with self._locked():
            pass

    def health_details(self) -> dict[str, int | str]:
        return {}

    def probe_write(self, timeout_s: float, now: float) -> None:
        with self.time_limit(timeout_s), self._write():
            pass

    # -- accept --------------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[MemoryUnit]:
        with self._write() as state:
            yield MemoryUnit(state)

    def insert_events(self, records: Sequence[NewEvent], now: float) -> list[InsertResult]:
        with self.transaction() as unit:
            inserted = unit.insert_new(records, now)
        return [InsertResult(r.event.event_name, r.event.event_id,
                             "queued" if new else "duplicate")
                for r, new in zip(records, inserted, strict=True)]

    # -- delivery ------------------------------------------------------------------------------

    def claim(
        self, destination: str, limit: int, owner: str, lease_s: float, now: float, *,
        shop: str = DEFAULT_SHOP,
    ) -> list[Claimed]:
        with self._write() as state:
            due = sorted(
                (row for row in state.outbox.values()
                 if row.shop == shop and row.destination == destination
                 and row.status == "pending"
                 and row.next_attempt_at is not None and row.next_attempt_at <= now
                 and (row.lease_expires_at is None or row.lease_expires_at < now)),
                key=lambda row: (row.next_attempt_at, row.id))[:limit]
            for row in due:
                row.lease_owner, row.lease_expires_at = owner, now + lease_s
            return [Claimed(row.id, destination, row.attempts,
                            state.events[row.event_pk].event(),
                            state.events[row.event_pk].accepted_at, shop) for row in due]

    def finish(self, results: Sequence[Finished], now: float) -> None:
        with self.transaction() as unit:
            unit.finish(results, now)

    def reschedule(
        self, outbox_ids: Sequence[int], next_attempt_at: float, attempt: AttemptRecord, now: float
    ) -> None:
        with self._write() as state:
            for oid in outbox_ids:
                row = state.outbox.get(oid)
                if row is None or row.status != "pending":
                    continue
                row.attempts += 1
                row.next_attempt_at = next_attempt_at
                row.lease_owner = row.lease_expires_at = None
                row.code, row.subcode, row.message = attempt.code, attempt.subcode, attempt.message
            self._record(state, outbox_ids, attempt, now)

    def release(self, outbox_ids: Sequence[int]) -> None:
        with self._write() as state:
            for oid in outbox_ids:
                row = state.outbox.get(oid)
                if row is not None:
                    row.lease_owner = row.lease_expires_at = None

    def record_attempts(
        self, outbox_ids: Sequence[int], attempt: AttemptRecord, now: float
    ) -> None:
        with self._write() as state:
            self._record(state, outbox_ids, attempt, now)

    def _record(self, state: State, outbox_ids: Sequence[int], attempt: AttemptRecord,
                now: float) -> None:
        for oid in outbox_ids:
            row = state.outbox.get(oid)
            if row is None or row.status != "pending":
                continue  # a finished row records no attempt
            kept = state.attempts.setdefault(oid, [])
            kept.append(AttemptState(state.next_id(), oid, now, copy.copy(attempt)))
            if len(kept) > ATTEMPTS_KEPT_FIRST + ATTEMPTS_KEPT_LAST:
                del kept[ATTEMPTS_KEPT_FIRST]
                row.attempts_not_kept += 1

    def renew_lease(
        self, outbox_ids: Sequence[int], owner: str, lease_expires_at: float
    ) -> int:
        held = 0
        with self._write() as state:
            for oid in outbox_ids:
                row = state.outbox.get(oid)
                if row is not None and row.lease_owner == owner and row.status == "pending":
                    row.lease_expires_at = lease_expires_at
                    held += 1
        return held

    def last_attempts(self, outbox_ids: Sequence[int]) -> dict[int, AttemptRecord]:
        with self._locked() as state:
            return {oid: copy.copy(state.attempts[oid][-1].record) for oid in outbox_ids
                    if state.attempts.get(oid)}

    def expedite_retries(self, destination: str, failed_since: float, now: float, *,
                         shop: str = DEFAULT_SHOP) -> int:
        changed = 0
        with self._write() as state:
            for row in state.outbox.values():
                if (row.shop == shop and row.destination == destination
                        and row.status == "pending"
                        and row.attempts > 0 and row.next_attempt_at is not None
                        and row.next_attempt_at > now
                        and any(a.at >= failed_since and a.record.verdict == "retry"
                                for a in state.attempts.get(row.id, ()))):
                    row.next_attempt_at = now
                    changed += 1
        return changed

    def next_due(self, destination: str, *, shop: str = DEFAULT_SHOP) -> float | None:
        with self._locked() as state:
            due = [max(row.next_attempt_at, row.lease_expires_at or row.next_attempt_at)
                   for row in state.outbox.values()
                   if row.shop == shop and row.destination == destination
                   and row.status == "pending"
                   and row.next_attempt_at is not None]
            return min(due, default=None)

    # -- notes and destination state -----------------------------------------------------------

    def add_note(
        self, event_name: str, event_id: str, kind: str, detail: str, now: float,
        destination: str | None = None, *, shop: str = DEFAULT_SHOP,
    ) -> None:
        with self._write() as state:
            pk = state.keys.get((shop, event_name, event_id))
            if pk is not None:
                add_note(state, pk, now, kind, destination, detail)

    def add_notes(self, notes: Sequence[tuple[int, str, str, str]], now: float) -> None:
        with self._write() as state:
            for oid, kind, destination, detail in notes:
                row = state.outbox.get(oid)
                if row is not None:
                    add_note(state, row.event_pk, now, kind, destination, detail)

    def pause_destination(
        self, destination: str, until: float | None, reason: str, code: int | None, now: float,
        *, shop: str = DEFAULT_SHOP,
    ) -> None:
        with self._write() as state:
            state.paused[(checked_shop(shop), destination)] = DestinationState(
                destination, until, reason, code, now, shop)

    def resume_destination(self, destination: str, *, shop: str = DEFAULT_SHOP) -> None:
        with self._write() as state:
            state.paused.pop((shop, destination), None)

    def destination_states(self, *, shop: str | None = None) -> list[DestinationState]:
        with self._locked() as state:
            return [copy.copy(state.paused[key]) for key in sorted(state.paused)
                    if shop is None or key[0] == shop]

    # -- reporting -------------------------------------------------------------------------------

    def counts(self, *, shop: str | None = None) -> list[DestinationCounts]:
        with self._locked() as state:
            by_destination: dict[tuple[str, str], DestinationCounts] = {}
            for row in state.outbox.values():
                if shop is not None and row.shop != shop:
                    continue
                entry = by_destination.setdefault(
                    (row.shop, row.destination),
                    DestinationCounts(row.destination, {}, None, row.shop))
                entry.counts[row.status] = entry.counts.get(row.status, 0) + 1
                if row.status in ("pending", HELD):
                    accepted = state.events[row.event_pk].accepted_at
                    oldest = entry.oldest_pending_accepted_at
                    entry.oldest_pending_accepted_at = (
                        accepted if oldest is None else min(oldest, accepted))
            return [by_destination[name] for name in sorted(by_destination)]

    def event_view(self, event_id: str, *, shop: str = DEFAULT_SHOP) -> list[EventView]:
        with self._locked() as state:
            stored = sorted((e for e in state.events.values()
                             if e.shop == shop and e.event_id == event_id),
                            key=lambda e: (e.accepted_at, e.pk))
            views = []
            for event in stored:
                rows = rows_of(state, event.pk)
                destination = {row.id: row.destination for row in rows}
                attempts = sorted((a for row in rows for a in state.attempts.get(row.id, ())),
                                  key=lambda a: (a.at, a.id))
                notes = sorted((n for n in state.notes if n.event_pk == event.pk),
                               key=lambda n: (n.at, n.id))
                views.append(EventView(
                    event_name=event.event_name, event_id=event.event_id, source=event.source,
                    accepted_at=event.accepted_at, event=event.event(),
                    outbox=[OutboxRow(
                        id=row.id, destination=row.destination, status=row.status,
                        attempts=row.attempts, next_attempt_at=row.next_attempt_at,
                        lease_expires_at=row.lease_expires_at, code=row.code,
                        subcode=row.subcode, message=row.message, finished_at=row.finished_at,
                        sent=json.loads(row.sent) if row.sent else row.sent,
                        attempts_not_kept=row.attempts_not_kept) for row in rows],
                    attempts=[AttemptRow(
                        id=a.id, outbox_id=a.outbox_id, destination=destination[a.outbox_id],
                        at=a.at, verdict=a.record.verdict, http_status=a.record.http_status,
                        code=a.record.code, subcode=a.record.subcode, message=a.record.message,
                        batch_size=a.record.batch_size, fbtrace_id=a.record.fbtrace_id)
                        for a in attempts],
                    notes=[NoteRow(n.at, n.kind, n.detail, n.destination) for n in notes],
                    shop=shop,
                ))
            return views

    def replay(
        self,
        *,
        destination: str | None,
        since: float | None,
        until: float | None,
        event_id: str | None,
        min_event_time: dict[str, float],
        now: float,
        shop: str = DEFAULT_SHOP,
    ) -> ReplayResult:
        replayed = 0
        refused: list[tuple[str, str]] = []
        with self._write() as state:
            for row in sorted(state.outbox.values(), key=lambda row: row.id):
                event = state.events[row.event_pk]
                if (row.shop != shop or row.status not in ("dead", "expired")
                        or (destination and row.destination != destination)
                        or (since is not None and event.event_time < since)
                        or (until is not None and event.event_time > until)
                        or (event_id and event.event_id != event_id)):
                    continue
                oldest = min_event_time.get(row.destination)
                if oldest is not None and event.event_time < oldest:
                    refused.append((event.event_id, f"{row.destination}: event_time is outside "
                                                    "the destination's window"))
                    continue
                row.status, row.next_attempt_at, row.finished_at = "pending", now, None
                row.lease_owner = row.lease_expires_at = None
                add_note(state, row.event_pk, now, "replay", row.destination,
                           "replayed by operator")
                replayed += 1
        return ReplayResult(replayed, refused)

    def drop_pending(
        self, event_id: str, destination: str | None, reason: str, actor: str, now: float,
        *, shop: str = DEFAULT_SHOP,
    ) -> DropResult:
        dropped: list[tuple[str, str]] = []
        refused: list[tuple[str, str, str]] = []
        with self._write() as state:
            rows = sorted((row for row in state.outbox.values()
                           if row.shop == shop
                           and state.events[row.event_pk].event_id == event_id
                           and (destination is None or row.destination == destination)),
                          key=lambda row: (row.event_pk, row.id))
            for row in rows:
                event_name = state.events[row.event_pk].event_name
                if row.status not in ("pending", HELD):
                    refused.append((event_name, row.destination, row.status))
                    continue
                row.status, row.code, row.subcode = "dead", None, None
                row.message, row.finished_at = f"dropped by operator: {reason}", now
                row.next_attempt_at = row.lease_owner = row.lease_expires_at = None
                add_note(state, row.event_pk, now, "dropped", row.destination,
                           f"dropped by {actor}: {reason}")
                dropped.append((event_name, row.destination))
        return DropResult(dropped, refused)

    # -- cursors ---------------------------------------------------------------------------------

    def get_cursor(self, name: str, *, shop: str = DEFAULT_SHOP) -> str | None:
        with self._locked() as state:
            return state.cursors.get((shop, name))

    def set_cursor(self, name: str, value: str, now: float, *,
                   shop: str = DEFAULT_SHOP) -> None:
        with self.transaction() as unit:
            unit.set_cursor(name, value, now, shop=shop)

    # -- browser context joins -------------------------------------------------------------

    def browser_events_by_key(
        self, key: Literal["cart_id", "customer_id"], value: str, since: float, limit: int = 10,
        *, shop: str = DEFAULT_SHOP,
    ) -> list[NormalizedEvent]:
        with self._locked() as state:
            return MemoryUnit(state).browser_events_by_key(key, value, since, limit, shop=shop)

    def has_expired_holds(self, accepted_before: float, *, shop: str | None = None) -> bool:
        with self._locked() as state:
            return MemoryUnit(state).has_expired_holds(accepted_before, shop=shop)

    def __repr__(self) -> str:
        return f"MemoryStore({len(self._state.events)} events)"
