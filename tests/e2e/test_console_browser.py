"""The console in real Chromium (Debian's) at a phone's width, 390 px: a wrong password, the
sign-in, every page (overview, teardown and an order list, match quality, orders and events,
one event): its key figures present, nothing wider than the screen, a screenshot saved (a
test artifact; `CONSOLE_SCREENSHOTS=docs` writes them to docs/console/ for
docs/console.md); drop and replay through the forms with their CSRF tokens, and a forged
POST without the token refused."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.console_shop import PASSWORD, ConsoleShop, console_shop
from tests.fakes.graph_api import FakeGraphAPI

pytestmark = pytest.mark.e2e

#: A run leaves the tracked pictures of docs/console.md alone unless asked to refresh them.
SCREENSHOTS = (Path(__file__).resolve().parents[2] / "docs" / "console"
               if os.environ.get("CONSOLE_SCREENSHOTS") == "docs"
               else Path(tempfile.gettempdir()) / "trackside-console-screenshots")
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def shop(fake_graph: FakeGraphAPI, tmp_path: Path) -> Iterator[ConsoleShop]:
    with console_shop(fake_graph, tmp_path) as running:
        running.history()
        yield running


@pytest.fixture
def phone(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport=PHONE, device_scale_factor=1)
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # the drop's "are you sure?"
    try:
        yield page
    finally:
        context.close()


def fits(page: Any, name: str) -> None:
    """Nothing wider than the phone's screen; the page saved for the docs."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{name}: the page is {width} px wide"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_console_at_phone_width(shop: ConsoleShop, phone: Any) -> None:
    page = phone
    page.goto(f"{shop.url}/dashboard")
    assert page.url.startswith(f"{shop.url}/dashboard/login")
    page.fill("#password", "not the password")
    page.click("button[type=submit]")
    assert "wrong password" in page.text_content("#login-error")
    fits(page, "login")
    page.fill("#password", PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_selector("#events-total")

    # 1. Overview: 5 events, 1 waiting, the chart, meta's outcomes, latency.
    assert page.url == f"{shop.url}/dashboard"
    assert page.text_content("#events-total") == "5"
    assert page.text_content("#backlog") == "1"
    assert page.locator("svg.chart rect").count() >= 1
    assert "meta" in page.text_content("#outcomes")
    assert "meta" in page.text_content("#latency")
    fits(page, "overview")

    # 2. Teardown: 5 orders, all missed by the pixel (no beacon), 3 of them sent by trackside;
    # the orders behind a number one click away.
    page.click("nav >> text=Teardown")
    page.wait_for_selector("#teardown")
    assert page.text_content("#orders-count") == "5"
    assert page.text_content("#missed-share") == "100.0 %"
    assert page.text_content("#recovered-count") == "3"
    assert page.get_attribute("#csv", "href").startswith("/dashboard/teardown.csv")
    fits(page, "teardown")
    page.click("#teardown >> text=Missed by the pixel, sent by trackside")
    page.wait_for_selector("#order-list")
    assert page.locator("#order-list > li").count() == 3
    fits(page, "teardown-orders")

    # 3. Match quality: the Purchase row with trackside's estimate; Meta not fetched.
    page.click("nav >> text=Match quality")
    page.wait_for_selector("#quality")
    assert "Purchase" in page.text_content("#quality")
    assert page.locator("#quality .estimate").first.text_content().strip() != ""
    assert "not fetched" in page.text_content("#meta-error")
    assert "100 %" in page.text_content("#keys")  # every Purchase carries em
    fits(page, "quality")

    # 4. Orders and events: an event's story, drop (with its confirm) and replay.
    page.click("nav >> text=Orders & events")
    page.select_option("#kind", "reference")
    page.fill("#q", "R-4")
    page.click("form.search button[type=submit]")
    page.click("#results a")
    assert "not sent: the shopper refused ad cookies" in page.text_content("main")
    page.click("main details summary")
    assert "consent:" in page.text_content("main details")
    fits(page, "event")

    page.goto(f"{shop.url}/dashboard/events/R-5")
    page.fill("input[name=reason]", "a test order")
    page.click("text=Drop for meta")
    assert "1 dropped" in page.text_content("#done")
    assert shop.runtime.store.event_view("R-5")[0].outbox[0].status == "dead"
    page.click("nav >> text=Orders & events")
    assert "R-5" in page.text_content("#dead-letters")
    fits(page, "orders")
    page.click("#dead-letters >> text=Replay to meta")
    assert "1 replayed" in page.text_content("#done")
    assert shop.runtime.store.event_view("R-5")[0].outbox[0].status == "pending"

    # A form posted from the page's own origin but without the session's token (the CSP
    # forbids fetch() altogether: connect-src falls back to 'none'): refused.
    with page.expect_navigation():
        page.evaluate("""() => { const form = document.createElement('form');
            form.method = 'post'; form.action = '/dashboard/actions/drop';
            for (const [k, v] of [['event_id', 'R-5'], ['destination', 'meta']]) {
              const input = document.createElement('input');
              input.type = 'hidden'; input.name = k; input.value = v; form.append(input); }
            document.body.append(form); form.submit(); }""")
    assert "csrf" in page.text_content("main")
    assert shop.runtime.store.event_view("R-5")[0].outbox[0].status == "pending"
