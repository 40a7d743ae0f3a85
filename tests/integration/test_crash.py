"""Crash safety (issue 3): a real `trackside serve` is SIGKILLed twice while accepting and
delivering a stream of events; after restarts and a drain, every accepted event reached the
fake Graph API, none is missing, and none arrived under two different ids."""

from __future__ import annotations

import os
import random
import time
from collections import defaultdict
from pathlib import Path

import pytest

from tests.fakes.fixtures import fake_graph  # noqa: F401
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import free_port
from tests.fleet import Poster, kill, start_serve, stop, trackside_env, wait_delivered
from tests.waiting import wait_until


@pytest.mark.slow
def test_sigkill_twice_loses_nothing_and_sends_each_once(
    fake_graph: FakeGraphAPI, tmp_path: Path  # noqa: F811
) -> None:
    # CRASH_TEST_SEED, not TRACKSIDE_*: `serve` refuses TRACKSIDE_* variables it does not know.
    seed = int(os.environ.get("CRASH_TEST_SEED", time.time()))
    # Shown with a failure (pytest's captured stdout): CRASH_TEST_SEED=<it> replays the schedule.
    print(f"CRASH_TEST_SEED={seed}")
    rng = random.Random(seed)
    port = free_port()
    env = trackside_env(f"sqlite:///{tmp_path}/crash.db", fake_graph, worker_lease_s="5")
    poster = Poster([f"http://127.0.0.1:{port}"], batch_size=lambda: rng.randint(1, 25),
                    timeout_s=5)

    def accepting(already: int) -> None:
        wait_until(lambda: poster.accepted_count() > already, timeout_s=20,
                   what="the (re)started server to accept events")

    server = start_serve(env, port)
    poster.start()
    try:
        for _ in range(2):
            # The kill comes at a random moment (the seeded schedule under test), but only
            # once this server has accepted events: a kill before that would test nothing.
            accepting(poster.accepted_count())
            time.sleep(rng.uniform(0.5, 2.0))
            kill(server)
            server = start_serve(env, port)
        accepting(poster.accepted_count())
        time.sleep(rng.uniform(0.3, 1.0))
        poster.stop()
        # Drain: every accepted event reaches Meta (leases of the killed workers expire
        # after 5 s).
        wait_delivered(fake_graph, poster.accepted, timeout_s=60)
    finally:
        poster.stop()
        assert stop(server) == 0

    accepted = poster.accepted
    received = fake_graph.event_ids()
    assert len(accepted) > 50, "the stream was too short to mean anything"
    missing = accepted - set(received)
    assert not missing, f"{len(missing)} accepted events never reached Meta: {sorted(missing)[:10]}"
    assert set(received) <= poster.sent_refs, "Meta received an event nobody sent"
    ids_by_order: dict[str, set[str]] = defaultdict(set)
    for event in fake_graph.events:
        ids_by_order[event["custom_data"]["order_id"]].add(event["event_id"])
    assert all(len(ids) == 1 for ids in ids_by_order.values()), "an order arrived with two ids"
    # Resends after a crash are possible on the wire; Meta counts each order once.
    assert len(fake_graph.unique_events) == len(set(received))
