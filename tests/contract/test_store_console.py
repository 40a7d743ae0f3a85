"""The contract for the console's reads (web/console/): daily counts by source, delivery
latency, dead letters and the search by order reference or hashed e-mail, per shop."""

from __future__ import annotations

from tests.contract.test_store_contract import NOW, accept, make_event
from trackside.events import Order
from trackside.store import (
    DailyCount,
    DeadLetter,
    DeliveryLatency,
    EventSummary,
    Finished,
    NewEvent,
    OutboxPlan,
    Store,
)

DAY = 86_400.0
#: 2027-01-15 08:00 UTC: NOW is 2027-01-15 08:00:00 UTC (1_800_000_000).
TODAY, YESTERDAY = "2027-01-15", "2027-01-14"


def test_events_per_day_by_source_within_the_period_and_the_shop(store: Store) -> None:
    accept(store, make_event("A1"), now=NOW - DAY)
    accept(store, make_event("A2"), make_event("A3"), now=NOW)
    accept(store, make_event("B1", name="PageView"), source="browser", now=NOW + 1)
    accept(store, make_event("OLD"), now=NOW - 10 * DAY)  # before the period
    with store.transaction() as unit:
        unit.insert_new([NewEvent(make_event("X1"), "api", [OutboxPlan("meta")], shop="other")],
                        NOW)
    assert store.events_per_day(NOW - 2 * DAY, NOW + DAY) == [
        DailyCount(YESTERDAY, "api", 1), DailyCount(TODAY, "api", 2),
        DailyCount(TODAY, "browser", 1)]
    assert store.events_per_day(NOW - 2 * DAY, NOW + DAY, shop="other") == [
        DailyCount(TODAY, "api", 1)]
    assert store.events_per_day(NOW + DAY, NOW + 2 * DAY) == []


def test_delivery_latency_of_delivered_rows_per_destination(store: Store) -> None:
    accept(store, make_event("R1"), make_event("R2"), destinations=("meta", "ga4"), now=NOW)
    meta = store.claim("meta", 10, "w", 60, NOW)
    ga4 = store.claim("ga4", 10, "w", 60, NOW)
    store.finish([Finished(meta[0].outbox_id, "delivered")], NOW + 2)
    store.finish([Finished(meta[1].outbox_id, "delivered")], NOW + 6)
    store.finish([Finished(ga4[0].outbox_id, "dead", 100, None, "bad")], NOW + 1)
    assert store.delivery_latency(NOW, NOW + DAY) == [DeliveryLatency("meta", 2, 4.0, 6.0)]
    assert store.delivery_latency(NOW + DAY, NOW + 2 * DAY) == []
    assert store.delivery_latency(NOW, NOW + DAY, shop="other") == []


def test_dead_letters_newest_first_with_their_reason(store: Store) -> None:
    accept(store, make_event("R1"), make_event("R2"), make_event("R3"), destinations=("meta",))
    rows = {c.event.event_id: c.outbox_id for c in store.claim("meta", 10, "w", 60, NOW)}
    store.finish([Finished(rows["R1"], "dead", 100, 33, "vendor_refused: bad pixel")], NOW + 1)
    store.finish([Finished(rows["R2"], "expired", None, None, "too_old: 8 days")], NOW + 2)
    store.finish([Finished(rows["R3"], "delivered")], NOW + 3)
    assert store.dead_letters() == [
        DeadLetter("Purchase", "R2", "meta", "expired", None, "too_old: 8 days", NOW + 2),
        DeadLetter("Purchase", "R1", "meta", "dead", 100, "vendor_refused: bad pixel", NOW + 1),
    ]
    assert len(store.dead_letters(limit=1)) == 1
    assert store.dead_letters(shop="other") == []


def test_find_events_by_order_reference_or_hashed_email(store: Store) -> None:
    mine, theirs = "b" * 64, "c" * 64
    first = make_event("P-1", em=[mine]).model_copy(update={"order": Order(reference="R-77")})
    later = make_event("Lead-1", name="Lead", em=[theirs, mine])
    accept(store, first, now=NOW)
    accept(store, later, now=NOW + 5)
    accept(store, make_event("other", em=[theirs]), now=NOW + 9)
    assert store.find_events(reference="R-77") == [
        EventSummary("Purchase", "P-1", "api", NOW)]
    assert store.find_events(email_hash=mine) == [
        EventSummary("Lead", "Lead-1", "api", NOW + 5), EventSummary("Purchase", "P-1", "api", NOW)]
    assert store.find_events(email_hash=mine, reference="R-77") == [
        EventSummary("Purchase", "P-1", "api", NOW)]
    assert store.find_events(email_hash=mine, limit=1) == [
        EventSummary("Lead", "Lead-1", "api", NOW + 5)]
    assert store.find_events(reference="R-77", shop="other") == []
    assert store.find_events() == []
    assert store.find_events(email_hash="d" * 64) == []
