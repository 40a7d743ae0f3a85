"""The ``trackside migrate-store`` command: options, progress and the summary (move.py copies)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from trackside.config import mask_url_password
from trackside.store.move import DEFAULT_BATCH, CopySummary, MoveError, copy_store
from trackside.terminal import safe

out = Console(markup=False, highlight=False, soft_wrap=True)
err = Console(stderr=True, markup=False, highlight=False, soft_wrap=True)


def migrate_store(
    from_url: Annotated[str, typer.Option(
        "--from", metavar="SQLITE_URL",
        help="The SQLite store to copy, e.g. sqlite:///trackside.db (only read, never changed).")],
    to_url: Annotated[str, typer.Option(
        "--to", metavar="POSTGRESQL_URL",
        help="The PostgreSQL store to copy into, e.g. postgresql://user:pass@host/trackside "
             "(its schema is created or migrated first).")],
    append: Annotated[bool, typer.Option(
        "--append", help="Add to a target that already holds events of its own: they stay, "
                         "and an event it already has (same shop, name and id) is skipped "
                         "as a duplicate.")] = False,
    batch: Annotated[int, typer.Option(
        "--batch", metavar="N", help="Events per target transaction.")] = DEFAULT_BATCH,
) -> None:
    """Copy a SQLite store (events, outbox, attempts, notes, cursors, paused destinations)
    into PostgreSQL. Safe to interrupt: run the same command again and it continues where it
    stopped, copying nothing twice. Stop trackside on the SQLite file first (or run the
    command again at the end to copy what came in meanwhile), then point
    TRACKSIDE_DATABASE_URL at the target. See docs/migrate-store.md.
    """
    shown_to = mask_url_password(to_url)
    with Progress(TextColumn("copying events"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=out, disable=not out.is_terminal) as bar:
        task = bar.add_task("events", total=None)

        def progress(done: int, total: int) -> None:
            if out.is_terminal:
                bar.update(task, completed=done, total=total)
            else:
                out.print(f"copied {done}/{total} events")

        try:
            summary = copy_store(from_url, to_url, append=append, batch=batch,
                                 on_progress=progress)
        except MoveError as exc:
            err.print(f"migrate-store: {safe(exc)}", style="red")
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err.print("migrate-store: interrupted; the batches copied so far are kept. Run "
                      "the same command again to continue.", style="yellow")
            raise typer.Exit(130) from None
    _print_summary(summary, shown_to)


def _print_summary(summary: CopySummary, shown_to: str) -> None:
    if summary.resumed_after:
        out.print(f"continued a copy: {summary.resumed_after} events had been copied by an "
                  f"earlier run")
    if summary.already_finished and not summary.events_this_run:
        out.print("this source was already copied completely; nothing new to copy")
    for table, count in summary.counts.items():
        why = "duplicate" if table == "events" else "skipped"
        out.print(f"{table:18} {count.copied:>10} copied {count.skipped:>10} {why}")
    for warning in summary.warnings:
        err.print(f"warning: {safe(warning)}", style="yellow")
    out.print(f"Done. Next: set TRACKSIDE_DATABASE_URL={shown_to} (with its password) for "
              f"serve and worker, and restart them.")
