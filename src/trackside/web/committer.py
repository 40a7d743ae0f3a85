"""Group commit: the events of concurrent requests are accepted in one store transaction.

Every accepted event costs one durable commit (``synchronous=FULL``: an fsync) before its 202
(DESIGN.md "accepted only after it is in the store"). One commit per request would cap the
service at the disk's fsync rate, so request handlers queue their parsed events here and one
flush, scheduled on the event loop right after the handlers that are ready have run, accepts
the lot through ``Pipeline.accept`` (once per source) and then resolves each request's future.
A request still answers only after its events are committed; a burst of N requests costs one
fsync instead of N; a lone request is committed at once (no added delay).

Why on the event loop and not in a writer thread: accepting is CPU work (parsing, normalizing,
hashing) far more than I/O, and two CPU-bound threads share one GIL. Measured with
bench/ingest.py on the 2-vCPU benchmark machine, a writer thread running ``Pipeline.accept``
cost ~30% of batched throughput to GIL hand-offs and was no faster for single events
(docs/benchmarks.md). While a flush runs, new requests wait in the kernel's socket buffers and
join the next, larger group.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from trackside import metrics
from trackside.events import Event
from trackside.pipeline import AcceptResult, Pipeline

log = logging.getLogger("trackside.committer")

#: Events per transaction: enough to amortize the fsync over many small requests, small
#: enough that a big batch is not held back by the normalization of other big batches.
MAX_GROUP_EVENTS = 1000


class CommitterClosed(Exception):
    """The service is shutting down and accepts nothing more."""


@dataclass
class _Job:
    events: Sequence[Event]
    source: str
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
        self._pending: list[_Job] = []
        self._scheduled = False
        self._closed = False

    async def accept(self, events: Sequence[Event], source: str) -> list[AcceptResult]:
        """Accept ``events`` (already parsed); returns once they are committed."""
        if self._closed:
            raise CommitterClosed
        if not events:
            return []
        loop = asyncio.get_running_loop()
        job = _Job(events, source, loop.create_future())
        self._pending.append(job)
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        # shield: a client that disconnects must not cancel a commit other requests share.
        return await asyncio.shield(job.future)

    def close(self) -> None:
        """Commit what is queued and refuse anything new (call on the event loop)."""
        self._closed = True
        while self._pending:
            self._flush()

    # -- the flush -----------------------------------------------------------------------------

    def _flush(self) -> None:
        self._scheduled = False
        group: list[_Job] = []
        size = 0
        while self._pending and (not group or size < self.max_group_events):
            job = self._pending.pop(0)
            group.append(job)
            size += len(job.events)
        if self._pending and not self._closed:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)
        if group:
            self._commit(group)

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
                    _fail(group[0].future, exc)
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
            if not job.future.done():
                job.future.set_result(mine)


def _fail(future: asyncio.Future[list[AcceptResult]], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
