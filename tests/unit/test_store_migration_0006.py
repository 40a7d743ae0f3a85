"""Migration 0006 on a database written by the previous version: held rows, join keys."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from trackside.events import NormalizedEvent
from trackside.store.sqlite import SQLiteStore, _migrations, _statements
from trackside.store.sqlite_unit import BROWSER_EVENTS_BY_KEY, EXPIRED_HOLDS

NOW = 1_800_000_000.0
#: What the previous version stored as the due time of a held row (3000-01-01).
OLD_HOLD_UNTIL = 32503680000.0


def _database_at_version_5(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,"
                 " applied_at REAL NOT NULL)")
    for version, sql in _migrations():
        if version <= 5:
            for statement in _statements(sql):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations VALUES (?, 0)", (version,))
    held = NormalizedEvent(event_name="Purchase", event_id="HELD", event_time=int(NOW),
                           action_source="website", cart_id="K1", customer_id="C1",
                           source="browser")
    waiting = held.model_copy(update={"event_id": "WAITING", "cart_id": None})
    for pk, event, accepted_at in ((1, held, NOW), (2, waiting, NOW - 1)):
        conn.execute("INSERT INTO events (pk, event_name, event_id, event_time, source,"
                     " accepted_at, body) VALUES (?, ?, ?, ?, 'browser', ?, ?)",
                     (pk, event.event_name, event.event_id, event.event_time, accepted_at,
                      event.model_dump_json(exclude_defaults=True)))
    conn.execute("INSERT INTO outbox (event_pk, destination, status, next_attempt_at)"
                 " VALUES (1, 'meta', 'pending', ?), (2, 'meta', 'pending', ?)",
                 (OLD_HOLD_UNTIL, NOW + 60))
    conn.commit()
    conn.close()


def test_held_rows_get_their_status_and_join_keys_their_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _database_at_version_5(path)
    store = SQLiteStore(str(path))
    store.migrate()
    try:
        [held] = store.event_view("HELD")[0].outbox
        assert (held.status, held.next_attempt_at) == ("held", None)
        [waiting] = store.event_view("WAITING")[0].outbox
        assert (waiting.status, waiting.next_attempt_at) == ("pending", NOW + 60)
        assert store.has_expired_holds(NOW + 1) and not store.has_expired_holds(NOW)
        assert [e.event_id for e in store.browser_events_by_key("cart_id", "K1", 0)] == ["HELD"]
        assert [e.event_id for e in store.browser_events_by_key("customer_id", "C1", 0)] == [
            "HELD", "WAITING"]
    finally:
        store.close()


def test_join_queries_use_the_indexes(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "plan.db"))
    store.migrate()
    try:
        conn = sqlite3.connect(tmp_path / "plan.db")
        for column, index in (("cart_id", "events_browser_cart"),
                              ("customer_id", "events_browser_customer")):
            # The store's own query (scoped by shop since migration 0007).
            plan = " ".join(str(row) for row in conn.execute(
                "EXPLAIN QUERY PLAN " + BROWSER_EVENTS_BY_KEY[column], ("default", "x", 0, 10)))
            assert index in plan, plan
        for shop in (None, "default"):
            plan = " ".join(str(row) for row in conn.execute(
                "EXPLAIN QUERY PLAN SELECT 1 " + EXPIRED_HOLDS + " LIMIT 1", (NOW, shop, shop)))
            assert "outbox_held" in plan, plan
        conn.close()
    finally:
        store.close()
