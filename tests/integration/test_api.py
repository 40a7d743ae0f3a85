"""POST /v1/events and GET /v1/events/{event_id}: auth, limits, error shape, mixed batches."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import sqlite3
import time
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import API_KEY, SettingsFactory, app_client
from trackside.runtime import Runtime


def purchase(event_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "event_name": "Purchase",
        "event_id": event_id,
        "event_source_url": "https://shop.example/thanks",
        "user": {"email": " Jeanne.Dupont@Example.com ", "ip": "203.0.113.7",
                 "user_agent": "Mozilla/5.0 (X11; Linux x86_64) canary-ua"},
        "order": {"reference": event_id, "value": 59.9, "currency": "eur"},
        "consent": {"ad_storage": "granted", "analytics_storage": "granted",
                    "ad_user_data": "granted", "ad_personalization": "granted"},
        **extra,
    }


def stored_ids(runtime: Runtime) -> list[str]:
    path = runtime.settings.database_url[len("sqlite:///"):]
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return [row[0] for row in conn.execute("SELECT event_id FROM events ORDER BY pk")]


def assert_error_shape(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"status", "message", "errors"}
    assert body["error"]["status"] == status
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["errors"], list)
    return body["error"]


# -- auth ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-key-9876543210"},
        {"Authorization": f"Basic {API_KEY}"},
        {"Authorization": "Bearer "},
    ],
    ids=["missing", "wrong-key", "wrong-scheme", "empty"],
)
async def test_post_without_a_valid_key_is_401(client: httpx.AsyncClient, runtime: Runtime,
                                               headers: dict[str, str]) -> None:
    response = await client.post("/v1/events", json={"events": [purchase("A-1")]},
                                 headers=headers)
    error = assert_error_shape(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "wrong-key" not in response.text and API_KEY not in response.text
    assert error["errors"] == []
    assert stored_ids(runtime) == []


async def test_get_without_a_valid_key_is_401(client: httpx.AsyncClient) -> None:
    assert_error_shape(await client.get("/v1/events/A-1"), 401)
    assert_error_shape(await client.get("/v1/events/A-1",
                                        headers={"Authorization": "Bearer nope-nope"}), 401)


async def test_scheme_is_case_insensitive(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/events", json={"events": [purchase("A-2")]},
                                 headers={"Authorization": f"bearer {API_KEY}"})
    assert response.status_code == 202


async def test_no_key_configured_refuses_and_says_how(settings_factory: SettingsFactory) -> None:
    runtime = Runtime.from_settings(settings_factory(api_keys=[]))
    try:
        async for client in app_client(runtime):
            response = await client.post("/v1/events", json={"events": [purchase("A-3")]},
                                         headers={"Authorization": "Bearer anything-at-all"})
            error = assert_error_shape(response, 401)
            assert "TRACKSIDE_API_KEYS" in error["message"]
    finally:
        runtime.close()


# -- limits and shapes ---------------------------------------------------------------------------


async def test_body_over_the_limit_is_413(settings_factory: SettingsFactory,
                                          auth: dict[str, str]) -> None:
    runtime = Runtime.from_settings(settings_factory(max_body_bytes=2000))
    try:
        async for client in app_client(runtime):
            events = [purchase(f"BIG-{i}") for i in range(10)]
            response = await client.post("/v1/events", json={"events": events}, headers=auth)
            assert "2000 bytes" in assert_error_shape(response, 413)["message"]

            async def chunks() -> Any:  # no Content-Length: counted while streaming
                for _ in range(5):
                    yield b" " * 1000

            response = await client.post("/v1/events", content=chunks(), headers=auth)
            assert_error_shape(response, 413)
            assert stored_ids(runtime) == []
    finally:
        runtime.close()


def test_default_body_limit_is_5_mb(runtime: Runtime) -> None:
    assert runtime.settings.max_body_bytes == 5 * 1024 * 1024


@pytest.mark.parametrize(
    "body",
    [b"events=1", b"{not json", b"", b"\xff\xfe{}", b'{"events": [1, 2'],
    ids=["form", "broken", "empty", "binary", "truncated"],
)
async def test_body_that_is_not_json_is_400_naming_the_body(
        client: httpx.AsyncClient, auth: dict[str, str], body: bytes) -> None:
    response = await client.post("/v1/events", content=body,
                                 headers={**auth, "Content-Type": "application/json"})
    error = assert_error_shape(response, 400)
    assert "body" in error["message"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ([purchase("S-1")], "(event)"),
        ({"event": [purchase("S-2")]}, "events"),
        ({"events": purchase("S-3")}, "events"),
        ({"events": []}, "events"),
        ({"events": [purchase(f"S-{i}") for i in range(1001)]}, "events"),
        ({"events": [purchase("S-4")], "extra": 1}, "extra"),
        ("just a string", "(event)"),
    ],
    ids=["array", "wrong-key", "not-a-list", "empty", "1001-events", "unknown-key", "string"],
)
async def test_json_of_the_wrong_shape_is_400(client: httpx.AsyncClient, runtime: Runtime,
                                              auth: dict[str, str], payload: Any,
                                              field: str) -> None:
    response = await client.post("/v1/events", json=payload, headers=auth)
    error = assert_error_shape(response, 400)
    assert field in [e["field"] for e in error["errors"]]
    assert stored_ids(runtime) == []


async def test_a_thousand_events_are_accepted(client: httpx.AsyncClient, runtime: Runtime,
                                              auth: dict[str, str]) -> None:
    events = [purchase(f"K-{i}") for i in range(1000)]
    response = await client.post("/v1/events", json={"events": events}, headers=auth)
    assert response.status_code == 202
    assert response.json()["queued"] == 1000
    assert len(stored_ids(runtime)) == 1000


# -- mixed batches and dedup ---------------------------------------------------------------------


async def test_mixed_batch_accepts_the_valid_events_and_explains_the_others(
    client: httpx.AsyncClient, runtime: Runtime, auth: dict[str, str]
) -> None:
    events = [
        purchase("M-1"),
        {"event_name": "", "user": {"email": "x@example.com"}},
        purchase("M-2", event_time="yesterday"),
        "not an event",
        purchase("M-3", order={"value": 10, "currency": "EURO"}),
        purchase("M-4"),
    ]
    response = await client.post("/v1/events", json={"events": events}, headers=auth)
    assert response.status_code == 202
    body = response.json()
    assert (body["queued"], body["duplicate"], body["rejected"]) == (2, 0, 4)
    results = body["results"]
    assert [r["index"] for r in results] == [0, 1, 2, 3, 4, 5]
    assert [r["status"] for r in results] == ["queued", "rejected", "rejected", "rejected",
                                              "rejected", "queued"]
    assert results[0]["event_id"] == "M-1" and results[5]["event_id"] == "M-4"
    fields = {i: [e["field"] for e in results[i]["errors"]] for i in (1, 2, 3, 4)}
    assert fields[1] == ["events[1].event_name"]
    assert fields[2] == ["events[2].event_time"]
    assert fields[3] == ["events[3]"]
    assert fields[4] == ["events[4].order.currency"]
    assert "ISO 4217" in results[4]["errors"][0]["reason"]
    assert all("event_id" not in results[i] for i in (1, 2, 3, 4))
    # Readable: the submitted (possibly personal) value is never echoed back.
    assert "x@example.com" not in response.text
    assert stored_ids(runtime) == ["M-1", "M-4"]


async def test_events_no_destination_would_take_are_rejected_by_index_beside_good_ones(
    client: httpx.AsyncClient, runtime: Runtime, auth: dict[str, str]
) -> None:
    # Issue 18: the dry run (Meta's rules) would refuse these; they used to be "queued" and
    # end dead or expired a minute later.
    fbp = {"fbp": "fb.1.1700000000000.1234567890"}  # no beacon to wait for
    events = [
        purchase("H-1"),
        {"event_name": "Lead", "event_id": "H-2", "user": {"email": "x@example.com"},
         "consent": purchase("x")["consent"]},  # website event without event_source_url
        purchase("H-3", order={"reference": "H-3"},
                 user={**purchase("x")["user"], **fbp}),  # Purchase without value
        purchase("H-4", event_time=1_690_000_000),  # 2023
    ]
    response = await client.post("/v1/events", json={"events": events}, headers=auth)
    assert response.status_code == 202
    body = response.json()
    assert (body["queued"], body["rejected"]) == (1, 3)
    results = body["results"]
    assert [r["status"] for r in results] == ["queued", "rejected", "rejected", "rejected"]
    assert [[e["field"] for e in r["errors"]] for r in results[1:]] == [
        ["events[1].event_source_url"], ["events[2].order"], ["events[3].event_time"]]
    assert all(r["errors"][0]["reason"].startswith("dryrun: would be refused: ")
               for r in results[1:])
    assert stored_ids(runtime) == ["H-1"]


async def test_a_batch_with_every_event_rejected_is_422_with_the_same_body(
    client: httpx.AsyncClient, runtime: Runtime, auth: dict[str, str]
) -> None:
    events = [purchase("R-1", event_time=1_690_000_000), {"event_name": ""}]
    response = await client.post("/v1/events", json={"events": events}, headers=auth)
    assert response.status_code == 422
    body = response.json()
    assert (body["queued"], body["duplicate"], body["rejected"]) == (0, 0, 2)
    assert [r["index"] for r in body["results"]] == [0, 1]
    assert body["results"][0]["errors"][0]["field"] == "events[0].event_time"
    assert stored_ids(runtime) == []


async def test_rejected_events_are_named_by_their_index_in_their_own_request(
    client: httpx.AsyncClient, runtime: Runtime, auth: dict[str, str]
) -> None:
    # Concurrent requests are prepared together by the committer: each answer still names
    # its own events.
    bodies = [{"events": [purchase(f"C-{i}"), purchase(f"O-{i}", event_time=1_690_000_000)]}
              for i in range(8)]
    answers = await asyncio.gather(*(client.post("/v1/events", json=b, headers=auth)
                                     for b in bodies))
    for answer in answers:
        [good, old] = answer.json()["results"]
        assert (good["index"], good["status"]) == (0, "queued")
        assert (old["index"], old["status"]) == (1, "rejected")
        assert old["errors"][0]["field"] == "events[1].event_time"


async def test_same_event_twice_is_a_duplicate(client: httpx.AsyncClient, runtime: Runtime,
                                               auth: dict[str, str]) -> None:
    first = await client.post("/v1/events", json={"events": [purchase("D-1")]}, headers=auth)
    again = await client.post("/v1/events", json={"events": [purchase("D-1"), purchase("D-1")]},
                              headers=auth)
    assert first.json()["results"][0]["status"] == "queued"
    assert [r["status"] for r in again.json()["results"]] == ["duplicate", "duplicate"]
    assert stored_ids(runtime) == ["D-1"]


async def test_concurrent_requests_are_all_committed_before_their_202(
    client: httpx.AsyncClient, runtime: Runtime, auth: dict[str, str]
) -> None:
    async def post(i: int) -> httpx.Response:
        events = [purchase(f"C-{i}-{j}") for j in range(1 + i % 3)]
        return await client.post("/v1/events", json={"events": events}, headers=auth)

    responses = await asyncio.gather(*(post(i) for i in range(60)))
    assert {r.status_code for r in responses} == {202}
    acknowledged = {r["event_id"] for resp in responses for r in resp.json()["results"]}
    assert acknowledged == set(stored_ids(runtime))
    assert len(acknowledged) == sum(1 + i % 3 for i in range(60))


async def test_each_response_carries_a_request_id(client: httpx.AsyncClient,
                                                  auth: dict[str, str]) -> None:
    mine = await client.get("/v1/events/none", headers={**auth, "X-Request-ID": "proxy-id-1234"})
    assert mine.headers["x-request-id"] == "proxy-id-1234"
    fresh = await client.get("/v1/events/none", headers={**auth, "X-Request-ID": "bad id!"})
    assert fresh.headers["x-request-id"] != "bad id!" and len(fresh.headers["x-request-id"]) == 32


async def test_unknown_path_and_method_use_the_error_shape(client: httpx.AsyncClient,
                                                           auth: dict[str, str]) -> None:
    assert_error_shape(await client.get("/v2/nothing"), 404)
    assert_error_shape(await client.get("/v1/events", headers=auth), 405)
    assert_error_shape(await client.delete("/v1/events/X", headers=auth), 405)


# -- GET /v1/events/{event_id} -------------------------------------------------------------------


async def test_unknown_event_is_404(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    assert_error_shape(await client.get("/v1/events/NOPE-1", headers=auth), 404)


async def test_event_view_shows_outcomes_and_hashes_personal_data(
    runtime: Runtime, auth: dict[str, str]
) -> None:
    async for client in app_client(runtime, run_worker=True):
        response = await client.post("/v1/events", json={"events": [purchase("V-1")]},
                                     headers=auth)
        assert response.status_code == 202
        deadline = time.monotonic() + 10  # the worker delivers within a few cycles
        while True:
            view = await client.get("/v1/events/V-1", headers=auth)
            outcomes = view.json()["events"][0]["destinations"]
            if all(o["status"] != "pending" for o in outcomes) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
    assert view.status_code == 200
    body = view.json()
    assert body["event_id"] == "V-1"
    [event] = body["events"]
    assert event["source"] == "api" and event["event_name"] == "Purchase"
    assert [o["destination"] for o in event["destinations"]] == ["dryrun"]
    assert event["destinations"][0]["status"] == "delivered"
    kinds = [entry["kind"] for entry in event["timeline"]]
    assert kinds[0] == "accepted" and "delivered" in kinds
    user = event["event"]["user_data"]
    email_hash = hashlib.sha256(b"jeanne.dupont@example.com").hexdigest()
    assert user["em"] == [email_hash]
    assert user["client_ip_address"] == hashlib.sha256(b"203.0.113.7").hexdigest()
    # Personal data never in clear, neither in the stored event nor in the recorded payload.
    for clear in ("jeanne", "Dupont", "203.0.113.7", "canary-ua"):
        assert clear not in view.text
    sent = event["destinations"][0]["sent"]
    assert sent is not None and email_hash in str(sent)
    # Times are ISO 8601 UTC with Z; the recorded payload keeps what Meta got (unix seconds).
    accepted = datetime.fromisoformat(event["accepted_at"])
    finished = datetime.fromisoformat(event["destinations"][0]["finished_at"])
    assert event["accepted_at"].endswith("Z") and event["event"]["event_time"].endswith("Z")
    assert abs(accepted.timestamp() - time.time()) < 600 and finished >= accepted
    assert all(datetime.fromisoformat(entry["at"]).utcoffset() == timedelta(0)
               for entry in event["timeline"])
    assert isinstance(sent["event_time"], int)


async def test_event_view_finds_ids_with_spaces(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await client.post("/v1/events", json={"events": [purchase("ORD 7")]},
                                 headers=auth)
    assert response.status_code == 202
    view = await client.get("/v1/events/ORD%207", headers=auth)
    assert view.status_code == 200 and view.json()["event_id"] == "ORD 7"

