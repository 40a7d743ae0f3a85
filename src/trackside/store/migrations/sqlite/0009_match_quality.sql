-- Match quality (issue 15). Each event keeps flags of the match keys its body carries
-- (trackside.quality.match_key_mask: one bit per key of MATCH_KEYS, then the direct ids), set
-- by the store whenever the pipeline writes the body, so the report counts keys per event
-- name and period from one covering index instead of parsing a million JSON bodies. Existing
-- events get their flags from their bodies here (a key is carried when present and not
-- null, empty string, empty list or empty object: quality.customer_information_keys).
ALTER TABLE events ADD COLUMN match_keys INTEGER NOT NULL DEFAULT 0;
UPDATE events SET match_keys = 0
    + (CASE json_type(body, '$.user_data.em') WHEN 'array' THEN json_array_length(body, '$.user_data.em') > 0 WHEN 'text' THEN length(json_extract(body, '$.user_data.em')) > 0 WHEN 'object' THEN json_extract(body, '$.user_data.em') <> '{}' WHEN 'null' THEN 0 WHEN 'true' THEN 1 WHEN 'false' THEN 1 WHEN 'integer' THEN 1 WHEN 'real' THEN 1 ELSE 0 END) * 1
    + (CASE json_type(body, '$.user_data.ph') WHEN 'array' THEN json_array_length(body, '$.user_data.ph') > 0 WHEN 'text' THEN length(json_extract(body, '$.user_data.ph')) > 0 WHEN 'object' THEN json_extract(body, '$.user_data.ph') <> '{}' WHEN 'null' THEN 0 WHEN 'true' THEN 1 WHEN 'false' THEN 1 WHEN 'integer' THEN 1 WHEN 'real' THEN 1 ELSE 0 END) * 2
    + (CASE json_type(body, '$.user_data.fn') WHEN 'array' THEN json_array_length(body, '$.user_data.fn') > 0 WHEN 'text' THEN length(json_extract(body, '$.user_data.fn')) > 0 WHEN 'object' THEN json_extract(body, '$.user_data.fn') <> '{}' WHEN 'null' THEN 0 WHEN 'true' THEN 1 WHEN 'false' THEN 1 WHEN 'integer' THEN 1 WHEN 'real' THEN 1 ELSE 0 END) * 4
    + (CASE json_type(body, '$.user_data.ln') WHEN 'array' THEN json_array_length(body, '$.user_data.ln') > 0 WHEN 'text' THEN length(json_extract(body, '$.user_data.ln')) > 0 WHEN 'object' THEN json_extract(body, '$.user_data.ln') <> '{}' WHEN 'null' THEN 0 WHEN 'true' THEN 1 WHEN 'false' THEN 1 WHEN 'integer' THEN 1 WHEN 'real' THEN 1 ELSE 0 END) * 8
    + (CASE json_type(body, '$.user_data.ct') WHEN 'array' THEN json_array_length(body, '$.user_data.ct') > 0 WHEN 'text' THEN length(json_extract(body, '$.user_data.ct')) > 0 WHEN 'object' THEN json_extract(body, '$.user_data.ct') <> '{}' WHEN 'null' THEN 0 WHEN 'true' THEN 1 WHEN 'false' THEN 1 WHEN 'integer' THEN 1 WHEN 'real' THEN 1 ELSE 0 END) * 16
    + (CASE json_type(body, '$.user_data.st') WHEN 'array' THEN json_array_length(body, '$.user_data.st') > 0 WHEN 'text' THEN length(json_extract(body, '$.user_data.st')) > 0 WHEN 'object' THEN json_extract(body, '$.user_data.st') <> '{}' WHEN 'null' THEN 0 WHEN 'true' THEN 1 WHEN 'false' THEN 1 WHEN 'integer' THEN 1 WHEN 'real' THEN 1 ELSE 0 END) * 32
    + (CASE json_type(body, '$.user_data.zp') WHEN 'array' THEN json_array_length(body, '$.user_data.zp') > 0 WHEN 'text' THEN length(json_extract(body, '$.user_data.zp')) > 0 WHEN 'object' THEN json_extract(body, '$.user_data.zp') <> '{}' WHEN 'null' THEN 0 WHEN 'true' THEN 1 WHEN 'false' THEN 1 WHEN 'integer' THEN 1 WHEN 'real' THEN 1 ELSE 0 END) * 64
    + (CASE json_type(body, '$.user_data.country') WHEN 'array' THEN json_array_length(body, '$.user_data.country') > 0 WHEN 'text' THEN length(json_extract(body, '$.user_data.country')) > 0 WHEN 'object' THEN json_extract(body, '$.user_data.country') <> '{}' WHEN 'null' THEN 0 WHEN 'true' THEN 1 WHEN 'false' THEN 1 WHEN 'integer' THEN 1 WHEN 'real' THEN 1 ELSE 0 END) * 128
    + (CASE json_type(body, '$.user_data.db') WHEN 'array' THEN json_array_length(body, '$.user_data.db') > 0 WHEN 'text' THEN length(json_extract(body, '$.user_data.db')) > 0 WHEN 'object' THEN json_extract(body, '$.user_data.db') <> '{}' WHEN 'null' THEN 0 WHEN 'true' THEN 1 WHEN 'false' THEN 1 WHEN 'integer' THEN 1 WHEN 'real' THEN 1 ELSE 0 END) * 256
    + (CASE json_type(body, '$.user_data.ge') WHEN 'array' THEN json_array_length(body, '$.user_data.ge') > 0 WHEN 'text' THEN length(json_extract(body, '$.user_data.ge')) > 0 WHEN 'object' THEN json_extract(body, '$.user_data.ge') <> '{}' WHEN 'null' THEN 0 WHEN 'true' THEN 1 WHEN 'false' THEN 1 WHEN 'integer' THEN 1 WHEN 'real' THEN 1 ELSE 0 END) * 512
    + (CASE json_type(body, '$.user_data.external_id') WHEN 'array' THEN json_array_length(body, '$.user_data.external_id') > 0 WHEN 'text' THEN length(json_extract(body, '$.user_data.external_id')) > 0 WHEN 'object' THEN json_extract(body, '$.user_data.external_id') <> '{}' WHEN 'null' THEN 0 WHEN 'true' THEN 1 WHEN 'false' THEN 1 WHEN 'integer' THEN 1 WHEN 'real' THEN 1 ELSE 0 END) * 1024
    + (CASE json_type(body, '$.user_data.fbp') WHEN 'array' THEN json_array_length(body, '$.user_data.fbp') > 0 WHEN 'text' THEN length(json_extract(body, '$.user_data.fbp')) > 0 WHEN 'object' THEN json_extract(body, '$.user_data.fbp') <> '{}' WHEN 'null' THEN 0 WHEN 'true' THEN 1 WHEN 'false' THEN 1 WHEN 'integer' THEN 1 WHEN 'real' THEN 1 ELSE 0 END) * 2048
    + (CASE json_type(body, '$.user_data.fbc') WHEN 'array' THEN json_array_length(body, '$.user_data.fbc') > 0 WHEN 'text' THEN length(json_extract(body, '$.user_data.fbc')) > 0 WHEN 'object' THEN json_extract(body, '$.user_data.fbc') <> '{}' WHEN 'null' THEN 0 WHEN 'true' THEN 1 WHEN 'false' THEN 1 WHEN 'integer' THEN 1 WHEN 'real' THEN 1 ELSE 0 END) * 4096
    + (CASE json_type(body, '$.user_data.client_ip_address') WHEN 'array' THEN json_array_length(body, '$.user_data.client_ip_address') > 0 WHEN 'text' THEN length(json_extract(body, '$.user_data.client_ip_address')) > 0 WHEN 'object' THEN json_extract(body, '$.user_data.client_ip_address') <> '{}' WHEN 'null' THEN 0 WHEN 'true' THEN 1 WHEN 'false' THEN 1 WHEN 'integer' THEN 1 WHEN 'real' THEN 1 ELSE 0 END) * 8192
    + (CASE json_type(body, '$.user_data.client_user_agent') WHEN 'array' THEN json_array_length(body, '$.user_data.client_user_agent') > 0 WHEN 'text' THEN length(json_extract(body, '$.user_data.client_user_agent')) > 0 WHEN 'object' THEN json_extract(body, '$.user_data.client_user_agent') <> '{}' WHEN 'null' THEN 0 WHEN 'true' THEN 1 WHEN 'false' THEN 1 WHEN 'integer' THEN 1 WHEN 'real' THEN 1 ELSE 0 END) * 16384
    + (CASE json_type(body, '$.user_data.lead_id') WHEN 'array' THEN json_array_length(body, '$.user_data.lead_id') > 0 WHEN 'text' THEN length(json_extract(body, '$.user_data.lead_id')) > 0 WHEN 'object' THEN json_extract(body, '$.user_data.lead_id') <> '{}' WHEN 'null' THEN 0 WHEN 'true' THEN 1 WHEN 'false' THEN 1 WHEN 'integer' THEN 1 WHEN 'real' THEN 1 ELSE 0 END) * 32768
    + (CASE json_type(body, '$.user_data.fb_login_id') WHEN 'array' THEN json_array_length(body, '$.user_data.fb_login_id') > 0 WHEN 'text' THEN length(json_extract(body, '$.user_data.fb_login_id')) > 0 WHEN 'object' THEN json_extract(body, '$.user_data.fb_login_id') <> '{}' WHEN 'null' THEN 0 WHEN 'true' THEN 1 WHEN 'false' THEN 1 WHEN 'integer' THEN 1 WHEN 'real' THEN 1 ELSE 0 END) * 65536
    + (CASE json_type(body, '$.user_data.page_scoped_user_id') WHEN 'array' THEN json_array_length(body, '$.user_data.page_scoped_user_id') > 0 WHEN 'text' THEN length(json_extract(body, '$.user_data.page_scoped_user_id')) > 0 WHEN 'object' THEN json_extract(body, '$.user_data.page_scoped_user_id') <> '{}' WHEN 'null' THEN 0 WHEN 'true' THEN 1 WHEN 'false' THEN 1 WHEN 'integer' THEN 1 WHEN 'real' THEN 1 ELSE 0 END) * 131072
    + (CASE json_type(body, '$.user_data.ig_sid') WHEN 'array' THEN json_array_length(body, '$.user_data.ig_sid') > 0 WHEN 'text' THEN length(json_extract(body, '$.user_data.ig_sid')) > 0 WHEN 'object' THEN json_extract(body, '$.user_data.ig_sid') <> '{}' WHEN 'null' THEN 0 WHEN 'true' THEN 1 WHEN 'false' THEN 1 WHEN 'integer' THEN 1 WHEN 'real' THEN 1 ELSE 0 END) * 262144;
