"""``trackside migrate-store``: copy a SQLite store into a PostgreSQL store, resumably.

The source is read as one snapshot (move_source.py). The target is opened with
``open_store`` first (which creates or migrates its schema), then written with raw psycopg:
each batch of source events, with all their outbox rows, attempts and notes, is one target
transaction, and the same transaction records in ``store_copies`` (a table of this module, in
the target) the last source event pk it copied. A run that dies at any point (Ctrl-C,
SIGKILL, a failed write) leaves whole batches behind, so the next run starts after the last
recorded pk and copies nothing twice.

Primary keys are the target's: new event pks and outbox ids are taken from the target's own
sequences and the children (outbox.event_pk, attempts.outbox_id, notes.event_pk) remapped,
so a target that already holds events of its own (``--append``) never collides. An event the
target already has (same shop, event_name, event_id) is skipped with its rows and counted as a
duplicate. Leased rows arrive unleased: the worker that held them is gone.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

from trackside.config import mask_url_password
from trackside.errors import TracksideError
from trackside.store.move_source import (
    EVENT_TABLES,
    STATE_TABLES,
    MoveError,
    Rows,
    SQLiteSnapshot,
    changed_since,
)
from trackside.store.opening import is_postgres_url

__all__ = ["DEFAULT_BATCH", "CopySummary", "MoveError", "TableCount", "copy_store"]

DEFAULT_BATCH = 1000
#: The first half of the advisory lock key that keeps two copies of one source apart.
_LOCK_CLASS = 0x7472_6B73  # "trks"
WriteMethod = Literal["copy", "executemany"]

_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS store_copies (
    source_id TEXT PRIMARY KEY,
    source_path TEXT NOT NULL,
    append BOOLEAN NOT NULL,
    started_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    finished_at DOUBLE PRECISION,
    last_event_pk BIGINT NOT NULL DEFAULT 0,
    counts TEXT NOT NULL DEFAULT '{}'
)
"""


@dataclass
class TableCount:
    copied: int = 0
    #: Rows not copied: an event the target had (a duplicate) and its rows, or a cursor or
    #: destination state the target had its own of.
    skipped: int = 0


@dataclass
class CopySummary:
    counts: dict[str, TableCount] = field(
        default_factory=lambda: {t: TableCount() for t in EVENT_TABLES + STATE_TABLES})
    #: Source events earlier runs had already copied or skipped (0: a new copy).
    resumed_after: int = 0
    #: Source events this run went through.
    events_this_run: int = 0
    #: An earlier run had finished; this one only looked for events added since.
    already_finished: bool = False
    #: Things the operator should know (a writer still active on the source, …).
    warnings: list[str] = field(default_factory=list)


#: ``on_progress(events_done, events_total)`` after each batch (source events gone through).
ProgressCallback = Callable[[int, int], None]


def copy_store(from_url: str, to_url: str, *, append: bool = False,
               batch: int = DEFAULT_BATCH, on_progress: ProgressCallback | None = None,
               write: WriteMethod = "copy") -> CopySummary:
    """Copy the SQLite store at ``from_url`` into the PostgreSQL store at ``to_url``."""
    if batch < 1:
        raise MoveError("--batch: give a number of events of at least 1")
    started = time.time()
    source = SQLiteSnapshot(from_url)
    try:
        with _Target.open(to_url, write) as target:
            summary = _copy(source, target, append, batch, on_progress or _quiet, started)
        if changed_since(source.path, source.last_event_pk(), started):
            summary.warnings.append(
                "the source changed while it was copied (is trackside still running on it?): "
                "this copy is the store as it was at the start. Stop trackside and run the "
                "same command again to copy what was added since.")
        return summary
    finally:
        source.close()


def _quiet(done: int, total: int) -> None:
    pass


def _copy(source: SQLiteSnapshot, target: _Target, append: bool, batch: int,
          on_progress: ProgressCallback, started: float) -> CopySummary:
    source_id = source.fingerprint()
    target.lock_source(source_id)
    target.check_columns(source)
    summary = CopySummary()
    previous = target.previous_copy(source_id)
    if previous is None:
        if not append and target.has_rows():
            raise MoveError(
                f"--to: the target {target.shown_url} already holds a store (events, cursors "
                f"or destination states) that is not a copy of this source; nothing was "
                f"written. Pass --append to add this source's events to it.")
        target.start_copy(source_id, source.path, append, started)
        last_pk = 0
    else:
        last_pk, counts, finished = previous
        summary.counts.update(counts)
        summary.resumed_after = source.count("events") - source.count("events", last_pk)
        summary.already_finished = finished
    leased = source.leased_rows(started)
    if leased:
        summary.warnings.append(
            f"{leased} outbox rows of the source are leased by a running worker: stop "
            f"trackside before the final copy (leased rows arrive unleased, to be sent again).")
    total = summary.resumed_after + source.count("events", last_pk)
    done = summary.resumed_after
    on_progress(done, total)
    while True:
        events = source.events_after(last_pk, batch)
        if not events.rows:
            break
        pk_at = events.columns.index("pk")
        first, last = events.rows[0][pk_at], events.rows[-1][pk_at]
        target.copy_batch(source_id, summary, events, source.outbox_between(first, last),
                          source.attempts_between(first, last),
                          source.notes_between(first, last), last)
        last_pk = last
        done += len(events.rows)
        summary.events_this_run += len(events.rows)
        on_progress(done, total)
    if not summary.already_finished:
        target.copy_state(source_id, summary, [source.state(t) for t in STATE_TABLES])
    return summary


