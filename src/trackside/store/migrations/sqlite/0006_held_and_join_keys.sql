-- Meta's request id of each attempt (its support asks for it).
ALTER TABLE attempts ADD COLUMN fbtrace_id TEXT;

-- A held row (an unconfirmed browser Purchase) is its own status, no longer a pending row due
-- in the year 3000 (next_attempt_at 32503680000). Held rows have no next_attempt_at: only the
-- store's confirmation (pending, due now) or the end of the join window (suppressed) moves them.
UPDATE outbox SET status = 'held', next_attempt_at = NULL, lease_owner = NULL,
    lease_expires_at = NULL
WHERE status = 'pending' AND next_attempt_at >= 32503680000;
CREATE INDEX outbox_held ON outbox (event_pk) WHERE status = 'held';

-- Join keys as real columns (trackside.join): a server event finds the shopper's browser
-- events by cart or customer id without extracting them from the JSON body.
ALTER TABLE events ADD COLUMN cart_id TEXT;
ALTER TABLE events ADD COLUMN customer_id TEXT;
UPDATE events SET cart_id = json_extract(body, '$.cart_id'),
    customer_id = json_extract(body, '$.customer_id');
DROP INDEX events_browser_cart;
DROP INDEX events_browser_customer;
CREATE INDEX events_browser_cart ON events (cart_id, accepted_at)
    WHERE source = 'browser' AND cart_id IS NOT NULL;
CREATE INDEX events_browser_customer ON events (customer_id, accepted_at)
    WHERE source = 'browser' AND customer_id IS NOT NULL;
