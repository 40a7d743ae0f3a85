"""PostgreSQL reads for the console (web/console/), as sqlite_console.py.

A mixin of :class:`~trackside.store.postgres.PostgresStore`; the methods are part of the Store
protocol. None of them returns an event's body: the console never sees personal data.
"""

from __future__ import annotations

from trackside.shop_names import DEFAULT_SHOP
from trackside.store.postgres_outbox import PostgresHost
from trackside.store.records import DailyCount, DeadLetter, DeliveryLatency, EventSummary


class ConsoleQueries(PostgresHost):
    def events_per_day(self, since: float, until: float, *,
                       shop: str = DEFAULT_SHOP) -> list[DailyCount]:
        return [
            DailyCount(row["day"], row["source"], row["n"])
            for row in self._read(
                "SELECT to_char(to_timestamp(accepted_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
                " AS day, source, COUNT(*) AS n FROM events"
                " WHERE shop = %s AND accepted_at >= %s AND accepted_at < %s"
                " GROUP BY day, source ORDER BY day, source", (shop, since, until))
        ]

    def delivery_latency(self, since: float, until: float, *,
                         shop: str = DEFAULT_SHOP) -> list[DeliveryLatency]:
        return [
            DeliveryLatency(row["destination"], row["n"], float(row["average"]),
                            float(row["longest"]))
            for row in self._read(
                "SELECT o.destination, COUNT(*) AS n,"
                " AVG(o.finished_at - e.accepted_at) AS average,"
                " MAX(o.finished_at - e.accepted_at) AS longest"
                " FROM outbox o JOIN events e ON e.pk = o.event_pk"
                " WHERE o.shop = %s AND o.status = 'delivered'"
                " AND o.finished_at >= %s AND o.finished_at < %s"
                " GROUP BY o.destination ORDER BY o.destination", (shop, since, until))
        ]

    def dead_letters(self, *, shop: str = DEFAULT_SHOP, limit: int = 50) -> list[DeadLetter]:
        return [
            DeadLetter(row["event_name"], row["event_id"], row["destination"], row["status"],
                       row["code"], row["message"], row["finished_at"])
            for row in self._read(
                "SELECT e.event_name, e.event_id, o.destination, o.status, o.code, o.message,"
                " o.finished_at FROM outbox o JOIN events e ON e.pk = o.event_pk"
                " WHERE o.shop = %s AND o.status IN ('dead', 'expired')"
                " ORDER BY o.finished_at DESC NULLS LAST, o.id DESC LIMIT %s", (shop, limit))
        ]

    def find_events(self, *, reference: str | None = None, email_hash: str | None = None,
                    shop: str = DEFAULT_SHOP, limit: int = 20) -> list[EventSummary]:
        if reference is None and email_hash is None:
            return []
        return [
            EventSummary(row["event_name"], row["event_id"], row["source"], row["accepted_at"])
            for row in self._read(
                "SELECT event_name, event_id, source, accepted_at FROM events WHERE shop = %s"
                " AND (%s::text IS NULL OR body::jsonb #>> '{order,reference}' = %s)"
                " AND (%s::text IS NULL"
                " OR body::jsonb -> 'user_data' -> 'em' @> jsonb_build_array(%s::text))"
                " ORDER BY accepted_at DESC, pk DESC LIMIT %s",
                (shop, reference, reference, email_hash, email_hash, limit))
        ]
