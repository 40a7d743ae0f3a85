from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from trackside.config import load_settings
from trackside.pipeline import Pipeline
from trackside.store.sqlite import SQLiteStore

NOW = 1_800_000_000.0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    store = SQLiteStore(str(tmp_path / "p.db"))
    store.migrate()
    yield store
    store.close()


def pipeline(store: SQLiteStore, **env: str) -> Pipeline:
    settings = load_settings(environ={f"TRACKSIDE_{k.upper()}": v for k, v in env.items()})
    return Pipeline(settings, store, ["meta", "ga4"])


PURCHASE = {
    "event_name": "Purchase",
    "event_time": int(NOW) - 10,
    "event_source_url": "https://shop.example/thanks",
    "user": {"email": "Jane@Example.com", "phone": "06 12 34 56 78", "country": "France",
             "ip": "2001:db8::1", "user_agent": "Mozilla/5.0"},
    "order": {"reference": "XKBKNABJK", "value": 42.5, "currency": "EUR"},
    "consent": {"ad_storage": "granted", "ad_user_data": "granted", "analytics_storage": "granted"},
}


def test_purchase_id_is_the_reference_with_prefix(store: SQLiteStore) -> None:
    [result] = pipeline(store, event_id_prefix="shop1-").accept([PURCHASE], "api", now=NOW)
    assert (result.status, result.event_id) == ("queued", "shop1-XKBKNABJK")


def test_personal_data_is_hashed_before_it_is_stored(store: SQLiteStore) -> None:
    pipeline(store).accept([PURCHASE], "api", now=NOW)
    raw = Path(store.path).read_bytes() + Path(store.path + "-wal").read_bytes()
    for clear in (b"jane@example.com", b"Jane@Example.com", b"0612345678", b"33612345678"):
        assert clear not in raw
    [view] = store.event_view("XKBKNABJK")
    assert len(view.event.user_data["em"][0]) == 64
    assert view.event.user_data["client_ip_address"] == "2001:db8::1"
    assert view.event.country_hint == "fr"


def test_mixed_batch_keeps_valid_events(store: SQLiteStore) -> None:
    results = pipeline(store).accept(
        [PURCHASE, {"event_name": "Lead", "event_time": "soon"}, {**PURCHASE, "event_id": "other"}],
        "api", now=NOW,
    )
    assert [r.status for r in results] == ["queued", "rejected", "queued"]
    assert results[1].errors[0].field == "events[1].event_time"
    assert results[1].as_dict()["index"] == 1


def test_same_order_from_two_sources_is_stored_once(store: SQLiteStore) -> None:
    p = pipeline(store)
    server = {**PURCHASE, "user": {"email": "jane@example.com"}}
    browser = {**PURCHASE, "user": {"fbp": "fb.1.1700000000000.123456", "ip": "1.2.3.4",
                                    "user_agent": "Mozilla/5.0"}}
    assert p.accept([server], "prestashop", now=NOW)[0].status == "queued"
    assert p.accept([browser], "browser", now=NOW + 1)[0].status == "duplicate"
    [view] = store.event_view("XKBKNABJK")
    assert view.event.user_data["fbp"] == "fb.1.1700000000000.123456"
    assert {c.destination: c.counts for c in store.counts()} == {
        "meta": {"pending": 1}, "ga4": {"pending": 1}}


def test_server_purchase_waits_for_the_join_window(store: SQLiteStore) -> None:
    p = pipeline(store, join_window_s="60")
    p.accept([{**PURCHASE, "user": {"email": "jane@example.com"}}], "prestashop", now=NOW)
    assert store.next_due("meta") == NOW + 60
    # A purchase that already has browser context goes at once.
    p.accept([{**PURCHASE, "event_id": "B"}], "api", now=NOW)
    assert len(store.claim("meta", 10, "w", 60, NOW)) == 1


def test_unnormalizable_fields_become_warnings_not_failures(store: SQLiteStore) -> None:
    event = {**PURCHASE, "user": {"email": "not-an-email", "phone": "call me", "ip": "1.2.3.4",
                                  "user_agent": "UA", "external_id": "c-1"}}
    [result] = pipeline(store).accept([event], "api", now=NOW)
    assert result.status == "queued"
    fields = " ".join(result.warnings)
    assert "email" in fields and "phone" in fields
    assert "not-an-email" not in fields and "call me" not in fields


def test_a_national_phone_without_a_country_warns_to_set_the_default_country(
        store: SQLiteStore) -> None:
    event = {**PURCHASE, "user": {"email": "jane@example.com", "phone": "06 12 34 56 78"}}
    [result] = pipeline(store).accept([event], "api", now=NOW)
    assert result.status == "queued"
    assert [w for w in result.warnings if w.startswith("user.phone")] == [
        "user.phone: not a valid international phone number (a national number needs"
        " user.country or TRACKSIDE_DEFAULT_COUNTRY), dropped"]
    # The setting it names is the one that fixes it.
    [fixed] = pipeline(store, default_country="fr").accept(
        [{**event, "event_id": "with-default"}], "api", now=NOW)
    assert not [w for w in fixed.warnings if w.startswith("user.phone")]
    [view] = store.event_view("with-default")
    assert "ph" in view.event.user_data


def test_event_without_customer_information_is_flagged(store: SQLiteStore) -> None:
    event = {**PURCHASE, "user": {"country": "fr"}}
    [result] = pipeline(store).accept([event], "api", now=NOW)
    assert result.status == "queued"
    [view] = store.event_view("XKBKNABJK")
    assert "no_customer_information" in view.event.flags


def test_refund_is_not_applicable_for_meta(store: SQLiteStore) -> None:
    refund = {"event_name": "Refund", "event_time": int(NOW), "action_source": "system_generated",
              "order": {"reference": "XKBKNABJK", "value": 10, "currency": "EUR"},
              "user": {"external_id": "7"}, "consent": PURCHASE["consent"]}
    [result] = pipeline(store).accept([refund], "api", now=NOW)
    assert result.event_id == "Refund:XKBKNABJK"
    assert {c.destination: c.counts for c in store.counts()} == {
        "meta": {"not_applicable": 1}, "ga4": {"pending": 1}}
