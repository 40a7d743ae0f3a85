"""Forged browser context in real Chromium: a shopper's real pages against a forger's beacons.

The demo shop renders the store's join tokens beside its cart and customer ids (a signing key
is set), so the shopper's tag sends valid ones. The forger knows the shopper's ids (they are
guessable; here read from the shopper's own cookies) and posts raw beacons with its own user
agent, cookies, click id and consent granted. The store's Purchase must keep the shopper's
consent and identifiers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Shop, wait_until
from tests.fakes.graph_api import FakeGraphAPI

pytestmark = pytest.mark.e2e

KEY = "e2e-forgery-signing-key"
FORGER_UA = "curl/8.5.0 (forger)"
FORGER_FBP = "fb.1.1700000000000.666"
FORGED_CLICK = "IwAR-forged-click-e2e"
GRANTED = dict.fromkeys(("ad_storage", "analytics_storage", "ad_user_data",
                         "ad_personalization"), "granted")


def cookie(context: Any, shop: Shop, name: str) -> str | None:
    return next((c["value"] for c in context.cookies(shop.url) if c["name"] == name), None)


def forge(shop: Shop, cart_id: str, customer_id: str) -> None:
    """The forger's curl: forged Origin, the shopper's ids without tokens, consent granted."""
    for index, params in enumerate(({"customer_id": customer_id},
                                    {"cart_id": cart_id, "cart_token": "0" * 64})):
        body = {"v": 1, "type": "track", "event_name": "AddToCart",
                "event_id": f"forged-{index}", "url": f"{shop.url}/?fbclid={FORGED_CLICK}",
                "fbclid": FORGED_CLICK, "cookies": {"_fbp": FORGER_FBP}, "consent": GRANTED,
                "params": params}
        response = httpx.post(f"{shop.url}/collect", content=json.dumps(body), headers={
            "origin": shop.url, "content-type": "text/plain", "user-agent": FORGER_UA})
        assert response.status_code == 202, response.text


@pytest.mark.parametrize("choice", ["denied", "granted"])
def test_forged_beacons_for_the_shoppers_ids_never_reach_the_shoppers_order(
    browser_context: Any, shop_factory: Callable[..., Shop], fake_graph: FakeGraphAPI,
    choice: str,
) -> None:
    shop = shop_factory(signing_key=KEY, consent_mode="eea", server_event_consent="grant")
    page = browser_context.new_page()
    page.goto(shop.url + "/")
    page.click("#consent-accept" if choice == "granted" else "#consent-deny")
    page.reload()
    page.click("#add-to-cart")
    page.wait_for_url(shop.url + "/cart")
    cart_id = cookie(browser_context, shop, "demo_cart")
    customer_id = cookie(browser_context, shop, "demo_customer")
    assert cart_id and customer_id
    wait_until(lambda: shop.runtime.store.browser_events_by_key("cart_id", cart_id, 0)
               and shop.runtime.store.browser_events_by_key("customer_id", customer_id, 0),
               what="the shopper's beacons, with their tokens")
    forge(shop, cart_id, customer_id)  # newer than the shopper's: newest used to win
    page.click("#checkout")
    page.wait_for_url(re.compile(r".*/demo/order/[A-Z]{9}$"))
    reference = page.inner_text("#reference")
    wait_until(lambda: any(n.detail.startswith("duplicate from browser")
                           for v in shop.stored(reference) for n in v.notes),
               what="the confirmation page's beacon")
    shop.drain()

    [view] = shop.stored(reference)
    user = view.event.user_data
    assert user["client_user_agent"] == page.evaluate("navigator.userAgent") != FORGER_UA
    assert "fbc" not in user
    assert view.event.consent.ad_storage == choice
    if choice == "granted":
        # The shopper's _fbp joined in. Denied, there is nothing to join: the demo's order
        # carries the shopper's IP, user agent and refusal itself, and no _fbp was set.
        assert any(n.kind == "joined" for n in view.notes)
    for forged_id in ("forged-0", "forged-1"):
        [forged] = shop.stored(forged_id)
        assert forged.event.cart_id is None and forged.event.customer_id is None
    purchases = [e for e in fake_graph.events if e["event_name"] == "Purchase"]
    if choice == "denied":
        assert purchases == []
        [row] = view.outbox
        assert row.status == "suppressed" and "denied" in row.message
    else:
        [sent] = purchases
        assert sent["event_id"] == reference
        assert sent["user_data"]["fbp"] == cookie(browser_context, shop, "_fbp") != FORGER_FBP
        assert sent["user_data"]["client_user_agent"] != FORGER_UA
        assert "fbc" not in sent["user_data"]
