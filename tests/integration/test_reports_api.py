"""GET /v1/reports/reconciliation(/orders) with hostile parameters: each a 400 naming the
parameter (never a 500), the API key's shop only, and no report without a key."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import app_client
from trackside.runtime import Runtime
from trackside.shops import load_shops

KEY_A = "alpha-key-canary-1111111111"
KEY_B = "beta-key-canary-2222222222"
RECON = "/v1/reports/reconciliation"
ORDERS = "/v1/reports/reconciliation/orders"
DAY = time.strftime("%Y-%m-%d", time.gmtime())


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    config = tmp_path / "trackside.toml"
    config.write_text(f"""
database_url = "sqlite:///{tmp_path}/shops.db"
join_window_s = 0
[shops.alpha]
api_keys = ["{KEY_A}"]
[shops.beta]
api_keys = ["{KEY_B}"]
""", encoding="utf-8")
    rt = Runtime.from_shops(load_shops({"TRACKSIDE_CONFIG": str(config)}))
    order = {"event_name": "Purchase", "event_time": int(time.time()) - 60,
             "order": {"reference": "A-1", "value": 12.5, "currency": "EUR"},
             "user": {"email": "a@example.com"}}
    rt.shop("alpha").pipeline.accept([order], "api")
    try:
        yield rt
    finally:
        rt.close()


@pytest.fixture
async def client(runtime: Runtime) -> object:
    async for c in app_client(runtime):
        yield c


def auth(key: str = KEY_A) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_the_key_decides_the_shop(client: httpx.AsyncClient) -> None:
    alpha = (await client.get(RECON, params={"since": DAY}, headers=auth())).json()
    beta = (await client.get(RECON, params={"since": DAY}, headers=auth(KEY_B))).json()
    assert alpha["shop"] == "alpha" and alpha["orders"] == {"count": 1, "value": {"EUR": 12.5}}
    assert beta["shop"] == "beta" and beta["orders"] == {"count": 0, "value": {}}
    assert beta["pixel_missed"]["share"] is None
    listed = (await client.get(ORDERS, params={"since": DAY}, headers=auth(KEY_B))).json()
    assert listed["orders"] == [] and listed["next_cursor"] is None


async def test_without_a_valid_key_nothing(client: httpx.AsyncClient) -> None:
    for path in (RECON, ORDERS):
        assert (await client.get(path, params={"since": DAY})).status_code == 401
        answer = await client.get(path, params={"since": DAY}, headers=auth("wrong"))
        assert answer.status_code == 401


@pytest.mark.parametrize(("params", "field"), [
    ({}, "since"),
    ({"since": ""}, "since"),
    ({"since": "yesterday"}, "since"),
    ({"since": "2026-02-30"}, "since"),
    ({"since": "2026-1-5"}, "since"),
    ({"since": "２０２６-01-05"}, "since"),
    ({"since": "x" * 60_000}, "since"),
    ({"since": "2026-11-20\n"}, "since"),
    ({"since": DAY, "until": "2026-13-01"}, "until"),
    ({"since": "2026-11-20", "until": "2026-11-19"}, "until"),
    ({"since": "2024-01-01", "until": "2025-01-02"}, "until"),
    ({"since": "0001-01-01", "until": "9999-12-31"}, "until"),
])
async def test_bad_periods_are_400_naming_the_parameter(
    client: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    for path in (RECON, ORDERS):
        answer = await client.get(path, params=params, headers=auth())
        assert answer.status_code == 400, answer.text
        [error] = answer.json()["error"]["errors"]
        assert error["field"] == field
        value = params.get(field, "")
        if len(value) > 4:  # a submitted value is never echoed (it may be anything)
            assert value not in answer.text


@pytest.mark.parametrize(("params", "field"), [
    ({"filter": "everything"}, "filter"),
    ({"filter": "suppressed.weather"}, "filter"),
    ({"filter": "pixel_missed.meta"}, "filter"),
    ({"cursor": "abc"}, "cursor"),
    ({"cursor": "1.2.3"}, "cursor"),
    ({"cursor": "9" * 40 + ".1"}, "cursor"),
    ({"limit": "0"}, "limit"),
    ({"limit": "1001"}, "limit"),
    ({"limit": "-1"}, "limit"),
    ({"limit": "ten"}, "limit"),
    ({"limit": "9" * 50}, "limit"),
])
async def test_bad_list_parameters_are_400_naming_them(
    client: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    answer = await client.get(ORDERS, params={"since": DAY, **params}, headers=auth())
    assert answer.status_code == 400, answer.text
    assert [e["field"] for e in answer.json()["error"]["errors"]] == [field]


async def test_the_list_of_one_order(client: httpx.AsyncClient) -> None:
    page = (await client.get(ORDERS, params={"since": DAY, "filter": "pixel_missed"},
                             headers=auth())).json()
    [entry] = page["orders"]
    assert entry["event_id"] == "A-1" and entry["value"] == 12.5
    assert entry["pixel_fired"] is False
    assert {"orders", "pixel_missed"} <= set(entry["counted_in"])
    assert page["next_cursor"] is None
