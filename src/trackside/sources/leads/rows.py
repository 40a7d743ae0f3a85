"""The leads CSV: a header line, then one CRM stage of one lead per line.

Columns (case-insensitive; others are ignored and listed): ``lead_id`` and ``stage`` are
required; ``event_time`` (unix seconds or ISO 8601; empty: now), ``crm`` (the CRM's name, Meta's
``lead_event_source``; empty: ``--crm`` or TRACKSIDE_CRM_NAME), ``email``, ``phone``,
``first_name``, ``last_name``, ``value``, ``currency``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from trackside.sources.offline.mapping import LineError

REQUIRED = ("lead_id", "stage")
OPTIONAL = ("event_time", "crm", "email", "phone", "first_name", "last_name", "value",
            "currency")
COLUMNS = REQUIRED + OPTIONAL
_USER_COLUMNS = ("email", "phone", "first_name", "last_name")


class LeadsFileError(ValueError):
    """The file cannot be imported at all (no header, a required column missing)."""


@dataclass(frozen=True)
class Header:
    #: Column name → position in each row.
    positions: dict[str, int]
    ignored: tuple[str, ...]


def read_header(names: Sequence[str]) -> Header:
    positions: dict[str, int] = {}
    ignored = []
    for position, raw in enumerate(names):
        name = raw.strip().lower().lstrip("\ufeff")
        if name in COLUMNS and name not in positions:
            positions[name] = position
        else:
            ignored.append(raw.strip())
    missing = [name for name in REQUIRED if name not in positions]
    if missing:
        raise LeadsFileError(f"the header line has no {' and no '.join(missing)} column "
                             f"(columns: {', '.join(COLUMNS)})")
    return Header(positions, tuple(ignored))


def row_event(line: int, row: Sequence[str], header: Header,
              crm_name: str | None) -> dict[str, Any] | list[LineError]:
    """The raw event of one row, or the line's errors (the model's own checks follow in the
    pipeline: a lead id of 15-17 digits, the stage as an event name)."""
    def cell(name: str) -> str:
        position = header.positions.get(name)
        return row[position].strip() if position is not None and position < len(row) else ""

    errors = [LineError(line, name, "is required") for name in REQUIRED if not cell(name)]
    if errors:
        return errors
    user: dict[str, Any] = {"lead_id": cell("lead_id")}
    user.update({name: cell(name) for name in _USER_COLUMNS if cell(name)})
    event: dict[str, Any] = {"event_name": cell("stage"), "action_source": "system_generated",
                             "user": user, "custom_data": {}}
    if cell("event_time"):
        event["event_time"] = cell("event_time")
    crm = cell("crm") or crm_name
    if crm:
        event["custom_data"]["lead_event_source"] = crm
    if cell("value") or cell("currency"):
        event["order"] = {"value": cell("value") or None, "currency": cell("currency") or None}
    return event


#: The event's fields as the file's columns, in the pipeline's field errors.
_FIELD_COLUMNS = {"event_name": "stage", "custom_data.lead_event_source": "crm",
                  "order.value": "value", "order.currency": "currency"}


def line_errors(line: int, errors: Sequence[Any]) -> Iterator[LineError]:
    """The pipeline's field errors (``events[i].user.lead_id``) named by the file's columns."""
    for error in errors:
        path = str(error.field)
        field = path.split(".", 1)[1] if "." in path else "line"
        field = _FIELD_COLUMNS.get(field, field.removeprefix("user."))
        yield LineError(line, field, error.reason)
