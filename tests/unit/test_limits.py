"""The edge limits hold for every source that goes through ``Pipeline.accept`` (PrestaShop,
the CLI), not only for the HTTP endpoints: raw events are checked by ``parse_event``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from trackside import limits
from trackside.config import load_settings
from trackside.events import Event, parse_event
from trackside.pipeline import Pipeline
from trackside.store.sqlite import SQLiteStore

NOW = 1_800_000_000.0


def lead(event_id: str, **extra: Any) -> dict[str, Any]:
    return {"event_name": "Lead", "event_id": event_id, "event_time": int(NOW) - 10,
            "user": {"email": "jane@example.com"}, **extra}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    store = SQLiteStore(str(tmp_path / "limits.db"))
    store.migrate()
    yield store
    store.close()


def test_pipeline_rejects_over_limit_events_by_index_and_accepts_the_rest(
    store: SQLiteStore,
) -> None:
    settings = load_settings(environ={"TRACKSIDE_MAX_EVENT_BYTES": "4096"})
    pipeline = Pipeline(settings, store, ["dryrun"])
    results = pipeline.accept([
        lead("ok-1"),
        lead("bad\x1b[2J"),
        lead("big-1", custom_data={"blob": "x" * 4000, "more": "y" * 500}),
        lead("ok-2"),
    ], "prestashop", now=NOW)
    assert [r.status for r in results] == ["queued", "rejected", "rejected", "queued"]
    assert results[1].errors[0].field == "events[1].event_id"
    assert "control characters" in results[1].errors[0].reason
    assert results[2].errors[0].field == "events[2]"
    assert "over the limit of 4096 bytes" in results[2].errors[0].reason
    assert [v.event.event_id for v in store.event_view("ok-1")] == ["ok-1"]
    assert store.event_view("big-1") == []


@pytest.mark.parametrize(("raw", "field", "reason"), [
    (lead("a", custom_data={"k": "v" * (limits.MAX_STRING_CHARS + 1)}), "custom_data.k",
     "longer than 4096 characters"),
    (lead("a", user={"phone": ["+33612345678"] * (limits.MAX_IDENTITY_VALUES + 1)}),
     "user.phone", "more than 20"),
    (lead("a", custom_data={"x": float("nan")}), "custom_data.x", "finite number"),
    (lead("a", custom_data={"x": 2**63}), "custom_data.x", "64-bit integer"),
    (lead("a", custom_data={"\ud800": 1}), "custom_data.(key)", "lone surrogate"),
    (lead("a", order={"reference": "R-\u20291"}), "order.reference", "control characters"),
    (lead("a", order={"items": [{"id": "sku\x9b"}]}), "order.items[0].id", "control characters"),
])
def test_parse_event_names_the_field_and_the_limit(raw: dict[str, Any], field: str,
                                                   reason: str) -> None:
    errors = parse_event(raw)
    assert isinstance(errors, list)
    assert any(e.field == field and reason in e.reason for e in errors), errors


def test_a_valid_event_is_unchanged_by_the_checks() -> None:
    raw = lead("fine-1", custom_data={"note": "é" * limits.MAX_STRING_CHARS, "n": 2**63 - 1})
    event = parse_event(raw)
    assert isinstance(event, Event)
    assert event.custom_data == raw["custom_data"]


def test_the_size_counts_utf8_bytes() -> None:
    assert limits.serialized_size({"a": "é"}) == len('{"a":"é"}'.encode())
    assert limits.serialized_size({"a": "\ud800"}) == len('{"a":""}') + 3
