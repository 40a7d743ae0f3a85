"""The shared store: PostgreSQL through psycopg 3 and a connection pool (psycopg_pool).

Many processes (servers and workers) share one database, so nothing here relies on a lock of
this process: every write is one PostgreSQL transaction on a pooled connection, and rows are
claimed with ``FOR UPDATE SKIP LOCKED`` (postgres_outbox.py).

Durability: commits wait for the WAL flush (``synchronous_commit`` is left at the server's
default, ``on``), so an event reported accepted survives a crash of the server or of this
process. Setting it to ``off`` on the server trades that for speed; the store does not.

Waiting is bounded: under :meth:`PostgresStore.time_limit` the wait for a pooled connection and
every lock wait (``SET LOCAL lock_timeout``) last at most the limit, then StoreLocked; other
callers wait up to ``LOCK_TIMEOUT_S``. A connection broken by a server restart is checked and
replaced when it leaves the pool. Driver errors leave this module as trackside.store's errors.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal, NoReturn

import psycopg
import psycopg_pool
from psycopg import errors as pg_errors
from psycopg.rows import DictRow, dict_row

from trackside.config import mask_url_password
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
from trackside.store.postgres_console import ConsoleQueries
from trackside.store.postgres_jobs import WORK_CHANNEL, JobQueries
from trackside.store.postgres_outbox import OutboxQueries
from trackside.store.postgres_quality import QualityQueries
from trackside.store.postgres_reports import ReportQueries
from trackside.store.postgres_unit import BROWSER_EVENTS_BY_KEY, EXPIRED_HOLDS, PostgresUnit
from trackside.store.postgres_webhooks import WebhookQueries

#: The longest a store call waits for a lock (or a pooled connection) outside time_limit().
LOCK_TIMEOUT_S = 30.0
#: The pool retries a failed connection with a growing delay; it gives an attempt up after
#: this, and the next call that needs a connection starts a new one from a short delay, so a
#: server back after a long outage is used within seconds, not after the backoff's minutes.
RECONNECT_GIVE_UP_S = 5.0
#: What a call under time_limit() may always spend on getting a pooled connection.
POOL_OPEN_S = 0.25
#: How long opening the store waits for the server to answer.
CONNECT_TIMEOUT_S = 10
DEFAULT_POOL_SIZE = 10
#: Migrations hold this transaction-level advisory lock, so two processes starting at once do
#: not both apply them (the second waits, then finds them applied).
_MIGRATION_LOCK_KEY = 0x74726B73_6D6967  # "trks" "mig"


def _migrations() -> list[tuple[int, str, str]]:
    folder = resources.files("trackside.store") / "migrations" / "postgres"
    found = []
    for entry in folder.iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def translate(exc: psycopg.Error) -> StoreError:
    """The named store error for a driver error (the driver's words kept as the message)."""
    message = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, pg_errors.LockNotAvailable | pg_errors.QueryCanceled
                  | pg_errors.DeadlockDetected):
        return StoreLocked(message)
    if isinstance(exc, pg_errors.DiskFull):
        return StoreFull(message)
    if isinstance(exc, pg_errors.ReadOnlySqlTransaction | pg_errors.InsufficientPrivilege):
        return StoreUnwritable(message)
    return StoreUnavailable(message)


def raise_translated(exc: psycopg.Error) -> NoReturn:
    # A constraint violation or bad SQL is a bug in our queries, not a store fault.
    if isinstance(exc, psycopg.IntegrityError | pg_errors.SyntaxError):
        raise exc
    raise translate(exc) from exc


@dataclass
class Transaction:
    """The connection of this thread's open transaction and the shops whose rows it made due
    (they are notified on WORK_CHANNEL just before the commit)."""

    conn: psycopg.Connection[DictRow]
    due_shops: set[str] = field(default_factory=set)


