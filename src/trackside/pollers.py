"""Periodic jobs: a protocol, the built-in ones, and the loop `serve` and `worker` run them in.

- every second: end held browser purchases whose join window is over (trackside/join.py), so
  an idle shop's unconfirmed purchases are not left pending until the next event arrives;
- once a day: the retention purge (TRACKSIDE_RETENTION_DAYS);
- each source's own poller, when that source is configured (sources/registry.py), e.g.
  PrestaShop every TRACKSIDE_PRESTASHOP_POLL_S: one per shop that has a connection.

Every poller runs once at start, then every interval, until stopped. They run where the
delivery worker runs (`trackside serve` without --no-worker, and `trackside worker`), so
scaled-out API processes do not all poll the shop or purge at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from trackside.config import Settings
from trackside.retention import purge_personal_data

if TYPE_CHECKING:
    from trackside.runtime import Runtime

log = logging.getLogger("trackside.pollers")


class Poller(Protocol):
    """One periodic job. ``run_once`` blocks (store or shop I/O) and runs in a thread."""

    name: str

    def enabled(self, settings: Settings) -> bool: ...

    def interval_s(self, settings: Settings) -> float: ...

    def run_once(self, runtime: Runtime, now: float) -> None:
        """One pass; an exception is logged and the next pass comes at the next interval."""

    def close(self) -> None:
        """Release what the passes kept open (a shop connection); called once, at the end."""


class HeldPurchaseSweep:
    name = "sweep"

    def enabled(self, settings: Settings) -> bool:
        return True

    def interval_s(self, settings: Settings) -> float:
        return 1.0

    def run_once(self, runtime: Runtime, now: float) -> None:
        ended = sum(shop.pipeline.sweep_holds(now) for shop in runtime.per_shop.values())
        if ended:
            log.info("%d browser purchases were not confirmed by the store in time", ended)

    def close(self) -> None:
        pass


class RetentionPurge:
    name = "purge"

    def enabled(self, settings: Settings) -> bool:
        return True

    def interval_s(self, settings: Settings) -> float:
        return 86400.0

    def run_once(self, runtime: Runtime, now: float) -> None:
        cutoff = now - runtime.settings.retention_days * 86400
        purged = purge_personal_data(runtime.store, cutoff, now)
        if purged:
            log.info("retention: cleared browser context of %d events", purged)

    def close(self) -> None:
        pass


def configured(settings: Settings) -> list[Poller]:
    """The built-in pollers and every configured source's, for one shop's settings."""
    from trackside.sources.registry import source_pollers

    candidates: list[Poller] = [*_built_in(), *source_pollers()]
    return [poller for poller in candidates if poller.enabled(settings)]


def _built_in() -> list[Poller]:
    # The sweep goes over every shop's pipeline, the purge over the whole store: once each.
    return [HeldPurchaseSweep(), RetentionPurge()]


async def run(poller: Poller, runtime: Runtime, stop: asyncio.Event) -> None:
    """Run ``poller`` at once and then every interval until ``stop`` is set."""
    interval = poller.interval_s(runtime.settings)
    try:
        while True:
            try:
                await asyncio.to_thread(poller.run_once, runtime, time.time())
            except Exception:
                log.exception("poller %s failed; retrying in %.0f s", poller.name, interval)
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval)
            except TimeoutError:
                continue
            return
    finally:
        poller.close()


def start(runtime: Runtime, stop: asyncio.Event,
          pollers: Sequence[Poller] | None = None) -> list[asyncio.Task[None]]:
    """One task per poller (the configured ones unless given); they end when ``stop`` is set.
    A source's poller runs once per shop configured for it, on that shop's view of the
    runtime (its settings, pipeline and cursor)."""
    if pollers is not None:
        return [asyncio.create_task(run(poller, runtime, stop), name=f"trackside-{poller.name}")
                for poller in pollers]
    from trackside.sources.registry import source_pollers

    tasks = [asyncio.create_task(run(poller, runtime, stop), name=f"trackside-{poller.name}")
             for poller in _built_in() if poller.enabled(runtime.settings)]
    for name in runtime.shops.names:
        view = runtime.for_shop(name)
        tasks += [asyncio.create_task(run(poller, view, stop),
                                      name=f"trackside-{poller.name}-{name}")
                  for poller in source_pollers() if poller.enabled(view.settings)]
    return tasks
