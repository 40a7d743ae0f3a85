"""One CSV row → the canonical Purchase of an offline sale, or the row's errors.

The event id is ``offline:{receipt_id}`` (``:{item_number}`` when the row has one), so the same
file imported twice, or a run killed and started again, stores every sale once (the store's
dedup on (shop, event_name, event_id)). ``item_number`` also goes to Meta as
``custom_data.item_number``: Meta tells apart the events of one receipt by it
(https://developers.facebook.com/documentation/ads-commerce/conversions-api/offline-events).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from trackside.events import Event, FieldError, parse_event
from trackside.sources.offline.columns import Columns

OfflineActionSource = Literal["physical_store", "phone_call"]
ACTION_SOURCES: tuple[OfflineActionSource, ...] = ("physical_store", "phone_call")
SOURCE = "offline"
#: How far ahead of this clock a sale's time may be (clocks differ; Meta allows some skew).
FUTURE_SKEW_S = 600

#: Customer fields → the canonical event's user keys (same names).
_USER_FIELDS = ("email", "phone", "first_name", "last_name", "city", "state", "zip", "country",
                "external_id")
#: Where the model reports a field's error → the field.
_FIELD_OF_PATH = {
    "event_time": "event_time", "event_id": "receipt_id", "order.reference": "receipt_id",
    "order.value": "value", "order.currency": "currency",
    "custom_data.item_number": "item_number",
    **{f"user.{name}": name for name in _USER_FIELDS},
}  # fmt: skip


@dataclass(frozen=True)
class LineError:
    """Why one line of the file was not imported: its number, the column, the reason."""

    line: int
    field: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "reason": self.reason}

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.reason}"


def event_id_of(receipt_id: str, item_number: str | None) -> str:
    return f"offline:{receipt_id}:{item_number}" if item_number else f"offline:{receipt_id}"


def row_event(line: int, fields: Sequence[str], columns: Columns,
              action_source: OfflineActionSource, max_event_bytes: int,
              ) -> Event | list[LineError]:
    """The Purchase of the row on ``line``, or what is wrong with it (each field named as the
    file's header names it)."""
    if len(fields) != columns.width:
        return [LineError(line, "line", f"{len(fields)} values for the header's "
                                        f"{columns.width} columns")]
    values = {field: fields[position].strip()
              for field, (position, _) in columns.positions.items()}
    errors: list[LineError] = []

    def refuse(field: str, reason: str) -> None:
        errors.append(LineError(line, columns.name_of(field), reason))

    for field in ("receipt_id", "event_time", "value", "currency"):
        if not values.get(field):
            refuse(field, "is required")
    amount: float | None = None
    if values.get("value"):
        try:
            amount = float(values["value"])
        except ValueError:
            refuse("value", "must be a number such as 19.90 (a dot for decimals)")
        else:
            if not math.isfinite(amount) or amount < 0:
                refuse("value", "must be a finite amount, zero or more")
    if not any(values.get(field) for field in ("email", "phone", "external_id")) and not (
        values.get("first_name") and values.get("last_name")
    ):
        # Meta refuses an event without customer information (2804050: rule 29 in
        # destinations/meta/rules/events.py).
        refuse("email", "the sale names no customer: fill email, phone, external_id, or "
                        "first_name and last_name")
    if errors:
        return errors
    receipt_id = values["receipt_id"]
    item_number = values.get("item_number") or None
    raw: dict[str, Any] = {
        "event_name": "Purchase",
        "event_id": event_id_of(receipt_id, item_number),
        "event_time": values["event_time"],
        "action_source": action_source,
        "user": {field: values[field] for field in _USER_FIELDS if values.get(field)},
        "order": {"reference": receipt_id, "value": amount, "currency": values["currency"]},
    }
    if item_number:
        raw["custom_data"] = {"item_number": item_number}
    parsed = parse_event(raw, max_event_bytes=max_event_bytes)
    if isinstance(parsed, Event):
        if parsed.event_time > time.time() + FUTURE_SKEW_S:
            # A till's clock or a date typed by hand: future event times are refused (rule 13
            # in destinations/meta/rules/events.py, assumed: Meta documents no bound), and one
            # such event would fail the whole request it is sent in.
            return [LineError(line, columns.name_of("event_time"), "is in the future")]
        return parsed
    # receipt_id feeds both the event id and the order reference: one error, said once.
    return list(dict.fromkeys(_line_error(line, error, columns) for error in parsed))


def _line_error(line: int, error: FieldError, columns: Columns) -> LineError:
    field = _FIELD_OF_PATH.get(error.field)
    if field is None:  # a nested path (user.email[0]) or the whole event (its size)
        field = next((f for p, f in _FIELD_OF_PATH.items() if error.field.startswith(p)), None)
    return LineError(line, columns.name_of(field) if field else "line", error.reason)
