"""The reconciliation's definitions (reports/reconciliation.py) over MemoryStore: each number,
each suppression class, values summed exactly, the period's days, its limits."""

from __future__ import annotations

from datetime import date

import pytest

from trackside.errors import ReportError
from trackside.events import NormalizedEvent, Order
from trackside.reports import reconciliation as recon
from trackside.store import NewEvent, OutboxPlan
from trackside.testing import MemoryStore

SPAN = recon.period("2026-11-01", "2026-11-03")
T0 = SPAN.start + 3600


def put(store: MemoryStore, event_id: str, at: int, plans: list[OutboxPlan],
        value: float | None = 10.0, currency: str | None = "EUR",
        flags: tuple[str, ...] = ()) -> None:
    event = NormalizedEvent(event_name="Purchase", event_id=event_id, event_time=at,
                            action_source="website", flags=list(flags),
                            order=Order(reference=event_id, value=value, currency=currency))
    store.insert_events([NewEvent(event, "api", plans)], float(at))


def test_suppression_classes_pending_and_held() -> None:
    store = MemoryStore()
    put(store, "consent", T0, [OutboxPlan("meta", "suppressed", reason="consent: ad_storage")])
    put(store, "policy", T0, [OutboxPlan("meta", "suppressed", reason="policy: opt_out")])
    put(store, "old-text", T0, [OutboxPlan("meta", "suppressed", reason="free text")])
    put(store, "n/a", T0, [OutboxPlan("ga4", "not_applicable", reason="not_applicable: x")])
    put(store, "held", T0, [OutboxPlan("meta", "held")])
    put(store, "expired", T0, [OutboxPlan("meta", "expired", reason="too_old: 8 days")])
    report = recon.reconciliation(store, SPAN)
    counts = {k: v["count"] for k, v in report["suppressed"].items()}
    assert counts == {"consent": 1, "policy": 2, "not_applicable": 1}
    assert report["pending"]["count"] == 1 and report["failed"]["count"] == 1
    assert report["orders"]["count"] == 6 and report["pixel_missed"]["share"] == 1.0
    assert report["destinations"] == ["ga4", "meta"]
    assert report["delivered"] == {"ga4": {"count": 0, "value": {}},
                                   "meta": {"count": 0, "value": {}}}


def test_values_are_summed_exactly_and_orders_without_a_currency_count_only() -> None:
    store = MemoryStore()
    put(store, "a", T0, [], value=0.1)
    put(store, "b", T0 + 1, [], value=0.2)
    put(store, "c", T0 + 2, [], value=None, currency=None)
    put(store, "d", T0 + 3, [], value=5, currency="JPY")
    report = recon.reconciliation(store, SPAN)
    assert report["orders"] == {"count": 4, "value": {"EUR": 0.3, "JPY": 5}}


def test_pixel_fired_needs_the_beacon_and_no_absent_pixel() -> None:
    store = MemoryStore()
    put(store, "fired", T0, [], flags=("seen_by_browser",))
    put(store, "absent", T0, [], flags=("seen_by_browser", "pixel_absent"))
    put(store, "none", T0, [])
    report = recon.reconciliation(store, SPAN)
    assert report["pixel_fired"]["count"] == 1 and report["pixel_missed"]["count"] == 2
    assert report["pixel_missed"]["share"] == 0.6667


def test_every_day_of_the_period_in_order_zeros_included() -> None:
    store = MemoryStore()
    put(store, "last-second", SPAN.end - 1, [])
    put(store, "after", SPAN.end, [])
    put(store, "before", SPAN.start - 1, [])
    report = recon.reconciliation(store, SPAN)
    assert [d["date"] for d in report["days"]] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert [d["orders"]["count"] for d in report["days"]] == [0, 0, 1]
    assert report["days"][0]["pixel_missed"]["share"] is None


def test_period_defaults_and_limits() -> None:
    assert recon.period("2026-11-01", None, today=date(2026, 11, 5)).until == date(2026, 11, 5)
    assert len(recon.period("2024-01-01", "2024-12-31").days()) == 366
    with pytest.raises(ReportError) as caught:
        recon.period("2024-01-01", "2025-01-01")
    assert caught.value.field == "until"


def test_the_list_is_stable_across_pages() -> None:
    store = MemoryStore()
    for i in range(9):
        put(store, f"o{i}", T0 + i // 2, [OutboxPlan("meta", "suppressed", reason="consent: x")
                                          if i % 3 == 0 else OutboxPlan("meta")])
    seen, cursor = [], None
    while True:
        page = recon.order_list(store, SPAN, filter_name="suppressed", cursor=cursor, limit=2)
        seen += [o["event_id"] for o in page["orders"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["o0", "o3", "o6"]
