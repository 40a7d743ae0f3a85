-- Match quality (issue 15). Each event keeps flags of the match keys its body carries
-- (trackside.quality.match_key_mask: one bit per key of MATCH_KEYS, then the direct ids), set
-- by the store whenever the pipeline writes the body, so the report counts keys per event
-- name and period from one covering index instead of parsing a million JSON bodies. Existing
-- events get their flags from their bodies here (a key is carried when present and not
-- null, empty string, empty list or empty object: quality.customer_information_keys).
ALTER TABLE events ADD COLUMN match_keys INTEGER NOT NULL DEFAULT 0;
UPDATE events SET match_keys = flags.mask FROM (SELECT pk, 0
    + (CASE COALESCE(json_typeof(u -> 'em'), 'null') WHEN 'array' THEN (json_array_length(u -> 'em') > 0)::int WHEN 'string' THEN (length(u ->> 'em') > 0)::int WHEN 'object' THEN ((u ->> 'em') <> '{}')::int WHEN 'null' THEN 0 ELSE 1 END) * 1
    + (CASE COALESCE(json_typeof(u -> 'ph'), 'null') WHEN 'array' THEN (json_array_length(u -> 'ph') > 0)::int WHEN 'string' THEN (length(u ->> 'ph') > 0)::int WHEN 'object' THEN ((u ->> 'ph') <> '{}')::int WHEN 'null' THEN 0 ELSE 1 END) * 2
    + (CASE COALESCE(json_typeof(u -> 'fn'), 'null') WHEN 'array' THEN (json_array_length(u -> 'fn') > 0)::int WHEN 'string' THEN (length(u ->> 'fn') > 0)::int WHEN 'object' THEN ((u ->> 'fn') <> '{}')::int WHEN 'null' THEN 0 ELSE 1 END) * 4
    + (CASE COALESCE(json_typeof(u -> 'ln'), 'null') WHEN 'array' THEN (json_array_length(u -> 'ln') > 0)::int WHEN 'string' THEN (length(u ->> 'ln') > 0)::int WHEN 'object' THEN ((u ->> 'ln') <> '{}')::int WHEN 'null' THEN 0 ELSE 1 END) * 8
    + (CASE COALESCE(json_typeof(u -> 'ct'), 'null') WHEN 'array' THEN (json_array_length(u -> 'ct') > 0)::int WHEN 'string' THEN (length(u ->> 'ct') > 0)::int WHEN 'object' THEN ((u ->> 'ct') <> '{}')::int WHEN 'null' THEN 0 ELSE 1 END) * 16
    + (CASE COALESCE(json_typeof(u -> 'st'), 'null') WHEN 'array' THEN (json_array_length(u -> 'st') > 0)::int WHEN 'string' THEN (length(u ->> 'st') > 0)::int WHEN 'object' THEN ((u ->> 'st') <> '{}')::int WHEN 'null' THEN 0 ELSE 1 END) * 32
    + (CASE COALESCE(json_typeof(u -> 'zp'), 'null') WHEN 'array' THEN (json_array_length(u -> 'zp') > 0)::int WHEN 'string' THEN (length(u ->> 'zp') > 0)::int WHEN 'object' THEN ((u ->> 'zp') <> '{}')::int WHEN 'null' THEN 0 ELSE 1 END) * 64
    + (CASE COALESCE(json_typeof(u -> 'country'), 'null') WHEN 'array' THEN (json_array_length(u -> 'country') > 0)::int WHEN 'string' THEN (length(u ->> 'country') > 0)::int WHEN 'object' THEN ((u ->> 'country') <> '{}')::int WHEN 'null' THEN 0 ELSE 1 END) * 128
    + (CASE COALESCE(json_typeof(u -> 'db'), 'null') WHEN 'array' THEN (json_array_length(u -> 'db') > 0)::int WHEN 'string' THEN (length(u ->> 'db') > 0)::int WHEN 'object' THEN ((u ->> 'db') <> '{}')::int WHEN 'null' THEN 0 ELSE 1 END) * 256
    + (CASE COALESCE(json_typeof(u -> 'ge'), 'null') WHEN 'array' THEN (json_array_length(u -> 'ge') > 0)::int WHEN 'string' THEN (length(u ->> 'ge') > 0)::int WHEN 'object' THEN ((u ->> 'ge') <> '{}')::int WHEN 'null' THEN 0 ELSE 1 END) * 512
    + (CASE COALESCE(json_typeof(u -> 'external_id'), 'null') WHEN 'array' THEN (json_array_length(u -> 'external_id') > 0)::int WHEN 'string' THEN (length(u ->> 'external_id') > 0)::int WHEN 'object' THEN ((u ->> 'external_id') <> '{}')::int WHEN 'null' THEN 0 ELSE 1 END) * 1024
    + (CASE COALESCE(json_typeof(u -> 'fbp'), 'null') WHEN 'array' THEN (json_array_length(u -> 'fbp') > 0)::int WHEN 'string' THEN (length(u ->> 'fbp') > 0)::int WHEN 'object' THEN ((u ->> 'fbp') <> '{}')::int WHEN 'null' THEN 0 ELSE 1 END) * 2048
    + (CASE COALESCE(json_typeof(u -> 'fbc'), 'null') WHEN 'array' THEN (json_array_length(u -> 'fbc') > 0)::int WHEN 'string' THEN (length(u ->> 'fbc') > 0)::int WHEN 'object' THEN ((u ->> 'fbc') <> '{}')::int WHEN 'null' THEN 0 ELSE 1 END) * 4096
    + (CASE COALESCE(json_typeof(u -> 'client_ip_address'), 'null') WHEN 'array' THEN (json_array_length(u -> 'client_ip_address') > 0)::int WHEN 'string' THEN (length(u ->> 'client_ip_address') > 0)::int WHEN 'object' THEN ((u ->> 'client_ip_address') <> '{}')::int WHEN 'null' THEN 0 ELSE 1 END) * 8192
    + (CASE COALESCE(json_typeof(u -> 'client_user_agent'), 'null') WHEN 'array' THEN (json_array_length(u -> 'client_user_agent') > 0)::int WHEN 'string' THEN (length(u ->> 'client_user_agent') > 0)::int WHEN 'object' THEN ((u ->> 'client_user_agent') <> '{}')::int WHEN 'null' THEN 0 ELSE 1 END) * 16384
    + (CASE COALESCE(json_typeof(u -> 'lead_id'), 'null') WHEN 'array' THEN (json_array_length(u -> 'lead_id') > 0)::int WHEN 'string' THEN (length(u ->> 'lead_id') > 0)::int WHEN 'object' THEN ((u ->> 'lead_id') <> '{}')::int WHEN 'null' THEN 0 ELSE 1 END) * 32768
    + (CASE COALESCE(json_typeof(u -> 'fb_login_id'), 'null') WHEN 'array' THEN (json_array_length(u -> 'fb_login_id') > 0)::int WHEN 'string' THEN (length(u ->> 'fb_login_id') > 0)::int WHEN 'object' THEN ((u ->> 'fb_login_id') <> '{}')::int WHEN 'null' THEN 0 ELSE 1 END) * 65536
    + (CASE COALESCE(json_typeof(u -> 'page_scoped_user_id'), 'null') WHEN 'array' THEN (json_array_length(u -> 'page_scoped_user_id') > 0)::int WHEN 'string' THEN (length(u ->> 'page_scoped_user_id') > 0)::int WHEN 'object' THEN ((u ->> 'page_scoped_user_id') <> '{}')::int WHEN 'null' THEN 0 ELSE 1 END) * 131072
    + (CASE COALESCE(json_typeof(u -> 'ig_sid'), 'null') WHEN 'array' THEN (json_array_length(u -> 'ig_sid') > 0)::int WHEN 'string' THEN (length(u ->> 'ig_sid') > 0)::int WHEN 'object' THEN ((u ->> 'ig_sid') <> '{}')::int WHEN 'null' THEN 0 ELSE 1 END) * 262144
    AS mask FROM (SELECT pk, body::json -> 'user_data' AS u FROM events) AS parsed) AS flags
  WHERE events.pk = flags.pk AND flags.mask <> 0;
