"""The contract of shops: two shops with the same event ids, order refs, cart ids, cursor and
destination names share nothing; no scoped method returns or changes another shop's rows."""

from __future__ import annotations

import inspect

import pytest

from tests.contract.test_store_contract import NOW, insert, make_event
from trackside import join
from trackside.retention import purge_personal_data
from trackside.shop_names import DEFAULT_SHOP, ShopNameError, checked_shop
from trackside.store import (
    HELD,
    AttemptRecord,
    Finished,
    NewEvent,
    OutboxPlan,
    Store,
    UnitOfWork,
)

A, B = "shop-a", "shop_b"
REASON = "browser purchase not confirmed by the store"


def put(store: Store, shop: str, event_id: str = "R1", *, destinations: tuple[str, ...] = ("meta",),
        source: str = "api", now: float = NOW, status: str = "pending", **fields: object) -> None:
    event = make_event(event_id).model_copy(update=fields)
    store.insert_events([NewEvent(event, source, [OutboxPlan(d, status) for d in destinations],
                                  shop)], now)


def ids(store: Store, shop: str, destination: str = "meta", now: float = NOW) -> list[str]:
    return sorted(c.event.event_id for c in store.claim(destination, 100, "w", 60, now, shop=shop))


def test_dedup_is_per_shop(store: Store) -> None:
    put(store, A, "R1")
    put(store, B, "R1")  # the same order reference in another shop is another event
    results = store.insert_events([NewEvent(make_event("R1"), "api", [OutboxPlan("meta")], A)],
                                  NOW)
    assert [r.status for r in results] == ["duplicate"]
    with store.transaction() as unit:
        again = [NewEvent(make_event("R1"), "api", [OutboxPlan("meta")], shop)
                 for shop in (A, B, DEFAULT_SHOP)]
        assert unit.insert_new(again, NOW) == [False, False, True]
        found_a = unit.find_event("Purchase", "R1", shop=A)
        found_b = unit.find_event("Purchase", "R1", shop=B)
        assert found_a is not None and found_b is not None
        assert (found_a.shop, found_b.shop) == (A, B) and found_a.ref != found_b.ref
        assert unit.find_event("Purchase", "R1", shop="shop-c") is None
    assert {(c.shop, c.destination): c.counts for c in store.counts()} == {
        (A, "meta"): {"pending": 1}, (B, "meta"): {"pending": 1},
        (DEFAULT_SHOP, "meta"): {"pending": 1}}



def test_a_duplicate_merges_into_its_own_shops_event(store: Store) -> None:
    put(store, A, "R1")
    put(store, B, "R1")
    browser_copy = make_event("R1", fbc="fb.1.1700000000000.abc")
    results = insert(store, [NewEvent(browser_copy, "browser", [OutboxPlan("meta")], B)], NOW)
    assert [(r.status, r.added) for r in results] == [("duplicate", ["fbc"])]
    [view_b] = store.event_view("R1", shop=B)
    [view_a] = store.event_view("R1", shop=A)
    assert view_b.event.user_data["fbc"] == "fb.1.1700000000000.abc"
    assert [n.kind for n in view_b.notes] == ["duplicate"]
    assert "fbc" not in view_a.event.user_data and view_a.notes == []

def test_views_and_notes_stay_in_their_shop(store: Store) -> None:
    put(store, A, "R1")
    put(store, B, "R1", destinations=("ga4",))
    store.add_note("Purchase", "R1", "warning", "for A only", NOW, shop=A)
    [view_a] = store.event_view("R1", shop=A)
    [view_b] = store.event_view("R1", shop=B)
    assert (view_a.shop, [r.destination for r in view_a.outbox]) == (A, ["meta"])
    assert (view_b.shop, [r.destination for r in view_b.outbox]) == (B, ["ga4"])
    assert [n.detail for n in view_a.notes] == ["for A only"] and view_b.notes == []
    assert store.event_view("R1") == []  # nothing in the default shop
    # Notes by outbox id follow the row's own event.
    [claimed] = store.claim("ga4", 10, "w", 60, NOW, shop=B)
    store.add_notes([(claimed.outbox_id, "note", "ga4", "for B only")], NOW)
    assert [n.detail for n in store.event_view("R1", shop=B)[0].notes] == ["for B only"]
    assert [n.detail for n in store.event_view("R1", shop=A)[0].notes] == ["for A only"]


