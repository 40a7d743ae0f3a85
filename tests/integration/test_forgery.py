"""Forged browser context never lands on someone else's order: raw HTTP against the real app.

The gateway (create_app: /collect and /v1/events) runs under uvicorn on loopback with a real
SQLite file and delivers to the strict fake Graph API. A shopper's page and a forger both post
beacons with curl-like requests: same Origin (forged), the forger's own user agent, address,
cookies, fbclid and consent. The store's Purchase arrives through /v1/events with its API key.
Each test ends on what the store's Purchase kept and what Meta received.

Settings: consent enforced (``eea``, country unknown, so EEA rules) and server events granted
by default, so a Purchase with no browser consent is delivered and only the shopper's joined
denial can suppress it: a forged grant that won would show up as a delivery.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.fixtures import fake_graph  # noqa: F401  (fixture)
from tests.fakes.graph_api import FakeGraphAPI
from tests.integration.test_collect import DirectServer
from trackside import join
from trackside.runtime import Runtime
from trackside.sources.signing import join_token
from trackside.web.app import create_app

SHOP = "https://shop.example"
KEY = "forgery-test-signing-key-5c1d"
STORE_KEY = "store-api-key-forgery-1"
SIGNALS = ("ad_storage", "analytics_storage", "ad_user_data", "ad_personalization")
GRANTED = dict.fromkeys(SIGNALS, "granted")
DENIED = dict.fromkeys(SIGNALS, "denied")


class Browser:
    """One browser's identity: what it sends in headers and cookies."""

    def __init__(self, ip: str, user_agent: str, fbp: str, fbc: str | None = None) -> None:
        self.ip, self.user_agent, self.fbp, self.fbc = ip, user_agent, fbp, fbc

    def cookies(self) -> dict[str, str]:
        return {"_fbp": self.fbp, **({"_fbc": self.fbc} if self.fbc else {})}


SHOPPER = Browser("203.0.113.7", "Mozilla/5.0 (Shopper's phone)", "fb.1.1700000000000.111")
FORGER = Browser("198.51.100.66", "curl/8.5.0 (forger)", "fb.1.1700000000000.666",
                 fbc="fb.1.1700000000000.IwAR-forged-click")


class Gateway:
    def __init__(self, runtime: Runtime, url: str) -> None:
        self.runtime = runtime
        self.http = httpx.Client(base_url=url, timeout=10)

    def beacon(self, browser: Browser, beacon: dict[str, Any]) -> httpx.Response:
        body = {"v": 1, "url": f"{SHOP}/product/7", "cookies": browser.cookies(),
                "pixel": True, **beacon}
        self.http.cookies.clear()
        return self.http.post("/collect", content=json.dumps(body), headers={
            "content-type": "text/plain;charset=UTF-8", "origin": SHOP,
            "user-agent": browser.user_agent, "x-forwarded-for": browser.ip})

    def store_purchase(self, reference: str = "ORDER1001", **extra: Any) -> httpx.Response:
        event = {"event_name": "Purchase", "event_source_url": f"{SHOP}/order-confirmation",
                 "order": {"reference": reference, "value": 49.9, "currency": "EUR"},
                 "user": {"email": "shopper@example.com"}, **extra}
        response = self.http.post("/v1/events", json={"events": [event]},
                                  headers={"authorization": f"Bearer {STORE_KEY}"})
        assert response.status_code in (200, 202), response.text
        return response

    def stored(self, event_id: str) -> Any:
        [view] = self.runtime.store.event_view(event_id)
        return view

    def drain(self, at: float) -> None:
        """Deliver everything due at ``at`` (past the join window when it is later)."""
        async def run() -> None:
            async with self.runtime.worker(clock=lambda: at) as worker:
                await worker.drain(timeout_s=20)

        asyncio.run(run())


@pytest.fixture
def gateway(fake_graph: FakeGraphAPI, tmp_path: Path) -> Iterator[Gateway]:  # noqa: F811
    runtime = Runtime.from_settings(fake_graph.settings(
        database_url=f"sqlite:///{tmp_path}/forgery.db", allowed_origins=[SHOP],
        trusted_proxies=["127.0.0.1"], signing_key=KEY, api_keys=[STORE_KEY],
        consent_mode="eea", server_event_consent="grant", join_window_s=60))
    server = DirectServer(create_app(runtime, run_worker=False)).start()
    gateway = Gateway(runtime, server.url)
    try:
        yield gateway
    finally:
        gateway.http.close()
        server.stop()
        runtime.close()


