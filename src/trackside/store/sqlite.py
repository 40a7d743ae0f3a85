"""The embedded store: one SQLite file in WAL mode.

Durability: every write is one ``BEGIN IMMEDIATE`` transaction with ``synchronous=FULL``, so
an event reported accepted survives a SIGKILL or a power cut. One write connection, guarded by
a lock, serves the whole process: SQLite has one writer anyway, and a single connection keeps
the statement cache warm. Reads use their own connections (a small pool): in WAL mode a reader
never waits for a writer, so /metrics or an event lookup keep answering while a writer waits
for a lock another process holds.

Waiting is bounded: a caller that must answer quickly (the HTTP ingest path, /healthz) runs its
store calls under :meth:`SQLiteStore.time_limit`, which bounds both the wait for this process's
write lock and SQLite's busy handler; other callers (the worker, the CLI) wait up to
``BUSY_TIMEOUT_S``. Driver errors leave this module as the named errors of ``trackside.store``.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any, Literal, NoReturn

from trackside.events import NormalizedEvent
from trackside.shop_names import DEFAULT_SHOP, checked_shop
from trackside.store import (
    DestinationState,
    InsertResult,
    NewEvent,
    StoreError,
    StoreFull,
    StoreLocked,
    StoreUnavailable,
    StoreUnwritable,
)
from trackside.store.sqlite_console import ConsoleQueries
from trackside.store.sqlite_jobs import JobQueries
from trackside.store.sqlite_outbox import OutboxQueries
from trackside.store.sqlite_quality import QualityQueries
from trackside.store.sqlite_reports import ReportQueries
from trackside.store.sqlite_unit import BROWSER_EVENTS_BY_KEY, EXPIRED_HOLDS, SQLiteUnit
from trackside.store.sqlite_webhooks import WebhookQueries

BUSY_TIMEOUT_S = 30.0
#: Readers only wait on a lock in rare cases (WAL recovery, a checkpoint truncating).
READ_BUSY_TIMEOUT_S = 2.0
#: Idle read connections kept open for reuse.
READ_POOL_SIZE = 4
#: The health probe writes this many bytes, so a database that cannot grow by that much (a
#: full disk, or SQLite's max_page_count) fails it before ingest does.
HEALTH_PROBE_BYTES = 32 * 1024

# Primary SQLite result codes (https://www.sqlite.org/rescode.html).
_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY, _SQLITE_FULL = 5, 6, 8, 13
_SQLITE_PERM = 3


def _migration_files() -> list[tuple[int, str, str]]:
    """(version, file name, SQL) of every SQLite migration, in order."""
    folder = resources.files("trackside.store") / "migrations" / "sqlite"
    found = []
    for entry in folder.iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def _migrations() -> list[tuple[int, str]]:
    return [(version, sql) for version, _, sql in _migration_files()]


def translate(exc: sqlite3.Error) -> StoreError:
    """The named store error for a driver error (the driver's words kept as the message)."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = None if code is None else code & 0xFF
    message = f"{type(exc).__name__}: {exc}"
    if primary in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return StoreLocked(message)
    if primary == _SQLITE_FULL:
        return StoreFull(message)
    if primary in (_SQLITE_READONLY, _SQLITE_PERM):
        return StoreUnwritable(message)
    return StoreUnavailable(message)


def _raise_translated(exc: sqlite3.Error) -> NoReturn:
    # A constraint violation or a misuse of the API is a bug in our SQL, not a store fault.
    if isinstance(exc, sqlite3.IntegrityError) or (
        isinstance(exc, sqlite3.ProgrammingError) and "closed" not in str(exc)
    ):
        raise exc
    raise translate(exc) from exc


def _statements(script: str) -> Iterator[str]:
    """The statements of a migration; a trigger's body holds semicolons of its own."""
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                yield pending
            pending = ""
    if pending.strip(" \n;"):
        yield pending


class SQLiteStore(OutboxQueries, ReportQueries, JobQueries, WebhookQueries, QualityQueries,
                  ConsoleQueries):
    def __init__(self, path: str) -> None:
        self.path = path
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(
                path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            _raise_translated(exc)
        try:
            self._conn.row_factory = sqlite3.Row
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            # Overwrite freed space, so purged IPs and user agents do not linger in the file.
            self._conn.execute("PRAGMA secure_delete=ON")
        except sqlite3.Error as exc:
            self._conn.close()  # a failed open leaves no connection behind
            _raise_translated(exc)
        self._busy_ms = int(BUSY_TIMEOUT_S * 1000)
        self._lock = threading.RLock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._closed = False

    @classmethod
    def from_url(cls, url: str) -> SQLiteStore:
        # sqlite:///relative.db, sqlite:////absolute.db, sqlite:///:memory:
        path = url[len("sqlite://") :]
        if path.startswith("/"):
            path = path[1:]
        return cls(path or "trackside.db")

    # -- bounded waiting ---------------------------------------------------------------------

    @contextmanager
    def time_limit(self, seconds: float) -> Iterator[None]:
        previous = getattr(self._local, "wait_limit", None)
        self._local.wait_limit = seconds if previous is None else min(previous, seconds)
        try:
            yield
        finally:
            self._local.wait_limit = previous

    def _remaining(self, default: float) -> float:
        # Each wait for a lock is bounded, not the block's total time: a group whose work is
        # slow (the GIL shared with a busy event loop) must not fail its later store calls on
        # an uncontended store.
        limit: float | None = getattr(self._local, "wait_limit", None)
        if limit is None:
            return default
        return max(0.001, min(default, limit))

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        if getattr(self._local, "writing", False):  # nested: already inside our transaction
            yield self._conn
            return
        wait = self._remaining(BUSY_TIMEOUT_S)
        if not self._lock.acquire(timeout=wait):
            raise StoreLocked(f"another store call of this process held the write lock for "
                              f"{wait:.1f}s")
        try:
            self._local.writing = True
            try:
                busy_ms = max(1, int(self._remaining(BUSY_TIMEOUT_S) * 1000))
                if busy_ms != self._busy_ms:
                    self._conn.execute(f"PRAGMA busy_timeout = {busy_ms}")
                    self._busy_ms = busy_ms
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                _raise_translated(exc)
            try:
                yield self._conn
            except BaseException as exc:
                self._rollback()
                if isinstance(exc, sqlite3.Error):
                    _raise_translated(exc)
                raise
            try:
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                _raise_translated(exc)
        finally:
            self._local.writing = False
            self._lock.release()

    def _rollback(self) -> None:
        try:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # SQLite rolls back by itself after an I/O or full error

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        if self.path == ":memory:" or getattr(self._local, "writing", False):
            # Inside our own transaction (or a private in-memory database) only the write
            # connection sees the data.
            with self._lock:
                try:
                    return self._conn.execute(sql, params).fetchall()
                except sqlite3.Error as exc:
                    _raise_translated(exc)
        conn = self._reader()
        try:
            busy_ms = max(1, int(self._remaining(READ_BUSY_TIMEOUT_S) * 1000))
            conn.execute(f"PRAGMA busy_timeout = {busy_ms}")
            rows = conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            conn.close()
            _raise_translated(exc)
        self._return_reader(conn)
        return rows

    def _reader(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreUnavailable("the store is closed")
        with self._readers_lock:
            if self._readers:
                return self._readers.pop()
        try:
            conn = sqlite3.connect(self.path, timeout=READ_BUSY_TIMEOUT_S, isolation_level=None,
                                   check_same_thread=False)
        except sqlite3.Error as exc:
            _raise_translated(exc)
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA query_only = ON")
        except sqlite3.Error as exc:
            conn.close()
            _raise_translated(exc)
        return conn

    def _return_reader(self, conn: sqlite3.Connection) -> None:
        with self._readers_lock:
            if not self._closed and len(self._readers) < READ_POOL_SIZE:
                self._readers.append(conn)
                return
        conn.close()

    # -- schema --------------------------------------------------------------------------

    def migrate(self) -> None:
        self.apply_migrations()

    def pending_migrations(self) -> list[str]:
        """The migration files this database has not had yet."""
        has_table = self._read("SELECT 1 FROM sqlite_master WHERE type = 'table'"
                               " AND name = 'schema_migrations'")
        applied = {row[0] for row in self._read("SELECT version FROM schema_migrations")
                   } if has_table else set()
        return [name for version, name, _ in _migration_files() if version not in applied]

    def apply_migrations(self) -> list[str]:
        """Apply the missing migrations in one transaction; the names of those applied."""
        # A migration that rebuilds a referenced table (0007: events) must run with foreign
        # keys off, and the pragma is a no-op inside a transaction: off before BEGIN, checked
        # before COMMIT, on again after (https://www.sqlite.org/lang_altertable.html).
        with self._lock:
            try:
                self._conn.execute("PRAGMA foreign_keys=OFF")
            except sqlite3.Error as exc:
                _raise_translated(exc)
            try:
                return self._apply_migrations()
            finally:
                try:
                    self._conn.execute("PRAGMA foreign_keys=ON")
                except sqlite3.Error as exc:
                    _raise_translated(exc)

    def _apply_migrations(self) -> list[str]:
        done: list[str] = []
        with self._write() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)"
            )
            applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            for version, name, sql in _migration_files():
                if version in applied:
                    continue
                for statement in _statements(sql):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations VALUES (?, strftime('%s','now'))", (version,)
                )
                done.append(name)
            broken = conn.execute("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise StoreUnavailable(
                    f"migration left {len(broken)} rows whose reference is missing "
                    f"(first in table {broken[0][0]}); nothing was changed")
        return done

    def close(self) -> None:
        self._closed = True
        with self._readers_lock:
            readers, self._readers = self._readers, []
        for conn in readers:
            conn.close()
        with self._lock:
            self._conn.close()

    def ping(self) -> None:
        self._read("SELECT 1")

    def health_details(self) -> dict[str, int | str]:
        return {}  # one file, one write connection: nothing worth showing

    def probe_write(self, timeout_s: float, now: float) -> None:
        # Inserted and deleted in one committed transaction: the pages must be found (free
        # pages or file growth) and the commit reaches the disk (WAL append + fsync).
        with self.time_limit(timeout_s), self._write() as conn:
            conn.execute("INSERT INTO health_probe (checked_at, pad) VALUES (?, zeroblob(?))",
                         (now, HEALTH_PROBE_BYTES))
            conn.execute("DELETE FROM health_probe")

    # -- accept ----------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[SQLiteUnit]:
        with self._write() as conn:
            unit = SQLiteUnit(conn)
            yield unit
        if unit.purged:
            self._checkpoint()

    def insert_events(self, records: Sequence[NewEvent], now: float) -> list[InsertResult]:
        with self.transaction() as unit:
            inserted = unit.insert_new(records, now)
        return [InsertResult(r.event.event_name, r.event.event_id,
                             "queued" if new else "duplicate")
                for r, new in zip(records, inserted, strict=True)]

    # -- notes and destination state ------------------------------------------------------

    def add_note(
        self, event_name: str, event_id: str, kind: str, detail: str, now: float,
        destination: str | None = None, *, shop: str = DEFAULT_SHOP,
    ) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO notes (event_pk, at, kind, destination, detail)"
                " SELECT pk, ?, ?, ?, ? FROM events WHERE shop = ? AND event_name = ?"
                " AND event_id = ?",
                (now, kind, destination, detail, shop, event_name, event_id),
            )

    def add_notes(self, notes: Sequence[tuple[int, str, str, str]], now: float) -> None:
        """Notes keyed by outbox id: (outbox_id, kind, destination, detail)."""
        if not notes:
            return
        with self._write() as conn:
            conn.executemany(
                "INSERT INTO notes (event_pk, at, kind, destination, detail)"
                " SELECT event_pk, ?, ?, ?, ? FROM outbox WHERE id = ?",
                [(now, kind, dest, detail, oid) for oid, kind, dest, detail in notes],
            )

    def pause_destination(
        self, destination: str, until: float | None, reason: str, code: int | None, now: float,
        *, shop: str = DEFAULT_SHOP,
    ) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO destination_state"
                " (shop, destination, paused_until, reason, code, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (shop, destination) DO UPDATE SET"
                " paused_until = excluded.paused_until, reason = excluded.reason,"
                " code = excluded.code, updated_at = excluded.updated_at",
                (checked_shop(shop), destination, until, reason, code, now),
            )

    def resume_destination(self, destination: str, *, shop: str = DEFAULT_SHOP) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM destination_state WHERE shop = ? AND destination = ?",
                         (shop, destination))

    def destination_states(self, *, shop: str | None = None) -> list[DestinationState]:
        return [
            DestinationState(r["destination"], r["paused_until"], r["reason"], r["code"],
                             r["updated_at"], r["shop"])
            for r in self._read("SELECT * FROM destination_state WHERE ? IS NULL OR shop = ?"
                                " ORDER BY shop, destination", (shop, shop))
        ]

    def _checkpoint(self) -> None:
        with self._lock:
            # Old page images in the WAL still hold purged values until checkpointed.
            try:
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as exc:
                _raise_translated(exc)

    # -- cursors -------------------------------------------------------------------------------

    def get_cursor(self, name: str, *, shop: str = DEFAULT_SHOP) -> str | None:
        rows = self._read("SELECT value FROM cursors WHERE shop = ? AND name = ?", (shop, name))
        return rows[0][0] if rows else None

    def set_cursor(self, name: str, value: str, now: float, *,
                   shop: str = DEFAULT_SHOP) -> None:
        with self.transaction() as unit:
            unit.set_cursor(name, value, now, shop=shop)

    # -- browser context joins ------------------------------------------------------------------

    def browser_events_by_key(
        self, key: Literal["cart_id", "customer_id"], value: str, since: float,
        limit: int = 10, *, shop: str = DEFAULT_SHOP,
    ) -> list[NormalizedEvent]:
        rows = self._read(BROWSER_EVENTS_BY_KEY[key], (shop, value, since, limit))
        return [NormalizedEvent.model_validate_json(row["body"]) for row in rows]

    def has_expired_holds(self, accepted_before: float, *, shop: str | None = None) -> bool:
        return bool(self._read("SELECT 1 " + EXPIRED_HOLDS + " LIMIT 1",
                               (accepted_before, shop, shop)))
