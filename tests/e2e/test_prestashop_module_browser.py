"""Issue 18's done-when, in real Chromium: the PrestaShop module's snippets on an EEA shop.

A page served by ``php -S`` runs the module README's "Outside PrestaShop" block verbatim (the
header snippet and the signed confirmation snippet) behind a cookie banner that speaks Google
Consent Mode v2, as certified CMPs do. The module's own push (trackside_push, PHP) posts the
server copy of the order to the gateway's /v1/events, as actionOrderStatusPostUpdate would; the
gateway (real runtime, SQLite, TRACKSIDE_CONSENT_MODE=eea) delivers to the fake Graph API.

- accepted: the server Purchase takes the browser's consent and pixel cookies (_fbp, _fbc
  from the fbclid landing) and reaches Meta once;
- refused: nothing reaches Meta, the Purchase is suppressed on the shopper's denial.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import wait_until
from tests.fakes.fixtures import drain_in_thread
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import ThreadedServer, free_port
from trackside.runtime import Runtime
from trackside.web.app import create_app

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
MODULE = REPO / "integrations" / "prestashop" / "trackside"
PHP = shutil.which("php")
SIGNING_KEY = "canary-signing-key-e2e-51c9"
API_KEY = "canary-api-key-e2e-0d2b"
# The README example's order and cart (the block is run as written).
REFERENCE = "XKBKNABJK"
FBCLID = "IwAR-module-e2e_7"

# A cookie banner with Google Consent Mode v2: denied by default, waiting for the shopper
# (wait_for_update), then gtag('consent', 'update', ...) from the buttons.
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Order confirmation</title>
<script>
window.dataLayer = window.dataLayer || [];
function gtag() { dataLayer.push(arguments); }
gtag('consent', 'default', {ad_storage: 'denied', analytics_storage: 'denied',
  ad_user_data: 'denied', ad_personalization: 'denied', wait_for_update: 60000});
function answer(value) {
  gtag('consent', 'update', {ad_storage: value, analytics_storage: value,
    ad_user_data: value, ad_personalization: value});
  document.getElementById('banner').hidden = true;
}
</script>
<?php require __DIR__ . '/example.php'; ?>
</head><body>
<div id="banner"><button id="accept" onclick="answer('granted')">Accept all</button>
<button id="refuse" onclick="answer('denied')">Refuse all</button></div>
</body></html>
"""


def readme_example() -> str:
    text = (MODULE / "README.md").read_text(encoding="utf-8")
    section = text.split("## Outside PrestaShop", 1)[1]
    match = re.search(r"```php\n(.*?)```", section, re.S)
    assert match, "the module README has no php block under 'Outside PrestaShop'"
    return match.group(1)


@dataclass
class Gateway:
    runtime: Runtime
    url: str

    def drain(self) -> None:
        drain_in_thread(self.runtime)


@dataclass
class ShopPage:
    url: str


def wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    def listening() -> bool:
        assert process.poll() is None, "php -S exited"
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0

    wait_until(listening, what=f"php -S on port {port}")