def _scrub(text: str, url: str) -> str:
    """A driver's message on one line, the URL's password masked."""
    password = urlsplit(url).password
    if password:
        text = text.replace(password, "**********")
    return " ".join(text.split())


class _Target:
    """The PostgreSQL side: one connection, a transaction per batch."""

    def __init__(self, conn: psycopg.Connection[tuple[Any, ...]], url: str,
                 write: WriteMethod) -> None:
        self.conn = conn
        self.url = url
        self.shown_url = mask_url_password(url)
        self.write = write

    @classmethod
    @contextmanager
    def open(cls, url: str, write: WriteMethod) -> Iterator[_Target]:
        if not is_postgres_url(url):
            raise MoveError(f"--to: {mask_url_password(url)!r} is not a postgresql:// URL")
        shown = mask_url_password(url)
        _migrate(url, shown)
        try:
            conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise MoveError(f"--to: cannot connect to {shown}: {_scrub(str(exc), url)}") from None
        try:
            yield cls(conn, url, write)
        except psycopg.Error as exc:
            raise MoveError(f"--to: writing to {shown} failed: {_scrub(str(exc), url)}. The "
                            f"batches copied so far are kept; run the same command again to "
                            f"continue.") from None
        finally:
            conn.close()

    def lock_source(self, source_id: str) -> None:
        locked = self.conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))",
                                   (_LOCK_CLASS, source_id)).fetchone()
        if not (locked and locked[0]):
            raise MoveError("another migrate-store is copying this source into "
                            f"{self.shown_url} right now; wait for it to end")

    def has_rows(self) -> bool:
        row = self.conn.execute(
            "SELECT EXISTS (SELECT 1 FROM events) OR EXISTS (SELECT 1 FROM cursors) "
            "OR EXISTS (SELECT 1 FROM destination_state)").fetchone()
        return bool(row and row[0])

    def previous_copy(self, source_id: str) -> tuple[int, dict[str, TableCount], bool] | None:
        exists = self.conn.execute("SELECT to_regclass('store_copies')").fetchone()
        if not exists or exists[0] is None:
            return None
        row = self.conn.execute(
            "SELECT last_event_pk, counts, finished_at FROM store_copies WHERE source_id = %s",
            (source_id,)).fetchone()
        if row is None:
            return None
        counts = {t: TableCount(*c) for t, c in json.loads(row[1]).items()}
        return int(row[0]), counts, row[2] is not None

    def start_copy(self, source_id: str, path: str, append: bool, now: float) -> None:
        with self.conn.transaction():
            self.conn.execute(_BOOKKEEPING)
            self.conn.execute(
                "INSERT INTO store_copies (source_id, source_path, append, started_at, "
                "updated_at) VALUES (%s, %s, %s, %s, %s)", (source_id, path, append, now, now))

    def check_columns(self, source: SQLiteSnapshot) -> None:
        """Every source column must have a target column of the same name."""
        for table in EVENT_TABLES + STATE_TABLES:
            found = {row[0] for row in self.conn.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = %s", (table,))}
            wanted = source.columns(table)
            missing = [c for c in wanted if c not in found]
            if missing:
                raise MoveError(f"--to: the target's table {table} has no column "
                                f"{', '.join(missing)}: its schema does not match this release")

    def copy_batch(self, source_id: str, summary: CopySummary, events: Rows, outbox: Rows,
                   attempts: Rows, notes: Rows, last_pk: int) -> None:
        with self.conn.transaction():
            at = [events.columns.index(c) for c in ("shop", "event_name", "event_id")]
            keys = [(r[at[0]], r[at[1]], r[at[2]]) for r in events.rows]
            duplicate = self._existing(keys)
            pk_at = events.columns.index("pk")
            event_pks = self._new_ids("events", "pk", [
                row[pk_at] for row, key in zip(events.rows, keys, strict=True)
                if key not in duplicate])
            rows = _remapped(events, {"pk": event_pks})
            self._insert("events", events.columns, rows, summary, len(events.rows))
            box = outbox.columns
            outbox_ids = self._new_ids(
                "outbox", "id", [r[box.index("id")] for r in outbox.rows
                                 if r[box.index("event_pk")] in event_pks])
            unleased = {"lease_owner": None, "lease_expires_at": None}
            self._insert("outbox", outbox.columns,
                         _remapped(outbox, {"id": outbox_ids, "event_pk": event_pks}, unleased),
                         summary, len(outbox.rows))
            self._insert("attempts", attempts.columns,
                         _remapped(attempts, {"outbox_id": outbox_ids}, drop="id"),
                         summary, len(attempts.rows), drop="id")
            self._insert("notes", notes.columns,
                         _remapped(notes, {"event_pk": event_pks}, drop="id"),
                         summary, len(notes.rows), drop="id")
            self._record(source_id, summary, last_pk, finished=False)

    def copy_state(self, source_id: str, summary: CopySummary, tables: list[Rows]) -> None:
        """Cursors and destination states; a row the target has of its own stays."""
        with self.conn.transaction():
            for table, rows in zip(STATE_TABLES, tables, strict=True):
                statement = sql.SQL("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT DO NOTHING") \
                    .format(sql.Identifier(table), _names(rows.columns),
                            sql.SQL(", ").join(sql.Placeholder() * len(rows.columns)))
                for row in rows.rows:
                    inserted = self.conn.execute(statement, row).rowcount
                    summary.counts[table].copied += inserted
                    summary.counts[table].skipped += 1 - inserted
            self._record(source_id, summary, None, finished=True)

    def _existing(self, keys: list[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
        if not keys:
            return set()
        shops, names, ids = (list(column) for column in zip(*keys, strict=True))
        found = self.conn.execute(
            "SELECT e.shop, e.event_name, e.event_id FROM events e JOIN "
            "unnest(%s::text[], %s::text[], %s::text[]) AS k(shop, event_name, event_id) "
            "USING (shop, event_name, event_id)", (shops, names, ids)).fetchall()
        return {(r[0], r[1], r[2]) for r in found}

    def _new_ids(self, table: str, column: str, old: list[int]) -> dict[int, int]:
        """Old source key → a new key from the target's own sequence, in the same order."""
        if not old:
            return {}
        new = self.conn.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            (table, column, len(old))).fetchall()
        return dict(zip(old, sorted(r[0] for r in new), strict=True))

    def _insert(self, table: str, columns: list[str], rows: list[tuple[Any, ...]],
                summary: CopySummary, seen: int, drop: str | None = None) -> None:
        names = [c for c in columns if c != drop]
        if rows:
            if self.write == "copy":
                statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
                    sql.Identifier(table), _names(names))
                with self.conn.cursor().copy(statement) as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                statement = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                    sql.Identifier(table), _names(names),
                    sql.SQL(", ").join(sql.Placeholder() * len(names)))
                self.conn.cursor().executemany(statement, rows)
        summary.counts[table].copied += len(rows)
        summary.counts[table].skipped += seen - len(rows)

    def _record(self, source_id: str, summary: CopySummary, last_pk: int | None,
                finished: bool) -> None:
        counts = json.dumps({t: [c.copied, c.skipped] for t, c in summary.counts.items()})
        now = time.time()
        self.conn.execute(
            "UPDATE store_copies SET last_event_pk = COALESCE(%s, last_event_pk), "
            "counts = %s, updated_at = %s, finished_at = CASE WHEN %s THEN %s "
            "ELSE finished_at END WHERE source_id = %s",
            (last_pk, counts, now, finished, now, source_id))


