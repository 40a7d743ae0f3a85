"""PrestaShop connector, webservice mode, against a fake webservice on loopback.

The webservice as PrestaShop documents it: https://devdocs.prestashop-project.org/9/webservice/cheat-sheet
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.ga4_fixtures import fake_ga4  # noqa: F401  (pytest fixture)
from tests.fakes.prestashop_ws import ALL, FakePrestaShopWS
from tests.fakes.server import ThreadedServer
from tests.integration.prestashop_schema import CANCELED, PAYMENT_ACCEPTED, Fixtures, Shop
from trackside.config import load_settings
from trackside.identity.hashing import sha256_hex
from trackside.runtime import Runtime
from trackside.sources.prestashop.records import PrestaShopError
from trackside.sources.prestashop.sync import PrestaShopSync
from trackside.sources.prestashop.ws import WebserviceReader

KEY = secrets.token_hex(16).upper()  # 32 characters, like a PrestaShop key


@pytest.fixture
def shop_ws() -> Iterator[tuple[Shop, FakePrestaShopWS, str]]:
    shop = Shop()
    fake = FakePrestaShopWS(shop, KEY)
    server = ThreadedServer(fake.app).start()
    try:
        yield shop, fake, server.url
    finally:
        server.stop()


def test_webservice_sync(shop_ws: Any, tmp_path: Path, fake_ga4: Any) -> None:  # noqa: F811
    shop, fake, url = shop_ws
    now = time.time()
    f = Fixtures(shop, now)
    environ = {
        "TRACKSIDE_DATABASE_URL": f"sqlite:///{tmp_path / 'trackside.db'}",
        "TRACKSIDE_PRESTASHOP_URL": url, "TRACKSIDE_PRESTASHOP_API_KEY": KEY,
        "TRACKSIDE_JOIN_WINDOW_S": "0", "TRACKSIDE_SERVER_EVENT_CONSENT": "grant",
        "TRACKSIDE_GA4_MEASUREMENT_ID": fake_ga4.measurement_id,
        "TRACKSIDE_GA4_API_SECRET": fake_ga4.api_secret, "TRACKSIDE_GA4_URL": fake_ga4.url,
    }
    runtime = Runtime.from_settings(load_settings(environ=environ))
    sync = PrestaShopSync(runtime, batch_size=4)
    report = sync.sync_once()
    assert (report.queued, report.duplicates, report.rejected) == (4, 0, 0)
    assert all("ws_key" not in r for r in fake.requests)  # the key never goes in a URL
    store = runtime.store
    normal = store.event_view(f.normal)[0].event
    assert normal.order.value == 30.0 and normal.order.currency == "EUR"
    assert normal.user_data["em"] == [sha256_hex("anne.martin@example.com")]
    assert normal.user_data["db"] == [sha256_hex("19850309")]
    assert normal.user_data["ge"] == [sha256_hex("f")]
    assert normal.event_source_url.startswith(f"{url}/index.php?controller=order-confirmation")
    split = store.event_view(f.split)[0].event
    assert split.order.value == 39.35 and len(split.order.items) == 2
    guest = store.event_view(f.guest)[0].event
    assert guest.user_data["ph"] == [sha256_hex("33611223344")]
    assert store.event_view(f.wire) == []

    shop.change_state(f.wire_id, PAYMENT_ACCEPTED, now - 60)
    shop.change_state(f.chf_id, CANCELED, now - 30)
    report = sync.sync_once()
    assert (report.queued, report.refunds) == (2, 1)
    assert store.event_view(f.wire)[0].event.event_time == int(now - 60)
    assert sync.sync_once().state_changes == 0


    async def deliver() -> None:
        async with runtime.worker() as worker:
            await worker.drain()

    asyncio.run(deliver())
    ga4 = {(e["name"], e["params"]["transaction_id"]): e["params"] for e in fake_ga4.events}
    assert ga4[("purchase", f.split)]["value"] == 39.35
    assert ga4[("refund", f.chf_ref)] == {"transaction_id": f.chf_ref, "value": 120.0,
                                          "currency": "CHF"}
    assert {k for k in ga4 if k[0] == "purchase"} == {
        ("purchase", r) for r in (f.normal, f.split, f.guest, f.chf_ref, f.wire)}
    sync.close()
    runtime.close()


def test_webservice_errors_name_the_fix(shop_ws: Any) -> None:
    _shop, fake, url = shop_ws
    with (pytest.raises(PrestaShopError, match="TRACKSIDE_PRESTASHOP_API_KEY is refused"),
          WebserviceReader(url, "A" * 32) as reader):
        reader.check()
    with (pytest.raises(PrestaShopError, match="Invalid authentication key format"),
          WebserviceReader(url, "short") as reader):
        reader.check()
    fake.permissions = ALL - {"order_histories"}
    with (pytest.raises(PrestaShopError,
                        match=r"may not read 'order_histories'.*tick View \(GET\) for orders, "
                              r"order_histories"),
          WebserviceReader(url, KEY) as reader):
        reader.check()
    fake.permissions = ALL - {"configurations"}
    with WebserviceReader(url, KEY) as reader:
        reader.check()  # the time zone is optional
        assert reader.shop_timezone() is None
    fake.enabled = False
    with (pytest.raises(PrestaShopError, match=r"webservice of .* is disabled"),
          WebserviceReader(url, KEY) as reader):
        reader.check()
    with (pytest.raises(PrestaShopError, match="/api/orders does not exist"),
          WebserviceReader(url + "/shop", KEY) as reader):
        reader.check()
    with (pytest.raises(PrestaShopError, match=r"cannot reach http://127\.0\.0\.1:1"),
          WebserviceReader("http://127.0.0.1:1", KEY) as reader):
        reader.check()
