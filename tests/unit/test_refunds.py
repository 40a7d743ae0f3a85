"""A refund inherits from its order's Purchase: GA client id, external id, country, consent."""

from __future__ import annotations

import time
from pathlib import Path

from trackside.config import load_settings
from trackside.pipeline import Pipeline
from trackside.refunds import inherit_from_purchase, stored_purchase
from trackside.store.sqlite import SQLiteStore

GRANTED = {"ad_storage": "granted", "ad_user_data": "granted", "analytics_storage": "granted"}


def test_store_refund_without_consent_inherits_the_shoppers_choice(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "r.db"))
    store.migrate()
    settings = load_settings(environ={"TRACKSIDE_JOIN_WINDOW_S": "0"})  # consent mode eea, deny
    pipeline = Pipeline(settings, store, ["meta", "ga4"])
    now = time.time()
    pipeline.accept([{
        "event_name": "Purchase", "event_time": int(now),
        "event_source_url": "https://shop.example/thanks",
        "user": {"email": "a@example.fr", "country": "FR", "external_id": "42",
                 "ga_client_id": "GA1.1.111.222"},
        "order": {"reference": "R1", "value": 30, "currency": "EUR"}, "consent": GRANTED,
    }], "prestashop", now=now)
    refund = {"event_name": "Refund", "event_time": int(now), "action_source": "system_generated",
              "order": {"reference": "R1", "value": 30, "currency": "EUR"}, "user": {}}
    enriched = inherit_from_purchase(refund, stored_purchase(store, settings, "R1"))
    assert enriched["consent"] == GRANTED
    assert enriched["user"]["ga_client_id"] == "111.222"
    assert enriched["user"]["country"] == "fr"
    [result] = pipeline.accept([enriched], "prestashop", now=now)
    [view] = store.event_view(result.event_id or "")
    assert {r.destination: r.status for r in view.outbox} == {
        "meta": "not_applicable", "ga4": "pending"}
    # Without it, the same refund is a server event with no consent: suppressed under eea.
    [_bare] = pipeline.accept([{**refund, "event_id": "Refund:R1-bare"}], "prestashop", now=now)
    [view] = store.event_view("Refund:R1-bare")
    assert {r.destination: r.status for r in view.outbox}["ga4"] == "suppressed"
    store.close()


def test_no_purchase_leaves_the_refund_as_it_is() -> None:
    refund = {"event_name": "Refund", "user": {"email": "x@example.com"}}
    assert inherit_from_purchase(refund, None) is refund
