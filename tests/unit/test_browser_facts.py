"""The beacon's facts reach the join beside the event, never inside its body."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from trackside.config import load_settings
from trackside.pipeline import Pipeline
from trackside.sources.facts import BrowserFacts
from trackside.store import HELD
from trackside.store.sqlite import SQLiteStore

NOW = 1_800_000_000.0
GRANTED = {"ad_storage": "granted", "ad_user_data": "granted", "analytics_storage": "granted"}
PURCHASE = {
    "event_name": "Purchase", "event_time": int(NOW) - 10,
    "event_source_url": "https://shop.example/thanks",
    "user": {"fbp": "fb.1.1700000000000.42", "ip": "203.0.113.9", "user_agent": "UA"},
    "order": {"reference": "R1", "value": 10, "currency": "EUR"}, "consent": GRANTED,
}


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[Pipeline]:
    store = SQLiteStore(str(tmp_path / "f.db"))
    store.migrate()
    yield Pipeline(load_settings(environ={}), store, ["meta"])
    store.close()


def stored(pipeline: Pipeline, event_id: str) -> tuple[list[str], str]:
    [view] = pipeline.store.event_view(event_id)
    [row] = view.outbox
    return view.event.flags, row.status


def test_a_signed_purchase_is_sent_on_its_own_word(pipeline: Pipeline) -> None:
    pipeline.accept([PURCHASE], "browser", now=NOW, facts=[BrowserFacts(verified=True)])
    flags, status = stored(pipeline, "R1")
    assert "signed_browser_purchase" in flags and "unconfirmed_browser_purchase" not in flags
    assert status != HELD


def test_without_facts_a_browser_purchase_is_held(pipeline: Pipeline) -> None:
    pipeline.accept([PURCHASE], "browser", now=NOW)
    flags, status = stored(pipeline, "R1")
    assert "unconfirmed_browser_purchase" in flags
    assert status == HELD


def test_custom_data_cannot_claim_a_signature(pipeline: Pipeline) -> None:
    # The facts used to ride in custom_data["_trackside"]; a body saying so proves nothing.
    forged = {**PURCHASE, "custom_data": {"_trackside": {"verified": True, "pixel": False}}}
    pipeline.accept([forged], "browser", now=NOW)
    flags, status = stored(pipeline, "R1")
    assert "unconfirmed_browser_purchase" in flags and "pixel_absent" not in flags
    assert status == HELD


def test_pixel_and_refused_join_keys_become_a_flag_and_notes(pipeline: Pipeline) -> None:
    lead = {**PURCHASE, "event_name": "Lead", "event_id": "L1"}
    facts = BrowserFacts(pixel=False, refused_join_keys=("cart_id not used for joins: x",))
    pipeline.accept([lead], "browser", now=NOW, facts=[facts])
    flags, _ = stored(pipeline, "L1")
    assert "pixel_absent" in flags
    [view] = pipeline.store.event_view("L1")
    assert [(n.kind, n.detail) for n in view.notes] == [
        ("join_key_refused", "cart_id not used for joins: x")]


def test_one_fact_per_event_or_nothing(pipeline: Pipeline) -> None:
    with pytest.raises(ValueError, match="1 facts for 2 events"):
        pipeline.prepare([PURCHASE, PURCHASE], "browser", now=NOW, facts=[BrowserFacts()])
