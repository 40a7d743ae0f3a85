"""The embedded store: one SQLite file in WAL mode.

Durability: every write is one ``BEGIN IMMEDIATE`` transaction with ``synchronous=FULL``, so
an event reported accepted survives a SIGKILL or a power cut. One connection, guarded by a
lock, serves the whole process: SQLite has one writer anyway, and a single connection keeps
the statement cache warm. Readers in other processes (``trackside status``) use their own.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from trackside.context import BROWSER_KEYS, merge_context, strip_browser_context, strip_sent_payload
from trackside.events import NormalizedEvent
from trackside.store.sqlite_context import BrowserContextQueries
from trackside.store import (
    FINAL_STATUSES,
    HOLD_UNTIL,
    AttemptRecord,
    Claimed,
    DestinationCounts,
    DestinationState,
    EventView,
    Finished,
    InsertResult,
    NewEvent,
    ReplayResult,
)

BUSY_TIMEOUT_S = 30.0

_INSERT_EVENT = (
    "INSERT INTO events (event_name, event_id, event_time, source, accepted_at, body)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (event_name, event_id) DO NOTHING"
)
_INSERT_OUTBOX = (
    "INSERT INTO outbox (event_pk, destination, status, next_attempt_at, message, finished_at)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)


def _migrations() -> list[tuple[int, str]]:
    folder = resources.files("trackside.store") / "migrations"
    found = []
    for entry in folder.iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), entry.read_text(encoding="utf-8")))
    return sorted(found)


class SQLiteStore(BrowserContextQueries):
    def __init__(self, path: str) -> None:
        self.path = path
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        # Overwrite freed space, so purged IPs and user agents do not linger in the file.
        self._conn.execute("PRAGMA secure_delete=ON")
        self._lock = threading.RLock()

    @classmethod
    def from_url(cls, url: str) -> SQLiteStore:
        # sqlite:///relative.db, sqlite:////absolute.db, sqlite:///:memory:
        path = url[len("sqlite://") :]
        if path.startswith("/"):
            path = path[1:]
        return cls(path or "trackside.db")

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    # -- schema --------------------------------------------------------------------------

    def migrate(self) -> None:
        with self._write() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)"
            )
            applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            for version, sql in _migrations():
                if version in applied:
                    continue
                for statement in sql.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations VALUES (?, strftime('%s','now'))", (version,)
                )

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def ping(self) -> None:
        self._read("SELECT 1")

    # -- accept ----------------------------------------------------------------------------

    def insert_events(self, records: Sequence[NewEvent], now: float) -> list[InsertResult]:
        results: list[InsertResult] = []
        # The outbox rows of the whole group go in with one executemany (one statement
        # instead of one per event); they are flushed before a duplicate is merged, because
        # the merge reads the outbox of an event this same group may have inserted.
        outbox: list[tuple[Any, ...]] = []
        with self._write() as conn:
            for record in records:
                event = record.event
                cursor = conn.execute(_INSERT_EVENT, (
                    event.event_name, event.event_id, event.event_time, record.source, now,
                    event.model_dump_json(exclude_defaults=True),
                ))
                if cursor.rowcount == 0:
                    if outbox:
                        conn.executemany(_INSERT_OUTBOX, outbox)
                        outbox = []
                    results.append(self._merge_duplicate(conn, record, now))
                    continue
                pk = cursor.lastrowid
                for plan in record.outbox:
                    status = plan.status
                    outbox.append((
                        pk, plan.destination, status,
                        (plan.next_attempt_at if plan.next_attempt_at is not None else now)
                        if status == "pending" else None,
                        plan.reason,
                        now if status in FINAL_STATUSES else None,
                    ))
                results.append(InsertResult(event.event_name, event.event_id, "queued"))
            if outbox:
                conn.executemany(_INSERT_OUTBOX, outbox)
        return results

    def _merge_duplicate(self, conn: sqlite3.Connection, record: NewEvent, now: float) -> InsertResult:
        incoming = record.event
        row = conn.execute(
            "SELECT pk, body FROM events WHERE event_name = ? AND event_id = ?",
            (incoming.event_name, incoming.event_id),
        ).fetchone()
        pk = row["pk"]
        pending = conn.execute(
            "SELECT COUNT(*) FROM outbox WHERE event_pk = ? AND status = 'pending'", (pk,)
        ).fetchone()[0]
        added: list[str] = []
        if pending:
            stored = NormalizedEvent.model_validate_json(row["body"])
            merged, added = merge_context(stored, incoming)
            if added:
                conn.execute(
                    "UPDATE events SET body = ? WHERE pk = ?",
                    (merged.model_dump_json(exclude_defaults=True), pk),
                )
                if BROWSER_KEYS.intersection(added):
                    # The browser context the join window waited for is here: send now.
                    # Never a held row: another browser copy is no confirmation.
                    conn.execute(
                        "UPDATE outbox SET next_attempt_at = ? WHERE event_pk = ?"
                        " AND status = 'pending' AND attempts = 0 AND next_attempt_at > ?"
                        " AND next_attempt_at < ?",
                        (now, pk, now, HOLD_UNTIL),
                    )
        detail = f"duplicate from {record.source}"
        detail += f"; added {', '.join(added)}" if added else "; nothing new"
        conn.execute(
            "INSERT INTO notes (event_pk, at, kind, detail) VALUES (?, ?, 'duplicate', ?)",
            (pk, now, detail),
        )
        return InsertResult(incoming.event_name, incoming.event_id, "duplicate", added)

    # -- delivery --------------------------------------------------------------------------

    def claim(
        self, destination: str, limit: int, owner: str, lease_s: float, now: float
    ) -> list[Claimed]:
        with self._write() as conn:
            rows = conn.execute(
                "SELECT o.id, o.attempts, e.body, e.accepted_at FROM outbox o"
                " JOIN events e ON e.pk = o.event_pk"
                " WHERE o.destination = ? AND o.status = 'pending' AND o.next_attempt_at <= ?"
                " AND (o.lease_expires_at IS NULL OR o.lease_expires_at < ?)"
                " ORDER BY o.next_attempt_at, o.id LIMIT ?",
                (destination, now, now, limit),
            ).fetchall()
            if rows:
                conn.executemany(
                    "UPDATE outbox SET lease_owner = ?, lease_expires_at = ? WHERE id = ?",
                    [(owner, now + lease_s, row["id"]) for row in rows],
                )
        return [
            Claimed(
                outbox_id=row["id"],
                destination=destination,
                attempts=row["attempts"],
                event=NormalizedEvent.model_validate_json(row["body"]),
                accepted_at=row["accepted_at"],
            )
            for row in rows
        ]

    def finish(self, results: Sequence[Finished], now: float) -> None:
        if not results:
            return
        with self._write() as conn:
            conn.executemany(
                "UPDATE outbox SET status = ?, code = ?, subcode = ?, message = ?, sent = ?,"
                " finished_at = ?, attempts = attempts + ?, lease_owner = NULL,"
                " lease_expires_at = NULL, next_attempt_at = NULL"
                " WHERE id = ? AND status = 'pending'",
                [
                    (r.status, r.code, r.subcode, r.message, r.sent, now,
                     1 if r.sent is not None else 0, r.outbox_id)
                    for r in results
                ],
            )

    def reschedule(
        self, outbox_ids: Sequence[int], next_attempt_at: float, attempt: AttemptRecord, now: float
    ) -> None:
        if not outbox_ids:
            return
        with self._write() as conn:
            conn.executemany(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, lease_owner = NULL,"
                " lease_expires_at = NULL, code = ?, subcode = ?, message = ?"
                " WHERE id = ? AND status = 'pending'",
                [(next_attempt_at, attempt.code, attempt.subcode, attempt.message, oid)
                 for oid in outbox_ids],
            )
            conn.executemany(
                "INSERT INTO attempts (outbox_id, at, verdict, http_status, code, subcode, message,"
                " batch_size) SELECT id, ?, ?, ?, ?, ?, ?, ? FROM outbox"
                " WHERE id = ? AND status = 'pending'",
                [(now, attempt.verdict, attempt.http_status, attempt.code, attempt.subcode,
                  attempt.message, attempt.batch_size, oid) for oid in outbox_ids],
            )

    def release(self, outbox_ids: Sequence[int]) -> None:
        if not outbox_ids:
            return
        with self._write() as conn:
            conn.executemany(
                "UPDATE outbox SET lease_owner = NULL, lease_expires_at = NULL WHERE id = ?",
                [(oid,) for oid in outbox_ids],
            )

    def record_attempts(
        self, outbox_ids: Sequence[int], attempt: AttemptRecord, now: float
    ) -> None:
        if not outbox_ids:
            return
        with self._write() as conn:
            conn.executemany(
                "INSERT INTO attempts (outbox_id, at, verdict, http_status, code, subcode, message,"
                " batch_size) SELECT id, ?, ?, ?, ?, ?, ?, ? FROM outbox"
                " WHERE id = ? AND status = 'pending'",
                [(now, attempt.verdict, attempt.http_status, attempt.code, attempt.subcode,
                  attempt.message, attempt.batch_size, oid) for oid in outbox_ids],
            )

    def renew_lease(
        self, outbox_ids: Sequence[int], owner: str, lease_expires_at: float
    ) -> int:
        if not outbox_ids:
            return 0
        with self._write() as conn:
            held = 0
            for oid in outbox_ids:
                held += conn.execute(
                    "UPDATE outbox SET lease_expires_at = ? WHERE id = ? AND lease_owner = ?"
                    " AND status = 'pending'",
                    (lease_expires_at, oid, owner),
                ).rowcount
        return held

    def last_attempts(self, outbox_ids: Sequence[int]) -> dict[int, AttemptRecord]:
        found: dict[int, AttemptRecord] = {}
        ids = list(outbox_ids)
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            marks = ",".join("?" * len(part))
            for row in self._read(
                "SELECT a.outbox_id, a.verdict, a.http_status, a.code, a.subcode, a.message,"
                " a.batch_size FROM attempts a WHERE a.id IN (SELECT MAX(id) FROM attempts"
                f" WHERE outbox_id IN ({marks}) GROUP BY outbox_id)",
                part,
            ):
                found[row["outbox_id"]] = AttemptRecord(
                    row["verdict"], row["http_status"], row["code"], row["subcode"],
                    row["message"], row["batch_size"],
                )
        return found

    def expedite_retries(self, destination: str, failed_since: float, now: float) -> int:
        with self._write() as conn:
            return conn.execute(
                "UPDATE outbox SET next_attempt_at = ? WHERE destination = ? AND status = 'pending'"
                " AND attempts > 0 AND next_attempt_at > ? AND EXISTS (SELECT 1 FROM attempts a"
                " WHERE a.outbox_id = outbox.id AND a.at >= ? AND a.verdict = 'retry')",
                (now, destination, now, failed_since),
            ).rowcount

    def next_due(self, destination: str) -> float | None:
        rows = self._read(
            "SELECT MIN(next_attempt_at) FROM outbox WHERE destination = ? AND status = 'pending'",
            (destination,),
        )
        return rows[0][0]

    # -- notes and destination state ------------------------------------------------------

    def add_note(
        self, event_name: str, event_id: str, kind: str, detail: str, now: float,
        destination: str | None = None,
    ) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO notes (event_pk, at, kind, destination, detail)"
                " SELECT pk, ?, ?, ?, ? FROM events WHERE event_name = ? AND event_id = ?",
                (now, kind, destination, detail, event_name, event_id),
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
        self, destination: str, until: float | None, reason: str, code: int | None, now: float
    ) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO destination_state (destination, paused_until, reason, code, updated_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (destination) DO UPDATE SET"
                " paused_until = excluded.paused_until, reason = excluded.reason,"
                " code = excluded.code, updated_at = excluded.updated_at",
                (destination, until, reason, code, now),
            )

    def resume_destination(self, destination: str) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM destination_state WHERE destination = ?", (destination,))

    def destination_states(self) -> list[DestinationState]:
        return [
            DestinationState(r["destination"], r["paused_until"], r["reason"], r["code"],
                             r["updated_at"])
            for r in self._read("SELECT * FROM destination_state ORDER BY destination")
        ]

    # -- reporting ---------------------------------------------------------------------------

    def counts(self) -> list[DestinationCounts]:
        by_destination: dict[str, DestinationCounts] = {}
        for row in self._read(
            "SELECT destination, status, COUNT(*) AS n FROM outbox GROUP BY destination, status"
        ):
            entry = by_destination.setdefault(
                row["destination"], DestinationCounts(row["destination"], {}, None)
            )
            entry.counts[row["status"]] = row["n"]
        for row in self._read(
            "SELECT o.destination, MIN(e.accepted_at) AS oldest FROM outbox o"
            " JOIN events e ON e.pk = o.event_pk WHERE o.status = 'pending'"
            " GROUP BY o.destination"
        ):
            by_destination[row["destination"]].oldest_pending_accepted_at = row["oldest"]
        return [by_destination[name] for name in sorted(by_destination)]

    def event_view(self, event_id: str) -> list[EventView]:
        views = []
        for event in self._read(
            "SELECT * FROM events WHERE event_id = ? ORDER BY accepted_at", (event_id,)
        ):
            pk = event["pk"]
            outbox = [
                {key: row[key] for key in row.keys() if key not in ("event_pk", "lease_owner")}
                for row in self._read("SELECT * FROM outbox WHERE event_pk = ? ORDER BY id", (pk,))
            ]
            for row in outbox:
                if row["sent"]:
                    row["sent"] = json.loads(row["sent"])
            attempts = [
                dict(row)
                for row in self._read(
                    "SELECT a.*, o.destination FROM attempts a JOIN outbox o ON o.id = a.outbox_id"
                    " WHERE o.event_pk = ? ORDER BY a.at, a.id",
                    (pk,),
                )
            ]
            notes = [
                dict(row)
                for row in self._read(
                    "SELECT at, kind, destination, detail FROM notes WHERE event_pk = ?"
                    " ORDER BY at, id",
                    (pk,),
                )
            ]
            views.append(
                EventView(
                    event_name=event["event_name"],
                    event_id=event["event_id"],
                    source=event["source"],
                    accepted_at=event["accepted_at"],
                    event=NormalizedEvent.model_validate_json(event["body"]),
                    outbox=outbox,
                    attempts=attempts,
                    notes=notes,
                )
            )
        return views

    def replay(
        self,
        *,
        destination: str | None,
        since: float | None,
        until: float | None,
        event_id: str | None,
        min_event_time: dict[str, float],
        now: float,
    ) -> ReplayResult:
        sql = (
            "SELECT o.id, o.destination, e.event_id, e.event_time, o.event_pk FROM outbox o"
            " JOIN events e ON e.pk = o.event_pk WHERE o.status IN ('dead', 'expired')"
        )
        params: list[Any] = []
        if destination:
            sql += " AND o.destination = ?"
            params.append(destination)
        if since is not None:
            sql += " AND e.event_time >= ?"
            params.append(since)
        if until is not None:
            sql += " AND e.event_time <= ?"
            params.append(until)
        if event_id:
            sql += " AND e.event_id = ?"
            params.append(event_id)
        replayed: list[sqlite3.Row] = []
        refused: list[tuple[str, str]] = []
        with self._write() as conn:
            for row in conn.execute(sql, params).fetchall():
                oldest = min_event_time.get(row["destination"])
                if oldest is not None and row["event_time"] < oldest:
                    refused.append(
                        (row["event_id"],
                         f"{row['destination']}: event_time is outside the destination's window")
                    )
                    continue
                replayed.append(row)
            conn.executemany(
                "UPDATE outbox SET status = 'pending', next_attempt_at = ?, finished_at = NULL,"
                " lease_owner = NULL, lease_expires_at = NULL WHERE id = ?",
                [(now, row["id"]) for row in replayed],
            )
            conn.executemany(
                "INSERT INTO notes (event_pk, at, kind, destination, detail)"
                " VALUES (?, ?, 'replay', ?, 'replayed by operator')",
                [(row["event_pk"], now, row["destination"]) for row in replayed],
            )
        return ReplayResult(len(replayed), refused)

    # -- retention -----------------------------------------------------------------------------

    def purge_personal_data(self, older_than: float, now: float, include_dead: bool = False) -> int:
        """Clear IP, user agent and browser identifiers of final events accepted before
        ``older_than``; dead letters only with ``include_dead`` (they may still be replayed)."""
        blocking = "('pending')" if include_dead else "('pending', 'dead')"
        purged = 0
        with self._write() as conn:
            rows = conn.execute(
                "SELECT pk, body FROM events e WHERE purged_at IS NULL AND accepted_at < ?"
                f" AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.event_pk = e.pk"
                f" AND o.status IN {blocking})",
                (older_than,),
            ).fetchall()
            for row in rows:
                event = strip_browser_context(NormalizedEvent.model_validate_json(row["body"]))
                conn.execute(
                    "UPDATE events SET body = ?, purged_at = ? WHERE pk = ?",
                    (event.model_dump_json(exclude_defaults=True), now, row["pk"]),
                )
                for sent in conn.execute(
                    "SELECT id, sent FROM outbox WHERE event_pk = ? AND sent IS NOT NULL",
                    (row["pk"],),
                ).fetchall():
                    conn.execute("UPDATE outbox SET sent = ? WHERE id = ?",
                                 (strip_sent_payload(sent["sent"]), sent["id"]))
                purged += 1
        with self._lock:
            # Old page images in the WAL still hold the cleared values until checkpointed.
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return purged

    # -- cursors -------------------------------------------------------------------------------

    def get_cursor(self, name: str) -> str | None:
        rows = self._read("SELECT value FROM cursors WHERE name = ?", (name,))
        return rows[0][0] if rows else None

    def set_cursor(self, name: str, value: str, now: float) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO cursors (name, value, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET value = excluded.value,"
                " updated_at = excluded.updated_at",
                (name, value, now),
            )