class PostgresStore(OutboxQueries, ReportQueries, JobQueries, WebhookQueries, QualityQueries,
                    ConsoleQueries):
    def __init__(self, url: str, *, pool_size: int = DEFAULT_POOL_SIZE) -> None:
        self.url = url
        #: The URL as logs and errors may show it (the password masked).
        self.shown_url = mask_url_password(url)
        self._local = threading.local()
        self._closed = False
        self._subscriptions: list[Callable[[], None]] = []
        self._check_reachable()
        self._pool: psycopg_pool.ConnectionPool[psycopg.Connection[DictRow]] = (
            psycopg_pool.ConnectionPool(
                url, min_size=1, max_size=max(1, pool_size), open=False,
                kwargs={"row_factory": dict_row, "connect_timeout": CONNECT_TIMEOUT_S,
                        "autocommit": True},
                configure=self._configure, check=psycopg_pool.ConnectionPool.check_connection,
                timeout=LOCK_TIMEOUT_S, reconnect_timeout=RECONNECT_GIVE_UP_S,
                name="trackside"))
        self._pool.open()

    def _check_reachable(self) -> None:
        # The pool connects in the background and only says "timeout"; one direct connection
        # first gives the operator the server's own reason (refused, unknown database, ...).
        try:
            psycopg.connect(self.url, connect_timeout=CONNECT_TIMEOUT_S).close()
        except psycopg.Error as exc:
            raise StoreUnavailable(
                f"cannot connect to {self.shown_url}: {self._scrubbed(exc)}") from None

    def _scrubbed(self, exc: BaseException) -> str:
        # The driver's words about a bad URL may quote it: its password never leaves. libpq's
        # message spans lines ("…refused\n\tIs the server running…"): one line for the terminal
        # (which would show the control characters escaped) and the log.
        text = " ".join(str(exc).split())
        try:
            password = psycopg.conninfo.conninfo_to_dict(self.url).get("password")
        except psycopg.Error:
            return f"{type(exc).__name__} (the URL cannot be parsed)"
        return text.replace(str(password), "**********") if password else text

    @staticmethod
    def _configure(conn: psycopg.Connection[DictRow]) -> None:
        conn.execute(f"SET lock_timeout = '{int(LOCK_TIMEOUT_S * 1000)}ms'")

    # -- bounded waiting ---------------------------------------------------------------------

    @contextmanager
    def time_limit(self, seconds: float) -> Iterator[None]:
        previous = getattr(self._local, "wait_limit", None)
        self._local.wait_limit = seconds if previous is None else min(previous, seconds)
        try:
            yield
        finally:
            self._local.wait_limit = previous

    def _wait_limit(self) -> float | None:
        # Each wait is bounded, not the block's total time (as SQLiteStore._remaining).
        limit: float | None = getattr(self._local, "wait_limit", None)
        return None if limit is None else max(0.001, min(LOCK_TIMEOUT_S, limit))

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[DictRow]]:
        if self._closed:
            raise StoreUnavailable("the store is closed")
        limit = self._wait_limit()
        # Opening a new pooled connection is work, not waiting: under a short limit it still
        # gets POOL_OPEN_S (time_limit(0) must not fail on an idle store).
        wait = LOCK_TIMEOUT_S if limit is None else max(limit, POOL_OPEN_S)
        try:
            conn = self._pool.getconn(timeout=wait)
        except psycopg_pool.PoolTimeout:
            raise self._pool_timeout() from None
        except psycopg_pool.PoolClosed:
            raise StoreUnavailable("the store is closed") from None
        try:
            yield conn
        finally:
            self._pool.putconn(conn)  # the pool rolls back what is open, discards what broke

    def _pool_timeout(self) -> StoreError:
        # No pooled connection in time: every one busy (locked), or the server not answering
        # the pool's attempts (unavailable). One direct attempt tells them apart.
        stats = self._pool.get_stats()
        try:
            psycopg.connect(self.url, connect_timeout=2).close()
        except psycopg.Error as exc:
            return StoreUnavailable(f"cannot connect to {self.shown_url}: {self._scrubbed(exc)}")
        if stats.get("pool_size", 0) >= self._pool.max_size and not stats.get("pool_available"):
            return StoreLocked(f"all {self._pool.max_size} connections to the store were busy")
        return StoreUnavailable(f"{self.shown_url} answers again; the pool is reconnecting")

    @contextmanager
    def _write(self) -> Iterator[Transaction]:
        current: Transaction | None = getattr(self._local, "transaction", None)
        if current is not None:  # nested: already inside our transaction
            yield current
            return
        with self._connection() as conn:
            tx = Transaction(conn)
            self._local.transaction = tx
            try:
                # psycopg's transaction block: COMMIT at its end, ROLLBACK if it raises.
                with conn.transaction():
                    limit = self._wait_limit()
                    if limit is not None:
                        conn.execute("SELECT set_config('lock_timeout', %s, true)",
                                     (f"{max(1, int(limit * 1000))}ms",))
                    yield tx
                    for shop in sorted(tx.due_shops):
                        conn.execute("SELECT pg_notify(%s, %s)", (WORK_CHANNEL, shop))
            except psycopg.Error as exc:
                raise_translated(exc)
            finally:
                self._local.transaction = None

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[DictRow]:
        current: Transaction | None = getattr(self._local, "transaction", None)
        if current is not None:  # inside our own transaction: see its writes
            return current.conn.execute(sql, params).fetchall()
        for attempt in (1, 2):
            with self._connection() as conn:
                try:
                    return conn.execute(sql, params).fetchall()
                except psycopg.OperationalError as exc:
                    # The server went away under a connection that had just passed its check
                    # (a restart, a failover): a read is safe to run again, on a new connection
                    # (the pool waits for one as long as the call may wait).
                    if attempt == 1 and conn.broken:
                        continue
                    raise_translated(exc)
                except psycopg.Error as exc:
                    raise_translated(exc)
        raise AssertionError("unreachable: the second attempt returns or raises")

    # -- schema --------------------------------------------------------------------------

    def pending_migrations(self) -> list[str]:
        """The migration files this database has not had yet."""
        with self._write() as tx:
            applied = self._applied(tx.conn)
        return [name for version, name, _ in _migrations() if version not in applied]

    @staticmethod
    def _applied(conn: psycopg.Connection[DictRow]) -> set[int]:
        exists = conn.execute("SELECT to_regclass('schema_migrations') AS t").fetchone()
        if exists is None or exists["t"] is None:
            return set()
        return {row["version"] for row in conn.execute("SELECT version FROM schema_migrations")}

    def migrate(self) -> None:
        self.apply_migrations()

    def apply_migrations(self) -> list[str]:
        """Apply the missing migrations in one transaction; the names of those applied."""
        done: list[str] = []
        with self._write() as tx:
            conn = tx.conn
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK_KEY,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations"
                " (version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)")
            applied = self._applied(conn)
            for version, name, sql in _migrations():
                if version in applied:
                    continue
                conn.execute(sql.encode())  # a script of statements, no parameters
                conn.execute("INSERT INTO schema_migrations VALUES"
                             " (%s, extract(epoch FROM now()))", (version,))
                done.append(name)
        return done

    def close(self) -> None:
        self._closed = True
        for stop in list(self._subscriptions):
            stop()
        self._pool.close()

    def ping(self) -> None:
        self._read("SELECT 1")

    def health_details(self) -> dict[str, int | str]:
        stats = self._pool.get_stats()
        return {"size": stats.get("pool_size", 0), "idle": stats.get("pool_available", 0),
                "waiting": stats.get("requests_waiting", 0), "max": self._pool.max_size}

    def probe_write(self, timeout_s: float, now: float) -> None:
        # Inserted and deleted in one committed transaction: the commit waits for the WAL
        # flush, as an accepted event's does.
        with self.time_limit(timeout_s), self._write() as tx:
            tx.conn.execute("INSERT INTO health_probe (checked_at, pad) VALUES (%s, %s)",
                            (now, b"\0" * 1024))
            tx.conn.execute("DELETE FROM health_probe")

    # -- accept ----------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[PostgresUnit]:
        with self._write() as tx:
            yield PostgresUnit(tx)

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
        with self._write() as tx:
            tx.conn.execute(
                "INSERT INTO notes (event_pk, at, kind, destination, detail)"
                " SELECT pk, %s, %s, %s, %s FROM events WHERE shop = %s AND event_name = %s"
                " AND event_id = %s",
                (now, kind, destination, detail, shop, event_name, event_id),
            )

    def add_notes(self, notes: Sequence[tuple[int, str, str, str]], now: float) -> None:
        """Notes keyed by outbox id: (outbox_id, kind, destination, detail)."""
        if not notes:
            return
        with self._write() as tx, tx.conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO notes (event_pk, at, kind, destination, detail)"
                " SELECT event_pk, %s, %s, %s, %s FROM outbox WHERE id = %s",
                [(now, kind, dest, detail, oid) for oid, kind, dest, detail in notes],
            )

    def pause_destination(
        self, destination: str, until: float | None, reason: str, code: int | None, now: float,
        *, shop: str = DEFAULT_SHOP,
    ) -> None:
        with self._write() as tx:
            tx.conn.execute(
                "INSERT INTO destination_state"
                " (shop, destination, paused_until, reason, code, updated_at)"
                " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (shop, destination) DO UPDATE SET"
                " paused_until = excluded.paused_until, reason = excluded.reason,"
                " code = excluded.code, updated_at = excluded.updated_at",
                (checked_shop(shop), destination, until, reason, code, now),
            )

    def resume_destination(self, destination: str, *, shop: str = DEFAULT_SHOP) -> None:
        with self._write() as tx:
            tx.conn.execute("DELETE FROM destination_state WHERE shop = %s AND destination = %s",
                            (shop, destination))

    def destination_states(self, *, shop: str | None = None) -> list[DestinationState]:
        return [
            DestinationState(r["destination"], r["paused_until"], r["reason"], r["code"],
                             r["updated_at"], r["shop"])
            for r in self._read("SELECT * FROM destination_state"
                                " WHERE %s::text IS NULL OR shop = %s"
                                " ORDER BY shop, destination", (shop, shop))
        ]

    # -- cursors -------------------------------------------------------------------------------

    def get_cursor(self, name: str, *, shop: str = DEFAULT_SHOP) -> str | None:
        rows = self._read("SELECT value FROM cursors WHERE shop = %s AND name = %s",
                          (shop, name))
        return rows[0]["value"] if rows else None

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
