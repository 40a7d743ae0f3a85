-- When the retention purge cleared an event's IP, user agent and browser identifiers.
ALTER TABLE events ADD COLUMN purged_at REAL;
CREATE INDEX events_unpurged ON events (accepted_at) WHERE purged_at IS NULL;