def test_claims_and_due_times_are_per_shop(store: Store) -> None:
    put(store, A, "R1")
    put(store, A, "R2")
    put(store, B, "R1", now=NOW + 5)
    assert store.next_due("meta", shop=A) == NOW and store.next_due("meta", shop=B) == NOW + 5
    assert store.next_due("meta") is None
    claimed = store.claim("meta", 10, "w", 60, NOW + 10, shop=B)
    assert [(c.shop, c.event.event_id) for c in claimed] == [(B, "R1")]
    assert ids(store, A, now=NOW + 10) == ["R1", "R2"]
    assert ids(store, DEFAULT_SHOP, now=NOW + 10) == []
    # A retry storm's end makes only that shop's retried rows due.
    store.reschedule([claimed[0].outbox_id], NOW + 3600, AttemptRecord("retry"), NOW + 10)
    assert store.expedite_retries("meta", NOW, NOW + 20, shop=A) == 0
    assert store.expedite_retries("meta", NOW, NOW + 20, shop=B) == 1
    assert store.next_due("meta", shop=B) == NOW + 20


def test_pauses_are_per_shop_and_destination(store: Store) -> None:
    store.pause_destination("meta", None, "bad token", 190, NOW, shop=A)
    store.pause_destination("meta", NOW + 60, "throttled", 17, NOW, shop=B)
    assert [(s.shop, s.destination, s.paused_until) for s in store.destination_states()] == [
        (A, "meta", None), (B, "meta", NOW + 60)]
    assert [s.reason for s in store.destination_states(shop=B)] == ["throttled"]
    assert store.destination_states(shop=DEFAULT_SHOP) == []
    store.resume_destination("meta", shop=A)
    assert [s.shop for s in store.destination_states()] == [B]
    store.resume_destination("meta")  # the default shop's: B's pause stays
    assert [s.shop for s in store.destination_states()] == [B]


def test_counts_per_shop_and_for_all(store: Store) -> None:
    put(store, A, "R1", now=NOW - 30)
    put(store, A, "R2", status=HELD)
    put(store, B, "R1", destinations=("meta", "ga4"))
    assert [(c.shop, c.destination, c.counts, c.oldest_pending_accepted_at)
            for c in store.counts(shop=A)] == [(A, "meta", {"pending": 1, HELD: 1}, NOW - 30)]
    assert [(c.shop, c.destination) for c in store.counts()] == [
        (A, "meta"), (B, "ga4"), (B, "meta")]
    assert store.counts(shop="nobody") == []


def test_replay_and_drop_touch_only_their_shop(store: Store) -> None:
    for shop in (A, B):
        put(store, shop, "R1")
        put(store, shop, "R2")
        rows = store.claim("meta", 10, "w", 60, NOW, shop=shop)
        store.finish([Finished(r.outbox_id, "dead") for r in rows if r.event.event_id == "R1"],
                     NOW)
    result = store.replay(destination=None, since=None, until=None, event_id=None,
                          min_event_time={}, now=NOW + 1, shop=A)
    assert result.replayed == 1
    assert [r.status for r in store.event_view("R1", shop=B)[0].outbox] == ["dead"]
    assert [r.status for r in store.event_view("R1", shop=A)[0].outbox] == ["pending"]
    dropped = store.drop_pending("R2", None, "test", "ana", NOW + 2, shop=B)
    assert dropped.dropped == [("Purchase", "meta")]
    assert [r.status for r in store.event_view("R2", shop=A)[0].outbox] == ["pending"]
    assert store.drop_pending("R2", None, "again", "ana", NOW + 2).dropped == []


def test_cursors_are_per_shop(store: Store) -> None:
    store.set_cursor("prestashop", "a-7", NOW, shop=A)
    store.set_cursor("prestashop", "b-3", NOW, shop=B)
    with store.transaction() as unit:
        unit.set_cursor("prestashop", "a-8", NOW, shop=A)
    assert store.get_cursor("prestashop", shop=A) == "a-8"
    assert store.get_cursor("prestashop", shop=B) == "b-3"
    assert store.get_cursor("prestashop") is None


def test_a_browser_event_of_one_shop_never_lends_context_to_another(store: Store) -> None:
    put(store, A, "B1", source="browser", cart_id="K1", customer_id="C1",
        user_data={"fbp": "fb.1.1.shopA"}, now=NOW - 10)
    assert store.browser_events_by_key("cart_id", "K1", 0, shop=B) == []
    assert [e.event_id for e in store.browser_events_by_key("cart_id", "K1", 0, shop=A)] == [
        "B1"]
    stage = join.JoinStage(join_window_s=60, retention_days=30, trust_browser_purchases=False,
                           plan=lambda e, s, n: [OutboxPlan("meta")], shop=B)
    order = make_event("ORDER").model_copy(update={"cart_id": "K1", "customer_id": "C1"})
    with store.transaction() as unit:
        assert unit.browser_events_by_key("customer_id", "C1", 0, shop=B) == []
        join.insert(stage, unit, [NewEvent(order, "prestashop", [OutboxPlan("meta")], B)],
                    "prestashop", NOW)
    [view] = store.event_view("ORDER", shop=B)
    assert "fbp" not in view.event.user_data and view.notes == []
    # The same order in shop A does take A's shopper's context.
    stage.shop = A
    with store.transaction() as unit:
        join.insert(stage, unit, [NewEvent(order, "prestashop", [OutboxPlan("meta")], A)],
                    "prestashop", NOW)
    assert store.event_view("ORDER", shop=A)[0].event.user_data["fbp"] == "fb.1.1.shopA"


