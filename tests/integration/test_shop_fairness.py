"""Fairness between shops through the real multi-shop worker (issue 13): shop alpha's meta
destination paused or throttled with 50,000 pending rows, shop beta's events still delivered
at once.

Real components: a two-shop TOML file, one SQLite file, two strict fake Graph APIs on
loopback (each knows only its own pixel and token), and ``Runtime.worker()`` (one Worker per
shop, delivery/shops.py) running its loop as ``serve`` runs it. Every call of ``store.claim``
is recorded, so "at once" is asserted as a claim count (beta's event is leased by the first
claims after the wake-up, alpha's lanes claim nothing) as well as a deadline derived from the
idle poll interval, never as a fixed sleep.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.graph_api import FakeGraphAPI, Fault
from tests.waiting import wait_until_async
from trackside.delivery import worker as worker_module
from trackside.delivery.shops import ShopWorkers
from trackside.runtime import Runtime
from trackside.shops import load_shops

pytestmark = pytest.mark.slow

BACKLOG = 50_000
BATCH = 5_000
#: Beta's event is due at once and its commit wakes every idle lane, so it is sent in a few
#: milliseconds (about 12 ms measured). A worker that missed the wake-up would find it only at
#: its next idle poll (up to IDLE_POLL_S later: about 0.45 s here, as the lanes have just gone
#: idle), a starved one not at all: half a poll interval tells them apart with a wide margin.
DEADLINE_S = worker_module.IDLE_POLL_S / 2
GRANTED = {"ad_storage": "granted", "ad_user_data": "granted", "analytics_storage": "granted",
           "ad_personalization": "granted"}


def purchase(reference: str, email: str) -> dict[str, Any]:
    return {
        "event_name": "Purchase",
        "event_time": int(time.time()) - 30,
        "event_source_url": "https://shop.example/thanks",
        "user": {"email": email, "ip": "203.0.113.9", "user_agent": "Mozilla/5.0"},
        "order": {"reference": reference, "value": 19.9, "currency": "EUR"},
        "consent": GRANTED,
    }


@dataclass
class ClaimCall:
    shop: str
    destination: str
    started: float
    rows: list[str]  # the event ids leased


class Gateway:
    """A two-shop runtime (alpha → pixel a, beta → pixel b) whose claims are recorded."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.claims: list[ClaimCall] = []
        real_claim = runtime.store.claim

        def claim(destination: str, limit: int, owner: str, lease_s: float, now: float, *,
                  shop: str = "default") -> Any:
            started = time.monotonic()
            rows = real_claim(destination, limit, owner, lease_s, now, shop=shop)
            self.claims.append(ClaimCall(shop, destination, started,
                                         [row.event.event_id for row in rows]))
            return rows

        runtime.store.claim = claim  # type: ignore[method-assign]

    def backlog(self, shop: str, n: int) -> None:
        """``n`` pending Purchases for ``shop``'s meta destination, fast: one event goes
        through the shop's pipeline (parse, normalize, plan), its copies under other event ids
        go to the store in big transactions."""
        if not n:
            return
        pipeline = self.runtime.shop(shop).pipeline
        [record] = pipeline.prepare([purchase(f"{shop}-0", f"{shop}@example.com")], "api").records
        assert [plan.destination for plan in record.outbox] == ["meta"]
        for start in range(0, n, BATCH):
            copies = [replace(record, event=record.event.model_copy(
                update={"event_id": f"{shop}-{i}"})) for i in range(start, min(n, start + BATCH))]
            results = self.runtime.store.insert_events(copies, time.time())
            assert {r.status for r in results} == {"queued"}

    def pending(self, shop: str) -> int:
        return sum(c.counts.get("pending", 0) for c in self.runtime.store.counts(shop=shop)
                   if c.destination == "meta")

    def claims_since(self, shop: str, since: float) -> list[ClaimCall]:
        return [c for c in self.claims if c.shop == shop and c.started >= since]


@pytest.fixture
def gateway(pixels: tuple[FakeGraphAPI, FakeGraphAPI],
            tmp_path: Path) -> Iterator[Callable[[str], Gateway]]:
    a, b = pixels
    made: list[Runtime] = []

    def make(name: str) -> Gateway:
        config = tmp_path / f"{name}.toml"
        config.write_text(f"""
database_url = "sqlite:///{tmp_path}/{name}.db"
join_window_s = 0
server_event_consent = "grant"

[shops.alpha]
meta_pixel_id = "{a.pixel_id}"
meta_access_token = "{a.token}"
meta_graph_url = "{a.url}"
api_keys = ["alpha-key-fair-1111111111"]
consent_mode = "off"

[shops.beta]
meta_pixel_id = "{b.pixel_id}"
meta_access_token = "{b.token}"
meta_graph_url = "{b.url}"
api_keys = ["beta-key-fair-2222222222"]
consent_mode = "off"
""", encoding="utf-8")
        runtime = Runtime.from_shops(load_shops({"TRACKSIDE_CONFIG": str(config)}))
        made.append(runtime)
        return Gateway(runtime)

    try:
        yield make
    finally:
        for runtime in made:
            runtime.close()


