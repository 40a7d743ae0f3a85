"""The contract for the rest of the protocol: notes, joins, held purchases, purge, health."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest

from tests.contract.test_store_contract import NOW, accept, make_event
from trackside.events import Consent, Order
from trackside.store import (
    HOLD_UNTIL,
    AttemptRecord,
    AttemptRow,
    Finished,
    NewEvent,
    NoteRow,
    OutboxPlan,
    OutboxRow,
    Store,
    StoreError,
    StoreLocked,
)

UNCONFIRMED, SEEN = "unconfirmed_browser_purchase", "seen_by_browser"
REASON = "browser purchase not confirmed by the store"


def test_notes_by_event_by_outbox_row_and_in_bulk(store: Store) -> None:
    accept(store, make_event("R1"), destinations=("meta",))
    [row] = store.claim("meta", 10, "w", 60, NOW)
    store.add_note("Purchase", "R1", "warning", "late", NOW + 2, destination="meta")
    store.add_notes([(row.outbox_id, "note", "meta", "truncated")], NOW + 1)
    store.add_event_notes([("Purchase", "R1", "joined", "by cart_id"),
                           ("Purchase", "NOPE", "joined", "nobody")], NOW + 3)
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


def _held_purchase(store: Store, event_id: str, at: float, **user: object) -> None:
    event = make_event(event_id, **user).model_copy(
        update={"source": "browser", "flags": [SEEN, UNCONFIRMED],
                "order": Order(reference=event_id, value=10, currency="EUR")})
    store.insert_events([NewEvent(event, "browser", [
        OutboxPlan("meta", next_attempt_at=HOLD_UNTIL),
        OutboxPlan("ga4", next_attempt_at=HOLD_UNTIL),
    ])], at)


def test_held_rows_are_never_due_and_expire_after_the_window(store: Store) -> None:
    _held_purchase(store, "OLD", NOW - 100)
    _held_purchase(store, "NEW", NOW - 1)
    accept(store, make_event("PLAIN"), now=NOW - 100)
    assert [r.event.event_id for r in store.claim("meta", 10, "w", 60, NOW)] == ["PLAIN"]
    assert store.has_expired_holds(["meta", "ga4"], HOLD_UNTIL, NOW - 50)
    assert not store.has_expired_holds(["meta", "ga4"], HOLD_UNTIL, NOW - 200)
    assert not store.has_expired_holds(["other"], HOLD_UNTIL, NOW)
    assert store.finish_expired_holds(["meta"], HOLD_UNTIL, NOW - 50, REASON, NOW) == 1
    [old] = store.event_view("OLD")
    rows = {r.destination: r for r in old.outbox}
    assert (rows["meta"].status, rows["meta"].message) == ("suppressed", REASON)
    assert rows["meta"].finished_at == NOW
    assert rows["ga4"].status == "pending"  # not in the destinations asked
    [new] = store.event_view("NEW")
    assert {r.status for r in new.outbox} == {"pending"}
    assert [r.event.event_id for r in store.claim("ga4", 10, "w", 60, NOW)] == ["PLAIN"]
    counts = {c.destination: c.counts for c in store.counts()}
    assert counts["meta"] == {"pending": 2, "suppressed": 1}


def _store_copy(event_id: str) -> NewEvent:
    event = make_event(event_id).model_copy(update={
        "source": "prestashop",
        "order": Order(reference=event_id, value=59.8, currency="EUR", items=[{"id": "A"}])})
    return NewEvent(event, "prestashop", [OutboxPlan("meta"), OutboxPlan("ga4", "suppressed",
                                                                          reason="consent")])


def test_confirm_held_purchase_within_the_window_lends_the_browsers_context(store: Store) -> None:
    _held_purchase(store, "R1", NOW - 10, client_ip_address="1.2.3.4")
    store.finish_expired_holds(["ga4"], HOLD_UNTIL, NOW, REASON, NOW - 5)  # ga4 expired early
    added = store.confirm_held_purchase(_store_copy("R1"), UNCONFIRMED, SEEN, HOLD_UNTIL,
                                        REASON, NOW, lends_since=NOW - 60)
    assert added is not None and "client_ip_address" in added
    [view] = store.event_view("R1")
    assert view.source == "prestashop"
    assert view.event.order is not None and view.event.order.value == 59.8
    assert view.event.user_data["client_ip_address"] == "1.2.3.4"
    assert UNCONFIRMED not in view.event.flags and SEEN in view.event.flags
    # Both rows due now: the held one and the one the window had ended as unconfirmed.
    assert {r.destination: (r.status, r.next_attempt_at) for r in view.outbox} == {
        "meta": ("pending", NOW), "ga4": ("pending", NOW)}
    [note] = view.notes
    assert note.kind == "confirmed" and "browser context kept" in note.detail
    # Confirmed once: the event is no longer a held browser purchase.
    assert store.confirm_held_purchase(_store_copy("R1"), UNCONFIRMED, SEEN, HOLD_UNTIL,
                                       REASON, NOW, lends_since=NOW - 60) is None


def test_confirm_held_purchase_after_the_window_lends_nothing(store: Store) -> None:
    _held_purchase(store, "R1", NOW - 1000, client_ip_address="1.2.3.4")
    added = store.confirm_held_purchase(_store_copy("R1"), UNCONFIRMED, SEEN, HOLD_UNTIL,
                                        REASON, NOW, lends_since=NOW - 60)
    assert added == []
    [view] = store.event_view("R1")
    assert "client_ip_address" not in view.event.user_data
    # Planned again from the store's copy.
    assert {r.destination: (r.status, r.message) for r in view.outbox} == {
        "meta": ("pending", None), "ga4": ("suppressed", "consent")}
    assert "outside the join window" in view.notes[0].detail


def test_confirm_held_purchase_ignores_events_that_are_not_held(store: Store) -> None:
    assert store.confirm_held_purchase(_store_copy("R1"), UNCONFIRMED, SEEN, HOLD_UNTIL,
                                       REASON, NOW, lends_since=NOW) is None
    accept(store, make_event("R2").model_copy(update={"source": "browser"}), source="browser")
    assert store.confirm_held_purchase(_store_copy("R2"), UNCONFIRMED, SEEN, HOLD_UNTIL,
                                       REASON, NOW, lends_since=NOW) is None
    assert store.event_view("R1") == []


def test_purge_clears_browser_data_of_final_events_only(store: Store) -> None:
    clear = {"client_ip_address": "1.2.3.4", "client_user_agent": "UA", "fbp": "fb.1.1.1"}
    accept(store, make_event("DONE", **clear), make_event("DEAD", **clear),
           make_event("WAIT", **clear), destinations=("meta",), now=NOW - 100)
    rows = {r.event.event_id: r.outbox_id for r in store.claim("meta", 10, "w", 60, NOW)}
    sent = '{"user_data":{"em":["x"],"client_ip_address":"1.2.3.4"},"client_id":"1.2"}'
    store.finish([Finished(rows["DONE"], "delivered", sent=sent),
                  Finished(rows["DEAD"], "dead")], NOW)
    assert store.purge_personal_data(NOW - 200, NOW) == 0  # none accepted that early
    assert store.purge_personal_data(NOW, NOW) == 1
    [done] = store.event_view("DONE")
    assert set(done.event.user_data) == {"em"}
    assert done.outbox[0].sent == {"user_data": {"em": ["x"]}}
    [dead] = store.event_view("DEAD")
    assert dead.event.user_data["client_ip_address"] == "1.2.3.4"  # may still be replayed
    assert store.purge_personal_data(NOW, NOW, include_dead=True) == 1
    [dead] = store.event_view("DEAD")
    assert "client_ip_address" not in dead.event.user_data
    [wait] = store.event_view("WAIT")
    assert wait.event.user_data["fbp"] == "fb.1.1.1"  # still pending: never purged
    assert store.purge_personal_data(NOW, NOW, include_dead=True) == 0  # purged once


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
