"""Store.orders (the reconciliation report's one query), over every store: which events are
orders, their value, currency and flags kept in step with the body, their rows, the period,
the shop, and cursor paging in a stable order."""

from __future__ import annotations

from trackside.events import NormalizedEvent, Order
from trackside.store import Finished, NewEvent, OrderRow, OutboxPlan, Store

NOW = 1_800_000_000.0
DAY = 86400


def order(event_id: str, at: int, value: float | None = 10.0, currency: str | None = "EUR",
          name: str = "Purchase", flags: tuple[str, ...] = ()) -> NormalizedEvent:
    return NormalizedEvent(
        event_name=name, event_id=event_id, event_time=at, action_source="website",
        user_data={"em": ["a" * 64]}, flags=list(flags),
        order=Order(reference=event_id, value=value, currency=currency)
        if value is not None or currency is not None else None,
    )


def put(store: Store, *events: NormalizedEvent, source: str = "api", shop: str = "default",
        plans: tuple[OutboxPlan, ...] = (OutboxPlan("meta"), OutboxPlan("ga4"))) -> None:
    with store.transaction() as unit:
        unit.insert_new([NewEvent(e, source, [OutboxPlan(p.destination, p.status,
                                                         p.next_attempt_at, p.reason)
                                              for p in plans], shop) for e in events], NOW)


T0 = int(NOW) - 10 * DAY


def test_only_the_store_purchases_of_the_period_and_shop(store: Store) -> None:
    put(store, order("A", T0), order("B", T0 + DAY), order("late", T0 + 3 * DAY))
    put(store, order("V", T0, name="ViewContent"))
    put(store, order("beacon", T0), source="browser")
    put(store, order("other-shop", T0), shop="other")
    found = store.orders(T0, T0 + 3 * DAY)
    assert [(o.event_id, o.event_time) for o in found] == [("A", T0), ("B", T0 + DAY)]
    assert [o.event_id for o in store.orders(T0 + 1, T0 + 4 * DAY, shop="other")] == []
    assert [o.event_id for o in store.orders(T0, T0 + 1, shop="other")] == ["other-shop"]
    first = found[0]
    assert (first.value, first.currency, first.flags) == (10.0, "EUR", ())
    assert first.rows == [OrderRow("meta", "pending"), OrderRow("ga4", "pending")]


def test_value_currency_and_flags_follow_every_write_of_the_body(store: Store) -> None:
    put(store, order("A", T0, value=None, currency=None), order("B", T0 + 1, flags=("x",)))
    [a, b] = store.orders(T0, T0 + DAY)
    assert (a.value, a.currency, a.flags) == (None, None, ())
    assert b.flags == ("x",)
    with store.transaction() as unit:
        stored = unit.find_event("Purchase", "A")
        assert stored is not None
        unit.update_event(stored.ref, order("A", T0, 12.5, "USD",
                                            flags=("seen_by_browser", "pixel_absent")))
    [a, _] = store.orders(T0, T0 + DAY)
    assert (a.value, a.currency, a.flags) == (12.5, "USD", ("seen_by_browser", "pixel_absent"))
    with store.transaction() as unit:
        stored = unit.find_event("Purchase", "A")
        assert stored is not None
        unit.mark_purged(stored.ref, order("A", T0, 12.5, "USD", flags=("seen_by_browser",)),
                         {}, NOW)
    assert store.orders(T0, T0 + DAY)[0].flags == ("seen_by_browser",)


def test_a_confirmed_browser_purchase_becomes_an_order(store: Store) -> None:
    put(store, order("A", T0), source="browser")
    assert store.orders(T0, T0 + DAY) == []
    with store.transaction() as unit:
        stored = unit.find_event("Purchase", "A")
        assert stored is not None
        unit.update_event(stored.ref, order("A", T0), source="prestashop")
    assert [o.event_id for o in store.orders(T0, T0 + DAY)] == ["A"]


def test_rows_carry_the_reason_of_suppressed_and_not_applicable_only(store: Store) -> None:
    put(store, order("A", T0), plans=(
        OutboxPlan("meta", "suppressed", reason="consent: ad_storage denied"),
        OutboxPlan("ga4", "not_applicable", reason="not_applicable: no such event"),
        OutboxPlan("webhook")))
    claimed = store.claim("webhook", 10, "w", 30, NOW)
    store.finish([Finished(claimed[0].outbox_id, "dead", 100, None,
                           "vendor_refused: 100 bad", "{}")], NOW)
    [a] = store.orders(T0, T0 + DAY)
    assert a.rows == [OrderRow("meta", "suppressed", "consent: ad_storage denied"),
                      OrderRow("ga4", "not_applicable", "not_applicable: no such event"),
                      OrderRow("webhook", "dead", None)]


def test_an_order_without_rows_is_listed(store: Store) -> None:
    put(store, order("A", T0), plans=())
    [a] = store.orders(T0, T0 + DAY)
    assert a.event_id == "A" and a.rows == []


def test_cursor_pages_are_stable_and_complete(store: Store) -> None:
    # Several orders at the same second: (event_time, ref) orders them all the same way.
    put(store, *(order(f"O{i:02d}", T0 + (i // 3)) for i in range(20)))
    everything = store.orders(T0, T0 + DAY)
    assert len(everything) == 20
    assert [(o.event_time, o.ref) for o in everything] == sorted(
        (o.event_time, o.ref) for o in everything)
    paged: list[str] = []
    after: tuple[int, int] | None = None
    while True:
        page = store.orders(T0, T0 + DAY, after=after, limit=6)
        paged += [o.event_id for o in page]
        if len(page) < 6:
            break
        after = (page[-1].event_time, page[-1].ref)
    assert paged == [o.event_id for o in everything]
    assert all(len(o.rows) == 2 for o in store.orders(T0, T0 + DAY, limit=5))
