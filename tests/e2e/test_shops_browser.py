"""Origin routing in real Chromium: two shop pages on two origins, one gateway (issue 13).

One gateway process on one loopback port serves two origins, http://127.0.0.1:<port> (shop
alpha) and http://localhost:<port> (shop beta): two host names, so Chromium keeps two cookie
jars and the gateway sets a separate _fbp on each. Each origin serves its shop's confirmation
page, which loads the tag, calls trackside('consent', …) and sends a Purchase beacon for the
SAME reference, R-100. Each shop's server copy of R-100 is then posted with that shop's key.
Each Chromium context has its own user agent, so a crossed-over context would show.

Real components: a TOML file with [shops.alpha] and [shops.beta], one SQLite file, uvicorn on
loopback, Debian's Chromium, two strict fake Graph APIs (each knows only its own pixel and
token). A third origin (another port) that belongs to no shop is refused.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route

from tests.e2e.conftest import wait_until
from tests.fakes.fixtures import drain_in_thread
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import ThreadedServer, free_port
from trackside.runtime import Runtime
from trackside.shops import load_shops
from trackside.web.app import create_app
from trackside.web.collect import collect_routes

pytestmark = pytest.mark.e2e

REFERENCE = "R-100"
KEYS = {"alpha": "alpha-e2e-key-1111111111", "beta": "beta-e2e-key-2222222222"}
AGENTS = {"alpha": "Mozilla/5.0 (X11; Linux x86_64) shop-alpha-shopper",
          "beta": "Mozilla/5.0 (X11; Linux x86_64) shop-beta-shopper",
          "stranger": "Mozilla/5.0 (X11; Linux x86_64) stranger-shopper"}
EMAILS = {"alpha": "anna@alpha.example", "beta": "bert@beta.example"}
VALUES = {"alpha": 19.9, "beta": 42.5}
GRANTED = dict.fromkeys(("ad_storage", "analytics_storage", "ad_user_data",
                         "ad_personalization"), "granted")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def confirmation_page(gateway: str, value: float) -> str:
    """A shop's confirmation page: consent from the shop's banner, then PageView and Purchase."""
    return (
        "<!doctype html><title>Thank you</title><script>"
        "window.trackside=window.trackside||function(){"
        "(trackside.q=trackside.q||[]).push(arguments)};"
        f"trackside('consent',{json.dumps(GRANTED)});"
        "trackside('track','PageView');"
        f"trackside('purchase',{{reference:{json.dumps(REFERENCE)},value:{value},"
        "currency:'EUR'});"
        f'</script><script async src="{gateway}/t.js"></script>'
        f"<p id=reference>{REFERENCE}</p>")


def gateway_app(runtime: Runtime) -> Starlette:
    """The full gateway (create_app) plus each shop's page, chosen by the Host the browser
    used: the shops' sites and the gateway share one origin each, as a shop proxying
    /t.js and /collect would."""
    gateway = create_app(runtime, run_worker=False)

    async def page(request: Request) -> Response:
        host = request.headers.get("host", "")
        shop = "beta" if host.startswith("localhost:") else "alpha"
        return HTMLResponse(confirmation_page("", VALUES[shop]))

    app = Starlette(routes=[Route("/thanks", page), *collect_routes(runtime),
                            Mount("/", app=gateway)])
    app.state.committer = gateway.state.committer
    app.state.runtime = runtime
    return app


def stranger_app(gateway_url: str) -> Starlette:
    """A site that is no shop's, loading the gateway's tag and beaconing to it."""

    async def page(request: Request) -> Response:
        return HTMLResponse(confirmation_page(gateway_url, 5.0))

    return Starlette(routes=[Route("/thanks", page)])


@pytest.fixture
def pixels() -> Iterator[dict[str, FakeGraphAPI]]:
    fakes: dict[str, FakeGraphAPI] = {}
    servers = []
    for name in ("alpha", "beta"):
        fake = FakeGraphAPI()
        server = ThreadedServer(fake.app).start()
        fake.url = server.url
        fakes[name] = fake
        servers.append(server)
    try:
        yield fakes
    finally:
        for fake, server in zip(fakes.values(), servers, strict=True):
            fake.close()
            server.stop()


@pytest.fixture
def two_shops(pixels: dict[str, FakeGraphAPI],
              tmp_path: Path) -> Iterator[tuple[Runtime, dict[str, str], str]]:
    """The gateway: (runtime, shop name → its origin, a stranger origin)."""
    port, stranger_port = free_port(), free_port()
    origins = {"alpha": f"http://127.0.0.1:{port}", "beta": f"http://localhost:{port}"}
    tables = "".join(f"""
[shops.{name}]
meta_pixel_id = "{fake.pixel_id}"
meta_access_token = "{fake.token}"
meta_graph_url = "{fake.url}"
api_keys = ["{KEYS[name]}"]
allowed_origins = ["{origins[name]}"]
consent_mode = "required"
""" for name, fake in pixels.items())
    config = tmp_path / "trackside.toml"
    # A long join window: the browser's purchase waits for the store's copy, whatever the
    # machine's speed (the join happens when the copy arrives, not when the window ends).
    config.write_text(f'database_url = "sqlite:///{tmp_path}/shops.db"\n'
                      'join_window_s = 600\n' + tables, encoding="utf-8")
    runtime = Runtime.from_shops(load_shops({"TRACKSIDE_CONFIG": str(config)}))
    server = ThreadedServer(gateway_app(runtime), port=port).start()
    stranger = ThreadedServer(stranger_app(origins["alpha"]), port=stranger_port).start()
    try:
        yield runtime, origins, stranger.url
    finally:
        stranger.stop()
        server.stop()
        runtime.close()


def drain(runtime: Runtime) -> int:
    return drain_in_thread(runtime, timeout_s=30)


def server_copy(shop: str) -> dict[str, Any]:
    """The shop backend's order: no browser context (no IP, user agent, fbp) of its own."""
    return {"event_name": "Purchase", "event_time": int(time.time()) - 5,
            "event_source_url": "https://shop.example/thanks",
            "user": {"email": EMAILS[shop]},
            "order": {"reference": REFERENCE, "value": VALUES[shop], "currency": "EUR"},
            "consent": GRANTED}