def page_view(event_id: str, consent: dict[str, str], **params: Any) -> dict[str, Any]:
    return {"type": "track", "event_name": "PageView", "event_id": event_id,
            "consent": consent, "params": params}


def shopper_params(key: str, value: str) -> dict[str, str]:
    """The id as the shop renders it into its page: with the store's token."""
    return {key: value, key.replace("_id", "_token"): join_token(KEY, key[:-3], value)}


def purchases_at_meta(fake: FakeGraphAPI) -> list[dict[str, Any]]:
    return [e for e in fake.events if e["event_name"] == "Purchase"]


def assert_shoppers_context(event: Any) -> None:
    user = event.user_data
    assert user["fbp"] == SHOPPER.fbp
    assert user["client_user_agent"] == SHOPPER.user_agent
    assert user["client_ip_address"] == SHOPPER.ip
    assert "fbc" not in user  # the forger's click never attaches to the order
    assert event.consent.ad_storage == "denied" and event.consent.ad_user_data == "denied"


# -- attack: a guessable customer_id / cart_id claimed by a forged beacon ------------------------


@pytest.mark.parametrize("key", ["customer_id", "cart_id"])
@pytest.mark.parametrize("forged_token", [None, "wrong-key", "other-id", "garbage"])
def test_forged_beacon_for_a_guessable_id_never_joins_the_shoppers_purchase(
    gateway: Gateway, fake_graph: FakeGraphAPI, key: str, forged_token: str | None  # noqa: F811
) -> None:
    value = "311"
    shopper = gateway.beacon(SHOPPER, page_view("shopper-pv-1", DENIED,
                                                **shopper_params(key, value)))
    assert shopper.status_code == 202, shopper.text
    forged_params: dict[str, Any] = {key: value}
    token_param = key.replace("_id", "_token")
    kind = key[:-3]
    if forged_token == "wrong-key":
        forged_params[token_param] = join_token("another-shops-key", kind, value)
    elif forged_token == "other-id":  # a valid token, for the forger's own id
        forged_params[token_param] = join_token(KEY, kind, "312")
    elif forged_token == "garbage":
        forged_params[token_param] = "\u00e9" * 64
    # Newer than the shopper's: before the fix, the newest context won.
    forged = gateway.beacon(FORGER, {
        "type": "track", "event_name": "AddToCart", "event_id": "forged-atc-1",
        "consent": GRANTED, "fbclid": "IwAR-forged-click", "params": forged_params,
        "url": f"{SHOP}/product/7?fbclid=IwAR-forged-click"})
    assert forged.status_code == 202, forged.text
    forged_view = gateway.stored("forged-atc-1")
    assert getattr(forged_view.event, key) is None  # not findable by that id
    assert token_param not in forged_view.event.custom_data
    assert [n.detail for n in forged_view.notes if n.kind == join.UNVERIFIED_KEY] == [
        f"{key} not used for joins: no valid {token_param}"]

    gateway.store_purchase(**{key: value})
    view = gateway.stored("ORDER1001")
    assert_shoppers_context(view.event)
    assert any(n.kind == "joined" and key in n.detail for n in view.notes)
    gateway.drain(time.time() + 61)
    assert purchases_at_meta(fake_graph) == []
    [row] = gateway.stored("ORDER1001").outbox
    assert row.status == "suppressed"
    assert row.message.startswith("consent: ad_storage, ad_user_data denied")


def test_forged_beacon_alone_lends_nothing_to_the_order(
    gateway: Gateway, fake_graph: FakeGraphAPI  # noqa: F811
) -> None:
    # No shopper context at all: the store's Purchase goes on its own data (its checkout's
    # user agent), not on the forger's.
    gateway.beacon(FORGER, {"type": "track", "event_name": "AddToCart", "event_id": "f-2",
                            "consent": GRANTED, "params": {"customer_id": "311"}})
    gateway.store_purchase(customer_id="311",
                           user={"email": "shopper@example.com",
                                 "user_agent": "Mozilla/5.0 (Checkout)"})
    gateway.drain(time.time() + 61)
    [sent] = purchases_at_meta(fake_graph)
    assert sent["user_data"]["client_user_agent"] == "Mozilla/5.0 (Checkout)"
    for forged in (FORGER.fbp, FORGER.fbc, FORGER.ip):
        assert forged not in json.dumps(sent.payload)


