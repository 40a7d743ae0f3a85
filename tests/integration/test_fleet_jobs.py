"""Two real `trackside worker` processes on one PostgreSQL database: the retention purge and
the PrestaShop poller (against the fake webservice) each run once per period in total, not
once per process (Store.job_lock's advisory lock, trackside/pollers.py).

Each worker logs (at debug) every job it starts with the start time it recorded; the starts of
one job, whichever process made them, must be an interval apart.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.prestashop_schema import Fixtures
from tests.integration.test_prestashop_ws import (
    KEY,
    shop_ws,  # noqa: F401  (pytest fixture)
)
from tests.pg import fresh_database
from tests.waiting import wait_until

POLL_S = 1.0
STARTED = re.compile(r"^job (\S+) started at ([0-9.]+) by (\S+)$")


def _start_worker(log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKSIDE_")}
    child_env.update(env)
    with log.open("wb") as out:  # a file, not a pipe nobody reads
        return subprocess.Popen(
            [sys.executable, "-m", "trackside.cli", "worker", "--log-level", "debug"],
            cwd=log.parent, env=child_env, stdout=out, stderr=subprocess.STDOUT)


def _starts(logs: list[Path]) -> dict[str, list[tuple[float, str]]]:
    """job name → [(start time, owner)] over every worker's log."""
    found: dict[str, list[tuple[float, str]]] = {}
    for log in logs:
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                message = json.loads(line).get("msg", "")
            except ValueError:
                continue
            if match := STARTED.match(message):
                found.setdefault(match[1], []).append((float(match[2]), match[3]))
    return {job: sorted(starts) for job, starts in found.items()}


@pytest.fixture
def pg_database() -> Iterator[str]:
    with fresh_database() as url:
        yield url


@pytest.mark.slow
def test_two_workers_run_the_purge_and_the_shop_poller_once_per_period(
        tmp_path: Path, pg_database: str, shop_ws: Any) -> None:  # noqa: F811
    shop, fake, url = shop_ws
    Fixtures(shop, time.time())
    env = {"TRACKSIDE_DATABASE_URL": pg_database, "TRACKSIDE_PRESTASHOP_URL": url,
           "TRACKSIDE_PRESTASHOP_API_KEY": KEY, "TRACKSIDE_PRESTASHOP_POLL_S": str(POLL_S)}
    logs = [tmp_path / f"worker{i}.log" for i in (1, 2)]
    workers = [_start_worker(log, env) for log in logs]
    try:
        wait_until(lambda: len(_starts(logs).get("prestashop:default", [])) >= 5
                   or any(w.poll() is not None for w in workers),
                   timeout_s=60, what="five PrestaShop passes between the two workers")
        assert all(w.poll() is None for w in workers), [log.read_text() for log in logs]
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        codes = [worker.wait(timeout=60) for worker in workers]
    assert codes == [0, 0], [log.read_text() for log in logs]
    starts = _starts(logs)
    print({job: [f"{at:.3f} {owner}" for at, owner in runs] for job, runs in starts.items()})
    # The purge's period is a day: one run in total, by one of the two.
    assert len(starts["purge"]) == 1
    for job, interval in (("prestashop:default", POLL_S), ("sweep", 1.0)):
        times = [at for at, _ in starts[job]]
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        assert all(gap >= interval for gap in gaps), (job, gaps)
    assert fake.requests  # the passes did reach the shop
