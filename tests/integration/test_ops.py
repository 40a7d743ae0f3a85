"""GET /healthz, /metrics and /openapi.json."""

from __future__ import annotations

import re
import time

import httpx

from tests.conftest import API_KEY, app_client
from tests.waiting import wait_until_async
from trackside.runtime import Runtime


def _metric(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} {labels} not in metrics")


async def test_healthz_ok_with_worker(runtime: Runtime) -> None:
    async for client in app_client(runtime, run_worker=True):
        response = await client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["store"] == "ok" and body["worker"] == "ok"
    assert body["paused_destinations"] == []


async def test_healthz_reports_paused_destination_as_degraded(runtime: Runtime) -> None:
    runtime.store.pause_destination("dryrun", None, "invalid token (190)", 190, time.time())
    async for client in app_client(runtime):
        response = await client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded" and body["worker"] == "disabled"
    assert body["paused_destinations"] == [
        {"destination": "dryrun", "paused": True, "paused_until": None,
         "reason": "invalid token (190)"}
    ]


async def test_healthz_shows_a_throttle_pause_end_as_iso_8601_utc(runtime: Runtime) -> None:
    # A pause with an end (throttling): the end as the API's other times, not unix seconds.
    until = 4_102_444_800.25  # 2100-01-01T00:00:00.250Z, in the future however slow the run
    runtime.store.pause_destination("dryrun", until, "throttled (code 4)", 4, time.time())
    async for client in app_client(runtime):
        response = await client.get("/healthz")
    [paused] = response.json()["paused_destinations"]
    assert paused["paused_until"] == "2100-01-01T00:00:00.250Z"


async def test_healthz_fails_when_the_store_is_gone(runtime: Runtime) -> None:
    async for client in app_client(runtime):
        runtime.store.close()  # a closed connection: every query raises
        response = await client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["store"] == "unreachable"
    assert response.json()["status"] == "failing"


async def test_healthz_fails_when_the_worker_died(runtime: Runtime) -> None:
    async for client in app_client(runtime, run_worker=True):
        state = client._transport.app.state.worker  # type: ignore[attr-defined]
        state.task.cancel()
        await wait_until_async(state.task.done, timeout_s=5, what="the cancelled worker task")
        response = await client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["worker"] == "stalled"


async def test_metrics_count_requests_events_and_queue(runtime: Runtime) -> None:
    auth = {"Authorization": f"Bearer {API_KEY}"}
    # This runtime's series: other tests in the process count other shops' events.
    shop = {"shop": "default"}
    async for client in app_client(runtime):
        before = (await client.get("/metrics")).text
        base_queued = _safe(before, "trackside_events_accepted_total", **shop, source="api",
                            result="queued")
        base_rejected = _safe(before, "trackside_events_rejected_total", **shop, source="api")
        events = [{"event_name": "Lead", "event_id": f"MET-{i}",
                   "consent": {"ad_storage": "granted", "analytics_storage": "granted",
                               "ad_user_data": "granted", "ad_personalization": "granted"},
                   "event_source_url": "https://shop.example/contact",
                   "user": {"email": f"m{i}@example.com"}} for i in range(3)]
        events.append({"event_name": ""})
        # Valid, but no destination would take it (2023): rejected and counted too.
        events.append({**events[0], "event_id": "MET-old", "event_time": 1_690_000_000})
        posted = await client.post("/v1/events", json={"events": events}, headers=auth)
        assert posted.json()["queued"] == 3, posted.text
        await client.post("/v1/events", json={"events": events[:1]})  # 401
        response = await client.get("/metrics")
    text = response.text
    assert response.headers["content-type"].startswith("text/plain")
    assert _metric(text, "trackside_events_accepted_total", **shop, source="api",
                   result="queued") == base_queued + 3
    assert _metric(text, "trackside_events_rejected_total", **shop,
                   source="api") == base_rejected + 2
    assert _metric(text, "trackside_http_requests_total", route="/v1/events", status="401") >= 1
    assert _metric(text, "trackside_queue_depth", **shop, destination="dryrun") == 3
    assert _metric(text, "trackside_oldest_pending_age_seconds", **shop, destination="dryrun") >= 0
    assert _metric(text, "trackside_outbox_rows", **shop, destination="dryrun",
                   status="pending") == 3
    assert "trackside_delivery_latency_seconds_bucket" in text or re.search(
        r"# TYPE trackside_delivery_latency_seconds histogram", text)


def _safe(text: str, name: str, **labels: str) -> float:
    try:
        return _metric(text, name, **labels)
    except AssertionError:
        return 0.0


async def test_openapi_describes_every_json_endpoint(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1")
    paths = document["paths"]
    assert set(paths) == {"/v1/events", "/v1/events/{event_id}", "/{version}/{pixel_id}/events",
                          "/v1/imports/offline", "/collect", "/t.js", "/healthz", "/metrics",
                          "/webhooks/shopify", "/webhooks/shopify/{shop}", "/webhooks/woocommerce",
                          "/webhooks/woocommerce/{shop}", "/webhooks/stripe",
                          "/webhooks/stripe/{shop}",
                          "/v1/reports/reconciliation", "/v1/reports/reconciliation/orders",
                          "/v1/reports/match-quality"}
    # Every route the app serves is documented (the document itself aside).
    from trackside.web.app import create_app

    app = create_app(client._transport.app.state.runtime)  # type: ignore[attr-defined]
    # The console's HTML pages for people (docs/console.md) are no part of the JSON API.
    served = {route.path for route in app.routes
              if not route.path.startswith("/dashboard")} - {"/openapi.json"}
    assert served <= set(paths), served - set(paths)
    schemas = document["components"]["schemas"]
    for name in ("EventsRequest", "EventsAccepted", "EventLookup", "ErrorBody", "Health",
                 "GraphSuccess", "GraphError", "Event", "Beacon", "CollectAccepted",
                 "WebhookAnswer"):
        assert name in schemas, name
    post = paths["/v1/events"]["post"]
    assert set(post["responses"]) == {"202", "400", "401", "413", "422", "431", "503"}
    assert schemas["EventsRequest"]["properties"]["events"]["maxItems"] == 1000
