"""Meta's Dataset Quality figures fetched from the fake Graph API (its own checks: token in the
header, Meta's field table, one dedup spelling served, a code-10 mode): stored per shop, shown
beside trackside's estimate, the field-name fallback, failures stored as the reason instead of
failing, at most once an hour, and a canary token never in a URL, a log, a response or the
database (https://developers.facebook.com/docs/marketing-api/conversions-api/dataset-quality-api).
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import API_KEY, app_client
from tests.fakes.fixtures import RuntimeFactory, fake_graph, graph_runtime  # noqa: F401
from tests.fakes.graph_api import FakeGraphAPI
from trackside import pollers
from trackside.reports.dataset_quality import DatasetQualityPoller, figures_of
from trackside.reports.match_quality import match_quality
from trackside.runtime import Runtime

CANARY = "EAAcanaryDatasetQualityQ7w8e9"


@pytest.fixture
def runtime(graph_runtime: RuntimeFactory, fake_graph: FakeGraphAPI) -> Runtime:  # noqa: F811
    fake_graph.add_token(CANARY, [fake_graph.pixel_id])
    return graph_runtime(meta_access_token=CANARY, api_keys=[API_KEY])


def fetch_once(runtime: Runtime, now: float | None = None) -> None:
    poller = DatasetQualityPoller()
    try:
        poller.run_once(runtime, time.time() if now is None else now)
    finally:
        poller.close()


def test_figures_are_fetched_stored_and_shown(runtime: Runtime,
                                              fake_graph: FakeGraphAPI) -> None:  # noqa: F811
    fetch_once(runtime)
    request, = fake_graph.dataset_quality.requests
    assert request.status == 200 and request.token_location == "bearer"
    assert request.query["dataset_id"] == fake_graph.pixel_id
    stored = runtime.store.dataset_quality()
    assert stored is not None and stored.error is None
    assert stored.dataset_id == fake_graph.pixel_id and stored.figures_at == stored.checked_at
    figures = figures_of(stored)
    assert figures["Purchase"]["composite_score"] == 7.4
    assert figures["Purchase"]["acr_percentage"] == 14.2
    assert figures["Purchase"]["event_coverage_percentage"] == 72.5
    assert figures["Purchase"]["match_key_coverage"] == {"email": 96.5, "ip_address": 88.0}
    assert figures["Purchase"]["dedupe_key_feedback"][0]["dedupe_key"] == "event_id"
    assert figures["AddToCart"]["acr_percentage"] is None


def test_the_other_dedup_spelling_is_the_fallback(runtime: Runtime,
                                                  fake_graph: FakeGraphAPI) -> None:  # noqa: F811
    fake_graph.dataset_quality.served_spelling = "dedup_key_feedback"
    fetch_once(runtime)
    first, second = fake_graph.dataset_quality.requests
    assert first.status == 400 and "dedupe_key_feedback" in first.query["fields"]
    assert second.status == 200 and "dedup_key_feedback{" in second.query["fields"]
    figures = figures_of(runtime.store.dataset_quality())
    assert figures["Purchase"]["dedupe_key_feedback"][0]["dedupe_key"] == "event_id"


def test_a_version_without_acr_gets_the_smaller_field_list(
        runtime: Runtime, fake_graph: FakeGraphAPI) -> None:  # noqa: F811
    fake_graph.dataset_quality.unserved = {"acr"}
    fetch_once(runtime)
    statuses = [r.status for r in fake_graph.dataset_quality.requests]
    assert statuses == [400, 400, 200]
    assert "acr" not in fake_graph.dataset_quality.requests[-1].query["fields"]
    stored = runtime.store.dataset_quality()
    assert stored is not None and stored.error is None
    purchase = figures_of(stored)["Purchase"]
    assert (purchase["composite_score"], purchase["acr_percentage"]) == (7.4, None)


def test_every_field_list_refused_is_stored_as_the_reason(
        runtime: Runtime, fake_graph: FakeGraphAPI) -> None:  # noqa: F811
    fake_graph.dataset_quality.unserved = {"event_match_quality"}
    fetch_once(runtime)
    assert len(fake_graph.dataset_quality.requests) == 4
    stored = runtime.store.dataset_quality()
    assert stored is not None and stored.figures is None
    assert stored.error is not None and "every field list" in stored.error
    assert "code 100" in stored.error


def test_a_permission_error_is_shown_instead_of_failing(
        runtime: Runtime, fake_graph: FakeGraphAPI) -> None:  # noqa: F811
    fetch_once(runtime, now=1000.0)
    fake_graph.dataset_quality.permission_denied = True
    fetch_once(runtime, now=5000.0)
    stored = runtime.store.dataset_quality()
    assert stored is not None and stored.checked_at == 5000.0
    assert stored.error is not None and "code 10" in stored.error
    assert "ads_read" in stored.error
    # The last good figures stay, with their own time.
    assert stored.figures_at == 1000.0 and figures_of(stored)["Purchase"]["composite_score"]

    async def report() -> dict[str, object]:
        async for client in app_client(runtime):
            answer = await client.get("/v1/reports/match-quality", params={"since": "2026-01-01"},
                                      headers={"Authorization": f"Bearer {API_KEY}"})
            assert answer.status_code == 200
            return dict(answer.json())
        raise AssertionError("no client")

    body = asyncio.run(report())
    status = body["meta_status"]
    assert isinstance(status, dict) and "code 10" in status["error"]
    assert status["fetched_at"] == "1970-01-01T00:16:40Z"


def test_unreachable_meta_is_stored_as_the_reason(graph_runtime: RuntimeFactory,  # noqa: F811
                                                   fake_graph: FakeGraphAPI) -> None:  # noqa: F811
    runtime = graph_runtime(meta_graph_url="http://127.0.0.1:9")  # nothing listens on port 9
    fetch_once(runtime)
    stored = runtime.store.dataset_quality()
    assert stored is not None and stored.error is not None
    assert "could not be reached" in stored.error


def test_a_shop_without_meta_credentials_is_not_fetched(graph_runtime: RuntimeFactory,  # noqa: F811
                                                        fake_graph: FakeGraphAPI) -> None:  # noqa: F811
    runtime = graph_runtime(meta_pixel_id=None, meta_access_token=None)
    assert not DatasetQualityPoller().enabled(runtime.settings)
    fetch_once(runtime)
    assert fake_graph.dataset_quality.requests == []
    assert runtime.store.dataset_quality() is None


def test_at_most_once_an_hour_across_processes(runtime: Runtime,
                                               fake_graph: FakeGraphAPI) -> None:  # noqa: F811
    async def twice() -> None:
        for _ in range(2):  # a restart, or a second process on the same store
            stop = asyncio.Event()
            stop.set()  # one pass, then stop
            await pollers.run(DatasetQualityPoller(), runtime, stop)

    asyncio.run(twice())
    assert len(fake_graph.dataset_quality.requests) == 1


def test_the_canary_token_is_never_in_a_url_log_response_or_the_database(
        runtime: Runtime, fake_graph: FakeGraphAPI, tmp_path: Path,  # noqa: F811
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fetch_once(runtime)
    fake_graph.dataset_quality.permission_denied = True
    fetch_once(runtime)
    fake_graph.dataset_quality.permission_denied = False
    fake_graph.dataset_quality.served_spelling = "dedup_key_feedback"
    fetch_once(runtime)
    requests = fake_graph.dataset_quality.requests
    assert len(requests) == 4
    assert all(r.token_location == "bearer" and CANARY not in r.url for r in requests)
    assert CANARY not in caplog.text
    report = match_quality(runtime.store, 0, time.time() + 1).as_dict()
    assert CANARY not in str(report)
    with httpx.Client() as client:  # the fake's answers never echo it either
        assert CANARY not in client.get(requests[0].url,
                                        headers={"Authorization": f"Bearer {CANARY}"}).text
    runtime.store.close()
    for path in tmp_path.glob("*.db*"):
        assert CANARY.encode() not in path.read_bytes(), path
