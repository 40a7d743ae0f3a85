"""Shared worker fixtures: ``fake_graph`` (the strict fake Meta Graph API on a loopback port,
per test), ``clock`` (a :class:`WorkerClock`) and ``graph_runtime`` (a runtime factory on
``fake_graph`` and a SQLite file, closed after the test).

Import it into a test module (``from tests.fakes.fixtures import fake_graph``) or list this
module in a conftest's ``pytest_plugins``. The yielded object is the
:class:`~tests.fakes.graph_api.FakeGraphAPI` itself: ``.url``, ``.pixel_id``, ``.token``,
``.app_secret``, ``.events``, ``.requests``, ``.settings(**overrides)`` and the fault controls
(``fail_next``, ``fail_until_cleared``, ``reject_event_id``, ``clear_faults``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import ThreadedServer
from trackside.runtime import Runtime

RuntimeFactory = Callable[..., Runtime]


class WorkerClock:
    """The worker's clock in a test: it moves only when the test says so."""

    def __init__(self, now: float | None = None) -> None:
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> WorkerClock:
    return WorkerClock()


@contextmanager
def served_graph(**options: Any) -> Iterator[FakeGraphAPI]:
    """A FakeGraphAPI(**options) served on a loopback port for the block, its ``url`` set."""
    fake = FakeGraphAPI(**options)
    server = ThreadedServer(fake.app).start()
    fake.url = server.url
    try:
        yield fake
    finally:
        fake.close()  # let a held `timeout` request finish so uvicorn can stop
        server.stop()


@pytest.fixture
def fake_graph() -> Iterator[FakeGraphAPI]:
    with served_graph() as fake:
        yield fake


@pytest.fixture
def graph_runtime(fake_graph: FakeGraphAPI, tmp_path: Path) -> Iterator[RuntimeFactory]:
    """``graph_runtime(**overrides)``: a Runtime sending to ``fake_graph``, storing in
    ``tmp_path/<database>.db``, without a join window unless overridden."""
    made: list[Runtime] = []

    def make(database: str = "worker", **overrides: Any) -> Runtime:
        overrides.setdefault("join_window_s", 0)
        runtime = Runtime.from_settings(
            fake_graph.settings(database_url=f"sqlite:///{tmp_path}/{database}.db", **overrides))
        made.append(runtime)
        return runtime

    try:
        yield make
    finally:
        for runtime in made:
            runtime.close()


def drain_in_thread(runtime: Runtime, timeout_s: float = 20) -> int:
    """Deliver ``runtime``'s due events to the end, from a thread of its own: Playwright's sync
    API owns the calling thread's event loop, so ``asyncio.run`` cannot run there."""
    async def run() -> int:
        async with runtime.worker() as worker:
            return await worker.drain(timeout_s=timeout_s)

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result()
