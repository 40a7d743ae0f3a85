"""A shopper's newest consent choice wins across visits: real Pipeline on SQLite, fake Graph API.

Beacons of a cart or customer are joined to the store's later Purchase (trackside/join.py);
their consent counts per signal as the shopper last stated it, so a refusal of months ago does
not outlive today's grant, and a withdrawal after a grant is never outvoted by it. The times
are driven by an explicit clock (and the beacons' ``event_time``, which /collect sets to the
gateway's clock at receipt), starting months in the past so that nothing is in the future.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.fakes.fixtures import fake_graph  # noqa: F401  (fixture)
from tests.fakes.graph_api import FakeGraphAPI
from tests.integration.test_forgery import (
    FORGER,
    SHOPPER,
    Gateway,
    gateway,  # noqa: F401  (fixture)
    page_view,
    shopper_params,
)
from tests.integration.test_join import (
    DENIED,
    GRANTED,
    Clock,
    browser_event,
    drain,
    make_runtime,  # noqa: F401  (fixture)
    outbox,
    purchases_at_meta,
    server_purchase,
)
from trackside.runtime import Runtime

DAY = 86400.0


def months_ago_clock() -> Clock:
    clock = Clock()
    clock.now = time.time() - 100 * DAY
    return clock


def beacon_at(runtime: Runtime, clock: Clock, event_id: str, consent: dict[str, str],
              **keys: str) -> None:
    """A beacon accepted at the clock's time, as /collect stamps it."""
    [result] = runtime.pipeline.accept(
        [browser_event("PageView", event_id, consent=consent, event_time=int(clock.now),
                       **keys)], "browser", now=clock.now)
    assert result.status == "queued", result


def purchase_today(runtime: Runtime, clock: Clock, **keys: str) -> None:
    clock.now = time.time()
    [result] = runtime.pipeline.accept([server_purchase(**keys)], "store", now=clock.now)
    assert result.status == "queued", result
    drain(runtime, clock)


def test_refused_months_ago_then_accepted_today_is_delivered(
    make_runtime: Callable[..., Runtime], fake_graph: FakeGraphAPI  # noqa: F811
) -> None:
    # eea + deny: only the shopper's joined grant can send the purchase.
    runtime = make_runtime(consent_mode="eea", server_event_consent="deny", retention_days=120)
    clock = months_ago_clock()
    beacon_at(runtime, clock, "pv-refused", DENIED, customer_id="42")
    clock.now = time.time() - 60
    beacon_at(runtime, clock, "pv-accepted", GRANTED, customer_id="42")
    purchase_today(runtime, clock, customer_id="42")
    [sent] = purchases_at_meta(fake_graph)
    assert sent["event_id"] == "XKBKNABJK"
    [view] = runtime.store.event_view("XKBKNABJK")
    assert view.event.consent.model_dump() == GRANTED and view.event.opt_out is False


def test_accepted_then_withdrawn_is_suppressed(
    make_runtime: Callable[..., Runtime], fake_graph: FakeGraphAPI  # noqa: F811
) -> None:
    # eea + grant: a purchase with no joined consent would go; the withdrawal must stop it.
    runtime = make_runtime(consent_mode="eea", server_event_consent="grant", retention_days=120)
    clock = months_ago_clock()
    beacon_at(runtime, clock, "pv-accepted", GRANTED, cart_id="cart-1")
    clock.now = time.time() - 60
    beacon_at(runtime, clock, "pv-withdrawn", DENIED, cart_id="cart-1")
    purchase_today(runtime, clock, cart_id="cart-1")
    assert purchases_at_meta(fake_graph) == []
    row = outbox(runtime, "XKBKNABJK")
    assert row.status == "suppressed" and row.message.startswith("consent")
    assert "joined from the browser" in row.message


@pytest.mark.parametrize(("cart_choice", "customer_choice", "newest", "delivered"), [
    # The cart's rows come first from the store, but the customer's is newer: it wins.
    (GRANTED, DENIED, "customer", False),
    (DENIED, GRANTED, "customer", True),
    (GRANTED, DENIED, "cart", True),
    (DENIED, GRANTED, "cart", False),
])
def test_the_newest_across_cart_and_customer_wins(
    make_runtime: Callable[..., Runtime], fake_graph: FakeGraphAPI,  # noqa: F811
    cart_choice: dict[str, str], customer_choice: dict[str, str], newest: str, delivered: bool,
) -> None:
    runtime = make_runtime(consent_mode="eea", server_event_consent="deny", retention_days=120)
    clock = months_ago_clock()
    older, newer = ((("pv-cart", cart_choice, "cart_id", "cart-5"),
                     ("pv-customer", customer_choice, "customer_id", "77"))
                    if newest == "customer" else
                    (("pv-customer", customer_choice, "customer_id", "77"),
                     ("pv-cart", cart_choice, "cart_id", "cart-5")))
    for event_id, choice, key, value in (older, newer):
        beacon_at(runtime, clock, event_id, choice, **{key: value})
        clock.advance(30 * DAY)
    purchase_today(runtime, clock, cart_id="cart-5", customer_id="77")
    assert bool(purchases_at_meta(fake_graph)) is delivered