def _migrate(url: str, shown: str) -> None:
    """Create or migrate the target's schema through the store itself."""
    from trackside.store import open_store

    try:
        open_store(url, pool_size=2).close()
    except TracksideError as exc:
        reason = _scrub(str(exc), url)
        where = "" if shown in reason else f"cannot open the store at {shown}: "
        raise MoveError(f"--to: {where}{reason}") from None


def _names(columns: Iterable[str]) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(c) for c in columns)


def _remapped(rows: Rows, keys: dict[str, dict[int, int]],
              replace: dict[str, Any] | None = None, drop: str | None = None
              ) -> list[tuple[Any, ...]]:
    """The rows whose every key in ``keys`` has a new value (the others belong to a skipped
    event), with those keys remapped, ``replace``'s columns set and ``drop`` left out."""
    positions = {rows.columns.index(c): mapping for c, mapping in keys.items()}
    fixed = {rows.columns.index(c): v for c, v in (replace or {}).items()}
    dropped = rows.columns.index(drop) if drop else -1
    out = []
    for row in rows.rows:
        if any(row[i] not in mapping for i, mapping in positions.items()):
            continue
        values = list(row)
        for i, mapping in positions.items():
            values[i] = mapping[row[i]]
        for i, value in fixed.items():
            values[i] = value
        out.append(tuple(v for i, v in enumerate(values) if i != dropped))
    return out
