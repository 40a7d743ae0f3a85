"""A real `trackside serve` process: zero configuration besides an API key, a curl-like post,
the event visible through the API, and SIGTERM while clients are posting: exit code 0 and every
event that got a 202 is in the database."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.fakes.server import free_port
from tests.readme import bearer_keys, serve_environment
from tests.waiting import wait_until

API_KEY = "serve-test-key-0123456789"


def start(tmp_path: Path, port: int,
          extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    # Zero configuration: no database URL (the default trackside.db in the working directory),
    # no destination credentials (dry run); only an API key so that posting is possible.
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKSIDE_")}
    env["TRACKSIDE_API_KEYS"] = API_KEY
    env.update(extra_env or {})
    # Logs to a file, not a pipe: nobody reads a pipe here, and a full one blocks the server.
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "trackside.cli", "serve", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    log.close()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5)
            return process
        except httpx.TransportError:
            if process.poll() is not None:
                raise RuntimeError((tmp_path / "serve.log").read_text()) from None
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("trackside serve did not start")


@pytest.mark.slow
def test_post_then_look_up_like_the_readme(tmp_path: Path) -> None:
    port = free_port()
    # The Quickstart's own environment (its API key), then the key its curl lines send.
    process = start(tmp_path, port, extra_env=serve_environment())
    [readme_key] = bearer_keys()
    try:
        base = f"http://127.0.0.1:{port}"
        # The README's curl, byte for byte in spirit: JSON body, bearer key.
        posted = httpx.post(f"{base}/v1/events", headers={"Authorization": f"Bearer {readme_key}"},
                            content=b'{"events": [{"event_name": "Lead", "event_id": "readme-1",'
                                    b' "event_source_url": "https://shop.example/thanks",'
                                    b' "user": {"email": "jane@example.com"}}]}')
        assert posted.status_code == 202
        assert posted.json()["results"][0] == {"index": 0, "status": "queued",
                                               "event_id": "readme-1", "event_name": "Lead"}
        view = httpx.get(f"{base}/v1/events/readme-1",
                         headers={"Authorization": f"Bearer {readme_key}"})
        assert view.status_code == 200 and "jane@example.com" not in view.text
        health = httpx.get(f"{base}/healthz").json()
        assert health["store"] == "ok" and health["worker"] == "ok"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    assert (tmp_path / "trackside.db").exists()


@pytest.mark.slow
def test_sigterm_while_posting_exits_cleanly_and_loses_nothing(tmp_path: Path) -> None:
    port = free_port()
    process = start(tmp_path, port)
    acknowledged: set[str] = set()
    lock = threading.Lock()
    stop = threading.Event()

    def client(worker: int) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5,
                          headers={"Authorization": f"Bearer {API_KEY}"}) as http:
            n = 0
            while not stop.is_set():
                ids = [f"T{worker}-{n}-{j}" for j in range(5)]
                n += 1
                events = [{"event_name": "Lead", "event_id": i,
                           "user": {"email": f"{i}@example.com"}} for i in ids]
                try:
                    response = http.post("/v1/events", json={"events": events})
                except httpx.TransportError:
                    return  # the server stopped listening
                if response.status_code == 202:
                    with lock:
                        acknowledged.update(r["event_id"] for r in response.json()["results"])

    threads = [threading.Thread(target=client, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    # SIGTERM mid-stream: once the clients have had plenty accepted, while they keep posting.
    try:
        wait_until(lambda: len(acknowledged) > 100, timeout_s=30, what="100 acknowledged events")
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
        stop.set()
    for thread in threads:
        thread.join(timeout=10)
    assert code == 0, (tmp_path / "serve.log").read_text()[-3000:]
    with contextlib.closing(sqlite3.connect(tmp_path / "trackside.db")) as conn:
        stored = {row[0] for row in conn.execute("SELECT event_id FROM events")}
    assert len(acknowledged) > 50
    assert acknowledged <= stored
