"""Whether the confirmation page's pixel fired is recorded on the store's order whichever copy
arrives first (issue 15: the reconciliation's ``pixel_fired``), even after delivery."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from trackside.config import load_settings
from trackside.pipeline import Pipeline
from trackside.sources.facts import BrowserFacts
from trackside.store import Finished
from trackside.store.sqlite import SQLiteStore
from trackside.testing import MemoryStore

NOW = 1_800_000_000.0
GRANTED = {"ad_storage": "granted", "ad_user_data": "granted", "analytics_storage": "granted"}
ORDER = {"reference": "R1", "value": 10, "currency": "EUR"}
BEACON = {
    "event_name": "Purchase", "event_time": int(NOW) - 10,
    "event_source_url": "https://shop.example/thanks",
    "user": {"fbp": "fb.1.1700000000000.42", "ip": "203.0.113.9", "user_agent": "UA"},
    "order": ORDER, "consent": GRANTED,
}
SERVER = {"event_name": "Purchase", "event_time": int(NOW) - 20, "order": ORDER,
          "user": {"email": "a@example.com"}, "consent": GRANTED}


@pytest.fixture(params=["sqlite", "memory"])
def pipeline(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Pipeline]:
    store = SQLiteStore(str(tmp_path / "f.db")) if request.param == "sqlite" else MemoryStore()
    store.migrate()
    yield Pipeline(load_settings(environ={}), store, ["meta"])
    store.close()


def flags(pipeline: Pipeline) -> tuple[list[str], str | None]:
    [view] = pipeline.store.event_view("R1")
    return view.event.flags, view.source


@pytest.mark.parametrize("pixel", [True, False])
def test_beacon_first_then_the_store(pipeline: Pipeline, pixel: bool) -> None:
    pipeline.accept([BEACON], "browser", now=NOW, facts=[BrowserFacts(pixel=pixel)])
    pipeline.accept([SERVER], "api", now=NOW + 5)
    stored, source = flags(pipeline)
    assert source == "api" and "seen_by_browser" in stored
    assert ("pixel_absent" in stored) is (not pixel)


@pytest.mark.parametrize("pixel", [True, False])
def test_store_first_then_a_late_beacon(pipeline: Pipeline, pixel: bool) -> None:
    pipeline.accept([SERVER], "api", now=NOW)
    assert "seen_by_browser" not in flags(pipeline)[0]
    pipeline.accept([BEACON], "browser", now=NOW + 5, facts=[BrowserFacts(pixel=pixel)])
    stored, source = flags(pipeline)
    assert source == "api" and "seen_by_browser" in stored
    assert ("pixel_absent" in stored) is (not pixel)


def test_a_beacon_after_delivery_still_marks_the_order(pipeline: Pipeline) -> None:
    pipeline.accept([SERVER], "api", now=NOW)
    [claimed] = pipeline.store.claim("meta", 10, "w", 30, NOW + 100)
    pipeline.store.finish([Finished(claimed.outbox_id, "delivered", sent="{}")], NOW + 101)
    pipeline.accept([BEACON], "browser", now=NOW + 600, facts=[BrowserFacts(pixel=True)])
    stored, _ = flags(pipeline)
    assert "seen_by_browser" in stored and "pixel_absent" not in stored
    [view] = pipeline.store.event_view("R1")
    assert [row.status for row in view.outbox] == ["delivered"]


def test_a_second_beacon_adds_nothing_twice(pipeline: Pipeline) -> None:
    pipeline.accept([SERVER], "api", now=NOW)
    for at in (NOW + 5, NOW + 6):
        pipeline.accept([BEACON], "browser", now=at, facts=[BrowserFacts(pixel=False)])
    stored, _ = flags(pipeline)
    assert stored.count("seen_by_browser") == 1 and stored.count("pixel_absent") == 1
