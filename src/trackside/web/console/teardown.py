"""The teardown page: the reconciliation (trackside/reports/reconciliation.py) of one shop and
period as a chart and a table, the orders behind every number one click away, and its CSV
(reports/render.py: the same file `trackside reconcile --format csv` writes)."""

from __future__ import annotations

from typing import Any

from trackside.reports import reconciliation as recon
from trackside.reports import render
from trackside.store import Store
from trackside.web.console import svg, wording
from trackside.web.console.views import Period

#: The numbers' names for a shop owner, with the order-list filter behind each.
LABELS = {
    "orders": "Orders in the shop",
    "pixel_fired": "Seen by the Meta pixel",
    "pixel_missed": "Missed by the pixel alone",
    "recovered": "Missed by the pixel, sent by trackside",
    "failed": "Not delivered (refused or too old)",
    "pending": "Still waiting",
}
CHART_LABELS = {"orders": "orders", "pixel_fired": "pixel saw",
                "pixel_missed": "pixel missed", "recovered": "recovered"}
SUPPRESSED = {
    "consent": "Not sent: the shopper refused cookies",
    "policy": "Not sent: a shop setting",
    "not_applicable": "Not needed by the destination",
}


def _money(value: dict[str, float]) -> str:
    return ", ".join(f"{amount:g} {currency}" for currency, amount in value.items()) or "–"


def _rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for name in recon.COUNTED:
        rows.append({"label": LABELS[name], "filter": name, **report[name]})
    for destination, tally in report["delivered"].items():
        rows.append({"label": f"Delivered to {destination}", "filter": f"delivered.{destination}",
                     **tally})
    for kind, tally in report["suppressed"].items():
        rows.append({"label": SUPPRESSED[kind], "filter": f"suppressed.{kind}", **tally})
    for name in ("failed", "pending"):
        rows.append({"label": LABELS[name], "filter": name, **report[name]})
    for row in rows:
        row["money"] = _money(row["value"])
    return rows


def page(store: Store, shop: str, period: Period) -> dict[str, Any]:
    span = recon.period(period.since.isoformat(), period.until.isoformat())
    report = recon.reconciliation(store, span, shop=shop)
    share = report["pixel_missed"]["share"]
    days = report["days"]
    missed_kept = [day["pixel_missed"]["count"] - day["recovered"]["count"] for day in days]
    return {
        "report": report,
        "rows": _rows(report),
        "share": None if share is None else round(share * 100, 1),
        "chart": svg.bars([(CHART_LABELS[name], report[name]["count"])
                           for name in recon.COUNTED], "The teardown in numbers"),
        "daily_chart": svg.stacked_bars(
            [day["date"] for day in days],
            {"seen by the pixel": [day["pixel_fired"]["count"] for day in days],
             "missed, sent by trackside": [day["recovered"]["count"] for day in days],
             "missed, not sent": missed_kept},
            "Orders per day: seen by the pixel, recovered, missed"),
    }


def order_page(store: Store, shop: str, period: Period, filter_name: str | None,
               cursor: str | None) -> dict[str, Any]:
    span = recon.period(period.since.isoformat(), period.until.isoformat())
    listing = recon.order_list(store, span, shop=shop, filter_name=filter_name, cursor=cursor,
                               limit=50)
    orders = [{
        **order,
        "destinations": [{"name": name, "status": row["status"],
                          "owner_words": wording.outcome(row["status"], row["reason"]),
                          "reason": row["reason"]}
                         for name, row in order["destinations"].items()],
    } for order in listing["orders"]]
    label = filter_name or "orders"
    head, _, part = label.partition(".")
    title = (LABELS.get(label) or (f"Delivered to {part}" if head == "delivered" else
                                   SUPPRESSED.get(part, label)))
    return {"orders": orders, "next_cursor": listing["next_cursor"],
            "filter": listing["filter"], "title": title}


def csv_text(store: Store, shop: str, period: Period) -> str:
    span = recon.period(period.since.isoformat(), period.until.isoformat())
    return render.as_csv(recon.reconciliation(store, span, shop=shop))
