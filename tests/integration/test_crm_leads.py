"""CRM leads (Meta's Conversion Leads) and subscription renewals through POST /v1/events and
``trackside import leads``, ending at the strict fake Graph API.

Meta's CRM payload: action_source system_generated, custom_data.event_source "crm" and
custom_data.lead_event_source (the CRM's name), the stage as a free-form event name, a 15-17
digit user_data.lead_id (https://developers.facebook.com/docs/marketing-api/conversions-api/
conversion-leads-integration/payload-specification); the fake checks these with its own code
(tests/fakes/meta_event_checks.py, rule 18).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import API_KEY, app_client
from tests.fakes.fixtures import fake_graph  # noqa: F401
from tests.fakes.graph_api import FakeGraphAPI
from trackside.runtime import Runtime

LEAD = "123456789012345"
OTHER_LEAD = "98765432109876543"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
TRACKSIDE = str(Path(sys.executable).with_name("trackside"))


@pytest.fixture
def runtime(fake_graph: FakeGraphAPI, tmp_path: Path) -> Any:  # noqa: F811
    rt = Runtime.from_settings(fake_graph.settings(
        database_url=f"sqlite:///{tmp_path}/crm.db", api_keys=[API_KEY], join_window_s=0,
        server_event_consent="grant", crm_name="HubSpot"))
    yield rt
    rt.close()


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async for c in app_client(runtime):
        yield c


async def drain(runtime: Runtime) -> None:
    async with runtime.worker() as worker:
        await worker.drain()


def stage(name: str, lead: str = LEAD, **extra: Any) -> dict[str, Any]:
    return {"event_name": name, "action_source": "system_generated",
            "user": {"lead_id": lead, "email": "lead@example.com"}, **extra}


async def test_the_same_stage_twice_is_one_event(
    client: httpx.AsyncClient, runtime: Runtime, fake_graph: FakeGraphAPI,  # noqa: F811
) -> None:
    first = await client.post("/v1/events", json={"events": [stage("Lead")]}, headers=AUTH)
    again = await client.post("/v1/events", json={"events": [
        stage("Lead", event_time=int(time.time()) - 30)]}, headers=AUTH)
    assert first.status_code == again.status_code == 202
    assert first.json()["results"][0]["event_id"] == f"lead:{LEAD}:Lead"
    assert again.json()["results"][0]["status"] == "duplicate"
    await drain(runtime)
    [event] = fake_graph.events
    assert event["event_id"] == f"lead:{LEAD}:Lead"
    assert event["action_source"] == "system_generated"
    assert event["user_data"]["lead_id"] == int(LEAD)
    assert event["custom_data"]["event_source"] == "crm"
    assert event["custom_data"]["lead_event_source"] == "HubSpot"  # TRACKSIDE_CRM_NAME


async def test_three_stages_are_three_events_with_their_names(
    client: httpx.AsyncClient, runtime: Runtime, fake_graph: FakeGraphAPI,  # noqa: F811
) -> None:
    events = [stage("Lead"), stage("QualifiedLead"),
              stage("Converted", custom_data={"lead_event_source": "Salesforce"})]
    answer = await client.post("/v1/events", json={"events": events}, headers=AUTH)
    assert answer.json()["queued"] == 3
    await drain(runtime)
    assert sorted((e["event_name"], e["event_id"], e["custom_data"]["lead_event_source"])
                  for e in fake_graph.events) == [
        ("Converted", f"lead:{LEAD}:Converted", "Salesforce"),
        ("Lead", f"lead:{LEAD}:Lead", "HubSpot"),
        ("QualifiedLead", f"lead:{LEAD}:QualifiedLead", "HubSpot"),
    ]


async def test_a_bad_lead_id_or_no_crm_name_is_refused_naming_the_field(
    fake_graph: FakeGraphAPI, tmp_path: Path,  # noqa: F811
) -> None:
    rt = Runtime.from_settings(fake_graph.settings(
        database_url=f"sqlite:///{tmp_path}/nocrm.db", api_keys=[API_KEY],
        server_event_consent="grant"))
    try:
        async for client in app_client(rt):
            events = [stage("Lead", lead="12345"), stage("Lead"),
                      stage("Lead", lead=OTHER_LEAD,
                            custom_data={"lead_event_source": "Pipedrive"}),
                      stage("Lead", lead="1234567890123456789")]
            body = (await client.post("/v1/events", json={"events": events},
                                      headers=AUTH)).json()
            assert [r["status"] for r in body["results"]] == [
                "rejected", "rejected", "queued", "rejected"]
            fields = [[e["field"] for e in r.get("errors", [])] for r in body["results"]]
            assert fields == [["events[0].user.lead_id"],
                              ["events[1].custom_data.lead_event_source"], [],
                              ["events[3].user.lead_id"]]
        await drain(rt)
        assert [e["event_id"] for e in fake_graph.events] == [f"lead:{OTHER_LEAD}:Lead"]
    finally:
        rt.close()


async def test_a_subscription_renewal_from_any_backend_gets_the_renewal_id(
    client: httpx.AsyncClient, runtime: Runtime, fake_graph: FakeGraphAPI,  # noqa: F811
) -> None:
    renewal = {"event_name": "Purchase", "user": {"email": "sub@example.com"},
               "order": {"subscription_id": "sub_42", "period": "2026-11-01", "value": 9.9,
                         "currency": "EUR"}}
    as_datetime = {**renewal, "order": {**renewal["order"], "period": "2026-11-01T00:00:00Z"}}
    bad = [{**renewal, "order": {"subscription_id": "sub_42", "value": 9.9, "currency": "EUR"}},
           {**renewal, "order": {"period": "2026-11-01", "value": 9.9, "currency": "EUR"}},
           {**renewal, "order": {**renewal["order"], "period": "November"}}]
    answer = await client.post("/v1/events", json={"events": [renewal, as_datetime, *bad]},
                               headers=AUTH)
    results = answer.json()["results"]
    assert [r["status"] for r in results] == ["queued", "duplicate", "rejected", "rejected",
                                              "rejected"]
    assert results[0]["event_id"] == "renewal:sub_42:2026-11-01"
    assert [[e["field"] for e in r["errors"]] for r in results[2:]] == [
        ["events[2].order.period"], ["events[3].order.period"], ["events[4].order.period"]]
    await drain(runtime)
    [event] = fake_graph.events
    assert (event["event_name"], event["event_id"], event["action_source"]) == (
        "Purchase", "renewal:sub_42:2026-11-01", "system_generated")
    assert event["custom_data"]["subscription_id"] == "sub_42"
    assert event["user_data"]["subscription_id"] == "sub_42"


def run_leads(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TRACKSIDE, "import", "leads", *args], capture_output=True,
                          text=True, env=env, timeout=300, check=False)


async def test_import_leads_twice_adds_nothing_and_names_bad_lines(
    fake_graph: FakeGraphAPI, tmp_path: Path,  # noqa: F811
) -> None:
    database = f"sqlite:///{tmp_path}/leads.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKSIDE_")}
    env.update({"TRACKSIDE_DATABASE_URL": database,
                "TRACKSIDE_META_PIXEL_ID": fake_graph.pixel_id,
                "TRACKSIDE_META_ACCESS_TOKEN": fake_graph.token,
                "TRACKSIDE_META_GRAPH_URL": fake_graph.url,
                "TRACKSIDE_META_API_VERSION": fake_graph.settings().meta_api_version,
                "TRACKSIDE_SERVER_EVENT_CONSENT": "grant"})
    now = int(time.time())
    leads = tmp_path / "leads.csv"
    leads.write_text(
        "lead_id,stage,event_time,email,crm,notes\n"
        f"{LEAD},Lead,{now - 3600},a@example.com,,called\n"
        f"{LEAD},QualifiedLead,{now - 600},a@example.com,,\n"
        f"{LEAD},Converted,{now - 60},a@example.com,Salesforce,\n"
        f"{LEAD},Lead,{now - 30},a@example.com,,the same stage again\n"
        f"12345,Lead,{now},b@example.com,,\n"
        f",Lead,{now},c@example.com,,\n", encoding="utf-8")
    first = run_leads(env, str(leads), "--crm", "HubSpot")
    assert first.returncode == 1, first.stdout + first.stderr
    assert "line 6: lead_id: must be Meta's lead id" in first.stdout
    assert "line 7: lead_id: is required" in first.stdout
    assert "columns ignored: notes" in first.stdout
    assert "6 rows: 3 queued, 1 duplicate, 2 rejected" in first.stdout
    again = run_leads(env, str(leads), "--crm", "HubSpot")
    assert "6 rows: 0 queued, 4 duplicate, 2 rejected" in again.stdout
    rt = Runtime.from_settings(fake_graph.settings(database_url=database,
                                                   server_event_consent="grant"))
    try:
        await drain(rt)
    finally:
        rt.close()
    assert sorted((e["event_name"], e["custom_data"]["lead_event_source"])
                  for e in fake_graph.events) == [
        ("Converted", "Salesforce"), ("Lead", "HubSpot"), ("QualifiedLead", "HubSpot")]
    assert all(e["custom_data"]["event_source"] == "crm" for e in fake_graph.events)
    missing = tmp_path / "no-stage.csv"
    missing.write_text(f"lead_id,email\n{LEAD},a@example.com\n", encoding="utf-8")
    refused = run_leads(env, str(missing))
    assert refused.returncode == 2 and "no stage column" in refused.stderr
