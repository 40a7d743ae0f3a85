"""Real headless Chromium (Debian's package) driven by Playwright; gateway and pages on loopback.

Never run ``playwright install``: the browser is /usr/bin/chromium. One browser per session,
one fresh context (cookies, storage) per test.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.fixtures import (
    drain_in_thread,
    fake_graph,  # noqa: F401  (fixture)
)
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import ThreadedServer
from tests.waiting import wait_until  # noqa: F401  (the e2e tests import it from here)
from trackside.runtime import Runtime

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


# Module scope, not session: Playwright's sync API keeps an event loop running in the main
# thread while it is open, and every later test that calls asyncio.run() would fail.
@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser_context(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context()
    context.set_default_timeout(10_000)
    try:
        yield context
    finally:
        context.close()


class Shop:
    """The demo shop and gateway on one loopback origin, delivering to the fake Graph API."""

    def __init__(self, runtime: Runtime, server: ThreadedServer) -> None:
        self.runtime = runtime
        self.url = server.url

    def drain(self) -> None:
        drain_in_thread(self.runtime)

    def stored(self, event_id: str) -> list[Any]:
        return self.runtime.store.event_view(event_id)


@pytest.fixture
def shop_factory(fake_graph: FakeGraphAPI, tmp_path: Path) -> Iterator[Callable[..., Shop]]:  # noqa: F811
    from trackside.demo import demo_app

    started: list[tuple[Runtime, ThreadedServer]] = []

    def make(**overrides: Any) -> Shop:
        values: dict[str, Any] = {"database_url": f"sqlite:///{tmp_path}/shop{len(started)}.db"}
        values.update(overrides)
        runtime = Runtime.from_settings(fake_graph.settings(**values))
        server = ThreadedServer(demo_app(runtime, run_worker=False)).start()
        started.append((runtime, server))
        return Shop(runtime, server)

    try:
        yield make
    finally:
        for runtime, server in started:
            server.stop()
            runtime.close()
