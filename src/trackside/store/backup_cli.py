"""The ``trackside backup PATH`` command (backup.py copies; registered in cli.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from trackside.config import ConfigError
from trackside.shops import load_shops
from trackside.store.backup import BackupError, backup_sqlite
from trackside.terminal import safe

out = Console(markup=False, highlight=False, soft_wrap=True)
err = Console(stderr=True, markup=False, highlight=False, soft_wrap=True)


def backup(
    path: Annotated[Path, typer.Argument(
        metavar="PATH", help="The backup file to write, e.g. /var/backups/trackside.db.")],
    force: Annotated[bool, typer.Option(
        "--force", help="Overwrite PATH if it exists.")] = False,
) -> None:
    """Copy the SQLite store (TRACKSIDE_DATABASE_URL) to PATH, consistent while `serve` runs
    (SQLite's online backup), fsynced; print its size and event count. Refuses to overwrite
    PATH without --force. A PostgreSQL store: use pg_dump (exit 2). Restore: stop trackside,
    remove the store's -wal and -shm files, copy the backup over the store, start trackside
    (docs/going-live.md)."""
    try:
        database_url = next(iter(load_shops())).settings.database_url
    except ConfigError as exc:
        err.print(f"configuration error: {safe(exc)}", style="red")
        raise typer.Exit(2) from None
    try:
        result = backup_sqlite(database_url, path, force=force)
    except BackupError as exc:
        err.print(f"backup: {safe(exc)}", style="red")
        raise typer.Exit(exc.exit_code) from None
    out.print(f"backed up {result.events} events ({result.size_bytes:,} bytes) to "
              f"{safe(result.path)}")