CREATE INDEX events_match_keys ON events (shop, event_time, event_name, match_keys);

-- The last Dataset Quality API fetch per shop (trackside/reports/dataset_quality.py): the last
-- good figures (JSON text) and, when the last fetch failed, why.
CREATE TABLE dataset_quality (
    shop TEXT PRIMARY KEY,
    dataset_id TEXT NOT NULL,
    checked_at REAL NOT NULL,
    figures TEXT,
    figures_at REAL,
    error TEXT
);

-- Daily rollups of the flags, so a month of a busy shop is a few thousand rows to add up, not
-- a million events to count (bench/match_quality.py: 3.9 s for 333,333 events from the flags
-- alone). Kept exact by triggers on events, whatever writes them: +1 for an insert, -1/+1 for
-- a change of flags (a merge), -1 for a delete. A day is event_time // 86400 (UTC days).
CREATE TABLE match_key_days (
    shop TEXT NOT NULL,
    day INTEGER NOT NULL,
    event_name TEXT NOT NULL,
    match_keys INTEGER NOT NULL,
    events INTEGER NOT NULL,
    PRIMARY KEY (shop, day, event_name, match_keys)
) WITHOUT ROWID;
INSERT INTO match_key_days (shop, day, event_name, match_keys, events)
SELECT shop, event_time / 86400, event_name, match_keys, count(*) FROM events
GROUP BY shop, event_time / 86400, event_name, match_keys;
CREATE TRIGGER events_match_key_days_insert AFTER INSERT ON events
BEGIN
    INSERT INTO match_key_days (shop, day, event_name, match_keys, events)
    VALUES (NEW.shop, NEW.event_time / 86400, NEW.event_name, NEW.match_keys, 1)
    ON CONFLICT (shop, day, event_name, match_keys) DO UPDATE SET events = events + 1;
END;
CREATE TRIGGER events_match_key_days_update
AFTER UPDATE OF match_keys, event_time, event_name, shop ON events
WHEN OLD.match_keys <> NEW.match_keys OR OLD.event_time <> NEW.event_time
    OR OLD.event_name <> NEW.event_name OR OLD.shop <> NEW.shop
BEGIN
    UPDATE match_key_days SET events = events - 1
    WHERE shop = OLD.shop AND day = OLD.event_time / 86400 AND event_name = OLD.event_name
        AND match_keys = OLD.match_keys;
    INSERT INTO match_key_days (shop, day, event_name, match_keys, events)
    VALUES (NEW.shop, NEW.event_time / 86400, NEW.event_name, NEW.match_keys, 1)
    ON CONFLICT (shop, day, event_name, match_keys) DO UPDATE SET events = events + 1;
END;
CREATE TRIGGER events_match_key_days_delete AFTER DELETE ON events
BEGIN
    UPDATE match_key_days SET events = events - 1
    WHERE shop = OLD.shop AND day = OLD.event_time / 86400 AND event_name = OLD.event_name
        AND match_keys = OLD.match_keys;
END;
