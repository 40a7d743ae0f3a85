"""bench/match_quality.py (issue 15) runs end to end on a tiny history, so it cannot rot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_benchmark_runs_on_a_small_history() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "match_quality.py"), "--events", "3000",
         "--days", "40", "--repeats", "1", "--body-scan"],
        capture_output=True, text=True, timeout=300, check=True).stdout
    for store in ("SQLite", "PostgreSQL"):
        for label in ("30 days ", "30 days, cut mid-day", "1 day "):
            assert any(line.startswith(store) and label in line and line.endswith(
                "(median of 1)") for line in out.splitlines()), (store, label, out)
    assert "from the bodies (no flags)" in out
