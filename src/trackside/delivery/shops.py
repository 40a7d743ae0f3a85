"""Delivery for several shops: one Worker per shop, run side by side.

Each shop's Worker claims its own (shop, destination) rows on its own lanes, with its own
circuit breakers, throttle escalation and pauses, so one shop's paused, throttled or
backlogged destination never delays another shop's: a lane only ever waits on its own claims.
They share one wake-up event (a commit in any shop wakes every idle lane, which then finds
its own rows or nothing), and one subscription to the store's notifications for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from trackside.delivery.wakeup import store_wakeups
from trackside.delivery.worker import Worker

__all__ = ["ShopWorkers"]


class ShopWorkers:
    """The Worker interface `serve` and `trackside worker` use, over every shop's Worker."""

    def __init__(self, workers: Sequence[Worker]) -> None:
        self.workers = list(workers)
        self.wake = asyncio.Event()
        for worker in self.workers:
            worker.wake = self.wake

    @property
    def last_cycle_at(self) -> float:
        """When the least recently active shop last finished a cycle: a stalled shop's worker
        makes the whole gateway look stalled, as it should (/healthz)."""
        return min(worker.last_cycle_at for worker in self.workers)

    async def run(self, stop: asyncio.Event) -> None:
        async with store_wakeups(self.workers[0].store, self.wake) as idle_poll_s:
            await asyncio.gather(*(worker.deliver(stop, idle_poll_s)
                                   for worker in self.workers))

    async def drain(self, timeout_s: float = 60.0) -> int:
        counts = await asyncio.gather(*(worker.drain(timeout_s) for worker in self.workers))
        return sum(counts)

    async def aclose(self) -> None:
        for worker in self.workers:
            await worker.aclose()

    async def __aenter__(self) -> ShopWorkers:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
