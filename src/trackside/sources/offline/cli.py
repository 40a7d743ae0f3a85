"""``trackside import offline FILE.csv``: offline sales into the store (sources/imports.py
registers it in the ``import`` group).

A bar on a terminal (stderr), a plain line per batch otherwise (logs, CI); per-line errors
and the summary on stdout. Exit 0 when every row was queued or already there, 1 when some
rows were rejected, 2 when the file or the configuration cannot be used at all.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from trackside.config import ConfigError
from trackside.runtime import Runtime
from trackside.shops import Shops, load_shops
from trackside.sources.offline.columns import FIELDS, ColumnsError, parse_maps
from trackside.sources.offline.importer import (
    ImportSummary,
    OfflineImport,
    file_chunks,
    import_file,
)
from trackside.sources.offline.mapping import ACTION_SOURCES, OfflineActionSource
from trackside.terminal import safe

out = Console(markup=False, highlight=False, soft_wrap=True)
err = Console(stderr=True, markup=False, highlight=False, soft_wrap=True)


def import_offline(
    file: Annotated[str, typer.Argument(metavar="FILE.csv", help="The CSV file (UTF-8, a "
                                        "header line: " + ", ".join(FIELDS) + ").")],
    shop: Annotated[
        str | None,
        typer.Option("--shop", metavar="NAME",
                     help="The shop ([shops.NAME] in TRACKSIDE_CONFIG). Default: the only "
                          "shop; required when several are configured."),
    ] = None,
    action_source: Annotated[
        str, typer.Option("--action-source", metavar="|".join(ACTION_SOURCES),
                          help="Where the sales happened: physical_store (in a shop; Meta takes "
                               "them up to 62 days old) or phone_call (7 days).")
    ] = "physical_store",
    maps: Annotated[
        list[str] | None,
        typer.Option("--map", metavar="COLUMN=field",
                     help="Read a field from a column of another name (repeatable), e.g. "
                          "--map Ticket=receipt_id."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check every line and store nothing.")
    ] = False,
) -> None:
    """Import offline sales (in-store, phone) from a CSV file: one Purchase per line, event id
    offline:{receipt_id}[:{item_number}]; running it again adds nothing."""
    if action_source not in ACTION_SOURCES:
        raise typer.BadParameter(f"{action_source!r}: use physical_store or phone_call",
                                 param_hint="--action-source")
    chosen: OfflineActionSource = "phone_call" if action_source == "phone_call" \
        else "physical_store"
    try:
        renames = parse_maps(maps or [])
        size = os.path.getsize(file)
    except ColumnsError as exc:
        raise typer.BadParameter(str(exc), param_hint="--map") from None
    except OSError as exc:
        err.print(f"cannot read {safe(file)}: {safe(exc.strerror or exc)}")
        raise typer.Exit(2) from None
    try:
        picked = load_shops().pick(shop)
        runtime = Runtime.from_shops(Shops([picked]))
    except ConfigError as exc:
        err.print(f"configuration error: {safe(exc)}")
        raise typer.Exit(2) from None
    job = OfflineImport(renames, chosen, runtime.settings.max_event_bytes, dry_run=dry_run)
    try:
        summary = _run(file, size, job, runtime)
    except ColumnsError as exc:
        err.print(f"{safe(file)}: {safe(exc)}")
        raise typer.Exit(2) from None
    except OSError as exc:
        err.print(f"cannot read {safe(file)}: {safe(exc.strerror or exc)}")
        raise typer.Exit(2) from None
    finally:
        runtime.close()
    _print(summary)
    if summary.rejected:
        raise typer.Exit(1)


def _run(file: str, size: int, job: OfflineImport, runtime: Runtime) -> ImportSummary:
    chunks = file_chunks(file)
    if err.is_terminal:
        with Progress(TextColumn("importing"), BarColumn(), TaskProgressColumn(),
                      TextColumn("{task.fields[counts]}"), TimeRemainingColumn(),
                      console=err, transient=True) as bar:
            task = bar.add_task("import", total=size or None, counts="")

            def draw(read: int, summary: ImportSummary) -> None:
                bar.update(task, completed=read, counts=_counts(summary))

            return import_file(chunks, job, runtime.pipeline, draw)

    def line(read: int, summary: ImportSummary) -> None:
        # Not a terminal: one plain line per batch, flushed, for logs and for whoever waits.
        err.print(f"{summary.rows} rows read ({read:,} of {size:,} bytes): {_counts(summary)}")
        err.file.flush()

    return import_file(chunks, job, runtime.pipeline, line)


def _counts(summary: ImportSummary) -> str:
    first = "would queue" if summary.dry_run else "queued"
    return (f"{summary.queued} {first}, {summary.duplicate} duplicate, "
            f"{summary.rejected} rejected")


def _print(summary: ImportSummary) -> None:
    for error in summary.errors:
        out.print(safe(str(error)))
    if summary.errors_not_listed:
        out.print(f"… and {summary.errors_not_listed} more errors")
    if summary.ignored_columns:
        out.print("columns ignored: " + safe(", ".join(summary.ignored_columns)))
    dry = " (dry run: nothing stored)" if summary.dry_run else ""
    out.print(f"{summary.rows} rows: {_counts(summary)}{dry}")
