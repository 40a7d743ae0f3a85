"""SQLiteStore's record of platform webhook deliveries (0011_webhook_deliveries.sql)."""

from __future__ import annotations

import sqlite3

from trackside.shop_names import DEFAULT_SHOP, checked_shop
from trackside.store.records import WebhookCount, WebhookDelivery
from trackside.store.sqlite_outbox import SQLiteHost


def _delivery(row: sqlite3.Row) -> WebhookDelivery:
    return WebhookDelivery(source=row["source"], delivery_id=row["delivery_id"],
                           topic=row["topic"], outcome=row["outcome"], reason=row["reason"],
                           detail=row["detail"], shop=row["shop"],
                           received_at=row["received_at"])


class WebhookQueries(SQLiteHost):
    def record_webhook(self, delivery: WebhookDelivery, now: float) -> bool:
        shop = checked_shop(delivery.shop)
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO webhook_deliveries (shop, source, delivery_id, topic, outcome,"
                " reason, detail, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (shop, source, delivery_id) DO NOTHING",
                (shop, delivery.source, delivery.delivery_id, delivery.topic, delivery.outcome,
                 delivery.reason, delivery.detail, now))
            return cursor.rowcount == 1

    def webhook_delivery(self, source: str, delivery_id: str, *,
                         shop: str = DEFAULT_SHOP) -> WebhookDelivery | None:
        rows = self._read("SELECT * FROM webhook_deliveries WHERE shop = ? AND source = ?"
                          " AND delivery_id = ?", (shop, source, delivery_id))
        return _delivery(rows[0]) if rows else None

    def webhook_counts(self, *, shop: str | None = None) -> list[WebhookCount]:
        rows = self._read(
            "SELECT shop, source, outcome, reason, COUNT(*) AS n, MAX(received_at) AS last"
            " FROM webhook_deliveries WHERE ? IS NULL OR shop = ?"
            " GROUP BY shop, source, outcome, reason ORDER BY shop, source, outcome, reason",
            (shop, shop))
        return [WebhookCount(row["shop"], row["source"], row["outcome"], row["reason"],
                             row["n"], row["last"]) for row in rows]
