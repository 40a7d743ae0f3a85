"""POST /collect for a beacon no configured destination would take: 422, nothing stored.

Real HTTP (uvicorn on loopback) and real SQLite, Meta configured as the only destination (it is
never called: a rejected event is never stored). The beacon is well formed, so sources/browser.py
maps it; what refuses it is admission (trackside/admission.py): page parameters that Meta's rules
refuse end up in custom_data, which no later copy of the event can cure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.integration.test_collect import (
    SHOP,
    Gateway,
    gateway_factory,  # noqa: F401  (fixture)
    track,
)
from trackside import metrics
from trackside.events import FieldError
from trackside.web.collect import _beacon_error

META = {"meta_pixel_id": "123456789012345", "meta_access_token": "collect-rejected-token",
        # Never called: nothing rejected is stored, so nothing is sent.
        "meta_graph_url": "http://127.0.0.1:9"}


def refused(event_id: str, **params: Any) -> dict[str, Any]:
    return track(event_id=event_id, cookies={}, params=params)


@pytest.mark.parametrize(("params", "named"), [
    ({"delivery_category": "drone"}, "delivery_category is not valid"),
    ({"predicted_ltv": "lots"}, "predicted_ltv must be a number"),
])
def test_a_beacon_no_destination_would_take_is_422_naming_the_field(
    gateway_factory: Callable[..., Gateway], params: dict[str, str], named: str  # noqa: F811
) -> None:
    gateway = gateway_factory(**META)
    response = gateway.collect(refused("rej-1", **params))
    assert response.status_code == 422, response.text
    body = response.json()["error"]
    assert body["status"] == 422 and "nothing was stored" in body["message"]
    [error] = body["errors"]
    assert error["field"] == "params"  # as the page wrote it, not the canonical custom_data
    assert error["reason"].startswith("meta: would be refused: ") and named in error["reason"]
    # A fetch caller on another origin can read it.
    assert response.headers["access-control-allow-origin"] == SHOP
    assert gateway.runtime.store.event_view("rej-1") == []
    assert "collect-rejected-token" not in response.text


def test_a_rejected_beacon_still_sets_the_first_party_cookies(
    gateway_factory: Callable[..., Gateway]  # noqa: F811
) -> None:
    # The page's other beacons wait for the first answer's cookies: they name the browser.
    gateway = gateway_factory(cookie_domain="shop.example", **META)
    response = gateway.collect(refused("rej-2", delivery_category="drone"))
    assert response.status_code == 422
    names = {c.split("=", 1)[0] for c in response.headers.get_list("set-cookie")}
    assert names == {"_fbp"}


def test_the_same_beacon_with_acceptable_params_is_202(
    gateway_factory: Callable[..., Gateway]  # noqa: F811
) -> None:
    gateway = gateway_factory(**META)
    response = gateway.collect(refused("ok-1", delivery_category="home_delivery"))
    assert response.status_code == 202, response.text
    assert response.json() == {"status": "queued", "event_id": "ok-1"}


def test_rejection_fields_are_named_as_the_beacon_has_them() -> None:
    def named(field: str) -> str:
        return _beacon_error(FieldError(field=field, reason="r")).field

    assert named("events[0].custom_data") == "params"
    assert named("events[0].order") == "params"
    assert named("events[0].event_source_url") == "url"
    assert named("events[0].event_time") == "event_time"
    assert named("events[0]") == "beacon"  # the event as a whole


def _rejected_count(shop: str) -> float:
    value = metrics.REGISTRY.get_sample_value("trackside_events_rejected_total",
                                              {"shop": shop, "source": "browser"})
    return value or 0.0


def test_a_refused_beacon_is_counted_as_a_rejected_event_as_the_api_counts_its_own(
    gateway_factory: Callable[..., Gateway]  # noqa: F811
) -> None:
    gateway = gateway_factory(**META)
    [shop] = gateway.runtime.per_shop
    before = _rejected_count(shop)
    assert gateway.collect(refused("rej-m1", delivery_category="drone")).status_code == 422
    assert _rejected_count(shop) == before + 1
    # A beacon refused with a 400 naming the field counts too; a taken one does not.
    assert gateway.collect(track(event_id="x" * 500, cookies={})).status_code == 400
    assert gateway.collect("{not json").status_code == 400
    assert _rejected_count(shop) == before + 3
    assert gateway.collect(track(event_id="rej-m3", cookies={})).status_code == 202
    assert _rejected_count(shop) == before + 3
