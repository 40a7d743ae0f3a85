"""The match-quality report (trackside/reports/match_quality.py): exact shares and the
estimate's formula on a constructed set, the flags' encoding, the period's parsing."""

from __future__ import annotations

import math

import pytest

from trackside.events import NormalizedEvent
from trackside.quality import (
    MATCH_KEYS,
    estimate_score,
    keys_of_mask,
    match_key_mask,
    match_keys_report,
)
from trackside.reports.match_quality import PeriodError, match_quality, parse_period
from trackside.store import DatasetQuality, NewEvent, OutboxPlan
from trackside.testing import MemoryStore

H = "c" * 64
DAY = 1_796_083_200  # 2026-12-01T00:00:00Z


def event(event_id: str, name: str = "Purchase", at: int = DAY + 3600,
          **user: object) -> NewEvent:
    return NewEvent(NormalizedEvent(event_name=name, event_id=event_id, event_time=at,
                                    action_source="website", user_data=user),
                    "api", [OutboxPlan("meta")])


@pytest.fixture
def store() -> MemoryStore:
    """50 Purchases: all with an e-mail, 40 with a phone, 20 with the IP; 4 Leads: one with a
    lead id only, three with nothing; one Purchase the day before (outside the period)."""
    store = MemoryStore()
    records = []
    for n in range(50):
        user: dict[str, object] = {"em": [H]}
        if n < 40:
            user["ph"] = [H]
        if n < 20:
            user["client_ip_address"] = "203.0.113.9"
        records.append(event(f"P{n}", **user))
    records.append(event("L0", "Lead", lead_id="123456789012345"))
    records += [event(f"L{n}", "Lead") for n in (1, 2, 3)]
    records.append(event("early", at=DAY - 1, em=[H], fbc="fb.1.1.x"))
    store.insert_events(records, DAY + 7200)
    return store


def test_key_shares_are_exact_and_every_key_is_listed(store: MemoryStore) -> None:
    report = match_quality(store, DAY, DAY + 86400)
    purchase, = (e for e in report.events if e.event_name == "Purchase")
    assert purchase.count == 50
    assert list(purchase.keys) == list(MATCH_KEYS)
    assert purchase.keys == {**dict.fromkeys(MATCH_KEYS, 0.0), "em": 1.0, "ph": 0.8,
                             "client_ip_address": 0.4}
    lead, = (e for e in report.events if e.event_name == "Lead")
    assert lead.count == 4 and set(lead.keys.values()) == {0.0}
    assert [e.event_name for e in report.events] == ["Lead", "Purchase"]


def test_the_estimate_is_the_mean_of_the_per_event_estimates(store: MemoryStore) -> None:
    report = {e.event_name: e for e in match_quality(store, DAY, DAY + 86400).events}
    # Σ weight × share without direct ids: 2.5 × 1.0 + 1.5 × 0.8 + 0.75 × 0.4 = 4.0.
    assert report["Purchase"].estimate == 4.0
    # A lead id alone is worth its floor of 6, nothing is worth 0: (6 + 0 + 0 + 0) / 4.
    assert report["Lead"].estimate == 1.5


def test_estimate_score_is_the_per_event_report_score() -> None:
    for user in ({"em": [H]}, {"em": [H], "ph": [H], "fbp": "fb.1.1.1"},
                 {"lead_id": "123456789012345", "em": [H]}, {}):
        assert round(estimate_score(keys_of_mask(match_key_mask(user))), 1) \
            == match_keys_report(user)["score"]
    assert math.isclose(estimate_score(MATCH_KEYS), 10.0)  # the weights add up to 10
    assert estimate_score({"lead_id"}) == 6.0


def test_the_flags_round_trip_and_ignore_empty_values() -> None:
    user = {key: [H] for key in MATCH_KEYS} | {"lead_id": "1", "subscription_id": "s"}
    assert keys_of_mask(match_key_mask(user)) == {*MATCH_KEYS, "lead_id"}
    assert match_key_mask({"em": [], "ph": "", "fn": None, "zzz": [H]}) == 0
    # The bits are a storage format: em is bit 0, client_user_agent bit 14, lead_id bit 15.
    assert match_key_mask({"em": [H]}) == 1
    assert match_key_mask({"client_user_agent": "UA"}) == 1 << 14
    assert match_key_mask({"lead_id": "1"}) == 1 << 15


def test_meta_figures_sit_beside_the_estimate(store: MemoryStore) -> None:
    store.save_dataset_quality(DatasetQuality(
        "default", "123", DAY + 5000,
        '{"Purchase": {"composite_score": 6.8, "acr_percentage": 12.5,'
        ' "event_coverage_percentage": 81.0}}', DAY + 3000, "later fetch failed: code 10"))
    body = match_quality(store, DAY, DAY + 86400).as_dict()
    by_name = {e["event_name"]: e for e in body["events"]}
    assert by_name["Purchase"]["meta"] == {
        "composite_score": 6.8, "acr_percentage": 12.5, "event_coverage_percentage": 81.0,
        "fetched_at": "2026-12-01T00:50:00Z"}
    assert by_name["Lead"]["meta"] is None
    assert body["meta_status"] == {"dataset_id": "123", "checked_at": "2026-12-01T01:23:20Z",
                                   "fetched_at": "2026-12-01T00:50:00Z",
                                   "error": "later fetch failed: code 10"}


def test_no_fetch_means_no_meta(store: MemoryStore) -> None:
    body = match_quality(store, DAY, DAY + 86400).as_dict()
    assert body["meta_status"] is None
    assert all(e["meta"] is None for e in body["events"])
    assert (body["since"], body["until"]) == ("2026-12-01T00:00:00Z", "2026-12-02T00:00:00Z")


def test_a_period_with_no_events_is_empty(store: MemoryStore) -> None:
    assert match_quality(store, DAY + 86400, DAY + 2 * 86400).events == []


def test_period_parsing() -> None:
    now = DAY + 12 * 3600.0
    assert parse_period("2026-12-01", None, now) == (DAY, now)
    assert parse_period("2026-11-30", "2026-12-01", now) == (DAY - 86400, DAY + 86400)
    assert parse_period("2026-12-01T02:00:00+02:00", "2026-12-01T01:00:00", now) == (
        DAY, DAY + 3600)


@pytest.mark.parametrize(("since", "until", "field"), [
    (None, None, "since"), ("", None, "since"), ("yesterday", None, "since"),
    ("2026-02-30", None, "since"), ("2026-12-01", "soon", "until"),
    ("2026-12-01", "2026-11-30", "until"), ("2020-01-01", "2026-12-01", "until"),
    ("x" * 10_000, None, "since"), ("2026-12-01\x00", None, "since"),
])
def test_bad_periods_name_the_parameter(since: str | None, until: str | None,
                                        field: str) -> None:
    with pytest.raises(PeriodError) as caught:
        parse_period(since, until, DAY + 3600.0)
    assert caught.value.field == field
