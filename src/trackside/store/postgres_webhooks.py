"""PostgresStore's record of platform webhook deliveries (0004_webhook_deliveries.sql)."""

from __future__ import annotations

from psycopg.rows import DictRow

from trackside.shop_names import DEFAULT_SHOP, checked_shop
from trackside.store.postgres_outbox import PostgresHost
from trackside.store.records import WebhookCount, WebhookDelivery


def _delivery(row: DictRow) -> WebhookDelivery:
    return WebhookDelivery(source=row["source"], delivery_id=row["delivery_id"],
                           topic=row["topic"], outcome=row["outcome"], reason=row["reason"],
                           detail=row["detail"], shop=row["shop"],
                           received_at=row["received_at"])


class WebhookQueries(PostgresHost):
    def record_webhook(self, delivery: WebhookDelivery, now: float) -> bool:
        shop = checked_shop(delivery.shop)
        with self._write() as tx:
            # Two servers receiving the same retried delivery: the primary key lets one row in,
            # the other insert waits for it and then does nothing.
            cursor = tx.conn.execute(
                "INSERT INTO webhook_deliveries (shop, source, delivery_id, topic, outcome,"
                " reason, detail, received_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (shop, source, delivery_id) DO NOTHING",
                (shop, delivery.source, delivery.delivery_id, delivery.topic, delivery.outcome,
                 delivery.reason, delivery.detail, now))
            return cursor.rowcount == 1

    def webhook_delivery(self, source: str, delivery_id: str, *,
                         shop: str = DEFAULT_SHOP) -> WebhookDelivery | None:
        rows = self._read("SELECT * FROM webhook_deliveries WHERE shop = %s AND source = %s"
                          " AND delivery_id = %s", (shop, source, delivery_id))
        return _delivery(rows[0]) if rows else None

    def webhook_counts(self, *, shop: str | None = None) -> list[WebhookCount]:
        rows = self._read(
            "SELECT shop, source, outcome, reason, COUNT(*) AS n, MAX(received_at) AS last"
            " FROM webhook_deliveries WHERE %s::text IS NULL OR shop = %s"
            " GROUP BY shop, source, outcome, reason ORDER BY shop, source, outcome, reason",
            (shop, shop))
        return [WebhookCount(row["shop"], row["source"], row["outcome"], row["reason"],
                             row["n"], row["last"]) for row in rows]
