"""Migration 0007 on a database made by the previous (single-shop) release: everything it
holds moves in place to shop ``default`` and keeps working."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from trackside.events import NormalizedEvent
from trackside.store import (
    DEFAULT_SHOP,
    AttemptRecord,
    Finished,
    NewEvent,
    OutboxPlan,
    StoreUnavailable,
)
from trackside.store.sqlite import SQLiteStore, _migrations, _statements
from trackside.store.sqlite_outbox import CLAIM_QUERY

NOW = 1_800_000_000.0
STATUSES = ("pending", "held", "delivered", "dead", "expired", "suppressed", "not_applicable")


def _event(event_id: str, **fields: object) -> NormalizedEvent:
    return NormalizedEvent(event_name="Purchase", event_id=event_id, event_time=int(NOW) - 60,
                           action_source="website", user_data={"em": ["a" * 64]}, **fields)


def _previous_release_database(path: Path) -> None:
    """Migrations 0001-0006 and rows written with the previous release's statements."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,"
                 " applied_at REAL NOT NULL)")
    for version, sql in _migrations():
        if version <= 6:
            for statement in _statements(sql):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations VALUES (?, 0)", (version,))
    for pk, status in enumerate(STATUSES, start=1):
        event = _event(f"E-{status}", cart_id=f"K{pk}", customer_id="C1", source="browser")
        conn.execute(
            "INSERT INTO events (event_name, event_id, event_time, source, accepted_at, body,"
            " cart_id, customer_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (event_name, event_id) DO NOTHING",
            (event.event_name, event.event_id, event.event_time, "browser", NOW - 100 + pk,
             event.model_dump_json(exclude_defaults=True), event.cart_id, event.customer_id))
        final = status not in ("pending", "held")
        conn.execute(
            "INSERT INTO outbox (event_pk, destination, status, next_attempt_at, message,"
            " finished_at, sent) VALUES (?, 'meta', ?, ?, ?, ?, ?)",
            (pk, status, NOW if status == "pending" else None,
             "consent" if status == "suppressed" else None, NOW if final else None,
             '{"data": []}' if status == "delivered" else None))
    conn.execute("INSERT INTO attempts (outbox_id, at, verdict, http_status, message,"
                 " fbtrace_id) VALUES (1, ?, 'retry', 503, 'unavailable', 'TRACE1')", (NOW - 5,))
    conn.execute("INSERT INTO notes (event_pk, at, kind, destination, detail)"
                 " VALUES (1, ?, 'duplicate', NULL, 'duplicate from api; nothing new')",
                 (NOW - 4,))
    conn.execute("INSERT INTO cursors (name, value, updated_at) VALUES"
                 " ('prestashop', '{\"order\": 41}', ?)", (NOW - 3,))
    conn.execute("INSERT INTO destination_state (destination, paused_until, reason, code,"
                 " updated_at) VALUES ('ga4', NULL, 'bad secret', 401, ?)", (NOW - 2,))
    conn.commit()
    conn.close()


def _upgraded(tmp_path: Path) -> SQLiteStore:
    path = tmp_path / "previous.db"
    _previous_release_database(path)
    store = SQLiteStore(str(path))
    store.migrate()
    return store


def test_everything_is_there_under_the_default_shop(tmp_path: Path) -> None:
    store = _upgraded(tmp_path)
    try:
        for status in STATUSES:
            [view] = store.event_view(f"E-{status}", shop=DEFAULT_SHOP)
            assert view.shop == DEFAULT_SHOP and [r.status for r in view.outbox] == [status]
            assert store.event_view(f"E-{status}", shop="other") == []
        [pending] = store.event_view("E-pending")
        assert [(a.verdict, a.http_status, a.fbtrace_id) for a in pending.attempts] == [
            ("retry", 503, "TRACE1")]
        assert [n.kind for n in pending.notes] == ["duplicate"]
        assert store.event_view("E-delivered")[0].outbox[0].sent == {"data": []}
        assert {(c.shop, c.destination) for c in store.counts()} == {(DEFAULT_SHOP, "meta")}
        assert store.counts()[0].counts == dict.fromkeys(STATUSES, 1)
        assert store.get_cursor("prestashop") == '{"order": 41}'
        assert [(s.shop, s.destination, s.reason) for s in store.destination_states()] == [
            (DEFAULT_SHOP, "ga4", "bad secret")]
        assert [e.event_id for e in store.browser_events_by_key("cart_id", "K2", 0)] == [
            "E-held"]
        assert store.has_expired_holds(NOW) and store.has_expired_holds(NOW, shop=DEFAULT_SHOP)
        conn = sqlite3.connect(tmp_path / "previous.db")
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        conn.close()
    finally:
        store.close()


