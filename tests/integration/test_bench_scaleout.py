"""bench/scaleout.py (issue 14) runs end to end with the smallest settings, so it cannot rot."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WRK = Path("/usr/bin/wrk")

pytestmark = pytest.mark.slow


@pytest.mark.skipif(not WRK.exists(), reason="bench/scaleout.py loads the servers with wrk")
def test_the_scaleout_bench_measures_workers_and_servers_and_prints_the_ratios() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench/scaleout.py"), "--events", "200", "--workers",
         "1,2", "--servers", "1,2", "--duration", "1", "--connections", "2"],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr
    for name in ("delivery, 1 worker(s)", "delivery, 2 worker(s)", "delivery, 1 worker, SQLite",
                 "ingest, 1 server(s)", "ingest, 2 server(s)"):
        match = re.search(rf"^{re.escape(name)}\s+([\d,]+) events/s\s+([\d.]+)x$", out.stdout,
                          re.M)
        assert match is not None, (name, out.stdout)
        assert float(match[1].replace(",", "")) > 0
    # Every measurement drained its whole backlog (the bench raises otherwise: exit 0 above).
