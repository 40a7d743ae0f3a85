-- The reconciliation report (issue 15, trackside.reports.reconciliation) reads each stored
-- order's value, currency and flags (seen_by_browser, pixel_absent) without parsing bodies:
-- copies of the body kept by every write of it (insert, update_event, mark_purged).
ALTER TABLE events ADD COLUMN order_value REAL;
ALTER TABLE events ADD COLUMN order_currency TEXT;
-- The body's flags joined by spaces (flags are identifiers), NULL when there are none.
ALTER TABLE events ADD COLUMN flags TEXT;
UPDATE events SET order_value = json_extract(body, '$.order.value'),
    order_currency = json_extract(body, '$.order.currency'),
    flags = (SELECT group_concat(value, ' ') FROM json_each(body, '$.flags'));
-- The store's orders of a shop by order time: one index range per report, and (covering) no
-- table row read. Queries must spell the predicate exactly so (Store.orders).
CREATE INDEX events_orders ON events (shop, event_time, pk, event_id, order_value,
    order_currency, flags) WHERE event_name = 'Purchase' AND source <> 'browser';