def test_dedup_claims_pauses_and_cursors_keep_working(tmp_path: Path) -> None:
    store = _upgraded(tmp_path)
    try:
        again = store.insert_events(
            [NewEvent(_event("E-pending"), "api", [OutboxPlan("meta")])], NOW)
        assert [r.status for r in again] == ["duplicate"]  # the old ids are still refused
        other_shop = store.insert_events(
            [NewEvent(_event("E-pending"), "api", [OutboxPlan("meta")], "shop-b")], NOW)
        assert [r.status for r in other_shop] == ["queued"]
        fresh = store.insert_events([NewEvent(_event("NEW"), "api", [OutboxPlan("meta")])], NOW)
        assert [r.status for r in fresh] == ["queued"]
        # A new pk is never one the old rows used (AUTOINCREMENT's mark survived the rebuild).
        [new_view] = store.event_view("NEW")
        assert new_view.outbox[0].id > len(STATUSES)
        claimed = store.claim("meta", 10, "w", 60, NOW + 1)
        assert sorted(c.event.event_id for c in claimed) == ["E-pending", "NEW"]
        store.reschedule([claimed[0].outbox_id], NOW + 60, AttemptRecord("retry"), NOW + 1)
        store.finish([Finished(claimed[1].outbox_id, "delivered")], NOW + 1)
        store.resume_destination("ga4")
        assert store.destination_states() == []
        store.pause_destination("meta", NOW + 30, "throttled", 17, NOW)
        assert [s.shop for s in store.destination_states()] == [DEFAULT_SHOP]
        store.set_cursor("prestashop", '{"order": 42}', NOW)
        assert store.get_cursor("prestashop") == '{"order": 42}'
        assert store.get_cursor("prestashop", shop="shop-b") is None
        store.migrate()  # a second start changes nothing
        assert store.get_cursor("prestashop") == '{"order": 42}'
    finally:
        store.close()


def test_foreign_keys_are_on_again_after_the_upgrade(tmp_path: Path) -> None:
    store = _upgraded(tmp_path)
    try:
        with store.transaction():
            pass
        assert store._conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    finally:
        store.close()


def test_a_claim_for_one_shop_is_one_range_of_the_due_index(tmp_path: Path) -> None:
    store = _upgraded(tmp_path)
    try:
        conn = sqlite3.connect(tmp_path / "previous.db")
        plan = " ".join(str(row) for row in conn.execute(
            "EXPLAIN QUERY PLAN " + CLAIM_QUERY, ("shop-b", "meta", NOW, NOW, 100)))
        assert "outbox_due (shop=? AND destination=? AND next_attempt_at<?)" in plan, plan
        conn.close()
    finally:
        store.close()


def test_a_claim_reads_no_other_shops_row(tmp_path: Path) -> None:
    # The plan on a fresh database, with the planner's statistics of a real backlog: shop A
    # holds 50,000 due rows, shop B one; B's claim must stay a range of (shop, destination).
    store = SQLiteStore(str(tmp_path / "fair.db"))
    store.migrate()
    try:
        store.insert_events([NewEvent(_event(f"A{n}"), "api", [OutboxPlan("meta")], "shop-a")
                             for n in range(50_000)], NOW - 600)
        store.insert_events([NewEvent(_event("B1"), "api", [OutboxPlan("meta")], "shop-b")], NOW)
        conn = sqlite3.connect(tmp_path / "fair.db")
        conn.execute("ANALYZE")
        plan = [row[3] for row in conn.execute(
            "EXPLAIN QUERY PLAN " + CLAIM_QUERY, ("shop-b", "meta", NOW, NOW, 100))]
        conn.close()
        assert any("outbox_due (shop=? AND destination=? AND next_attempt_at<?)" in step
                   for step in plan), plan
        assert not any(step.startswith("SCAN o") or step.startswith("SCAN outbox")
                       for step in plan), plan
        [claimed] = store.claim("meta", 100, "w", 60, NOW, shop="shop-b")
        assert claimed.event.event_id == "B1"
    finally:
        store.close()


def test_an_upgrade_that_would_break_a_reference_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "previous.db"
    _previous_release_database(path)
    conn = sqlite3.connect(path)  # foreign keys off, as a hand edit of the file would be
    conn.execute("INSERT INTO notes (event_pk, at, kind, detail) VALUES (999, 0, 'x', 'y')")
    conn.commit()
    conn.close()
    store = SQLiteStore(str(path))
    try:
        with pytest.raises(StoreUnavailable, match="notes"):
            store.migrate()
    finally:
        store.close()
    conn = sqlite3.connect(path)
    versions = [row[0] for row in conn.execute("SELECT version FROM schema_migrations")]
    columns = [row[1] for row in conn.execute("PRAGMA table_info(events)")]
    conn.close()
    assert max(versions) == 6 and "shop" not in columns  # rolled back as a whole
