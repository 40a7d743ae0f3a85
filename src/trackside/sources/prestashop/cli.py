"""``trackside prestashop sync``, ``trackside prestashop backfill --since DATE`` and
``trackside prestashop module --out trackside.zip`` (the module for the Back Office).

Registered by cli.py as ``app.add_typer(prestashop_app, name="prestashop")``. Both commands
only put events in the store; ``trackside serve`` or ``trackside worker`` delivers them, or pass
``--deliver`` to deliver before exiting. Orders older than a destination's window (Meta 7 days,
GA4 72 hours) are recorded ``expired`` for that destination by the worker, never dropped.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from trackside.config import ConfigError
from trackside.runtime import Runtime
from trackside.shops import Shops, load_shops
from trackside.sources.prestashop.module_zip import build_module_zip
from trackside.sources.prestashop.records import PrestaShopError
from trackside.sources.prestashop.sync import PrestaShopSync, SyncReport, open_reader
from trackside.terminal import safe

app = typer.Typer(help="Read orders from a PrestaShop shop (database or webservice); build "
                       "the PrestaShop module.",
                  no_args_is_help=True, rich_markup_mode=None)  # plain help: see cli.py
out = Console()
err = Console(stderr=True)


#: The --shop option (the same as the other commands': cli.ShopOption).
ShopOption = Annotated[
    str | None,
    typer.Option("--shop", metavar="NAME",
                 help="The shop ([shops.NAME] in TRACKSIDE_CONFIG) whose PrestaShop to read. "
                      "Default: the only shop; required when several are configured."),
]


def _open(shop_name: str | None) -> tuple[Runtime, PrestaShopSync]:
    try:
        shop = load_shops().pick(shop_name)
        settings = shop.settings
    except ConfigError as exc:
        err.print(f"[red]configuration error:[/red] {_shown(exc)}", highlight=False)
        raise typer.Exit(2) from None
    try:
        reader = open_reader(settings)
    except PrestaShopError as exc:
        err.print(f"[red]PrestaShop:[/red] {_shown(exc)}", highlight=False)
        raise typer.Exit(2) from None
    try:
        runtime = Runtime.from_shops(Shops([shop]))
    except Exception as exc:
        reader.close()
        err.print(f"[red]cannot open the store[/red] (TRACKSIDE_DATABASE_URL): {_shown(exc)}",
                  highlight=False)
        raise typer.Exit(2) from None
    return runtime, PrestaShopSync(runtime, reader)


def _run(action: str, since: datetime | None, deliver: bool, shop: str | None) -> None:
    runtime, sync = _open(shop)
    try:
        with Progress(TextColumn(f"{action} state changes"), BarColumn(), TaskProgressColumn(),
                      TimeRemainingColumn(), console=err, transient=True) as bar:
            task = bar.add_task(action, total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            if since is None:
                report = sync.sync_once(progress=progress)
            else:
                report = sync.backfill(since, progress=progress)
        _print(report)
        if deliver:
            handled = asyncio.run(_drain(runtime))
            out.print(f"delivered or finished {handled} outbox rows")
    except PrestaShopError as exc:
        err.print(f"[red]PrestaShop ({_shown(sync.reader.description)}):[/red] {_shown(exc)}",
                  highlight=False)
        raise typer.Exit(1) from None
    finally:
        sync.close()
        runtime.close()


def _shown(value: object) -> str:
    # A shop's answer is remote text: no control characters, and no [markup] of its own.
    return escape(safe(value))


async def _drain(runtime: Runtime) -> int:
    async with runtime.worker() as worker:
        return await worker.drain(timeout_s=3600)


def _print(report: SyncReport) -> None:
    out.print(f"{report.state_changes} order state changes read; {report.queued} events queued "
              f"({report.refunds} refunds), {report.duplicates} already known, "
              f"{report.rejected} refused, {report.warnings} warnings recorded", highlight=False)
    if report.last_history_id is not None:
        out.print(f"cursor: order_history id {report.last_history_id}", highlight=False)


@app.command()
def sync(
    deliver: Annotated[
        bool, typer.Option("--deliver", help="Deliver what is due before exiting.")
    ] = False,
    shop: ShopOption = None,
) -> None:
    """Run one polling pass of a shop (--shop): read order state changes after the stored
    cursor."""
    _run("syncing", None, deliver, shop)


@app.command()
def backfill(
    since: Annotated[
        str, typer.Option("--since", help="First day to load, shop time (2026-11-01).")
    ],
    deliver: Annotated[
        bool, typer.Option("--deliver", help="Deliver what is due before exiting.")
    ] = False,
    shop: ShopOption = None,
) -> None:
    """Load past orders of a shop (--shop) paid or reversed since DATE. Older than a
    destination's window: expired."""
    try:
        start = datetime.fromisoformat(since)
    except ValueError:
        raise typer.BadParameter(f"{since!r} is not a date such as 2026-11-01",
                                 param_hint="--since") from None
    if start.tzinfo is not None:
        start = start.replace(tzinfo=None)  # PrestaShop stores shop-local wall time
    if start.date() > date.today():
        raise typer.BadParameter("is in the future", param_hint="--since")
    _run("loading", start, deliver, shop)


@app.command()
def module(
    out_path: Annotated[
        Path, typer.Option("--out", help="Where to write the zip (e.g. trackside.zip).",
                           dir_okay=False, writable=True)
    ] = Path("trackside.zip"),
) -> None:
    """Build the PrestaShop module zip (top folder trackside/) to upload in the Back Office:
    Modules > Module Manager > Upload a module."""
    try:
        names = build_module_zip(out_path)
    except OSError as exc:
        err.print(f"[red]cannot write {_shown(out_path)}:[/red] {_shown(exc)}", highlight=False)
        raise typer.Exit(1) from None
    out.print(f"wrote {_shown(out_path)}: {len(names)} files, module folder trackside/",
              highlight=False)
