"""Browser context joins and the browser Purchase policy: real SQLite, fake Graph API on loopback.

Times are driven by an explicit clock (accept's ``now`` and the worker's clock), so the join
window is tested without waiting for it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.fixtures import fake_graph  # noqa: F401  (fixture)
from tests.fakes.graph_api import FakeGraphAPI
from trackside import join
from trackside.runtime import Runtime
from trackside.store import HELD, OutboxRow

SHOP = "https://shop.example"
GRANTED = {k: "granted" for k in ("ad_storage", "analytics_storage", "ad_user_data",
                                  "ad_personalization")}
DENIED = {k: "denied" for k in GRANTED}


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


@pytest.fixture
def make_runtime(fake_graph: FakeGraphAPI, tmp_path: Path) -> Iterator[Callable[..., Runtime]]:  # noqa: F811
    opened: list[Runtime] = []

    def make(**overrides: Any) -> Runtime:
        values: dict[str, Any] = {"database_url": f"sqlite:///{tmp_path}/join{len(opened)}.db",
                                  "consent_mode": "off"}
        values.update(overrides)
        runtime = Runtime.from_settings(fake_graph.settings(**values))
        opened.append(runtime)
        return runtime

    yield make
    for runtime in opened:
        runtime.close()


def drain(runtime: Runtime, clock: Clock) -> int:
    async def run() -> int:
        async with runtime.worker(clock=clock) as worker:
            return await worker.drain()

    return asyncio.run(run())


def server_purchase(reference: str = "XKBKNABJK", **extra: Any) -> dict[str, Any]:
    return {"event_name": "Purchase",
            "order": {"reference": reference, "value": 49.9, "currency": "EUR",
                      "items": [{"id": "mug", "quantity": 1, "price": 49.9}]},
            "user": {"email": "shopper@example.com"}, **extra}


def browser_event(name: str, event_id: str | None = None, *, fbp: str = "fb.1.1700000000000.111",
                  ip: str = "203.0.113.7", consent: dict[str, str] | None = None,
                  **extra: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_name": name, "event_source_url": f"{SHOP}/page",
        "user": {"fbp": fbp, "ip": ip, "user_agent": "Mozilla/5.0 (Browser)"},
        "consent": consent or GRANTED, **extra,
    }
    if event_id:
        event["event_id"] = event_id
    return event


def browser_purchase(
    reference: str = "XKBKNABJK", value: float = 49.9, **extra: Any
) -> dict[str, Any]:
    return browser_event("Purchase", order={"reference": reference, "value": value,
                                            "currency": "EUR"}, **extra)


def outbox(runtime: Runtime, event_id: str) -> OutboxRow:
    [view] = runtime.store.event_view(event_id)
    [row] = view.outbox
    return row


def purchases_at_meta(fake: FakeGraphAPI) -> list[Any]:
    return [e for e in fake.events if e["event_name"] == "Purchase"]


def test_server_purchase_waits_the_join_window_then_goes_with_what_it_has(
    make_runtime: Callable[..., Runtime], fake_graph: FakeGraphAPI  # noqa: F811
) -> None:
    runtime = make_runtime(join_window_s=60)
    clock = Clock()
    runtime.pipeline.accept([server_purchase()], "store", now=clock.now)
    drain(runtime, clock)
    assert fake_graph.events == [] and outbox(runtime, "XKBKNABJK").status == "pending"
    clock.advance(59)
    drain(runtime, clock)
    assert fake_graph.requests == []
    clock.advance(2)
    drain(runtime, clock)
    # Gone with what it has: no user agent, which Meta requires for a website event, so the
    # local rules check finishes it without a call; what matters here is when.
    row = outbox(runtime, "XKBKNABJK")
    assert row.status != "pending" and row.finished_at >= clock.now - 1


def test_browser_context_arriving_in_the_window_is_joined_and_releases_the_purchase(
    make_runtime: Callable[..., Runtime], fake_graph: FakeGraphAPI  # noqa: F811
) -> None:
    runtime = make_runtime()
    clock = Clock()
    runtime.pipeline.accept([server_purchase()], "store", now=clock.now)
    [result] = runtime.pipeline.accept([browser_purchase(value=1.0)], "browser",
                                       now=clock.advance(5))
    assert result.status == "duplicate"
    drain(runtime, clock)  # 5 s in: no need to wait for the rest of the window
    [sent] = purchases_at_meta(fake_graph)
    assert sent["event_id"] == "XKBKNABJK"
    assert sent["custom_data"]["value"] == 49.9  # the store's order, not the browser's word
    assert sent["user_data"]["fbp"] == "fb.1.1700000000000.111"
    assert sent["user_data"]["client_ip_address"] == "203.0.113.7"
    assert sent["user_data"]["em"]


def test_unsigned_browser_purchase_first_is_held_then_confirmed_by_the_store(
    make_runtime: Callable[..., Runtime], fake_graph: FakeGraphAPI  # noqa: F811
) -> None:
    runtime = make_runtime()
    clock = Clock()
    runtime.pipeline.accept([browser_purchase(value=9999.0)], "browser", now=clock.now)
    drain(runtime, clock)
    assert fake_graph.requests == []  # never on its own word
    [result] = runtime.pipeline.accept([server_purchase()], "store", now=clock.advance(10))
    assert result.status == "queued"  # the store's first copy of its order
    drain(runtime, clock)
    [sent] = purchases_at_meta(fake_graph)
    assert sent["custom_data"]["value"] == 49.9 and sent["user_data"]["em"]
    assert sent["user_data"]["fbp"] == "fb.1.1700000000000.111"
    [view] = runtime.store.event_view("XKBKNABJK")
    assert view.source == "store"
    assert "seen_by_browser" in view.event.flags
    assert "unconfirmed_browser_purchase" not in view.event.flags
    # Confirmed before the insert: the duplicate merge (browser's values first) never runs.
    assert [n.kind for n in view.notes] == ["confirmed"]
    assert "browser context kept" in view.notes[0].detail


def test_a_second_unsigned_browser_copy_never_releases_a_held_purchase(
    make_runtime: Callable[..., Runtime], fake_graph: FakeGraphAPI  # noqa: F811
) -> None:
    # A reload of the confirmation page (or a forger) adds browser keys the first copy lacked;
    # the duplicate merge must not make the held rows due: only the store's copy confirms.
    runtime = make_runtime(join_window_s=60)
    clock = Clock()
    first = browser_purchase(value=9999.0)
    del first["user"]["ip"]
    runtime.pipeline.accept([first], "browser", now=clock.now)
    [again] = runtime.pipeline.accept([browser_purchase(value=9999.0)], "browser",
                                      now=clock.advance(1))
    assert again.status == "duplicate"
    drain(runtime, clock)
    assert fake_graph.requests == []
    assert outbox(runtime, "XKBKNABJK").status == HELD  # never due on its own


def test_unconfirmed_browser_purchase_ends_suppressed_after_the_window(
    make_runtime: Callable[..., Runtime], fake_graph: FakeGraphAPI  # noqa: F811
) -> None:
    runtime = make_runtime(join_window_s=60)
    clock = Clock()
    runtime.pipeline.accept([browser_purchase("FAKEORDER")], "browser", now=clock.now)
    assert runtime.pipeline.sweep_holds(clock.advance(30), force=True) == 0
    # Any later accept sweeps: the window is over for FAKEORDER.
    runtime.pipeline.accept([browser_event("PageView", "pv-1")], "browser", now=clock.advance(31))
    row = outbox(runtime, "FAKEORDER")
    assert (row.status, row.message) == ("suppressed", join.UNCONFIRMED_REASON)
    drain(runtime, clock)
    assert purchases_at_meta(fake_graph) == []
    # The store's copy, late (a poller's minute): the order is real after all, and goes, on
    # the store's own data (here the user agent its checkout recorded): the unconfirmed
    # browser copy lends nothing.
    store_user = {"email": "shopper@example.com", "user_agent": "Mozilla/5.0 (Checkout)"}
    runtime.pipeline.accept([server_purchase("FAKEORDER", user=store_user,
                                             event_source_url=f"{SHOP}/order-confirmation")],
                            "store", now=clock.advance(60))
    drain(runtime, clock)
    [sent] = purchases_at_meta(fake_graph)
    assert sent["event_id"] == "FAKEORDER"
    assert sent["user_data"]["client_user_agent"] == "Mozilla/5.0 (Checkout)"
    assert "fbp" not in sent["user_data"] and "client_ip_address" not in sent["user_data"]


def test_trusted_browser_purchases_go_on_their_own(
    make_runtime: Callable[..., Runtime], fake_graph: FakeGraphAPI  # noqa: F811
) -> None:
    runtime = make_runtime(trust_browser_purchases=True)
    clock = Clock()
    runtime.pipeline.accept([browser_purchase()], "browser", now=clock.now)
    drain(runtime, clock)
    assert [p["event_id"] for p in purchases_at_meta(fake_graph)] == ["XKBKNABJK"]


def test_context_joins_by_cart_id_and_consent_travels(
    make_runtime: Callable[..., Runtime], fake_graph: FakeGraphAPI  # noqa: F811
) -> None:
    # eea + deny: a server event without consent of its own would be suppressed.
    runtime = make_runtime(consent_mode="eea", server_event_consent="deny")
    clock = Clock()
    runtime.pipeline.accept(
        [browser_event("AddToCart", "atc-1", cart_id="cart-9", consent=GRANTED)], "browser",
        now=clock.now)
    runtime.pipeline.accept([server_purchase(cart_id="cart-9")], "store", now=clock.advance(30))
    drain(runtime, clock)  # due at once: the joined context is what the window waits for
    [sent] = purchases_at_meta(fake_graph)
    assert sent["user_data"]["fbp"] == "fb.1.1700000000000.111"
    assert sent["user_data"]["client_user_agent"] == "Mozilla/5.0 (Browser)"
    assert sent["event_source_url"] == f"{SHOP}/page"
    [view] = runtime.store.event_view("XKBKNABJK")
    assert view.event.consent.ad_storage == "granted" and view.event.consent_source == "browser"
    assert any(n.kind == "joined" and "cart_id" in n.detail for n in view.notes)


def test_denied_consent_in_the_browser_suppresses_the_joined_server_event(
    make_runtime: Callable[..., Runtime], fake_graph: FakeGraphAPI  # noqa: F811
) -> None:
    runtime = make_runtime(consent_mode="eea", server_event_consent="grant")
    clock = Clock()
    runtime.pipeline.accept([browser_event("PageView", "pv-d", cart_id="cart-d",
                                           consent=DENIED)], "browser", now=clock.now)
    runtime.pipeline.accept([server_purchase(cart_id="cart-d")], "store", now=clock.advance(5))
    drain(runtime, clock)
    assert fake_graph.events == []
    row = outbox(runtime, "XKBKNABJK")
    assert row.status == "suppressed" and row.message.startswith("consent")
    assert "joined from the browser" in row.message


def test_customer_context_newest_wins_within_retention(
    make_runtime: Callable[..., Runtime], fake_graph: FakeGraphAPI  # noqa: F811
) -> None:
    runtime = make_runtime(retention_days=30)
    clock = Clock()
    old_fbp, new_fbp = "fb.1.1700000000000.1", "fb.1.1700000000000.2"
    runtime.pipeline.accept([browser_event("PageView", "a", fbp=old_fbp, customer_id="42")],
                            "browser", now=clock.now)
    runtime.pipeline.accept([browser_event("PageView", "b", fbp=new_fbp, customer_id="42")],
                            "browser", now=clock.advance(3600))
    runtime.pipeline.accept([server_purchase("R1", customer_id="42")], "store",
                            now=clock.advance(60))
    [view] = runtime.store.event_view("R1")
    assert view.event.user_data["fbp"] == new_fbp
    # Past the retention period the browser context is not used any more.
    # (Each purchase happens when it is accepted: an event 31 days old is refused at accept.)
    later = clock.advance(31 * 86400)
    runtime.pipeline.accept([server_purchase("R2", customer_id="42", event_time=int(later))],
                            "store", now=later)
    [late] = runtime.store.event_view("R2")
    assert "fbp" not in late.event.user_data
    # Keys are exact: another customer's context never joins.
    earlier = clock.now - 31 * 86400 + 120
    runtime.pipeline.accept([server_purchase("R3", customer_id="420",
                                             event_time=int(earlier))], "store", now=earlier)
    [other] = runtime.store.event_view("R3")
    assert "fbp" not in other.event.user_data


def test_server_events_do_not_feed_the_context(
    make_runtime: Callable[..., Runtime]
) -> None:
    runtime = make_runtime()
    clock = Clock()
    runtime.pipeline.accept([{**browser_event("Lead", "srv-lead", cart_id="c7")}], "api",
                            now=clock.now)
    runtime.pipeline.accept([server_purchase("R7", cart_id="c7")], "store", now=clock.advance(1))
    [view] = runtime.store.event_view("R7")
    assert "fbp" not in view.event.user_data  # only what a browser said is browser context
