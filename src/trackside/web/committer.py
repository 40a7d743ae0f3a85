"""Group commit: the events of concurrent requests are accepted in one store transaction.

Every accepted event costs one durable commit (``synchronous=FULL``: an fsync) before its 202
(docs/api.md: 202 once every valid event is committed). One commit per request would cap the
service at the disk's fsync rate, so request handlers queue their parsed events here and one
flush, run on the event loop right after the handlers that are ready have run, accepts the lot
(once per source) and then resolves each request's future. A request still answers only after
its events are committed; a burst of N requests costs one fsync instead of N; a lone request is
committed at once (no added delay).

Where the work runs: the CPU half of accepting (``Pipeline.prepare``: parsing, normalizing,
hashing, planning) stays on the event loop, and only the store half (``Pipeline.commit``: the
transaction) runs in one writer thread. Running all of ``Pipeline.accept`` in a thread cost ~30%
of batched throughput to GIL hand-offs (bench/ingest.py, docs/benchmarks.md); the store half is
mostly waiting (locks, fsync), which releases the GIL. Keeping the wait off the loop is what lets
/healthz, /t.js and /metrics answer while another process holds the database lock.

Bounded waiting: a request is answered 503 (with Retry-After, by the handlers) only when the
store is stuck, never because it is busy. Stuck means: an attempt gave up on a lock since the
request was queued (every store call runs under ``Store.time_limit``: each lock wait lasts at
most ``store_wait_s``), or the writer has been inside one store call for ``HUNG_STORE_S``
without committing or giving up (a stalled disk). So under a lock held by another process each
request hears 503 within about one attempt of its arrival. A request whose group has not
started is withdrawn from the queue first: its events were never written. Under a burst the
store keeps up with, requests queue behind busy groups however long that takes (measured with
bench/ingest.py: shedding when a group took longer than ``store_wait_s`` refused nearly every
500-event batch under 32 connections).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from trackside import metrics
from trackside.events import Event
from trackside.pipeline import AcceptResult, Pipeline, PreparedBatch
from trackside.sources.facts import NO_FACTS, BrowserFacts
from trackside.store import StoreError, StoreLocked

log = logging.getLogger("trackside.committer")

#: Events per transaction: enough to amortize the fsync over many small requests, small
#: enough that a big batch is not held back by the normalization of other big batches.
MAX_GROUP_EVENTS = 1000
#: How long one store call may wait for a lock before its requests are answered 503 with
#: Retry-After. Under a lock held by another process the answer comes within this, plus
#: SQLite's busy-handler step (≤ 0.1 s) and the request's own parsing.
STORE_WAIT_S = 1.5
#: A store call that neither commits nor gives up on a lock for this long is hung (a stalled
#: disk): the requests queued behind it are answered 503.
HUNG_STORE_S = 10.0
#: How often the committer looks whether the writer is stuck while requests are queued.
_STUCK_POLL_S = 0.1


@dataclass
class _Group:
    """The queued jobs of one pipeline (one shop) and one source: one prepare() call."""

    pipeline: Pipeline
    source: str
    jobs: list[_Job] = field(default_factory=list)


class CommitterClosed(Exception):
    """The service is shutting down and accepts nothing more."""


@dataclass
class _Job:
    events: Sequence[Event]
    source: str
    future: asyncio.Future[list[AcceptResult]]
    #: time.monotonic() when the request queued its events.
    queued_at: float
    #: Its group was handed to the writer: the outcome is decided there, not by a timeout.
    started: bool = False
    #: What a browser source knows beyond each event's body (sources/facts.py).
    facts: Sequence[BrowserFacts] | None = None
    #: The shop's pipeline the events go through (the committer's own when None).
    pipeline: Pipeline | None = None

    def facts_per_event(self) -> Sequence[BrowserFacts]:
        return self.facts if self.facts is not None else [NO_FACTS] * len(self.events)


class Committer:
    def __init__(
        self,
        pipeline: Pipeline,
        *,
        on_commit: Callable[[], None] | None = None,
        max_group_events: int = MAX_GROUP_EVENTS,
        store_wait_s: float = STORE_WAIT_S,
    ) -> None:
        self.pipeline = pipeline
        self.on_commit = on_commit
        self.max_group_events = max_group_events
        self.store_wait_s = store_wait_s
        self._pending: list[_Job] = []
        #: time.monotonic() when the writer entered the store call it is in (None: idle).
        #: Written by the writer thread, read on the loop: a float swap is atomic.
        self._busy_since: float | None = None
        #: time.monotonic() of the last store call that gave up on a lock (0: never).
        self._locked_at = 0.0
        self._flusher: asyncio.Task[None] | None = None
        #: The timer of the next look for stuck jobs (None: no job queued, no timer).
        self._watchdog: asyncio.TimerHandle | None = None
        self._watching: asyncio.AbstractEventLoop | None = None
        self._closed = False
        # One writer: groups are committed in order, and never two at once from here.
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trackside-writer")

    async def accept(self, events: Sequence[Event], source: str,
                     facts: Sequence[BrowserFacts] | None = None,
                     pipeline: Pipeline | None = None) -> list[AcceptResult]:
        """Accept ``events`` (already parsed; ``facts``, one per event, go with them to the
        join) through ``pipeline`` (their shop's; the committer's own by default); returns
        once they are committed. Events of several shops and sources queued together are one
        group: one store transaction, one fsync.

        Raises StoreLocked when the store did not take them within ``store_wait_s`` and
        another StoreError when it refused them; in both cases nothing was committed: a group
        (its joins, confirmations, notes and sweep included) is one store transaction.
        """
        if self._closed:
            raise CommitterClosed
        if not events:
            return []
        loop = asyncio.get_running_loop()
        job = _Job(events, source, loop.create_future(), time.monotonic(), facts=facts,
                   pipeline=pipeline)
        self._pending.append(job)
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush_loop(), name="trackside-committer")
        if self._watchdog is None or self._watching is not loop:
            # A timer left armed on a loop that has since closed (a test client's) never
            # fires: this loop needs its own.
            self._watchdog = loop.call_later(_STUCK_POLL_S, self._watch)
            self._watching = loop
        # shield: a client that disconnects must not cancel a commit others share.
        return await asyncio.shield(job.future)

    def _watch(self) -> None:
        """Withdraw and fail (StoreLocked) every queued job whose group has not started while
        the store is stuck; runs every ``_STUCK_POLL_S`` while jobs are queued.

        One timer for all waiting requests rather than a ``wait_for`` per request: that cost a
        timer, a task and a wake-up per request and per poll. A started job is not here (its
        group was taken from the queue): it hears its own outcome from the writer.
        """
        self._watchdog = None
        for job in list(self._pending):
            if not job.future.done() and self._stuck(job):
                self._pending.remove(job)
                _fail(job.future, StoreLocked(
                    f"the store completed no write for {self.store_wait_s:.1f}s; nothing of "
                    "this request was stored"))
        if self._pending:
            self._watchdog = asyncio.get_running_loop().call_later(_STUCK_POLL_S, self._watch)

    def _stuck(self, job: _Job) -> bool:
        if self._locked_at >= job.queued_at:  # an attempt gave up on a lock since it queued
            return True
        # Working slowly is not stuck (a group of 1,000 events shares the GIL with a loop
        # parsing big batches); only a call that neither commits nor gives up is.
        busy_since = self._busy_since
        return busy_since is not None and time.monotonic() - busy_since > HUNG_STORE_S

    async def aclose(self) -> None:
        """Commit what is queued, refuse anything new, and stop the writer thread."""
        self._closed = True
        while self._flusher is not None and not self._flusher.done():
            await asyncio.wait({self._flusher})
        if self._pending:  # queued after the last flush ended
            await self._flush_loop()
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        self._writer.shutdown(wait=True)

    # -- the flush -----------------------------------------------------------------------------

    async def _flush_loop(self) -> None:
        while self._pending:
            # Let the handlers that are ready queue their events first: one group, one fsync.
            await asyncio.sleep(0)
            group = self._take_group()
            if group:
                await self._commit(group)
                if self.on_commit is not None:
                    self.on_commit()

    def _take_group(self) -> list[_Job]:
        group: list[_Job] = []
        size = 0
        while self._pending and (not group or size < self.max_group_events):
            job = self._pending.pop(0)
            if job.future.done():
                continue
            if self._locked_at >= job.queued_at:
                # Queued while an attempt gave up on a lock: answer now rather than make it
                # wait for a second attempt (its waiter may already be saying 503).
                _fail(job.future, StoreLocked("the store is locked"))
                continue
            group.append(job)
            size += len(job.events)
        return group

    async def _commit(self, jobs: list[_Job]) -> None:
        # One pipeline.prepare per (shop, source), and one store transaction (one fsync) for
        # all of them: 32 requests spread over 50 shops are still one commit, not 25.
        by_source: dict[tuple[int, str], _Group] = {}
        for job in jobs:
            pipeline = job.pipeline or self.pipeline
            key = (id(pipeline), job.source)
            by_source.setdefault(key, _Group(pipeline, job.source)).jobs.append(job)
        try:
            await self._accept_groups(list(by_source.values()))
        except StoreError as exc:
            # The store itself refused (locked, full, read-only, gone): everyone hears it.
            log.warning("Commit of %d events failed: %s.",
                        sum(len(job.events) for job in jobs), type(exc).__name__)
            for job in jobs:
                _fail(job.future, exc)
        except Exception as exc:
            if len(jobs) == 1:
                log.error("Commit of %d events failed: %s.", len(jobs[0].events),
                          type(exc).__name__, exc_info=exc)
                _fail(jobs[0].future, exc)
                return
            # One request's events must not fail the others it was grouped with:
            # commit each alone, so only the culprit hears about it.
            for job in jobs:
                await self._commit([job])

    async def _accept_groups(self, groups: list[_Group]) -> None:
        loop = asyncio.get_running_loop()
        batches: list[PreparedBatch] = []
        for group in groups:
            events = [event for job in group.jobs for event in job.events]
            facts = None
            if any(job.facts is not None for job in group.jobs):
                facts = [fact for job in group.jobs for fact in job.facts_per_event()]
            batches.append(group.pipeline.prepare(events, group.source, facts=facts))
        for group in groups:
            for job in group.jobs:
                job.started = True
        results = await loop.run_in_executor(self._writer, self._store, groups, batches)
        for group, mine_all in zip(groups, results, strict=True):
            tally = Counter(result.status for result in mine_all)
            for status, count in tally.items():
                metrics.EVENTS_ACCEPTED.labels(group.pipeline.shop, group.source, status).inc(
                    count)
            offset = 0
            for job in group.jobs:
                mine = mine_all[offset : offset + len(job.events)]
                offset += len(job.events)
                if not job.future.done():
                    job.future.set_result(mine)

    def _store(self, groups: list[_Group],
               batches: list[PreparedBatch]) -> list[list[AcceptResult]]:
        # Every shop's pipeline shares the runtime's one store: one transaction holds them all.
        self._busy_since = time.monotonic()
        store = self.pipeline.store
        try:
            with store.time_limit(self.store_wait_s), store.transaction() as unit:
                return [group.pipeline.commit_in(unit, batch)
                        for group, batch in zip(groups, batches, strict=True)]
        except StoreLocked:
            self._locked_at = time.monotonic()
            raise
        finally:
            self._busy_since = None


def _fail(future: asyncio.Future[list[AcceptResult]], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