def test_held_purchases_expire_per_shop(store: Store) -> None:
    put(store, A, "H1", status=HELD, now=NOW - 100)
    put(store, B, "H1", status=HELD, now=NOW - 100)
    assert store.has_expired_holds(NOW, shop=A) and store.has_expired_holds(NOW)
    assert not store.has_expired_holds(NOW, shop="shop-c")
    with store.transaction() as unit:
        assert unit.has_expired_holds(NOW, shop=B)
        assert unit.finish_expired_holds(NOW, REASON, NOW, shop=A) == 1
        assert not unit.has_expired_holds(NOW, shop=A)
    assert [r.status for r in store.event_view("H1", shop=B)[0].outbox] == [HELD]


def test_purge_is_scoped_when_asked(store: Store) -> None:
    for shop in (A, B):
        put(store, shop, "OLD", now=NOW - 100, user_data={"em": ["a" * 64],
                                                         "client_ip_address": "1.2.3.4"})
        rows = store.claim("meta", 10, "w", 60, NOW, shop=shop)
        store.finish([Finished(r.outbox_id, "delivered") for r in rows], NOW)
    with store.transaction() as unit:
        assert len(unit.purge_candidates(NOW, ["pending"], shop=A)) == 1
        assert len(unit.purge_candidates(NOW, ["pending"])) == 2
    # The daily purge (one retention period for the gateway) covers every shop.
    assert purge_personal_data(store, NOW, NOW) == 2


@pytest.mark.parametrize("name", ["", "Shop", "-a", "a b", "a" * 41, "é", "a/b"])
def test_a_bad_shop_name_is_refused_naming_the_field(store: Store, name: str) -> None:
    with pytest.raises(ShopNameError, match=r"^NewEvent\.shop: "):
        NewEvent(make_event("R1"), "api", [], name)
    with pytest.raises(ShopNameError, match=r"^shop: "):
        store.set_cursor("c", "v", NOW, shop=name)
    with pytest.raises(ShopNameError, match=r"^shop: "):
        store.pause_destination("meta", None, "r", None, NOW, shop=name)
    assert store.destination_states() == [] and store.counts() == []


def test_valid_shop_names() -> None:
    for name in ("default", "a", "0", "shop-1_b", "a" * 40):
        assert checked_shop(name) == name


#: Every protocol method that reads or writes events, outbox rows, notes, cursors or
#: destination state by something other than outbox ids.
SCOPED = {
    Store: ["claim", "expedite_retries", "add_note", "pause_destination", "resume_destination",
            "destination_states", "counts", "next_due", "event_view", "replay", "get_cursor",
            "set_cursor", "drop_pending", "browser_events_by_key", "has_expired_holds"],
    UnitOfWork: ["find_event", "browser_events_by_key", "set_cursor", "has_expired_holds",
                 "finish_expired_holds", "purge_candidates"],
}


def test_every_scoped_method_takes_a_shop(store: Store) -> None:
    with store.transaction() as unit:
        implementations = {Store: store, UnitOfWork: unit}
        for protocol, names in SCOPED.items():
            for name in names:
                for owner in (protocol, implementations[protocol]):
                    parameters = inspect.signature(getattr(owner, name)).parameters
                    assert "shop" in parameters, f"{owner}.{name} takes no shop"


#: Shop A's backlog in the fairness test (issue 13: "a 50k backlog in shop A ...").
BACKLOG = 50_000


def test_a_paused_shops_backlog_does_not_hold_back_another_shops_claim(store: Store) -> None:
    store.pause_destination("meta", None, "bad token", 190, NOW, shop=A)
    # A's rows are due earlier, so they would come first were the shops mixed; B's event even
    # has the id of one of A's. One insert: MemoryStore copies its state on every write.
    backlog = [NewEvent(make_event(f"A{n}"), "api", [OutboxPlan("meta", next_attempt_at=NOW - 600)],
                        A) for n in range(BACKLOG)]
    store.insert_events([*backlog, NewEvent(make_event("A1"), "api", [OutboxPlan("meta")], B)],
                        NOW)
    claimed = store.claim("meta", 100, "w", 60, NOW, shop=B)
    assert [(c.shop, c.event.event_id) for c in claimed] == [(B, "A1")]
    [counts_a] = store.counts(shop=A)
    assert counts_a.counts == {"pending": BACKLOG}
    assert store.destination_states(shop=B) == []
    # A's rows were not leased by B's claim: A's own claim still gets them all in due order.
    assert len(store.claim("meta", 100, "w", 60, NOW, shop=A)) == 100
