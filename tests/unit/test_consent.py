"""Consent cases: country × consent state × source × mode → outcome per destination.

The policy is docs/consent-and-privacy.md's; the signals are Google's Consent Mode v2
(https://support.google.com/analytics/answer/13802165); issue "Consent on the server path".
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from trackside.config import load_settings
from trackside.pipeline import Pipeline
from trackside.store.sqlite import SQLiteStore

NOW = 1_800_000_000.0
GRANTED = {"ad_storage": "granted", "ad_user_data": "granted", "analytics_storage": "granted",
           "ad_personalization": "granted"}
DENIED = {k: "denied" for k in GRANTED}
ADS_ONLY = {**GRANTED, "analytics_storage": "denied"}
ANALYTICS_ONLY = {**DENIED, "analytics_storage": "granted"}
NO_AD_USER_DATA = {**GRANTED, "ad_user_data": "denied"}
NO_PERSONALIZATION = {**GRANTED, "ad_personalization": "denied"}
OK = "pending"
SUPPRESSED = "suppressed"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    store = SQLiteStore(str(tmp_path / "c.db"))
    store.migrate()
    yield store
    store.close()


def outcome(store: SQLiteStore, country: str | None, consent: dict | None, source: str,
            mode: str, server_default: str = "deny",
            opt_out_policy: str = "suppress") -> dict[str, str]:
    settings = load_settings(environ={
        "TRACKSIDE_CONSENT_MODE": mode, "TRACKSIDE_SERVER_EVENT_CONSENT": server_default,
        "TRACKSIDE_JOIN_WINDOW_S": "0", "TRACKSIDE_META_OPT_OUT": opt_out_policy,
    })
    event = {"event_name": "Lead", "event_time": int(NOW), "event_id": "E1",
             "event_source_url": "https://shop.example/contact",
             "user": {"email": "a@example.com", **({"country": country} if country else {})}}
    if consent is not None:
        event["consent"] = consent
    Pipeline(settings, store, ["meta", "ga4"]).accept([event], source, now=NOW)
    [view] = store.event_view("E1")
    return {row.destination: row.status for row in view.outbox}


CASES = [
    # country, consent, source, mode, meta, ga4
    ("fr", GRANTED, "browser", "eea", OK, OK),
    ("fr", DENIED, "browser", "eea", SUPPRESSED, SUPPRESSED),
    ("fr", ADS_ONLY, "browser", "eea", OK, SUPPRESSED),
    ("fr", ANALYTICS_ONLY, "browser", "eea", SUPPRESSED, OK),
    ("fr", NO_AD_USER_DATA, "browser", "eea", SUPPRESSED, OK),
    ("fr", None, "browser", "eea", SUPPRESSED, SUPPRESSED),
    ("fr", None, "api", "eea", SUPPRESSED, SUPPRESSED),  # server default: deny
    ("fr", GRANTED, "prestashop", "eea", OK, OK),  # consent carried by the order
    ("gb", None, "api", "eea", SUPPRESSED, SUPPRESSED),  # UK is in scope
    ("ch", None, "api", "eea", SUPPRESSED, SUPPRESSED),  # Switzerland too
    ("no", None, "api", "eea", SUPPRESSED, SUPPRESSED),  # EEA, not EU
    (None, None, "api", "eea", SUPPRESSED, SUPPRESSED),  # unknown country: treated as EEA
    ("us", None, "api", "eea", OK, OK),  # elsewhere: assumed
    ("us", None, "browser", "eea", OK, OK),
    ("us", DENIED, "browser", "eea", SUPPRESSED, SUPPRESSED),  # ...unless the event says denied
    ("us", ADS_ONLY, "api", "eea", OK, SUPPRESSED),
    ("us", None, "api", "required", SUPPRESSED, SUPPRESSED),
    ("us", GRANTED, "api", "required", OK, OK),
    ("fr", DENIED, "browser", "off", OK, OK),  # recorded and passed on, never enforced
    ("fr", None, "api", "off", OK, OK),
]


@pytest.mark.parametrize(("country", "consent", "source", "mode", "meta", "ga4"), CASES)
def test_consent_table(store: SQLiteStore, country: str | None, consent: dict | None, source: str,
                       mode: str, meta: str, ga4: str) -> None:
    assert outcome(store, country, consent, source, mode) == {"meta": meta, "ga4": ga4}


def test_server_default_grant(store: SQLiteStore) -> None:
    assert outcome(store, "fr", None, "api", "eea", server_default="grant") == {
        "meta": OK, "ga4": OK
    }


def test_ad_personalization_denied_is_suppressed_for_ads_unless_owner_allows(
    store: SQLiteStore,
) -> None:
    assert outcome(store, "fr", NO_PERSONALIZATION, "browser", "eea") == {
        "meta": SUPPRESSED, "ga4": OK
    }


def test_ad_personalization_denied_sent_with_opt_out_when_allowed(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "o.db"))
    store.migrate()
    assert outcome(store, "fr", NO_PERSONALIZATION, "browser", "eea",
                   opt_out_policy="send") == {"meta": OK, "ga4": OK}
    [view] = store.event_view("E1")
    assert view.event.opt_out is True


def test_each_suppression_says_which_rule_decided(store: SQLiteStore) -> None:
    outcome(store, "fr", None, "api", "eea")
    [view] = store.event_view("E1")
    reasons = {row.destination: row.message for row in view.outbox}
    assert "TRACKSIDE_SERVER_EVENT_CONSENT=deny" in reasons["meta"]
    assert reasons["meta"].startswith("consent:")


def test_browser_consent_joined_to_a_waiting_server_purchase(store: SQLiteStore) -> None:
    settings = load_settings(environ={"TRACKSIDE_JOIN_WINDOW_S": "60"})
    pipeline = Pipeline(settings, store, ["meta"])
    order = {"event_name": "Purchase", "event_time": int(NOW),
             "event_source_url": "https://shop.example/thanks",
             "user": {"email": "a@example.com", "country": "fr"},
             "order": {"reference": "R1", "value": 10, "currency": "EUR"}}
    pipeline.accept([order], "prestashop", now=NOW)
    # Undecided (no consent yet): pending during the join window, not suppressed.
    assert {c.destination: c.counts for c in store.counts()} == {"meta": {"pending": 1}}
    beacon = {**order,
              "user": {"fbp": "fb.1.1700000000000.42", "ip": "1.2.3.4", "user_agent": "UA"},
              "consent": GRANTED}
    assert pipeline.accept([beacon], "browser", now=NOW + 1)[0].status == "duplicate"
    [view] = store.event_view("R1")
    assert view.event.consent is not None and view.event.consent.ad_storage == "granted"
    assert view.event.consent_source == "browser"
    from trackside.consent import decide

    assert decide(view.event, "meta", settings) is None
