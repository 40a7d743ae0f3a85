"""SQLite queries of the delivery state machine: claim under lease, finish, reschedule, attempts.

A mixin of :class:`~trackside.store.sqlite.SQLiteStore`, kept in its own module so each stays
readable; the methods are part of the Store protocol.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from trackside.events import NormalizedEvent
from trackside.shop_names import DEFAULT_SHOP
from trackside.store import AttemptRecord, Claimed, Finished
from trackside.store.sqlite_unit import SQLiteUnit

#: One attempt row per outbox id, for rows still pending (a finished row records no attempt).
_INSERT_ATTEMPT = (
    "INSERT INTO attempts (outbox_id, at, verdict, http_status, code, subcode, message,"
    " batch_size, fbtrace_id) SELECT id, ?, ?, ?, ?, ?, ?, ?, ? FROM outbox"
    " WHERE id = ? AND status = 'pending'"
)


def _attempt_rows(
    attempt: AttemptRecord, now: float, outbox_ids: Sequence[int]
) -> list[tuple[Any, ...]]:
    return [(now, attempt.verdict, attempt.http_status, attempt.code, attempt.subcode,
             attempt.message, attempt.batch_size, attempt.fbtrace_id, oid)
            for oid in outbox_ids]


#: Due rows of one (shop, destination): one range of outbox_due (shop, destination,
#: next_attempt_at), so another shop's backlog is never read (bench/claim_shops.py).
CLAIM_QUERY = (
    "SELECT o.id, o.attempts, e.body, e.accepted_at FROM outbox o"
    " JOIN events e ON e.pk = o.event_pk"
    " WHERE o.shop = ? AND o.destination = ? AND o.status = 'pending'"
    " AND o.next_attempt_at <= ? AND (o.lease_expires_at IS NULL OR o.lease_expires_at < ?)"
    " ORDER BY o.next_attempt_at, o.id LIMIT ?"
)


class SQLiteHost:
    """What the query mixins (here and in sqlite_reports.py) need from SQLiteStore."""

    if TYPE_CHECKING:
        def _read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]: ...

        def _write(self) -> AbstractContextManager[sqlite3.Connection]: ...


class OutboxQueries(SQLiteHost):
    def claim(
        self, destination: str, limit: int, owner: str, lease_s: float, now: float, *,
        shop: str = DEFAULT_SHOP,
    ) -> list[Claimed]:
        with self._write() as conn:
            rows = conn.execute(CLAIM_QUERY, (shop, destination, now, now, limit)).fetchall()
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
                shop=shop,
            )
            for row in rows
        ]

    def finish(self, results: Sequence[Finished], now: float) -> None:
        if not results:
            return
        with self._write() as conn:
            SQLiteUnit(conn).finish(results, now)

    def reschedule(
        self, outbox_ids: Sequence[int], next_attempt_at: float, attempt: AttemptRecord, now: float
    ) -> None:
        if not outbox_ids:
            return
        with self._write() as conn:
            conn.executemany(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?,"
                " lease_owner = NULL,"
                " lease_expires_at = NULL, code = ?, subcode = ?, message = ?"
                " WHERE id = ? AND status = 'pending'",
                [(next_attempt_at, attempt.code, attempt.subcode, attempt.message, oid)
                 for oid in outbox_ids],
            )
            conn.executemany(_INSERT_ATTEMPT, _attempt_rows(attempt, now, outbox_ids))

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
            conn.executemany(_INSERT_ATTEMPT, _attempt_rows(attempt, now, outbox_ids))

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
                " a.batch_size, a.fbtrace_id FROM attempts a WHERE a.id IN (SELECT MAX(id)"
                f" FROM attempts WHERE outbox_id IN ({marks}) GROUP BY outbox_id)",
                part,
            ):
                found[row["outbox_id"]] = AttemptRecord(
                    row["verdict"], row["http_status"], row["code"], row["subcode"],
                    row["message"], row["batch_size"], row["fbtrace_id"],
                )
        return found

    def expedite_retries(self, destination: str, failed_since: float, now: float, *,
                         shop: str = DEFAULT_SHOP) -> int:
        with self._write() as conn:
            return conn.execute(
                "UPDATE outbox SET next_attempt_at = ? WHERE shop = ? AND destination = ?"
                " AND status = 'pending' AND attempts > 0 AND next_attempt_at > ?"
                " AND EXISTS (SELECT 1 FROM attempts a WHERE a.outbox_id = outbox.id"
                " AND a.at >= ? AND a.verdict = 'retry')",
                (now, shop, destination, now, failed_since),
            ).rowcount

    def next_due(self, destination: str, *, shop: str = DEFAULT_SHOP) -> float | None:
        # A leased row (in flight) is due when its lease ends, as claim() sees it: otherwise
        # the idle lanes of a destination with a row in flight claim in a busy loop.
        rows = self._read(
            "SELECT MIN(MAX(next_attempt_at, COALESCE(lease_expires_at, next_attempt_at)))"
            " FROM outbox WHERE shop = ? AND destination = ? AND status = 'pending'",
            (shop, destination),
        )
        due: float | None = rows[0][0]
        return due