def cookie(context: Any, url: str, name: str) -> str | None:
    return next((c["value"] for c in context.cookies(url) if c["name"] == name), None)


def test_each_origins_beacon_joins_its_own_shops_order_and_a_stranger_is_refused(
    chromium: Any, two_shops: tuple[Runtime, dict[str, str], str],
    pixels: dict[str, FakeGraphAPI],
) -> None:
    runtime, origins, stranger_url = two_shops
    contexts = {name: chromium.new_context(user_agent=AGENTS[name])
                for name in ("alpha", "beta", "stranger")}
    try:
        fbp: dict[str, str] = {}
        for name in ("alpha", "beta"):
            contexts[name].set_default_timeout(10_000)
            page = contexts[name].new_page()
            page.goto(origins[name] + "/thanks")
            fbp[name] = wait_until(lambda n=name: cookie(contexts[n], origins[n], "_fbp"),
                                   what=f"shop {name}'s _fbp cookie")
            wait_until(lambda n=name: runtime.store.event_view(REFERENCE, shop=n),
                       what=f"shop {name}'s purchase beacon")
        assert fbp["alpha"] != fbp["beta"]  # two host names, two cookie jars

        # The stranger's page loads the same tag from the gateway: every beacon is refused.
        contexts["stranger"].set_default_timeout(10_000)
        page = contexts["stranger"].new_page()
        # expect_response, not a listener polled by wait_until: Playwright's sync API only
        # dispatches events while one of its own calls runs.
        with page.expect_response(lambda r: r.url.endswith("/collect")) as first:
            page.goto(stranger_url + "/thanks")
        assert first.value.status == 403
        assert cookie(contexts["stranger"], origins["alpha"], "_fbp") is None
        # The refusal is visible to the stranger too, with no CORS grant.
        answer = httpx.post(origins["alpha"] + "/collect", headers={
            "origin": stranger_url, "content-type": "text/plain"},
            content=json.dumps({"v": 1, "type": "purchase", "event_name": "Purchase",
                                "event_id": "R-999", "params": {"reference": "R-999"},
                                "consent": GRANTED}))
        assert answer.status_code == 403
        assert "access-control-allow-origin" not in answer.headers
    finally:
        for context in contexts.values():
            context.close()

    # Before the store's copy: each shop holds its own browser purchase, unconfirmed.
    for name in ("alpha", "beta"):
        [held] = runtime.store.event_view(REFERENCE, shop=name)
        assert held.event.source == "browser"
        assert "unconfirmed_browser_purchase" in held.event.flags
        assert {row.status for row in held.outbox} == {"held"}

    # Each shop's backend posts its own R-100 with its own key.
    for name in ("alpha", "beta"):
        answer = httpx.post(origins["alpha"] + "/v1/events", json={"events": [server_copy(name)]},
                            headers={"Authorization": f"Bearer {KEYS[name]}"})
        assert answer.status_code == 202, answer.text
        assert answer.json()["duplicate"] == 0

    for name, other in (("alpha", "beta"), ("beta", "alpha")):
        [view] = runtime.store.event_view(REFERENCE, shop=name)
        user = view.event.user_data
        assert user["fbp"] == fbp[name] != fbp[other]
        assert user["client_user_agent"] == AGENTS[name]
        assert user["client_ip_address"] == "127.0.0.1"
        assert "seen_by_browser" in view.event.flags and "pixel_absent" in view.event.flags
        assert "unconfirmed_browser_purchase" not in view.event.flags
        assert view.event.consent.ad_storage == "granted"
        confirmed = [n.detail for n in view.notes if n.kind == "confirmed"]
        assert confirmed and "the store's order replaces the browser's" in confirmed[0]
        # Nothing crossed over: no trace of the other shop's page or shopper.
        stored = view.event.model_dump_json()
        for foreign in (fbp[other], AGENTS[other], AGENTS["stranger"], sha256(EMAILS[other])):
            assert foreign not in stored
        assert view.event.order is not None
        assert view.event.order.value == pytest.approx(VALUES[name])
        assert user["em"] == [sha256(EMAILS[name])]  # the store's copy, hashed
    for name in ("alpha", "beta", "default"):
        assert not runtime.store.event_view("R-999", shop=name)

    assert drain(runtime) == 4  # a PageView and a Purchase per shop
    for name, other in (("alpha", "beta"), ("beta", "alpha")):
        fake = pixels[name]
        purchases = [e for e in fake.events if e["event_name"] == "Purchase"]
        assert [p["event_id"] for p in purchases] == [REFERENCE]  # once, at its own pixel
        [sent] = purchases
        assert sent["user_data"]["fbp"] == fbp[name]
        assert sent["user_data"]["client_user_agent"] == AGENTS[name]
        assert sent["custom_data"]["value"] == pytest.approx(VALUES[name])
        assert {r.pixel_id for r in fake.accepted_requests} == {fake.pixel_id}
        assert all(r.accepted for r in fake.requests)
        assert sent["user_data"]["em"] in (sha256(EMAILS[name]), [sha256(EMAILS[name])])
        seen = json.dumps([e.payload for e in fake.events])
        assert fbp[other] not in seen and AGENTS[other] not in seen
    assert drain(runtime) == 0
