"""``trackside doctor [--online]``: the effective configuration and what stops delivery.

Every finding is one line graded ``ok`` (as it should be), ``warn`` (works, but probably not
what you want) or ``fail`` (nothing, or not everything, is delivered until you act). The exit
code says the worst: 0 without failures, 1 with one, 2 when a setting is invalid (the
configuration cannot be loaded: a pixel id that is not digits, an origin with a path, …).

Without ``--online`` nothing leaves the machine but the store's reads. ``--online`` adds what
only the other side can answer (doctor_online.py): the store takes a write, Meta reads the
pixel with the token, GA4 validates a sample, PrestaShop returns an order, and with a test
event code a test event reaches Meta's Test Events. Registered from cli.py.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from trackside import __version__
from trackside.config import ConfigError, unknown_variable_problems
from trackside.destinations import registry
from trackside.destinations.spec import Level
from trackside.runtime import Runtime
from trackside.shops import Shop, Shops, load_shops
from trackside.store import StoreError
from trackside.terminal import safe

out = Console(markup=False, highlight=False, soft_wrap=True)
err = Console(stderr=True, markup=False, highlight=False, soft_wrap=True)

#: How each grade prints: the label (padded to one width) and its colour.
LABELS: dict[Level, tuple[str, str]] = {
    "ok": ("ok  ", "green"), "warn": ("warn", "yellow"), "fail": ("fail", "red"),
}

Finding = tuple[Level, str]


def doctor(
    online: Annotated[bool, typer.Option(
        "--online", help="Also ask the other side: a write to the store, Meta's pixel read "
                         "with the token, GA4's /debug/mp/collect, a PrestaShop order, and "
                         "with TRACKSIDE_META_TEST_EVENT_CODE a test event to Meta.")] = False,
) -> None:
    """Print the effective configuration (secrets masked) and what is missing to deliver, for
    each configured shop: ok, warn or fail per finding; exit 1 on a failure, 2 on an invalid
    setting."""
    try:
        shops = load_shops()
    except ConfigError as exc:
        err.print(f"configuration error: {safe(exc)}", style="red")
        raise typer.Exit(2) from None
    findings: list[Finding] = []
    for problem in unknown_variable_problems():
        findings.append(("warn", f"{problem}: it is ignored here, and `serve` and `worker` "
                                 "refuse to start with it"))
    for shop in shops:
        # One shop (environment-only configuration) reads as before: no shop name anywhere.
        prefix = f"shop {shop.name}: " if len(shops) > 1 else ""
        for level, message in shop_findings(shop, title_suffix=f" (shop {shop.name})"
                                            if prefix else "", online=online):
            findings.append((level, prefix + message))
    for grade in ("ok", "warn", "fail"):
        label, style = LABELS[grade]
        for level, message in findings:
            if level == grade:
                out.print(f"{label} {safe(message)}", style=style)
    if any(level == "fail" for level, _ in findings):
        raise typer.Exit(1)


def shop_findings(shop: Shop, title_suffix: str, *, online: bool) -> list[Finding]:
    """Print one shop's effective configuration; its findings."""
    settings = shop.settings
    table = Table(title=f"trackside {__version__}: effective configuration{title_suffix}",
                  show_lines=False)
    table.add_column("setting")
    table.add_column("value", overflow="fold")
    for key, value in settings.effective().items():
        table.add_row(key, safe(value))
    out.print(table)
    found: list[Finding] = []
    try:
        runtime: Runtime | None = Runtime.from_shops(Shops([shop]))
    except Exception as exc:  # noqa: BLE001 (any reason the store cannot open is the finding)
        found.append(("fail", f"store: cannot open the {settings.database_url.split('://')[0]} "
                              f"store: {exc}"))
        runtime = None

    # Each destination reports on itself (destinations/*/spec.py), in registry order.
    for spec in registry.specs():
        found += [(line.level, line.message) for line in spec.doctor(settings)]
    if settings.allowed_origins:
        found.append(("ok", "browser tag: /collect accepts beacons from "
                            f"{', '.join(settings.allowed_origins)} (TRACKSIDE_ALLOWED_ORIGINS)"))
    else:
        found.append(("warn", "browser tag: TRACKSIDE_ALLOWED_ORIGINS is empty: /collect only "
                              "accepts pages of the gateway's own host; a shop page on another "
                              "origin gets 403 (set it to https://your-shop.example)"))
    if not settings.api_keys:
        found.append(("warn", "API: TRACKSIDE_API_KEYS is empty: POST /v1/events and the "
                              "Graph-compatible endpoint refuse every request until you set at "
                              "least one key"))

    if runtime is not None:
        try:
            found += _paused(runtime, shop.name)
            if online:
                from trackside.doctor_online import online_findings

                found += online_findings(runtime, shop)
        finally:
            runtime.close()
    return found


def _paused(runtime: Runtime, shop: str) -> list[Finding]:
    found: list[Finding] = []
    try:
        states = runtime.store.destination_states(shop=shop)
    except StoreError as exc:
        return [("fail", f"store: cannot read destination states: {exc}")]
    for state in states:
        if state.paused_until is None:
            found.append(("fail", f"{state.destination}: paused until you act: {state.reason}"))
        elif state.paused_until > time.time():
            until = datetime.fromtimestamp(state.paused_until, UTC)
            found.append(("warn", f"{state.destination}: paused until "
                                  f"{until:%Y-%m-%d %H:%M:%S} UTC: {state.reason}"))
    return found
