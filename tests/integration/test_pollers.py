"""The poller protocol: the loop, the registry, and the standalone `trackside worker` running
the pollers (it used to run none, so an unconfirmed purchase waited for `serve`)."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.prestashop_schema import Fixtures
from tests.integration.test_prestashop_ws import (
    KEY,
    shop_ws,  # noqa: F401  (pytest fixture)
)
from tests.waiting import wait_until, wait_until_async
from trackside import pollers
from trackside.config import Settings, load_settings
from trackside.runtime import Runtime
from trackside.sources.prestashop.poller import PrestaShopPoller

GRANTED = {"ad_storage": "granted", "ad_user_data": "granted", "analytics_storage": "granted"}
BEACON = {"event_name": "Purchase", "event_source_url": "https://shop.example/thanks",
          "user": {"fbp": "fb.1.1700000000000.42", "ip": "203.0.113.9", "user_agent": "UA"},
          "order": {"reference": "R1", "value": 10, "currency": "EUR"}, "consent": GRANTED}


class FailsOnce:
    """A poller whose first pass fails: the loop must log it, go on, and close at the end."""

    name = "fails-once"

    def __init__(self) -> None:
        self.passes: list[float] = []
        self.closed = 0

    def enabled(self, settings: Settings) -> bool:
        return True

    def interval_s(self, settings: Settings) -> float:
        return 0.01

    def run_once(self, runtime: Runtime, now: float) -> None:
        self.passes.append(now)
        if len(self.passes) == 1:
            raise RuntimeError("the shop is down")

    def close(self) -> None:
        self.closed += 1


def _runtime(tmp_path: Path, **env: str) -> Runtime:
    return Runtime.from_settings(load_settings(environ={
        "TRACKSIDE_DATABASE_URL": f"sqlite:///{tmp_path}/p.db", **env}))


async def test_a_failed_pass_is_retried_and_the_poller_closed_once_stopped(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    runtime = _runtime(tmp_path)
    poller = FailsOnce()
    stop = asyncio.Event()
    [task] = pollers.start(runtime, stop, [poller])
    await wait_until_async(lambda: len(poller.passes) >= 3, what="passes after the failure")
    assert poller.closed == 0
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    assert poller.closed == 1
    assert "poller fails-once failed" in caplog.text
    runtime.close()


def test_pollers_come_from_the_sources_when_configured(tmp_path: Path) -> None:
    plain = load_settings(environ={})
    assert [p.name for p in pollers.configured(plain)] == ["sweep", "purge"]
    shop = load_settings(environ={"TRACKSIDE_PRESTASHOP_DB_URL": "mysql://u:p@127.0.0.1/shop"})
    names = [p.name for p in pollers.configured(shop)]
    assert names == ["sweep", "purge", "prestashop"]
    assert PrestaShopPoller().interval_s(shop) == shop.prestashop_poll_s


def _start_worker(tmp_path: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKSIDE_")}
    child_env.update({"TRACKSIDE_DATABASE_URL": f"sqlite:///{tmp_path}/p.db", **env})
    # Logs to a file, not a pipe: nobody reads a pipe here, and a full one blocks the worker.
    log = (tmp_path / "worker.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "trackside.cli", "worker"], cwd=tmp_path,
                               env=child_env, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    return process


def _until_then_stop(process: subprocess.Popen[bytes], tmp_path: Path, done: Any,
                     what: str) -> None:
    """Wait for ``done()`` while the worker runs, then SIGTERM it: it must exit 0."""
    try:
        wait_until(lambda: done() or process.poll() is not None, timeout_s=30, what=what)
        assert process.poll() is None, (tmp_path / "worker.log").read_text()
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
    assert code == 0, (tmp_path / "worker.log").read_text()


@pytest.mark.slow
def test_the_standalone_worker_ends_an_unconfirmed_purchase(tmp_path: Path) -> None:
    env = {"TRACKSIDE_JOIN_WINDOW_S": "0.5"}
    runtime = _runtime(tmp_path, **env)
    runtime.pipeline.accept([BEACON], "browser")

    def status() -> str:
        [row] = runtime.store.event_view("R1")[0].outbox
        return str(row.status)

    assert status() == "held"
    process = _start_worker(tmp_path, env)
    _until_then_stop(process, tmp_path, lambda: status() == "suppressed",
                     "the worker's sweep to end R1")
    [row] = runtime.store.event_view("R1")[0].outbox
    assert row.status == "suppressed"
    assert row.message == "browser purchase not confirmed by the store"
    runtime.close()


@pytest.mark.slow
def test_the_standalone_worker_polls_the_shop(tmp_path: Path, shop_ws: Any) -> None:  # noqa: F811
    shop, _, url = shop_ws
    orders = Fixtures(shop, time.time())
    runtime = _runtime(tmp_path)
    process = _start_worker(tmp_path, {"TRACKSIDE_PRESTASHOP_URL": url,
                                       "TRACKSIDE_PRESTASHOP_API_KEY": KEY,
                                       "TRACKSIDE_PRESTASHOP_POLL_S": "0.2"})
    _until_then_stop(process, tmp_path, lambda: runtime.store.event_view(orders.normal),
                     "the worker's PrestaShop poller to queue the first order")
    [view] = runtime.store.event_view(orders.normal)
    assert view.source == "prestashop"
    runtime.close()


class Counts:
    """A poller whose passes (shared by the runtimes it is given to) are recorded."""

    name = "counted"

    def __init__(self, passes: list[float], interval: float) -> None:
        self.passes = passes
        self.interval = interval

    def enabled(self, settings: Settings) -> bool:
        return True

    def interval_s(self, settings: Settings) -> float:
        return self.interval

    def run_once(self, runtime: Runtime, now: float) -> None:
        self.passes.append(now)

    def close(self) -> None:
        pass


async def test_two_processes_on_one_store_run_a_job_once_per_interval_between_them(
        tmp_path: Path) -> None:
    # Two runtimes on one SQLite file, as `serve` and `trackside worker` would be: the job's
    # starts, whoever made them, are an interval apart (without the store's job lock each
    # loop would run it on its own, and starts would come in pairs).
    first, second = _runtime(tmp_path), _runtime(tmp_path)
    passes: list[float] = []
    stop = asyncio.Event()
    tasks = [*pollers.start(first, stop, [Counts(passes, 0.2)]),
             *pollers.start(second, stop, [Counts(passes, 0.2)])]
    await wait_until_async(lambda: len(passes) >= 6, what="six passes between two loops")
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=5)
    starts = sorted(passes)
    assert all(later - earlier >= 0.2 for earlier, later in itertools.pairwise(starts)), starts
    first.close()
    second.close()
