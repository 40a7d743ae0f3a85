"""The periodic jobs `trackside serve` runs beside the worker.

- every second: end held browser purchases whose join window is over (trackside/join.py), so
  an idle shop's unconfirmed purchases are not left pending until the next event arrives;
- once a day (and once at start): the retention purge (TRACKSIDE_RETENTION_DAYS);
- every TRACKSIDE_PRESTASHOP_POLL_S, when a shop is configured: the PrestaShop poller.

They run only where the worker runs (not with --no-worker), so scaled-out API processes do
not all poll the shop or purge at once.
"""

from __future__ import annotations

import asyncio
import logging
import time

from trackside import join
from trackside.runtime import Runtime

log = logging.getLogger("trackside.background")

SWEEP_EVERY_S = 1.0
PURGE_EVERY_S = 86400.0


async def _every(period_s: float, stop: asyncio.Event) -> bool:
    """Wait ``period_s`` or until stopped; True when it is time to run again."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=period_s)
    except TimeoutError:
        return True
    return False


async def sweep_held_purchases(runtime: Runtime, stop: asyncio.Event) -> None:
    while await _every(SWEEP_EVERY_S, stop):
        try:
            ended = await asyncio.to_thread(join.sweep, runtime.pipeline, time.time())
            if ended:
                log.info("%d browser purchases were not confirmed by the store in time", ended)
        except Exception:
            log.exception("sweeping held browser purchases failed; retrying")


async def purge_daily(runtime: Runtime, stop: asyncio.Event) -> None:
    while True:
        try:
            now = time.time()
            cutoff = now - runtime.settings.retention_days * 86400
            purged = await asyncio.to_thread(runtime.store.purge_personal_data, cutoff, now)
            if purged:
                log.info("retention: cleared browser context of %d events", purged)
        except Exception:
            log.exception("retention purge failed; retrying tomorrow")
        if not await _every(PURGE_EVERY_S, stop):
            return


def start(runtime: Runtime, stop: asyncio.Event) -> list[asyncio.Task[None]]:
    tasks = [
        asyncio.create_task(sweep_held_purchases(runtime, stop), name="trackside-sweep"),
        asyncio.create_task(purge_daily(runtime, stop), name="trackside-purge"),
    ]
    from trackside.sources.prestashop.sync import poll_forever, prestashop_configured

    if prestashop_configured(runtime.settings):
        tasks.append(asyncio.create_task(poll_forever(runtime, stop), name="trackside-prestashop"))
    return tasks
