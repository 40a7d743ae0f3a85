"""Two shops in one gateway, two fake pixels: routing by key, pixel and Origin, isolation.

Real components: a TOML file with [shops.alpha] and [shops.beta], one SQLite file, the app over
httpx, and two strict fake Graph APIs on loopback (each knows only its own pixel and token).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import app_client
from tests.fakes.graph_api import FakeGraphAPI
from trackside.runtime import Runtime
from trackside.shops import load_shops

KEY_A = "alpha-key-canary-1111111111"
KEY_B = "beta-key-canary-2222222222"
ORIGIN_A = "https://alpha.example"
ORIGIN_B = "https://beta.example"
GRANTED = {"ad_storage": "granted", "ad_user_data": "granted", "analytics_storage": "granted",
           "ad_personalization": "granted"}


@pytest.fixture
def runtime(pixels: tuple[FakeGraphAPI, FakeGraphAPI], tmp_path: Path) -> Iterator[Runtime]:
    a, b = pixels
    config = tmp_path / "trackside.toml"
    config.write_text(f"""
database_url = "sqlite:///{tmp_path}/shops.db"
join_window_s = 0
server_event_consent = "grant"

[shops.alpha]
meta_pixel_id = "{a.pixel_id}"
meta_access_token = "{a.token}"
meta_graph_url = "{a.url}"
api_keys = ["{KEY_A}"]
allowed_origins = ["{ORIGIN_A}"]
consent_mode = "off"

