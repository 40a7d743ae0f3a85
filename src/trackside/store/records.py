"""The records the Store protocol takes and returns (re-exported by ``trackside.store``).

Plain dataclasses, no driver types: a caller never sees a SQLite row or column name.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from trackside.events import NormalizedEvent
from trackside.quality import keys_of_mask
from trackside.shop_names import DEFAULT_SHOP, checked_shop


@dataclass
class OutboxPlan:
    """The outbox row to create for one destination when an event is accepted."""

    destination: str
    #: ``pending``, ``held`` or a final status.
    status: str = "pending"
    next_attempt_at: float | None = None
    #: Why a row starts final (e.g. "consent: ad_storage denied").
    reason: str | None = None


@dataclass
class NewEvent:
    event: NormalizedEvent
    source: str
    outbox: list[OutboxPlan]
    #: The shop the event belongs to: dedup, joins and every later read are within it.
    shop: str = DEFAULT_SHOP

    def __post_init__(self) -> None:
        checked_shop(self.shop, "NewEvent.shop")


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
    shop: str = DEFAULT_SHOP


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
    #: Meta's id of the request (its support asks for it); None for other vendors.
    fbtrace_id: str | None = None


@dataclass
class DestinationState:
    destination: str
    #: None means paused until an operator acts (e.g. an invalid token).
    paused_until: float | None
    reason: str
    code: int | None
    updated_at: float
    #: A pause holds one shop's destination, never another shop's.
    shop: str = DEFAULT_SHOP


@dataclass
class DestinationCounts:
    destination: str
    counts: dict[str, int]
    #: When the oldest event still waiting (a pending or held row) was accepted.
    oldest_pending_accepted_at: float | None
    shop: str = DEFAULT_SHOP


@dataclass
class OutboxRow:
    """One destination's delivery state of a stored event, as ``event_view`` reports it."""

    id: int
    destination: str
    status: str
    attempts: int = 0
    next_attempt_at: float | None = None
    lease_expires_at: float | None = None
    code: int | None = None
    subcode: int | None = None
    message: str | None = None
    finished_at: float | None = None
    #: What was sent (parsed JSON), None until a send.
    sent: Any = None
    #: Attempts between the first and last few that were not kept (bounded attempts).
    attempts_not_kept: int = 0


@dataclass
class AttemptRow:
    """One recorded attempt of an outbox row."""

    id: int
    outbox_id: int
    destination: str
    at: float
    verdict: str
    http_status: int | None = None
    code: int | None = None
    subcode: int | None = None
    message: str | None = None
    batch_size: int | None = None
    fbtrace_id: str | None = None


@dataclass
class NoteRow:
    """Something that happened to an event besides delivery (duplicate, join, replay, …)."""

    at: float
    kind: str
    detail: str
    destination: str | None = None


@dataclass
class EventView:
    """Everything known about one stored event, for `events show` and the API."""

    event_name: str
    event_id: str
    source: str
    accepted_at: float
    event: NormalizedEvent
    outbox: list[OutboxRow]
    #: Oldest first (by time, then by the order they were recorded).
    attempts: list[AttemptRow]
    #: Oldest first.
    notes: list[NoteRow]
    shop: str = DEFAULT_SHOP


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


class StoredEvent:
    """An event already in the store, as a unit of work read it.

    ``event`` may be given as the stored body (JSON text) and is then parsed on first use:
    several callers only want ``ref`` (a note on the stored copy) or ``source`` and
    ``statuses``, and parsing the body is most of a lookup's cost (about 10 µs per browser
    event with a note: docs/benchmarks.md "The store insert path and the committer").
    """

    __slots__ = ("_event", "accepted_at", "ref", "shop", "source", "statuses")

    def __init__(self, ref: int, event: NormalizedEvent | str | bytes, source: str,
                 accepted_at: float, statuses: list[str], shop: str = DEFAULT_SHOP) -> None:
        #: The store's own key of the event, valid for the unit of work's store.
        self.ref = ref
        self._event = event
        #: The source that stored it (the events row's, which a confirmation changes).
        self.source = source
        self.accepted_at = accepted_at
        #: The statuses of its outbox rows.
        self.statuses = statuses
        self.shop = shop

    @property
    def event(self) -> NormalizedEvent:
        event = self._event
        if not isinstance(event, NormalizedEvent):
            event = self._event = NormalizedEvent.model_validate_json(event)
        return event

    @event.setter
    def event(self, value: NormalizedEvent) -> None:
        self._event = value

    def _fields(self) -> tuple[Any, ...]:
        return (self.ref, self.event, self.source, self.accepted_at, self.statuses, self.shop)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StoredEvent):
            return NotImplemented
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass it was

    def __repr__(self) -> str:
        return (f"StoredEvent(ref={self.ref!r}, event={self.event!r}, source={self.source!r},"
                f" accepted_at={self.accepted_at!r}, statuses={self.statuses!r},"
                f" shop={self.shop!r})")


