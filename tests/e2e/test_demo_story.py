"""The demo as a story a shop owner follows (issue 18), in real Chromium: a normal purchase, the
same with the pixel blocked, then with cookies refused, and the teardown after the session, each
at a desktop's width and at a phone's (390 px: no sideways scrolling), no word broken across
lines, and every card's words read from the gateway (the fake Graph API says what Meta got).
Screenshots go to a temporary folder unless DEMO_SCREENSHOTS=docs (then docs/demo/, the
pictures README's Demo section shows)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Shop, wait_until
from tests.e2e.test_browser_tag import buy
from tests.fakes.graph_api import FakeGraphAPI
from trackside.reports import reconciliation as recon

pytestmark = pytest.mark.e2e

SCREENSHOTS = (Path(__file__).resolve().parents[2] / "docs" / "demo"
               if os.environ.get("DEMO_SCREENSHOTS") == "docs"
               else Path(tempfile.gettempdir()) / "trackside-demo-screenshots")
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
SIGNING_KEY = "demo-signing-key-canary-" + "k" * 24
#: The words a shop owner reads: card titles and lines, toggles, teardown labels.
LABELS = ("#story h2, #story h3, #story li, #toggles label, #toggles .effect, #teardown dt,"
          " #teardown .more, #shop")

#: Words of text nodes under ``selector`` that the browser laid out on more than one line
#: (Range.getClientRects per word); event ids in <code> are not words and may wrap.
BROKEN_WORDS = """(selector) => {
  const broken = [];
  for (const root of document.querySelectorAll(selector)) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (node.parentElement.closest("code") || !node.parentElement.offsetParent) continue;
      for (const m of node.data.matchAll(/\\S+/g)) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
        if (tops.size > 1) broken.push(m[0]);
      }
    }
  }
  return broken;
}"""


def card(page: Any, key: str) -> str:
    return str(page.inner_text(f"#card-{key}"))


def wait_card(page: Any, key: str, *texts: str) -> str:
    return wait_until(lambda: all(t in card(page, key) for t in texts) and card(page, key),
                      what=f"the {key} card to say {texts}")


def story(page: Any) -> dict[str, Any]:
    return dict(page.evaluate("fetch('/demo/api/story').then(r => r.json())"))


def shows(page: Any, name: str, part: str | None = None) -> None:
    """At a desktop's width and at a phone's: no word broken, nothing wider than the phone;
    the page (or its ``part``) saved."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        assert page.evaluate(BROKEN_WORDS, LABELS) == [], f"{name} ({size})"
        if size == "phone":
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"{name}: the page is {width} px wide at 390 px"
        path = str(SCREENSHOTS / f"{name}-{size}.png")
        if part is None:
            page.screenshot(path=path, full_page=True)
        else:
            page.locator(part).screenshot(path=path)
    page.set_viewport_size(DESKTOP)


def customer(page: Any) -> str | None:
    return next((c["value"] for c in page.context.cookies()
                 if c["name"] == "demo_customer"), None)


def toggle(page: Any, selector: str) -> None:
    """A toggle loads a page (its change shows at once) as a new shopper."""
    before = customer(page)
    with page.expect_navigation():
        page.click(selector)
    assert customer(page) not in (None, before)


def purchases_at_meta(fake_graph: FakeGraphAPI, reference: str) -> int:
    return sum(1 for e in fake_graph.events
               if e["event_name"] == "Purchase" and e["event_id"] == reference)


def test_the_word_check_catches_a_word_broken_across_lines(browser_context: Any) -> None:
    page = browser_context.new_page()
    page.set_content('<p id="narrow" style="width: 3em; word-break: break-all">'
                     'unbreakable</p><p id="fine" style="width: 3em">a b c</p>')
    assert page.evaluate(BROKEN_WORDS, "#narrow") == ["unbreakable"]
    assert page.evaluate(BROKEN_WORDS, "#fine") == []


