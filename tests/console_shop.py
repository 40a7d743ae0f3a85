"""A gateway with the console on a loopback port and a small, real history behind it: events
posted over HTTP with the API key, delivered by the real worker to the fake Graph API. Shared by
the console's integration test and its Chromium test."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.fakes.fixtures import drain_in_thread
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import ThreadedServer
from trackside.runtime import Runtime
from trackside.web.app import create_app

API_KEY = "console-api-key-0123456789"
#: Canaries: a password and an e-mail that must never appear in any console answer.
PASSWORD = "canaryConsolePassw0rd-Zq8"
EMAIL = "canary.shopper@console-canary.example"
GRANTED = dict.fromkeys(("ad_storage", "analytics_storage", "ad_user_data",
                         "ad_personalization"), "granted")
DENIED = {**GRANTED, "ad_storage": "denied", "ad_user_data": "denied"}


def purchase(reference: str, email: str = "someone@shop.example",
             consent: dict[str, str] | None = None, value: float = 59.9) -> dict[str, Any]:
    return {
        "event_name": "Purchase", "event_id": reference,
        "event_source_url": "https://shop.example/thanks",
        "user": {"email": email, "ip": "203.0.113.7", "phone": "+33 6 12 34 56 78",
                 "user_agent": "Mozilla/5.0 (X11; Linux x86_64) console-test"},
        "order": {"reference": reference, "value": value, "currency": "EUR"},
        "consent": consent or GRANTED,
    }


class ConsoleShop:
    def __init__(self, runtime: Runtime, server: ThreadedServer) -> None:
        self.runtime = runtime
        self.url = server.url

    def post(self, *events: dict[str, Any]) -> None:
        response = httpx.post(f"{self.url}/v1/events", json={"events": list(events)},
                              headers={"Authorization": f"Bearer {API_KEY}"})
        assert response.status_code == 202, response.text

    def drain(self) -> None:
        drain_in_thread(self.runtime)

    def history(self) -> None:
        """R-1..R-3 delivered (R-2 with the canary e-mail), R-4 refused ad cookies, R-5 left
        pending (posted after the drain)."""
        self.post(purchase("R-1"), purchase("R-2", email=EMAIL, value=120.0), purchase("R-3"),
                  purchase("R-4", consent=DENIED))
        self.drain()
        self.post(purchase("R-5"))


@contextmanager
def console_shop(fake_graph: FakeGraphAPI, tmp_path: Path, **overrides: Any
                 ) -> Iterator[ConsoleShop]:
    values: dict[str, Any] = {"database_url": f"sqlite:///{tmp_path}/console.db",
                              "api_keys": [API_KEY], "admin_password": PASSWORD}
    values.update(overrides)
    runtime = Runtime.from_settings(fake_graph.settings(**values))
    server = ThreadedServer(create_app(runtime, run_worker=False)).start()
    try:
        yield ConsoleShop(runtime, server)
    finally:
        server.stop()
        runtime.close()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field in the page"
    return found.group(1)


def signed_in(client: httpx.Client) -> str:
    """Sign ``client`` in; returns the session's CSRF token."""
    form = client.get("/dashboard/login")
    answer = client.post("/dashboard/login", data={"csrf": csrf_of(form.text),
                                                   "password": PASSWORD, "next": ""})
    assert answer.status_code == 303, answer.text
    return csrf_of(client.get("/dashboard").text)
