"""The committer's bounded waiting: one watchdog timer, not a poll per request.

A request queued while the store is stuck hears StoreLocked (the handlers' 503) within about
one attempt, and nothing of it is stored; a request whose group was handed to the writer hears
its own outcome, however long that takes; an idle committer keeps no timer.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from trackside.config import load_settings
from trackside.events import Event, parse_event
from trackside.pipeline import Pipeline
from trackside.store import StoreLocked
from trackside.store.sqlite import SQLiteStore
from trackside.web import committer as committer_module
from trackside.web.committer import Committer

NOW = 1_800_000_000.0


class StallingStore(SQLiteStore):
    """The real SQLite store whose next transaction stalls until released (a stalled disk)."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.stall = threading.Event()
        self.release = threading.Event()
        self.entered = threading.Event()

    @contextmanager
    def _write(self) -> Iterator[Any]:
        if self.stall.is_set() and not getattr(self._local, "writing", False):
            self.entered.set()
            self.release.wait(30)
        with super()._write() as conn:
            yield conn


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StallingStore]:
    store = StallingStore(str(tmp_path / "t.db"))
    store.migrate()
    yield store
    store.release.set()
    store.close()


def _events(*ids: str) -> list[Event]:
    parsed = [parse_event({"event_name": "PageView", "event_id": i, "event_time": int(NOW),
                           "event_source_url": "https://shop.example/p",
                           "user": {"ip": "203.0.113.7", "user_agent": "UA"}}) for i in ids]
    assert all(isinstance(p, Event) for p in parsed), parsed
    return [p for p in parsed if isinstance(p, Event)]


def _stored(store: SQLiteStore, event_id: str) -> bool:
    return bool(store.event_view(event_id))


async def test_requests_queued_under_a_lock_hear_store_locked_and_nothing_is_stored(
    store: StallingStore, tmp_path: Path,
) -> None:
    from tests.lockholder import hold_lock

    committer = Committer(Pipeline(load_settings(environ={}), store, ["meta"]),
                          store_wait_s=0.3)
    with hold_lock(tmp_path / "t.db"):
        start = time.monotonic()
        answers = await asyncio.gather(
            *(committer.accept(_events(f"locked-{i}"), "browser") for i in range(5)),
            return_exceptions=True)
        took = time.monotonic() - start
    assert all(isinstance(a, StoreLocked) for a in answers), answers
    assert took < 2.0  # one attempt (0.3 s) plus the watchdog's step, not a hang
    assert not any(_stored(store, f"locked-{i}") for i in range(5))
    # Once the lock is gone the same committer accepts again.
    [result] = await committer.accept(_events("after-lock"), "browser")
    assert result.status == "queued" and _stored(store, "after-lock")
    await committer.aclose()
    assert committer._watchdog is None


async def test_a_hung_store_call_fails_the_queued_request_not_the_started_one(
    store: StallingStore, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(committer_module, "HUNG_STORE_S", 0.3)
    committer = Committer(Pipeline(load_settings(environ={}), store, ["meta"]))
    store.stall.set()
    first = asyncio.ensure_future(committer.accept(_events("started"), "browser"))
    while not store.entered.is_set():  # the writer is inside its (stalled) store call
        await asyncio.sleep(0.01)
    start = time.monotonic()
    with pytest.raises(StoreLocked):
        await committer.accept(_events("queued-behind"), "browser")
    assert time.monotonic() - start < 2.0
    assert not first.done()  # started: it waits for its own outcome
    store.stall.clear()
    store.release.set()
    [result] = await first
    assert result.status == "queued" and _stored(store, "started")
    assert not _stored(store, "queued-behind")
    await committer.aclose()


async def test_the_watchdog_runs_only_while_requests_are_queued(store: StallingStore) -> None:
    committer = Committer(Pipeline(load_settings(environ={}), store, ["meta"]))
    answers = await asyncio.gather(*(committer.accept(_events(f"e-{i}"), "browser")
                                     for i in range(10)))
    assert [a[0].status for a in answers] == ["queued"] * 10
    # The timer armed by the burst fires once more, finds nothing queued and is not re-armed.
    await asyncio.sleep(committer_module._STUCK_POLL_S * 2)
    assert committer._watchdog is None
    await committer.aclose()


async def test_a_disconnecting_client_does_not_cancel_the_shared_commit(
    store: StallingStore,
) -> None:
    committer = Committer(Pipeline(load_settings(environ={}), store, ["meta"]))
    leaving = asyncio.ensure_future(committer.accept(_events("leaver"), "browser"))
    staying = asyncio.ensure_future(committer.accept(_events("stayer"), "browser"))
    await asyncio.sleep(0)
    leaving.cancel()
    [result] = await staying
    assert result.status == "queued"
    await committer.aclose()
    assert _stored(store, "stayer") and _stored(store, "leaver")


def test_a_committer_used_on_a_second_loop_still_bounds_the_wait(
    store: StallingStore, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(committer_module, "HUNG_STORE_S", 0.3)
    committer = Committer(Pipeline(load_settings(environ={}), store, ["meta"]))

    async def quick() -> None:
        [result] = await committer.accept(_events("first-loop"), "browser")
        assert result.status == "queued"
        # This loop ends now, before its watchdog timer fires.

    async def behind_a_hung_call() -> BaseException | None:
        store.stall.set()
        started = asyncio.ensure_future(committer.accept(_events("started"), "browser"))
        while not store.entered.is_set():
            await asyncio.sleep(0.01)
        try:
            await asyncio.wait_for(committer.accept(_events("queued"), "browser"), 5.0)
        except StoreLocked as exc:
            return exc
        except TimeoutError:
            return None
        finally:
            store.stall.clear()
            store.release.set()
            await started
        return None

    asyncio.run(quick())
    assert isinstance(asyncio.run(behind_a_hung_call()), StoreLocked)
    asyncio.run(committer.aclose())
    assert _stored(store, "started") and not _stored(store, "queued")
