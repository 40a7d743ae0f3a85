-- Several shops in one database (issue 13): every event, outbox row, cursor and destination
-- state carries its shop; rows a single-shop release wrote become shop 'default'. Notes and
-- attempts are reached through their event and outbox row, so they carry no shop of their own.
--
-- events and cursors/destination_state change a UNIQUE or PRIMARY KEY, which SQLite can only do
-- by rebuilding the table (https://www.sqlite.org/lang_altertable.html#otheralter): new table,
-- copy, drop, rename, recreate the indexes. SQLiteStore.migrate runs this with foreign keys off
-- (outbox and notes reference events) and checks them before it commits.

CREATE TABLE events_with_shop (
    pk INTEGER PRIMARY KEY AUTOINCREMENT,
    shop TEXT NOT NULL,
    event_name TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event_time INTEGER NOT NULL,
    source TEXT NOT NULL,
    accepted_at REAL NOT NULL,
    body TEXT NOT NULL,
    purged_at REAL,
    cart_id TEXT,
    customer_id TEXT,
    -- Dedup is per shop: the same order reference in two shops is two events.
    UNIQUE (shop, event_name, event_id)
);
INSERT INTO events_with_shop (pk, shop, event_name, event_id, event_time, source, accepted_at,
    body, purged_at, cart_id, customer_id)
SELECT pk, 'default', event_name, event_id, event_time, source, accepted_at, body, purged_at,
    cart_id, customer_id FROM events;
-- Keep AUTOINCREMENT's high-water mark: a pk is never handed out twice.
UPDATE sqlite_sequence SET seq = max(seq, (SELECT seq FROM sqlite_sequence WHERE name = 'events'))
WHERE name = 'events_with_shop';
DROP TABLE events;
ALTER TABLE events_with_shop RENAME TO events;
CREATE INDEX events_by_event_id ON events (shop, event_id);
CREATE INDEX events_by_accepted_at ON events (accepted_at);
CREATE INDEX events_unpurged ON events (accepted_at) WHERE purged_at IS NULL;
CREATE INDEX events_browser_cart ON events (shop, cart_id, accepted_at)
    WHERE source = 'browser' AND cart_id IS NOT NULL;
CREATE INDEX events_browser_customer ON events (shop, customer_id, accepted_at)
    WHERE source = 'browser' AND customer_id IS NOT NULL;

-- The outbox keeps its shape (its UNIQUE (event_pk, destination) is already within a shop) and
-- gains a copy of its event's shop, so a claim for (shop, destination) is one index range and
-- a paused shop's backlog is never scanned by another shop's claim.
ALTER TABLE outbox ADD COLUMN shop TEXT NOT NULL DEFAULT 'default';
DROP INDEX outbox_due;
DROP INDEX outbox_by_status;
CREATE INDEX outbox_due ON outbox (shop, destination, next_attempt_at) WHERE status = 'pending';
CREATE INDEX outbox_by_status ON outbox (shop, destination, status);

CREATE TABLE cursors_with_shop (
    shop TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (shop, name)
);
INSERT INTO cursors_with_shop SELECT 'default', name, value, updated_at FROM cursors;
DROP TABLE cursors;
ALTER TABLE cursors_with_shop RENAME TO cursors;

-- A pause or throttle holds one shop's destination.
CREATE TABLE destination_state_with_shop (
    shop TEXT NOT NULL,
    destination TEXT NOT NULL,
    paused_until REAL,
    reason TEXT NOT NULL,
    code INTEGER,
    updated_at REAL NOT NULL,
    PRIMARY KEY (shop, destination)
);
INSERT INTO destination_state_with_shop
SELECT 'default', destination, paused_until, reason, code, updated_at FROM destination_state;
DROP TABLE destination_state;
ALTER TABLE destination_state_with_shop RENAME TO destination_state;
