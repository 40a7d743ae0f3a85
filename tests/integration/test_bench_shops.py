"""bench/shops.py (issue 13) runs end to end with the smallest settings, so it cannot rot."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WRK = Path("/usr/bin/wrk")

pytestmark = pytest.mark.slow


@pytest.mark.skipif(not WRK.exists(), reason="bench/shops.py loads the server with Debian's wrk")
def test_the_shops_bench_measures_both_sides_and_prints_the_ratios() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench/shops.py"), "--shops", "3", "--duration", "1",
         "--connections", "2", "--batch", "2", "--events", "30", "--rounds", "1"],
        capture_output=True, text=True, timeout=180,
    )
    assert out.returncode == 0, out.stderr
    for name in ("ingest, 1 event/request", "ingest, 2 events/request", "delivery"):
        match = re.search(rf"^{re.escape(name)}.*\s([\d,]+)\s+([\d,]+)\s+([\d.]+)$",
                          out.stdout, re.M)
        assert match is not None, out.stdout
        base, other, ratio = (float(g.replace(",", "")) for g in match.groups())
        # The figures are printed rounded to whole events/s: with small figures (a tiny run on a
        # loaded machine) that rounding alone moves other/base by up to (other + base) / 2 base².
        rounding = 0.5 * (1 / base + other / base**2) if base > 0 else 0
        assert base > 0 and other > 0
        assert ratio == pytest.approx(other / base, abs=0.01 + rounding)
    # The events went to every shop of the several-shop side (a random key per request), and
    # all 30 events of each delivery round were delivered (the bench asserts it, exit 0).
    stored = re.search(r"1 shop: ([\d,]+) in 1 shop\(s\), 3 shops: ([\d,]+) in 3 shop\(s\)",
                       out.stdout)
    assert stored is not None, out.stdout
    assert out.stdout.count("delivery round 1") == 2
