"""The reconciliation ("teardown"): the store's orders of a period against what the Meta pixel
alone would have reported, and what trackside delivered instead (issue 15).

Definitions (docs/reports.md says the same for a shop owner). An **order** is a Purchase stored
from a server source (PrestaShop, the API, the Graph-compatible endpoint, webhooks): a browser
copy is no order until the store's copy confirms it (:meth:`Store.orders`). Orders belong to
the UTC day of their ``event_time`` (the order time the shop sent). Of those:

- ``pixel_fired``: a beacon of the confirmation page with the order's event id reached trackside
  (flag ``seen_by_browser``, set whichever copy came first, trackside.join) and did not report
  the Meta pixel absent (flag ``pixel_absent``);
- ``pixel_missed``: the other orders, with ``share`` = pixel_missed / orders (None without
  orders): what the pixel alone would have lost;
- ``recovered``: pixel_missed orders whose ``meta`` row is ``delivered`` (the Conversions API
  sent what the pixel missed);
- ``delivered``: per destination, orders whose row for it is ``delivered``;
- ``suppressed``: per reason class, orders with a row not sent on purpose: ``consent``
  (suppressed, reason class consent), ``not_applicable`` (status not_applicable, or a reason of
  that class) and ``policy`` (every other suppressed row: opt-out, LDU, too little customer
  information, the join window);
- ``failed``: orders with a row ``dead`` or ``expired``; ``pending``: with a row ``pending``
  or ``held``.

An order counts once in each number it belongs to (an order suppressed for consent at two
destinations is one ``suppressed.consent`` order). Every number is ``{"count": n, "value":
{"EUR": 12.5}}``: the orders' values summed per currency, exactly (decimal), an order without
a value or currency counting in ``count`` only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from trackside.errors import ReportError
from trackside.outcomes import Outcome, Reason, reason_class
from trackside.shop_names import DEFAULT_SHOP
from trackside.store import OrderFacts, Store

#: The flags trackside.join sets on an order (module constants there; repeated here by name so
#: the report does not import the join).
SEEN_BY_BROWSER = "seen_by_browser"
PIXEL_ABSENT = "pixel_absent"
#: The destination whose delivery "recovers" an order the pixel missed.
META = "meta"
#: Suppression classes, in the order reports show them.
SUPPRESSION_CLASSES = ("consent", "policy", "not_applicable")
#: The simple numbers, in the order reports show them (delivered and suppressed are split).
COUNTED = ("orders", "pixel_fired", "pixel_missed", "recovered")
#: What the order list may be filtered by: every number, and the parts of the split ones
#: (``delivered.meta``, ``suppressed.consent``).
FILTERS = (*COUNTED, "delivered", "suppressed", "failed", "pending")
#: The longest period a report covers (a year and a day: a leap year's whole year).
MAX_PERIOD_DAYS = 366
#: Order list pages: the default and the largest.
DEFAULT_PAGE = 100
MAX_PAGE = 1000
#: Orders read from the store at a time while filling a page.
_SCAN_CHUNK = 2000
_DAY_S = 86400
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_CURSOR = re.compile(r"(\d{1,12})\.(\d{1,19})")


@dataclass(frozen=True)
class Period:
    """UTC days ``since`` to ``until``, both included."""

    since: date
    until: date

    @property
    def start(self) -> int:
        return _epoch(self.since)

    @property
    def end(self) -> int:
        """The first second after the period."""
        return _epoch(self.until) + _DAY_S

    def days(self) -> list[date]:
        return [self.since + timedelta(days=n) for n in range((self.until - self.since).days + 1)]


def _epoch(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def parse_day(text: str | None, field_name: str) -> date:
    if text is None or text == "":
        raise ReportError(field_name, "is required: a date such as 2026-11-20")
    if not _DATE.fullmatch(text):
        raise ReportError(field_name, "must be a date such as 2026-11-20 (YYYY-MM-DD)")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ReportError(field_name, "is not a calendar date") from None


def period(since: str | None, until: str | None, today: date | None = None) -> Period:
    """The period of ``since``..``until`` (YYYY-MM-DD, both included; ``until`` defaults to
    today, UTC), or ReportError naming the parameter."""
    first = parse_day(since, "since")
    last = parse_day(until, "until") if until not in (None, "") else (
        today or datetime.now(UTC).date())
    if last < first:
        raise ReportError("until", "must not be before since")
    if (last - first).days + 1 > MAX_PERIOD_DAYS:
        raise ReportError("until", f"the period is longer than {MAX_PERIOD_DAYS} days")
    return Period(first, last)


@dataclass
class Tally:
    """A count of orders and their value per currency."""

    count: int = 0
    value: dict[str, Decimal] = field(default_factory=dict)

    def add(self, amount: Decimal | None, currency: str | None) -> None:
        self.count += 1
        if amount is not None and currency is not None:
            self.value[currency] = self.value.get(currency, Decimal(0)) + amount

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count,
                "value": {c: _number(self.value[c]) for c in sorted(self.value)}}


def _number(amount: Decimal) -> float | int:
    return int(amount) if amount == amount.to_integral_value() else float(amount)


@dataclass
class Figures:
    """Every number of the report for one day or the whole period."""

    destinations: Sequence[str]
    tallies: dict[str, Tally] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = [*COUNTED, *(f"delivered.{d}" for d in self.destinations),
                 *(f"suppressed.{c}" for c in SUPPRESSION_CLASSES), "failed", "pending"]
        self.tallies = {name: Tally() for name in names}

    def add(self, facts: OrderFacts, labels: set[str], amount: Decimal | None) -> None:
        for name in labels:
            tally = self.tallies.get(name)  # "delivered" and "suppressed" are split
            if tally is not None:
                tally.add(amount, facts.currency)

    def share(self) -> float | None:
        orders = self.tallies["orders"].count
        return round(self.tallies["pixel_missed"].count / orders, 4) if orders else None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: self.tallies[name].as_dict() for name in COUNTED}
        out["pixel_missed"]["share"] = self.share()
        out["delivered"] = {d: self.tallies[f"delivered.{d}"].as_dict()
                            for d in self.destinations}
        out["suppressed"] = {c: self.tallies[f"suppressed.{c}"].as_dict()
                             for c in SUPPRESSION_CLASSES}
        out["failed"] = self.tallies["failed"].as_dict()
        out["pending"] = self.tallies["pending"].as_dict()
        return out


def _amount(value: float | None) -> Decimal | None:
    # repr() is the shortest text that reads back as the same float: 0.1 + 0.2 sums to 0.3.
    return Decimal(repr(value)) if value is not None else None


def pixel_fired(facts: OrderFacts) -> bool:
    return SEEN_BY_BROWSER in facts.flags and PIXEL_ABSENT not in facts.flags


def suppression_class(status: str, reason: str | None) -> str | None:
    """The class of a row not sent on purpose, or None for a row that was (or may be) sent."""
    if status == Outcome.NOT_APPLICABLE:
        return "not_applicable"
    if status != Outcome.SUPPRESSED:
        return None
    found = reason_class(reason)
    if found is Reason.CONSENT:
        return "consent"
    if found is Reason.NOT_APPLICABLE:
        return "not_applicable"
    return "policy"


def labels(facts: OrderFacts) -> set[str]:
    """The numbers ``facts`` counts in: ``orders``, ``pixel_fired`` or ``pixel_missed``,
    ``recovered``, ``delivered`` and ``delivered.<destination>``, ``suppressed`` and
    ``suppressed.<class>``, ``failed``, ``pending``."""
    found = {"orders", "pixel_fired" if pixel_fired(facts) else "pixel_missed"}
    for row in facts.rows:
        if row.status == Outcome.DELIVERED:
            found.update(("delivered", f"delivered.{row.destination}"))
            if row.destination == META and "pixel_missed" in found:
                found.add("recovered")
        elif row.status in (Outcome.DEAD, Outcome.EXPIRED):
            found.add("failed")
        elif row.status in (Outcome.PENDING, Outcome.HELD):
            found.add("pending")
        else:
            kind = suppression_class(row.status, row.reason)
            if kind is not None:
                found.update(("suppressed", f"suppressed.{kind}"))
    return found


def day_of(event_time: int) -> date:
    return date(1970, 1, 1) + timedelta(days=event_time // _DAY_S)


def reconciliation(store: Store, span: Period, *, shop: str = DEFAULT_SHOP) -> dict[str, Any]:
    """The report of ``shop`` over ``span``: the numbers in total and per day (every day of
    the period, in order, zeros included); the exact shape is in docs/api.md."""
    orders = store.orders(span.start, span.end, shop=shop)
    destinations = sorted({row.destination for facts in orders for row in facts.rows})
    total = Figures(destinations)
    days = {day: Figures(destinations) for day in span.days()}
    for facts in orders:
        found, amount = labels(facts), _amount(facts.value)
        total.add(facts, found, amount)
        days[day_of(facts.event_time)].add(facts, found, amount)
    return {
        "shop": shop, "since": span.since.isoformat(), "until": span.until.isoformat(),
        "timezone": "UTC", "destinations": destinations, **total.as_dict(),
        "days": [{"date": day.isoformat(), **figures.as_dict()} for day, figures in days.items()],
    }


def check_filter(name: str | None) -> str:
    """``name`` as an order-list filter (None: every order), or ReportError naming it."""
    if name in (None, ""):
        return "orders"
    assert name is not None
    head, _, part = name.partition(".")
    if head not in FILTERS or (part and head not in ("delivered", "suppressed")) or (
            head == "suppressed" and part and part not in SUPPRESSION_CLASSES):
        raise ReportError("filter", "must be one of " + ", ".join(FILTERS)
                          + " (or delivered.<destination>, suppressed.<class>)")
    return name


def encode_cursor(facts: OrderFacts) -> str:
    return f"{facts.event_time}.{facts.ref}"


def decode_cursor(text: str | None) -> tuple[int, int] | None:
    if text in (None, ""):
        return None
    assert text is not None
    match = _CURSOR.fullmatch(text)
    if match is None:
        raise ReportError("cursor", "is not a cursor this report returned (next_cursor)")
    return int(match[1]), int(match[2])


def check_limit(value: int | str | None) -> int:
    if value in (None, ""):
        return DEFAULT_PAGE
    if isinstance(value, str) and not value.isdigit():
        raise ReportError("limit", f"must be a whole number from 1 to {MAX_PAGE}")
    number = int(value)
    if not 1 <= number <= MAX_PAGE:
        raise ReportError("limit", f"must be a whole number from 1 to {MAX_PAGE}")
    return number


def _scan(store: Store, span: Period, shop: str,
          after: tuple[int, int] | None) -> Iterator[OrderFacts]:
    while True:
        chunk = store.orders(span.start, span.end, shop=shop, after=after, limit=_SCAN_CHUNK)
        yield from chunk
        if len(chunk) < _SCAN_CHUNK:
            return
        after = (chunk[-1].event_time, chunk[-1].ref)


def order_list(store: Store, span: Period, *, shop: str = DEFAULT_SHOP,
               filter_name: str | None = None, cursor: str | None = None,
               limit: int = DEFAULT_PAGE) -> dict[str, Any]:
    """The orders behind one number, by order time (then the store's order: stable), a page
    at a time: ``{"filter", "orders": [...], "next_cursor"}``; ``next_cursor`` (None on the
    last page) continues the list. Parameters are checked (ReportError names the bad one)."""
    chosen = check_filter(filter_name)
    after = decode_cursor(cursor)
    page: list[dict[str, Any]] = []
    last: OrderFacts | None = None
    more = False
    for facts in _scan(store, span, shop, after):
        found = labels(facts)
        if chosen not in found:
            continue
        if len(page) == limit:
            more = True
            break
        page.append(order_entry(facts, found))
        last = facts
    return {"shop": shop, "since": span.since.isoformat(), "until": span.until.isoformat(),
            "filter": chosen, "orders": page,
            "next_cursor": encode_cursor(last) if more and last is not None else None}


def order_entry(facts: OrderFacts, found: set[str]) -> dict[str, Any]:
    """One order of the list: its id, time, value, whether the pixel fired, each
    destination's status (and the reason of a row not sent on purpose), and the numbers it
    counts in."""
    return {
        "event_id": facts.event_id,
        "order_time": datetime.fromtimestamp(facts.event_time, UTC).isoformat().replace(
            "+00:00", "Z"),
        "date": day_of(facts.event_time).isoformat(),
        "value": facts.value, "currency": facts.currency,
        "pixel_fired": "pixel_fired" in found,
        "destinations": {row.destination: {"status": row.status, "reason": row.reason}
                         for row in facts.rows},
        "counted_in": sorted(found),
    }
