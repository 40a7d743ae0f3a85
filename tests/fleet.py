"""Real trackside processes for crash, restart and topology tests: `serve` and `worker` started
as subprocesses against one store and the fake Graph API, and a client that posts a stream of
purchases and remembers exactly what was acknowledged.

Shared by tests/integration/test_crash.py (SQLite, one process), test_fleet_crash.py (a fleet on
PostgreSQL), test_pg_restart.py and test_scaleout_doc.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.fakes.graph_api import FakeGraphAPI
from tests.waiting import wait_until

API_KEY = "crash-test-key-0123456789"
TRACKSIDE = [sys.executable, "-m", "trackside.cli"]


def trackside_env(database_url: str, fake_graph: FakeGraphAPI, **settings: str) -> dict[str, str]:
    """The suite's environment without the developer's TRACKSIDE_* (serve refuses unknown
    ones), sending to ``fake_graph``, no join window, consent off; ``settings`` as
    ``TRACKSIDE_<NAME>`` overrides (``worker_lease_s="5"``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKSIDE_")}
    env.update({
        "TRACKSIDE_DATABASE_URL": database_url,
        "TRACKSIDE_META_PIXEL_ID": fake_graph.pixel_id,
        "TRACKSIDE_META_ACCESS_TOKEN": fake_graph.token,
        "TRACKSIDE_META_GRAPH_URL": fake_graph.url,
        "TRACKSIDE_META_API_VERSION": fake_graph.settings().meta_api_version,
        "TRACKSIDE_API_KEYS": API_KEY,
        "TRACKSIDE_JOIN_WINDOW_S": "0",
        "TRACKSIDE_CONSENT_MODE": "off",
    })
    env.update({f"TRACKSIDE_{name.upper()}": value for name, value in settings.items()})
    return env


def _spawn(command: Sequence[str], env: dict[str, str], log: Path | None
           ) -> subprocess.Popen[bytes]:
    # Output to the test's log file (read on failure) or nowhere: a pipe nobody reads would
    # block the child once full. The child keeps its own copy of the file descriptor.
    if log is None:
        return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    with log.open("ab") as output:
        return subprocess.Popen(command, env=env, stdout=output, stderr=output)


def start_serve(env: dict[str, str], port: int, *options: str, log: Path | None = None,
                argv: Sequence[str] | None = None) -> subprocess.Popen[bytes]:
    """`trackside serve --port PORT OPTIONS`, returned once it answers /healthz (any status:
    a `failing` store still means the HTTP side is up). ``argv`` replaces the whole command."""
    command = list(argv) if argv is not None else [
        *TRACKSIDE, "serve", "--port", str(port), "--log-level", "warning", *options]
    process = _spawn(command, env, log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5)
            return process
        except httpx.HTTPError:
            time.sleep(0.05)
    process.kill()
    process.wait()
    raise RuntimeError(f"trackside serve on port {port} did not start (exit {process.returncode})")


def start_worker(env: dict[str, str], *options: str, log: Path | None = None,
                 argv: Sequence[str] | None = None) -> subprocess.Popen[bytes]:
    """`trackside worker OPTIONS` (no HTTP side to wait for: its deliveries show it works)."""
    command = list(argv) if argv is not None else [
        *TRACKSIDE, "worker", "--log-level", "warning", *options]
    return _spawn(command, env, log)


def kill(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL: no shutdown code runs, as when the machine or the OOM killer ends it."""
    process.send_signal(signal.SIGKILL)
    process.wait()


def stop(process: subprocess.Popen[bytes], timeout_s: float = 30) -> int:
    """SIGTERM and wait: the exit code of a clean stop (0 expected)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise


def purchases(refs: Sequence[str]) -> list[dict[str, object]]:
    """One Purchase per order reference (its event id is the reference)."""
    return [{"event_name": "Purchase", "event_source_url": "https://shop.example/thanks",
             "user": {"email": f"{ref.lower()}@example.com", "ip": "203.0.113.1",
                      "user_agent": "Mozilla/5.0"},
             "order": {"reference": ref, "value": 10, "currency": "EUR"}}
            for ref in refs]


@dataclass
class Poster:
    """Client threads posting batches of purchases round-robin to ``urls`` until stopped (or
    ``total`` events were sent). ``accepted`` holds exactly the event ids some 202 answered
    queued or duplicate; ``statuses`` counts answers (and ``"error"``: no answer)."""

    urls: Sequence[str]
    batch_size: Callable[[], int]
    threads: int = 1
    total: int | None = None
    timeout_s: float = 10.0
    #: How often a batch nobody acknowledged (no answer, or 503) is sent again, to the next
    #: server, as a real client does; 0: given up at once (the events are simply not owed).
    retries: int = 0
    accepted: set[str] = field(default_factory=set)
    sent_refs: set[str] = field(default_factory=set)
    statuses: Counter[int | str] = field(default_factory=Counter)
    #: Each non-202 answer's status and Retry-After header, for the outage assertions.
    refusals: list[tuple[int, str | None]] = field(default_factory=list)
    refusal_bodies: list[str] = field(default_factory=list)
    longest_request_s: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _workers: list[threading.Thread] = field(default_factory=list)
    _next_ref: int = 0

    def start(self) -> Poster:
        for index in range(self.threads):
            thread = threading.Thread(target=self._post, args=(index,), daemon=True)
            thread.start()
            self._workers.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._workers:
            thread.join(timeout=self.timeout_s + 5)

    @property
    def done(self) -> bool:
        return all(not thread.is_alive() for thread in self._workers)

    def accepted_count(self) -> int:
        with self._lock:
            return len(self.accepted)

    def _take_refs(self, thread: int) -> list[str]:
        with self._lock:
            size = self.batch_size()
            if self.total is not None:
                size = min(size, self.total - self._next_ref)
            first, self._next_ref = self._next_ref, self._next_ref + max(size, 0)
            refs = [f"ORD{number:07d}" for number in range(first, first + max(size, 0))]
            self.sent_refs.update(refs)
            return refs

    def _post(self, thread: int) -> None:
        with httpx.Client(timeout=self.timeout_s) as client:
            turn = thread
            while not self._stop.is_set():
                refs = self._take_refs(thread)
                if not refs:
                    return
                for _ in range(1 + self.retries):
                    url = self.urls[turn % len(self.urls)]
                    turn += 1
                    if self._send(client, url, refs) or self._stop.is_set():
                        break
                    time.sleep(0.05)  # pacing between a refusal and the retry, not a wait

    def _send(self, client: httpx.Client, url: str, refs: list[str]) -> bool:
        """Whether the batch was answered (a 202, or a refusal other than 503)."""
        started = time.monotonic()
        try:
            response = client.post(f"{url}/v1/events", json={"events": purchases(refs)},
                                   headers={"Authorization": f"Bearer {API_KEY}"})
        except httpx.HTTPError:
            # No answer (the server is down, or the request timed out): these events were
            # never reported accepted, so nothing is owed for them unless a retry is.
            with self._lock:
                self.statuses["error"] += 1
            return False
        finally:
            with self._lock:
                self.longest_request_s = max(self.longest_request_s, time.monotonic() - started)
        with self._lock:
            self.statuses[response.status_code] += 1
            if response.status_code == 202:
                self.accepted.update(
                    result["event_id"] for result in response.json()["results"]
                    if result["status"] in ("queued", "duplicate"))
                return True
            self.refusals.append((response.status_code, response.headers.get("retry-after")))
            self.refusal_bodies.append(response.text)
            return response.status_code != 503


def duplicates_at(fake_graph: FakeGraphAPI) -> dict[str, int]:
    """Event ids the fake received more than once, with how many times."""
    counts = Counter(fake_graph.event_ids())
    return {event_id: count for event_id, count in counts.items() if count > 1}


def wait_delivered(fake_graph: FakeGraphAPI, accepted: set[str], timeout_s: float) -> bool:
    """Whether every id in ``accepted`` reached the fake within ``timeout_s``; the caller
    asserts (and reports what is missing) either way."""
    try:
        wait_until(lambda: accepted <= set(fake_graph.event_ids()), timeout_s=timeout_s,
                   what="every accepted event at the fake Graph API")
    except AssertionError:
        return False
    return True
