"""The source side of ``trackside migrate-store``: a SQLite store read as one snapshot.

The file is opened read only (``mode=ro``: nothing of it is ever written, not even a
checkpoint) and every read of a run happens inside one read transaction, so the copy is the
store as it was when the run started, even if a trackside still writes to it (in WAL mode a
reader never blocks a writer nor sees its later commits). Rows come out as plain tuples with
their column names; the copy decides nothing here.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

from trackside.errors import TracksideError

#: The tables a copy reads, parents first.
EVENT_TABLES = ("events", "outbox", "attempts", "notes")
STATE_TABLES = ("cursors", "destination_state")


class MoveError(TracksideError):
    """migrate-store cannot go on: the message says what and what to do (exit 2)."""

    exit_code = 2


@dataclass
class Rows:
    columns: list[str]
    rows: list[tuple[Any, ...]]


def known_sqlite_versions() -> set[int]:
    """The SQLite schema versions this release knows (its migration files)."""
    folder = resources.files("trackside.store") / "migrations" / "sqlite"
    return {int(entry.name[:4]) for entry in folder.iterdir()
            if entry.name.endswith(".sql") and entry.name[:4].isdigit()}


def sqlite_path(url: str) -> str:
    """The file of a ``sqlite:///`` URL (as SQLiteStore.from_url reads it)."""
    if not url.startswith("sqlite://"):
        raise MoveError(f"--from: {url!r} is not a sqlite:/// URL (the source is a SQLite "
                        f"store, e.g. sqlite:///trackside.db)")
    path = url[len("sqlite://"):]
    if path.startswith("/"):
        path = path[1:]
    if not path or path == ":memory:":
        raise MoveError("--from: give the path of the SQLite file, e.g. sqlite:///trackside.db")
    return path


class SQLiteSnapshot:
    """A read-only, consistent view of a SQLite store for the length of one run."""

    def __init__(self, url: str) -> None:
        self.path = sqlite_path(url)
        if not Path(self.path).is_file():
            raise MoveError(f"--from: no SQLite file at {self.path}")
        uri = f"file:{quote(str(Path(self.path).resolve()))}?mode=ro"
        try:
            self._conn = sqlite3.connect(uri, uri=True, isolation_level=None,
                                         check_same_thread=False, timeout=10)
            self._conn.execute("BEGIN")  # the snapshot starts at the first read below
            self._check_schema()
        except sqlite3.Error as exc:
            self.close()
            raise MoveError(f"--from: cannot read {self.path}: {exc}") from None

    def close(self) -> None:
        conn: sqlite3.Connection | None = getattr(self, "_conn", None)
        if conn is not None:
            conn.close()
            del self._conn

    def _check_schema(self) -> None:
        tables = {row[0] for row in self._conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "schema_migrations" not in tables or "events" not in tables:
            raise MoveError(f"--from: {self.path} is not a trackside store (no events table)")
        applied = {row[0] for row in self._conn.execute("SELECT version FROM schema_migrations")}
        known = known_sqlite_versions()
        missing = known - applied
        if missing:
            raise MoveError(
                f"--from: the store {self.path} has an older schema (migration "
                f"{min(missing):04d} not applied). Migrate it first with this release: "
                f"`TRACKSIDE_DATABASE_URL=sqlite:///{self.path} trackside migrate` (or start "
                f"trackside on it once), then run migrate-store again.")
        newer = applied - known
        if newer:
            raise MoveError(
                f"--from: the store {self.path} was written by a newer trackside (migration "
                f"{max(newer):04d}); run migrate-store of that release.")

    def _query(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        try:
            cursor = self._conn.execute(sql, params)
            rows = cursor.fetchall()
        except sqlite3.Error as exc:
            raise MoveError(f"--from: cannot read {self.path}: {exc}") from None
        return Rows([d[0] for d in cursor.description], rows)

    def fingerprint(self) -> str:
        """Who this source is, stable while it grows: when its schema was created and its
        first event (a copy of the file is the same source; another store is not)."""
        created = self._query("SELECT applied_at FROM schema_migrations ORDER BY version "
                              "LIMIT 1").rows
        first = self._query("SELECT shop, event_name, event_id, accepted_at FROM events "
                            "ORDER BY pk LIMIT 1").rows
        identity = repr((created, first)).encode("utf-8")
        return hashlib.sha256(identity).hexdigest()[:32]

    def columns(self, table: str) -> list[str]:
        """The table's columns, in the order ``SELECT *`` returns them."""
        if table not in EVENT_TABLES + STATE_TABLES:
            raise ValueError(table)
        return [row[1] for row in self._query(f"PRAGMA table_info({table})").rows]

    def count(self, table: str, after_event_pk: int = 0) -> int:
        if table == "events":
            rows = self._query("SELECT COUNT(*) FROM events WHERE pk > ?", (after_event_pk,))
        elif table in EVENT_TABLES + STATE_TABLES:
            rows = self._query(f"SELECT COUNT(*) FROM {table}")
        else:
            raise ValueError(table)
        return int(rows.rows[0][0])

    def last_event_pk(self) -> int:
        return int(self._query("SELECT COALESCE(MAX(pk), 0) FROM events").rows[0][0])

    def leased_rows(self, now: float) -> int:
        """Outbox rows a worker holds right now (a sign that trackside still runs)."""
        return int(self._query("SELECT COUNT(*) FROM outbox WHERE lease_owner IS NOT NULL "
                               "AND lease_expires_at > ?", (now,)).rows[0][0])

    def events_after(self, pk: int, limit: int) -> Rows:
        return self._query("SELECT * FROM events WHERE pk > ? ORDER BY pk LIMIT ?", (pk, limit))

    def outbox_between(self, first_pk: int, last_pk: int) -> Rows:
        return self._query("SELECT * FROM outbox WHERE event_pk BETWEEN ? AND ? ORDER BY id",
                           (first_pk, last_pk))

    def attempts_between(self, first_pk: int, last_pk: int) -> Rows:
        return self._query(
            "SELECT a.* FROM attempts a JOIN outbox o ON o.id = a.outbox_id "
            "WHERE o.event_pk BETWEEN ? AND ? ORDER BY a.id", (first_pk, last_pk))

    def notes_between(self, first_pk: int, last_pk: int) -> Rows:
        return self._query("SELECT * FROM notes WHERE event_pk BETWEEN ? AND ? ORDER BY id",
                           (first_pk, last_pk))

    def state(self, table: str) -> Rows:
        if table not in STATE_TABLES:
            raise ValueError(table)
        return self._query(f"SELECT * FROM {table} ORDER BY shop")


def changed_since(path: str, last_event_pk: int, started: float) -> bool:
    """Whether another connection committed events after the snapshot (a fresh read)."""
    uri = f"file:{quote(str(Path(path).resolve()))}?mode=ro"
    try:
        with sqlite3.connect(uri, uri=True, timeout=2) as conn:
            now_last = conn.execute("SELECT COALESCE(MAX(pk), 0) FROM events").fetchone()[0]
            finished = conn.execute("SELECT COUNT(*) FROM outbox WHERE finished_at >= ?",
                                    (started,)).fetchone()[0]
        conn.close()
    except sqlite3.Error:
        return False
    return bool(now_last != last_event_pk or finished)
