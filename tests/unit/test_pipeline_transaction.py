"""One accepted group is one store transaction (one fsync): joins, confirmations, notes, sweep."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from trackside.config import load_settings
from trackside.events import parse_event
from trackside.pipeline import Pipeline
from trackside.store import StoreLocked
from trackside.store.sqlite import SQLiteStore
from trackside.web.committer import Committer

NOW = 1_800_000_000.0
GRANTED = {"ad_storage": "granted", "ad_user_data": "granted", "analytics_storage": "granted",
           "ad_personalization": "granted"}


class CountingStore(SQLiteStore):
    """The real SQLite store, counting its committed transactions."""

    commits = 0

    @contextmanager
    def _write(self) -> Iterator[Any]:
        outermost = not getattr(self._local, "writing", False)
        with super()._write() as conn:
            yield conn
        if outermost:
            self.commits += 1


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CountingStore]:
    store = CountingStore(str(tmp_path / "t.db"))
    store.migrate()
    yield store
    store.close()


def _browser(name: str, event_id: str, **extra: Any) -> dict[str, Any]:
    return {"event_name": name, "event_id": event_id, "event_time": int(NOW) - 5,
            "event_source_url": "https://shop.example/p", "consent": GRANTED,
            "user": {"fbp": "fb.1.1700000000000.7", "ip": "203.0.113.7", "user_agent": "UA"},
            **extra}


def _purchase(reference: str, **extra: Any) -> dict[str, Any]:
    return {"event_name": "Purchase", "event_time": int(NOW) - 5, "consent": GRANTED,
            "event_source_url": "https://shop.example/thanks",
            "order": {"reference": reference, "value": 10, "currency": "EUR"},
            "user": {"email": "a@example.com"}, **extra}


def test_a_server_group_with_joins_confirmations_notes_and_sweep_is_one_commit(
    store: CountingStore,
) -> None:
    pipeline = Pipeline(load_settings(environ={"TRACKSIDE_JOIN_WINDOW_S": "60"}), store,
                        ["meta"])
    browser = [_browser("PageView", "pv-1", cart_id="K1"),
               {**_purchase("OLD"), "user": _browser("x", "y")["user"]}]
    pipeline.accept(browser, "browser", now=NOW - 100)  # OLD: held, its window ends at NOW - 40
    pipeline.accept([{**_purchase("R1"), "user": _browser("x", "y")["user"]}], "browser",
                    now=NOW - 5)  # R1: held, within the window
    before = store.commits
    results = pipeline.accept([
        _purchase("R1"),                                    # confirms the held R1
        {**_purchase("R2"), "cart_id": "K1"},               # joins pv-1's context: a note
        _purchase("R2"),                                    # a duplicate: a note
    ], "prestashop", now=NOW)
    assert store.commits - before == 1
    assert [r.status for r in results] == ["queued", "queued", "duplicate"]
    [r1] = store.event_view("R1")
    assert [n.kind for n in r1.notes] == ["confirmed"]
    assert r1.outbox[0].status == "pending" and r1.outbox[0].next_attempt_at == NOW
    [r2] = store.event_view("R2")
    assert sorted(n.kind for n in r2.notes) == ["duplicate", "joined"]
    [old] = store.event_view("OLD")
    assert old.outbox[0].status == "suppressed"  # the sweep, in the same transaction


def test_a_failed_group_leaves_nothing(store: CountingStore, tmp_path: Path) -> None:
    from tests.lockholder import hold_lock

    pipeline = Pipeline(load_settings(environ={}), store, ["meta"])
    with hold_lock(tmp_path / "t.db"), pytest.raises(StoreLocked), store.time_limit(0.2):
        pipeline.accept([_purchase("R1"), _browser("PageView", "pv-1")], "api", now=NOW)
    assert store.event_view("R1") == [] and store.event_view("pv-1") == []


async def test_the_committer_writes_several_shops_and_sources_in_one_commit(
    store: CountingStore,
) -> None:
    shop_a = Pipeline(load_settings(environ={}), store, ["meta"], shop="alpha")
    shop_b = Pipeline(load_settings(environ={}), store, ["meta"], shop="beta")
    committer = Committer(shop_a)

    def events(*raw: dict[str, Any]) -> list[Any]:
        parsed = [parse_event(r) for r in raw]
        assert all(not isinstance(p, list) for p in parsed), parsed
        return parsed

    before = store.commits
    results = await asyncio.gather(
        committer.accept(events(_purchase("R1")), "api", pipeline=shop_a),
        committer.accept(events(_purchase("R1")), "api", pipeline=shop_b),
        committer.accept(events(_browser("PageView", "pv-1")), "browser", pipeline=shop_b),
    )
    await committer.aclose()
    assert [[r.status for r in rs] for rs in results] == [["queued"], ["queued"], ["queued"]]
    assert store.commits - before == 1
    assert [v.shop for v in store.event_view("R1", shop="alpha")] == ["alpha"]
    assert [v.shop for v in store.event_view("R1", shop="beta")] == ["beta"]
