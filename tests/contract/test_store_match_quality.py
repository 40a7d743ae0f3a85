"""The contract of the match-quality queries (issue 15): key counts per event name and period
from the flags kept at write time, and the last Dataset Quality fetch per shop."""

from __future__ import annotations

import random

import pytest

from tests.contract.test_store_contract import NOW, insert, make_event
from trackside.shop_names import ShopNameError
from trackside.store import DatasetQuality, KeyCombination, NewEvent, OutboxPlan, Store

H = "b" * 64
T = int(NOW) - 60  # make_event's event_time


def put(store: Store, event_id: str, name: str = "Purchase", *, shop: str = "default",
        event_time: int = T, **user: object) -> None:
    event = make_event(event_id, name).model_copy(update={"event_time": event_time,
                                                          "user_data": user})
    insert(store, [NewEvent(event, "api", [OutboxPlan("meta")], shop)], NOW)


def test_counts_per_event_name_and_key_set(store: Store) -> None:
    put(store, "1", em=[H], ph=[H], client_ip_address="203.0.113.9")
    put(store, "2", em=[H], ph=[H], client_ip_address="203.0.113.9")
    put(store, "3", em=[H], fbp="fb.1.1700000000.1")
    put(store, "4", "AddToCart", client_user_agent="UA", fbc="fb.1.1700000000.abc")
    # Empty values are not keys carried (quality.customer_information_keys).
    put(store, "5", "AddToCart", em=[], ph="", fn=None, client_user_agent="UA",
        fbc="fb.1.1700000000.abc")
    put(store, "6", "Lead", lead_id="123456789012345", ct=[H], st=[H], zp=[H], country=[H],
        db=[H], ge=[H], ln=[H], fn=[H], external_id=[H])
    assert store.match_key_counts(T, T + 1) == [
        KeyCombination("AddToCart", frozenset({"client_user_agent", "fbc"}), 2),
        KeyCombination("Lead", frozenset({"lead_id", "ct", "st", "zp", "country", "db", "ge",
                                          "ln", "fn", "external_id"}), 1),
        KeyCombination("Purchase", frozenset({"em", "ph", "client_ip_address"}), 2),
        KeyCombination("Purchase", frozenset({"em", "fbp"}), 1),
    ]


def test_the_period_is_event_time_since_inclusive_until_exclusive(store: Store) -> None:
    for offset in (-1, 0, 99, 100):
        put(store, f"at{offset}", event_time=T + offset, em=[H])
    counts = store.match_key_counts(T, T + 100)
    assert [(c.event_name, c.count) for c in counts] == [("Purchase", 2)]
    assert store.match_key_counts(T + 0.5, T + 99.5)[0].count == 1
    assert store.match_key_counts(T + 200, T + 300) == []


def test_an_event_without_keys_is_counted_with_none(store: Store) -> None:
    put(store, "1")
    assert store.match_key_counts(T, T + 1) == [KeyCombination("Purchase", frozenset(), 1)]


def test_a_merge_that_adds_keys_updates_the_counts(store: Store) -> None:
    put(store, "1", em=[H])
    with store.transaction() as unit:
        found = unit.find_event("Purchase", "1")
        assert found is not None
        merged = found.event.model_copy(update={"user_data": {
            **found.event.user_data, "fbp": "fb.1.1700000000.1", "client_user_agent": "UA"}})
        unit.update_event(found.ref, merged)
    assert store.match_key_counts(T, T + 1) == [
        KeyCombination("Purchase", frozenset({"em", "fbp", "client_user_agent"}), 1)]


def test_the_purge_leaves_the_keys_that_were_sent(store: Store) -> None:
    put(store, "1", em=[H], client_ip_address="203.0.113.9")
    with store.transaction() as unit:
        found = unit.find_event("Purchase", "1")
        assert found is not None
        stripped = found.event.model_copy(update={"user_data": {"em": [H]}})
        unit.mark_purged(found.ref, stripped, {}, NOW)
    assert store.match_key_counts(T, T + 1)[0].keys == {"em", "client_ip_address"}


