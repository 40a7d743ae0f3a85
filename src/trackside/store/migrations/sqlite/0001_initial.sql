-- Events as accepted: personal data already hashed (see trackside.events.NormalizedEvent).
CREATE TABLE events (
    pk INTEGER PRIMARY KEY AUTOINCREMENT,
    event_name TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event_time INTEGER NOT NULL,
    source TEXT NOT NULL,
    accepted_at REAL NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (event_name, event_id)
);
CREATE INDEX events_by_event_id ON events (event_id);
CREATE INDEX events_by_accepted_at ON events (accepted_at);

-- One row per (event, destination): the delivery state machine.
-- status: pending | delivered | dead | expired | suppressed | not_applicable
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_pk INTEGER NOT NULL REFERENCES events (pk),
    destination TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL,
    lease_owner TEXT,
    lease_expires_at REAL,
    code INTEGER,
    subcode INTEGER,
    message TEXT,
    finished_at REAL,
    sent TEXT,
    UNIQUE (event_pk, destination)
);
CREATE INDEX outbox_due ON outbox (destination, next_attempt_at) WHERE status = 'pending';
CREATE INDEX outbox_by_status ON outbox (destination, status);

-- Every failed or deferred send, for the event's timeline.
CREATE TABLE attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    outbox_id INTEGER NOT NULL REFERENCES outbox (id),
    at REAL NOT NULL,
    verdict TEXT NOT NULL,
    http_status INTEGER,
    code INTEGER,
    subcode INTEGER,
    message TEXT,
    batch_size INTEGER
);
CREATE INDEX attempts_by_outbox ON attempts (outbox_id);

-- Things that happened to an event besides delivery: duplicates, joined context, replays.
CREATE TABLE notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_pk INTEGER NOT NULL REFERENCES events (pk),
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    destination TEXT,
    detail TEXT NOT NULL
);
CREATE INDEX notes_by_event ON notes (event_pk);

-- A destination paused as a whole (throttling, bad credentials).
CREATE TABLE destination_state (
    destination TEXT PRIMARY KEY,
    paused_until REAL,
    reason TEXT NOT NULL,
    code INTEGER,
    updated_at REAL NOT NULL
);

-- Durable positions of pollers (PrestaShop sync, …).
CREATE TABLE cursors (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at REAL NOT NULL
);