def test_the_demo_tells_a_purchase_a_blocked_pixel_refused_cookies_and_the_teardown(
    browser_context: Any, shop_factory: Callable[..., Shop], fake_graph: FakeGraphAPI
) -> None:
    # A signing key, as `trackside demo` has: the shop's customer id is vouched for, which is
    # how the cards find this shopper's browser events.
    shop = shop_factory(signing_key=SIGNING_KEY)
    page = browser_context.new_page()
    page.set_viewport_size(DESKTOP)
    page.goto(shop.url + "/")
    assert page.is_visible("#consent-banner")
    page.click("#consent-accept")
    assert page.is_hidden("#consent-banner")

    # 1. A normal purchase: the pixel and trackside both see it, Meta counts it once.
    normal = buy(page, shop)
    wait_card(page, "purchase", "Seen by the pixel",
              "Received by the gateway from the shop's server when the order was placed, and "
              "from the confirmation page in the browser", "Meta: waiting to be sent")
    shop.drain()
    wait_card(page, "purchase", "Meta: sent", "Counted once: the pixel and trackside sent it "
              "with the same id")
    for key in ("page_view", "add_to_cart"):
        wait_card(page, key, "Seen by the pixel", "Received by the gateway from the page",
                  "Meta: sent", "Counted once")
    assert purchases_at_meta(fake_graph, normal) == 1
    assert page.is_visible("#toggles .effect[data-when=normal]")
    shows(page, "1-purchase")

    # 2. The pixel blocked: it receives nothing, the shop's server copy still reaches Meta.
    toggle(page, "#block-pixel")
    assert page.is_checked("#block-pixel")
    assert page.is_visible("#toggles .effect[data-when=blocked]")
    received_before = story(page)["pixel_received"]
    blocked = buy(page, shop)
    assert page.evaluate("typeof window.fbq") == "undefined"
    wait_card(page, "purchase", blocked, "Not seen by the pixel: it was blocked",
              "from the shop's server when the order was placed, and from the confirmation page")
    shop.drain()
    wait_card(page, "purchase", "Meta: sent",
              "Counted once: the pixel missed it, so Meta counts trackside's copy")
    wait_card(page, "add_to_cart", "Not seen by the pixel: it was blocked", "Meta: sent")
    assert story(page)["pixel_received"] == received_before  # the stand-in pixel got nothing
    assert purchases_at_meta(fake_graph, blocked) == 1
    shows(page, "2-pixel-blocked")

    # 3. Cookies refused (the pixel back): stored, nothing sent, and the card says why.
    toggle(page, "#block-pixel")
    toggle(page, "#refuse-cookies")
    assert page.is_checked("#refuse-cookies") and not page.is_checked("#block-pixel")
    assert page.is_visible("#toggles .effect[data-when=refused]")
    refused = buy(page, shop)
    wait_card(page, "purchase", refused, "Not seen by the pixel: the shopper refused cookies",
              "from the shop's server when the order was placed, and from the confirmation page",
              "Meta: not sent: the shopper refused ad cookies",
              "Not counted: nothing was sent to Meta")
    wait_card(page, "add_to_cart", "Meta: not sent: the shopper refused ad cookies")
    shop.drain()
    assert purchases_at_meta(fake_graph, refused) == 0
    assert "Meta: not sent: the shopper refused ad cookies" in card(page, "purchase")
    shows(page, "3-cookies-refused")

    # 4. The teardown after the session: the console's numbers, from the reconciliation.
    today = datetime.now(UTC).date().isoformat()
    report = recon.reconciliation(shop.runtime.store, recon.period(today, today))
    assert (report["orders"]["count"], report["pixel_fired"]["count"],
            report["pixel_missed"]["count"], report["recovered"]["count"]) == (3, 1, 2, 1)

    def number(key: str) -> str:
        return str(page.inner_text(f"#teardown-{key} dd"))

    wait_until(lambda: number("orders") == "3", what="the teardown's orders")
    assert number("pixel_fired") == "1"
    assert number("pixel_missed") == "2 (66.7 %)"
    assert number("recovered") == "1"
    assert number("refused") == "1"
    assert "Missed by the pixel, sent by trackside" in page.inner_text("#teardown")
    shows(page, "4-teardown", part="#teardown")

    # 5. Cookies accepted again: a new shopper, whose purchase is sent (the refusal of the
    # shopper before does not carry over).
    toggle(page, "#refuse-cookies")
    assert page.is_visible("#toggles .effect[data-when=normal]")
    accepted = buy(page, shop)
    wait_card(page, "purchase", accepted, "Seen by the pixel")
    shop.drain()
    wait_card(page, "purchase", "Meta: sent", "Counted once")
    assert purchases_at_meta(fake_graph, accepted) == 1
    wait_until(lambda: number("orders") == "4", what="the fourth order in the teardown")
    page_text = page.content() + json.dumps(story(page))
    assert fake_graph.token not in page_text and SIGNING_KEY not in page_text


def test_the_stand_in_pixel_refuses_bad_hits_by_field(
    browser_context: Any, shop_factory: Callable[..., Shop]
) -> None:
    shop = shop_factory()
    page = browser_context.new_page()
    page.goto(shop.url + "/")

    def post(body: str) -> tuple[int, Any]:
        return tuple(page.evaluate(
            "(body) => fetch('/demo/pixel', {method: 'POST', body})"
            ".then(async r => [r.status, await r.json()])", body))  # type: ignore[return-value]

    status, answer = post('{"event": "PageView", "eventID": ""}')
    assert status == 400
    assert answer["error"]["errors"] == [{"field": "eventID",
                                          "reason": "must be a text of 1 to 100 characters"}]
    status, answer = post("[1, 2]")
    assert (status, answer["error"]["errors"][0]["field"]) == (400, "body")
    status, answer = post("[" * 2000)  # deeper than Python's JSON parser goes
    assert (status, answer["error"]["errors"][0]["field"]) == (400, "body")
    status, answer = post("{" * 5000)
    assert status == 413
    before = story(page)["pixel_received"]
    assert post('{"event": "PageView", "eventID": "abc"}')[0] == 200
    assert story(page)["pixel_received"] == before + 1
    browser_context.clear_cookies()
    status, answer = post('{"event": "PageView", "eventID": "abc"}')
    assert (status, answer["error"]["errors"][0]["field"]) == (400, "demo_customer")
    # Cookies the demo did not set are replaced, never put into an event.
    browser_context.add_cookies([{"name": name, "value": value, "url": shop.url}
                                 for name, value in (("demo_cart", "x" * 3000),
                                                     ("demo_customer", "<script>"))])
    status, answer = post('{"event": "PageView", "eventID": "abc"}')
    assert (status, answer["error"]["errors"][0]["field"]) == (400, "demo_customer")
    reference = buy(page, shop)
    [order] = wait_until(lambda: shop.stored(reference), what="the order")
    assert order.event.cart_id is not None and len(order.event.cart_id) == 16
