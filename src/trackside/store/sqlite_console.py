"""SQLite reads for the console (web/console/): daily counts, latency, dead letters, search.

A mixin of :class:`~trackside.store.sqlite.SQLiteStore`; the methods are part of the Store
protocol. None of them returns an event's body: the console never sees personal data.
"""

from __future__ import annotations

from trackside.shop_names import DEFAULT_SHOP
from trackside.store.records import DailyCount, DeadLetter, DeliveryLatency, EventSummary
from trackside.store.sqlite_outbox import SQLiteHost


class ConsoleQueries(SQLiteHost):
    def events_per_day(self, since: float, until: float, *,
                       shop: str = DEFAULT_SHOP) -> list[DailyCount]:
        return [
            DailyCount(row["day"], row["source"], row["n"])
            for row in self._read(
                "SELECT date(accepted_at, 'unixepoch') AS day, source, COUNT(*) AS n"
                " FROM events WHERE shop = ? AND accepted_at >= ? AND accepted_at < ?"
                " GROUP BY day, source ORDER BY day, source", (shop, since, until))
        ]

    def delivery_latency(self, since: float, until: float, *,
                         shop: str = DEFAULT_SHOP) -> list[DeliveryLatency]:
        return [
            DeliveryLatency(row["destination"], row["n"], row["average"], row["longest"])
            for row in self._read(
                "SELECT o.destination, COUNT(*) AS n,"
                " AVG(o.finished_at - e.accepted_at) AS average,"
                " MAX(o.finished_at - e.accepted_at) AS longest"
                " FROM outbox o JOIN events e ON e.pk = o.event_pk"
                " WHERE o.shop = ? AND o.status = 'delivered'"
                " AND o.finished_at >= ? AND o.finished_at < ?"
                " GROUP BY o.destination ORDER BY o.destination", (shop, since, until))
        ]

    def dead_letters(self, *, shop: str = DEFAULT_SHOP, limit: int = 50) -> list[DeadLetter]:
        return [
            DeadLetter(row["event_name"], row["event_id"], row["destination"], row["status"],
                       row["code"], row["message"], row["finished_at"])
            for row in self._read(
                "SELECT e.event_name, e.event_id, o.destination, o.status, o.code, o.message,"
                " o.finished_at FROM outbox o JOIN events e ON e.pk = o.event_pk"
                " WHERE o.shop = ? AND o.status IN ('dead', 'expired')"
                " ORDER BY o.finished_at DESC, o.id DESC LIMIT ?", (shop, limit))
        ]

    def find_events(self, *, reference: str | None = None, email_hash: str | None = None,
                    shop: str = DEFAULT_SHOP, limit: int = 20) -> list[EventSummary]:
        if reference is None and email_hash is None:
            return []
        return [
            EventSummary(row["event_name"], row["event_id"], row["source"], row["accepted_at"])
            for row in self._read(
                "SELECT event_name, event_id, source, accepted_at FROM events WHERE shop = ?"
                " AND (? IS NULL OR json_extract(body, '$.order.reference') = ?)"
                " AND (? IS NULL OR EXISTS (SELECT 1 FROM json_each(body, '$.user_data.em')"
                " WHERE value = ?)) ORDER BY accepted_at DESC, pk DESC LIMIT ?",
                (shop, reference, reference, email_hash, email_hash, limit))
        ]