def test_tokens_never_reach_custom_data_or_meta(
    gateway: Gateway, fake_graph: FakeGraphAPI  # noqa: F811
) -> None:
    params = {**shopper_params("cart_id", "cart-77"), **shopper_params("customer_id", "311"),
              "search_string": "mug"}
    response = gateway.beacon(SHOPPER, {"type": "track", "event_name": "Search",
                                        "event_id": "tok-1", "consent": GRANTED,
                                        "params": params})
    assert response.status_code == 202, response.text
    event = gateway.stored("tok-1").event
    assert (event.cart_id, event.customer_id) == ("cart-77", "311")
    assert event.custom_data == {"search_string": "mug"}
    gateway.drain(time.time())
    [sent] = [e for e in fake_graph.events if e["event_id"] == "tok-1"]
    bodies = " ".join(json.dumps(r.params, default=str) for r in fake_graph.requests)
    for token in (params["cart_token"], params["customer_token"]):
        assert token not in json.dumps(sent.payload) and token not in bodies
    assert "cart_token" not in bodies and "customer_token" not in bodies


# -- attack: an unsigned purchase beacon for an order reference ---------------------------------


def forged_purchase(reference: str = "ORDER1001") -> dict[str, Any]:
    return {"type": "purchase", "event_name": "Purchase", "consent": GRANTED,
            "fbclid": "IwAR-forged-click", "url": f"{SHOP}/order-confirmation",
            "params": {"reference": reference, "value": 9999, "currency": "EUR"}}


def test_forged_purchase_beacon_not_confirmed_in_the_window_lends_nothing(
    gateway: Gateway, fake_graph: FakeGraphAPI  # noqa: F811
) -> None:
    gateway.beacon(SHOPPER, page_view("shopper-pv-2", DENIED, **shopper_params("cart_id", "c-9")))
    assert gateway.beacon(FORGER, forged_purchase()).status_code == 202
    held = gateway.stored("ORDER1001")
    assert join.UNCONFIRMED in held.event.flags
    # The store's copy comes after the join window of the forged beacon (a slow poller).
    # Given through the pipeline with its clock: the window is 60 s, and no test waits that.
    later = time.time() + 61
    [result] = gateway.runtime.pipeline.accept([{
        "event_name": "Purchase", "event_source_url": f"{SHOP}/order-confirmation",
        "order": {"reference": "ORDER1001", "value": 49.9, "currency": "EUR"},
        "user": {"email": "shopper@example.com"}, "cart_id": "c-9"}], "store", now=later)
    assert result.status == "queued"
    view = gateway.stored("ORDER1001")
    assert view.source == "store"
    assert_shoppers_context(view.event)  # the cart's own context, by its token
    assert view.event.order.value == 49.9
    confirmed = [n.detail for n in view.notes if n.kind == "confirmed"]
    assert len(confirmed) == 1 and "browser's copy was not used" in confirmed[0]
    assert "join window" in confirmed[0]
    gateway.drain(later)
    assert purchases_at_meta(fake_graph) == []
    [row] = gateway.stored("ORDER1001").outbox
    assert row.status == "suppressed" and "denied" in row.message


def test_forged_purchase_beacon_late_store_copy_goes_on_its_own_data(
    gateway: Gateway, fake_graph: FakeGraphAPI  # noqa: F811
) -> None:
    assert gateway.beacon(FORGER, forged_purchase()).status_code == 202
    later = time.time() + 61
    gateway.runtime.pipeline.accept([{
        "event_name": "Purchase", "event_source_url": f"{SHOP}/order-confirmation",
        "order": {"reference": "ORDER1001", "value": 49.9, "currency": "EUR"},
        "user": {"email": "shopper@example.com", "user_agent": "Mozilla/5.0 (Checkout)"}}],
        "store", now=later)
    view = gateway.stored("ORDER1001")
    assert view.event.consent is None and "fbp" not in view.event.user_data
    gateway.drain(later)
    [sent] = purchases_at_meta(fake_graph)
    assert sent["custom_data"]["value"] == 49.9
    assert sent["user_data"]["client_user_agent"] == "Mozilla/5.0 (Checkout)"
    for forged in (FORGER.fbp, FORGER.fbc, FORGER.ip, FORGER.user_agent):
        assert forged not in json.dumps(sent.payload)


