"""``trackside reconcile``: the reconciliation report (reports/reconciliation.py) of one shop,
as a table, CSV or JSON; ``--orders FILTER`` lists the orders behind one of its numbers."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from trackside.errors import ReportError
from trackside.reports import reconciliation
from trackside.reports.render import FORMATS, as_csv, as_json, as_table
from trackside.terminal import safe


def _format(value: str) -> str:
    if value not in FORMATS:
        raise typer.BadParameter(f"must be one of {', '.join(FORMATS)}", param_hint="--format")
    return value


def reconcile(
    since: Annotated[str, typer.Option("--since", metavar="YYYY-MM-DD",
                                       help="The period's first day (UTC).")],
    until: Annotated[str | None, typer.Option(
        "--until", metavar="YYYY-MM-DD",
        help="The period's last day, included (UTC). Default: today.")] = None,
    output: Annotated[str, typer.Option(
        "--format", metavar="table|csv|json", callback=_format,
        help="table (counts per day, values in total), csv or json (everything).")] = "table",
    orders: Annotated[str | None, typer.Option(
        "--orders", metavar="FILTER",
        help="List the orders behind one number instead: orders, pixel_fired, pixel_missed, "
             "recovered, delivered[.DESTINATION], suppressed[.consent|.policy|"
             ".not_applicable], failed, pending.")] = None,
    shop: Annotated[str | None, typer.Option(
        "--shop", metavar="NAME",
        help="The shop (its shops.NAME table in TRACKSIDE_CONFIG). Default: the only shop; "
             "required when several are configured.")] = None,
) -> None:
    """The teardown: the store's orders of a period against the Meta pixel, and what
    trackside delivered, per day and in total (definitions: docs/reports.md)."""
    from trackside.cli import _runtime, _shop  # cli.py registers this command at import

    try:
        span = reconciliation.period(since, until)
        if orders is not None:
            reconciliation.check_filter(orders)
    except ReportError as exc:
        raise typer.BadParameter(exc.reason, param_hint=f"--{exc.field}") from None
    runtime = _runtime(_shop(shop))
    try:
        if orders is None:
            report = reconciliation.reconciliation(runtime.store, span, shop=runtime.shop_name)
            text = {"json": as_json, "csv": as_csv, "table": as_table}[output](report)
        else:
            text = _order_list(runtime, span, orders, output)
    finally:
        runtime.close()
    typer.echo(text, nl=False)


def _order_list(runtime: Any, span: reconciliation.Period, name: str, output: str) -> str:
    listed: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = reconciliation.order_list(runtime.store, span, shop=runtime.shop_name,
                                         filter_name=name, cursor=cursor,
                                         limit=reconciliation.MAX_PAGE)
        listed += page["orders"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    if output == "json":
        return json.dumps({"filter": name, "orders": listed}, indent=2, ensure_ascii=False) + "\n"
    rows = [[safe(o["event_id"]), o["order_time"], "" if o["value"] is None else str(o["value"]),
             o["currency"] or "", "yes" if o["pixel_fired"] else "no",
             " ".join(f"{safe(d)}={s['status']}" for d, s in o["destinations"].items())]
            for o in listed]
    head = ["event_id", "order_time", "value", "currency", "pixel_fired", "destinations"]
    if output == "csv":
        import csv
        import io

        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerows([head, *rows])
        return out.getvalue()
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in [head, *rows]]
    return "\n".join([*lines, f"{len(listed)} orders ({name})"]) + "\n"
