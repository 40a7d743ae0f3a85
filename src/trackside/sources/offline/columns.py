"""The documented header names of an offline-sales CSV, ``--map COLUMN=field``, the header check.

Header names are matched without regard to case or surrounding spaces. A column the file has
but no field reads is ignored (listed in the summary), so a till's export can be used as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from trackside.errors import TracksideError

#: The documented fields, in the order docs/offline-sales.md lists them.
FIELDS = (
    "receipt_id", "event_time", "value", "currency", "email", "phone", "first_name",
    "last_name", "city", "state", "zip", "country", "external_id", "item_number",
)  # fmt: skip
#: A row without one of these cannot be a sale Meta takes (Purchase: value and currency).
REQUIRED = ("receipt_id", "event_time", "value", "currency")


class ColumnsError(TracksideError):
    """The header or a ``--map`` cannot be used: nothing of the file is imported."""

    exit_code = 2


def parse_maps(maps: Sequence[str]) -> dict[str, str]:
    """``["Ticket=receipt_id", …]`` → ``{"Ticket": "receipt_id"}`` (matched without case)."""
    renames: dict[str, str] = {}
    for entry in maps:
        column, equals, field = entry.partition("=")
        column, field = column.strip(), field.strip().lower()
        if not equals or not column or not field:
            raise ColumnsError(f"--map {entry!r}: write COLUMN=field, e.g. Ticket=receipt_id")
        if field not in FIELDS:
            raise ColumnsError(f"--map {entry!r}: {field!r} is not a field; the fields are "
                               + ", ".join(FIELDS))
        if column.lower() in {name.lower() for name in renames}:
            raise ColumnsError(f"--map {entry!r}: column {column!r} is mapped twice")
        renames[column] = field
    return renames


@dataclass(frozen=True)
class Columns:
    """Which position of a row holds which field, and the file's own name for it."""

    #: field → (position in the row, the column's name as the file writes it)
    positions: dict[str, tuple[int, str]]
    #: Columns of the file no field reads.
    ignored: tuple[str, ...]
    width: int

    def name_of(self, field: str) -> str:
        """The file's column for ``field`` (what an error names)."""
        entry = self.positions.get(field)
        return entry[1] if entry else field


def resolve(header: Sequence[str], renames: dict[str, str]) -> Columns:
    """The columns of ``header``; a missing required field or a field read twice is an error."""
    folded_renames = {column.lower(): field for column, field in renames.items()}
    positions: dict[str, tuple[int, str]] = {}
    ignored: list[str] = []
    for position, raw_name in enumerate(header):
        name = raw_name.strip()
        folded = name.lower()
        field = folded_renames.get(folded) or (folded if folded in FIELDS else None)
        if field is None:
            ignored.append(name)
            continue
        if field in positions:
            raise ColumnsError(f"the header has two columns for {field}: "
                               f"{positions[field][1]!r} and {name!r}")
        positions[field] = (position, name)
    present = {name.strip().lower() for name in header}
    unused = [column for column in renames if column.lower() not in present]
    if unused:
        raise ColumnsError("--map names columns the header does not have: "
                           + ", ".join(sorted(unused)))
    missing = [field for field in REQUIRED if field not in positions]
    if missing:
        raise ColumnsError("the header has no column for " + ", ".join(missing)
                           + " (rename one with --map COLUMN=field)")
    return Columns(positions, tuple(ignored), len(header))