@asynccontextmanager
async def running(gateway: Gateway) -> AsyncIterator[ShopWorkers]:
    """The multi-shop worker's loop, started as ``serve`` starts it, idle on every lane."""
    workers = gateway.runtime.worker()
    assert isinstance(workers, ShopWorkers)
    stop = asyncio.Event()
    task = asyncio.create_task(workers.run(stop))
    try:
        # Every lane of every shop has run one cycle and found nothing to send.
        await wait_until_async(lambda: all(w.last_cycle_at for w in workers.workers),
                               what="every shop's worker to finish a first cycle")
        yield workers
    finally:
        stop.set()
        await task
        await workers.aclose()


async def deliver_one(gateway: Gateway, workers: ShopWorkers, fake: FakeGraphAPI,
                      reference: str) -> tuple[float, list[ClaimCall]]:
    """Accept one Purchase for beta, wake the worker as the app's commit does, and wait for
    beta's pixel to have it: (seconds from accepted to written back as delivered, as the
    trackside_delivery_latency_seconds metric measures it; beta's claims meanwhile)."""
    store = gateway.runtime.store
    since = time.monotonic()
    [result] = gateway.runtime.shop("beta").pipeline.accept(
        [purchase(reference, f"{reference}@example.com")], "api")
    assert result.status == "queued"
    workers.wake.set()

    def delivered() -> float | None:
        [view] = store.event_view(reference, shop="beta")
        [row] = view.outbox
        if row.status != "delivered" or row.finished_at is None:
            return None
        return row.finished_at - view.accepted_at

    took = await wait_until_async(delivered, timeout_s=10,
                                  what=f"beta's {reference} to be delivered")
    assert took is not None and reference in fake.event_ids()
    return took, gateway.claims_since("beta", since)


def assert_one_claim_cycle(claims: list[ClaimCall], reference: str, lanes: int) -> None:
    """The event was leased once, by the first claims after the wake-up: no lane of beta
    had to go round more than once before it was sent."""
    leased = [c for c in claims if reference in c.rows]
    assert len(leased) == 1, claims
    assert leased[0].rows == [reference]
    assert claims.index(leased[0]) < lanes, claims


async def test_a_paused_shop_with_50k_pending_does_not_delay_another(
    gateway: Callable[[str], Gateway], pixels: tuple[FakeGraphAPI, FakeGraphAPI],
) -> None:
    a, b = pixels
    timings: dict[str, float] = {}
    for case, backlog in (("without backlog", 0), ("with alpha's 50k backlog", BACKLOG)):
        gw = gateway(case.replace(" ", "-").replace("'", ""))
        loaded = time.monotonic()
        gw.backlog("alpha", backlog)
        print(f"\n{case}: {backlog} rows queued for alpha in {time.monotonic() - loaded:.2f}s")
        # Paused until later, as a throttle or a credentials pause would (a pause "until an
        # operator acts" would be lifted by the worker's start, so this one has an end).
        now = time.time()
        gw.runtime.store.pause_destination("meta", now + 3600, "test: alpha throttled", 17,
                                           now, shop="alpha")
        async with running(gw) as workers:
            lanes = workers.workers[1].concurrency * len(workers.workers[1].destinations)
            # A first event opens beta's connection to its pixel; the second is the figure.
            await deliver_one(gw, workers, b, f"B-warm-{backlog}")
            ref = f"B-{backlog}"
            took, claims = await deliver_one(gw, workers, b, ref)
            assert_one_claim_cycle(claims, ref, lanes)
            assert took < DEADLINE_S, f"{case}: beta's event took {took:.3f}s"
            timings[case] = took
        # Nothing of alpha's was claimed or sent; its backlog is intact.
        assert [c for c in gw.claims if c.shop == "alpha"] == []
        assert gw.pending("alpha") == backlog
        assert gw.pending("beta") == 0
    assert a.requests == [] and len(b.event_ids()) == 4
    print("beta's Purchase, accepted to delivered: "
          + ", ".join(f"{case} {took * 1000:.1f} ms" for case, took in timings.items()))


