"""POST /{version}/{pixel_id}/events: Meta's encodings, token places, answers and errors —
and Meta's own SDK pointed at trackside, its event reaching the (fake) Graph API intact."""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import API_KEY, SettingsFactory, app_client
from tests.fakes.fixtures import fake_graph  # noqa: F401  (fixture)
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import ThreadedServer
from trackside.runtime import Runtime
from trackside.web.app import create_app

PIXEL = "123456789012345"


def meta_event(event_id: str = "G-1", **extra: Any) -> dict[str, Any]:
    return {
        "event_name": "Purchase",
        "event_time": int(time.time()) - 60,
        "event_id": event_id,
        "action_source": "website",
        "event_source_url": "https://shop.example/thanks",
        "user_data": {"em": [hashlib.sha256(b"jeanne@example.com").hexdigest()],
                      "client_ip_address": "203.0.113.7",
                      "client_user_agent": "Mozilla/5.0"},
        "custom_data": {"currency": "EUR", "value": 59.9},
        **extra,
    }


@pytest.fixture
def graph_runtime(settings_factory: SettingsFactory) -> Iterator[Runtime]:
    rt = Runtime.from_settings(settings_factory(meta_pixel_id=PIXEL,
                                                meta_access_token="EAAT-not-used-here"))
    try:
        yield rt
    finally:
        rt.close()


def stored(runtime: Runtime) -> list[tuple[str, str]]:
    import sqlite3

    path = runtime.settings.database_url[len("sqlite:///"):]
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return list(conn.execute("SELECT event_id, source FROM events ORDER BY pk"))


