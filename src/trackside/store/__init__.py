"""The Store protocol: durable events, dedup keys, the outbox, attempts and notes.

Callers (pipeline, worker, CLI, web) only see this protocol and its records (records.py), so a
PostgreSQL implementation can sit beside ``sqlite.py`` without changing them. Methods are
synchronous; async callers run them in a thread.

Outbox statuses: ``pending`` (waiting for its ``next_attempt_at``), ``held`` (an unconfirmed
browser Purchase: never due on its own, see trackside.join), and the final ones ``delivered``,
``dead`` (the destination, or our local check of its rules, refused it), ``expired`` (too old
for the destination's window), ``suppressed`` (consent or policy) and ``not_applicable`` (the
destination has no such event, e.g. a refund for Meta).

Writes that belong together run in one :meth:`Store.transaction`: its :class:`UnitOfWork`
offers small operations (insert, update an event's body, release held rows, note, …) and no
business rules. What a duplicate adds (trackside.context), how a held purchase is confirmed
(trackside.join) and what the purge strips (trackside.retention) are decided above the store,
so every implementation (SQLite, trackside.testing.MemoryStore, PostgreSQL next) shares them.

Shops (issue 13): every event, outbox row, cursor and destination state belongs to one shop
(trackside.shop_names). Each method that reads or writes them takes ``shop`` (keyword; default
:data:`DEFAULT_SHOP`, the only shop of a single-shop setup) and never returns nor changes another
shop's rows; ``counts`` and ``destination_states`` take ``shop=None`` for all shops, with the shop
in each row. Methods keyed by outbox ids (finish, reschedule, …) need no shop: the ids come from
that shop's claim.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Literal, Protocol

from trackside.errors import TracksideError
from trackside.events import NormalizedEvent
from trackside.outcomes import ALL, FINAL, Outcome
from trackside.shop_names import DEFAULT_SHOP
from trackside.store.records import (
    AttemptRecord,
    AttemptRow,
    Claimed,
    DailyCount,
    DatasetQuality,
    DeadLetter,
    DeliveryLatency,
    DestinationCounts,
    DestinationState,
    DropResult,
    EventSummary,
    EventView,
    Finished,
    InsertResult,
    KeyCombination,
    NewEvent,
    NoteRow,
    OrderFacts,
    OrderRow,
    OrderTally,
    OutboxPlan,
    OutboxRow,
    PurgeCandidate,
    ReplayResult,
    StoredEvent,
    WebhookCount,
    WebhookDelivery,
)

__all__ = [
    "ATTEMPTS_KEPT_FIRST",
    "ATTEMPTS_KEPT_LAST",
    "DEFAULT_SHOP",
    "FINAL_STATUSES",
    "HELD",
    "ORDER_SOURCES_EXCLUDED",
    "STATUSES",
    "AttemptRecord",
    "AttemptRow",
    "Claimed",
    "DailyCount",
    "DatasetQuality",
    "DeadLetter",
    "DeliveryLatency",
    "DestinationCounts",
    "DestinationState",
    "DropResult",
    "EventSummary",
    "EventView",
    "Finished",
    "InsertResult",
    "KeyCombination",
    "NewEvent",
    "NoteRow",
    "OrderFacts",
    "OrderRow",
    "OrderTally",
    "OutboxPlan",
    "OutboxRow",
    "PurgeCandidate",
    "ReplayResult",
    "Store",
    "StoreError",
    "StoreFull",
    "StoreLocked",
    "StoreUnavailable",
    "StoreUnwritable",
    "StoredEvent",
    "UnitOfWork",
    "WebhookCount",
    "WebhookDelivery",
    "open_store",
]

#: The status of a held row (an unconfirmed browser Purchase): never claimed; only
#: trackside.join's confirmation or its sweep moves it.
HELD = Outcome.HELD
#: The final statuses, in the order reports show them (trackside.outcomes).
FINAL_STATUSES = tuple(outcome for outcome in ALL if outcome in FINAL)
STATUSES = ALL
#: The source whose Purchases :meth:`Store.orders` leaves out: the browser's copy of an order
#: is no store confirmation (a confirmation changes the event's source to the store's).
ORDER_SOURCES_EXCLUDED = ("browser",)
#: Attempt rows a store keeps per outbox row: the first few (what went wrong at first) and the
#: last few (what goes wrong now); ``attempts_not_kept`` on the outbox row counts the others.
ATTEMPTS_KEPT_FIRST = 5
ATTEMPTS_KEPT_LAST = 20
#: How long a periodic job's run blocks the other processes when its holder dies without
#: ending it (SQLite, memory: the lease in the jobs row; PostgreSQL releases its advisory
#: lock when the holder's connection goes). A run is not renewed: a job whose interval is
#: shorter than this lease and whose run lasts longer may start again elsewhere (the built-in
#: jobs are idempotent).
JOB_LEASE_S = 60.0
#: A run that raised does not count as the period's run: the job may start again this long
#: after it (or after its interval, when shorter), in any process. Without it a purge that
#: failed during a database outage would wait a whole day.
JOB_FAILED_RETRY_S = 60.0


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


class UnitOfWork(Protocol):
    """The operations of one store transaction: all of them commit together, or none.

    ``ref`` is a :attr:`StoredEvent.ref`. No business rules here: callers decide.
    """

    def insert_new(self, records: Sequence[NewEvent], now: float) -> list[bool]:
        """Store each new event with its outbox rows in its ``shop``; per record, False when
        an event with its (shop, event_name, event_id) is already stored (then nothing of it
        is written)."""
        ...

    def find_event(self, event_name: str, event_id: str, *,
                   shop: str = DEFAULT_SHOP) -> StoredEvent | None: ...

    def browser_events_by_key(
        self, key: Literal["cart_id", "customer_id"], value: str, since: float, limit: int = 10,
        *, shop: str = DEFAULT_SHOP,
    ) -> list[NormalizedEvent]:
        """As :meth:`Store.browser_events_by_key`, inside this transaction."""
        ...

    def update_event(self, ref: int, event: NormalizedEvent, source: str | None = None) -> None:
        """Replace the stored body (and the join keys read from it); ``source`` too if given."""
        ...

    def make_due(self, ref: int, now: float) -> int:
        """The event's pending rows never attempted and waiting past ``now`` become due now."""
        ...

    def release_held(self, ref: int, now: float) -> int:
        """The event's held rows become pending, due now."""
        ...

    def reopen(self, ref: int, reason: str, now: float) -> int:
        """The event's rows that ended ``suppressed`` with exactly ``reason`` become pending,
        due now (a decision that is being taken back)."""
        ...

    def replan(self, ref: int, plans: Sequence[OutboxPlan], now: float) -> None:
        """Rows of the event never attempted nor sent, held, pending or suppressed, take the
        plan of their destination (status, reason; due now when pending)."""
        ...

    def note(self, ref: int, kind: str, detail: str, now: float,
             destination: str | None = None) -> None: ...

    def finish(self, results: Sequence[Finished], now: float) -> None:
        """Final outcomes for pending rows (as :meth:`Store.finish`, inside this transaction)."""
        ...

    def set_cursor(self, name: str, value: str, now: float, *,
                   shop: str = DEFAULT_SHOP) -> None:
        """A poller's position, committed with the events it read (as :meth:`Store.set_cursor`)."""
        ...

    def has_expired_holds(self, accepted_before: float, *, shop: str | None = None) -> bool:
        """Whether any held row's event (of ``shop``, or of any shop) was accepted before
        ``accepted_before``."""
        ...

    def finish_expired_holds(self, accepted_before: float, reason: str, now: float, *,
                             shop: str | None = None) -> int:
        """Held rows (of ``shop``, or of every shop) of events accepted before
        ``accepted_before`` end ``suppressed``."""
        ...

    def purge_candidates(
        self, older_than: float, blocking: Sequence[str], *, shop: str | None = None
    ) -> list[PurgeCandidate]:
        """The events (of ``shop``, or of every shop) accepted before ``older_than``, not
        purged yet, none of whose rows has a status in ``blocking``."""
        ...

    def mark_purged(self, ref: int, event: NormalizedEvent, sent: dict[int, str],
                    now: float) -> None:
        """Store the stripped event and payloads, and remember when it was purged."""
        ...