def test_forged_purchase_beacon_in_the_window_never_overrides_the_shopper(
    gateway: Gateway, fake_graph: FakeGraphAPI  # noqa: F811
) -> None:
    # Inside the window the browser copy is treated as the confirmation page's (documented):
    # it may fill what the order lacks, but never replaces the shopper's identifiers and
    # never upgrades the shopper's denial.
    gateway.beacon(SHOPPER, page_view("shopper-pv-3", DENIED, **shopper_params("cart_id", "c-9")))
    assert gateway.beacon(FORGER, forged_purchase()).status_code == 202
    gateway.store_purchase(cart_id="c-9")
    view = gateway.stored("ORDER1001")
    user = view.event.user_data
    assert (user["fbp"], user["client_ip_address"], user["client_user_agent"]) == (
        SHOPPER.fbp, SHOPPER.ip, SHOPPER.user_agent)
    assert view.event.consent.ad_storage == "denied"
    gateway.drain(time.time() + 61)
    assert purchases_at_meta(fake_graph) == []


def test_same_id_merge_a_forged_grant_never_upgrades_the_shoppers_denial(
    gateway: Gateway, fake_graph: FakeGraphAPI  # noqa: F811
) -> None:
    gateway.store_purchase()  # first: it waits the join window for the confirmation page
    assert gateway.beacon(FORGER, forged_purchase()).status_code == 202  # the forger is quicker
    shopper = {**forged_purchase(), "consent": DENIED, "fbclid": None}
    assert gateway.beacon(SHOPPER, shopper).json()["status"] == "duplicate"
    view = gateway.stored("ORDER1001")
    assert view.event.consent.ad_storage == "denied"
    gateway.drain(time.time() + 61)
    assert purchases_at_meta(fake_graph) == []
    [row] = gateway.stored("ORDER1001").outbox
    assert row.status == "suppressed" and "denied" in row.message


# -- attack: a lower-case purchase as a track beacon --------------------------------------------


@pytest.mark.parametrize("name", ["purchase", "PURCHASE", "pUrChAsE"])
def test_track_purchase_in_any_case_is_refused(
    gateway: Gateway, fake_graph: FakeGraphAPI, name: str  # noqa: F811
) -> None:
    response = gateway.beacon(FORGER, {"type": "track", "event_name": name, "event_id": "lc-1",
                                       "consent": GRANTED,
                                       "params": {"value": 9999, "currency": "EUR"}})
    assert response.status_code == 400
    [error] = response.json()["error"]["errors"]
    assert error["field"] == "event_name" and "trackside('purchase'" in error["reason"]
    assert gateway.runtime.store.event_view("lc-1") == []
    gateway.store_purchase()
    gateway.drain(time.time() + 61)
    # No custom "purchase" at Meta; the store's Purchase has the store's value.
    assert {e["event_name"] for e in fake_graph.events} <= {"Purchase"}
    assert [e["custom_data"]["value"] for e in purchases_at_meta(fake_graph)] in ([49.9], [])


def test_custom_names_outside_the_allow_list_are_refused(
    fake_graph: FakeGraphAPI, tmp_path: Path  # noqa: F811
) -> None:
    runtime = Runtime.from_settings(fake_graph.settings(
        database_url=f"sqlite:///{tmp_path}/names.db", allowed_origins=[SHOP],
        consent_mode="off", browser_custom_events=["WishlistShared"]))
    server = DirectServer(create_app(runtime, run_worker=False)).start()
    gateway = Gateway(runtime, server.url)
    try:
        def post(name: str, event_id: str) -> httpx.Response:
            return gateway.beacon(SHOPPER, {"type": "track", "event_name": name,
                                            "event_id": event_id, "consent": GRANTED})

        refused = post("FreeMoney", "n-1")
        assert refused.status_code == 400
        [error] = refused.json()["error"]["errors"]
        assert error["field"] == "event_name"
        assert "TRACKSIDE_BROWSER_CUSTOM_EVENTS" in error["reason"]
        assert runtime.store.event_view("n-1") == []
        assert post("wishlistshared", "n-2").status_code == 202
        assert gateway.stored("n-2").event_name == "WishlistShared"
        assert post("addtocart", "n-3").status_code == 202
        assert gateway.stored("n-3").event_name == "AddToCart"
        gateway.drain(time.time())
        assert {(e["event_name"], e["event_id"]) for e in fake_graph.events} == {
            ("WishlistShared", "n-2"), ("AddToCart", "n-3")}
    finally:
        gateway.http.close()
        server.stop()
        runtime.close()
