"""Group commit: the events of concurrent requests are accepted in one store transaction.

Every accepted event costs one durable commit (``synchronous=FULL``: an fsync) before its 202
(DESIGN.md "accepted only after it is in the store"). One commit per request would cap the
service at the disk's fsync rate, so request handlers hand their parsed events to one thread
that drains everything queued meanwhile, runs ``Pipeline.accept`` once per source on the lot,
and only then resolves each request's future. A request therefore still answers only after its
events are committed, and a burst of N requests costs one fsync instead of N (the same idea as
datasette's write thread and PostgreSQL's commit_delay, without any added delay: a lone request
is committed at once).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from trackside import metrics
from trackside.events import Event
from trackside.pipeline import AcceptResult, Pipeline

log = logging.getLogger("trackside.committer")

#: Upper bound of events per transaction: big enough to amortize the fsync, small enough that
#: the first request of a group does not wait long for the last one's normalization.
MAX_GROUP_EVENTS = 4000


class CommitterClosed(Exception):
    """The service is shutting down and accepts nothing more."""


@dataclass
class _Job:
    events: Sequence[Event]
    source: str
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[list[AcceptResult]]


class Committer:
    def __init__(
        self,
        pipeline: Pipeline,
        *,
        on_commit: Callable[[], None] | None = None,
        max_group_events: int = MAX_GROUP_EVENTS,
    ) -> None:
        self.pipeline = pipeline
        self.on_commit = on_commit
        self.max_group_events = max_group_events
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False

    # -- called from the event loop ------------------------------------------------------------

    async def accept(self, events: Sequence[Event], source: str) -> list[AcceptResult]:
        """Accept ``events`` (already parsed); returns once they are committed."""
        if not events:
            return []
        self._ensure_started()
        loop = asyncio.get_running_loop()
        job = _Job(events, source, loop, loop.create_future())
        self._queue.put(job)
        # shield: a client that disconnects must not cancel a commit other requests share.
        return await asyncio.shield(job.future)

    def close(self, timeout_s: float = 30.0) -> None:
        """Commit what is queued, then stop the thread (blocking; call from a thread)."""
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout_s)

    def _ensure_started(self) -> None:
        if self._thread is not None and not self._closed:
            return
        with self._lock:
            if self._closed:
                raise CommitterClosed
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="trackside-committer", daemon=True
                )
                self._thread.start()

    # -- the commit thread ---------------------------------------------------------------------

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                stopping = True
                jobs: list[_Job] = []
            else:
                jobs = [first]
            size = sum(len(j.events) for j in jobs)
            # Take whatever else arrived while the previous transaction was running; after the
            # stop sentinel, take everything (jobs queued before close() must still commit).
            while stopping or size < self.max_group_events:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stopping = True
                    continue
                jobs.append(job)
                size += len(job.events)
            if jobs:
                self._commit(jobs)

    def _commit(self, jobs: list[_Job]) -> None:
        by_source: dict[str, list[_Job]] = {}
        for job in jobs:
            by_source.setdefault(job.source, []).append(job)
        for source, group in by_source.items():
            try:
                self._accept_group(source, group)
            except Exception as exc:
                if len(group) == 1:
                    log.error("commit of %d events failed: %s", len(group[0].events),
                              type(exc).__name__, exc_info=exc)
                    group[0].loop.call_soon_threadsafe(_fail, group[0].future, exc)
                    continue
                # One request's events must not fail the others it was grouped with:
                # commit each alone, so only the culprit (or everyone, if the store is
                # down) hears about it.
                for job in group:
                    self._commit([job])
        if self.on_commit is not None:
            self.on_commit()

    def _accept_group(self, source: str, group: list[_Job]) -> None:
        events = [event for job in group for event in job.events]
        results = self.pipeline.accept(events, source)
        tally = Counter(result.status for result in results)
        for status, count in tally.items():
            metrics.EVENTS_ACCEPTED.labels(source, status).inc(count)
        offset = 0
        for job in group:
            mine = results[offset : offset + len(job.events)]
            offset += len(job.events)
            job.loop.call_soon_threadsafe(_resolve, job.future, mine)


def _resolve(future: asyncio.Future[list[AcceptResult]], results: list[AcceptResult]) -> None:
    if not future.done():
        future.set_result(results)


def _fail(future: asyncio.Future[list[AcceptResult]], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