@dataclass
class PurgeCandidate:
    """An event the retention purge may strip, with what was sent for it (JSON text)."""

    ref: int
    event: NormalizedEvent
    #: outbox id → the sent payload.
    sent: dict[int, str]


# -- the console's reads (web/console/) ------------------------------------------------------


@dataclass
class DailyCount:
    """Events accepted on one UTC day (``YYYY-MM-DD``) from one source."""

    day: str
    source: str
    count: int


@dataclass
class DeliveryLatency:
    """How long one destination's delivered rows waited between acceptance and delivery."""

    destination: str
    delivered: int
    average_s: float
    max_s: float


@dataclass
class DeadLetter:
    """An outbox row that ended ``dead`` or ``expired``: what replay would send again."""

    event_name: str
    event_id: str
    destination: str
    status: str
    code: int | None
    message: str | None
    finished_at: float | None


@dataclass
class EventSummary:
    """One stored event as a search result lists it (no body: no personal data)."""

    event_name: str
    event_id: str
    source: str
    accepted_at: float
@dataclass(frozen=True)
class KeyCombination:
    """How many events of one name in a period carried exactly this set of match keys
    (trackside.quality.MATCH_KEYS and the direct ids; Store.match_key_counts)."""

    event_name: str
    keys: frozenset[str]
    count: int


@dataclass(frozen=True)
class DatasetQuality:
    """The last Dataset Quality fetch of a shop's Meta dataset (Store.save_dataset_quality).

    ``figures`` is the JSON text of the last successful answer's figures (trackside's own
    shape, trackside.reports.dataset_quality), kept when a later fetch fails; ``error`` is why
    the last fetch failed (None when it succeeded), never with a secret in it.
    """

    shop: str
    dataset_id: str
    #: When the last fetch, successful or not, was made.
    checked_at: float
    figures: str | None = None
    #: When ``figures`` were fetched.
    figures_at: float | None = None
    error: str | None = None

    def __post_init__(self) -> None:
        checked_shop(self.shop, "DatasetQuality.shop")


def sorted_combinations(rows: list[tuple[str, int, int]]) -> list[KeyCombination]:
    """(event_name, mask, count) rows as the protocol returns them: by event name, then
    count descending, then mask (the stores share the order)."""
    rows.sort(key=lambda row: (row[0], -row[2], row[1]))
    return [KeyCombination(name, keys_of_mask(mask), count) for name, mask, count in rows]


@dataclass
class WebhookDelivery:
    """One authentic delivery of a platform's webhook (Shopify, WooCommerce) and how it was
    answered: ``converted`` (its events were accepted) or ``ignored`` with a ``reason`` class
    and a ``detail`` for a person. Never personal data: ids, topics, statuses and field names."""

    source: str
    #: The platform's key for the delivery (Shopify's event id, WooCommerce's delivery id).
    delivery_id: str
    topic: str
    outcome: str
    reason: str = ""
    detail: str = ""
    shop: str = DEFAULT_SHOP
    received_at: float = 0.0


@dataclass
class WebhookCount:
    """Deliveries of one (shop, source, outcome, reason), for ``trackside status``."""

    shop: str
    source: str
    outcome: str
    reason: str
    count: int
    last_received_at: float


@dataclass(frozen=True)
class OrderRow:
    """One destination's state of a stored order, as :meth:`Store.orders` reports it."""

    destination: str
    status: str
    #: The stored reason of a row that ended undelivered (``suppressed``, ``not_applicable``,
    #: ``dead``, ``expired``; it starts with its trackside.outcomes.Reason class, or a vendor's
    #: code); None for other statuses.
    reason: str | None = None


