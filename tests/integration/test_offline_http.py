"""POST /v1/imports/offline: the same file as the CLI test, streamed to the app (issue 16)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import API_KEY, SettingsFactory, app_client
from tests.integration.offline_files import write_sales
from tests.integration.test_offline_import import stored
from tests.pg import pg_url  # noqa: F401 (the fixture)
from trackside.runtime import Runtime

AUTH = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "text/csv"}
URL = "/v1/imports/offline"


async def chunks_of(path: Path, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    """The file as a client streams it: chunks that cut lines anywhere (no Content-Length)."""
    data = path.read_bytes()
    for start in range(0, len(data), size):
        yield data[start:start + size]


# PostgreSQL with fewer rows: a re-run's 10,000 duplicates each go through the duplicate merge
# (trackside.context), two minutes on the shared machine; the numbers are SQLite's job here.
@pytest.mark.parametrize(("backend", "rows"), [("sqlite", 10_000), ("postgres", 2_000)])
async def test_ten_thousand_rows_over_http_twice(
        tmp_path: Path, settings_factory: SettingsFactory, backend: str, rows: int,
        request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("pg_url") if backend == "postgres" else \
        f"sqlite:///{tmp_path / 'store.db'}"
    sales = write_sales(tmp_path / "sales.csv", rows=rows)
    good = rows - 20
    runtime = Runtime.from_settings(settings_factory(database_url=url))
    try:
        async for client in app_client(runtime):
            first = await client.post(URL, headers=AUTH, content=chunks_of(sales.path),
                                      timeout=600)
            assert first.status_code == 200, first.text
            body = first.json()
            assert (body["rows"], body["queued"], body["duplicate"], body["rejected"]) == \
                (rows, good, 0, 20)
            assert {e["line"]: e["field"] for e in body["errors"]} == sales.bad_lines
            assert body["ignored_columns"] == ["note"]
            second = await client.post(URL, headers=AUTH, content=sales.path.read_bytes(),
                                       timeout=600)
            again = second.json()
            assert (again["queued"], again["duplicate"], again["rejected"]) == (0, good, 20)
    finally:
        runtime.close()
    assert stored(url) == (good, good)


async def test_refusals_name_the_problem(tmp_path: Path,
                                         settings_factory: SettingsFactory) -> None:
    good = b"receipt_id,event_time,value,currency,email\nR1,2026-11-30T10:00:00Z,5,EUR,a@x.fr\n"
    runtime = Runtime.from_settings(settings_factory(max_import_bytes=4096))
    try:
        async for client in app_client(runtime):
            async def post(body: bytes | AsyncIterator[bytes], *, query: str = "",
                           on: httpx.AsyncClient = client, **headers: str) -> httpx.Response:
                return await on.post(URL + query, content=body, headers={**AUTH, **headers})

            assert (await post(good, Authorization="Bearer nope")).status_code == 401
            wrong_type = await post(good, **{"Content-Type": "application/json"})
            assert wrong_type.status_code == 415
            source = await post(good, query="?action_source=website")
            assert source.status_code == 400
            assert source.json()["error"]["errors"][0]["field"] == "action_source"
            mapping = await post(good, query="?map=receipt_id")
            assert mapping.status_code == 400
            assert mapping.json()["error"]["errors"][0]["field"] == "map"
            header = await post(b"receipt_id,value\nR1,5\n")
            assert header.status_code == 400 and "event_time" in header.json()["error"]["message"]
            assert (await post(b"")).status_code == 400
            declared = await post(good + b"R2,2026-11-30T10:00:00Z,5,EUR,b@x.fr\n" * 200)
            assert declared.status_code == 413

            async def streamed() -> AsyncIterator[bytes]:
                yield good
                for index in range(200):
                    yield f"S{index},2026-11-30T10:00:00Z,5,EUR,b@x.fr\n".encode()

            over = await post(streamed())
            assert over.status_code == 413
            # What came before the limit is committed batch by batch; the answer says so.
            assert "summary" in over.json() and over.json()["error"]["status"] == 413
            mapped = await post(b"Ticket,event_time,value,currency,email\n"
                                b"T1,2026-11-30T10:00:00Z,5,EUR,a@x.fr\n",
                                query="?map=Ticket%3Dreceipt_id&action_source=phone_call")
            assert mapped.status_code == 200 and mapped.json()["queued"] == 1
            assert API_KEY not in mapped.text
            # A rejected line is named by its number and column, never by what it holds.
            canary = await post(b"receipt_id,event_time,value,currency,email,phone\n"
                                b"C1,2026-11-30T10:00:00Z,abc,EUR,canary.person@example.com,"
                                b"+33 6 99 88 77 66\n")
            assert canary.json()["errors"] == [
                {"line": 2, "field": "value",
                 "reason": "must be a number such as 19.90 (a dot for decimals)"}]
            assert "canary" not in canary.text and "99 88" not in canary.text
    finally:
        runtime.close()
