"""The unit of work of :class:`~trackside.store.postgres.PostgresStore`: named queries on the
connection of one PostgreSQL transaction, and no business rules (the callers in
trackside.context, trackside.join and trackside.retention decide). The same queries as
sqlite_unit.py in PostgreSQL's spelling; a change that makes rows due records their shop, so
the store notifies idle workers when it commits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from psycopg.rows import DictRow

from trackside.events import NormalizedEvent
from trackside.quality import match_key_mask
from trackside.shop_names import DEFAULT_SHOP, checked_shop
from trackside.store import Finished, NewEvent, OutboxPlan, PurgeCandidate, StoredEvent
from trackside.store.records import order_columns
from trackside.store.sqlite_unit import outbox_values

if TYPE_CHECKING:
    import psycopg

    from trackside.store.postgres import Transaction

#: A whole group of events in one statement (arrays, one per column): the new ones answer
#: their pk, a stored one (or a later repeat inside the group) nothing. Rows go in by key, so
#: two servers' groups with events in common wait for each other in the same order instead of
#: deadlocking; the outbox rows (which claims order by) still go in in the group's order.
_INSERT_EVENTS = (
    "INSERT INTO events (shop, event_name, event_id, event_time, source, accepted_at, body,"
    " cart_id, customer_id, match_keys, order_value, order_currency, flags) SELECT shop,"
    " event_name, event_id, event_time, source, %s, body, cart_id, customer_id, match_keys,"
    " order_value, order_currency, flags FROM unnest(%s::text[], %s::text[], %s::text[],"
    " %s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[], %s::int[], %s::float8[],"
    " %s::text[], %s::text[])"
    " WITH ORDINALITY AS new (shop, event_name, event_id, event_time, source, body, cart_id,"
    " customer_id, match_keys, order_value, order_currency, flags, n)"
    " ORDER BY shop, event_name, event_id, n"
    " ON CONFLICT (shop, event_name, event_id) DO NOTHING"
    " RETURNING pk, shop, event_name, event_id"
)
_INSERT_OUTBOX = (
    "INSERT INTO outbox (event_pk, destination, status, next_attempt_at, message, finished_at,"
    " shop) SELECT event_pk, destination, status, next_attempt_at, message, finished_at, shop"
    " FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::float8[], %s::text[],"
    " %s::float8[], %s::text[]) WITH ORDINALITY AS new (event_pk, destination, status,"
    " next_attempt_at, message, finished_at, shop, n) ORDER BY n"
)
_NOTE = "INSERT INTO notes (event_pk, at, kind, destination, detail) VALUES (%s, %s, %s, %s, %s)"
#: Held rows of events accepted before a time, of one shop or (the shop parameter NULL) of all.
EXPIRED_HOLDS = ("FROM outbox o JOIN events e ON e.pk = o.event_pk"
                 " WHERE o.status = 'held' AND e.accepted_at < %s"
                 " AND (%s::text IS NULL OR o.shop = %s)")
#: The newest browser events by join key, spelled so the planner uses the partial indexes.
BROWSER_EVENTS_BY_KEY = {
    column: (f"SELECT body FROM events WHERE source = 'browser' AND {column} IS NOT NULL"
             f" AND shop = %s AND {column} = %s AND accepted_at >= %s"
             f" ORDER BY shop, {column}, accepted_at DESC LIMIT %s")
    for column in ("cart_id", "customer_id")
}


def _dump(event: NormalizedEvent) -> str:
    return event.model_dump_json(exclude_defaults=True)


class PostgresUnit:
    def __init__(self, tx: Transaction) -> None:
        self._tx = tx
        self._conn: psycopg.Connection[DictRow] = tx.conn

    def _made_due(self, count: int, ref: int) -> int:
        if count:
            row = self._conn.execute("SELECT shop FROM events WHERE pk = %s", (ref,)).fetchone()
            if row is not None:
                self._tx.due_shops.add(row["shop"])
        return count

    def insert_new(self, records: Sequence[NewEvent], now: float) -> list[bool]:
        if not records:
            return []
        shops = [checked_shop(record.shop, "NewEvent.shop") for record in records]
        events = [record.event for record in records]
        new_pks = {(row["shop"], row["event_name"], row["event_id"]): row["pk"]
                   for row in self._conn.execute(_INSERT_EVENTS, (
                       now, shops, [e.event_name for e in events], [e.event_id for e in events],
                       [e.event_time for e in events], [r.source for r in records],
                       [_dump(e) for e in events], [e.cart_id for e in events],
                       [e.customer_id for e in events],
                       [match_key_mask(e.user_data) for e in events],
                       *(list(column) for column in zip(*map(order_columns, events),
                                                        strict=True)))).fetchall()}
        inserted: list[bool] = []
        outbox: list[tuple[Any, ...]] = []
        for record, shop in zip(records, shops, strict=True):
            # A repeat of a key inside the group is a duplicate of its first record.
            pk = new_pks.pop((shop, record.event.event_name, record.event.event_id), None)
            inserted.append(pk is not None)
            if pk is None:
                continue
            outbox.extend((*outbox_values(pk, plan, now), shop) for plan in record.outbox)
            if any(plan.status == "pending" for plan in record.outbox):
                self._tx.due_shops.add(shop)
        if outbox:
            self._conn.execute(_INSERT_OUTBOX, [list(column) for column in zip(*outbox,
                                                                               strict=True)])
        return inserted

    def find_event(self, event_name: str, event_id: str, *,
                   shop: str = DEFAULT_SHOP) -> StoredEvent | None:
        row = self._conn.execute(
            "SELECT pk, body, source, accepted_at FROM events WHERE shop = %s"
            " AND event_name = %s AND event_id = %s", (shop, event_name, event_id)).fetchone()
        if row is None:
            return None
        statuses = [r["status"] for r in self._conn.execute(
            "SELECT status FROM outbox WHERE event_pk = %s ORDER BY id", (row["pk"],))]
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
            "UPDATE events SET body = %s, cart_id = %s, customer_id = %s, match_keys = %s,"
            " order_value = %s, order_currency = %s, flags = %s, source = COALESCE(%s, source)"
            " WHERE pk = %s",
            (_dump(event), event.cart_id, event.customer_id, match_key_mask(event.user_data),
             *order_columns(event), source, ref))

    def make_due(self, ref: int, now: float) -> int:
        return self._made_due(self._conn.execute(
            "UPDATE outbox SET next_attempt_at = %s WHERE event_pk = %s AND status = 'pending'"
            " AND attempts = 0 AND next_attempt_at > %s", (now, ref, now)).rowcount, ref)

    def release_held(self, ref: int, now: float) -> int:
        return self._made_due(self._conn.execute(
            "UPDATE outbox SET status = 'pending', next_attempt_at = %s WHERE event_pk = %s"
            " AND status = 'held'", (now, ref)).rowcount, ref)

    def reopen(self, ref: int, reason: str, now: float) -> int:
        return self._made_due(self._conn.execute(
            "UPDATE outbox SET status = 'pending', next_attempt_at = %s, finished_at = NULL,"
            " message = NULL WHERE event_pk = %s AND status = 'suppressed' AND message = %s",
            (now, ref, reason)).rowcount, ref)

    def replan(self, ref: int, plans: Sequence[OutboxPlan], now: float) -> None:
        with self._conn.cursor() as cur:
            cur.executemany(
                "UPDATE outbox SET status = %s, next_attempt_at = %s, message = %s,"
                " finished_at = %s WHERE event_pk = %s AND destination = %s AND attempts = 0"
                " AND sent IS NULL AND status IN ('pending', 'held', 'suppressed')",
                [(status, now if status == "pending" else None, message, finished, ref,
                  destination)
                 for _, destination, status, _, message, finished
                 in (outbox_values(ref, plan, now) for plan in plans)])
        if any(plan.status == "pending" for plan in plans):
            self._made_due(1, ref)

    def note(self, ref: int, kind: str, detail: str, now: float,
             destination: str | None = None) -> None:
        self._conn.execute(_NOTE, (ref, now, kind, destination, detail))

    def finish(self, results: Sequence[Finished], now: float) -> None:
        with self._conn.cursor() as cur:
            cur.executemany(
                "UPDATE outbox SET status = %s, code = %s, subcode = %s, message = %s,"
                " sent = %s, finished_at = %s, attempts = attempts + %s, lease_owner = NULL,"
                " lease_expires_at = NULL, next_attempt_at = NULL"
                " WHERE id = %s AND status = 'pending'",
                [(r.status, r.code, r.subcode, r.message, r.sent, now,
                  1 if r.sent is not None else 0, r.outbox_id) for r in results],
            )

    def set_cursor(self, name: str, value: str, now: float, *,
                   shop: str = DEFAULT_SHOP) -> None:
        self._conn.execute(
            "INSERT INTO cursors (shop, name, value, updated_at) VALUES (%s, %s, %s, %s)"
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
            "UPDATE outbox SET status = 'suppressed', message = %s, finished_at = %s,"
            " next_attempt_at = NULL WHERE id IN (SELECT o.id " + EXPIRED_HOLDS + ")",
            (reason, now, accepted_before, shop, shop)).rowcount

    def purge_candidates(
        self, older_than: float, blocking: Sequence[str], *, shop: str | None = None
    ) -> list[PurgeCandidate]:
        rows = self._conn.execute(
            "SELECT pk, body FROM events e WHERE purged_at IS NULL AND accepted_at < %s"
            " AND (%s::text IS NULL OR shop = %s)"
            " AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.event_pk = e.pk"
            " AND o.status = ANY(%s)) ORDER BY pk",
            (older_than, shop, shop, list(blocking))).fetchall()
        found = []
        for row in rows:
            sent = {r["id"]: r["sent"] for r in self._conn.execute(
                "SELECT id, sent FROM outbox WHERE event_pk = %s AND sent IS NOT NULL",
                (row["pk"],))}
            found.append(PurgeCandidate(row["pk"], NormalizedEvent.model_validate_json(
                row["body"]), sent))
        return found

    def mark_purged(self, ref: int, event: NormalizedEvent, sent: dict[int, str],
                    now: float) -> None:
        self._conn.execute(
            "UPDATE events SET body = %s, cart_id = %s, customer_id = %s, order_value = %s,"
            " order_currency = %s, flags = %s, purged_at = %s WHERE pk = %s",
            (_dump(event), event.cart_id, event.customer_id, *order_columns(event), now, ref))
        with self._conn.cursor() as cur:
            cur.executemany("UPDATE outbox SET sent = %s WHERE id = %s AND event_pk = %s",
                            [(text, oid, ref) for oid, text in sent.items()])
