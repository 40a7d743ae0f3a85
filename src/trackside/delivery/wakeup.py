"""The worker's wake-up from other processes: the store's notifications (Store.subscribe).

A commit in this process already wakes the worker (the committer sets its wake event); a
commit in another process (another `serve --no-worker`, a `replay` from the CLI) only reaches
it through the store. With a subscription (PostgreSQL's LISTEN/NOTIFY) the idle worker sleeps
until notified, or ``NOTIFIED_IDLE_POLL_S`` at most, in case a notification was lost; without
one (SQLite, memory) it polls every ``IDLE_POLL_S`` as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from trackside.store import Store

#: An idle worker without notifications looks for due rows this often.
IDLE_POLL_S = 0.5
#: With notifications, the fallback look (a notification lost between two connections).
NOTIFIED_IDLE_POLL_S = 5.0


@asynccontextmanager
async def store_wakeups(store: Store, wake: asyncio.Event) -> AsyncIterator[float]:
    """Within the block, the store's notifications set ``wake`` (on the running loop); yields
    the idle poll the worker keeps (long when notified, short when the store cannot)."""
    loop = asyncio.get_running_loop()

    def on_work() -> None:  # any thread
        try:
            loop.call_soon_threadsafe(wake.set)
        except RuntimeError:  # the loop has closed: nobody is left to wake
            pass

    end = await asyncio.to_thread(store.subscribe, on_work)
    try:
        yield IDLE_POLL_S if end is None else NOTIFIED_IDLE_POLL_S
    finally:
        if end is not None:
            await asyncio.to_thread(end)
