"""The unit of work of :class:`~trackside.store.sqlite.SQLiteStore`: named queries on the write
connection of one ``BEGIN IMMEDIATE`` transaction, and no business rules (the callers in
trackside.context, trackside.join and trackside.retention decide)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, Literal

from trackside.events import NormalizedEvent
from trackside.quality import match_key_mask
from trackside.shop_names import DEFAULT_SHOP, checked_shop
from trackside.store import (
    FINAL_STATUSES,
    Finished,
    NewEvent,
    OutboxPlan,
    PurgeCandidate,
    StoredEvent,
)
from trackside.store.records import order_columns

_INSERT_EVENT = (
    "INSERT INTO events (shop, event_name, event_id, event_time, source, accepted_at, body,"
    " cart_id, customer_id, match_keys, order_value, order_currency, flags)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (shop, event_name, event_id) DO NOTHING"
)
_INSERT_OUTBOX = (
    "INSERT INTO outbox (event_pk, destination, status, next_attempt_at, message, finished_at,"
    " shop) VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_NOTE = "INSERT INTO notes (event_pk, at, kind, destination, detail) VALUES (?, ?, ?, ?, ?)"
#: Held rows of events accepted before a time (outbox_held, then one lookup per row), of one
#: shop or (the shop parameter NULL) of all shops.
EXPIRED_HOLDS = ("FROM outbox o JOIN events e ON e.pk = o.event_pk"
                  " WHERE o.status = 'held' AND e.accepted_at < ? AND (? IS NULL OR o.shop = ?)")


#: The newest browser events by join key; the columns of migration 0006, spelled so the
#: planner uses its partial indexes.
BROWSER_EVENTS_BY_KEY = {
    column: (f"SELECT body FROM events WHERE source = 'browser' AND {column} IS NOT NULL"
             f" AND shop = ? AND {column} = ? AND accepted_at >= ?"
             f" ORDER BY shop, {column}, accepted_at DESC LIMIT ?")
    for column in ("cart_id", "customer_id")
}


def _dump(event: NormalizedEvent) -> str:
    return event.model_dump_json(exclude_defaults=True)


def outbox_values(pk: int, plan: OutboxPlan, now: float) -> tuple[Any, ...]:
    status = plan.status
    due = plan.next_attempt_at if plan.next_attempt_at is not None else now
    return (pk, plan.destination, status, due if status == "pending" else None, plan.reason,
            now if status in FINAL_STATUSES else None)


class SQLiteUnit:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        #: Set by mark_purged: the store checkpoints the WAL after the commit.
        self.purged = False

    def insert_new(self, records: Sequence[NewEvent], now: float) -> list[bool]:
        inserted: list[bool] = []
        # The outbox rows of the whole group go in with one executemany (one statement
        # instead of one per event).
        outbox: list[tuple[Any, ...]] = []
        for record in records:
            event = record.event
            cursor = self._conn.execute(_INSERT_EVENT, (
                checked_shop(record.shop, "NewEvent.shop"), event.event_name, event.event_id,
                event.event_time, record.source, now,
                _dump(event), event.cart_id, event.customer_id, match_key_mask(event.user_data),
                *order_columns(event),
            ))
            inserted.append(cursor.rowcount != 0)
            if cursor.rowcount == 0:
                continue
            pk = cursor.lastrowid
            assert pk is not None
            outbox.extend((*outbox_values(pk, plan, now), record.shop) for plan in record.outbox)
        if outbox:
            self._conn.executemany(_INSERT_OUTBOX, outbox)
        return inserted

    def find_event(self, event_name: str, event_id: str, *,
                   shop: str = DEFAULT_SHOP) -> StoredEvent | None:
        row = self._conn.execute(
            "SELECT pk, body, source, accepted_at FROM events WHERE shop = ? AND event_name = ?"
            " AND event_id = ?", (shop, event_name, event_id)).fetchone()
        if row is None:
            return None
        statuses = [r[0] for r in self._conn.execute(
            "SELECT status FROM outbox WHERE event_pk = ? ORDER BY id", (row["pk"],))]
        # The body is parsed only if the caller reads the event (StoredEvent.event).
        return StoredEvent(row["pk"], row["body"], row["source"], row["accepted_at"],
                           statuses, shop)

    def browser_events_by_key(
        self, key: Literal["cart_id", "customer_id"], value: str, since: float, limit: int = 10,
        *, shop: str = DEFAULT_SHOP,
    ) -> list[NormalizedEvent]:
        rows = self._conn.execute(BROWSER_EVENTS_BY_KEY[key],
                                  (shop, value, since, limit)).fetchall()
        return [NormalizedEvent.model_validate_json(row["body"]) for row in rows]

    def update_event(self, ref: int, event: NormalizedEvent, source: str | None = None) -> None:
        self._conn.execute(
            "UPDATE events SET body = ?, cart_id = ?, customer_id = ?, match_keys = ?,"
            " order_value = ?, order_currency = ?, flags = ?, source = COALESCE(?, source)"
            " WHERE pk = ?",
            (_dump(event), event.cart_id, event.customer_id, match_key_mask(event.user_data),
             *order_columns(event), source, ref))

    def make_due(self, ref: int, now: float) -> int:
        return self._conn.execute(
            "UPDATE outbox SET next_attempt_at = ? WHERE event_pk = ? AND status = 'pending'"
            " AND attempts = 0 AND next_attempt_at > ?", (now, ref, now)).rowcount

    def release_held(self, ref: int, now: float) -> int:
        return self._conn.execute(
            "UPDATE outbox SET status = 'pending', next_attempt_at = ? WHERE event_pk = ?"
            " AND status = 'held'", (now, ref)).rowcount

    def reopen(self, ref: int, reason: str, now: float) -> int:
        return self._conn.execute(
            "UPDATE outbox SET status = 'pending', next_attempt_at = ?, finished_at = NULL,"
            " message = NULL WHERE event_pk = ? AND status = 'suppressed' AND message = ?",
            (now, ref, reason)).rowcount

    def replan(self, ref: int, plans: Sequence[OutboxPlan], now: float) -> None:
        self._conn.executemany(
            "UPDATE outbox SET status = ?, next_attempt_at = ?, message = ?, finished_at = ?"
            " WHERE event_pk = ? AND destination = ? AND attempts = 0 AND sent IS NULL"
            " AND status IN ('pending', 'held', 'suppressed')",
            [(status, now if status == "pending" else None, message, finished, ref, destination)
             for _, destination, status, _, message, finished
             in (outbox_values(ref, plan, now) for plan in plans)])

    def note(self, ref: int, kind: str, detail: str, now: float,
             destination: str | None = None) -> None:
        self._conn.execute(_NOTE, (ref, now, kind, destination, detail))

    def finish(self, results: Sequence[Finished], now: float) -> None:
        self._conn.executemany(
            "UPDATE outbox SET status = ?, code = ?, subcode = ?, message = ?, sent = ?,"
            " finished_at = ?, attempts = attempts + ?, lease_owner = NULL,"
            " lease_expires_at = NULL, next_attempt_at = NULL"
            " WHERE id = ? AND status = 'pending'",
            [(r.status, r.code, r.subcode, r.message, r.sent, now,
              1 if r.sent is not None else 0, r.outbox_id) for r in results],
        )

    def set_cursor(self, name: str, value: str, now: float, *,
                   shop: str = DEFAULT_SHOP) -> None:
        self._conn.execute(
            "INSERT INTO cursors (shop, name, value, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (shop, name) DO UPDATE SET value = excluded.value,"
            " updated_at = excluded.updated_at",
            (checked_shop(shop), name, value, now),
        )

    def has_expired_holds(self, accepted_before: float, *, shop: str | None = None) -> bool:
        return self._conn.execute("SELECT 1 " + EXPIRED_HOLDS + " LIMIT 1",
                                  (accepted_before, shop, shop)).fetchone() is not None

    def finish_expired_holds(self, accepted_before: float, reason: str, now: float, *,
                             shop: str | None = None) -> int:
        return self._conn.execute(
            "UPDATE outbox SET status = 'suppressed', message = ?, finished_at = ?,"
            " next_attempt_at = NULL WHERE id IN (SELECT o.id " + EXPIRED_HOLDS + ")",
            (reason, now, accepted_before, shop, shop)).rowcount

    def purge_candidates(
        self, older_than: float, blocking: Sequence[str], *, shop: str | None = None
    ) -> list[PurgeCandidate]:
        marks = ",".join("?" * len(blocking)) or "NULL"
        rows = self._conn.execute(
            "SELECT pk, body FROM events e WHERE purged_at IS NULL AND accepted_at < ?"
            " AND (? IS NULL OR shop = ?)"
            " AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.event_pk = e.pk"
            f" AND o.status IN ({marks})) ORDER BY pk",
            (older_than, shop, shop, *blocking)).fetchall()
        found = []
        for row in rows:
            sent = {r["id"]: r["sent"] for r in self._conn.execute(
                "SELECT id, sent FROM outbox WHERE event_pk = ? AND sent IS NOT NULL",
                (row["pk"],))}
            found.append(PurgeCandidate(row["pk"], NormalizedEvent.model_validate_json(
                row["body"]), sent))
        return found

    def mark_purged(self, ref: int, event: NormalizedEvent, sent: dict[int, str],
                    now: float) -> None:
        self._conn.execute(
            "UPDATE events SET body = ?, cart_id = ?, customer_id = ?, order_value = ?,"
            " order_currency = ?, flags = ?, purged_at = ? WHERE pk = ?",
            (_dump(event), event.cart_id, event.customer_id, *order_columns(event), now, ref))
        self._conn.executemany("UPDATE outbox SET sent = ? WHERE id = ? AND event_pk = ?",
                               [(text, oid, ref) for oid, text in sent.items()])
        self.purged = True
