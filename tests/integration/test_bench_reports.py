"""bench/reports.py (issue 15) runs end to end with the smallest settings, so it cannot rot:
both backends, every figure printed, the loaded orders found by the report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pg import ADMIN_URL

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_the_reports_bench_measures_both_backends() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench/reports.py"), "--events", "3000", "--purchases",
         "0.5", "--days", "30", "--period", "30", "--runs", "1", "--pg-admin-url", ADMIN_URL],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [line["backend"] for line in lines] == ["sqlite", "postgres"]
    for figures in lines:
        # About half of 3,000 events are orders, nearly all of them in the last 30 days.
        assert 1300 < figures["orders_in_period"] < 1600, figures
        assert figures["list_orders_rows"] == 100
        for key in ("report_ms", "list_orders_ms", "list_pixel_missed_ms", "list_failed_ms"):
            assert figures[key] > 0
    assert lines[0]["orders_in_period"] == lines[1]["orders_in_period"]
