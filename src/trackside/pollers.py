"""Periodic jobs: a protocol, the built-in ones, and the loop `serve` and `worker` run them in.

- every second: end held browser purchases whose join window is over (trackside/join.py), so
  an idle shop's unconfirmed purchases are not left pending until the next event arrives;
- once a day: the retention purge (TRACKSIDE_RETENTION_DAYS);
- once an hour: Meta's Dataset Quality figures of every shop with Meta credentials
  (trackside/reports/dataset_quality.py);
- each source's own poller, when that source is configured (sources/registry.py), e.g.
  PrestaShop every TRACKSIDE_PRESTASHOP_POLL_S: one per shop that has a connection.

They run where the delivery worker runs (`trackside serve` without --no-worker, and
`trackside worker`), and each job runs once per interval across the whole fleet sharing the
store, not once per process: every pass goes through ``Store.job_lock(name, interval, owner,
now)`` (PostgreSQL: an advisory lock; SQLite: a lease in the jobs table), which lets one
process start it when its last start, by any process, is an interval old. Each process asks
every ``CHECK_S`` at most (every interval when shorter), so when the process that ran a job
dies, another one takes it over within ``CHECK_S`` of it being due (SQLite: once the dead
holder's lease, ``JOB_LEASE_S``, is over). The job names are ``sweep``, ``purge`` and a
source's name with its shop (``prestashop:<shop>``); the owner recorded is host:pid:random.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from trackside.config import Settings
from trackside.retention import purge_personal_data
from trackside.store import JOB_FAILED_RETRY_S

if TYPE_CHECKING:
    from trackside.runtime import Runtime

log = logging.getLogger("trackside.pollers")

#: How often a process asks the store whether a job is due (at most; a shorter interval is
#: asked at its own pace): the jobs row decides, so asking often is cheap and a job another
#: process failed to run (it died) is late by this much, not by a whole interval.
CHECK_S = 5.0


class Poller(Protocol):
    """One periodic job. ``run_once`` blocks (store or shop I/O) and runs in a thread."""

    name: str

    def enabled(self, settings: Settings) -> bool: ...

    def interval_s(self, settings: Settings) -> float: ...

    def run_once(self, runtime: Runtime, now: float) -> None:
        """One pass; an exception is logged and the pass is tried again JOB_FAILED_RETRY_S
        later (or at the next interval, when shorter), in whichever process gets there first."""

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
    # The sweep goes over every shop's pipeline, the purge over the whole store, Meta's
    # dataset quality over every shop with Meta credentials: once each.
    from trackside.reports.dataset_quality import DatasetQualityPoller

    return [HeldPurchaseSweep(), RetentionPurge(), DatasetQualityPoller()]


def process_owner() -> str:
    """Who runs a job, as recorded in the jobs row: host:pid:random (a pid is reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def _pass_if_due(poller: Poller, runtime: Runtime, job: str, interval: float,
                 owner: str) -> None:
    now = time.time()
    with runtime.store.job_lock(job, interval, owner, now) as ours:
        if ours:
            log.debug("job %s started at %.6f by %s", job, now, owner)
            poller.run_once(runtime, now)


async def run(poller: Poller, runtime: Runtime, stop: asyncio.Event, *,
              job: str | None = None, owner: str | None = None) -> None:
    """Run ``poller`` (job name ``job``, default its name) whenever the store says it is due,
    across every process sharing the store, until ``stop`` is set."""
    interval = poller.interval_s(runtime.settings)
    job, owner = job or poller.name, owner or process_owner()
    check = min(interval, CHECK_S)
    try:
        while True:
            try:
                await asyncio.to_thread(_pass_if_due, poller, runtime, job, interval, owner)
            except Exception:
                log.exception("poller %s failed; retrying in %.0f s", job,
                              min(interval, JOB_FAILED_RETRY_S))
            try:
                await asyncio.wait_for(stop.wait(), timeout=check)
            except TimeoutError:
                continue
            return
    finally:
        poller.close()


def start(runtime: Runtime, stop: asyncio.Event,
          pollers: Sequence[Poller] | None = None) -> list[asyncio.Task[None]]:
    """One task per poller (the configured ones unless given); they end when ``stop`` is set.
    A source's poller runs once per shop configured for it, on that shop's view of the
    runtime (its settings, pipeline and cursor), as job ``<source>:<shop>``."""
    owner = process_owner()
    if pollers is not None:
        return [asyncio.create_task(run(poller, runtime, stop, owner=owner),
                                    name=f"trackside-{poller.name}")
                for poller in pollers]
    from trackside.sources.registry import source_pollers

    tasks = [asyncio.create_task(run(poller, runtime, stop, owner=owner),
                                 name=f"trackside-{poller.name}")
             for poller in _built_in()
             if any(poller.enabled(shop.settings) for shop in runtime.shops)]
    for name in runtime.shops.names:
        view = runtime.for_shop(name)
        tasks += [asyncio.create_task(run(poller, view, stop, job=f"{poller.name}:{name}",
                                          owner=owner),
                                      name=f"trackside-{poller.name}-{name}")
                  for poller in source_pollers() if poller.enabled(view.settings)]
    return tasks
