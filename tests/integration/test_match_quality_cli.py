"""`trackside match-quality`: the report as a table and as the API's JSON, on a real store."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trackside.cli import app
from trackside.config import load_settings
from trackside.events import NormalizedEvent
from trackside.runtime import Runtime
from trackside.store import DatasetQuality, NewEvent, OutboxPlan

H = "d" * 64
DAY = 1_796_083_200  # 2026-12-01T00:00:00Z


@pytest.fixture
def stored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKSIDE_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    runtime = Runtime.from_settings(load_settings())
    try:
        runtime.store.insert_events([
            NewEvent(NormalizedEvent(event_name="Purchase", event_id=f"R{n}",
                                     event_time=DAY + n, action_source="website",
                                     user_data={"em": [H], **({"ph": [H]} if n < 3 else {})}),
                     "api", [OutboxPlan("meta")]) for n in range(4)], time.time())
        runtime.store.save_dataset_quality(DatasetQuality(
            "default", "42", DAY, '{"Purchase": {"composite_score": 6.3}}', DAY))
    finally:
        runtime.close()


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["match-quality", *args])
    return result.exit_code, result.output


def test_json_is_the_apis_shape(stored: None) -> None:
    code, output = invoke("--since", "2026-12-01", "--until", "2026-12-01", "--format", "json")
    assert code == 0, output
    body = json.loads(output)
    event, = body["events"]
    assert (event["event_name"], event["count"]) == ("Purchase", 4)
    assert (event["keys"]["em"], event["keys"]["ph"]) == (1.0, 0.75)
    assert event["estimate"] == 3.6  # 2.5 + 1.5 × 0.75 = 3.625
    assert event["meta"]["composite_score"] == 6.3


def test_the_table(stored: None) -> None:
    code, output = invoke("--since", "2026-12-01", "--until", "2026-12-01")
    assert code == 0, output
    row = next(line for line in output.splitlines() if line.lstrip().startswith("Purchase"))
    assert row.split()[:4] == ["Purchase", "4", "100%", "75%"]
    assert row.split()[-2:] == ["3.6", "6.3"]
    assert "Meta's figures: fetched 2026-12-01T00:00:00Z" in output


def test_bad_dates_name_the_option(stored: None) -> None:
    code, output = invoke("--since", "december")
    assert code == 2 and "--since" in output
    code, output = invoke("--since", "2026-12-02", "--until", "2026-12-01")
    assert code == 2 and "--until" in output
    code, output = invoke("--since", "2026-12-01", "--format", "xml")
    assert code == 2 and "--format" in output
