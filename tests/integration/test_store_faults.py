"""Storage faults answer fast (issue attack 6): a lock held by another process, a full
database, a read-only one and a closed one, seen through the app's endpoints.

Each fault is real: another process holding ``BEGIN EXCLUSIVE``, SQLite's own
``max_page_count`` (the file may not grow) and ``query_only`` (SQLite refuses every write with
SQLITE_READONLY, as for a read-only file), a closed connection.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import API_KEY, app_client
from tests.lockholder import hold_lock
from trackside.runtime import Runtime
from trackside.store import StoreFull, StoreLocked, StoreUnwritable
from trackside.store.sqlite import SQLiteStore, translate

AUTH = {"Authorization": f"Bearer {API_KEY}"}


def _db(runtime: Runtime) -> Path:
    store = runtime.store
    assert isinstance(store, SQLiteStore)
    return Path(store.path)


def _event(event_id: str) -> dict[str, object]:
    return {"event_name": "Lead", "event_id": event_id, "event_source_url": "https://shop.example/",
            "user": {"email": f"{event_id}@example.com"}}


def _stored_ids(db: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return {row[0] for row in conn.execute("SELECT event_id FROM events")}


async def test_healthz_ok_is_a_committed_write(runtime: Runtime) -> None:
    async for client in app_client(runtime):
        response = await client.get("/healthz")
    assert response.status_code == 200 and response.json()["store"] == "ok"
    with contextlib.closing(sqlite3.connect(_db(runtime))) as conn:
        # The probe's row is written and deleted in one transaction: nothing accumulates.
        assert conn.execute("SELECT COUNT(*) FROM health_probe").fetchone()[0] == 0


async def test_lock_held_by_another_process_answers_fast(runtime: Runtime) -> None:
    async for client in app_client(runtime):
        before = await client.post("/v1/events", json={"events": [_event("before-lock")]},
                                   headers=AUTH)
        assert before.status_code == 202
        with hold_lock(_db(runtime)):
            started = time.monotonic()
            health = await client.get("/healthz")
            assert time.monotonic() - started < 2.0
            assert health.status_code == 503
            assert health.json()["store"] == "locked" and health.json()["status"] == "failing"

            started = time.monotonic()
            posted = await client.post("/v1/events", json={"events": [_event("during-lock")]},
                                       headers=AUTH)
            assert time.monotonic() - started < 2.0
            assert posted.status_code == 503 and posted.headers["retry-after"]

            # Readers do not queue behind the stuck writer.
            metrics = await client.get("/metrics")
            assert metrics.status_code == 200 and "trackside_queue_depth" in metrics.text
            assert (await client.get("/t.js")).status_code == 200
            lookup = await client.get("/v1/events/before-lock", headers=AUTH)
            assert lookup.status_code == 200
        # Refused means not stored: the client's retry is the only copy.
        assert "during-lock" not in _stored_ids(_db(runtime))
        retried = await client.post("/v1/events", json={"events": [_event("during-lock")]},
                                    headers=AUTH)
        assert retried.status_code == 202 and retried.json()["queued"] == 1
        assert (await client.get("/healthz")).json()["store"] == "ok"


async def test_collect_answers_503_with_retry_after_under_a_lock(
    settings_factory: object,
) -> None:
    runtime = Runtime.from_settings(settings_factory(consent_mode="off"))  # type: ignore[operator]
    try:
        async for client in app_client(runtime):
            with hold_lock(_db(runtime)):
                started = time.monotonic()
                response = await client.post(
                    "/collect", json={"event_name": "PageView", "event_id": "beacon-locked",
                                      "url": "http://trackside.test/page"},
                    headers={"Origin": "http://trackside.test"})
                assert time.monotonic() - started < 2.0
            assert response.status_code == 503, response.text
            assert response.headers["retry-after"]
            assert "beacon-locked" not in _stored_ids(_db(runtime))
    finally:
        runtime.close()


async def test_healthz_reports_disk_full_and_ingest_refuses(runtime: Runtime) -> None:
    store = runtime.store
    assert isinstance(store, SQLiteStore)
    pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
    # SQLite's own limit: the file may not grow by a single page, like a full disk.
    store._conn.execute(f"PRAGMA max_page_count = {pages}")
    async for client in app_client(runtime):
        health = await client.get("/healthz")
        # ~40 KB: more than the free space of the last page, within the per-event limits.
        big = {**_event("full-1"), "custom_data": {f"note{i}": "x" * 4000 for i in range(10)}}
        posted = await client.post("/v1/events", json={"events": [big]}, headers=AUTH)
    assert health.status_code == 503 and health.json()["store"] == "disk_full"
    assert posted.status_code == 503 and posted.headers["retry-after"]


async def test_healthz_reports_a_read_only_store_as_unwritable(runtime: Runtime) -> None:
    store = runtime.store
    assert isinstance(store, SQLiteStore)
    store._conn.execute("PRAGMA query_only = ON")
    async for client in app_client(runtime):
        health = await client.get("/healthz")
        posted = await client.post("/v1/events", json={"events": [_event("ro-1")]}, headers=AUTH)
    assert health.status_code == 503 and health.json()["store"] == "unwritable"
    assert posted.status_code == 503


async def test_healthz_reports_a_closed_store_as_unreachable(runtime: Runtime) -> None:
    async for client in app_client(runtime):
        runtime.store.close()
        health = await client.get("/healthz")
        metrics = await client.get("/metrics")
    assert health.status_code == 503 and health.json()["store"] == "unreachable"
    assert metrics.status_code == 200  # the process's own counters still answer


def test_driver_errors_become_named_store_errors(tmp_path: Path) -> None:
    db = tmp_path / "named.db"
    with contextlib.closing(SQLiteStore(str(db))) as creator:
        creator.migrate()
    # A database opened read-only, as SQLite does for a file it may not write.
    with (contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as read_only,
          pytest.raises(sqlite3.Error) as readonly_error):
        read_only.execute("INSERT INTO cursors VALUES ('default', 'x', 'y', 0)")
    assert isinstance(translate(readonly_error.value), StoreUnwritable)

    store = SQLiteStore(str(db))
    with hold_lock(db):
        started = time.monotonic()
        with pytest.raises(StoreLocked), store.time_limit(0.3):
            store.set_cursor("c", "v", 0)
        assert time.monotonic() - started < 1.5
    store._conn.execute("PRAGMA max_page_count = 1")
    with pytest.raises(StoreFull):
        store.probe_write(1.0, 0)
    store.close()


@pytest.mark.slow
def test_serve_under_a_lock_answers_every_request_within_2s_and_loses_nothing(
    tmp_path: Path,
) -> None:
    from tests.integration.test_serve_process import start

    lock_s = 6.0  # several 1.5 s store waits back to back, and requests spanning the release
    port = _port()
    process = start(tmp_path, port, extra_env={"TRACKSIDE_API_KEYS": API_KEY,
                                               "TRACKSIDE_CONSENT_MODE": "off",
                                               "TRACKSIDE_JOIN_WINDOW_S": "0"})
    base = f"http://127.0.0.1:{port}"
    db = tmp_path / "trackside.db"
    answered: list[tuple[str, int, float, set[str]]] = []  # (what, status, seconds, ids)
    try:
        with httpx.Client(base_url=base, timeout=10) as http:
            first = http.post("/v1/events", json={"events": [_event("pre-0")]}, headers=AUTH)
            assert first.status_code == 202
            with hold_lock(db, lock_s) as holder:
                counter = 0
                while holder.poll() is None:
                    counter += 1
                    ids = {f"lock-{counter}-{i}" for i in range(3)}
                    started = time.monotonic()
                    posted = http.post("/v1/events", headers=AUTH,
                                       json={"events": [_event(i) for i in sorted(ids)]})
                    answered.append(("api", posted.status_code, time.monotonic() - started, ids))
                    if posted.status_code == 503:
                        assert posted.headers["retry-after"]
                    started = time.monotonic()
                    beacon = http.post("/collect", headers={"Origin": base}, json={
                        "event_name": "PageView", "event_id": f"beacon-{counter}",
                        "url": f"{base}/page"})
                    answered.append(("collect", beacon.status_code, time.monotonic() - started,
                                     {f"beacon-{counter}"}))
                    for path in ("/healthz", "/t.js", "/metrics"):
                        started = time.monotonic()
                        response = http.get(path)
                        answered.append((path, response.status_code,
                                         time.monotonic() - started, set()))
            after = http.post("/v1/events", json={"events": [_event("post-0")]}, headers=AUTH)
            assert after.status_code == 202
            answered.append(("api", 202, 0.0, {"post-0"}))

            slow = [entry[:3] for entry in answered if entry[2] >= 2.0]
            assert not slow, f"answers slower than 2 s under the lock: {slow}"
            by_path = {(what, status) for what, status, _, _ in answered}
            assert ("api", 503) in by_path and ("collect", 503) in by_path
            assert ("/healthz", 503) in by_path and ("/t.js", 200) in by_path
            assert ("/metrics", 200) in by_path
            assert {status for what, status, _, _ in answered if what == "api"} <= {202, 503}
            health = http.get("/healthz").json()
            assert health["store"] == "ok"

            accepted = {"pre-0"} | {i for what, status, _, ids in answered if status == 202
                                    for i in ids if what in ("api", "collect")}
            refused = {i for what, status, _, ids in answered if status == 503
                       for i in ids} - accepted
            # Every 202 reaches the dry run; nothing refused was stored behind the client's back.
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                delivered = _delivered(db)
                if accepted <= delivered:
                    break
                time.sleep(0.1)
            assert accepted <= _delivered(db), sorted(accepted - _delivered(db))[:10]
            assert not refused & _stored_ids(db), sorted(refused & _stored_ids(db))[:10]
    finally:
        import signal

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0


def _port() -> int:
    from tests.fakes.server import free_port

    return free_port()


def _delivered(db: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return {row[0] for row in conn.execute(
            "SELECT e.event_id FROM events e JOIN outbox o ON o.event_pk = e.pk"
            " WHERE o.status = 'delivered'")}


async def test_health_and_metrics_do_not_queue_behind_busy_default_threads(
    runtime: Runtime,
) -> None:
    # Worker store calls waiting on a lock can take every thread of the default executor
    # (os.cpu_count() + 4 of them); /healthz and /metrics have threads of their own.
    import asyncio
    import threading

    release = threading.Event()
    loop = asyncio.get_running_loop()
    blockers = [loop.run_in_executor(None, release.wait, 30) for _ in range(40)]
    try:
        async for client in app_client(runtime):
            health = await asyncio.wait_for(client.get("/healthz"), 2.0)
            metrics = await asyncio.wait_for(client.get("/metrics"), 2.0)
    finally:
        release.set()
        await asyncio.gather(*blockers)
    assert health.status_code == 200 and health.json()["store"] == "ok"
    assert metrics.status_code == 200
