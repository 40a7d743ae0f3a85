"""`trackside serve --workers N` (trackside/web/serving.py): N server processes on one port.

On PostgreSQL: both processes answer (their log lines carry their pid), every event a 202
acknowledged is stored and delivered exactly once although each process runs a delivery
worker (claims with SKIP LOCKED), and one SIGTERM to the parent stops every process with exit
0. On SQLite, --workers above 1 is refused with a message naming the reason.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.fakes.fixtures import fake_graph  # noqa: F401
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import free_port
from tests.fleet import (
    API_KEY,
    TRACKSIDE,
    duplicates_at,
    purchases,
    start_serve,
    stop,
    trackside_env,
    wait_delivered,
)
from tests.pg import pg_url  # noqa: F401
from tests.waiting import wait_until

pytestmark = pytest.mark.slow


def _answering_pids(log: Path) -> set[int]:
    """The processes that logged an answered POST /v1/events."""
    pids = set()
    for line in log.read_text(errors="replace").splitlines():
        if not line.startswith("{"):
            continue
        entry = json.loads(line)
        if entry.get("logger") == "trackside.http" and "/v1/events" in entry.get("msg", ""):
            pids.add(entry["pid"])
    return pids


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_two_processes_answer_deliver_once_and_stop_on_one_sigterm(
        pg_url: str, fake_graph: FakeGraphAPI, tmp_path: Path) -> None:  # noqa: F811
    port = free_port()
    log = tmp_path / "serve.log"
    env = trackside_env(pg_url, fake_graph)
    server = start_serve(env, port, "--workers", "2", log=log,
                         argv=[*TRACKSIDE, "serve", "--port", str(port), "--log-level", "info",
                               "--workers", "2"])
    accepted: set[str] = set()
    sent = 0
    try:
        def post_one_batch() -> bool:
            nonlocal sent
            refs = [f"W{sent + i:05d}" for i in range(5)]
            sent += 5
            # A new connection each time: the kernel hands each to whichever process
            # accepts it first.
            with httpx.Client(timeout=10) as client:
                response = client.post(f"http://127.0.0.1:{port}/v1/events",
                                       json={"events": purchases(refs)},
                                       headers={"Authorization": f"Bearer {API_KEY}"})
            if response.status_code == 202:
                accepted.update(r["event_id"] for r in response.json()["results"]
                                if r["status"] == "queued")
            return len(_answering_pids(log)) == 2

        wait_until(post_one_batch, timeout_s=90, what="answers from both server processes")
        children = _answering_pids(log)
        assert server.pid not in children
        assert len(accepted) == sent  # every batch was acknowledged in full
    finally:
        assert stop(server, timeout_s=60) == 0
    for pid in children:
        wait_until(lambda pid=pid: not _alive(pid), timeout_s=30, what=f"process {pid} ended")
    with psycopg.connect(pg_url) as connection:
        stored = {row[0] for row in connection.execute("SELECT event_id FROM events")}
    assert accepted <= stored

    # Delivered exactly once, by whichever process's worker claimed each row (on the next
    # start: the two stopped before they necessarily delivered everything).
    restarted = start_serve(env, port, "--workers", "2", log=log,
                            argv=[*TRACKSIDE, "serve", "--port", str(port), "--log-level",
                                  "warning", "--workers", "2"])
    try:
        assert wait_delivered(fake_graph, accepted, timeout_s=60)
    finally:
        assert stop(restarted, timeout_s=60) == 0
    assert duplicates_at(fake_graph) == {}


def test_more_than_one_process_on_sqlite_is_refused(tmp_path: Path,
                                                    fake_graph: FakeGraphAPI) -> None:  # noqa: F811
    env = trackside_env(f"sqlite:///{tmp_path / 'one.db'}", fake_graph)
    done = subprocess.run([*TRACKSIDE, "serve", "--workers", "2", "--port", str(free_port())],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    message = " ".join(done.stderr.split())
    assert "--workers above 1 needs the PostgreSQL store" in message
    assert not (tmp_path / "one.db").exists()  # refused before anything was opened
