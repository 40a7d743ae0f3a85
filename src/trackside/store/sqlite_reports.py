"""SQLite queries for people: counts, an event's whole record, replay and drop by an operator.

A mixin of :class:`~trackside.store.sqlite.SQLiteStore`, kept in its own module so each stays
readable; the methods are part of the Store protocol.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from trackside.events import NormalizedEvent
from trackside.shop_names import DEFAULT_SHOP
from trackside.store import (
    AttemptRow,
    DestinationCounts,
    DropResult,
    EventView,
    NoteRow,
    OrderFacts,
    OutboxRow,
    ReplayResult,
)
from trackside.store.records import orders_from_rows
from trackside.store.sqlite_outbox import SQLiteHost

#: The store's orders of a period (Store.orders): the predicate spelled as the partial index
#: events_orders (migration 0010) so one index range answers it; their outbox rows by
#: UNIQUE (event_pk, destination). The row comparison on (event_time, pk) is the cursor.
ORDERS = (
    "SELECT e.pk, e.event_id, e.event_time, e.order_value, e.order_currency, e.flags,"
    " o.destination, o.status,"
    " CASE WHEN o.status IN ('suppressed', 'not_applicable') THEN o.message END"
    " FROM (SELECT pk, event_id, event_time, order_value, order_currency, flags FROM events"
    "       WHERE event_name = 'Purchase' AND source <> 'browser' AND shop = ?"
    "       AND event_time >= ? AND event_time < ? AND (event_time, pk) > (?, ?)"
    "       ORDER BY shop, event_time, pk LIMIT ?) AS e"
    " LEFT JOIN outbox o ON o.event_pk = e.pk ORDER BY e.event_time, e.pk, o.id"
)


class ReportQueries(SQLiteHost):
    def orders(
        self, since: int, until: int, *, shop: str = DEFAULT_SHOP,
        after: tuple[int, int] | None = None, limit: int | None = None,
    ) -> list[OrderFacts]:
        after_time, after_ref = after if after is not None else (-1, 0)
        return orders_from_rows(tuple(row) for row in self._read(ORDERS, (
            shop, since, until, after_time, after_ref, -1 if limit is None else limit)))

    def counts(self, *, shop: str | None = None) -> list[DestinationCounts]:
        """Per (shop, destination), of one shop or (None) of all shops."""
        by_key: dict[tuple[str, str], DestinationCounts] = {}
        for row in self._read(
            "SELECT shop, destination, status, COUNT(*) AS n FROM outbox"
            " WHERE ? IS NULL OR shop = ? GROUP BY shop, destination, status", (shop, shop)
        ):
            entry = by_key.setdefault(
                (row["shop"], row["destination"]),
                DestinationCounts(row["destination"], {}, None, row["shop"]),
            )
            entry.counts[row["status"]] = row["n"]
        for row in self._read(
            "SELECT o.shop, o.destination, MIN(e.accepted_at) AS oldest FROM outbox o"
            " JOIN events e ON e.pk = o.event_pk WHERE o.status IN ('pending', 'held')"
            " AND (? IS NULL OR o.shop = ?) GROUP BY o.shop, o.destination", (shop, shop)
        ):
            by_key[(row["shop"], row["destination"])].oldest_pending_accepted_at = row["oldest"]
        return [by_key[key] for key in sorted(by_key)]

    def event_view(self, event_id: str, *, shop: str = DEFAULT_SHOP) -> list[EventView]:
        views = []
        for event in self._read(
            "SELECT * FROM events WHERE shop = ? AND event_id = ? ORDER BY accepted_at",
            (shop, event_id),
        ):
            pk = event["pk"]
            outbox = [
                OutboxRow(
                    id=row["id"], destination=row["destination"], status=row["status"],
                    attempts=row["attempts"], next_attempt_at=row["next_attempt_at"],
                    lease_expires_at=row["lease_expires_at"], code=row["code"],
                    subcode=row["subcode"], message=row["message"],
                    finished_at=row["finished_at"],
                    sent=json.loads(row["sent"]) if row["sent"] else row["sent"],
                    attempts_not_kept=row["attempts_not_kept"],
                )
                for row in self._read("SELECT * FROM outbox WHERE event_pk = ? ORDER BY id", (pk,))
            ]
            attempts = [
                AttemptRow(
                    id=row["id"], outbox_id=row["outbox_id"], destination=row["destination"],
                    at=row["at"], verdict=row["verdict"], http_status=row["http_status"],
                    code=row["code"], subcode=row["subcode"], message=row["message"],
                    batch_size=row["batch_size"], fbtrace_id=row["fbtrace_id"],
                )
                for row in self._read(
                    "SELECT a.*, o.destination FROM attempts a JOIN outbox o ON o.id = a.outbox_id"
                    " WHERE o.event_pk = ? ORDER BY a.at, a.id",
                    (pk,),
                )
            ]
            notes = [
                NoteRow(at=row["at"], kind=row["kind"], detail=row["detail"],
                        destination=row["destination"])
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
                    shop=shop,
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
        shop: str = DEFAULT_SHOP,
    ) -> ReplayResult:
        sql = (
            "SELECT o.id, o.destination, e.event_id, e.event_time, o.event_pk FROM outbox o"
            " JOIN events e ON e.pk = o.event_pk WHERE o.shop = ?"
            " AND o.status IN ('dead', 'expired')"
        )
        params: list[Any] = [shop]
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

    def drop_pending(
        self, event_id: str, destination: str | None, reason: str, actor: str, now: float,
        *, shop: str = DEFAULT_SHOP,
    ) -> DropResult:
        sql = ("SELECT o.id, o.event_pk, o.destination, o.status, e.event_name FROM outbox o"
               " JOIN events e ON e.pk = o.event_pk WHERE e.shop = ? AND e.event_id = ?")
        params: list[Any] = [shop, event_id]
        if destination is not None:
            sql += " AND o.destination = ?"
            params.append(destination)
        dropped: list[tuple[str, str]] = []
        refused: list[tuple[str, str, str]] = []
        with self._write() as conn:
            for row in conn.execute(sql + " ORDER BY e.pk, o.id", params).fetchall():
                if row["status"] not in ("pending", "held"):
                    refused.append((row["event_name"], row["destination"], row["status"]))
                    continue
                # The status again: the worker may have finished it meanwhile.
                changed = conn.execute(
                    "UPDATE outbox SET status = 'dead', code = NULL, subcode = NULL, message = ?,"
                    " finished_at = ?, next_attempt_at = NULL, lease_owner = NULL,"
                    " lease_expires_at = NULL WHERE id = ? AND status IN ('pending', 'held')",
                    (f"dropped by operator: {reason}", now, row["id"]),
                ).rowcount
                if not changed:
                    continue
                conn.execute(
                    "INSERT INTO notes (event_pk, at, kind, destination, detail)"
                    " VALUES (?, ?, 'dropped', ?, ?)",
                    (row["event_pk"], now, row["destination"], f"dropped by {actor}: {reason}"),
                )
                dropped.append((row["event_name"], row["destination"]))
        return DropResult(dropped, refused)
