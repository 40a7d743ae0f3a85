"""``trackside import leads FILE.csv``: a CRM's lead stages into the store (registered in the
``import`` group by sources/imports.py).

Each line is one stage of one Meta lead, sent as a CRM event (trackside/crm.py) with the id
``lead:{lead_id}:{stage}``: the same stage imported twice counts once, so the file can be
exported and imported again every day. Per-line errors and the summary on stdout; exit 0 when
every line was queued or already there, 1 when some were rejected, 2 when the file or the
configuration cannot be used at all.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Annotated, Any

import typer
from rich.console import Console

from trackside.config import ConfigError
from trackside.runtime import Runtime
from trackside.shops import Shops, load_shops
from trackside.sources.leads.rows import (
    COLUMNS,
    LeadsFileError,
    line_errors,
    read_header,
    row_event,
)
from trackside.sources.offline.importer import ImportSummary
from trackside.terminal import safe

out = Console(markup=False, highlight=False, soft_wrap=True)
err = Console(stderr=True, markup=False, highlight=False, soft_wrap=True)

#: Lines per store transaction (one fsync per batch, never one per line).
BATCH_LINES = 500
#: The source name the events are stored under.
SOURCE = "leads"


def import_leads(
    file: Annotated[str, typer.Argument(metavar="FILE.csv", help="The CSV file (UTF-8, a "
                                        "header line: " + ", ".join(COLUMNS) + ").")],
    shop: Annotated[
        str | None,
        typer.Option("--shop", metavar="NAME",
                     help="The shop ([shops.NAME] in TRACKSIDE_CONFIG). Default: the only "
                          "shop; required when several are configured."),
    ] = None,
    crm: Annotated[
        str | None,
        typer.Option("--crm", metavar="NAME",
                     help="The CRM's name (Meta's lead_event_source) for lines without a crm "
                          "column. Default: TRACKSIDE_CRM_NAME."),
    ] = None,
) -> None:
    """Import CRM lead stages (Meta's Conversion Leads) from a CSV file: one event per line,
    named by its stage, event id lead:{lead_id}:{stage}; running it again adds nothing."""
    try:
        runtime = Runtime.from_shops(Shops([load_shops().pick(shop)]))
    except ConfigError as exc:
        err.print(f"configuration error: {safe(exc)}")
        raise typer.Exit(2) from None
    try:
        summary = import_rows(file, runtime, crm or runtime.settings.crm_name)
    except LeadsFileError as exc:
        err.print(f"{safe(file)}: {safe(exc)}")
        raise typer.Exit(2) from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        err.print(f"cannot read {safe(file)}: {safe(getattr(exc, 'strerror', None) or exc)}")
        raise typer.Exit(2) from None
    finally:
        runtime.close()
    for error in summary.errors:
        out.print(safe(str(error)))
    if summary.errors_not_listed:
        out.print(f"… and {summary.errors_not_listed} more errors")
    if summary.ignored_columns:
        out.print("columns ignored: " + safe(", ".join(summary.ignored_columns)))
    out.print(f"{summary.rows} rows: {summary.queued} queued, {summary.duplicate} duplicate, "
              f"{summary.rejected} rejected")
    if summary.rejected:
        raise typer.Exit(1)


def import_rows(path: str, runtime: Runtime, crm_name: str | None) -> ImportSummary:
    summary = ImportSummary()
    with open(path, encoding="utf-8-sig", newline="") as handle:
        lines = _numbered(csv.reader(handle))
        first = next(lines, None)
        if first is None:
            raise LeadsFileError("the file is empty: it needs a header line and rows")
        header = read_header(first[1])
        summary.ignored_columns = header.ignored
        batch: list[tuple[int, dict[str, Any]]] = []
        for line, row in lines:
            if not any(cell.strip() for cell in row):
                continue
            summary.rows += 1
            event = row_event(line, row, header, crm_name)
            if isinstance(event, list):
                summary.refuse(event)
                continue
            batch.append((line, event))
            if len(batch) >= BATCH_LINES:
                _accept(batch, runtime, summary)
                batch = []
        _accept(batch, runtime, summary)
    return summary


def _numbered(reader: Any) -> Iterator[tuple[int, list[str]]]:
    for row in reader:
        yield reader.line_num, row


def _accept(batch: list[tuple[int, dict[str, Any]]], runtime: Runtime,
            summary: ImportSummary) -> None:
    if not batch:
        return
    results = runtime.pipeline.accept([event for _, event in batch], SOURCE)
    for (line, _), result in zip(batch, results, strict=True):
        if result.status == "queued":
            summary.queued += 1
        elif result.status == "duplicate":
            summary.duplicate += 1
        else:
            summary.refuse(list(line_errors(line, result.errors)))