def assert_meta_error(response: httpx.Response, status: int, code: int,
                      subcode: int | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error.get("error_subcode") == subcode
    assert isinstance(error["message"], str) and isinstance(error["type"], str)
    assert error["fbtrace_id"] == response.headers["x-request-id"]
    return error


# -- encodings and token places (the strict fake Graph API's rules 3 and 6) -----------------------


async def test_every_encoding_and_token_place_is_accepted(graph_runtime: Runtime) -> None:
    url = f"/v26.0/{PIXEL}/events"
    data = [meta_event("E-json")]
    async for client in app_client(graph_runtime):
        answers = [
            await client.post(url, json={"data": data}, params={"access_token": API_KEY}),
            await client.post(url, json={"data": [meta_event("E-body")],
                                         "access_token": API_KEY}),
            await client.post(url, json={"data": [meta_event("E-bearer")]},
                              headers={"Authorization": f"Bearer {API_KEY}"}),
            await client.post(url, data={"data": json.dumps([meta_event("E-form")]),
                                         "access_token": API_KEY}),
            # Meta's SDK: an array of JSON strings, itself JSON-encoded in a form field.
            await client.post(url, data={"data": json.dumps([json.dumps(meta_event("E-sdk"))]),
                                         "access_token": API_KEY}),
            await client.post(url, files={"data": (None, json.dumps([meta_event("E-multi")])),
                                          "access_token": (None, API_KEY)}),
        ]
    for answer in answers:
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["events_received"] == 1 and body["messages"] == []
        assert body["fbtrace_id"]
    assert stored(graph_runtime) == [(f"E-{k}", "graph-api")
                                     for k in ("json", "body", "bearer", "form", "sdk", "multi")]


async def test_several_events_are_received_and_deduplicated(graph_runtime: Runtime) -> None:
    async for client in app_client(graph_runtime):
        data = [meta_event("N-1"), meta_event("N-2"), meta_event("N-1")]
        answer = await client.post(f"/v25.0/{PIXEL}/events", json={"data": data},
                                   params={"access_token": API_KEY})
    assert answer.json()["events_received"] == 3
    assert [row[0] for row in stored(graph_runtime)] == ["N-1", "N-2"]


# -- Meta-shaped refusals (rules 1-9 of tests/fakes/meta_checks.py) ------------------------------


@pytest.mark.parametrize(
    ("request_kwargs", "status", "code", "subcode"),
    [
        ({}, 400, 104, None),  # rule 3: no token
        ({"params": {"access_token": "EAAT-meta-token"}}, 401, 190, None),  # not a trackside key
        ({"headers": {"Authorization": "Bearer wrong"}}, 401, 190, None),
    ],
    ids=["missing-token", "unknown-token", "unknown-bearer"],
)
async def test_auth_errors_are_meta_shaped(graph_runtime: Runtime, request_kwargs: dict[str, Any],
                                           status: int, code: int, subcode: int | None) -> None:
    async for client in app_client(graph_runtime):
        answer = await client.post(f"/v26.0/{PIXEL}/events", json={"data": [meta_event()]},
                                   **request_kwargs)
    error = assert_meta_error(answer, status, code, subcode)
    assert error["type"] == "OAuthException"
    assert "EAAT-meta-token" not in answer.text
    assert stored(graph_runtime) == []


async def test_unknown_pixel_is_refused_like_meta(graph_runtime: Runtime) -> None:
    async for client in app_client(graph_runtime):
        answer = await client.post("/v26.0/999/events", json={"data": [meta_event()]},
                                   params={"access_token": API_KEY})
    error = assert_meta_error(answer, 400, 100, 33)
    assert error["type"] == "GraphMethodException"
    assert "Object with ID '999' does not exist" in error["message"]


async def test_without_a_configured_pixel_any_numeric_id_is_accepted(runtime: Runtime) -> None:
    async for client in app_client(runtime):
        ok = await client.post("/v26.0/42/events", json={"data": [meta_event()]},
                               params={"access_token": API_KEY})
        refused = await client.post("/v26.0/my-pixel/events", json={"data": [meta_event()]},
                                    params={"access_token": API_KEY})
    assert ok.status_code == 200
    assert_meta_error(refused, 400, 100, 33)


async def test_method_version_and_body_errors(graph_runtime: Runtime) -> None:
    url = f"/v26.0/{PIXEL}/events"
    token = {"access_token": API_KEY}
    async for client in app_client(graph_runtime):
        get = await client.get(url, params=token)
        unversioned = await client.post(f"/latest/{PIXEL}/events", json={"data": []}, params=token)
        no_data = await client.post(url, json={"test_event_code": "TEST1"}, params=token)
        not_array = await client.post(url, data={"data": "{oops"}, params=token)
        empty = await client.post(url, json={"data": []}, params=token)
        bad_json = await client.post(url, content=b"{nope",
                                     headers={"Content-Type": "application/json"}, params=token)
        too_old = await client.post(url, json={"data": [meta_event(event_time=1_600_000_000)]},
                                    params=token)
        unhashed = await client.post(
            url, json={"data": [meta_event(user_data={"em": "jeanne@example.com"})]},
            params=token)
    assert assert_meta_error(get, 400, 100)["type"] == "GraphMethodException"
    assert_meta_error(unversioned, 400, 2635)
    assert "data is required" in assert_meta_error(no_data, 400, 100)["message"]
    assert_meta_error(not_array, 400, 100)
    assert_meta_error(empty, 400, 100)
    assert_meta_error(bad_json, 400, 100)
    too_old_error = assert_meta_error(too_old, 400, 100, 2804003)
    assert too_old_error["error_user_title"] == "Event Timestamp Too Old"
    assert_meta_error(unhashed, 400, 100, 2804016)
    assert stored(graph_runtime) == []


async def test_one_invalid_event_refuses_the_whole_request(graph_runtime: Runtime) -> None:
    data = [meta_event("W-1"), meta_event("W-2", action_source="shop")]
    async for client in app_client(graph_runtime):
        answer = await client.post(f"/v26.0/{PIXEL}/events", json={"data": data},
                                   params={"access_token": API_KEY})
    error = assert_meta_error(answer, 400, 100)
    assert error["error_data"]["blame_field_specs"] == [["data[1].action_source"]]
    assert stored(graph_runtime) == []


async def test_senders_ldu_choice_and_clear_ids_travel_to_meta(graph_runtime: Runtime) -> None:
    # Rule 20 (tests/fakes/meta_event_checks.py): a sender's per-event Limited Data Use wins over
    # TRACKSIDE_META_LDU; subscription_id and fb_login_id are never hashed (Meta's customer
    # information parameters page).
    data = [
        meta_event("L-1", data_processing_options=["LDU"], data_processing_options_country=1,
                   data_processing_options_state=1000),
        meta_event("L-2", data_processing_options=[]),
        {**meta_event("L-3"), "user_data": {**meta_event()["user_data"],
                                            "subscription_id": "sub_42", "fb_login_id": 1234567}},
    ]
    async for client in app_client(graph_runtime):
        answer = await client.post(f"/v26.0/{PIXEL}/events", json={"data": data},
                                   params={"access_token": API_KEY})
    assert answer.status_code == 200, answer.text
    from trackside.destinations.meta import event_payload

    payloads = {view.event_id: event_payload(view.event, ldu="geo")
                for event_id in ("L-1", "L-2", "L-3")
                for view in graph_runtime.store.event_view(event_id)}
    assert payloads["L-1"]["data_processing_options"] == ["LDU"]
    assert (payloads["L-1"]["data_processing_options_country"],
            payloads["L-1"]["data_processing_options_state"]) == (1, 1000)
    assert payloads["L-2"]["data_processing_options"] == []  # explicitly not LDU
    assert "data_processing_options_country" not in payloads["L-2"]
    assert payloads["L-3"]["data_processing_options"] == ["LDU"]  # the gateway's setting
    assert payloads["L-3"]["user_data"]["subscription_id"] == "sub_42"
    assert payloads["L-3"]["user_data"]["fb_login_id"] == 1234567


async def test_ldu_values_meta_would_refuse_are_refused_whole(graph_runtime: Runtime) -> None:
    data = [meta_event("L-1"), meta_event("L-2", data_processing_options=["LDU"],
                                          data_processing_options_country=7)]
    async for client in app_client(graph_runtime):
        answer = await client.post(f"/v26.0/{PIXEL}/events", json={"data": data},
                                   params={"access_token": API_KEY})
    assert_meta_error(answer, 400, 100)
    assert stored(graph_runtime) == []


async def test_body_over_the_limit_is_a_meta_error(settings_factory: SettingsFactory) -> None:
    runtime = Runtime.from_settings(settings_factory(max_body_bytes=500))
    try:
        async for client in app_client(runtime):
            answer = await client.post("/v26.0/1/events",
                                       json={"data": [meta_event(f"B-{i}") for i in range(5)]},
                                       params={"access_token": API_KEY})
        assert_meta_error(answer, 413, 100)
    finally:
        runtime.close()


# -- Meta's own SDK -------------------------------------------------------------------------------


def test_facebook_business_sdk_through_trackside_reaches_graph_intact(
    fake_graph: FakeGraphAPI, tmp_path: Path  # noqa: F811
) -> None:
    from facebook_business.adobjects.serverside.action_source import ActionSource
    from facebook_business.adobjects.serverside.custom_data import CustomData
    from facebook_business.adobjects.serverside.event import Event
    from facebook_business.adobjects.serverside.event_request import EventRequest
    from facebook_business.adobjects.serverside.user_data import UserData
    from facebook_business.api import FacebookAdsApi
    from facebook_business.session import FacebookSession

    settings = fake_graph.settings(database_url=f"sqlite:///{tmp_path / 't.db'}",
                                   api_keys=[API_KEY], join_window_s=0,
                                   server_event_consent="grant")
    runtime = Runtime.from_settings(settings)
    server = ThreadedServer(create_app(runtime, run_worker=False)).start()
    previous = FacebookAdsApi.get_default_api()
    try:
        # The only changes an SDK user makes: the Graph base URL and the token.
        session = FacebookSession(access_token=API_KEY)
        session.GRAPH = server.url
        FacebookAdsApi.set_default_api(FacebookAdsApi(session))
        now = int(time.time())
        event = Event(
            event_name="Purchase",
            event_time=now,
            event_id="SDK-ORDER-1",
            action_source=ActionSource.WEBSITE,
            event_source_url="https://shop.example/thanks",
            user_data=UserData(email="Jeanne@Example.com", phone="+33 6 12 34 56 78",
                               client_ip_address="203.0.113.7",
                               client_user_agent="Mozilla/5.0 (X11; Linux x86_64)",
                               fbp="fb.1.1700000000000.1234567890"),
            custom_data=CustomData(currency="eur", value=59.9, order_id="SDK-ORDER-1"),
        )
        response = EventRequest(events=[event], pixel_id=fake_graph.pixel_id).execute()
        assert response.events_received == 1
        assert fake_graph.events == []  # accepted and stored; not sent yet

        import asyncio

        async def deliver() -> None:
            async with runtime.worker() as worker:
                await worker.drain(timeout_s=30)

        asyncio.run(deliver())
    finally:
        FacebookAdsApi.set_default_api(previous)
        server.stop()
        runtime.close()

    [request] = fake_graph.accepted_requests
    assert request.pixel_id == fake_graph.pixel_id
    [received] = fake_graph.events
    assert received["event_id"] == "SDK-ORDER-1"
    assert received["event_name"] == "Purchase"
    assert received["event_time"] == now
    assert received["action_source"] == "website"
    user = received["user_data"]
    assert user["em"] in (hashlib.sha256(b"jeanne@example.com").hexdigest(),
                          [hashlib.sha256(b"jeanne@example.com").hexdigest()])
    phone = hashlib.sha256(b"33612345678").hexdigest()
    assert user["ph"] in (phone, [phone])
    assert user["client_ip_address"] == "203.0.113.7"
    assert user["fbp"] == "fb.1.1700000000000.1234567890"
    assert received["custom_data"]["currency"].lower() == "eur"
    assert float(received["custom_data"]["value"]) == 59.9


async def test_an_event_no_destination_would_take_refuses_the_request_in_metas_shape(
        settings_factory: SettingsFactory) -> None:
    # Issue 18: Graph takes it (just under 7 days old), but Meta's destination gives up 60 s
    # before the limit, so it would only ever expire; like Meta, the whole request is refused
    # and nothing is stored
    # (https://developers.facebook.com/documentation/ads-commerce/conversions-api/parameters/server-event).
    almost_a_week = int(time.time()) - 7 * 86400 + 30
    data = [meta_event("W-ok"), meta_event("W-old", event_time=almost_a_week)]
    # Consent granted for server events: a suppressed event is an outcome, not a refusal.
    runtime = Runtime.from_settings(settings_factory(
        meta_pixel_id=PIXEL, meta_access_token="EAAT-not-used-here",
        server_event_consent="grant"))
    try:
        async for client in app_client(runtime):
            response = await client.post(f"/v26.0/{PIXEL}/events", json={"data": data},
                                         params={"access_token": API_KEY})
            error = assert_meta_error(response, 400, 100)
            assert error["error_data"]["blame_field_specs"] == [["data[1].event_time"]]
            assert "meta: would be refused: event_time is" in error["error_user_msg"]
            assert stored(runtime) == []
            accepted = await client.post(f"/v26.0/{PIXEL}/events",
                                         json={"data": data[:1]},
                                         params={"access_token": API_KEY})
            assert accepted.json()["events_received"] == 1
            assert stored(runtime) == [("W-ok", "graph-api")]
    finally:
        runtime.close()
