"""PostgreSQL queries of the delivery state machine: claim under lease, finish, reschedule,
attempts (as sqlite_outbox.py).

A mixin of :class:`~trackside.store.postgres.PostgresStore`. Many workers claim from the same
table at once: a claim locks the rows it takes with ``FOR UPDATE SKIP LOCKED``, so concurrent
claimers of the same (shop, destination) get disjoint rows and never wait on each other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from psycopg.rows import DictRow

from trackside.events import NormalizedEvent
from trackside.shop_names import DEFAULT_SHOP
from trackside.store import AttemptRecord, Claimed, Finished
from trackside.store.postgres_unit import PostgresUnit

if TYPE_CHECKING:
    from trackside.store.postgres import Transaction

#: One attempt row per outbox id, for rows still pending (a finished row records no attempt).
_INSERT_ATTEMPT = (
    "INSERT INTO attempts (outbox_id, at, verdict, http_status, code, subcode, message,"
    " batch_size, fbtrace_id) SELECT id, %s, %s, %s, %s, %s, %s, %s, %s FROM outbox"
    " WHERE id = %s AND status = 'pending'"
)


def _attempt_rows(
    attempt: AttemptRecord, now: float, outbox_ids: Sequence[int]
) -> list[tuple[Any, ...]]:
    return [(now, attempt.verdict, attempt.http_status, attempt.code, attempt.subcode,
             attempt.message, attempt.batch_size, attempt.fbtrace_id, oid)
            for oid in outbox_ids]


#: Due rows of one (shop, destination), one range of outbox_due, leased in one statement; rows
#: another claimer is taking right now are skipped, not waited for.
CLAIM_QUERY = (
    "WITH due AS (SELECT id FROM outbox"
    " WHERE shop = %s AND destination = %s AND status = 'pending'"
    " AND next_attempt_at <= %s AND (lease_expires_at IS NULL OR lease_expires_at < %s)"
    " ORDER BY next_attempt_at, id LIMIT %s FOR UPDATE SKIP LOCKED)"
    " UPDATE outbox o SET lease_owner = %s, lease_expires_at = %s FROM due, events e"
    " WHERE o.id = due.id AND e.pk = o.event_pk"
    " RETURNING o.id, o.attempts, o.next_attempt_at, e.body, e.accepted_at"
)


class PostgresHost:
    """What the query mixins (here, postgres_reports.py, postgres_jobs.py) need."""

    if TYPE_CHECKING:
        url: str
        _subscriptions: list[Callable[[], None]]

        def _read(self, sql: str, params: Sequence[Any] = ()) -> list[DictRow]: ...

        def _write(self) -> AbstractContextManager[Transaction]: ...


class OutboxQueries(PostgresHost):
    def claim(
        self, destination: str, limit: int, owner: str, lease_s: float, now: float, *,
        shop: str = DEFAULT_SHOP,
    ) -> list[Claimed]:
        with self._write() as tx:
            rows = tx.conn.execute(CLAIM_QUERY, (shop, destination, now, now, limit, owner,
                                                 now + lease_s)).fetchall()
        rows.sort(key=lambda row: (row["next_attempt_at"], row["id"]))
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
        with self._write() as tx:
            PostgresUnit(tx).finish(results, now)

    def reschedule(
        self, outbox_ids: Sequence[int], next_attempt_at: float, attempt: AttemptRecord, now: float
    ) -> None:
        if not outbox_ids:
            return
        with self._write() as tx, tx.conn.cursor() as cur:
            cur.executemany(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = %s,"
                " lease_owner = NULL, lease_expires_at = NULL, code = %s, subcode = %s,"
                " message = %s WHERE id = %s AND status = 'pending'",
                [(next_attempt_at, attempt.code, attempt.subcode, attempt.message, oid)
                 for oid in outbox_ids],
            )
            cur.executemany(_INSERT_ATTEMPT, _attempt_rows(attempt, now, outbox_ids))

    def release(self, outbox_ids: Sequence[int]) -> None:
        if not outbox_ids:
            return
        with self._write() as tx:
            # Released rows are due again: another process's idle worker may take them.
            tx.due_shops.update(row["shop"] for row in tx.conn.execute(
                "UPDATE outbox SET lease_owner = NULL, lease_expires_at = NULL"
                " WHERE id = ANY(%s) RETURNING shop", (list(outbox_ids),)))

    def record_attempts(
        self, outbox_ids: Sequence[int], attempt: AttemptRecord, now: float
    ) -> None:
        if not outbox_ids:
            return
        with self._write() as tx, tx.conn.cursor() as cur:
            cur.executemany(_INSERT_ATTEMPT, _attempt_rows(attempt, now, outbox_ids))

    def renew_lease(
        self, outbox_ids: Sequence[int], owner: str, lease_expires_at: float
    ) -> int:
        if not outbox_ids:
            return 0
        with self._write() as tx:
            return tx.conn.execute(
                "UPDATE outbox SET lease_expires_at = %s WHERE id = ANY(%s)"
                " AND lease_owner = %s AND status = 'pending'",
                (lease_expires_at, list(outbox_ids), owner)).rowcount

    def last_attempts(self, outbox_ids: Sequence[int]) -> dict[int, AttemptRecord]:
        if not outbox_ids:
            return {}
        return {
            row["outbox_id"]: AttemptRecord(
                row["verdict"], row["http_status"], row["code"], row["subcode"],
                row["message"], row["batch_size"], row["fbtrace_id"])
            for row in self._read(
                "SELECT DISTINCT ON (outbox_id) outbox_id, verdict, http_status, code, subcode,"
                " message, batch_size, fbtrace_id FROM attempts WHERE outbox_id = ANY(%s)"
                " ORDER BY outbox_id, id DESC", (list(outbox_ids),))
        }

    def expedite_retries(self, destination: str, failed_since: float, now: float, *,
                         shop: str = DEFAULT_SHOP) -> int:
        with self._write() as tx:
            count = tx.conn.execute(
                "UPDATE outbox SET next_attempt_at = %s WHERE shop = %s AND destination = %s"
                " AND status = 'pending' AND attempts > 0 AND next_attempt_at > %s"
                " AND EXISTS (SELECT 1 FROM attempts a WHERE a.outbox_id = outbox.id"
                " AND a.at >= %s AND a.verdict = 'retry')",
                (now, shop, destination, now, failed_since),
            ).rowcount
            if count:
                tx.due_shops.add(shop)
            return count

    def next_due(self, destination: str, *, shop: str = DEFAULT_SHOP) -> float | None:
        # A leased row (in flight) is due when its lease ends, as claim() sees it.
        rows = self._read(
            "SELECT MIN(GREATEST(next_attempt_at, lease_expires_at)) AS due"
            " FROM outbox WHERE shop = %s AND destination = %s AND status = 'pending'",
            (shop, destination),
        )
        due: float | None = rows[0]["due"]
        return due