@pytest.mark.parametrize("code", [4, 17])
async def test_a_throttled_shop_with_50k_pending_leaves_another_delivering(
    gateway: Callable[[str], Gateway], pixels: tuple[FakeGraphAPI, FakeGraphAPI], code: int,
) -> None:
    a, b = pixels
    gw = gateway(f"throttled-{code}")
    gw.backlog("alpha", BACKLOG)
    # Alpha's pixel throttles every request (application / user request limit).
    a.fail_until_cleared(Fault.throttle(code))
    async with running(gw) as workers:
        lanes = workers.workers[1].concurrency * len(workers.workers[1].destinations)
        # The worker found alpha's backlog at its start, sent it and was throttled: alpha's
        # destination is paused with the code Meta gave.
        await wait_until_async(
            lambda: [(s.shop, s.destination, s.code)
                     for s in gw.runtime.store.destination_states()] == [("alpha", "meta", code)],
            what="alpha's meta destination to be paused by the throttle")
        throttled_requests = len(a.requests)
        assert 1 <= throttled_requests <= lanes
        timings = []
        for i in range(20):
            ref = f"B-stream-{i}"
            took, claims = await deliver_one(gw, workers, b, ref)
            assert_one_claim_cycle(claims, ref, lanes)
            # Each one well inside a starved lane's wait; the typical one inside the deadline
            # (one slow event on a loaded machine is noise, a missed wake-up is every event).
            assert took < 2 * worker_module.IDLE_POLL_S, f"beta's event {i} took {took:.3f}s"
            timings.append(took)
        assert statistics.median(timings) < DEADLINE_S, timings
        # While beta delivered, alpha started nothing more: it waits out its pause. A request
        # another lane had in flight when the pause was recorded may still land after the count
        # above (seen on a loaded machine: 3, then 4), but never more than one per lane.
        assert throttled_requests <= len(a.requests) <= lanes
    assert a.event_ids() == [] and not any(r.accepted for r in a.requests)
    assert sorted(b.event_ids()) == sorted(f"B-stream-{i}" for i in range(20))
    assert gw.pending("alpha") == BACKLOG
    timings.sort()
    print(f"\nalpha throttled (code {code}) with {BACKLOG} pending: beta's 20 events, accepted "
          f"to delivered: median {timings[10] * 1000:.1f} ms, max {timings[-1] * 1000:.1f} ms")



async def test_idle_lanes_wait_while_a_row_is_in_flight(
    gateway: Callable[[str], Gateway], pixels: tuple[FakeGraphAPI, FakeGraphAPI],
) -> None:
    # A lane with nothing to claim waits for a wake-up or its next poll, also while another
    # lane of its shop sends a row: a busy loop of empty claims (each a SQLite write) would
    # contend with every shop's commits and claims for the one writer.
    _, b = pixels
    gw = gateway("in-flight")
    b.latency_s = 1.0
    async with running(gw) as workers:
        beta = workers.workers[1]
        lanes = beta.concurrency * len(beta.destinations)
        took, claims = await deliver_one(gw, workers, b, "B-slow")
    assert took >= b.latency_s
    # Each idle lane claims at the wake-up, then once per idle poll at most.
    polls = int(took / worker_module.IDLE_POLL_S) + 2
    assert len(claims) <= lanes * polls, f"{len(claims)} claims in {took:.2f}s"
    print(f"\nbeta's lanes while one row was in flight {took:.2f}s: {len(claims)} claims")


async def test_a_shop_draining_50k_leaves_another_delivering(
    gateway: Callable[[str], Gateway], pixels: tuple[FakeGraphAPI, FakeGraphAPI],
) -> None:
    # Alpha's pixel accepts: alpha's lanes send its backlog 1,000 rows a request (several
    # seconds for all 50,000). Beta's lanes do not queue behind it: each of beta's events is
    # leased in the first claims after its commit, while alpha still has rows pending (a
    # shared claim loop, shop after shop, would send it after alpha's whole backlog). It waits
    # only for the shared SQLite writer and event loop: about 0.15-0.7 s measured.
    _, b = pixels
    gw = gateway("draining")
    gw.backlog("alpha", BACKLOG)
    timings = []
    async with running(gw) as workers:
        beta = workers.workers[1]
        lanes = beta.concurrency * len(beta.destinations)
        for i in range(5):
            ref = f"B-busy-{i}"
            took, claims = await deliver_one(gw, workers, b, ref)
            assert_one_claim_cycle(claims, ref, lanes)
            assert took < 10 * worker_module.IDLE_POLL_S, f"beta's event {i} took {took:.3f}s"
            # Delivered while alpha's backlog is still being sent, not after it.
            assert gw.pending("alpha") > 0, f"beta's event {i} waited for alpha's backlog"
            timings.append(took)
    timings.sort()
    print(f"\nalpha draining {BACKLOG}: beta's 5 events, accepted to delivered: median "
          f"{timings[2] * 1000:.0f} ms, max {timings[-1] * 1000:.0f} ms")
