"""The reconciliation report as JSON, CSV and a text table (``trackside reconcile --format``).

All three hold the same numbers: JSON and CSV every count and value per day and in total; the
table every count and value in total and every count per day (values per day need CSV or
JSON: a table a person reads stays within a terminal's width).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from trackside.reports.reconciliation import COUNTED, SUPPRESSION_CLASSES

FORMATS = ("table", "csv", "json")


def as_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


def currencies(report: dict[str, Any]) -> list[str]:
    """Every currency of the period (the orders' values in total hold them all)."""
    return list(report["orders"]["value"])


def _numbers(figures: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(name, {"count", "value"}) of every number, in the report's order."""
    for name in COUNTED:
        yield name, figures[name]
    for destination, tally in figures["delivered"].items():
        yield f"delivered_{destination}", tally
    for kind in SUPPRESSION_CLASSES:
        yield f"suppressed_{kind}", figures["suppressed"][kind]
    yield "failed", figures["failed"]
    yield "pending", figures["pending"]


def _text(number: float | int | None) -> str:
    if number is None:
        return ""
    return str(number)


def as_csv(report: dict[str, Any]) -> str:
    """One row per day and a last row ``total``; per number a ``_count`` column and one
    ``_value_<currency>`` column per currency of the period (0 when none), and
    ``pixel_missed_share`` (empty without orders)."""
    money = currencies(report)
    header = ["date"]
    for name, _ in _numbers(report):
        header.append(f"{name}_count")
        if name == "pixel_missed":
            header.append("pixel_missed_share")
        header.extend(f"{name}_value_{currency}" for currency in money)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for label, figures in [*((d["date"], d) for d in report["days"]), ("total", report)]:
        row: list[str] = [label]
        for name, tally in _numbers(figures):
            row.append(str(tally["count"]))
            if name == "pixel_missed":
                row.append(_text(tally["share"]))
            row.extend(_text(tally["value"].get(currency, 0)) for currency in money)
        writer.writerow(row)
    return out.getvalue()


_LABELS = {
    "orders": "orders", "pixel_fired": "pixel fired", "pixel_missed": "pixel missed",
    "recovered": "recovered by CAPI", "failed": "failed", "pending": "pending",
}


def _label(name: str) -> str:
    if name.startswith("delivered_"):
        return f"delivered to {name.removeprefix('delivered_')}"
    if name.startswith("suppressed_"):
        return f"suppressed: {name.removeprefix('suppressed_').replace('_', ' ')}"
    return _LABELS[name]


def _share(share: float | None) -> str:
    return "-" if share is None else f"{share * 100:.1f}%"


def _grid(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                      for i, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip()
            for row in rows]


def as_table(report: dict[str, Any]) -> str:
    money = currencies(report)
    lines = [f"Reconciliation of shop {report['shop']}, {report['since']} to {report['until']}"
             f" (UTC days)", ""]
    totals = [["", "count", *(f"value {c}" for c in money), "share"]]
    for name, tally in _numbers(report):
        totals.append([_label(name), str(tally["count"]),
                       *(_text(tally["value"].get(c, 0)) for c in money),
                       _share(tally["share"]) if name == "pixel_missed" else ""])
    lines += _grid(totals)
    names = [name for name, _ in _numbers(report)]
    head = ["date", *(_short(name) for name in names[:3]), "missed %", *(
        _short(name) for name in names[3:])]
    per_day = [head]
    for label, figures in [*((d["date"], d) for d in report["days"]), ("total", report)]:
        counts = [str(tally["count"]) for _, tally in _numbers(figures)]
        per_day.append([label, *counts[:3], _share(figures["pixel_missed"]["share"]),
                        *counts[3:]])
    lines += ["", "Orders per day", *_grid(per_day)]
    return "\n".join(lines) + "\n"


def _short(name: str) -> str:
    short = {"pixel_fired": "fired", "pixel_missed": "missed", "suppressed_consent": "consent",
             "suppressed_policy": "policy", "suppressed_not_applicable": "n/a"}
    return short.get(name) or name.removeprefix("delivered_")