CREATE INDEX events_match_keys ON events (shop, event_time, event_name, match_keys);

-- The last Dataset Quality API fetch per shop (trackside/reports/dataset_quality.py): the last
-- good figures (JSON text) and, when the last fetch failed, why.
CREATE TABLE dataset_quality (
    shop TEXT PRIMARY KEY,
    dataset_id TEXT NOT NULL,
    checked_at DOUBLE PRECISION NOT NULL,
    figures TEXT,
    figures_at DOUBLE PRECISION,
    error TEXT
);

-- Daily counts of the flags, so a month of a busy shop is a few thousand rows to add up, not
-- a million events to count (bench/match_quality.py). Unlike SQLite's one writer, several
-- servers commit here at once: a shared row per (day, name, keys) updated in place would be a
-- hot row every concurrent transaction waits on (and could deadlock in). So each statement
-- that writes events appends its own signed counts (plain inserts: no row shared between
-- transactions) and the report sums them.
CREATE TABLE match_key_deltas (
    shop TEXT NOT NULL,
    day BIGINT NOT NULL,
    event_name TEXT NOT NULL,
    match_keys INTEGER NOT NULL,
    events BIGINT NOT NULL
);
CREATE INDEX match_key_deltas_by_day ON match_key_deltas (shop, day);
INSERT INTO match_key_deltas (shop, day, event_name, match_keys, events)
SELECT shop, event_time / 86400, event_name, match_keys, count(*) FROM events
GROUP BY shop, event_time / 86400, event_name, match_keys;

CREATE FUNCTION trackside_match_keys_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO match_key_deltas (shop, day, event_name, match_keys, events)
    SELECT shop, event_time / 86400, event_name, match_keys, count(*) FROM new_rows
    GROUP BY shop, event_time / 86400, event_name, match_keys;
    RETURN NULL;
END $$;
-- A merge changes one event per statement: a row trigger whose WHEN (checked without calling
-- the function) skips the many merges that leave the keys as they were.
CREATE FUNCTION trackside_match_keys_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO match_key_deltas (shop, day, event_name, match_keys, events) VALUES
        (OLD.shop, OLD.event_time / 86400, OLD.event_name, OLD.match_keys, -1),
        (NEW.shop, NEW.event_time / 86400, NEW.event_name, NEW.match_keys, 1);
    RETURN NULL;
END $$;
CREATE FUNCTION trackside_match_keys_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO match_key_deltas (shop, day, event_name, match_keys, events)
    SELECT shop, event_time / 86400, event_name, match_keys, -count(*) FROM old_rows
    GROUP BY shop, event_time / 86400, event_name, match_keys;
    RETURN NULL;
END $$;
CREATE TRIGGER events_match_keys_inserted AFTER INSERT ON events
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION trackside_match_keys_inserted();
CREATE TRIGGER events_match_keys_updated AFTER UPDATE ON events FOR EACH ROW
    WHEN ((OLD.shop, OLD.event_time, OLD.event_name, OLD.match_keys)
          IS DISTINCT FROM (NEW.shop, NEW.event_time, NEW.event_name, NEW.match_keys))
    EXECUTE FUNCTION trackside_match_keys_updated();
CREATE TRIGGER events_match_keys_deleted AFTER DELETE ON events
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION trackside_match_keys_deleted();