@pytest.fixture
def shop(fake_graph: FakeGraphAPI, tmp_path: Path) -> Iterator[tuple[Gateway, ShopPage]]:
    if PHP is None:
        pytest.skip("php-cli is not installed (.ci/run installs it)")
    php_port = free_port()
    shop_origin = f"http://127.0.0.1:{php_port}"
    runtime = Runtime.from_settings(fake_graph.settings(
        database_url=f"sqlite:///{tmp_path}/gateway.db", consent_mode="eea",
        signing_key=SIGNING_KEY, api_keys=[API_KEY],
        # The shop's pages are another origin: without this, /collect answers 403.
        allowed_origins=[shop_origin]))
    server = ThreadedServer(create_app(runtime, run_worker=False)).start()
    docroot = tmp_path / "shop"
    shutil.copytree(MODULE.resolve(), docroot / "trackside")
    (docroot / "example.php").write_text(readme_example(), encoding="utf-8")
    (docroot / "index.php").write_text(PAGE, encoding="utf-8")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "TRACKSIDE_GATEWAY_URL": server.url, "TRACKSIDE_SIGNING_KEY": SIGNING_KEY}
    with open(tmp_path / "php.log", "wb") as log:
        php = subprocess.Popen([PHP, "-S", f"127.0.0.1:{php_port}", "-t", str(docroot)],
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(php_port, php)
        yield Gateway(runtime, server.url), ShopPage(shop_origin)
    finally:
        php.terminate()
        php.wait(timeout=10)
        server.stop()
        runtime.close()


def push_order(gateway: Gateway) -> int:
    """The module's push (lib/trackside_functions.php), as actionOrderStatusPostUpdate runs it
    for the README's order; 10 s instead of the module's 1 s: a loaded CI machine is slow."""
    code = """
require getenv('LIB');
$payload = trackside_push_payload('', ['reference' => 'XKBKNABJK', 'value' => 49.90,
    'currency' => 'EUR', 'cart_id' => 8841, 'customer_id' => 311,
    'email' => 'shopper@example.com', 'first_name' => 'Eva', 'last_name' => 'Muster',
    'city' => 'Berlin', 'zip' => '10115', 'country' => 'DE']);
echo trackside_push(getenv('GATEWAY'), getenv('API_KEY'), $payload, 10.0);
"""
    result = subprocess.run(
        [str(PHP), "-r", code], capture_output=True, text=True, timeout=30, check=False,
        env={"LIB": str(MODULE / "lib" / "trackside_functions.php"), "GATEWAY": gateway.url,
             "API_KEY": API_KEY, "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    return int(result.stdout.strip() or 0)


def cookie(context: Any, url: str, name: str) -> str | None:
    return next((c["value"] for c in context.cookies(url) if c["name"] == name), None)


def browser_seen(gateway: Gateway) -> bool:
    return any("pixel_absent" in v.event.flags or "seen_by_browser" in v.event.flags
               for v in gateway.runtime.store.event_view(REFERENCE))


def visit_confirmation_and_answer(context: Any, page_url: str, button: str,
                                  collected: list[dict[str, Any]]) -> Any:
    page = context.new_page()
    page.on("request", lambda r: collected.append(json.loads(r.post_data or "{}"))
            if r.url.endswith("/collect") else None)
    page.goto(f"{page_url}/?fbclid={FBCLID}")
    page.click(button)
    return page


def test_accepted_cookies_the_server_purchase_reaches_meta_once_with_the_pixel_ids(
    browser_context: Any, shop: tuple[Gateway, ShopPage], fake_graph: FakeGraphAPI
) -> None:
    gateway, page = shop
    assert push_order(gateway) == 202  # the shop's copy first: a card payment's order
    beacons: list[dict[str, Any]] = []
    tab = visit_confirmation_and_answer(browser_context, page.url, "#accept", beacons)
    wait_until(lambda: browser_seen(gateway), what="the confirmation page's purchase beacon")
    raw = tab.request.get(page.url + "/").text()  # the HTML as PHP rendered it
    assert "trackside('purchase'" in raw and SIGNING_KEY not in raw and API_KEY not in raw
    fbp = wait_until(lambda: cookie(browser_context, gateway.url, "_fbp"), what="_fbp")
    fbc = cookie(browser_context, gateway.url, "_fbc")
    # fb.{subdomain index}.{creation ms}.{fbclid}[.{appendix}]: Meta's Parameter Builder adds
    # the appendix (https://developers.facebook.com/docs/marketing-api/conversions-api/parameters/fbp-and-fbc/)
    assert fbc is not None and fbc.split(".")[3] == FBCLID

    # What the page sent: consent from the banner, the signed purchase, the join tokens.
    purchase = next(b for b in beacons if b.get("type") == "purchase")
    assert purchase["event_id"] == REFERENCE
    assert purchase["consent"] == {s: "granted" for s in (
        "ad_storage", "analytics_storage", "ad_user_data", "ad_personalization")}
    assert purchase["params"]["signature"] and purchase["params"]["cart_token"]
    assert all(SIGNING_KEY not in json.dumps(b) for b in beacons)

    gateway.drain()
    purchases = [e for e in fake_graph.events if e["event_name"] == "Purchase"]
    assert [p["event_id"] for p in purchases] == [REFERENCE]
    user = purchases[0]["user_data"]
    assert user["fbp"] == fbp and user["fbc"] == fbc
    assert user["em"]  # the shop's customer data, hashed: the server copy was sent
    assert purchases[0]["custom_data"]["value"] == pytest.approx(49.9)
    [stored] = gateway.runtime.store.event_view(REFERENCE)
    assert {row.destination: row.status for row in stored.outbox} == {"meta": "delivered"}
    # What docs/prestashop.md tells the owner to look for on the timeline.
    joined = [n.detail for n in stored.notes if n.detail.startswith("duplicate from browser")]
    assert joined and "consent" in joined[0] and "fbp" in joined[0], joined
    # The page's PageView, with the same consent, went too: every Meta event came once.
    ids = [(e["event_name"], e["event_id"]) for e in fake_graph.events]
    assert len(ids) == len(set(ids))


def test_refused_cookies_the_purchase_is_sent_nowhere(
    browser_context: Any, shop: tuple[Gateway, ShopPage], fake_graph: FakeGraphAPI
) -> None:
    gateway, page = shop
    assert push_order(gateway) == 202
    beacons: list[dict[str, Any]] = []
    visit_confirmation_and_answer(browser_context, page.url, "#refuse", beacons)
    wait_until(lambda: browser_seen(gateway), what="the confirmation page's purchase beacon")
    purchase = next(b for b in beacons if b.get("type") == "purchase")
    assert purchase["consent"]["ad_storage"] == "denied"

    gateway.drain()
    assert fake_graph.events == []
    assert cookie(browser_context, gateway.url, "_fbp") is None
    [stored] = gateway.runtime.store.event_view(REFERENCE)
    assert {row.destination: row.status for row in stored.outbox} == {"meta": "suppressed"}
    assert "denied (joined from the browser)" in (stored.outbox[0].message or "")


def test_before_the_banner_is_answered_the_page_sends_nothing(
    browser_context: Any, shop: tuple[Gateway, ShopPage]
) -> None:
    _, page = shop
    tab = browser_context.new_page()
    # t.js sends synchronously when an event is emitted: count its sendBeacon / fetch calls.
    tab.add_init_script("""
      window.__sent = 0;
      var beacon = navigator.sendBeacon.bind(navigator), fetcher = window.fetch.bind(window);
      navigator.sendBeacon = function () { window.__sent++; return beacon.apply(null, arguments); };
      window.fetch = function () { window.__sent++; return fetcher.apply(null, arguments); };
    """)
    tab.goto(page.url + "/")
    wait_until(lambda: tab.evaluate("window.trackside.loaded === true"), what="t.js loaded")
    # Loaded, and the page's PageView and Purchase wait for the banner (wait_for_update).
    assert tab.evaluate("window.__sent") == 0
    tab.click("#accept")
    wait_until(lambda: tab.evaluate("window.__sent") >= 2,
               what="PageView and Purchase once the banner is answered")


def run_in_page(context: Any, page_url: str, script: str) -> Any:
    """Run ``script`` before the module's snippets (a banner's own objects), return the
    consent calls the module made to the tag."""
    tab = context.new_page()
    tab.add_init_script(script + """
      window.__consent = [];
      Object.defineProperty(window, 'trackside', {configurable: true,
        get: function () { return window.__ts; },
        set: function (fn) { window.__ts = fn; if (!fn.__wrapped) {
          var wrapped = function (c, a) { if (c === 'consent') window.__consent.push(a);
            return fn.apply(this, arguments); };
          wrapped.__wrapped = true; wrapped.q = fn.q; wrapped.loaded = fn.loaded;
          window.__ts = wrapped; } }});
    """)
    tab.goto(page_url + "/")
    return tab


@pytest.mark.parametrize(("script", "expected"), [
    # Cookiebot's documented object: consent.marketing / .statistics (cookiebot.com/en/developer)
    ("window.Cookiebot = {hasResponse: true, consent: {necessary: true, preferences: false,"
     " statistics: false, marketing: true}};",
     {"ad_storage": "granted", "ad_user_data": "granted", "ad_personalization": "granted",
      "analytics_storage": "denied"}),
    # OneTrust's documented string of active groups (developer.onetrust.com events guide)
    ("window.OnetrustActiveGroups = ',C0001,C0002,';",
     {"ad_storage": "denied", "ad_user_data": "denied", "ad_personalization": "denied",
      "analytics_storage": "granted"}),
], ids=["cookiebot", "onetrust"])
def test_cookie_banner_objects_become_consent_calls(
    browser_context: Any, shop: tuple[Gateway, ShopPage], script: str,
    expected: dict[str, str]
) -> None:
    _, page = shop
    tab = run_in_page(browser_context, page.url, script)
    calls = wait_until(lambda: tab.evaluate("window.__consent"), what="consent calls")
    # The page's own gtag default (all denied) comes first; the banner's reading last.
    assert calls[-1] == expected


def test_banner_events_after_load_update_the_consent(
    browser_context: Any, shop: tuple[Gateway, ShopPage]
) -> None:
    _, page = shop
    tab = run_in_page(browser_context, page.url, "")
    tab.evaluate("""() => {
      window.Cookiebot = {hasResponse: true, consent: {statistics: true, marketing: false}};
      window.dispatchEvent(new Event('CookiebotOnAccept'));
      window.dispatchEvent(new CustomEvent('OneTrustGroupsUpdated', {detail: ['C0001', 'C0004']}));
      document.dispatchEvent(new CustomEvent('trackside:consent',
        {detail: {ad_storage: true, analytics_storage: false}}));
    }""")
    calls = tab.evaluate("window.__consent")
    assert calls[-3:] == [
        {"ad_storage": "denied", "ad_user_data": "denied", "ad_personalization": "denied",
         "analytics_storage": "granted"},
        {"ad_storage": "granted", "ad_user_data": "granted", "ad_personalization": "granted",
         "analytics_storage": "denied"},
        {"ad_storage": "granted", "analytics_storage": "denied"},
    ]


def test_a_gtag_update_after_gtag_js_replaces_push_is_still_seen(
    browser_context: Any, shop: tuple[Gateway, ShopPage]
) -> None:
    _, page = shop
    tab = run_in_page(browser_context, page.url, "")
    tab.evaluate("""() => {
      // What gtag.js / GTM do when they load: their own push on the same array.
      var seen = window.__theirs = [];
      var own = Array.prototype.push;
      window.dataLayer.push = function () {
        seen.push(arguments[0]);
        return own.apply(window.dataLayer, arguments);
      };
      gtag('consent', 'update', {ad_storage: 'granted', ad_user_data: 'granted'});
    }""")
    assert tab.evaluate("window.__consent")[-1] == {"ad_storage": "granted",
                                                    "ad_user_data": "granted"}
    assert tab.evaluate("window.__theirs.length") == 1  # and theirs still ran

