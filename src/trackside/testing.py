"""``MemoryStore``: the whole Store protocol in memory, for tests and for trying things out.

Pure Python, no file: what a store must do is stated once by the contract suite
(tests/contract/), which runs over this store and over SQLite, so a PostgreSQL store can be
checked the same way. Semantics match SQLite's: dedup on (event_name, event_id), leases,
statuses, bounded attempts (first 5, last 20), ``time_limit``. Each write runs under one lock
and is all or nothing: a failure restores the state it started from.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

from trackside.context import BROWSER_KEYS, merge_context, strip_browser_context, strip_sent_payload
from trackside.events import NormalizedEvent
from trackside.store import (
    ATTEMPTS_KEPT_FIRST,
    ATTEMPTS_KEPT_LAST,
    FINAL_STATUSES,
    HOLD_UNTIL,
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
    OutboxRow,
    ReplayResult,
    StoreLocked,
    StoreUnavailable,
)

#: How long a store call waits for the lock outside ``time_limit`` (as SQLite's busy timeout).
WAIT_S = 30.0


@dataclass
class _Event:
    pk: int
    event_name: str
    event_id: str
    event_time: int
    source: str
    accepted_at: float
    #: As SQLite keeps it: JSON text, so no caller shares a mutable event with the store.
    body: str
    purged_at: float | None = None

    def event(self) -> NormalizedEvent:
        return NormalizedEvent.model_validate_json(self.body)


@dataclass
class _Outbox:
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


@dataclass
class _Attempt:
    id: int
    outbox_id: int
    at: float
    record: AttemptRecord


@dataclass
class _Note:
    id: int
    event_pk: int
    at: float
    kind: str
    destination: str | None
    detail: str


@dataclass
class _State:
    events: dict[int, _Event] = field(default_factory=dict)
    keys: dict[tuple[str, str], int] = field(default_factory=dict)
    outbox: dict[int, _Outbox] = field(default_factory=dict)
    attempts: dict[int, list[_Attempt]] = field(default_factory=dict)
    notes: list[_Note] = field(default_factory=list)
    paused: dict[str, DestinationState] = field(default_factory=dict)
    cursors: dict[str, str] = field(default_factory=dict)
    last_id: int = 0

    def next_id(self) -> int:
        self.last_id += 1
        return self.last_id


def _dump(event: NormalizedEvent) -> str:
    return event.model_dump_json(exclude_defaults=True)


class MemoryStore:
    """A Store whose data lives in this object (thread-safe; lost when it goes)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._local = threading.local()
        self._state = _State()
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
    def _locked(self) -> Iterator[_State]:
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
    def _write(self) -> Iterator[_State]:
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

    # -- schema and health -------------------------------------------------------------------

    def migrate(self) -> None:
        with self._locked():
            pass

    def close(self) -> None:
        self._closed = True

    def ping(self) -> None:
        with self._locked():
            pass

    def probe_write(self, timeout_s: float, now: float) -> None:
        with self.time_limit(timeout_s), self._write():
            pass

    # -- accept --------------------------------------------------------------------------------

    def insert_events(self, records: Sequence[NewEvent], now: float) -> list[InsertResult]:
        results: list[InsertResult] = []
        with self._write() as state:
            for record in records:
                event = record.event
                key = (event.event_name, event.event_id)
                if key in state.keys:
                    results.append(self._merge_duplicate(state, state.keys[key], record, now))
                    continue
                pk = state.next_id()
                state.keys[key] = pk
                state.events[pk] = _Event(pk, event.event_name, event.event_id,
                                          event.event_time, record.source, now, _dump(event))
                for plan in record.outbox:
                    pending = plan.status == "pending"
                    due = plan.next_attempt_at if plan.next_attempt_at is not None else now
                    oid = state.next_id()
                    state.outbox[oid] = _Outbox(
                        oid, pk, plan.destination, plan.status,
                        next_attempt_at=due if pending else None, message=plan.reason,
                        finished_at=now if plan.status in FINAL_STATUSES else None)
                results.append(InsertResult(event.event_name, event.event_id, "queued"))
        return results

    def _merge_duplicate(self, state: _State, pk: int, record: NewEvent,
                         now: float) -> InsertResult:
        incoming = record.event
        stored_row = state.events[pk]
        rows = self._rows_of(state, pk)
        added: list[str] = []
        if any(row.status == "pending" for row in rows):
            merged, added = merge_context(stored_row.event(), incoming)
            if added:
                stored_row.body = _dump(merged)
                if BROWSER_KEYS.intersection(added):
                    for row in rows:
                        if (row.status == "pending" and row.attempts == 0
                                and row.next_attempt_at is not None
                                and now < row.next_attempt_at < HOLD_UNTIL):
                            row.next_attempt_at = now
        detail = f"duplicate from {record.source}"
        detail += f"; added {', '.join(added)}" if added else "; nothing new"
        self._note(state, pk, now, "duplicate", None, detail)
        return InsertResult(incoming.event_name, incoming.event_id, "duplicate", added)

    # -- delivery ------------------------------------------------------------------------------

    def claim(
        self, destination: str, limit: int, owner: str, lease_s: float, now: float
    ) -> list[Claimed]:
        with self._write() as state:
            due = sorted(
                (row for row in state.outbox.values()
                 if row.destination == destination and row.status == "pending"
                 and row.next_attempt_at is not None and row.next_attempt_at <= now
                 and (row.lease_expires_at is None or row.lease_expires_at < now)),
                key=lambda row: (row.next_attempt_at, row.id))[:limit]
            for row in due:
                row.lease_owner, row.lease_expires_at = owner, now + lease_s
            return [Claimed(row.id, destination, row.attempts,
                            state.events[row.event_pk].event(),
                            state.events[row.event_pk].accepted_at) for row in due]

    def finish(self, results: Sequence[Finished], now: float) -> None:
        with self._write() as state:
            for result in results:
                row = state.outbox.get(result.outbox_id)
                if row is None or row.status != "pending":
                    continue
                row.status, row.code, row.subcode = result.status, result.code, result.subcode
                row.message, row.sent, row.finished_at = result.message, result.sent, now
                row.attempts += 1 if result.sent is not None else 0
                row.lease_owner = row.lease_expires_at = row.next_attempt_at = None

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

    def _record(self, state: _State, outbox_ids: Sequence[int], attempt: AttemptRecord,
                now: float) -> None:
        for oid in outbox_ids:
            row = state.outbox.get(oid)
            if row is None or row.status != "pending":
                continue  # a finished row records no attempt
            kept = state.attempts.setdefault(oid, [])
            kept.append(_Attempt(state.next_id(), oid, now, copy.copy(attempt)))
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

    def expedite_retries(self, destination: str, failed_since: float, now: float) -> int:
        changed = 0
        with self._write() as state:
            for row in state.outbox.values():
                if (row.destination == destination and row.status == "pending"
                        and row.attempts > 0 and row.next_attempt_at is not None
                        and row.next_attempt_at > now
                        and any(a.at >= failed_since and a.record.verdict == "retry"
                                for a in state.attempts.get(row.id, ()))):
                    row.next_attempt_at = now
                    changed += 1
        return changed

    def next_due(self, destination: str) -> float | None:
        with self._locked() as state:
            due = [row.next_attempt_at for row in state.outbox.values()
                   if row.destination == destination and row.status == "pending"
                   and row.next_attempt_at is not None]
            return min(due, default=None)

    # -- notes and destination state -----------------------------------------------------------

    def _note(self, state: _State, pk: int, now: float, kind: str, destination: str | None,
              detail: str) -> None:
        state.notes.append(_Note(state.next_id(), pk, now, kind, destination, detail))

    def add_note(
        self, event_name: str, event_id: str, kind: str, detail: str, now: float,
        destination: str | None = None,
    ) -> None:
        with self._write() as state:
            pk = state.keys.get((event_name, event_id))
            if pk is not None:
                self._note(state, pk, now, kind, destination, detail)

    def add_notes(self, notes: Sequence[tuple[int, str, str, str]], now: float) -> None:
        with self._write() as state:
            for oid, kind, destination, detail in notes:
                row = state.outbox.get(oid)
                if row is not None:
                    self._note(state, row.event_pk, now, kind, destination, detail)

    def add_event_notes(self, notes: Sequence[tuple[str, str, str, str]], now: float) -> None:
        with self._write() as state:
            for event_name, event_id, kind, detail in notes:
                pk = state.keys.get((event_name, event_id))
                if pk is not None:
                    self._note(state, pk, now, kind, None, detail)

    def pause_destination(
        self, destination: str, until: float | None, reason: str, code: int | None, now: float
    ) -> None:
        with self._write() as state:
            state.paused[destination] = DestinationState(destination, until, reason, code, now)

    def resume_destination(self, destination: str) -> None:
        with self._write() as state:
            state.paused.pop(destination, None)

    def destination_states(self) -> list[DestinationState]:
        with self._locked() as state:
            return [copy.copy(state.paused[name]) for name in sorted(state.paused)]

    # -- reporting -------------------------------------------------------------------------------

    def counts(self) -> list[DestinationCounts]:
        with self._locked() as state:
            by_destination: dict[str, DestinationCounts] = {}
            for row in state.outbox.values():
                entry = by_destination.setdefault(
                    row.destination, DestinationCounts(row.destination, {}, None))
                entry.counts[row.status] = entry.counts.get(row.status, 0) + 1
                if row.status == "pending":
                    accepted = state.events[row.event_pk].accepted_at
                    oldest = entry.oldest_pending_accepted_at
                    entry.oldest_pending_accepted_at = (
                        accepted if oldest is None else min(oldest, accepted))
            return [by_destination[name] for name in sorted(by_destination)]

    def _rows_of(self, state: _State, pk: int) -> list[_Outbox]:
        return [row for row in state.outbox.values() if row.event_pk == pk]

    def event_view(self, event_id: str) -> list[EventView]:
        with self._locked() as state:
            stored = sorted((e for e in state.events.values() if e.event_id == event_id),
                            key=lambda e: (e.accepted_at, e.pk))
            views = []
            for event in stored:
                rows = self._rows_of(state, event.pk)
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
    ) -> ReplayResult:
        replayed = 0
        refused: list[tuple[str, str]] = []
        with self._write() as state:
            for row in sorted(state.outbox.values(), key=lambda row: row.id):
                event = state.events[row.event_pk]
                if (row.status not in ("dead", "expired")
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
                self._note(state, row.event_pk, now, "replay", row.destination,
                           "replayed by operator")
                replayed += 1
        return ReplayResult(replayed, refused)

    def drop_pending(
        self, event_id: str, destination: str | None, reason: str, actor: str, now: float
    ) -> DropResult:
        dropped: list[tuple[str, str]] = []
        refused: list[tuple[str, str, str]] = []
        with self._write() as state:
            rows = sorted((row for row in state.outbox.values()
                           if state.events[row.event_pk].event_id == event_id
                           and (destination is None or row.destination == destination)),
                          key=lambda row: (row.event_pk, row.id))
            for row in rows:
                event_name = state.events[row.event_pk].event_name
                if row.status != "pending":
                    refused.append((event_name, row.destination, row.status))
                    continue
                row.status, row.code, row.subcode = "dead", None, None
                row.message, row.finished_at = f"dropped by operator: {reason}", now
                row.next_attempt_at = row.lease_owner = row.lease_expires_at = None
                self._note(state, row.event_pk, now, "dropped", row.destination,
                           f"dropped by {actor}: {reason}")
                dropped.append((event_name, row.destination))
        return DropResult(dropped, refused)

    # -- retention -------------------------------------------------------------------------------

    def purge_personal_data(self, older_than: float, now: float, include_dead: bool = False) -> int:
        blocking = ("pending",) if include_dead else ("pending", "dead")
        purged = 0
        with self._write() as state:
            for event in state.events.values():
                rows = self._rows_of(state, event.pk)
                if (event.purged_at is not None or event.accepted_at >= older_than
                        or any(row.status in blocking for row in rows)):
                    continue
                event.body = _dump(strip_browser_context(event.event()))
                event.purged_at = now
                for row in rows:
                    if row.sent is not None:
                        row.sent = strip_sent_payload(row.sent)
                purged += 1
        return purged

    # -- cursors ---------------------------------------------------------------------------------

    def get_cursor(self, name: str) -> str | None:
        with self._locked() as state:
            return state.cursors.get(name)

    def set_cursor(self, name: str, value: str, now: float) -> None:
        with self._write() as state:
            state.cursors[name] = value

    # -- browser context joins and held purchases --------------------------------------------

    def browser_events_by_key(
        self, key: Literal["cart_id", "customer_id"], value: str, since: float, limit: int = 10
    ) -> list[NormalizedEvent]:
        with self._locked() as state:
            found = []
            for stored in state.events.values():
                if stored.source != "browser" or stored.accepted_at < since:
                    continue
                event = stored.event()
                if getattr(event, key) == value:
                    found.append((stored.accepted_at, stored.pk, event))
            found.sort(key=lambda item: (-item[0], item[1]))
            return [event for _, _, event in found[:limit]]

    def _held(self, state: _State, destinations: Sequence[str], hold_until: float,
              accepted_before: float) -> list[_Outbox]:
        return [row for row in state.outbox.values()
                if row.destination in destinations and row.status == "pending"
                and row.next_attempt_at is not None and row.next_attempt_at >= hold_until
                and state.events[row.event_pk].accepted_at < accepted_before]

    def has_expired_holds(
        self, destinations: Sequence[str], hold_until: float, accepted_before: float
    ) -> bool:
        with self._locked() as state:
            return bool(self._held(state, destinations, hold_until, accepted_before))

    def finish_expired_holds(
        self, destinations: Sequence[str], hold_until: float, accepted_before: float,
        reason: str, now: float,
    ) -> int:
        with self._write() as state:
            rows = self._held(state, destinations, hold_until, accepted_before)
            for row in rows:
                row.status, row.message, row.finished_at = "suppressed", reason, now
                row.next_attempt_at = None
            return len(rows)

    def confirm_held_purchase(
        self, record: NewEvent, unconfirmed_flag: str, seen_flag: str, hold_until: float,
        reason: str, now: float, lends_since: float,
    ) -> list[str] | None:
        incoming = record.event
        with self._write() as state:
            pk = state.keys.get((incoming.event_name, incoming.event_id))
            if pk is None or state.events[pk].source != "browser":
                return None
            row = state.events[pk]
            stored = row.event()
            if unconfirmed_flag not in stored.flags:
                return None
            lends = row.accepted_at >= lends_since
            merged, added = merge_context(incoming, stored) if lends else (incoming, [])
            dropped = (unconfirmed_flag, "no_customer_information")
            kept = [f for f in stored.flags if f not in dropped]
            flags = list(dict.fromkeys([*merged.flags, *kept, seen_flag]))
            row.body = _dump(merged.model_copy(update={"flags": flags}))
            row.source = record.source
            rows = self._rows_of(state, pk)
            if lends:
                for out in rows:
                    if (out.status == "pending" and out.next_attempt_at is not None
                            and out.next_attempt_at >= hold_until):
                        out.next_attempt_at = now
                    elif out.status == "suppressed" and out.message == reason:
                        out.status, out.next_attempt_at = "pending", now
                        out.finished_at = out.message = None
                detail = (f"confirmed by {record.source}: the store's order replaces the "
                          f"browser's; browser context kept: "
                          f"{', '.join(added) if added else 'nothing new'}")
            else:
                for plan in record.outbox:
                    for out in rows:
                        if (out.destination == plan.destination and out.attempts == 0
                                and out.sent is None and out.status in ("pending", "suppressed")):
                            pending = plan.status == "pending"
                            out.status, out.message = plan.status, plan.reason
                            out.next_attempt_at = now if pending else None
                            out.finished_at = None if pending else now
                detail = (f"confirmed by {record.source}: the browser's copy was not used: it "
                          f"arrived {now - row.accepted_at:.0f} s earlier, outside the join "
                          "window (TRACKSIDE_JOIN_WINDOW_S), and an unconfirmed browser purchase "
                          "lends nothing (fbp, fbc, IP, user agent, consent, GA ids); sent on "
                          "the store's own data")
            self._note(state, pk, now, "confirmed", None, detail)
            return added

    def __repr__(self) -> str:
        return f"MemoryStore({len(self._state.events)} events)"
