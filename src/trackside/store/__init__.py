"""The Store protocol: durable events, dedup keys, the outbox, attempts and notes.

Callers (pipeline, worker, CLI, web) only see this protocol and the records below, so a
PostgreSQL implementation can sit beside ``sqlite.py`` without changing them. Methods are
synchronous; async callers run them in a thread.

Outbox statuses: ``pending`` (waiting for its ``next_attempt_at``), and the final ones
``delivered``, ``dead`` (the destination, or our local check of its rules, refused it),
``expired`` (too old for the destination's window), ``suppressed`` (consent or policy) and
``not_applicable`` (the destination has no such event, e.g. a refund for Meta).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from trackside.errors import TracksideError
from trackside.events import NormalizedEvent

#: next_attempt_at of a held row (an unconfirmed browser Purchase): 3000-01-01, never due on
#: its own; only trackside.join's confirmation or its sweep moves it.
HOLD_UNTIL = 32503680000.0

FINAL_STATUSES = ("delivered", "dead", "expired", "suppressed", "not_applicable")
STATUSES = ("pending", *FINAL_STATUSES)
#: Attempt rows a store keeps per outbox row: the first few (what went wrong at first) and the
#: last few (what goes wrong now); ``attempts_not_kept`` on the outbox row counts the others.
ATTEMPTS_KEPT_FIRST = 5
ATTEMPTS_KEPT_LAST = 20


class StoreError(TracksideError):
    """The store could not do what was asked; the subclasses say why.

    StoreError
     ├── StoreLocked       another writer holds the database, or the caller's time ran out
     ├── StoreFull         the disk (or the database's size limit) is full
     ├── StoreUnwritable   the database is read-only (file mode, mount, permissions)
     └── StoreUnavailable  anything else the driver reported: I/O error, corrupt, closed
    """

    #: What /healthz reports for this failure.
    health = "unreachable"
    #: A command that cannot open or write its store stops with exit 2 (check the URL).
    exit_code = 2


class StoreLocked(StoreError):
    health = "locked"


class StoreFull(StoreError):
    health = "disk_full"


class StoreUnwritable(StoreError):
    health = "unwritable"


class StoreUnavailable(StoreError):
    health = "unreachable"


@dataclass
class OutboxPlan:
    """The outbox row to create for one destination when an event is accepted."""

    destination: str
    status: str = "pending"
    next_attempt_at: float | None = None
    #: Why a row starts final (e.g. "consent: ad_storage denied").
    reason: str | None = None


@dataclass
class NewEvent:
    event: NormalizedEvent
    source: str
    outbox: list[OutboxPlan]


@dataclass
class InsertResult:
    event_name: str
    event_id: str
    status: Literal["queued", "duplicate"]
    #: Context keys a duplicate added to the stored event (e.g. ["fbc", "client_ip_address"]).
    added: list[str] = field(default_factory=list)


@dataclass
class Claimed:
    outbox_id: int
    destination: str
    attempts: int
    event: NormalizedEvent
    accepted_at: float


@dataclass
class Finished:
    """A final outcome for one outbox row."""

    outbox_id: int
    status: str
    code: int | None = None
    subcode: int | None = None
    message: str | None = None
    #: What was (or would have been) sent for this event, as JSON text.
    sent: str | None = None


@dataclass
class AttemptRecord:
    verdict: str
    http_status: int | None = None
    code: int | None = None
    subcode: int | None = None
    message: str | None = None
    batch_size: int | None = None


@dataclass
class DestinationState:
    destination: str
    #: None means paused until an operator acts (e.g. an invalid token).
    paused_until: float | None
    reason: str
    code: int | None
    updated_at: float


@dataclass
class DestinationCounts:
    destination: str
    counts: dict[str, int]
    oldest_pending_accepted_at: float | None


@dataclass
class EventView:
    """Everything known about one stored event, for `events show` and the API."""

    event_name: str
    event_id: str
    source: str
    accepted_at: float
    event: NormalizedEvent
    outbox: list[dict[str, Any]]
    attempts: list[dict[str, Any]]
    notes: list[dict[str, Any]]


@dataclass
class DropResult:
    """What ``drop_pending`` did: rows ended ``dead``, and rows it left because they were
    already final, as (event_name, destination, status)."""

    dropped: list[tuple[str, str]]
    refused: list[tuple[str, str, str]]


@dataclass
class ReplayResult:
    replayed: int
    refused: list[tuple[str, str]]  # (event_id, reason)


class Store(Protocol):
    def migrate(self) -> None: ...

    def close(self) -> None: ...

    def insert_events(self, records: Sequence[NewEvent], now: float) -> list[InsertResult]: ...

    def claim(
        self, destination: str, limit: int, owner: str, lease_s: float, now: float
    ) -> list[Claimed]: ...

    def finish(self, results: Sequence[Finished], now: float) -> None: ...

    def reschedule(
        self, outbox_ids: Sequence[int], next_attempt_at: float, attempt: AttemptRecord, now: float
    ) -> None: ...

    def release(self, outbox_ids: Sequence[int]) -> None: ...

    # Worker bookkeeping (delivery.py): isolation steps, lease heartbeats, storm recovery.

    def record_attempts(
        self, outbox_ids: Sequence[int], attempt: AttemptRecord, now: float
    ) -> None:
        """An attempt row per pending row, without rescheduling it (a bisect or probe step)."""
        ...

    def renew_lease(
        self, outbox_ids: Sequence[int], owner: str, lease_expires_at: float
    ) -> int:
        """Extend the lease of the rows ``owner`` still holds; returns how many it holds."""
        ...

    def last_attempts(self, outbox_ids: Sequence[int]) -> dict[int, AttemptRecord]:
        """The newest attempt row of each given outbox row that has one."""
        ...

    def expedite_retries(self, destination: str, failed_since: float, now: float) -> int:
        """Make due now the pending rows waiting on a backoff after a ``retry`` attempt at or
        after ``failed_since`` (held rows, with no attempt, are untouched); returns the count."""
        ...

    def add_note(
        self, event_name: str, event_id: str, kind: str, detail: str, now: float,
        destination: str | None = None,
    ) -> None: ...

    def add_notes(self, notes: Sequence[tuple[int, str, str, str]], now: float) -> None:
        """Notes keyed by outbox id: (outbox_id, kind, destination, detail)."""
        ...

    def pause_destination(
        self, destination: str, until: float | None, reason: str, code: int | None, now: float
    ) -> None: ...

    def resume_destination(self, destination: str) -> None: ...

    def destination_states(self) -> list[DestinationState]: ...

    def counts(self) -> list[DestinationCounts]: ...

    def next_due(self, destination: str) -> float | None: ...

    def event_view(self, event_id: str) -> list[EventView]: ...

    def replay(
        self,
        *,
        destination: str | None,
        since: float | None,
        until: float | None,
        event_id: str | None,
        min_event_time: dict[str, float],
        now: float,
    ) -> ReplayResult: ...

    def purge_personal_data(
        self, older_than: float, now: float, include_dead: bool = False
    ) -> int: ...

    def get_cursor(self, name: str) -> str | None: ...

    def set_cursor(self, name: str, value: str, now: float) -> None: ...

    def ping(self) -> None: ...

    def probe_write(self, timeout_s: float, now: float) -> None:
        """Commit a small real write within ``timeout_s``, or raise a StoreError subclass
        saying why the store cannot accept writes (for /healthz)."""
        ...

    def time_limit(self, seconds: float) -> AbstractContextManager[None]:
        """Within the block, every wait for a lock by a store call of this thread lasts at
        most ``seconds``, then raises StoreLocked; calls that need no waiting always run."""
        ...

    def drop_pending(
        self, event_id: str, destination: str | None, reason: str, actor: str, now: float
    ) -> DropResult:
        """End the pending rows of ``event_id`` (all destinations, or ``destination``) as
        ``dead`` with ``reason``; a note records who did it and why."""
        ...

    # Browser context joins and held browser purchases (trackside/join.py).

    def browser_events_by_key(
        self, key: Literal["cart_id", "customer_id"], value: str, since: float, limit: int = 10
    ) -> list[NormalizedEvent]: ...

    def has_expired_holds(
        self, destinations: Sequence[str], hold_until: float, accepted_before: float
    ) -> bool: ...

    def finish_expired_holds(
        self, destinations: Sequence[str], hold_until: float, accepted_before: float,
        reason: str, now: float,
    ) -> int: ...

    def confirm_held_purchase(
        self, record: NewEvent, unconfirmed_flag: str, seen_flag: str, hold_until: float,
        reason: str, now: float, lends_since: float,
    ) -> list[str] | None: ...

    def add_event_notes(self, notes: Sequence[tuple[str, str, str, str]], now: float) -> None: ...


def open_store(database_url: str) -> Store:
    """The store for ``TRACKSIDE_DATABASE_URL``, migrated."""
    if database_url.startswith("sqlite://"):
        from trackside.store.sqlite import SQLiteStore

        store: Store = SQLiteStore.from_url(database_url)
    else:
        from trackside.config import ConfigError

        raise ConfigError(
            "TRACKSIDE_DATABASE_URL: PostgreSQL is not supported yet in this version; "
            "use sqlite:///path/to/trackside.db"
        )
    store.migrate()
    return store
