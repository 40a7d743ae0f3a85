-- Meta's request id of each attempt (its support asks for it).
ALTER TABLE attempts ADD COLUMN fbtrace_id TEXT;
