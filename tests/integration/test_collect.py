"""POST /collect and GET /t.js over real HTTP (uvicorn on loopback), real SQLite."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from tests.fakes.server import ThreadedServer
from tests.fb_appendix import NET_NEW, NO_CHANGE, appendix
from trackside.config import Settings
from trackside.runtime import Runtime
from trackside.sources.signing import join_token, sign_purchase
from trackside.store import HELD
from trackside.web.collect import MAX_BODY_BYTES, collect_routes

SHOP = "https://shop.example"


class DirectServer(ThreadedServer):
    """uvicorn without its own X-Forwarded-For handling (on by default for 127.0.0.1), as
    `trackside serve` must run it: TRACKSIDE_TRUSTED_PROXIES alone decides whom to believe."""

    def __init__(self, app: Any) -> None:
        super().__init__(app)
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="off", proxy_headers=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
CANARY_KEY = "canary-signing-key-9f8e7d"


class Gateway:
    def __init__(self, runtime: Runtime, server: ThreadedServer) -> None:
        self.runtime = runtime
        self.url = server.url
        self.http = httpx.Client(base_url=server.url, timeout=10)

    def collect(self, beacon: dict[str, Any] | str | bytes, *, origin: str | None = SHOP,
                content_type: str = "text/plain;charset=UTF-8",
                headers: dict[str, str] | None = None) -> httpx.Response:
        body = beacon if isinstance(beacon, (str, bytes)) else json.dumps(beacon)
        sent = {"content-type": content_type, **(headers or {})}
        if origin is not None:
            sent["origin"] = origin
        self.http.cookies.clear()
        return self.http.post("/collect", content=body, headers=sent)

    def stored(self, event_id: str) -> Any:
        views = self.runtime.store.event_view(event_id)
        assert len(views) == 1, f"{event_id} stored {len(views)} times"
        return views[0]


@pytest.fixture
def gateway_factory(tmp_path: Path) -> Iterator[Callable[..., Gateway]]:
    started: list[tuple[Runtime, ThreadedServer, Gateway]] = []

    def make(rate_per_s: float = 50.0, burst: float = 100.0, **overrides: Any) -> Gateway:
        values: dict[str, Any] = {
            "database_url": f"sqlite:///{tmp_path}/collect{len(started)}.db",
            "allowed_origins": [SHOP], "consent_mode": "off", "signing_key": CANARY_KEY,
        }
        values.update(overrides)
        runtime = Runtime.from_settings(Settings(**values))
        app = Starlette(routes=collect_routes(runtime, rate_per_s=rate_per_s, burst=burst))
        server = DirectServer(app).start()
        gateway = Gateway(runtime, server)
        started.append((runtime, server, gateway))
        return gateway

    yield make
    for runtime, server, gateway in started:
        gateway.http.close()
        server.stop()
        runtime.close()


def track(event_id: str = "0123456789abcdef", **extra: Any) -> dict[str, Any]:
    beacon: dict[str, Any] = {
        "v": 1, "type": "track", "event_name": "AddToCart", "event_id": event_id,
        "url": f"{SHOP}/product/7", "referrer": f"{SHOP}/", "pixel": True,
        "cookies": {"_fbp": "fb.1.1700000000000.1234567", "_ga": "GA1.1.1197596843.1673515099",
                    "_ga_ABC123": "GS2.1.s1747132561$o1$g0$t1747132655$j0$l0$h0"},
        "consent": {"ad_storage": "granted", "analytics_storage": "granted"},
        "params": {"value": 14.9, "currency": "EUR", "cart_id": "cart-1",
                   "cart_token": join_token(CANARY_KEY, "cart", "cart-1"),
                   "items": [{"id": "mug", "name": "Mug", "price": 14.9, "quantity": 1}]},
    }
    beacon.update(extra)
    return beacon


def purchase(reference: str = "XKBKNABJK", **params: Any) -> dict[str, Any]:
    return {"v": 1, "type": "purchase", "event_name": "Purchase", "event_id": reference,
            "url": f"{SHOP}/order-confirmation", "cookies": {"_fbp": "fb.1.1700000000000.1234567"},
            "consent": {"ad_storage": "granted"}, "pixel": False,
            "params": {"reference": reference, "value": 49.9, "currency": "EUR", **params}}


def test_a_beacon_becomes_a_stored_browser_event(gateway_factory: Callable[..., Gateway]) -> None:
    gateway = gateway_factory()
    response = gateway.collect(track(), headers={"user-agent": "Mozilla/5.0 (X11) Test"})
    assert response.status_code == 202, response.text
    assert response.json() == {"status": "queued", "event_id": "0123456789abcdef"}
    assert response.headers["access-control-allow-origin"] == SHOP
    assert response.headers["access-control-allow-credentials"] == "true"
    view = gateway.stored("0123456789abcdef")
    event = view.event
    assert view.source == "browser"
    assert event.user_data["client_ip_address"] == "127.0.0.1"
    assert event.user_data["client_user_agent"] == "Mozilla/5.0 (X11) Test"
    # Meta's builder marks the pixel's four-part cookie unchanged (and the response rewrites it).
    assert event.user_data["fbp"] == "fb.1.1700000000000.1234567." + appendix(NO_CHANGE)
    assert (event.ga_client_id, event.ga_session_id) == ("1197596843.1673515099", "1747132561")
    assert event.cart_id == "cart-1" and event.order.value == 14.9
    assert event.consent.ad_storage == "granted"
    assert "_trackside" not in event.custom_data  # the beacon's marks never reach a vendor
    # Again, as a second tab would: stored once.
    assert gateway.collect(track()).json()["status"] == "duplicate"


def test_json_bodies_are_accepted_too(gateway_factory: Callable[..., Gateway]) -> None:
    gateway = gateway_factory()
    assert gateway.collect(track(), content_type="application/json").status_code == 202
    response = gateway.collect(track(event_id="other-id-1"), content_type="application/xml")
    assert response.status_code == 415


@pytest.mark.parametrize(
    ("origin", "status"),
    [(SHOP, 202), ("https://evil.test", 403), (None, 403), ("null", 403),
     ("http://shop.example", 403)],
)
def test_origin_is_checked(gateway_factory: Callable[..., Gateway], origin: str | None,
                           status: int) -> None:
    gateway = gateway_factory()
    response = gateway.collect(track(), origin=origin)
    assert response.status_code == status
    if status == 403:
        assert "TRACKSIDE_ALLOWED_ORIGINS" in response.json()["error"]["message"]
        assert gateway.runtime.store.event_view("0123456789abcdef") == []


def test_a_refused_origin_is_a_warning_naming_the_setting_once_a_minute(
    gateway_factory: Callable[..., Gateway], caplog: pytest.LogCaptureFixture
) -> None:
    gateway = gateway_factory()
    caplog.set_level(logging.INFO, logger="trackside.collect")
    for _ in range(5):
        assert gateway.collect(track(), origin="https://other-shop.example").status_code == 403
    assert gateway.http.options("/collect", headers={"origin": "https://third.example"}
                                ).status_code == 403
    refused = [r for r in caplog.records if getattr(r, "action", None) == "origin_refused"]
    assert [r.levelno for r in refused] == [logging.WARNING, logging.WARNING]
    first, second = (r.getMessage() for r in refused)
    assert "TRACKSIDE_ALLOWED_ORIGINS" in first and "https://other-shop.example" in first
    assert "https://third.example" in second


def test_preflight_for_cross_origin_fetch(gateway_factory: Callable[..., Gateway]) -> None:
    gateway = gateway_factory()
    ok = gateway.http.options("/collect", headers={"origin": SHOP,
                                                   "access-control-request-method": "POST"})
    assert ok.status_code == 204
    assert ok.headers["access-control-allow-origin"] == SHOP
    assert "POST" in ok.headers["access-control-allow-methods"]
    refused = gateway.http.options("/collect", headers={"origin": "https://evil.test"})
    assert refused.status_code == 403


def test_rate_limit_per_client_answers_a_clear_429(gateway_factory: Callable[..., Gateway]) -> None:
    gateway = gateway_factory(rate_per_s=0.5, burst=3, trusted_proxies=["127.0.0.1"])
    statuses = [gateway.collect(track(event_id=f"rate-{i}")).status_code for i in range(5)]
    assert statuses == [202, 202, 202, 429, 429]
    refused = gateway.collect(track(event_id="rate-x"))
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert "Too many events" in refused.json()["error"]["message"]
    assert gateway.runtime.store.event_view("rate-3") == []
    # Another shopper behind the same trusted proxy has a bucket of its own.
    other = gateway.collect(track(event_id="rate-y"),
                            headers={"x-forwarded-for": "198.51.100.23"})
    assert other.status_code == 202


def test_body_size_limit(gateway_factory: Callable[..., Gateway]) -> None:
    gateway = gateway_factory()
    big = track(params={"search_string": "x" * MAX_BODY_BYTES})
    response = gateway.collect(big)
    assert response.status_code == 413
    assert "65536 bytes" in response.json()["error"]["message"]
    near = track(params={"search_string": "x" * (MAX_BODY_BYTES - 2000)})
    assert gateway.collect(near).status_code == 202


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("{not json", None),
        ("[1, 2]", None),
        (json.dumps({"type": "track"}), "event_name"),
        (json.dumps(track(event_id=None)), "event_id"),
        (json.dumps(track(event_id="has spaces")), "event_id"),
        (json.dumps(track(event_name="Purchase")), "event_name"),
        (json.dumps(purchase(reference="")), "params.reference"),
        (json.dumps(track(params={"currency": "EURO"})), "params.currency"),
        (json.dumps(track(params={"value": "lots"})), "params.value"),
        (json.dumps(track(url="javascript:alert(1)")), "event_source_url"),
        (json.dumps(track(params={"items": [{"price": 3}]})), "params.items[0].id"),
        (json.dumps(track(cookies={"_fbp": 12})), "cookies._fbp"),
        ("\u00ff\u00fe".encode("latin-1"), None),
    ],
)
def test_bad_beacons_are_400_never_500(gateway_factory: Callable[..., Gateway], body: str,
                                       field: str | None) -> None:
    gateway = gateway_factory()
    response = gateway.collect(body)
    assert response.status_code == 400, response.text
    errors = response.json()["error"]["errors"]
    if field is not None:
        assert field in [e["field"] for e in errors], errors


def test_client_ip_honours_x_forwarded_for_only_from_trusted_proxies(
    gateway_factory: Callable[..., Gateway]
) -> None:
    untrusted = gateway_factory()
    untrusted.collect(track(event_id="ip-1"), headers={"x-forwarded-for": "198.51.100.23"})
    assert untrusted.stored("ip-1").event.user_data["client_ip_address"] == "127.0.0.1"

    trusted = gateway_factory(trusted_proxies=["127.0.0.0/8", "::1"])
    trusted.collect(track(event_id="ip-2"),
                    headers={"x-forwarded-for": "6.6.6.6, 2001:db8:1::42"})
    assert trusted.stored("ip-2").event.user_data["client_ip_address"] == "2001:db8:1::42"


def test_first_party_cookies(gateway_factory: Callable[..., Gateway]) -> None:
    gateway = gateway_factory(cookie_domain="shop.example")
    beacon = track(event_id="cookie-1", cookies={}, url=f"{SHOP}/?fbclid=IwAR-Zz_9&utm=x")
    response = gateway.collect(beacon)
    set_cookies = {c.split("=", 1)[0]: c for c in response.headers.get_list("set-cookie")}
    assert set(set_cookies) == {"_fbp", "_fbc"}
    for name in ("_fbp", "_fbc"):
        attributes = set_cookies[name].lower()
        assert "max-age=7776000" in attributes and "domain=shop.example" in attributes
        assert "samesite=lax" in attributes and "secure" in attributes  # https origin
        assert "httponly" not in attributes  # the pixel reads them
    fbc = set_cookies["_fbc"].split(";")[0].split("=", 1)[1]
    fbp = set_cookies["_fbp"].split(";")[0].split("=", 1)[1]
    # Meta's format, its appendix included (identity/param_builder.py).
    assert fbc.startswith("fb.1.") and fbc.endswith(".IwAR-Zz_9." + appendix(NET_NEW))
    assert fbp.startswith("fb.1.") and fbp.endswith("." + appendix(NET_NEW))
    user = gateway.stored("cookie-1").event.user_data
    assert (user["fbc"], user["fbp"]) == (fbc, fbp)  # the event carries what the cookie holds

    # Cookies present and the same click: nothing to write.
    again = gateway.collect(track(event_id="cookie-2", url=f"{SHOP}/?fbclid=IwAR-Zz_9",
                                  cookies={"_fbp": fbp, "_fbc": fbc}))
    assert again.headers.get_list("set-cookie") == []
    assert gateway.stored("cookie-2").event.user_data["fbc"] == fbc


def test_hand_written_cookies_when_the_builder_is_trackside(
        gateway_factory: Callable[..., Gateway]) -> None:
    gateway = gateway_factory(cookie_domain="www.shop.example", fb_cookie_builder="trackside")
    response = gateway.collect(track(event_id="hand-1", cookies={"_fbp": "fb.1.1700000000000.9"},
                                     url=f"{SHOP}/?fbclid=IwAR-Zz_9"))
    set_cookies = {c.split("=", 1)[0]: c for c in response.headers.get_list("set-cookie")}
    assert set(set_cookies) == {"_fbc"}  # the existing four-part _fbp is left as it is
    fbc = set_cookies["_fbc"].split(";")[0].split("=", 1)[1]
    assert re.fullmatch(r"fb\.2\.[0-9]{13}\.IwAR-Zz_9", fbc)  # www.shop.example: index 2
    user = gateway.stored("hand-1").event.user_data
    assert (user["fbc"], user["fbp"]) == (fbc, "fb.1.1700000000000.9")


def test_host_only_cookies_take_the_index_from_the_request_host(
        gateway_factory: Callable[..., Gateway]) -> None:
    gateway = gateway_factory()
    response = gateway.collect(track(event_id="host-1", cookies={}),
                               headers={"host": "track.shop.example.co.uk"})
    fbp = response.cookies["_fbp"]
    assert "domain=" not in response.headers["set-cookie"].lower()  # host-only, as before
    assert fbp.startswith("fb.2.") and fbp.endswith("." + appendix(NET_NEW))  # example.co.uk
    hostile = gateway.collect(track(event_id="host-2", cookies={"_fbp": "fb.1.x\x7f"},
                                    url=f"{SHOP}/?fbclid=bad.click"), headers={"host": "a b"})
    assert hostile.status_code == 202
    assert gateway.stored("host-2").event.user_data["fbp"] == hostile.cookies["_fbp"]
    assert "fbc" not in gateway.stored("host-2").event.user_data


def test_no_cookie_without_ad_storage_consent(gateway_factory: Callable[..., Gateway]) -> None:
    gateway = gateway_factory(consent_mode="eea")
    for i, consent in enumerate([{"ad_storage": "denied"}, {}]):
        response = gateway.collect(track(event_id=f"nc-{i}", cookies={}, consent=consent,
                                         url=f"{SHOP}/?fbclid=Click1"))
        assert response.status_code == 202
        assert response.headers.get_list("set-cookie") == []
        assert "fbc" not in gateway.stored(f"nc-{i}").event.user_data


def test_http_origin_cookies_are_not_secure(gateway_factory: Callable[..., Gateway]) -> None:
    gateway = gateway_factory(allowed_origins=["http://shop.test"])
    response = gateway.collect(track(cookies={}), origin="http://shop.test")
    assert response.status_code == 202
    assert "secure" not in response.headers["set-cookie"].lower()


def test_signed_browser_purchase_goes_on_its_own_word(
    gateway_factory: Callable[..., Gateway],
) -> None:
    gateway = gateway_factory()
    signature = sign_purchase(CANARY_KEY, "SIGNEDREF", 49.9, "EUR")
    assert gateway.collect(purchase("SIGNEDREF", signature=signature)).status_code == 202
    view = gateway.stored("SIGNEDREF")
    assert "signed_browser_purchase" in view.event.flags
    assert "pixel_absent" in view.event.flags
    assert [row.next_attempt_at < 10**10 for row in view.outbox] == [True]

    forged = sign_purchase(CANARY_KEY, "FORGEDREF", 49.9, "EUR")
    gateway.collect(purchase("FORGEDREF", signature=forged, value=4990))
    held = gateway.stored("FORGEDREF")
    assert "unconfirmed_browser_purchase" in held.event.flags
    assert [row.status for row in held.outbox] == [HELD]  # never due on its own


def test_the_purchase_id_is_the_servers_rule_not_the_browsers_word(
    gateway_factory: Callable[..., Gateway]
) -> None:
    gateway = gateway_factory(event_id_prefix="eu-")
    beacon = purchase("XKBKNABJK")
    beacon["event_id"] = "something-else"
    assert gateway.collect(beacon).json()["event_id"] == "eu-XKBKNABJK"


def test_tag_is_cacheable_and_carries_no_secret(gateway_factory: Callable[..., Gateway]) -> None:
    gateway = gateway_factory(event_id_prefix="shop1-", api_keys=["canary-api-key-1"],
                              meta_access_token="canary-token-2", meta_pixel_id="1")
    response = gateway.http.get("/t.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/javascript")
    assert len(response.content) < 8 * 1024
    assert 'var PREFIX = "shop1-";' in response.text
    for secret in (CANARY_KEY, "canary-api-key-1", "canary-token-2"):
        assert secret not in response.text
    etag = response.headers["etag"]
    assert response.headers["cache-control"] == "public, max-age=300"
    assert gateway.http.get("/t.js", headers={"if-none-match": etag}).status_code == 304
    version = etag.strip('"')
    pinned = gateway.http.get(f"/t.js?v={version}")
    assert "immutable" in pinned.headers["cache-control"]
    assert gateway.http.get("/t.js?v=stale").headers["cache-control"] == "public, max-age=300"


def test_no_secret_in_responses_or_logs(gateway_factory: Callable[..., Gateway],
                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    gateway = gateway_factory()
    bodies = [gateway.collect(b).text for b in (
        track(event_id="s-1"), purchase("S2", signature="0" * 64), "{bad",
        purchase("S3", signature=sign_purchase(CANARY_KEY, "S3", 49.9, "EUR")),
    )]
    for text in [*bodies, caplog.text]:
        assert CANARY_KEY not in text
