"""Migration 0009 (SQLite) / 0002 (PostgreSQL) on events stored before it: every event gets
the match-key flags of its body, exactly as the store sets them on new events
(quality.match_key_mask), and the daily counts start from them."""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

import psycopg

from tests.pg import fresh_database
from trackside.events import NormalizedEvent
from trackside.quality import keys_of_mask, match_key_mask
from trackside.store.postgres import PostgresStore
from trackside.store.postgres import _migrations as postgres_migrations
from trackside.store.sqlite import SQLiteStore, _migrations, _statements

H = "e" * 64
AT = 1_796_083_200 + 600
USERS: list[dict[str, object]] = [
    {"em": [H], "ph": [H], "client_ip_address": "203.0.113.9"},
    {"em": [], "ph": "", "fn": None, "fbp": "fb.1.1.1"},  # empty values are no keys
    {"lead_id": "123456789012345", "country": [H], "external_id": [H, H]},
    {},
    {"client_user_agent": "UA", "fbc": "fb.1.1.x", "ge": [H], "db": [H], "zp": [H], "st": [H],
     "ct": [H], "ln": [H]},
]


def _bodies() -> list[tuple[str, str, int]]:
    found = []
    for n, user in enumerate(USERS):
        event = NormalizedEvent(event_name="Purchase", event_id=f"E{n}", event_time=AT + n,
                                action_source="website", user_data=user)
        found.append((event.event_id, event.model_dump_json(exclude_defaults=True),
                      match_key_mask(user)))
    return found


def _expected() -> Counter[frozenset[str]]:
    return Counter(keys_of_mask(mask) for _, _, mask in _bodies())


def test_sqlite_backfills_the_flags_and_the_days(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,"
                 " applied_at REAL NOT NULL)")
    for version, sql in _migrations():
        if version <= 8:
            for statement in _statements(sql):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations VALUES (?, 0)", (version,))
    for event_id, body, _ in _bodies():
        conn.execute("INSERT INTO events (shop, event_name, event_id, event_time, source,"
                     " accepted_at, body) VALUES ('default', 'Purchase', ?, ?, 'api', 0, ?)",
                     (event_id, AT, body))
    conn.commit()
    conn.close()
    store = SQLiteStore(str(path))
    store.migrate()
    try:
        masks = {row["event_id"]: row["match_keys"]
                 for row in store._read("SELECT event_id, match_keys FROM events")}
        assert masks == {event_id: mask for event_id, _, mask in _bodies()}
        whole_day = store.match_key_counts(AT - 600, AT - 600 + 86400)  # from match_key_days
        assert Counter({c.keys: c.count for c in whole_day}) == _expected()
    finally:
        store.close()


def test_postgres_backfills_the_flags_and_the_days() -> None:
    with fresh_database() as url:
        with psycopg.connect(url) as conn:
            conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,"
                         " applied_at DOUBLE PRECISION NOT NULL)")
            for version, _, sql in postgres_migrations():
                if version <= 1:
                    conn.execute(sql.encode())
                    conn.execute("INSERT INTO schema_migrations VALUES (%s, 0)", (version,))
            for event_id, body, _ in _bodies():
                conn.execute("INSERT INTO events (shop, event_name, event_id, event_time, source,"
                             " accepted_at, body) VALUES ('default', 'Purchase', %s, %s, 'api',"
                             " 0, %s)", (event_id, AT, body))
        store = PostgresStore(url, pool_size=1)
        try:
            store.migrate()
            masks = {row["event_id"]: row["match_keys"]
                     for row in store._read("SELECT event_id, match_keys FROM events")}
            assert masks == {event_id: mask for event_id, _, mask in _bodies()}
            whole_day = store.match_key_counts(AT - 600, AT - 600 + 86400)
            assert Counter({c.keys: c.count for c in whole_day}) == _expected()
        finally:
            store.close()
