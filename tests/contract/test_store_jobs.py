"""Store.job_lock over every store: one holder at a time across store objects (processes),
never waiting, the interval honoured, the owner recorded, a dead holder's lease expiring.

The jobs of trackside/pollers.py rely on exactly this to run once per period in a fleet.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import ExitStack

import pytest

from tests.contract.test_store_contract import accept, make_event
from tests.jobholder import holding_job
from tests.waiting import wait_until
from trackside.store import JOB_LEASE_S, Store

NOW = 1_700_000_000.0


def test_the_first_caller_runs_the_job_and_its_owner_is_recorded(
        store: Store, job_owner: Callable[[str], str | None]) -> None:
    assert job_owner("purge") is None
    with store.job_lock("purge", 60, "host-a:1:abc", NOW) as mine:
        assert mine is True
    assert job_owner("purge") == "host-a:1:abc"


def test_another_caller_gets_false_at_once_while_the_job_is_held(
        store: Store, other_store: Callable[[], Store],
        job_owner: Callable[[str], str | None]) -> None:
    other = other_store()
    with store.job_lock("sweep", 0, "a", NOW) as mine:
        assert mine
        started = time.monotonic()
        with other.job_lock("sweep", 0, "b", NOW + 1) as theirs:
            assert theirs is False
        assert time.monotonic() - started < 1.5  # answered, not waited for the holder
        # A job of another name is free.
        with other.job_lock("purge", 0, "b", NOW + 1) as other_job:
            assert other_job
    assert job_owner("sweep") == "a"
    with other.job_lock("sweep", 0, "b", NOW + 2) as theirs:
        assert theirs  # free again once the block ended
    assert job_owner("sweep") == "b"


def test_the_interval_is_honoured_from_the_last_start(
        store: Store, other_store: Callable[[], Store]) -> None:
    other = other_store()
    with store.job_lock("purge", 100, "a", NOW) as mine:
        assert mine
    for when, expected in [(NOW + 1, False), (NOW + 99.9, False), (NOW + 100, True)]:
        with other.job_lock("purge", 100, "b", when) as theirs:
            assert theirs is expected, when
    with store.job_lock("purge", 100, "a", NOW + 150) as mine:
        assert mine is False  # the start at NOW + 100 counts, not the first one


def test_a_block_that_raises_still_ends_the_run(store: Store) -> None:
    with pytest.raises(RuntimeError), store.job_lock("sweep", 1, "a", NOW) as mine:
        assert mine
        raise RuntimeError("the job failed")
    with store.job_lock("sweep", 1, "a", NOW + 1) as again:
        assert again


def test_one_holder_at_a_time_among_many_contenders(
        store: Store, other_store: Callable[[], Store]) -> None:
    stores = [other_store() for _ in range(4)]
    holders, most, runs = [0], [0], [0]
    count = threading.Lock()
    go = threading.Barrier(len(stores))

    def contend(mine: Store, index: int) -> None:
        go.wait()
        for attempt in range(25):
            with mine.job_lock("poller", 0, f"p{index}", NOW + attempt) as got:
                if not got:
                    continue
                with count:
                    holders[0] += 1
                    most[0] = max(most[0], holders[0])
                    runs[0] += 1
                time.sleep(0.001)  # hold it a moment, so the others meet a held job
                with count:
                    holders[0] -= 1

    threads = [threading.Thread(target=contend, args=(s, i)) for i, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert most[0] == 1
    assert runs[0] >= 1


def test_the_lease_of_a_holder_that_died_expires(
        store: Store, store_url: str | None, other_store: Callable[[], Store]) -> None:
    with ExitStack() as abandoned:
        if store_url is None:  # one process: a block entered and never left
            holder = store.job_lock("purge", 1, "dead", NOW)
            assert abandoned.enter_context(holder)
        else:  # another process, killed inside the block
            process = abandoned.enter_context(holding_job(store_url, "purge", 1, "dead", NOW))
            process.kill()
            process.wait(30)
        other = other_store()
        with other.job_lock("purge", 1, "alive", NOW + JOB_LEASE_S + 1) as mine:
            assert mine


def test_a_subscriber_hears_of_rows_committed_through_another_store_object(
        store: Store, other_store: Callable[[], Store]) -> None:
    calls: list[float] = []
    end = store.subscribe(lambda: calls.append(time.monotonic()))
    if end is None:  # no cross-process notification: the worker's idle poll finds the rows
        return
    try:
        accept(other_store(), make_event("WAKE"), destinations=("meta",))
        wait_until(lambda: calls, what="on_work after another store object's commit")
    finally:
        end()  # ends it (and must not raise)
