"""The contract for the rest of the protocol: notes, joins, held purchases, purge, health."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest

from tests.contract.test_store_contract import NOW, accept, make_event
from trackside import join
from trackside.events import Consent, Order
from trackside.retention import purge_personal_data
from trackside.store import (
    HELD,
    AttemptRecord,
    AttemptRow,
    Finished,
    InsertResult,
    NewEvent,
    NoteRow,
    OutboxPlan,
    OutboxRow,
    Store,
    StoreError,
    StoreLocked,
)

#: What the join stage needs; these tests' events carry no cart or customer id to join by.
WINDOW_S = 60.0

UNCONFIRMED, SEEN = "unconfirmed_browser_purchase", "seen_by_browser"
REASON = "browser purchase not confirmed by the store"


def test_notes_by_event_by_outbox_row_and_in_a_transaction(store: Store) -> None:
    accept(store, make_event("R1"), destinations=("meta",))
    [row] = store.claim("meta", 10, "w", 60, NOW)
    store.add_note("Purchase", "R1", "warning", "late", NOW + 2, destination="meta")
    store.add_notes([(row.outbox_id, "note", "meta", "truncated")], NOW + 1)
    with store.transaction() as unit:
        stored = unit.find_event("Purchase", "R1")
        assert stored is not None
        unit.note(stored.ref, "joined", "by cart_id", NOW + 3)
    store.add_note("Purchase", "NOPE", "warning", "nobody", NOW)  # no such event: nothing
    [view] = store.event_view("R1")
    assert view.notes == [
        NoteRow(NOW + 1, "note", "truncated", "meta"),
        NoteRow(NOW + 2, "warning", "late", "meta"),
        NoteRow(NOW + 3, "joined", "by cart_id", None),
    ]
    assert store.event_view("NOPE") == []


def test_event_view_records(store: Store) -> None:
    accept(store, make_event("R1"), destinations=("meta", "ga4"))
    rows = {r.destination: r.outbox_id for r in store.claim("meta", 10, "w", 60, NOW)}
    store.record_attempts([rows["meta"]], AttemptRecord("rejected", 400, 100, 33, "bad", 1,
                                                        fbtrace_id="AbCdEf"), NOW + 1)
    store.reschedule([rows["meta"]], NOW + 9, AttemptRecord("retry", 503), NOW)
    [view] = store.event_view("R1")
    assert [type(r) for r in view.outbox] == [OutboxRow, OutboxRow]
    meta = next(r for r in view.outbox if r.destination == "meta")
    assert (meta.status, meta.attempts, meta.next_attempt_at) == ("pending", 1, NOW + 9)
    assert meta.lease_expires_at is None and meta.sent is None and meta.attempts_not_kept == 0
    assert [(a.verdict, a.at, a.fbtrace_id) for a in view.attempts] == [
        ("retry", NOW, None), ("rejected", NOW + 1, "AbCdEf")]  # by time
    first, second = view.attempts
    assert isinstance(first, AttemptRow) and first.destination == "meta"
    assert (second.http_status, second.code, second.subcode, second.message,
            second.batch_size) == (400, 100, 33, "bad", 1)
    assert store.last_attempts([rows["meta"]])[rows["meta"]].fbtrace_id is None  # the newest


def test_finish_counts_a_send_and_records_what_was_sent(store: Store) -> None:
    accept(store, make_event("R1"), make_event("R2"), destinations=("meta",))
    a, b = (r.outbox_id for r in store.claim("meta", 10, "w", 60, NOW))
    store.finish([Finished(a, "delivered", sent='{"event_id":"R1"}'),
                  Finished(b, "suppressed", message="consent")], NOW)
    [one] = store.event_view("R1")
    [two] = store.event_view("R2")
    assert (one.outbox[0].attempts, one.outbox[0].sent) == (1, {"event_id": "R1"})
    assert (two.outbox[0].attempts, two.outbox[0].message) == (0, "consent")
    assert one.outbox[0].finished_at == NOW and store.next_due("meta") is None
    store.release([a])  # a finished row may be released: nothing changes
    assert store.claim("meta", 10, "w", 60, NOW + 100) == []


def test_replay_filters(store: Store) -> None:
    accept(store, make_event("A"), make_event("B"), destinations=("meta", "ga4"))
    for destination in ("meta", "ga4"):
        store.finish([Finished(r.outbox_id, "dead")
                      for r in store.claim(destination, 10, "w", 60, NOW)], NOW)
    none = store.replay(destination=None, since=NOW, until=None, event_id=None,
                        min_event_time={}, now=NOW)
    assert (none.replayed, none.refused) == (0, [])  # event_time is NOW - 60
    one = store.replay(destination="ga4", since=None, until=NOW, event_id="B",
                       min_event_time={}, now=NOW + 1)
    assert one.replayed == 1
    assert [r.event.event_id for r in store.claim("ga4", 10, "w", 60, NOW + 1)] == ["B"]
    assert store.claim("meta", 10, "w", 60, NOW + 1) == []


def test_browser_events_by_key(store: Store) -> None:
    def browser(event_id: str, cart: str, at: float, source: str = "browser") -> None:
        event = make_event(event_id, name="AddToCart", fbp=f"fb.1.1.{event_id}").model_copy(
            update={"cart_id": cart, "customer_id": "C9", "source": source})
        store.insert_events([NewEvent(event, source, [OutboxPlan("meta")])], at)

    browser("B1", "K1", NOW - 100)
    browser("B2", "K1", NOW - 10)
    browser("B3", "K2", NOW - 5)
    browser("S1", "K1", NOW, source="api")  # not the browser's word
    found = store.browser_events_by_key("cart_id", "K1", NOW - 50)
    assert [e.event_id for e in found] == ["B2"]
    newest_first = store.browser_events_by_key("customer_id", "C9", 0)
    assert [e.event_id for e in newest_first] == ["B3", "B2", "B1"]
    assert [e.event_id for e in store.browser_events_by_key("customer_id", "C9", 0, 2)] == [
        "B3", "B2"]
    assert newest_first[0].user_data["fbp"] == "fb.1.1.B3"
    assert store.browser_events_by_key("cart_id", "NONE", 0) == []
    with store.transaction() as unit:  # the same answers inside a transaction
        assert [e.event_id for e in unit.browser_events_by_key("customer_id", "C9", 0, 2)] == [
            "B3", "B2"]
        assert [e.event_id for e in unit.browser_events_by_key("cart_id", "K1", NOW - 50)] == [
            "B2"]


def _stage() -> join.JoinStage:
    return join.JoinStage(join_window_s=WINDOW_S, retention_days=30,
                          trust_browser_purchases=False, plan=lambda e, s, n: [])


def _held_purchase(store: Store, event_id: str, at: float, **user: object) -> None:
    event = make_event(event_id, **user).model_copy(
        update={"source": "browser", "flags": [SEEN, UNCONFIRMED],
                "order": Order(reference=event_id, value=10, currency="EUR")})
    store.insert_events([NewEvent(event, "browser", [
        OutboxPlan("meta", HELD), OutboxPlan("ga4", HELD)])], at)


def _sweep(store: Store, accepted_before: float, now: float) -> int:
    with store.transaction() as unit:
        return unit.finish_expired_holds(accepted_before, REASON, now)


def test_held_rows_are_never_due_and_expire_after_the_window(store: Store) -> None:
    _held_purchase(store, "OLD", NOW - 100)
    _held_purchase(store, "NEW", NOW - 1)
    # Held rows are still waiting: they count for the oldest waiting event.
    assert {c.destination: c.oldest_pending_accepted_at for c in store.counts()} == {
        "meta": NOW - 100, "ga4": NOW - 100}
    accept(store, make_event("PLAIN"), now=NOW - 100)
    assert [r.event.event_id for r in store.claim("meta", 10, "w", 60, NOW)] == ["PLAIN"]
    assert store.next_due("ga4") == NOW - 100  # held rows are never due
    counts = {c.destination: c.counts for c in store.counts()}
    assert counts["ga4"] == {"pending": 1, "held": 2}
    assert store.has_expired_holds(NOW - 50)
    assert not store.has_expired_holds(NOW - 200)
    with store.transaction() as unit:
        assert unit.has_expired_holds(NOW - 50) and not unit.has_expired_holds(NOW - 200)
    assert _sweep(store, NOW - 50, NOW) == 2
    [old] = store.event_view("OLD")
    assert {(r.status, r.message, r.finished_at, r.next_attempt_at) for r in old.outbox} == {
        ("suppressed", REASON, NOW, None)}
    [new] = store.event_view("NEW")
    assert {(r.status, r.next_attempt_at) for r in new.outbox} == {(HELD, None)}
    assert not store.has_expired_holds(NOW - 50)
    # An operator may drop a held row like a pending one.
    assert store.drop_pending("NEW", "meta", "test", "ana", NOW).dropped == [("Purchase", "meta")]


def _store_copy(event_id: str) -> NewEvent:
    event = make_event(event_id).model_copy(update={
        "source": "prestashop",
        "order": Order(reference=event_id, value=59.8, currency="EUR", items=[{"id": "A"}])})
    # As the pipeline plans a server Purchase: waiting for the browser's context.
    return NewEvent(event, "prestashop", [OutboxPlan("meta", next_attempt_at=NOW + WINDOW_S),
                                          OutboxPlan("ga4", "suppressed", reason="consent")])


def _confirm(store: Store, record: NewEvent, now: float = NOW) -> list[InsertResult]:
    with store.transaction() as unit:
        return join.insert(_stage(), unit, [record], record.source, now)


def test_a_store_copy_within_the_window_confirms_and_takes_the_browsers_context(
    store: Store,
) -> None:
    _held_purchase(store, "R1", NOW - 10, client_ip_address="1.2.3.4")
    _sweep(store, NOW, NOW - 5)  # the window ended early for both rows
    with store.transaction() as unit:
        stored = unit.find_event("Purchase", "R1")
        assert stored is not None
        assert unit.release_held(stored.ref, NOW - 4) == 0  # nothing held any more
    [result] = _confirm(store, _store_copy("R1"))
    assert result.status == "queued" and "client_ip_address" in result.added
    [view] = store.event_view("R1")
    assert view.source == "prestashop"
    assert view.event.order is not None and view.event.order.value == 59.8
    assert view.event.user_data["client_ip_address"] == "1.2.3.4"
    assert UNCONFIRMED not in view.event.flags and SEEN in view.event.flags
    # Both rows due now again: the window had ended them as unconfirmed.
    assert {r.destination: (r.status, r.next_attempt_at) for r in view.outbox} == {
        "meta": ("pending", NOW), "ga4": ("pending", NOW)}
    [note] = view.notes
    assert note.kind == "confirmed" and "browser context kept" in note.detail
    # Confirmed once: another store copy is an ordinary duplicate.
    assert [r.status for r in _confirm(store, _store_copy("R1"), NOW + 1)] == ["duplicate"]


def test_release_held_makes_held_rows_due_now(store: Store) -> None:
    _held_purchase(store, "R1", NOW - 10)
    [result] = _confirm(store, _store_copy("R1"))
    assert result.status == "queued"
    [view] = store.event_view("R1")
    assert {(r.status, r.next_attempt_at) for r in view.outbox} == {("pending", NOW)}
    assert len(store.claim("meta", 10, "w", 60, NOW)) == 1


def test_a_store_copy_after_the_window_takes_nothing_from_the_browser(store: Store) -> None:
    _held_purchase(store, "R1", NOW - 1000, client_ip_address="1.2.3.4")
    [result] = _confirm(store, _store_copy("R1"))
    assert (result.status, result.added) == ("queued", [])
    [view] = store.event_view("R1")
    assert "client_ip_address" not in view.event.user_data
    # Planned again from the store's copy, due now (the join window is long over).
    assert {r.destination: (r.status, r.message, r.next_attempt_at) for r in view.outbox} == {
        "meta": ("pending", None, NOW), "ga4": ("suppressed", "consent", None)}
    assert "outside the join window" in view.notes[0].detail


def test_unit_of_work_primitives(store: Store) -> None:
    store.insert_events([NewEvent(make_event("R1"), "api", [
        OutboxPlan("meta", next_attempt_at=NOW + 60), OutboxPlan("ga4")])], NOW)
    with store.transaction() as unit:
        assert unit.find_event("Purchase", "NOPE") is None
        stored = unit.find_event("Purchase", "R1")
        assert stored is not None and stored.source == "api" and stored.accepted_at == NOW
        assert stored.statuses == ["pending", "pending"]
        changed = stored.event.model_copy(update={"cart_id": "K1", "source": "browser"})
        unit.update_event(stored.ref, changed, source="browser")
        assert unit.make_due(stored.ref, NOW) == 1  # meta waited; ga4 was due already
        unit.replan(stored.ref, [OutboxPlan("ga4", "suppressed", reason="consent: denied")],
                    NOW)
        assert unit.reopen(stored.ref, "consent: other", NOW) == 0
        assert unit.reopen(stored.ref, "consent: denied", NOW + 1) == 1
    [view] = store.event_view("R1")
    assert view.source == "browser" and view.event.cart_id == "K1"
    assert [e.event_id for e in store.browser_events_by_key("cart_id", "K1", 0)] == ["R1"]
    assert {r.destination: (r.status, r.next_attempt_at) for r in view.outbox} == {
        "meta": ("pending", NOW), "ga4": ("pending", NOW + 1)}


def test_purge_clears_browser_data_of_final_events_only(store: Store) -> None:
    clear = {"client_ip_address": "1.2.3.4", "client_user_agent": "UA", "fbp": "fb.1.1.1"}
    accept(store, make_event("DONE", **clear), make_event("DEAD", **clear),
           make_event("WAIT", **clear), destinations=("meta",), now=NOW - 100)
    rows = {r.event.event_id: r.outbox_id for r in store.claim("meta", 10, "w", 60, NOW)}
    sent = '{"user_data":{"em":["x"],"client_ip_address":"1.2.3.4"},"client_id":"1.2"}'
    store.finish([Finished(rows["DONE"], "delivered", sent=sent),
                  Finished(rows["DEAD"], "dead")], NOW)
    assert purge_personal_data(store, NOW - 200, NOW) == 0  # none accepted that early
    assert purge_personal_data(store, NOW, NOW) == 1
    [done] = store.event_view("DONE")
    assert set(done.event.user_data) == {"em"}
    assert done.outbox[0].sent == {"user_data": {"em": ["x"]}}
    [dead] = store.event_view("DEAD")
    assert dead.event.user_data["client_ip_address"] == "1.2.3.4"  # may still be replayed
    assert purge_personal_data(store, NOW, NOW, include_dead=True) == 1
    [dead] = store.event_view("DEAD")
    assert "client_ip_address" not in dead.event.user_data
    [wait] = store.event_view("WAIT")
    assert wait.event.user_data["fbp"] == "fb.1.1.1"  # still pending: never purged
    assert purge_personal_data(store, NOW, NOW, include_dead=True) == 0  # purged once


def test_purge_candidates_and_mark_purged(store: Store) -> None:
    accept(store, make_event("DONE", fbp="fb.1.1.1"), make_event("WAIT"), destinations=("meta",),
           now=NOW - 10)
    [done, _] = sorted(store.claim("meta", 10, "w", 60, NOW), key=lambda r: r.event.event_id)
    store.finish([Finished(done.outbox_id, "delivered", sent='{"a":1}')], NOW)
    with store.transaction() as unit:
        assert unit.purge_candidates(NOW - 10, ["pending"]) == []  # accepted at, not before
        [candidate] = unit.purge_candidates(NOW, ["pending"])
        assert candidate.event.event_id == "DONE"
        assert candidate.sent == {done.outbox_id: '{"a":1}'}
        assert unit.purge_candidates(NOW, ["pending", "delivered"]) == []
        stripped = candidate.event.model_copy(update={"user_data": {}})
        unit.mark_purged(candidate.ref, stripped, {done.outbox_id: '{"b":2}'}, NOW)
        assert unit.purge_candidates(NOW, ["pending"]) == []  # purged once
    [view] = store.event_view("DONE")
    assert view.event.user_data == {} and view.outbox[0].sent == {"b": 2}


def test_consent_of_a_duplicate_combines_to_the_most_restrictive(store: Store) -> None:
    accept(store, make_event("R1").model_copy(
        update={"consent": Consent(ad_storage="granted")}))
    accept(store, make_event("R1").model_copy(
        update={"consent": Consent(ad_storage="denied"), "source": "browser"}), source="browser")
    [view] = store.event_view("R1")
    assert view.event.consent is not None and view.event.consent.ad_storage == "denied"


def test_probe_write_gives_up_on_a_lock_held_elsewhere(
    store: Store, locked_elsewhere: Callable[[], AbstractContextManager[object]]
) -> None:
    with locked_elsewhere(), pytest.raises(StoreLocked):
        store.probe_write(0.2, NOW)
    store.probe_write(1.0, NOW)


def test_a_closed_store_says_so(store: Store) -> None:
    store.ping()
    store.close()
    with pytest.raises(StoreError):
        store.ping()
    with pytest.raises(StoreError):
        store.set_cursor("c", "v", NOW)


def test_events_finish_and_cursor_commit_together_or_not_at_all(store: Store) -> None:
    accept(store, make_event("R1"), destinations=("meta",))
    [row] = store.claim("meta", 10, "w", 60, NOW)
    with pytest.raises(RuntimeError), store.transaction() as unit:
        unit.insert_new([NewEvent(make_event("R2"), "prestashop", [OutboxPlan("meta")])], NOW)
        unit.set_cursor("prestashop", "42", NOW)
        unit.finish([Finished(row.outbox_id, "delivered", sent="{}")], NOW)
        raise RuntimeError("the poller failed before its commit")
    assert store.get_cursor("prestashop") is None and store.event_view("R2") == []
    assert store.event_view("R1")[0].outbox[0].status == "pending"
    with store.transaction() as unit:
        assert unit.insert_new([NewEvent(make_event("R2"), "prestashop",
                                         [OutboxPlan("meta")])], NOW) == [True]
        unit.set_cursor("prestashop", "42", NOW)
        unit.finish([Finished(row.outbox_id, "delivered", sent="{}"),
                     Finished(row.outbox_id, "dead")], NOW)  # the second: already final
    assert store.get_cursor("prestashop") == "42"
    [view] = store.event_view("R1")
    assert (view.outbox[0].status, view.outbox[0].attempts) == ("delivered", 1)


def test_the_suite_calls_every_protocol_method() -> None:
    # So a method added to the protocol cannot go untested over every implementation.
    import inspect
    from pathlib import Path

    from trackside.store import UnitOfWork

    here = Path(__file__).parent
    source = "".join(path.read_text(encoding="utf-8") for path in here.glob("test_*.py"))
    for protocol in (Store, UnitOfWork):
        for name, _ in inspect.getmembers(protocol, inspect.isfunction):
            if not name.startswith("_"):
                assert f".{name}(" in source, f"{protocol.__name__}.{name} is not in the suite"
