-- /healthz proves the store writable by committing a row here (and deleting it again).
CREATE TABLE health_probe (
    id INTEGER PRIMARY KEY,
    checked_at REAL NOT NULL,
    pad BLOB
);
