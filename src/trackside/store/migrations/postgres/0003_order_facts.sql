-- The reconciliation report (issue 15, trackside.reports.reconciliation) reads each stored
-- order's value, currency and flags (seen_by_browser, pixel_absent) without parsing bodies:
-- copies of the body kept by every write of it (insert, update_event, mark_purged), as
-- SQLite's migration 0010.
ALTER TABLE events ADD COLUMN order_value DOUBLE PRECISION;
ALTER TABLE events ADD COLUMN order_currency TEXT;
-- The body's flags joined by spaces (flags are identifiers), NULL when there are none.
ALTER TABLE events ADD COLUMN flags TEXT;
UPDATE events SET order_value = (body::jsonb #>> '{order,value}')::double precision,
    order_currency = body::jsonb #>> '{order,currency}',
    flags = (SELECT string_agg(flag, ' ') FROM jsonb_array_elements_text(
        COALESCE(body::jsonb -> 'flags', '[]'::jsonb)) AS flag);
-- The store's orders of a shop by order time: one index range per report. Queries must
-- spell the predicate exactly so (Store.orders).
CREATE INDEX events_orders ON events (shop, event_time, pk)
    INCLUDE (event_id, order_value, order_currency, flags)
    WHERE event_name = 'Purchase' AND source <> 'browser';
