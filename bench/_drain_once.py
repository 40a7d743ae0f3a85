"""Drain an existing store to the fake Graph API; print events/s and peak RSS as JSON.

Run as a subprocess by bench/delivery.py so that the peak memory is the worker's own.
Usage: python bench/_drain_once.py DB_PATH GRAPH_URL PIXEL_ID TOKEN
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time

from trackside.config import Settings
from trackside.runtime import Runtime


def main() -> None:
    db, url, pixel_id, token = sys.argv[1:5]
    settings = Settings(database_url=f"sqlite:///{db}", meta_pixel_id=pixel_id,
                        meta_access_token=token, meta_graph_url=url, join_window_s=0)
    runtime = Runtime.from_settings(settings)
    baseline_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    async def drain() -> int:
        async with runtime.worker(timeout_s=60) as worker:
            return await worker.drain(timeout_s=3600)

    started = time.perf_counter()
    handled = asyncio.run(drain())
    elapsed = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    counts = {c.destination: c.counts for c in runtime.store.counts()}
    print(json.dumps({"handled": handled, "seconds": elapsed, "events_per_s": handled / elapsed,
                      "peak_rss_mb": peak_kb / 1024, "rss_before_drain_mb": baseline_kb / 1024,
                      "counts": counts}))


if __name__ == "__main__":
    main()
