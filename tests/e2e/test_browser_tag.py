"""The browser tag in real Chromium: one id per event through pixel, gateway and Meta.

The demo shop (trackside demo) is the page under test: product → cart → order → confirmation,
its stand-in pixel recording every fbq() call, the gateway delivering to the strict fake Graph
API. Nothing is mocked: real Chromium, real HTTP, real SQLite.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from tests.e2e.conftest import Shop, wait_until
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import ThreadedServer, free_port
from tests.fb_appendix import NET_NEW, appendix
from trackside.config import Settings
from trackside.identity.event_id import purchase_event_id
from trackside.web.tag import TagEndpoint

pytestmark = pytest.mark.e2e


def grant_consent(context: Any, shop: Shop, value: str = "granted") -> None:
    context.add_cookies([{"name": "demo_consent", "value": value, "url": shop.url}])


def buy(page: Any, shop: Shop, landing: str = "/") -> str:
    """Product page → add to cart → place order → confirmation; returns the reference."""
    page.goto(shop.url + landing)
    page.click("#add-to-cart")
    page.wait_for_url(shop.url + "/cart")
    page.click("#checkout")
    page.wait_for_url(re.compile(r".*/demo/order/[A-Z]{9}$"))
    return page.inner_text("#reference")


def pixel_calls(page: Any) -> list[dict[str, Any]]:
    return json.loads(page.evaluate("sessionStorage.getItem('demo_fbq') || '[]'"))


def wait_stored(shop: Shop, ids: list[str]) -> None:
    wait_until(lambda: all(shop.stored(i) for i in ids), what=f"events {ids} in the store")


def test_every_pixel_event_id_reaches_meta_and_a_reloaded_confirmation_adds_nothing(
    browser_context: Any, shop_factory: Callable[..., Shop], fake_graph: FakeGraphAPI
) -> None:
    shop = shop_factory()
    grant_consent(browser_context, shop)
    page = browser_context.new_page()
    reference = buy(page, shop)
    page.reload()
    page.reload()
    calls = pixel_calls(page)
    names = [c["event"] for c in calls]
    assert names.count("Purchase") == 3  # the page fired three times...
    assert {"PageView", "ViewContent", "AddToCart", "InitiateCheckout"} <= set(names)
    assert all(c["eventID"] for c in calls)
    ids = sorted({c["eventID"] for c in calls})
    wait_stored(shop, ids)
    shop.drain()

    at_meta = {(e["event_name"], e["event_id"]) for e in fake_graph.events}
    for call in calls:
        assert (call["event"], call["eventID"]) in at_meta, call
    purchases = [e for e in fake_graph.events if e["event_name"] == "Purchase"]
    assert len(purchases) == 1  # ...and Meta got one Purchase, from the store's copy
    assert purchases[0]["event_id"] == reference
    assert purchases[0]["custom_data"]["value"] == pytest.approx(14.9)
    assert all(c["eventID"] == reference for c in calls if c["event"] == "Purchase")
    # Every browser event id is a random one of its own, used once.
    track_ids = [c["eventID"] for c in calls if c["event"] != "Purchase"]
    assert len(track_ids) == len(set(track_ids))


def test_purchase_id_with_a_shop_prefix_is_the_servers(
    browser_context: Any, shop_factory: Callable[..., Shop], fake_graph: FakeGraphAPI
) -> None:
    prefix = "shop-7'\"/"  # quotes and a slash: the prefix is embedded in t.js as a literal
    shop = shop_factory(event_id_prefix=prefix)
    grant_consent(browser_context, shop)
    page = browser_context.new_page()
    reference = buy(page, shop)
    pixel_ids = [c["eventID"] for c in pixel_calls(page) if c["event"] == "Purchase"]
    assert pixel_ids == [purchase_event_id(reference, prefix)]
    wait_stored(shop, pixel_ids)
    shop.drain()
    assert [e["event_id"] for e in fake_graph.events if e["event_name"] == "Purchase"] == pixel_ids


def test_fbclid_landing_sets_fbc_cookie_from_the_server_and_meta_gets_it_unchanged(
    browser_context: Any, shop_factory: Callable[..., Shop], fake_graph: FakeGraphAPI
) -> None:
    shop = shop_factory()
    grant_consent(browser_context, shop)
    fbclid = "IwAR2-Ab_cD3eFgHiJk"
    page = browser_context.new_page()
    page.goto(f"{shop.url}/?fbclid={fbclid}")

    def fbc_cookie() -> str | None:
        cookies = {c["name"]: c for c in browser_context.cookies(shop.url)}
        return cookies.get("_fbc", {}).get("value")

    fbc = wait_until(fbc_cookie, what="the _fbc cookie")
    # Meta's parameter builder: index 0 on the loopback IP host, its appendix (net new).
    assert re.fullmatch(rf"fb\.0\.\d{{13}}\.{fbclid}\.{appendix(NET_NEW)}", fbc)
    cookie = next(c for c in browser_context.cookies(shop.url) if c["name"] == "_fbc")
    assert cookie["httpOnly"] is False and cookie["sameSite"] == "Lax"
    # Written by the response, not by script: the page itself never sets _fbc.
    assert "_fbc" not in page.evaluate("document.cookie") or fbc in page.evaluate("document.cookie")

    page.click("#add-to-cart")
    page.wait_for_url(shop.url + "/cart")
    page.click("#checkout")
    page.wait_for_url(re.compile(r".*/demo/order/[A-Z]{9}$"))
    ids = sorted({c["eventID"] for c in pixel_calls(page)})
    wait_stored(shop, ids)
    shop.drain()
    assert len(fake_graph.events) >= 6
    assert {e["user_data"].get("fbc") for e in fake_graph.events} == {fbc}


def test_blocked_pixel_the_server_purchase_still_reaches_meta_with_browser_context(
    browser_context: Any, shop_factory: Callable[..., Shop], fake_graph: FakeGraphAPI
) -> None:
    shop = shop_factory()
    grant_consent(browser_context, shop)
    page = browser_context.new_page()
    page.route("**/demo/static/pixel.js", lambda route: route.abort())
    reference = buy(page, shop)
    assert page.evaluate("typeof window.fbq") == "undefined"
    user_agent = page.evaluate("navigator.userAgent")
    fbp = wait_until(lambda: next((c["value"] for c in browser_context.cookies(shop.url)
                                   if c["name"] == "_fbp"), None), what="the _fbp cookie")
    wait_until(lambda: any("pixel_absent" in v.event.flags for v in shop.stored(reference))
               or any("duplicate from browser" in n.detail
                      for v in shop.stored(reference) for n in v.notes),
               what="the confirmation page's beacon")
    shop.drain()
    purchases = [e for e in fake_graph.events if e["event_name"] == "Purchase"]
    assert [p["event_id"] for p in purchases] == [reference]
    user = purchases[0]["user_data"]
    assert user["fbp"] == fbp
    assert user["client_user_agent"] == user_agent
    assert user["client_ip_address"] == "127.0.0.1"
    assert user["em"]  # the store's hashed email, joined with the browser's context


def test_consent_denied_in_the_banner_nothing_reaches_meta(
    browser_context: Any, shop_factory: Callable[..., Shop], fake_graph: FakeGraphAPI
) -> None:
    shop = shop_factory()
    page = browser_context.new_page()
    page.goto(shop.url + "/")
    page.click("#consent-deny")  # the banner, as a shopper would
    before_choice = len(pixel_calls(page))  # PageView, ViewContent: consent not known yet
    page.reload()
    page.click("#add-to-cart")
    page.wait_for_url(shop.url + "/cart")
    page.click("#checkout")
    page.wait_for_url(re.compile(r".*/demo/order/[A-Z]{9}$"))
    reference = page.inner_text("#reference")
    assert len(pixel_calls(page)) == before_choice  # denied: the tag does not fire the pixel
    wait_until(lambda: any(n.detail.startswith("duplicate from browser")
                           for v in shop.stored(reference) for n in v.notes),
               what="the confirmation page's beacon")
    # The pixel did not fire: the reconciliation must not count the order as seen by it.
    assert all("pixel_absent" in v.event.flags for v in shop.stored(reference))
    shop.drain()
    assert fake_graph.events == []
    rows = shop.runtime.store._read(
        "SELECT e.event_name, e.source, o.status, o.message FROM outbox o"
        " JOIN events e ON e.pk = o.event_pk")
    assert {row["event_name"] for row in rows} >= {"PageView", "ViewContent", "AddToCart",
                                                   "InitiateCheckout", "Purchase"}
    for row in rows:
        assert row["status"] == "suppressed", dict(row)
        assert row["message"].startswith("consent"), dict(row)


# -- the tag never throws -----------------------------------------------------------------------


def failing_collector(status: int, seen: list[str]) -> Starlette:
    tag = TagEndpoint(Settings())

    async def page(request: Request) -> Response:
        endpoint = request.query_params.get("endpoint")
        attribute = f' data-endpoint="{endpoint}"' if endpoint else ""
        return HTMLResponse(
            "<!doctype html><script>window.trackside=window.trackside||function(){"
            "(trackside.q=trackside.q||[]).push(arguments)};"
            "trackside('track','PageView');</script>"
            f'<script async src="/t.js"{attribute}></script><p>page</p>')

    async def collect(request: Request) -> Response:
        seen.append((await request.body()).decode())
        return JSONResponse({"error": "no"}, status_code=status)

    return Starlette(routes=[Route("/", page), Route("/t.js", tag.handle),
                             Route("/collect", collect, methods=["POST"])])


@pytest.mark.parametrize("status", [429, 500, None])
def test_the_tag_never_throws_when_collect_fails(browser_context: Any, status: int | None) -> None:
    seen: list[str] = []
    server = ThreadedServer(failing_collector(status or 500, seen)).start()
    try:
        page = browser_context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        query = f"?endpoint=http://127.0.0.1:{free_port()}/collect" if status is None else ""
        page.goto(server.url + "/" + query)
        results = page.evaluate("""() => {
            const out = [];
            out.push(typeof trackside('track', 'AddToCart', {value: 1, currency: 'EUR',
                                      items: [{id: 'x', price: 1, quantity: 1}]}));
            out.push(typeof trackside('purchase', {reference: 'R1', value: 1, currency: 'EUR'}));
            out.push(typeof trackside('consent', {ad_storage: 'granted'}));
            out.push(typeof trackside('nonsense', null, undefined));
            out.push(typeof trackside());
            // No sendBeacon: the fetch fallback must swallow its own failure too.
            navigator.sendBeacon = () => false;
            out.push(typeof trackside('track', 'Lead', {}));
            navigator.sendBeacon = () => { throw new Error('blocked'); };
            out.push(typeof trackside('track', 'Search', {search_string: 'mug'}));
            return out;
        }""")
        assert results == ["string", "string", "undefined", "undefined", "undefined",
                           "string", "string"]
        if status is not None:
            wait_until(lambda: len(seen) >= 5, what="beacons at the failing collector")
            assert {json.loads(b)["event_name"] for b in seen} >= {"PageView", "AddToCart",
                                                                 "Purchase", "Lead", "Search"}
        page.wait_for_timeout(300)  # let rejected fetches settle
        assert errors == []
    finally:
        server.stop()
