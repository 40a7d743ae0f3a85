"""GET /v1/reports/match-quality: the API key's shop, exact shares of events accepted through
/v1/events, Meta's figures beside trackside's, and bad periods refused naming the parameter."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.integration.test_api import assert_error_shape
from trackside.quality import MATCH_KEYS
from trackside.runtime import Runtime
from trackside.store import DatasetQuality

TODAY = datetime.now(UTC).date().isoformat()


def purchase(event_id: str, *, ip: bool) -> dict[str, Any]:
    user: dict[str, Any] = {"email": f"shopper{event_id}@example.com",
                            "user_agent": "Mozilla/5.0 (X11; Linux x86_64)"}
    if ip:
        user["ip"] = "203.0.113.7"
    return {"event_name": "Purchase", "event_id": event_id,
            "event_source_url": "https://shop.example/thanks", "user": user,
            "order": {"reference": event_id, "value": 10, "currency": "EUR"}}


async def test_shares_of_the_events_accepted(client: httpx.AsyncClient, auth: dict[str, str],
                                             runtime: Runtime) -> None:
    events = [purchase(f"R{n}", ip=n % 4 == 0) for n in range(8)]
    answer = await client.post("/v1/events", json={"events": events}, headers=auth)
    assert answer.json()["queued"] == 8
    response = await client.get("/v1/reports/match-quality", params={"since": TODAY},
                                headers=auth)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"since", "until", "events", "meta_status"}
    assert body["meta_status"] is None
    row, = body["events"]
    assert set(row) == {"event_name", "count", "keys", "estimate", "meta"}
    assert (row["event_name"], row["count"], row["meta"]) == ("Purchase", 8, None)
    assert list(row["keys"]) == list(MATCH_KEYS)
    assert row["keys"]["em"] == 1.0 and row["keys"]["client_user_agent"] == 1.0
    assert row["keys"]["client_ip_address"] == 0.25 and row["keys"]["ph"] == 0.0
    # 2.5 (em) + 0.5 (user agent) + 0.75 × 0.25 (IP) = 3.1875
    assert row["estimate"] == 3.2


async def test_meta_figures_and_the_fetch_failure_are_shown(
        client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime) -> None:
    await client.post("/v1/events", json={"events": [purchase("R1", ip=True)]}, headers=auth)
    now = time.time()
    runtime.store.save_dataset_quality(DatasetQuality(
        "default", "1234", now, None, None,
        "the access token may not read this dataset's quality (HTTP 400, code 10: …)"))
    body = (await client.get("/v1/reports/match-quality", params={"since": TODAY},
                             headers=auth)).json()
    assert body["events"][0]["meta"] is None
    assert "code 10" in body["meta_status"]["error"]
    assert body["meta_status"]["fetched_at"] is None
    runtime.store.save_dataset_quality(DatasetQuality(
        "default", "1234", now, '{"Purchase": {"composite_score": 7.5, "acr_percentage": 3.0,'
        ' "event_coverage_percentage": 64.5}}', now))
    body = (await client.get("/v1/reports/match-quality", params={"since": TODAY},
                             headers=auth)).json()
    meta = body["events"][0]["meta"]
    assert (meta["composite_score"], meta["acr_percentage"],
            meta["event_coverage_percentage"]) == (7.5, 3.0, 64.5)
    assert meta["fetched_at"].endswith("Z")
    assert body["meta_status"]["error"] is None


async def test_an_api_key_is_required(client: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Bearer not-the-key-0000000"}):
        response = await client.get("/v1/reports/match-quality", params={"since": TODAY},
                                    headers=headers)
        assert_error_shape(response, 401)


@pytest.mark.parametrize(("params", "field"), [
    ({}, "since"),
    ({"since": "yesterday"}, "since"),
    ({"since": "2026-13-01"}, "since"),
    ({"since": TODAY, "until": "2000-01-01"}, "until"),
    ({"since": "1990-01-01", "until": TODAY}, "until"),
    ({"since": TODAY, "until": "' OR 1=1 --"}, "until"),
    ({"since": TODAY, "shop": "other"}, "shop"),
    ({"since": "\u202e" + "9" * 5000}, "since"),
])
async def test_bad_query_parameters_are_400_naming_them(
        client: httpx.AsyncClient, auth: dict[str, str], params: dict[str, str],
        field: str) -> None:
    response = await client.get("/v1/reports/match-quality", params=params, headers=auth)
    error = assert_error_shape(response, 400)
    assert [e["field"] for e in error["errors"]] == [field]
    assert "OR 1=1" not in response.text and "9999" not in response.text


async def test_a_repeated_parameter_is_400(client: httpx.AsyncClient,
                                          auth: dict[str, str]) -> None:
    response = await client.get(f"/v1/reports/match-quality?since={TODAY}&since={TODAY}",
                                headers=auth)
    error = assert_error_shape(response, 400)
    assert error["errors"][0]["field"] == "since"

