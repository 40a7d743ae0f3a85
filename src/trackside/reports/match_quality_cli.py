"""`trackside match-quality`: the match-quality report (reports/match_quality.py) on the command
line, as a table or as the JSON of GET /v1/reports/match-quality."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer
from rich.console import Console

from trackside.errors import ConfigError
from trackside.quality import MATCH_KEYS
from trackside.reports.match_quality import MatchQuality, PeriodError, match_quality, parse_period
from trackside.runtime import Runtime
from trackside.shops import Shops, load_shops
from trackside.store import StoreError
from trackside.terminal import safe

out = Console(markup=False, highlight=False, soft_wrap=True)
err = Console(stderr=True, markup=False, highlight=False, soft_wrap=True)

#: Table columns: the keys shoppers' data usually carries first, short headers.
_COLUMNS = {"em": "em", "ph": "ph", "fn": "fn", "ln": "ln", "ct": "ct", "st": "st", "zp": "zp",
            "country": "country", "db": "db", "ge": "ge", "external_id": "ext_id", "fbp": "fbp",
            "fbc": "fbc", "client_ip_address": "ip", "client_user_agent": "ua"}
assert tuple(_COLUMNS) == MATCH_KEYS


def match_quality_command(
    since: Annotated[str, typer.Option("--since", metavar="YYYY-MM-DD",
                                       help="First day (UTC) or ISO-8601 time, included.")],
    until: Annotated[str | None, typer.Option("--until", metavar="YYYY-MM-DD",
                                              help="Last day (UTC), included; default: now.")]
    = None,
    output: Annotated[str, typer.Option("--format", metavar="table|json",
                                        help="table (default) or json (the API's shape).")]
    = "table",
    shop: Annotated[str | None, typer.Option("--shop", metavar="NAME",
                                             help="The shop; default: the only one.")] = None,
) -> None:
    """Match quality per event name: the share of events carrying each match key, trackside's
    0-10 estimate, and Meta's Event Match Quality beside it when it was fetched."""
    if output not in ("table", "json"):
        raise typer.BadParameter("must be table or json", param_hint="--format")
    try:
        start, end = parse_period(since, until, time.time())
    except PeriodError as exc:
        raise typer.BadParameter(exc.reason, param_hint=f"--{exc.field}") from None
    try:
        chosen = load_shops().pick(shop)
        runtime = Runtime.from_shops(Shops([chosen]))
    except ConfigError as exc:
        err.print(f"configuration error: {safe(exc)}", style="red")
        raise typer.Exit(2) from None
    except StoreError as exc:
        err.print(f"cannot open the store (TRACKSIDE_DATABASE_URL): {safe(exc)}", style="red")
        raise typer.Exit(2) from None
    try:
        report = match_quality(runtime.store, start, end, shop=chosen.name)
    finally:
        runtime.close()
    if output == "json":
        out.print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        return
    _print_table(report)


def _percent(share: float) -> str:
    return f"{share * 100:.0f}%"


def _print_table(report: MatchQuality) -> None:
    body = report.as_dict()
    out.print(f"match quality {body['since']} to {body['until']}")
    if not report.events:
        out.print("no events in this period")
    else:
        # Plain columns (no box drawing): 19 of them, copied into tickets and spreadsheets.
        width = max(5, *(len(safe(event.event_name)) for event in report.events))
        headers = ["event".ljust(width), f"{'count':>7}",
                   *(f"{header:>7}" for header in _COLUMNS.values()),
                   f"{'estimate':>8}", f"{'Meta EMQ':>8}"]
        out.print(" ".join(headers))
        for event in report.events:
            meta = "-" if event.meta is None or event.meta.composite_score is None \
                else f"{event.meta.composite_score:.1f}"
            cells = [safe(event.event_name).ljust(width), f"{event.count:>7}",
                     *(f"{_percent(event.keys[key]):>7}" for key in _COLUMNS),
                     f"{event.estimate:>8.1f}", f"{meta:>8}"]
            out.print(" ".join(cells))
    status = body["meta_status"]
    if status is None:
        out.print("Meta's figures: not fetched (no Meta credentials, or not yet: hourly)")
    elif status["error"]:
        out.print(f"Meta's figures: last fetch failed: {safe(status['error'])}")
    else:
        out.print(f"Meta's figures: fetched {status['fetched_at']}")
    out.print("estimate: trackside's own, from the keys sent; Meta publishes no weights")