[shops.beta]
meta_pixel_id = "{b.pixel_id}"
meta_access_token = "{b.token}"
meta_graph_url = "{b.url}"
api_keys = ["{KEY_B}"]
allowed_origins = ["{ORIGIN_B}"]
consent_mode = "off"
""", encoding="utf-8")
    rt = Runtime.from_shops(load_shops({"TRACKSIDE_CONFIG": str(config)}))
    try:
        yield rt
    finally:
        rt.close()


def purchase(reference: str, email: str) -> dict[str, Any]:
    return {
        "event_name": "Purchase",
        "event_time": int(time.time()) - 30,
        "event_source_url": "https://shop.example/thanks",
        "user": {"email": email, "ip": "203.0.113.9", "user_agent": "Mozilla/5.0"},
        "order": {"reference": reference, "value": 19.9, "currency": "EUR"},
        "consent": GRANTED,
    }


async def drain(runtime: Runtime) -> int:
    async with runtime.worker() as worker:
        return await worker.drain(timeout_s=30)


async def post_events(client: httpx.AsyncClient, key: str, *events: dict[str, Any]) -> Any:
    answer = await client.post("/v1/events", json={"events": list(events)},
                               headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 202, answer.text
    return answer.json()


async def test_each_key_feeds_its_own_shop_and_pixel(
    runtime: Runtime, pixels: tuple[FakeGraphAPI, FakeGraphAPI],
) -> None:
    a, b = pixels
    async for client in app_client(runtime):
        await post_events(client, KEY_A, purchase("A-1", "a1@example.com"),
                          purchase("SAME-REF", "a@example.com"))
        await post_events(client, KEY_B, purchase("B-1", "b1@example.com"),
                          purchase("SAME-REF", "b@example.com"))
        # The same reference in the other shop is another event, not a duplicate.
        again = await post_events(client, KEY_A, purchase("SAME-REF", "a@example.com"))
        assert again["duplicate"] == 1

        # B's key cannot read A's event: 404 (not 403, so ids do not leak).
        mine = await client.get("/v1/events/A-1", headers={"Authorization": f"Bearer {KEY_A}"})
        theirs = await client.get("/v1/events/A-1",
                                  headers={"Authorization": f"Bearer {KEY_B}"})
        assert mine.status_code == 200 and theirs.status_code == 404
        assert "A-1" not in theirs.text
        shared = await client.get("/v1/events/SAME-REF",
                                  headers={"Authorization": f"Bearer {KEY_B}"})
        assert shared.status_code == 200
        assert hashlib.sha256(b"b@example.com").hexdigest() in shared.text
        assert hashlib.sha256(b"a@example.com").hexdigest() not in shared.text

    assert await drain(runtime) == 4
    # Each fake knows only its own pixel and token: a request with the other shop's token or
    # for the other pixel would be refused and not counted here.
    assert sorted(a.event_ids()) == ["A-1", "SAME-REF"]
    assert sorted(b.event_ids()) == ["B-1", "SAME-REF"]
    assert {r.pixel_id for r in a.accepted_requests} == {a.pixel_id}
    assert {r.pixel_id for r in b.accepted_requests} == {b.pixel_id}
    assert all(r.accepted for r in a.requests + b.requests)
    assert await drain(runtime) == 0


async def test_graph_endpoint_pixel_picks_the_shop_and_the_key_must_be_its(
    runtime: Runtime, pixels: tuple[FakeGraphAPI, FakeGraphAPI],
) -> None:
    a, b = pixels
    event = {"event_name": "Purchase", "event_time": int(time.time()) - 60, "event_id": "G-1",
             "action_source": "website", "event_source_url": "https://shop.example/thanks",
             "user_data": {"em": [hashlib.sha256(b"jeanne@example.com").hexdigest()],
                           "client_ip_address": "203.0.113.7", "client_user_agent": "Mozilla/5.0"},
             "custom_data": {"currency": "EUR", "value": 59.9}}
    async for client in app_client(runtime):
        ok = await client.post(f"/v26.0/{b.pixel_id}/events", json={"data": [event]},
                               params={"access_token": KEY_B})
        other_key = await client.post(f"/v26.0/{a.pixel_id}/events", json={"data": [event]},
                                      params={"access_token": KEY_B})
        unknown = await client.post("/v26.0/999/events", json={"data": [event]},
                                    params={"access_token": KEY_B})
    assert ok.status_code == 200, ok.text
    assert other_key.status_code == 401 and other_key.json()["error"]["code"] == 190
    assert unknown.status_code == 400
    assert (unknown.json()["error"]["code"], unknown.json()["error"]["error_subcode"]) == (100, 33)
    for answer in (ok, other_key, unknown):
        assert KEY_A not in answer.text and KEY_B not in answer.text
    assert await drain(runtime) == 1
    assert b.event_ids() == ["G-1"] and a.event_ids() == []


async def test_the_beacon_origin_picks_the_shop(runtime: Runtime) -> None:
    beacon = {"event_name": "PageView", "event_id": "PV-1", "url": "https://alpha.example/p",
              "consent": {"ad_storage": "granted"}}
    async for client in app_client(runtime):
        a = await client.post("/collect", json=beacon, headers={"Origin": ORIGIN_A})
        b = await client.post("/collect", json={**beacon, "event_id": "PV-2"},
                              headers={"Origin": ORIGIN_B})
        stranger = await client.post("/collect", json={**beacon, "event_id": "PV-3"},
                                     headers={"Origin": "https://gamma.example"})
    assert a.status_code == 202 and b.status_code == 202, (a.text, b.text)
    assert stranger.status_code == 403
    assert a.headers["access-control-allow-origin"] == ORIGIN_A
    assert runtime.store.event_view("PV-1", shop="alpha")
    assert not runtime.store.event_view("PV-1", shop="beta")
    assert runtime.store.event_view("PV-2", shop="beta")
    assert not runtime.store.event_view("PV-2", shop="alpha")


async def test_a_paused_shop_does_not_hold_back_another(
    runtime: Runtime, pixels: tuple[FakeGraphAPI, FakeGraphAPI],
) -> None:
    a, b = pixels
    now = time.time()
    runtime.store.pause_destination("meta", None, "test: an operator paused alpha", None, now,
                                    shop="alpha")
    runtime.shop("alpha").pipeline.accept([purchase(f"A-{i}", f"a{i}@example.com")
                                           for i in range(50)], "api")
    runtime.shop("beta").pipeline.accept([purchase("B-1", "b@example.com")], "api")
    assert await drain(runtime) == 1
    assert b.event_ids() == ["B-1"] and a.event_ids() == []
    [counts] = [c for c in runtime.store.counts(shop="alpha") if c.destination == "meta"]
    assert counts.counts.get("pending") == 50


async def test_healthz_names_the_shop_of_a_paused_destination(runtime: Runtime) -> None:
    runtime.store.pause_destination("meta", None, "test pause", None, time.time(), shop="beta")
    async for client in app_client(runtime):
        health = (await client.get("/healthz")).json()
    assert [(p["shop"], p["destination"]) for p in health["paused_destinations"]] == [
        ("beta", "meta")]


def test_every_shop_secret_is_masked_in_logs_and_errors(
    runtime: Runtime, pixels: tuple[FakeGraphAPI, FakeGraphAPI],
) -> None:
    a, b = pixels
    masked = runtime.redactor(f"token {a.token} key {KEY_A} token {b.token} key {KEY_B}") or ""
    for secret in (a.token, b.token, KEY_A, KEY_B):
        assert secret not in masked


async def test_metrics_carry_the_shop(runtime: Runtime) -> None:
    async for client in app_client(runtime):
        await post_events(client, KEY_B, purchase("M-1", "m@example.com"))
        text = (await client.get("/metrics")).text
    accepted = [line for line in text.splitlines()
                if line.startswith("trackside_events_accepted_total{") and 'shop="beta"' in line]
    assert accepted and any('result="queued"' in line for line in accepted)
    depth = [line for line in text.splitlines() if line.startswith("trackside_queue_depth{")]
    assert any('shop="beta"' in line and line.endswith(" 1.0") for line in depth), depth
    assert any('shop="alpha"' in line for line in depth) is False