@dataclass
class OrderFacts:
    """A stored Purchase of a server source, with what the reconciliation report reads."""

    #: The store's own key of the event: with ``event_time``, the order of every listing.
    ref: int
    event_id: str
    event_time: int
    value: float | None
    currency: str | None
    #: The event's flags (``seen_by_browser``, ``pixel_absent``, …).
    flags: tuple[str, ...]
    #: Its outbox rows, by id.
    rows: list[OrderRow] = field(default_factory=list)


def order_columns(event: NormalizedEvent) -> tuple[float | None, str | None, str | None]:
    """(order_value, order_currency, flags) as the SQL stores keep them beside the body
    (migrations 0010 / postgres 0003): copies, so reports never parse bodies."""
    order = event.order
    return (order.value if order else None, order.currency if order else None,
            " ".join(event.flags) or None)


def orders_from_rows(rows: Iterable[Sequence[Any]]) -> list[OrderFacts]:
    """OrderFacts from the SQL stores' flat rows (pk, event_id, event_time, order_value,
    order_currency, flags, destination, status, reason), ordered by order then outbox id; an
    order without outbox rows has one row whose destination is NULL."""
    found: list[OrderFacts] = []
    last: OrderFacts | None = None
    for pk, event_id, event_time, value, currency, flags, destination, status, reason in rows:
        if last is None or last.ref != pk:
            last = OrderFacts(pk, event_id, event_time, value, currency,
                              tuple(flags.split()) if flags else ())
            found.append(last)
        if destination is not None:
            last.rows.append(OrderRow(destination, status, reason))
    return found


#: Order values are summed in millionths, as integers: exact in every store (a value with more
#: than six decimals is rounded to the millionth).
VALUE_UNITS = 1_000_000


@dataclass
class OrderTally:
    """Orders of one shape, as :meth:`Store.order_tallies` groups them."""

    #: The UTC day of their event_time, as days since 1970-01-01.
    day: int
    currency: str | None
    flags: tuple[str, ...]
    #: Their outbox rows (sorted); ``reason`` holds only the stored reason's class part, up to
    #: and including its ``:`` ("consent:"), for suppressed and not_applicable rows.
    rows: tuple[OrderRow, ...]
    count: int
    #: The sum of their values in :data:`VALUE_UNITS` (None when none has a value).
    value_units: int | None


def tallies_from_rows(rows: Iterable[Sequence[Any]]) -> list[OrderTally]:
    """OrderTally from the SQL stores' rows (day, currency, flags, shape, count, units), where
    shape is ``destination US status US reason-class`` joined by RS (the ASCII unit and
    record separators); groups whose rows came in another order are merged."""
    merged: dict[tuple[Any, ...], OrderTally] = {}
    for day, currency, flags, shape, count, units in rows:
        parts = sorted(tuple(row.split("\x1f")) for row in shape.split("\x1e")) if shape else []
        outbox = tuple(OrderRow(d, s, r or None) for d, s, r in parts)
        key = (day, currency, flags, outbox)
        units = int(units) if units is not None else None
        found = merged.get(key)
        if found is None:
            merged[key] = OrderTally(int(day), currency, tuple(flags.split()) if flags else (),
                                     outbox, int(count), units)
        else:
            found.count += int(count)
            if units is not None:
                found.value_units = (found.value_units or 0) + units
    return list(merged.values())


DAY_S = 86400


def period_parts(since: float, until: float) -> list[tuple[str, float, float]]:
    """[since, until) cut into the whole UTC days a store's daily rollups answer ("days",
    first day, day after the last, as day numbers) and the edges before and after them that
    only the events answer ("events", since, until, as times)."""
    first = math.ceil(since / DAY_S)
    last = math.floor(until / DAY_S)
    if first >= last:
        return [("events", since, until)] if since < until else []
    parts: list[tuple[str, float, float]] = [("days", first, last)]
    if since < first * DAY_S:
        parts.append(("events", since, first * DAY_S))
    if last * DAY_S < until:
        parts.append(("events", last * DAY_S, until))
    return parts
