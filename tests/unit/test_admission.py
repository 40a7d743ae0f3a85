"""Accept-time admission (issue 18): an event no configured destination would ever take is
rejected by index with each destination's own reason; one some destinations would refuse is
accepted with a warning per destination; a refusal a join may still cure is not final."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from trackside.config import load_settings
from trackside.destinations.meta.destination import canonical_field
from trackside.destinations.registry import configured_destinations
from trackside.pipeline import Pipeline
from trackside.runtime import Runtime
from trackside.store.sqlite import SQLiteStore

NOW = 1_800_000_000.0
GRANTED = {"ad_storage": "granted", "ad_user_data": "granted", "analytics_storage": "granted",
           "ad_personalization": "granted"}
META = {"meta_pixel_id": "123456789012345", "meta_access_token": "EAAB-admission"}
GA4 = {"ga4_measurement_id": "G-ADMIT1234", "ga4_api_secret": "admission-secret"}
#: Identifiers with the browser's _fbp: a server Purchase with them waits for no beacon.
WITH_FBP = {"email": "jane@example.com", "ip": "81.2.69.142", "user_agent": "Mozilla/5.0",
            "fbp": "fb.1.1700000000000.1234567890"}
WEBHOOK = {"webhook_url": "https://warehouse.example/hook", "webhook_secret": "w" * 32}


def lead(**extra: Any) -> dict[str, Any]:
    """A valid website Lead (sent at once: no join window for it)."""
    return {"event_name": "Lead", "event_id": "L-1", "event_time": int(NOW) - 10,
            "event_source_url": "https://shop.example/contact",
            "user": {"email": "jane@example.com", "ip": "81.2.69.142",
                     "user_agent": "Mozilla/5.0"},
            "consent": GRANTED, **extra}


def purchase(**extra: Any) -> dict[str, Any]:
    return {**lead(event_id="P-1"), "event_name": "Purchase",
            "order": {"reference": "P-1", "value": 42.5, "currency": "EUR"}, **extra}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    store = SQLiteStore(str(tmp_path / "a.db"))
    store.migrate()
    yield store
    store.close()


def pipeline(store: SQLiteStore, **env: str) -> Pipeline:
    """The shop's destinations as the runtime builds them (the dry run without Meta keys)."""
    settings = load_settings(environ={f"TRACKSIDE_{k.upper()}": v for k, v in env.items()})
    destinations = configured_destinations(settings)
    return Pipeline(settings, store, [d.name for d in destinations], admitting=destinations)


@pytest.mark.parametrize(
    ("event", "field", "words"),
    [
        (lead(event_source_url=None), "events[0].event_source_url", "event_source_url"),
        (lead(user={"country": "fr"}), "events[0].user", "no customer information"),
        (lead(event_time=1_690_000_000), "events[0].event_time", "older than 7 days"),
        (lead(event_time=int(NOW) + 3600), "events[0].event_time", "in the future"),
        # A Purchase that already carries its browser context: it waits for nothing.
        (purchase(order={"reference": "P-1"}, user=WITH_FBP),
         "events[0].order", "value and custom_data.currency"),
    ],
    ids=["website_without_url", "no_customer_information", "2023", "future", "no_value"],
)
def test_an_event_meta_would_refuse_is_rejected_when_meta_is_all_there_is(
        store: SQLiteStore, event: dict[str, Any], field: str, words: str) -> None:
    # https://developers.facebook.com/docs/marketing-api/conversions-api/parameters/server-event
    [result] = pipeline(store, **META).accept([event], "api", now=NOW)
    assert result.status == "rejected"
    [error] = result.errors
    assert error.field == field
    assert error.reason.startswith("meta: would be refused: ") and words in error.reason
    assert store.counts() == []


def test_the_dry_run_refuses_as_meta_would(store: SQLiteStore) -> None:
    [result] = pipeline(store).accept([lead(event_source_url=None)], "api", now=NOW)
    assert result.status == "rejected"
    assert result.errors[0].reason.startswith("dryrun: would be refused: ")


def test_good_events_beside_rejected_ones_are_stored(store: SQLiteStore) -> None:
    results = pipeline(store, **META).accept(
        [lead(event_id="A", event_time=1_690_000_000), lead(event_id="B"),
         lead(event_id="C", user={})], "api", now=NOW)
    assert [r.status for r in results] == ["rejected", "queued", "rejected"]
    assert [r.index for r in results] == [0, 1, 2]
    assert results[2].errors[0].field == "events[2].user"
    assert store.event_view("B") and not store.event_view("A") and not store.event_view("C")


def test_refused_by_one_destination_is_accepted_with_its_warning(store: SQLiteStore) -> None:
    # The webhook takes any event; Meta would refuse a Purchase without value (rule 33).
    event = purchase(order={"reference": "P-1"}, user=WITH_FBP)
    [result] = pipeline(store, **META, **WEBHOOK).accept([event], "api", now=NOW)
    assert result.status == "queued"
    [warning] = result.warnings
    assert warning.startswith("meta: would be refused: ") and "value" in warning


