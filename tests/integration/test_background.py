"""serve's periodic jobs: held browser purchases end without new traffic; purge runs at start."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tests.waiting import wait_until_async
from trackside import pollers
from trackside.config import load_settings
from trackside.runtime import Runtime

GRANTED = {"ad_storage": "granted", "ad_user_data": "granted", "analytics_storage": "granted"}


def test_unconfirmed_browser_purchase_ends_while_the_shop_is_idle(tmp_path: Path) -> None:
    runtime = Runtime.from_settings(load_settings(environ={
        "TRACKSIDE_DATABASE_URL": f"sqlite:///{tmp_path}/b.db", "TRACKSIDE_JOIN_WINDOW_S": "0.5",
        "TRACKSIDE_RETENTION_DAYS": "1"}))
    beacon = {"event_name": "Purchase", "event_source_url": "https://shop.example/thanks",
              "user": {"fbp": "fb.1.1700000000000.42", "ip": "203.0.113.9", "user_agent": "UA"},
              "order": {"reference": "R1", "value": 10, "currency": "EUR"}, "consent": GRANTED}
    runtime.pipeline.accept([beacon], "browser")
    old = {**beacon, "order": {**beacon["order"], "reference": "OLD"}, "consent": GRANTED}
    three_days_ago = time.time() - 3 * 86400
    runtime.pipeline.accept([{**old, "event_name": "Lead", "event_id": "old-lead",
                              "event_time": int(three_days_ago)}], "browser",
                            now=three_days_ago)

    def purchase_ended_and_lead_purged() -> bool:
        [row] = runtime.store.event_view("R1")[0].outbox
        [lead] = runtime.store.event_view("old-lead")
        ended = row.status not in ("pending", "held")
        return ended and "client_ip_address" not in lead.event.user_data

    async def run() -> None:
        stop = asyncio.Event()
        tasks = pollers.start(runtime, stop)
        try:
            await wait_until_async(purchase_ended_and_lead_purged, timeout_s=15,
                                   what="the sweep to end R1 and the purge to clear old-lead")
        finally:
            stop.set()
            await asyncio.wait(tasks, timeout=5)

    async def deliver_old() -> None:
        async with runtime.worker() as worker:
            await worker.drain()

    asyncio.run(deliver_old())
    asyncio.run(run())
    [view] = runtime.store.event_view("R1")
    [row] = view.outbox
    assert row.status == "suppressed"
    assert row.message == "browser purchase not confirmed by the store"
    # The purge ran at start: the 3-day-old final event lost its IP.
    [lead] = runtime.store.event_view("old-lead")
    assert "client_ip_address" not in lead.event.user_data
    runtime.close()
