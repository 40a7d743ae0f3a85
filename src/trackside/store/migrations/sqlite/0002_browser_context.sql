-- Browser context by cart and by customer (trackside.join, docs/browser-tag.md "Joining
-- browser context to server events"): a server event carrying a cart_id or customer_id finds
-- the shopper's latest browser events through these expression indexes. Only browser rows are
-- indexed, so server traffic pays nothing for them. Queries must spell the expressions exactly as below.
CREATE INDEX events_browser_cart ON events (json_extract(body, '$.cart_id'), accepted_at)
    WHERE source = 'browser';
CREATE INDEX events_browser_customer ON events (json_extract(body, '$.customer_id'), accepted_at)
    WHERE source = 'browser'
