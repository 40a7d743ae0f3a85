"""The README's Demo section, in real Chromium: one demo session (two orders: one with the
stand-in Meta pixel, one with pixel.js blocked as an ad blocker would), delivered to the fake
Graph API, then the console's teardown in the same browser shows the pixel missing one order
that trackside sent anyway."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.console_shop import PASSWORD
from tests.e2e.conftest import Shop, wait_until
from tests.e2e.test_browser_tag import buy, grant_consent
from tests.e2e.test_console_browser import SCREENSHOTS, fits

pytestmark = pytest.mark.e2e


def test_the_teardown_after_one_demo_session(browser_context: Any,
                                             shop_factory: Callable[..., Shop]) -> None:
    shop = shop_factory(admin_password=PASSWORD)
    grant_consent(browser_context, shop)
    page = browser_context.new_page()
    seen = buy(page, shop)
    page.route("**/demo/static/pixel.js", lambda route: route.abort())
    missed = buy(page, shop)
    page.unroute("**/demo/static/pixel.js")
    wait_until(lambda: all(shop.stored(r) for r in (seen, missed)), what="both orders stored")
    # The confirmation page's beacon (and its pixel flags) may follow the order: wait for both.
    wait_until(lambda: all(any(n.kind in ("seen_by_browser", "pixel_absent")
                               for view in shop.stored(r) for n in view.notes)
                           or any("seen_by_browser" in view.event.flags
                                  or "pixel_absent" in view.event.flags
                                  for view in shop.stored(r)) for r in (seen, missed)),
               what="both confirmation pages reported")
    shop.drain()

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{shop.url}/dashboard/teardown")
    page.fill("#password", PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_selector("#teardown")
    assert page.text_content("#orders-count") == "2"
    assert page.text_content("#missed-share") == "50.0 %"
    assert page.text_content("#recovered-count") == "1"
    fits(page, "demo-teardown")
    page.click("#teardown >> text=Missed by the pixel alone")
    assert page.locator("#order-list > li").count() == 1
    assert missed in page.text_content("#order-list")
    assert SCREENSHOTS.joinpath("demo-teardown.png").exists()