def test_counts_are_per_shop(store: Store) -> None:
    put(store, "1", em=[H])
    put(store, "1", shop="shop-a", ph=[H])
    put(store, "2", shop="shop-a", ph=[H])
    assert store.match_key_counts(T, T + 1) == [
        KeyCombination("Purchase", frozenset({"em"}), 1)]
    assert store.match_key_counts(T, T + 1, shop="shop-a") == [
        KeyCombination("Purchase", frozenset({"ph"}), 2)]
    assert store.match_key_counts(T, T + 1, shop="shop-b") == []


def test_the_last_dataset_quality_fetch_per_shop(store: Store) -> None:
    assert store.dataset_quality() is None
    good = DatasetQuality("default", "1234", NOW, '{"Purchase": {"composite_score": 7.1}}', NOW)
    store.save_dataset_quality(good)
    assert store.dataset_quality() == good
    failed = DatasetQuality("default", "1234", NOW + 3600, good.figures, NOW,
                            "Meta refused: code 10 (permission)")
    store.save_dataset_quality(failed)
    assert store.dataset_quality() == failed
    other = DatasetQuality("shop-a", "999", NOW, None, None, "unreachable")
    store.save_dataset_quality(other)
    assert store.dataset_quality(shop="shop-a") == other
    assert store.dataset_quality() == failed
    assert store.dataset_quality(shop="shop-b") is None


def test_a_bad_shop_name_is_refused(store: Store) -> None:
    with pytest.raises(ShopNameError):
        DatasetQuality("Bad Shop", "1", NOW)


def test_counts_over_days_stay_exact_through_merges(store: Store) -> None:
    """Whole days may come from a store's daily rollups, the edges from the events: every
    period, cut anywhere, counts what a brute-force count of the events gives, also after
    merges changed some events' keys (seeded; the seed is printed)."""
    seed = 20261201
    print(f"seed {seed}")
    chooser = random.Random(seed)
    day0 = (T // 86400 - 5) * 86400
    shapes = [{"em": [H]}, {"em": [H], "ph": [H]}, {"fbp": "fb.1.1.1"}, {}]
    truth: dict[str, tuple[str, int, frozenset[str]]] = {}
    for n in range(120):
        at = day0 + chooser.randrange(5 * 86400)
        name = chooser.choice(["Purchase", "Lead"])
        shape = chooser.choice(shapes)
        put(store, f"E{n}", name, event_time=at, **shape)
        truth[f"E{n}"] = (name, at, frozenset(shape))
    for n in chooser.sample(range(120), 30):  # merges: keys added after the insert
        name, at, keys = truth[f"E{n}"]
        with store.transaction() as unit:
            found = unit.find_event(name, f"E{n}")
            assert found is not None
            merged = found.event.model_copy(update={"user_data": {
                **found.event.user_data, "client_user_agent": "UA"}})
            unit.update_event(found.ref, merged)
        truth[f"E{n}"] = (name, at, keys | {"client_user_agent"})
    for _ in range(25):
        since = day0 - 3600 + chooser.randrange(6 * 86400)
        until = since + chooser.choice([1, 3600, 86400, 2 * 86400 + 7, 4 * 86400])
        counted: dict[tuple[str, frozenset[str]], int] = {}
        for name, at, keys in truth.values():
            if since <= at < until:
                counted[(name, keys)] = counted.get((name, keys), 0) + 1
        got = store.match_key_counts(since, until)
        assert {(c.event_name, c.keys): c.count for c in got} == counted
        assert len(got) == len(counted)
        order = [(c.event_name, -c.count) for c in got]
        assert order == sorted(order)  # by event name, then count descending
    whole = store.match_key_counts(day0, day0 + 5 * 86400)
    assert sum(c.count for c in whole) == 120
