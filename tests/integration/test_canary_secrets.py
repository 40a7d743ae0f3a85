"""Secret hygiene of the HTTP service: with distinctive secrets configured, a real
`trackside serve` (debug logs) is exercised on every endpoint, error paths included, and its
deliveries run; then the logs, every response and the database files are searched: no canary."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.fakes.fixtures import fake_graph  # noqa: F401  (fixture)
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import free_port

TOKEN = "EAAcanaryHTTPtokenR4t5y6"
GA4_SECRET = "canaryHTTPga4secretP0o9"
API_KEY = "canaryHTTPapiKeyL1k2j3"
CANARIES = (TOKEN, GA4_SECRET, API_KEY)


def test_no_secret_in_logs_responses_or_database(fake_graph: FakeGraphAPI,  # noqa: F811
                                                 tmp_path: Path) -> None:
    fake_graph.add_token(TOKEN, [fake_graph.pixel_id])
    port = free_port()
    database = tmp_path / "canary.db"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TRACKSIDE_")},
        "TRACKSIDE_DATABASE_URL": f"sqlite:///{database}",
        "TRACKSIDE_META_PIXEL_ID": fake_graph.pixel_id,
        "TRACKSIDE_META_ACCESS_TOKEN": TOKEN,
        "TRACKSIDE_META_GRAPH_URL": fake_graph.url,
        "TRACKSIDE_META_API_VERSION": fake_graph.settings().meta_api_version,
        "TRACKSIDE_GA4_MEASUREMENT_ID": "G-CANARY2",
        "TRACKSIDE_GA4_API_SECRET": GA4_SECRET,
        "TRACKSIDE_GA4_URL": f"http://127.0.0.1:{free_port()}",  # closed: delivery errors
        "TRACKSIDE_API_KEYS": f"other-key-000000,{API_KEY}",
        "TRACKSIDE_CONSENT_MODE": "off",
        "TRACKSIDE_JOIN_WINDOW_S": "0",
    }
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "trackside.cli", "serve", "--port", str(port),
             "--log-level", "debug"],
            env=env, stdout=log_file, stderr=subprocess.STDOUT,
        )
        try:
            texts = _exercise(f"http://127.0.0.1:{port}", fake_graph)
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=60) == 0

    logs = log_path.read_text(encoding="utf-8", errors="replace")
    assert '"request_id"' in logs  # the logs were really written, with request ids
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("canary.db*"))
    assert b"CANARY-1" in stored  # and the database really holds the events
    for canary in CANARIES:
        assert canary not in logs, f"{canary} in the logs"
        assert canary.encode() not in stored, f"{canary} in the database"
        for text in texts:
            assert canary not in text, f"{canary} in a response: {text[:200]}"


def _exercise(base: str, fake: FakeGraphAPI) -> list[str]:
    good = {"Authorization": f"Bearer {API_KEY}"}
    event = {"event_name": "Purchase", "event_id": "CANARY-1",
             "event_source_url": "https://shop.example/thanks",
             "user": {"email": "canary@example.com", "ip": "203.0.113.9", "user_agent": "UA/1"},
             "order": {"value": 12.5, "currency": "EUR"}}
    meta_event = {"event_name": "Lead", "event_time": int(time.time()), "event_id": "CANARY-2",
                  "action_source": "website", "event_source_url": "https://shop.example/",
                  "user_data": {"client_ip_address": "203.0.113.9", "client_user_agent": "UA/1",
                                "fbp": "fb.1.1700000000000.42"}}
    responses: list[httpx.Response] = []
    deadline = time.monotonic() + 20
    with httpx.Client(base_url=base, timeout=10) as client:
        while True:
            try:
                client.get("/healthz")
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        pixel = fake.pixel_id
        calls = [
            client.post("/v1/events", json={"events": [event, {"event_name": ""}]}, headers=good),
            client.post("/v1/events", json={"events": [event]}),
            # A client pasting the Meta token where the API key goes: refused, never echoed.
            client.post("/v1/events", json={"events": [event]},
                        headers={"Authorization": f"Bearer {TOKEN}"}),
            client.post("/v1/events", content=b"x" * 100, headers=good),
            client.post("/v1/events", json=[event], headers=good),
            client.post("/v1/events", content=b"{" * (6 * 1024 * 1024), headers=good),
            client.get("/v1/events/NOPE", headers=good),
            client.post(f"/v26.0/{pixel}/events", params={"access_token": API_KEY},
                        json={"data": [meta_event]}),
            client.post(f"/v26.0/{pixel}/events", data={"access_token": API_KEY,
                                                       "data": json.dumps([meta_event])}),
            client.post(f"/v26.0/{pixel}/events", params={"access_token": TOKEN},
                        json={"data": [meta_event]}),
            client.post(f"/v26.0/{pixel}/events", params={"access_token": API_KEY},
                        json={"data": [{**meta_event, "event_time": 1}]}),
            client.post("/v26.0/1/events", headers={"Authorization": f"Bearer {API_KEY}"},
                        json={"data": [meta_event]}),
            client.get(f"/v26.0/{pixel}/events", params={"access_token": API_KEY}),
            client.get("/openapi.json"),
            client.get(f"/nothing?access_token={API_KEY}"),
        ]
        responses.extend(calls)
        for _ in range(100):  # let the worker deliver to Meta and fail on GA4 (error path)
            view = client.get("/v1/events/CANARY-1", headers=good)
            statuses = {d["destination"]: d for d in view.json()["events"][0]["destinations"]}
            if statuses["meta"]["status"] == "delivered" and statuses["ga4"]["attempts"]:
                break
            time.sleep(0.1)
        day = time.strftime("%Y-%m-%d", time.gmtime())
        responses += [view, client.get("/v1/events/CANARY-2", headers=good),
                      client.get("/healthz"), client.get("/metrics"),
                      client.get("/v1/reports/reconciliation", params={"since": day},
                                 headers=good),
                      client.get("/v1/reports/reconciliation/orders", params={"since": day},
                                 headers=good),
                      client.get("/v1/reports/reconciliation", params={"since": "nope"},
                                 headers=good),
                      client.get("/v1/reports/match-quality", params={"since": day},
                                 headers=good),
                      client.get("/v1/reports/match-quality", params={"since": "nope"},
                                 headers=good),
                      # The import's answers name a bad line's column, never what it held.
                      client.post("/v1/imports/offline", headers={
                          **good, "Content-Type": "text/csv"},
                          content=b"receipt_id,event_time,value,currency,email\n"
                                  b"CANARY-3,2026-11-30T10:00:00Z,x," + API_KEY.encode()
                                  + b",canary@example.com\n"),
                      # No webhook secret and no console password here: refused, nothing echoed.
                      client.post("/webhooks/shopify", content=TOKEN.encode(), headers={
                          "X-Shopify-Hmac-Sha256": TOKEN, "Content-Type": "application/json"}),
                      client.get("/dashboard"),
                      client.post("/dashboard/login", data={"password": TOKEN})]
    assert responses[0].status_code == 202 and responses[7].status_code == 200
    assert [r.status_code for r in responses[1:7]] == [401, 401, 400, 400, 413, 404]
    # match-quality, its bad period, the import (its one line rejected), webhook, console.
    assert [r.status_code for r in responses[-6:]] == [200, 400, 200, 404, 403, 403]
    assert responses[-4].json()["rejected"] == 1
    assert statuses["meta"]["status"] == "delivered", statuses
    assert "CANARY-1" in fake.event_ids()
    return [r.text + json.dumps(dict(r.headers)) for r in responses]
