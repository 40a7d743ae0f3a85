"""PostgreSQL restarted under a running `trackside serve` (issue 14): a private cluster
(tests/pgcluster.py, never the shared service) is restarted (`pg_ctl restart`) and then crashed
(`pg_ctl stop -m immediate`) and started again while a client posts purchases. No 202 is lost:
every acknowledged event is stored and reaches the fake Graph API. During the outage requests
are answered 503 with Retry-After (never a 500, never a hang past the client's timeout),
/healthz says the store is unreachable, and the worker backs off and resumes."""

from __future__ import annotations

import random
import secrets
import subprocess
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.fakes.fixtures import fake_graph  # noqa: F401
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import free_port
from tests.fleet import TRACKSIDE, Poster, start_serve, stop, trackside_env, wait_delivered
from tests.pgcluster import private_cluster
from tests.waiting import wait_until

pytest.importorskip("trackside.store.postgres", reason="the PostgreSQL store (engineer P)")

CLIENT_TIMEOUT_S = 10.0


HEALTH_BODIES: list[str] = []


def health(port: int) -> dict[str, object]:
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
    except httpx.HTTPError:
        return {}
    HEALTH_BODIES.append(response.text)
    body = response.json()
    assert isinstance(body, dict)
    return body


def stored_event_ids(url: str) -> set[str]:
    with psycopg.connect(url) as connection:
        return {row[0] for row in connection.execute("SELECT event_id FROM events")}


@pytest.mark.slow
def test_postgresql_restarted_and_crashed_during_ingest_loses_no_acknowledged_event(
    fake_graph: FakeGraphAPI, tmp_path: Path  # noqa: F811
) -> None:
    rng = random.Random(14)
    with private_cluster() as cluster:
        # A canary password in the URL (trust auth ignores it): the outage's connection errors
        # are logged and shown by /healthz, and it must appear in none of them.
        canary = f"canary-{secrets.token_hex(8)}"
        url = cluster.create_database("trackside").replace("postgres@", f"postgres:{canary}@")
        env = trackside_env(url, fake_graph, worker_lease_s="5")
        subprocess.run([*TRACKSIDE, "migrate"], env=env, check=True, capture_output=True)
        port = free_port()
        server = start_serve(env, port, log=tmp_path / "serve.log")
        poster = Poster([f"http://127.0.0.1:{port}"], batch_size=lambda: rng.randint(1, 20),
                        threads=2, timeout_s=CLIENT_TIMEOUT_S)
        poster.start()

        def accepting_more(than: int, what: str) -> None:
            wait_until(lambda: poster.accepted_count() > than + 50, timeout_s=60, what=what)

        try:
            accepting_more(0, "ingest to run")
            wait_until(lambda: fake_graph.events, timeout_s=30, what="deliveries to run")

            cluster.restart()
            accepting_more(poster.accepted_count(), "ingest after pg_ctl restart")
            wait_until(lambda: health(port).get("store") == "ok", timeout_s=30,
                       what="/healthz ok after the restart")

            cluster.crash()
            try:
                wait_until(lambda: health(port).get("store") == "unreachable", timeout_s=30,
                           what="/healthz to report the store unreachable")
            except AssertionError as exc:
                raise AssertionError(f"{exc}; it said {HEALTH_BODIES[-3:]}") from None
            assert health(port)["status"] == "failing"
            # The outage lasts a few refused requests (each answered within about 1.5 s),
            # long enough for a worker that did not back off to spin.
            refusals_before = len(poster.refusals)
            wait_until(lambda: len(poster.refusals) >= refusals_before + 3, timeout_s=60,
                       what="requests answered during the outage")
            delivered_before = len(fake_graph.events)
            cluster.start()
            wait_until(lambda: health(port).get("store") == "ok", timeout_s=60,
                       what="/healthz ok after the crash and start")
            accepting_more(poster.accepted_count(), "ingest after the crash")
            # The worker resumed on its own: events accepted after the outage are delivered.
            wait_until(lambda: len(fake_graph.events) > delivered_before, timeout_s=60,
                       what="the worker to resume delivering")
            poster.stop()
            drained = wait_delivered(fake_graph, poster.accepted, timeout_s=120)
            stored = stored_event_ids(url)
            final_health = health(port)
        finally:
            poster.stop()
            # Always: a failed step must not leave the server running after the test.
            exit_code = stop(server)

    accepted = poster.accepted
    print(f"pg restart: {len(accepted)} acknowledged, answers {dict(poster.statuses)}, "
          f"longest request {poster.longest_request_s:.1f} s, "
          f"{len(fake_graph.events)} sends for {len(set(fake_graph.event_ids()))} events")
    assert not accepted - stored, f"acknowledged but not stored: {sorted(accepted - stored)[:10]}"
    assert drained, f"never delivered: {sorted(accepted - set(fake_graph.event_ids()))[:10]}"
    assert poster.refusals, "the outage was not seen by the client"
    assert {status for status, _ in poster.refusals} == {503}, poster.statuses
    assert all(retry_after and int(retry_after) > 0 for _, retry_after in poster.refusals)
    assert poster.statuses["error"] == 0, "a request went unanswered (a hang, a dropped socket)"
    assert poster.longest_request_s < CLIENT_TIMEOUT_S
    assert final_health["status"] == "ok", final_health
    assert final_health["worker"] == "ok"
    assert exit_code == 0
    log_text = (tmp_path / "serve.log").read_text()
    assert "could not" in log_text or "failed" in log_text, "the outage left no trace in the log"
    assert canary not in log_text, "the database password was logged"
    assert not any(canary in body for body in HEALTH_BODIES), "/healthz showed the password"
    assert not any(canary in text for text in poster.refusal_bodies), "a 503 showed it"
    # The worker backs off while the store is down: a few failed cycles per lane, not a loop.
    failed_cycles = (tmp_path / "serve.log").read_text().count("failed unexpectedly; retrying")
    print(f"pg restart: {failed_cycles} failed delivery cycles logged over both outages")
    assert failed_cycles <= 40
