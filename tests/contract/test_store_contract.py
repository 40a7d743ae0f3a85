"""One contract suite over every Store implementation (memory and SQLite; PostgreSQL next).

Written against the Store protocol only (no SQL): tests/contract/conftest.py says which
stores it runs over.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest

from trackside.context import insert_or_merge
from trackside.events import NormalizedEvent
from trackside.store import (
    ATTEMPTS_KEPT_FIRST,
    ATTEMPTS_KEPT_LAST,
    AttemptRecord,
    DropResult,
    Finished,
    InsertResult,
    NewEvent,
    OutboxPlan,
    Store,
    StoreLocked,
)

NOW = 1_800_000_000.0


def make_event(event_id: str = "R1", name: str = "Purchase", **user: object) -> NormalizedEvent:
    return NormalizedEvent(
        event_name=name, event_id=event_id, event_time=int(NOW) - 60, action_source="website",
        event_source_url="https://shop.example/thanks",
        user_data={"em": ["a" * 64], **user},
    )


def insert(store: Store, records: list[NewEvent], now: float) -> list[InsertResult]:
    """As accept() stores a group: one transaction, duplicates merged (trackside.context)."""
    with store.transaction() as unit:
        return insert_or_merge(unit, records, now)


def accept(store: Store, *events: NormalizedEvent, destinations: tuple[str, ...] = ("meta", "ga4"),
           source: str = "api", now: float = NOW) -> list[str]:
    records = [NewEvent(e, source, [OutboxPlan(d) for d in destinations]) for e in events]
    return [r.status for r in insert(store, records, now)]


def test_migrate_is_idempotent(store: Store) -> None:
    store.migrate()
    store.migrate()
    store.ping()


def test_insert_creates_one_outbox_row_per_destination(store: Store) -> None:
    assert accept(store, make_event("R1"), make_event("R2")) == ["queued", "queued"]
    counts = {c.destination: c.counts for c in store.counts()}
    assert counts == {"meta": {"pending": 2}, "ga4": {"pending": 2}}


def test_duplicates_are_stored_once_and_add_only_missing_context(store: Store) -> None:
    accept(store, make_event("R1"))
    browser_copy = make_event("R1", fbc="fb.1.1700000000000.abc", em=["b" * 64])
    assert accept(store, browser_copy, source="browser") == ["duplicate"]
    [view] = store.event_view("R1")
    assert view.event.user_data["fbc"] == "fb.1.1700000000000.abc"
    assert view.event.user_data["em"] == ["a" * 64]  # the first value wins
    assert any("duplicate from browser; added fbc" in n.detail for n in view.notes)
    assert {c.destination: c.counts for c in store.counts()}["meta"] == {"pending": 1}


def test_insert_events_stores_new_events_and_leaves_duplicates_as_they_are(store: Store) -> None:
    first = NewEvent(make_event("R1"), "api", [OutboxPlan("meta")])
    again = NewEvent(make_event("R1", fbc="fb.1.1700000000000.abc"), "browser",
                     [OutboxPlan("meta")])
    results = store.insert_events([first, again], NOW)
    assert [(r.event_id, r.status, r.added) for r in results] == [
        ("R1", "queued", []), ("R1", "duplicate", [])]
    [view] = store.event_view("R1")
    assert "fbc" not in view.event.user_data and view.notes == []
    assert view.source == "api" and [r.destination for r in view.outbox] == ["meta"]


def test_a_transaction_is_all_or_nothing(store: Store) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), store.transaction() as unit:
        unit.insert_new([NewEvent(make_event("R1"), "api", [OutboxPlan("meta")])], NOW)
        stored = unit.find_event("Purchase", "R1")
        assert stored is not None and stored.statuses == ["pending"]
        unit.note(stored.ref, "warning", "then it failed", NOW)
        raise Boom
    assert store.event_view("R1") == [] and store.counts() == []
    accept(store, make_event("R1"))  # and the store still works
    assert len(store.event_view("R1")) == 1


def test_same_id_with_another_event_name_is_another_event(store: Store) -> None:
    assert accept(store, make_event("R1"), make_event("R1", name="Refund")) == ["queued", "queued"]
    assert len(store.event_view("R1")) == 2


def test_duplicate_after_delivery_changes_nothing(store: Store) -> None:
    accept(store, make_event("R1"), destinations=("meta",))
    [row] = store.claim("meta", 10, "w1", 60, NOW)
    store.finish([Finished(row.outbox_id, "delivered", sent="{}")], NOW)
    accept(store, make_event("R1", fbc="fb.1.1700000000000.abc"), destinations=("meta",))
    [view] = store.event_view("R1")
    assert "fbc" not in view.event.user_data


def test_claim_respects_due_time_lease_and_limit(store: Store) -> None:
    accept(store, *(make_event(f"R{i}") for i in range(5)), destinations=("meta",))
    first = store.claim("meta", 3, "w1", 60, NOW)
    assert len(first) == 3
    second = store.claim("meta", 10, "w2", 60, NOW)
    assert len(second) == 2
    assert store.claim("meta", 10, "w3", 60, NOW) == []
    # A dead worker's lease expires and its rows are due again.
    assert len(store.claim("meta", 10, "w3", 60, NOW + 61)) == 5


def test_release_makes_rows_claimable_again(store: Store) -> None:
    accept(store, make_event("R1"), destinations=("meta",))
    [row] = store.claim("meta", 10, "w1", 60, NOW)
    store.release([row.outbox_id])
    assert len(store.claim("meta", 10, "w2", 60, NOW)) == 1


def test_renew_lease_extends_only_the_owners_rows(store: Store) -> None:
    accept(store, make_event("R1"), make_event("R2"), destinations=("meta",))
    rows = store.claim("meta", 10, "w1", 60, NOW)
    ids = [r.outbox_id for r in rows]
    assert store.renew_lease(ids, "w2", NOW + 600) == 0  # not w2's
    assert store.renew_lease(ids, "w1", NOW + 600) == 2
    assert store.claim("meta", 10, "w2", 60, NOW + 61) == []  # renewed past the first lease
    store.release(ids[:1])
    assert store.renew_lease(ids, "w1", NOW + 900) == 1  # a released row is no longer held
    assert [r.outbox_id for r in store.claim("meta", 10, "w2", 60, NOW + 601)] == ids[:1]
    assert ids[1] in [r.outbox_id for r in store.claim("meta", 10, "w3", 60, NOW + 901)]


def test_record_attempts_and_last_attempts(store: Store) -> None:
    accept(store, make_event("R1"), make_event("R2"), destinations=("meta",))
    a, b = (r.outbox_id for r in store.claim("meta", 10, "w1", 60, NOW))
    store.record_attempts([a, b], AttemptRecord("rejected", 400, 100, 2804048, "bad", 2), NOW)
    store.record_attempts([a], AttemptRecord("probe", 200, None, None, "ok", 1), NOW + 1)
    last = store.last_attempts([a, b])
    assert (last[a].verdict, last[a].batch_size) == ("probe", 1)
    assert (last[b].verdict, last[b].code, last[b].subcode) == ("rejected", 100, 2804048)
    # A step row does not reschedule: the row stays pending and claimed, attempts unchanged.
    [view] = store.event_view("R1")
    assert (view.outbox[0].status, view.outbox[0].attempts) == ("pending", 0)
    assert len(view.attempts) == 2
    assert store.last_attempts([]) == {}


def test_expedite_retries_leaves_held_and_older_rows(store: Store) -> None:
    held = NewEvent(make_event("HELD"), "api", [OutboxPlan("meta", next_attempt_at=NOW + 3600)])
    store.insert_events([held], NOW)
    accept(store, make_event("OLD"), make_event("STORM"), destinations=("meta",))
    old, storm = (r.outbox_id for r in store.claim("meta", 10, "w1", 60, NOW))
    store.reschedule([old], NOW + 900, AttemptRecord("retry", 503), NOW - 100)
    store.reschedule([storm], NOW + 900, AttemptRecord("retry", 503), NOW + 10)
    assert store.expedite_retries("meta", NOW, NOW + 20) == 1
    due = {r.event.event_id for r in store.claim("meta", 10, "w2", 60, NOW + 20)}
    assert due == {"STORM"}  # the held row (never tried) and the pre-storm retry keep waiting


def test_not_due_rows_wait(store: Store) -> None:
    records = [NewEvent(make_event("R1"), "api", [OutboxPlan("meta", next_attempt_at=NOW + 60)])]
    store.insert_events(records, NOW)
    assert store.claim("meta", 10, "w1", 60, NOW) == []
    assert store.next_due("meta") == NOW + 60
    assert len(store.claim("meta", 10, "w1", 60, NOW + 60)) == 1


def test_a_leased_row_is_due_when_its_lease_ends(store: Store) -> None:
    # A row in flight is not due again until its lease ends (a dead worker's row then is):
    # the worker's idle lanes sleep instead of claiming in a loop while another sends it.
    accept(store, make_event("R1"), destinations=("meta",))
    [claimed] = store.claim("meta", 10, "w1", 60, NOW)
    assert store.next_due("meta") == NOW + 60
    store.release([claimed.outbox_id])
    assert store.next_due("meta") == NOW


def test_browser_context_releases_a_waiting_purchase(store: Store) -> None:
    records = [NewEvent(make_event("R1"), "prestashop",
                        [OutboxPlan("meta", next_attempt_at=NOW + 60)])]
    store.insert_events(records, NOW)
    accept(store, make_event("R1", client_ip_address="1.2.3.4"), destinations=("meta",),
           source="browser", now=NOW + 5)
    assert len(store.claim("meta", 10, "w1", 60, NOW + 5)) == 1


def test_reschedule_records_attempt_and_finish_is_final(store: Store) -> None:
    accept(store, make_event("R1"), destinations=("meta",))
    [row] = store.claim("meta", 10, "w1", 60, NOW)
    store.reschedule([row.outbox_id], NOW + 5,
                     AttemptRecord("retry", 500, 2, None, "Service temporarily unavailable", 1),
                     NOW)
    assert store.claim("meta", 10, "w1", 60, NOW + 1) == []
    [again] = store.claim("meta", 10, "w1", 60, NOW + 5)
    assert again.attempts == 1
    store.finish([Finished(again.outbox_id, "dead", 100, 2804016, "User Parameter Not Hashed",
                           "{\"x\":1}")], NOW + 6)
    # A finished row cannot be finished or rescheduled again.
    store.finish([Finished(again.outbox_id, "delivered")], NOW + 7)
    store.reschedule([again.outbox_id], NOW + 8, AttemptRecord("retry"), NOW + 7)
    [view] = store.event_view("R1")
    [outbox] = view.outbox
    assert (outbox.status, outbox.code, outbox.subcode) == ("dead", 100, 2804016)
    assert outbox.sent == {"x": 1}
    assert outbox.attempts == 2
    assert [a.verdict for a in view.attempts] == ["retry"]


def test_initially_final_rows(store: Store) -> None:
    records = [NewEvent(make_event("R1", name="Refund"), "api",
                        [OutboxPlan("meta", "not_applicable", reason="meta has no Refund event"),
                         OutboxPlan("ga4")])]
    store.insert_events(records, NOW)
    counts = {c.destination: c.counts for c in store.counts()}
    assert counts == {"meta": {"not_applicable": 1}, "ga4": {"pending": 1}}
    assert store.claim("meta", 10, "w", 60, NOW) == []


def test_pause_and_resume(store: Store) -> None:
    store.pause_destination("meta", None, "invalid token", 190, NOW)
    store.pause_destination("ga4", NOW + 60, "throttled", 429, NOW)
    states = {s.destination: s for s in store.destination_states()}
    assert states["meta"].paused_until is None and states["meta"].code == 190
    assert states["ga4"].paused_until == NOW + 60
    store.resume_destination("meta")
    assert [s.destination for s in store.destination_states()] == ["ga4"]


def test_replay_refuses_events_outside_the_window(store: Store) -> None:
    old = make_event("OLD")
    old = old.model_copy(update={"event_time": int(NOW) - 8 * 86400})
    accept(store, make_event("R1"), old, destinations=("meta",))
    rows = store.claim("meta", 10, "w", 60, NOW)
    store.finish([Finished(r.outbox_id, "dead" if r.event.event_id == "R1" else "expired")
                  for r in rows], NOW)
    result = store.replay(destination="meta", since=None, until=None, event_id=None,
                          min_event_time={"meta": NOW - 7 * 86400}, now=NOW)
    assert result.replayed == 1
    assert [event_id for event_id, _ in result.refused] == ["OLD"]
    assert {c.destination: c.counts for c in store.counts()}["meta"] == {"pending": 1, "expired": 1}
    [view] = store.event_view("R1")
    assert any(n.kind == "replay" for n in view.notes)


def test_cursors(store: Store) -> None:
    assert store.get_cursor("prestashop") is None
    store.set_cursor("prestashop", "41", NOW)
    store.set_cursor("prestashop", "42", NOW)
    assert store.get_cursor("prestashop") == "42"


def test_oldest_pending_age(store: Store) -> None:
    accept(store, make_event("R1"), destinations=("meta",), now=NOW)
    accept(store, make_event("R2"), destinations=("meta",), now=NOW + 30)
    [counts] = store.counts()
    assert counts.oldest_pending_accepted_at == NOW


def test_store_order_replaces_the_browsers_when_the_beacon_came_first(store: Store) -> None:
    from trackside.events import Order

    browser = make_event("R1", client_ip_address="1.2.3.4").model_copy(
        update={"source": "browser", "order": Order(reference="R1", value=10, currency="EUR")})
    server = make_event("R1").model_copy(
        update={"source": "prestashop",
                "order": Order(reference="R1", value=59.8, currency="EUR", items=[{"id": "A"}])})
    insert(store, [NewEvent(browser, "browser", [OutboxPlan("meta")])], NOW)
    [result] = insert(store, [NewEvent(server, "prestashop", [OutboxPlan("meta")])], NOW)
    assert result.status == "duplicate"
    [view] = store.event_view("R1")
    assert view.event.order is not None and view.event.order.value == 59.8
    assert view.event.source == "prestashop"
    assert view.event.user_data["client_ip_address"] == "1.2.3.4"
    assert any("confirmation from prestashop" in n.detail for n in view.notes)


def test_drop_pending_ends_only_pending_rows_with_a_note(store: Store) -> None:
    accept(store, make_event("R1"))
    [row] = store.claim("ga4", 10, "w", 60, NOW)
    store.finish([Finished(row.outbox_id, "delivered")], NOW)
    result = store.drop_pending("R1", None, "test order", "ana", NOW + 1)
    assert result.dropped == [("Purchase", "meta")]
    assert result.refused == [("Purchase", "ga4", "delivered")]
    [view] = store.event_view("R1")
    rows = {r.destination: r for r in view.outbox}
    assert rows["meta"].status == "dead" and rows["ga4"].status == "delivered"
    assert rows["meta"].message == "dropped by operator: test order"
    assert [(n.kind, n.destination, n.detail) for n in view.notes] == [
        ("dropped", "meta", "dropped by ana: test order")]
    assert store.claim("meta", 10, "w", 60, NOW + 2) == []
    assert store.drop_pending("R1", "meta", "again", "ana", NOW + 3).dropped == []
    assert store.drop_pending("NOPE", None, "x", "ana", NOW) == DropResult([], [])


def test_attempts_keep_the_first_and_last_few_and_count_the_rest(store: Store) -> None:
    accept(store, make_event("R1"), destinations=("meta",))
    [row] = store.claim("meta", 10, "w", 60, NOW)
    total = ATTEMPTS_KEPT_FIRST + ATTEMPTS_KEPT_LAST + 40
    for i in range(total):
        store.reschedule([row.outbox_id], NOW, AttemptRecord("retry", message=f"a{i}"), NOW + i)
    [view] = store.event_view("R1")
    kept = [a.message for a in view.attempts]
    assert kept[:ATTEMPTS_KEPT_FIRST] == [f"a{i}" for i in range(ATTEMPTS_KEPT_FIRST)]
    assert kept[ATTEMPTS_KEPT_FIRST:] == [f"a{i}" for i in range(total - ATTEMPTS_KEPT_LAST, total)]
    assert view.outbox[0].attempts == total and view.outbox[0].attempts_not_kept == 40


def test_probe_write_commits_and_leaves_nothing(store: Store) -> None:
    store.probe_write(1.0, NOW)
    store.probe_write(1.0, NOW)
    assert store.counts() == []


def test_time_limit_bounds_waiting_not_work(
    store: Store, locked_elsewhere: Callable[[], AbstractContextManager[object]]
) -> None:
    # Past its limit a call that needs no lock wait still runs (a slow block's later call).
    with store.time_limit(0):
        store.set_cursor("c", "v", NOW)
    assert store.get_cursor("c") == "v"
    with locked_elsewhere(), pytest.raises(StoreLocked), store.time_limit(0.2):
        store.set_cursor("c", "w", NOW)
    assert store.get_cursor("c") == "v"