def test_mixed_signals_each_take_their_newest_statement(
    make_runtime: Callable[..., Runtime], fake_graph: FakeGraphAPI  # noqa: F811
) -> None:
    runtime = make_runtime(consent_mode="eea", server_event_consent="deny", retention_days=120)
    clock = months_ago_clock()
    beacon_at(runtime, clock, "pv-1", {**GRANTED, "ad_personalization": "denied"},
              customer_id="9")
    clock.advance(40 * DAY)
    # Later, a page that only restated two signals: the others keep their older answer.
    beacon_at(runtime, clock, "pv-2", {"ad_storage": "denied", "ad_personalization": "granted"},
              customer_id="9")
    clock.advance(40 * DAY)
    beacon_at(runtime, clock, "pv-3", {"ad_storage": "granted"}, customer_id="9")
    purchase_today(runtime, clock, customer_id="9")
    [view] = runtime.store.event_view("XKBKNABJK")
    assert view.event.consent.model_dump() == GRANTED
    assert len(purchases_at_meta(fake_graph)) == 1


def test_the_events_own_consent_still_combines_to_the_most_restrictive(
    make_runtime: Callable[..., Runtime], fake_graph: FakeGraphAPI  # noqa: F811
) -> None:
    # The store's consent for this very order and the browser's latest speak for one moment.
    runtime = make_runtime(consent_mode="eea", server_event_consent="grant", retention_days=120)
    clock = months_ago_clock()
    clock.now = time.time() - 60
    beacon_at(runtime, clock, "pv-ok", GRANTED, customer_id="5")
    clock.now = time.time()
    runtime.pipeline.accept([server_purchase(customer_id="5", consent={"ad_storage": "denied"})],
                            "store", now=clock.now)
    drain(runtime, clock)
    assert purchases_at_meta(fake_graph) == []
    [view] = runtime.store.event_view("XKBKNABJK")
    assert view.event.consent.ad_storage == "denied"
    assert view.event.consent.ad_user_data == "granted"


# -- through /collect: an unsigned beacon naming the customer changes nothing ---------------------


def _beacon(gateway: Gateway, browser: Any, event_id: str, consent: dict[str, str],  # noqa: F811
            params: dict[str, str]) -> None:
    response = gateway.beacon(browser, page_view(event_id, consent, **params))
    assert response.status_code == 202, response.text


@pytest.mark.parametrize(("shopper_choice", "forged_choice", "delivered"), [
    (DENIED, GRANTED, False),  # a forged grant after the shopper's refusal upgrades nothing
    (GRANTED, DENIED, True),   # nor does a forged withdrawal take the shopper's grant back
])
def test_an_unsigned_newer_beacon_naming_the_customer_does_not_change_the_outcome(
    gateway: Gateway, fake_graph: FakeGraphAPI,  # noqa: F811
    shopper_choice: dict[str, str], forged_choice: dict[str, str], delivered: bool,
) -> None:
    # The shop's setting here is eea + grant: a denial must come from the shopper to count.
    _beacon(gateway, SHOPPER, "shopper-pv", shopper_choice, shopper_params("customer_id", "311"))
    _beacon(gateway, FORGER, "forged-pv", forged_choice, {"customer_id": "311"})
    gateway.store_purchase(customer_id="311")
    gateway.drain(time.time() + 61)
    assert bool(purchases_at_meta(fake_graph)) is delivered
    view = gateway.stored("ORDER1001")
    assert view.event.consent.model_dump() == shopper_choice
    assert view.event.user_data["fbp"].startswith(SHOPPER.fbp)  # the fbp with its appendix


def test_the_shoppers_own_newer_beacon_does_change_it(
    gateway: Gateway, fake_graph: FakeGraphAPI  # noqa: F811
) -> None:
    # The counterpart: the same newer beacon with the store's token is the shopper's word.
    _beacon(gateway, SHOPPER, "shopper-pv-1", GRANTED, shopper_params("customer_id", "311"))
    _beacon(gateway, SHOPPER, "shopper-pv-2", DENIED, shopper_params("customer_id", "311"))
    gateway.store_purchase(customer_id="311")
    gateway.drain(time.time() + 61)
    assert purchases_at_meta(fake_graph) == []
    assert gateway.stored("ORDER1001").event.consent.model_dump() == DENIED


def test_a_beacon_cannot_state_its_own_time(gateway: Gateway) -> None:  # noqa: F811
    # "Newest" is the gateway's clock at receipt: a page claiming a later time (to outrank
    # the shopper's newest choice) is not believed.
    before = int(time.time())
    response = gateway.beacon(SHOPPER, {**page_view("pv-time", GRANTED, event_time=4_000_000_000),
                                        "event_time": 4_000_000_000})
    assert response.status_code == 202, response.text
    assert before <= gateway.stored("pv-time").event.event_time <= time.time() + 1
