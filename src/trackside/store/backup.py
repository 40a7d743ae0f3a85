"""`trackside backup PATH`: a consistent copy of the SQLite store while `serve` runs.

SQLite's online backup API (``sqlite3.Connection.backup``, https://www.sqlite.org/backup.html)
copies the database page by page and restarts when another connection writes in between, so
the copy is one committed state of the store, never half a transaction, and the server keeps
accepting events meanwhile (WAL: its readers and writer are not blocked). The copy is written
to a temporary file beside PATH, fsynced, then renamed over it, and the folder fsynced: a
crash leaves either no backup or a whole one. A PostgreSQL store is backed up with pg_dump.

Restore is the reverse (docs/going-live.md): stop trackside, copy the file back over the
store's path (removing the store's ``-wal`` and ``-shm`` files), start trackside.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from trackside.errors import TracksideError
from trackside.store.opening import is_postgres_url

#: Pages copied per step: small steps let the server's writes in between.
PAGES_PER_STEP = 1024


class BackupError(TracksideError):
    """The backup cannot be made; the message says why and what to do (exit 2)."""

    exit_code = 2


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size_bytes: int
    events: int


def sqlite_file(database_url: str) -> Path:
    """The SQLite file of ``database_url`` (as SQLiteStore.from_url reads it), or BackupError."""
    if is_postgres_url(database_url):
        # The URL may hold a password: never repeated here.
        raise BackupError("the store is PostgreSQL (TRACKSIDE_DATABASE_URL): back it up with "
                          "pg_dump (for example `pg_dump --format=custom --file=trackside.dump "
                          "DBNAME`) and restore with pg_restore; `trackside backup` copies a "
                          "SQLite store")
    if not database_url.startswith("sqlite://"):
        raise BackupError("TRACKSIDE_DATABASE_URL: must start with sqlite:/// or postgresql://")
    path = database_url[len("sqlite://"):]
    if path.startswith("/"):
        path = path[1:]
    if path == ":memory:":
        raise BackupError("the store is in memory (sqlite:///:memory:): nothing to back up")
    return Path(path or "trackside.db")


def backup_sqlite(database_url: str, target: Path, *, force: bool = False) -> BackupResult:
    """Copy the store of ``database_url`` to ``target`` (see the module's docstring)."""
    source_path = sqlite_file(database_url)
    if not source_path.is_file():
        raise BackupError(f"no store at {source_path} (TRACKSIDE_DATABASE_URL): nothing to "
                          "back up")
    target = target.expanduser()
    if target.is_dir():
        raise BackupError(f"{target} is a folder: give the backup file's path, such as "
                          f"{target / 'trackside-backup.db'}")
    if target.exists() and not force:
        raise BackupError(f"{target} exists: pass --force to overwrite it")
    if target.resolve() == source_path.resolve():
        raise BackupError(f"{target} is the store itself: back it up to another file")
    if not target.parent.is_dir():
        raise BackupError(f"the folder {target.parent} does not exist")
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    try:
        _copy(source_path, partial)
        events = _count_events(partial)
        os.replace(partial, target)
        _fsync_folder(target.parent)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot back up {source_path}: {exc}") from None
    except OSError as exc:
        raise BackupError(f"cannot write {target}: {exc.strerror or exc}") from None
    finally:
        partial.unlink(missing_ok=True)
    return BackupResult(target, target.stat().st_size, events)


def _copy(source_path: Path, partial: Path) -> None:
    # Read-only: a backup never creates, migrates or changes the store.
    source = sqlite3.connect(f"{source_path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy, pages=PAGES_PER_STEP)
            # A self-contained file: restored alone, without -wal beside it.
            copy.execute("PRAGMA journal_mode=DELETE")
        finally:
            copy.close()
    finally:
        source.close()
    with open(partial, "rb+") as written:
        os.fsync(written.fileno())


def _count_events(path: Path) -> int:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        (count,) = conn.execute("SELECT count(*) FROM events").fetchone()
        return int(count)
    except sqlite3.OperationalError:  # a store with no schema yet
        return 0
    finally:
        conn.close()


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