def test_age_window_per_destination(store: SQLiteStore) -> None:
    # GA4 takes events up to 72 hours old, Meta 7 days: a 4-day-old event is Meta's only.
    four_days = lead(event_time=int(NOW) - 4 * 86400)
    [result] = pipeline(store, **META, **GA4).accept([four_days], "api", now=NOW)
    assert result.status == "queued"
    [warning] = result.warnings
    assert warning.startswith("ga4: would be refused: event_time is 96.0 hours")
    # Ten days: nobody takes it; each destination says why.
    [old] = pipeline(store, **META, **GA4).accept([lead(event_id="L-2",
                                                        event_time=int(NOW) - 10 * 86400)],
                                                   "api", now=NOW)
    assert old.status == "rejected"
    assert [e.reason.split(":")[0] for e in old.errors] == ["meta", "ga4"]


def test_a_physical_store_sale_has_metas_62_days(store: SQLiteStore) -> None:
    sale = purchase(action_source="physical_store", event_source_url=None,
                    event_time=int(NOW) - 30 * 86400)
    [result] = pipeline(store, **META).accept([sale], "api", now=NOW)
    assert result.status == "queued" and result.warnings == []


def test_a_server_purchase_waiting_for_its_beacon_is_only_warned(store: SQLiteStore) -> None:
    # No identifiers and no URL yet: the confirmation page's beacon (same event id) brings
    # them within the join window (trackside/context.py), so nothing is final at accept.
    event = purchase(user={"country": "fr"}, event_source_url=None)
    [result] = pipeline(store, **META).accept([event], "api", now=NOW)
    assert result.status == "queued"
    [warning] = result.warnings
    assert warning.startswith("meta: would be refused unless a later copy of the event brings")
    # The value is not something the beacon brings: that stays final.
    [no_value] = pipeline(store, **META).accept(
        [purchase(event_id="P-2", order={"reference": "P-2"})], "api", now=NOW)
    assert no_value.status == "rejected"


def test_a_browser_purchase_without_value_waits_for_the_stores_copy(store: SQLiteStore) -> None:
    beacon = purchase(order={"reference": "P-1"})
    [result] = pipeline(store, **META).accept([beacon], "browser", now=NOW)
    assert result.status == "queued"
    assert "unless a later copy of the event brings order" in result.warnings[0]


def test_consent_suppression_is_an_outcome_not_a_rejection(store: SQLiteStore) -> None:
    # No consent record and TRACKSIDE_SERVER_EVENT_CONSENT=deny (the default): suppressed.
    event = {k: v for k, v in lead(event_time=1_690_000_000).items() if k != "consent"}
    [result] = pipeline(store, **META).accept([event], "api", now=NOW)
    assert result.status == "queued"
    assert result.warnings[0].startswith("meta: would be refused: event_time")
    [counts] = store.counts()
    assert counts.counts == {"suppressed": 1}


def test_not_applicable_everywhere_is_not_a_rejection(store: SQLiteStore) -> None:
    refund = {"event_name": "Refund", "event_time": int(NOW), "action_source": "system_generated",
              "order": {"reference": "X", "value": 10, "currency": "EUR"},
              "user": {"external_id": "7"}, "consent": GRANTED}
    [result] = pipeline(store, **META).accept([refund], "api", now=NOW)
    assert result.status == "queued"
    assert {c.destination: c.counts for c in store.counts()} == {"meta": {"not_applicable": 1}}


def test_the_runtime_admits_with_each_shops_destinations(tmp_path: Path) -> None:
    settings = load_settings(environ={
        "TRACKSIDE_DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}",
        **{f"TRACKSIDE_{k.upper()}": v for k, v in META.items()}})
    runtime = Runtime.from_settings(settings)
    try:
        assert [d.name for d in runtime.pipeline.admitting] == ["meta"]
        [result] = runtime.pipeline.accept([lead(user={})], "api", now=NOW)
        assert result.status == "rejected"
    finally:
        runtime.close()


def test_a_server_event_with_a_customer_id_may_still_be_joined(store: SQLiteStore) -> None:
    # The browser context of customer 42 (seen on the site) joins it at insert by key.
    event = lead(user={"country": "fr"}, customer_id="42")
    [result] = pipeline(store, **META).accept([event], "api", now=NOW)
    assert result.status == "queued"
    assert result.warnings[0].startswith("meta: would be refused unless a later copy")


def test_an_unparseable_page_url_is_a_refusal_not_a_crash(store: SQLiteStore) -> None:
    # urlsplit raises on an unclosed IPv6 bracket; Meta's rule 15 says "no absolute URL".
    [result] = pipeline(store, **META).accept([lead(event_source_url="http://[::1/x")], "api",
                                              now=NOW)
    assert result.status == "rejected"
    assert result.errors[0].field == "events[0].event_source_url"


@pytest.mark.parametrize(("blame", "rule", "field"), [
    ("data[0].user_data", 29, "user"),
    ("data[0].user_data.em", 23, "user"),
    ("data[0].event_source_url", 15, "event_source_url"),
    ("data[0].event_time", 12, "event_time"),
    ("data[0].custom_data", 33, "order"),
    ("data[0].custom_data.value", 31, "order"),
    ("data[0].custom_data.predicted_ltv", 31, "custom_data"),
    ("data[0]", 10, None),
    (None, 0, None),
])
def test_metas_blame_is_named_as_the_canonical_field(blame: str | None, rule: int,
                                                      field: str | None) -> None:
    assert canonical_field(blame, rule) == field
