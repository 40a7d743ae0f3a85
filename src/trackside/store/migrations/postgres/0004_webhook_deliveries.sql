-- Platform webhooks (issue 16): one row per authentic delivery of a Shopify or WooCommerce
-- webhook, keyed by the platform's delivery key, so a retried delivery is recognized and an
-- authentic delivery that could not be converted is counted with its reason (trackside status).
-- Ids, topics and reasons only: never a body nor personal data.
CREATE TABLE webhook_deliveries (
    shop TEXT NOT NULL,
    source TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    received_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (shop, source, delivery_id)
);
CREATE INDEX webhook_deliveries_by_outcome
    ON webhook_deliveries (shop, source, outcome, reason);
