"""Leases: a working worker renews its claim; a killed one's rows go out again within 45 s.

The lease is how long a claim lasts without a renewal (TRACKSIDE_WORKER_LEASE_S, 30 s by
default, at least 5 s). The worker renews it every third of that while it sends, so a slow
vendor never makes another worker send the same rows (Meta recommends a 1,500 ms client
timeout, but a bisect of timeouts can take many times that).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.fixtures import RuntimeFactory, fake_graph, graph_runtime  # noqa: F401
from tests.fakes.graph_api import FakeGraphAPI, Fault
from tests.waiting import wait_until
from trackside.config import ConfigError, load_settings
from trackside.runtime import Runtime
from trackside.store.sqlite import SQLiteStore

GRANTED = {"ad_storage": "granted", "ad_user_data": "granted", "analytics_storage": "granted",
           "ad_personalization": "granted"}


def purchase(reference: str) -> dict[str, Any]:
    return {
        "event_name": "Purchase",
        "event_time": int(time.time()),
        "event_source_url": "https://shop.example/order-confirmation",
        "user": {"email": f"{reference.lower()}@example.com", "ip": "203.0.113.9",
                 "user_agent": "Mozilla/5.0"},
        "order": {"reference": reference, "value": 19.9, "currency": "EUR"},
        "consent": GRANTED,
    }


@pytest.mark.parametrize("value", ["0.001", "0", "4.9", "-1", "nan"])
def test_a_lease_under_5_s_is_refused_naming_the_key(value: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings({"TRACKSIDE_WORKER_LEASE_S": value})
    assert "TRACKSIDE_WORKER_LEASE_S" in str(refused.value)
    assert "at least 5" in str(refused.value)
    assert load_settings({}).worker_lease_s == 30  # a killed worker's rows wait ≤ 30 s
    assert load_settings({"TRACKSIDE_WORKER_LEASE_S": "5"}).worker_lease_s == 5


def test_a_long_send_keeps_its_lease(
    fake_graph: FakeGraphAPI, graph_runtime: RuntimeFactory, tmp_path: Path  # noqa: F811
) -> None:
    runtime = graph_runtime("lease")
    db = tmp_path / "lease.db"
    runtime.pipeline.accept([purchase(f"R{i}") for i in range(3)], "api")
    fake_graph.latency_s = 2.5  # the send outlasts the 0.9 s lease by far
    other_worker = SQLiteStore(str(db))  # another process's view of the same file
    stolen: list[int] = []

    async def scenario() -> None:
        async with runtime.worker(lease_s=0.9, timeout_s=10) as worker:
            sending = asyncio.create_task(worker.drain())
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not fake_graph.requests:
                await asyncio.sleep(0.02)
            # All through the send (2.5 s, well past the 0.9 s lease), a second worker finds
            # nothing to claim.
            watched_from = time.monotonic()
            while not sending.done() and time.monotonic() < watched_from + 30:
                claimed = await asyncio.to_thread(
                    other_worker.claim, "meta", 10, "worker-b", 0.9, time.time())
                stolen.extend(c.outbox_id for c in claimed)
                await asyncio.sleep(0.05)
            watched_s = time.monotonic() - watched_from
            await sending
            assert watched_s > 2 * 0.9, f"watched only {watched_s:.2f} s of the send"

    asyncio.run(scenario())
    other_worker.close()
    assert stolen == []
    assert sorted(fake_graph.event_ids()) == ["R0", "R1", "R2"]  # each sent once
    counts = {c.destination: c.counts for c in runtime.store.counts()}
    assert counts["meta"] == {"delivered": 3}


def leased_rows(db: Path) -> int:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        [(count,)] = conn.execute("SELECT COUNT(*) FROM outbox WHERE status = 'pending'"
                                  " AND lease_owner IS NOT NULL AND lease_expires_at > ?",
                                  (time.time(),)).fetchall()
    return count


def start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "trackside.cli", "worker", "--log-level", "warning"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


@pytest.mark.slow
def test_a_killed_workers_rows_go_out_again_within_45_s(
    fake_graph: FakeGraphAPI, tmp_path: Path  # noqa: F811
) -> None:
    db = tmp_path / "killed.db"
    env = {
        **os.environ,
        "TRACKSIDE_DATABASE_URL": f"sqlite:///{db}",
        "TRACKSIDE_META_PIXEL_ID": fake_graph.pixel_id,
        "TRACKSIDE_META_ACCESS_TOKEN": fake_graph.token,
        "TRACKSIDE_META_GRAPH_URL": fake_graph.url,
        "TRACKSIDE_META_API_VERSION": fake_graph.settings().meta_api_version,
        "TRACKSIDE_META_TIMEOUT_S": "120",
        "TRACKSIDE_JOIN_WINDOW_S": "0",
        "TRACKSIDE_CONSENT_MODE": "off",
    }
    env.pop("TRACKSIDE_WORKER_LEASE_S", None)  # the default lease is what is under test
    runtime = Runtime.from_settings(load_settings(env))
    runtime.pipeline.accept([purchase(f"R{i}") for i in range(20)], "api")
    runtime.close()
    fake_graph.fail_next(Fault.timeout(120))  # the first worker hangs in its send
    first = start_worker(env)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not fake_graph.requests:
            time.sleep(0.05)
        assert fake_graph.requests, "the first worker never sent"
        wait_until(lambda: leased_rows(db) == 20, timeout_s=10,
                   what="the first worker's claim of all 20 rows")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        killed_at = time.monotonic()
        second = start_worker(env)
        try:
            expected = {f"R{i}" for i in range(20)}
            deadline = killed_at + 60
            while time.monotonic() < deadline and not expected <= set(fake_graph.event_ids()):
                time.sleep(0.1)
            recovered_after = time.monotonic() - killed_at
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(30) == 0
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(10)
    assert expected <= set(fake_graph.event_ids()), "the killed worker's rows never went out"
    assert recovered_after < 45, f"recovery took {recovered_after:.1f} s"
