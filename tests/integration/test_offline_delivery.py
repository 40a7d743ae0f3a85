"""Offline sales at the fake Graph API: action_source sent, Meta's 62-day window for
physical_store events, and never one request with website events (issue 16).

Meta: "If any event_time in data is greater than 7 days in the past, we return an error for the
entire request"; "for offline and physical store events with physical_store as action_source,
you should upload transactions within 62 days of the conversion"
(https://developers.facebook.com/documentation/ads-commerce/conversions-api/parameters/server-event).
The fake's own check (tests/fakes/meta_checks.py) takes the 62 days only
in a request of physical_store events alone.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from tests.fakes.fixtures import RuntimeFactory, fake_graph, graph_runtime  # noqa: F401
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.meta_checks import FakeRules
from tests.integration.offline_files import iso
from trackside.runtime import Runtime
from trackside.sources.offline.importer import OfflineImport, import_file

DAY = 86400


def website_purchase(event_id: str, age_s: float) -> dict[str, object]:
    return {
        "event_name": "Purchase", "event_id": event_id, "event_time": int(time.time() - age_s),
        "event_source_url": "https://shop.example/thanks",
        "user": {"email": "web@example.com", "ip": "203.0.113.7",
                 "user_agent": "Mozilla/5.0 (X11; Linux x86_64)"},
        "order": {"reference": event_id, "value": 10, "currency": "EUR"},
    }


def import_rows(runtime: Runtime, path: Path, rows: list[tuple[str, float]],
                action_source: str = "physical_store", refused: int = 0) -> list[str]:
    """Imports ``rows``; ``refused`` of them are past every window: the reasons, by line."""
    lines = ["receipt_id,event_time,value,currency,email,item_number"]
    lines += [f"{receipt},{iso(time.time() - age)},25.5,EUR,{receipt}@example.com,1"
              for receipt, age in rows]
    path.write_text("\n".join(lines) + "\n")
    job = OfflineImport({}, "phone_call" if action_source == "phone_call" else "physical_store",
                        runtime.settings.max_event_bytes)
    summary = import_file([path.read_bytes()], job, runtime.pipeline)
    assert (summary.queued, summary.rejected) == (len(rows) - refused, refused), \
        summary.as_dict()
    return [f"{e.line}: {e.field}: {e.reason}" for e in summary.errors]


async def drain(runtime: Runtime) -> None:
    async with runtime.worker() as worker:
        await worker.drain(timeout_s=60)


def outcome(runtime: Runtime, event_id: str) -> tuple[str, str | None]:
    [view] = runtime.store.event_view(event_id)
    [row] = [row for row in view.outbox if row.destination == "meta"]
    return row.status, row.message


@pytest.fixture
def offline_graph(fake_graph: FakeGraphAPI) -> FakeGraphAPI:  # noqa: F811
    fake_graph.rules = FakeRules(allow_physical_store_62d=True)
    return fake_graph


def test_the_fake_refuses_an_old_physical_store_event_beside_a_website_event(
        offline_graph: FakeGraphAPI) -> None:
    def post(events: list[dict[str, object]]) -> httpx.Response:
        return httpx.post(f"{offline_graph.url}/{max(offline_graph.rules.versions)}/"
                          f"{offline_graph.pixel_id}/events",
                          data={"data": json.dumps(events), "access_token": offline_graph.token})

    now = int(time.time())
    store_sale = {"event_name": "Purchase", "event_time": now - 30 * DAY,
                  "action_source": "physical_store", "event_id": "offline:S1",
                  "user_data": {"em": ["a" * 64]},
                  "custom_data": {"value": 5, "currency": "EUR"}}
    web_sale = {**store_sale, "action_source": "website", "event_time": now,
                "event_id": "W1", "event_source_url": "https://shop.example/thanks",
                "user_data": {"em": ["b" * 64], "client_user_agent": "Mozilla/5.0",
                              "client_ip_address": "203.0.113.7"}}
    assert post([store_sale]).status_code == 200
    mixed = post([web_sale, store_sale])
    assert mixed.status_code == 400
    assert mixed.json()["error"]["error_subcode"] == 2804003


async def test_offline_sales_reach_meta_in_requests_of_their_own(
        offline_graph: FakeGraphAPI, graph_runtime: RuntimeFactory,  # noqa: F811
        tmp_path: Path) -> None:
    runtime = graph_runtime(consent_mode="off")
    # Past the windows (62 days for physical_store, 7 days for a phone call): refused at
    # import, line by line (issue 18), never stored to expire later.
    [store_refused] = import_rows(
        runtime, tmp_path / "store.csv",
        [("S30", 30 * DAY), ("S61", 61 * DAY), ("S1", 3600), ("S70", 70 * DAY)], refused=1)
    assert store_refused.startswith("5: event_time: meta: would be refused: ")
    assert "62 days" in store_refused
    [phone_refused] = import_rows(runtime, tmp_path / "phone.csv",
                                  [("P1", 3600), ("P10", 10 * DAY)],
                                  action_source="phone_call", refused=1)
    assert phone_refused.startswith("3: event_time: ") and "7 days" in phone_refused
    runtime.pipeline.accept([website_purchase(f"W{n}", 3600) for n in range(3)], source="api")
    await drain(runtime)

    sent = {event["event_id"]: event.payload for event in offline_graph.events}
    assert set(sent) == {"offline:S30:1", "offline:S61:1", "offline:S1:1", "offline:P1:1",
                         "W0", "W1", "W2"}
    assert sent["offline:S30:1"]["action_source"] == "physical_store"
    assert sent["offline:P1:1"]["action_source"] == "phone_call"
    assert sent["offline:S30:1"]["custom_data"]["item_number"] == "1"
    assert sent["offline:S30:1"]["custom_data"]["order_id"] == "S30"
    for request in offline_graph.requests:
        sources = {event.get("action_source") for event in request.events}
        assert request.accepted, request
        assert sources == {"physical_store"} or "physical_store" not in sources
    assert not runtime.store.event_view("offline:S70:1")
    assert not runtime.store.event_view("offline:P10:1")
    assert outcome(runtime, "offline:S61:1")[0] == "delivered"