class Store(Protocol):
    def migrate(self) -> None: ...

    def transaction(self) -> AbstractContextManager[UnitOfWork]:
        """One transaction (one durable commit when the block ends; nothing if it raises)."""
        ...

    def close(self) -> None: ...

    def insert_events(self, records: Sequence[NewEvent], now: float) -> list[InsertResult]:
        """New events with their outbox rows, in one transaction; an event already stored is
        left as it is and reported ``duplicate`` (merging is trackside.context's decision)."""
        ...

    def claim(
        self, destination: str, limit: int, owner: str, lease_s: float, now: float, *,
        shop: str = DEFAULT_SHOP,
    ) -> list[Claimed]:
        """Lease the due rows of (``shop``, ``destination``); another shop's rows, due or
        backlogged, are neither returned nor read."""
        ...

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

    def expedite_retries(self, destination: str, failed_since: float, now: float, *,
                         shop: str = DEFAULT_SHOP) -> int:
        """Make due now the pending rows waiting on a backoff after a ``retry`` attempt at or
        after ``failed_since``; returns the count."""
        ...

    def add_note(
        self, event_name: str, event_id: str, kind: str, detail: str, now: float,
        destination: str | None = None, *, shop: str = DEFAULT_SHOP,
    ) -> None: ...

    def add_notes(self, notes: Sequence[tuple[int, str, str, str]], now: float) -> None:
        """Notes keyed by outbox id: (outbox_id, kind, destination, detail)."""
        ...

    def pause_destination(
        self, destination: str, until: float | None, reason: str, code: int | None, now: float,
        *, shop: str = DEFAULT_SHOP,
    ) -> None: ...

    def resume_destination(self, destination: str, *, shop: str = DEFAULT_SHOP) -> None: ...

    def destination_states(self, *, shop: str | None = None) -> list[DestinationState]:
        """The paused destinations of ``shop``, or (None) of every shop, by shop then name."""
        ...

    def counts(self, *, shop: str | None = None) -> list[DestinationCounts]:
        """Rows by status per (shop, destination), of ``shop`` or (None) of every shop."""
        ...

    def next_due(self, destination: str, *, shop: str = DEFAULT_SHOP) -> float | None:
        """When claim() can next return a pending row of (``shop``, ``destination``): its
        next attempt time, or for a leased (in-flight) row the end of its lease."""
        ...

    def event_view(self, event_id: str, *, shop: str = DEFAULT_SHOP) -> list[EventView]: ...

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
    ) -> ReplayResult: ...

    def get_cursor(self, name: str, *, shop: str = DEFAULT_SHOP) -> str | None: ...

    def set_cursor(self, name: str, value: str, now: float, *,
                   shop: str = DEFAULT_SHOP) -> None: ...

    def ping(self) -> None: ...

    def health_details(self) -> dict[str, int | str]:
        """What /healthz shows about the store's connections (PostgreSQL: the pool's size,
        idle, waiting, max; SQLite: {}), never a secret."""
        ...

    def probe_write(self, timeout_s: float, now: float) -> None:
        """Commit a small real write within ``timeout_s``, or raise a StoreError subclass
        saying why the store cannot accept writes (for /healthz)."""
        ...

    def time_limit(self, seconds: float) -> AbstractContextManager[None]:
        """Within the block, every wait for a lock by a store call of this thread lasts at
        most ``seconds``, then raises StoreLocked; calls that need no waiting always run."""
        ...

    def drop_pending(
        self, event_id: str, destination: str | None, reason: str, actor: str, now: float,
        *, shop: str = DEFAULT_SHOP,
    ) -> DropResult:
        """End the pending and held rows of ``event_id`` (all destinations, or
        ``destination``) as ``dead`` with ``reason``; a note records who did it and why."""
        ...

    # The console's reads (web/console/): of one shop, no personal data in what they return.

    def events_per_day(self, since: float, until: float, *,
                       shop: str = DEFAULT_SHOP) -> list[DailyCount]:
        """Events accepted in [``since``, ``until``) per UTC day and source, by day then
        source."""
        ...

    def delivery_latency(self, since: float, until: float, *,
                         shop: str = DEFAULT_SHOP) -> list[DeliveryLatency]:
        """Per destination, the rows delivered in [``since``, ``until``): how many, and the
        average and longest time from acceptance to delivery, by destination."""
        ...

    def dead_letters(self, *, shop: str = DEFAULT_SHOP, limit: int = 50) -> list[DeadLetter]:
        """The rows that ended ``dead`` or ``expired`` (what replay takes), newest first."""
        ...

    def find_events(self, *, reference: str | None = None, email_hash: str | None = None,
                    shop: str = DEFAULT_SHOP, limit: int = 20) -> list[EventSummary]:
        """Events whose order reference is ``reference``, or whose hashed e-mails include
        ``email_hash`` (SHA-256 hex, as the pipeline stores it), newest first."""
        ...

    # The reconciliation report (trackside/reports/reconciliation.py).

    def orders(
        self, since: int, until: int, *, shop: str = DEFAULT_SHOP,
        after: tuple[int, int] | None = None, limit: int | None = None,
        statuses: Sequence[str] | None = None,
    ) -> list[OrderFacts]:
        """The stored Purchases of ``shop`` whose source is not the browser (the store's
        orders, :data:`ORDER_SOURCES_EXCLUDED`) with ``since <= event_time < until``, each
        with its outbox rows; ordered by (event_time, ref), only those after ``after`` (an
        (event_time, ref) pair), with ``statuses`` only those having a row in one of them, at
        most ``limit`` orders."""
        ...

    def order_tallies(self, since: int, until: int, *,
                      shop: str = DEFAULT_SHOP) -> list[OrderTally]:
        """The orders of :meth:`orders` grouped by UTC day, currency, flags and the (destination,
        status, reason class) of their rows: per group the count and the value summed in
        millionths (records.VALUE_UNITS), so a report reads groups, not orders."""
        ...

    # Browser context joins (trackside/join.py).

    def browser_events_by_key(
        self, key: Literal["cart_id", "customer_id"], value: str, since: float, limit: int = 10,
        *, shop: str = DEFAULT_SHOP,
    ) -> list[NormalizedEvent]:
        """The newest events (newest first) stored from the browser in ``shop`` with
        ``key == value``, accepted at or after ``since`` (another shop's shopper never lends
        context)."""
        ...

    def has_expired_holds(self, accepted_before: float, *, shop: str | None = None) -> bool:
        """Whether any held row's event was accepted before ``accepted_before`` (a cheap read,
        outside any transaction)."""
        ...

    # Match quality (trackside/reports/match_quality.py, issue 15).

    def match_key_counts(self, since: float, until: float, *,
                         shop: str = DEFAULT_SHOP) -> list[KeyCombination]:
        """The events of ``shop`` whose ``event_time`` is in [``since``, ``until``), counted
        per (event name, set of match keys carried), by event name then count descending.
        The keys are those of the stored body when it was last written by the pipeline (an
        insert or a merge); the retention purge does not change them (they say what was
        sent)."""
        ...

    def save_dataset_quality(self, record: DatasetQuality) -> None:
        """Keep ``record`` as its shop's last Dataset Quality fetch (replacing the previous)."""
        ...

    def dataset_quality(self, *, shop: str = DEFAULT_SHOP) -> DatasetQuality | None:
        """The last Dataset Quality fetch of ``shop``, if any."""
        ...

    # Several processes sharing one store (trackside/pollers.py, delivery/).

    def job_lock(self, name: str, interval_s: float, owner: str, now: float
                 ) -> AbstractContextManager[bool]:
        """Whether this process runs periodic job ``name`` now. Yields True in at most one
        process at a time among all processes sharing the store, and only when the job's
        last start is at least ``interval_s`` before ``now`` (the start is then recorded as
        ``now``, with ``owner``); otherwise yields False at once (never waits). A holder
        that dies inside the block blocks the others no longer than :data:`JOB_LEASE_S`; a
        block that raises lets the job start again :data:`JOB_FAILED_RETRY_S` later (or its
        interval, when shorter)."""
        ...

    def subscribe(self, on_work: Callable[[], None]) -> Callable[[], None] | None:
        """Have ``on_work`` called (from any thread) soon after any process commits outbox
        rows that became due (new events, released holds, reopened or replayed rows), and
        once after a lost connection is re-established (notifications may have been lost).
        Returns the function that ends the subscription, or None when the store has no
        cross-process notification (SQLite, memory: the worker's idle poll finds the rows)."""
        ...

    # Platform webhooks (sources/webhooks.py): what each authentic delivery was answered.

    def record_webhook(self, delivery: WebhookDelivery, now: float) -> bool:
        """Remember ``delivery`` (received at ``now``); False, and nothing changed, when its
        (shop, source, delivery_id) is already recorded: the first answer is the one kept."""
        ...

    def webhook_delivery(self, source: str, delivery_id: str, *,
                         shop: str = DEFAULT_SHOP) -> WebhookDelivery | None:
        """The recorded delivery of ``shop`` with this (source, delivery_id), if any."""
        ...

    def webhook_counts(self, *, shop: str | None = None) -> list[WebhookCount]:
        """Deliveries per (shop, source, outcome, reason), of ``shop`` or (None) of every shop,
        in that order."""
        ...


def open_store(database_url: str, *, migrate: bool = True, pool_size: int = 10) -> Store:
    """The store for ``TRACKSIDE_DATABASE_URL`` (sqlite:// or postgresql://), migrated; with
    ``migrate=False`` a schema that is behind is refused (SchemaBehind) instead."""
    from trackside.store.opening import open_migrated

    return open_migrated(database_url, migrate=migrate, pool_size=pool_size)
