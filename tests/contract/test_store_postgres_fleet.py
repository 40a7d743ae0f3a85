"""What several processes sharing one PostgreSQL database rely on, with two store objects on
the same database (as two processes would have): disjoint concurrent claims, wake-ups across
stores (LISTEN/NOTIFY) and periodic jobs run by one of them at a time (advisory locks)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from tests.contract.test_store_contract import NOW, accept, make_event
from tests.waiting import wait_until
from trackside.store.postgres import PostgresStore


@pytest.fixture
def two_stores(pg_url: str) -> Iterator[tuple[PostgresStore, PostgresStore]]:
    first = PostgresStore(pg_url, pool_size=4)
    first.migrate()
    second = PostgresStore(pg_url, pool_size=4)
    second.migrate()  # already applied: a no-op
    yield first, second
    second.close()
    first.close()


def test_concurrent_claimers_get_disjoint_rows_and_never_wait(
    two_stores: tuple[PostgresStore, PostgresStore],
) -> None:
    first, second = two_stores
    accept(first, *(make_event(f"R{i}") for i in range(200)), destinations=("meta",))
    claimed: dict[str, list[int]] = {"a": [], "b": [], "c": [], "d": []}
    start = threading.Barrier(len(claimed))

    def claimer(name: str, store: PostgresStore) -> None:
        start.wait(10)
        while True:
            rows = store.claim("meta", 7, name, 300, NOW)
            if not rows:
                return
            claimed[name].extend(row.outbox_id for row in rows)

    threads = [threading.Thread(target=claimer, args=(name, store))
               for name, store in zip(claimed, (first, second, first, second), strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    every = [oid for ids in claimed.values() for oid in ids]
    assert len(every) == 200 and len(set(every)) == 200  # each row leased exactly once
    assert first.claim("meta", 10, "late", 300, NOW) == []


def test_a_claim_skips_rows_another_claimer_holds_instead_of_waiting(
    two_stores: tuple[PostgresStore, PostgresStore],
) -> None:
    first, second = two_stores
    accept(first, make_event("R1"), make_event("R2"), destinations=("meta",))
    # A claim of the first store still in its transaction (rows locked, not yet leased).
    with first._write() as tx:
        locked = tx.conn.execute("SELECT id FROM outbox ORDER BY id LIMIT 1 FOR UPDATE"
                                 ).fetchall()
        with second.time_limit(1.0):
            rows = second.claim("meta", 10, "b", 300, NOW)
    assert [row.outbox_id for row in rows] != [locked[0]["id"]] and len(rows) == 1


def test_a_commit_that_makes_rows_due_wakes_another_store(
    two_stores: tuple[PostgresStore, PostgresStore],
) -> None:
    first, second = two_stores
    woken = threading.Event()
    stop = second.subscribe(woken.set)
    assert stop is not None
    try:
        wait_until(lambda: _listening(first), what="the listener's LISTEN")
        first.set_cursor("c", "v", NOW)  # makes nothing due: no wake-up needed
        accept(first, make_event("R1"), destinations=("meta",))
        wait_until(woken.is_set, what="on_work after another store's commit")
    finally:
        stop()


def _listening(store: PostgresStore) -> bool:
    rows = store._read("SELECT count(*) AS n FROM pg_stat_activity"
                       " WHERE datname = current_database() AND query LIKE 'LISTEN%%'")
    return bool(rows[0]["n"])


def test_the_listener_reconnects_and_says_so(
    two_stores: tuple[PostgresStore, PostgresStore],
) -> None:
    first, second = two_stores
    calls: list[int] = []
    stop = second.subscribe(lambda: calls.append(1))
    assert stop is not None
    try:
        wait_until(lambda: _listening(first), what="the listener's LISTEN")
        first._read("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND query LIKE 'LISTEN%%'")
        # Notifications sent while it was away are lost: on_work once after reconnecting.
        wait_until(lambda: calls, what="on_work after the reconnection")
        wait_until(lambda: _listening(first), what="LISTEN again")
    finally:
        stop()


def test_one_store_at_a_time_runs_a_job_and_only_once_per_interval(
    two_stores: tuple[PostgresStore, PostgresStore],
) -> None:
    first, second = two_stores
    with first.job_lock("purge", 60, "first", NOW) as mine:
        assert mine
        with second.job_lock("purge", 60, "second", NOW + 120) as theirs:
            assert not theirs  # the first still runs it
        with second.job_lock("sweep", 60, "second", NOW) as other_job:
            assert other_job  # another job's lock is another lock
    with second.job_lock("purge", 60, "second", NOW + 30) as too_soon:
        assert not too_soon  # started 30 s ago: not yet
    with second.job_lock("purge", 60, "second", NOW + 60) as due:
        assert due
    with first.job_lock("purge", 60, "first", NOW + 90) as again:
        assert not again
    rows = first._read("SELECT owner, last_started_at FROM jobs WHERE name = 'purge'")
    assert (rows[0]["owner"], rows[0]["last_started_at"]) == ("second", NOW + 60)


#: Rounds of 200 events; unsorted inserts deadlocked within the first few here.
ROUNDS = 10


@pytest.mark.slow
def test_two_servers_storing_the_same_events_in_opposite_orders_never_deadlock(
    two_stores: tuple[PostgresStore, PostgresStore],
) -> None:
    # A client retrying a batch on the other server while the first still commits it: the
    # same events in two groups at once, here in opposite orders, many times.
    errors: list[BaseException] = []
    results: dict[str, list[str]] = {"forward": [], "backward": []}
    start = threading.Barrier(2)

    def server(name: str, store: PostgresStore, reverse: bool) -> None:
        try:
            for round_ in range(ROUNDS):
                start.wait(10)  # both groups of a round at the same moment
                events = [make_event(f"E{round_}-{i}") for i in range(200)]
                results[name] += accept(store, *(events[::-1] if reverse else events),
                                        destinations=("meta",))
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    first, second = two_stores
    threads = [threading.Thread(target=server, args=("forward", first, False)),
               threading.Thread(target=server, args=("backward", second, True))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    every = sorted(results["forward"] + results["backward"])
    assert every == ["duplicate"] * ROUNDS * 200 + ["queued"] * ROUNDS * 200
    assert first.counts()[0].counts == {"pending": ROUNDS * 200}
