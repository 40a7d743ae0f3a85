"""The worker: claim due rows, send, classify, then deliver / retry / dead-letter / pause.

The only code that talks to vendors. Every claimed row leaves ``_process`` in one of three
ways: finished (a final outcome), rescheduled (an attempt recorded), or released (the
destination was paused before its turn). A row whose worker dies keeps its lease until the
lease expires, then it is due again: delivery is at-least-once on the wire, and effectively
once at Meta because a resent batch carries the same event ids (spec/meta-capi.md §5).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx

from trackside import metrics
from trackside.destinations import Classification, Destination, Prepared, Skip, Verdict
from trackside.events import NormalizedEvent
from trackside.redact import Redactor
from trackside.store import AttemptRecord, Claimed, Finished, Store

log = logging.getLogger("trackside.delivery")

CLAIM_LIMIT = 1000  # rows per claim; Meta takes 1,000 events per request (spec §6.1)
LEASE_S = 120.0  # a claim outlives the slowest send (timeouts × bisect depth) by far
IDLE_POLL_S = 0.5  # how often an idle worker looks for due rows
#: Requests in flight per destination: Meta answers in ~0.6 s (spec §6.1), so one request at
#: a time would cap a destination at ~1,600 events/s whatever our CPU does.
CONCURRENCY = 4
BACKOFF_BASE_S = 2.0  # first retry within seconds (full jitter on 2 s)
BACKOFF_CAP_S = 3600.0
DEFAULT_THROTTLE_S = 60.0


def retry_delay(attempts: int) -> float:
    """Exponential backoff with full jitter: uniform(0, min(cap, base · 2^attempts))."""
    ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * (2 ** min(attempts, 20)))
    return max(0.2, random.uniform(0, ceiling))


@dataclass
class _Batch:
    """What one claim turned into, collected and written back in few transactions."""

    finished: list[Finished] = field(default_factory=list)
    notes: list[tuple[int, str, str, str]] = field(default_factory=list)
    handled: set[int] = field(default_factory=set)
    stop: bool = False


class Worker:
    def __init__(
        self,
        store: Store,
        destinations: Sequence[Destination],
        *,
        client: httpx.AsyncClient | None = None,
        redactor: Redactor | None = None,
        owner: str | None = None,
        lease_s: float = LEASE_S,
        timeout_s: float = 10.0,
        clock: Callable[[], float] = time.time,
        concurrency: int = CONCURRENCY,
        policy: Callable[[NormalizedEvent, str], str | None] | None = None,
    ) -> None:
        self.store = store
        self.destinations = list(destinations)
        self.client = client or httpx.AsyncClient(timeout=timeout_s)
        self._own_client = client is None
        self.redact = redactor or Redactor(())
        self.owner = owner or f"worker-{uuid.uuid4().hex[:12]}"
        self.lease_s = lease_s
        self.clock = clock
        self.concurrency = max(1, concurrency)
        self.policy = policy
        self.wake = asyncio.Event()
        self.last_cycle_at = 0.0

    async def aclose(self) -> None:
        if self._own_client:
            await self.client.aclose()

    # -- loop --------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; in-flight sends finish, unclaimed rows stay pending."""
        await asyncio.to_thread(self._resume_operator_pauses)
        tasks = [
            asyncio.create_task(self._run_destination(d, stop))
            for d in self.destinations
            for _ in range(self.concurrency)
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()

    def _resume_operator_pauses(self) -> None:
        # A pause "until an operator acts" (bad token) is lifted at start: restarting with
        # corrected configuration is that act. If the token is still bad, the first send
        # pauses the destination again.
        names = {d.name for d in self.destinations}
        for state in self.store.destination_states():
            if state.paused_until is None and state.destination in names:
                log.warning("retrying paused destination %s (was: %s)", state.destination, state.reason)
                self.store.resume_destination(state.destination)

    async def _run_destination(self, destination: Destination, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                handled = await self.run_once(destination)
            except Exception:
                log.exception("delivery to %s failed unexpectedly; retrying", destination.name)
                handled = 0
            self.last_cycle_at = self.clock()
            if handled:
                continue
            delay = await asyncio.to_thread(self._idle_delay, destination)
            self.wake.clear()
            stop_wait = asyncio.create_task(stop.wait())
            wake_wait = asyncio.create_task(self.wake.wait())
            await asyncio.wait({stop_wait, wake_wait}, timeout=delay,
                               return_when=asyncio.FIRST_COMPLETED)
            stop_wait.cancel()
            wake_wait.cancel()

    def _idle_delay(self, destination: Destination) -> float:
        now = self.clock()
        paused = self._paused_until(destination.name, now)
        if paused is not None:
            return max(0.05, min(paused - now, IDLE_POLL_S * 10))
        due = self.store.next_due(destination.name)
        if due is None:
            return IDLE_POLL_S
        return max(0.0, min(due - now, IDLE_POLL_S))

    def _paused_until(self, name: str, now: float) -> float | None:
        for state in self.store.destination_states():
            if state.destination != name:
                continue
            if state.paused_until is None:
                return float("inf")
            if state.paused_until > now:
                return state.paused_until
            self.store.resume_destination(name)
        return None

    async def drain(self, timeout_s: float = 60.0) -> int:
        """Deliver everything due now (used by tests, `worker --drain` and benchmarks)."""
        deadline = time.monotonic() + timeout_s

        async def lane(destination: Destination) -> int:
            handled = 0
            while time.monotonic() < deadline:
                step = await self.run_once(destination)
                if not step:
                    break
                handled += step
            return handled

        counts = await asyncio.gather(
            *(lane(d) for d in self.destinations for _ in range(self.concurrency))
        )
        return sum(counts)

    # -- one claim -----------------------------------------------------------------------------

    async def run_once(self, destination: Destination) -> int:
        now = self.clock()
        if await asyncio.to_thread(self._paused_until, destination.name, now) is not None:
            return 0
        claimed = await asyncio.to_thread(
            self.store.claim, destination.name, CLAIM_LIMIT, self.owner, self.lease_s, now
        )
        if not claimed:
            return 0
        batch = _Batch()
        try:
            await self._process(destination, claimed, batch, now)
        finally:
            await asyncio.to_thread(self._write_back, destination, claimed, batch)
        return len(claimed)

    def _write_back(self, destination: Destination, claimed: list[Claimed], batch: _Batch) -> None:
        now = self.clock()
        self.store.finish(batch.finished, now)
        if batch.notes:
            self.store.add_notes(batch.notes, now)
        leftover = [c.outbox_id for c in claimed if c.outbox_id not in batch.handled]
        self.store.release(leftover)
        accepted_at = {c.outbox_id: c.accepted_at for c in claimed}
        for result in batch.finished:
            metrics.OUTCOMES.labels(destination.name, result.status).inc()
            if result.status == "delivered":
                metrics.DELIVERY_LATENCY.labels(destination.name).observe(
                    max(0.0, now - accepted_at[result.outbox_id])
                )

    async def _process(
        self, destination: Destination, claimed: list[Claimed], batch: _Batch, now: float
    ) -> None:
        oldest_allowed = now - destination.max_event_age_s
        prepared: list[Prepared] = []
        attempts: dict[int, int] = {}
        for row in claimed:
            attempts[row.outbox_id] = row.attempts
            if row.event.event_time < oldest_allowed:
                self._finish(batch, row.outbox_id, "expired",
                             message=f"event_time is older than {destination.name}'s window")
                continue
            if self.policy is not None:
                refused = self.policy(row.event, destination.name)
                if refused:
                    self._finish(batch, row.outbox_id, "suppressed", message=refused)
                    continue
            result = destination.prepare(row.outbox_id, row.event, now)
            if isinstance(result, Skip):
                self._finish(batch, row.outbox_id, result.outcome, message=result.reason)
                continue
            for note in result.notes:
                batch.notes.append((row.outbox_id, "note", destination.name, note))
            prepared.append(result)
        for group in destination.batches(prepared):
            if batch.stop:
                break
            await self._send(destination, group, batch, attempts)

    def _finish(self, batch: _Batch, outbox_id: int, status: str, *, code: int | None = None,
                subcode: int | None = None, message: str | None = None,
                sent: str | None = None) -> None:
        batch.finished.append(
            Finished(outbox_id, status, code, subcode, self.redact(message), sent)
        )
        batch.handled.add(outbox_id)

    async def _send(
        self, destination: Destination, group: list[Prepared], batch: _Batch,
        attempts: dict[int, int],
    ) -> None:
        verdict = await self._classified_send(destination, group)
        if verdict.verdict is Verdict.DELIVERED:
            for item in group:
                self._finish(batch, item.outbox_id, "delivered", sent=item.payload_json())
            return
        if verdict.verdict is Verdict.REJECTED:
            if len(group) > 1:
                # One invalid event rejects the whole request (spec §0.1, §6.2): bisect so
                # every valid event is delivered and only the bad ones are dead-lettered.
                middle = len(group) // 2
                await self._send(destination, group[:middle], batch, attempts)
                if not batch.stop:
                    await self._send(destination, group[middle:], batch, attempts)
                return
            item = group[0]
            self._finish(batch, item.outbox_id, "dead", code=verdict.code, subcode=verdict.subcode,
                         message=verdict.message, sent=item.payload_json())
            return
        now = self.clock()
        record = AttemptRecord(
            verdict=verdict.verdict.value,
            http_status=verdict.http_status,
            code=verdict.code,
            subcode=verdict.subcode,
            message=self.redact(verdict.message),
            batch_size=len(group),
        )
        if verdict.verdict is Verdict.RETRY:
            await asyncio.to_thread(self._retry_later, destination, group, batch, attempts, record, now)
            return
        if verdict.verdict is Verdict.THROTTLED:
            until = now + (verdict.retry_after_s or DEFAULT_THROTTLE_S)
            log.warning("%s throttles us (code %s): pausing until %s",
                        destination.name, verdict.code, time.strftime("%H:%M:%S", time.localtime(until)))
            await asyncio.to_thread(
                self.store.pause_destination, destination.name, until,
                f"throttled by {destination.name} (code {verdict.code})", verdict.code, now,
            )
            await asyncio.to_thread(
                self.store.reschedule, [i.outbox_id for i in group], until, record, now
            )
            batch.handled.update(i.outbox_id for i in group)
            batch.stop = True
            return
        # DISABLED: wrong credentials or pixel. Dead-lettering the backlog would lose it; pause.
        reason = f"{destination.name} refused our credentials or configuration: {record.message}"
        log.error("%s paused until an operator acts (code %s): %s",
                  destination.name, verdict.code, record.message)
        await asyncio.to_thread(
            self.store.pause_destination, destination.name, None, reason, verdict.code, now
        )
        await asyncio.to_thread(
            self.store.reschedule, [i.outbox_id for i in group], now, record, now
        )
        batch.handled.update(i.outbox_id for i in group)
        batch.stop = True

    def _retry_later(
        self, destination: Destination, group: list[Prepared], batch: _Batch,
        attempts: dict[int, int], record: AttemptRecord, now: float,
    ) -> None:
        # One jittered time per group: the rows were sent together and stay batched.
        at = now + retry_delay(max(attempts[item.outbox_id] for item in group))
        retry_ids = []
        for item in group:
            if at > item.event.event_time + destination.max_event_age_s:
                # Giving up only when the destination would refuse it anyway.
                self._finish(batch, item.outbox_id, "expired", code=record.code,
                             subcode=record.subcode,
                             message=f"still failing when the event left {destination.name}'s "
                                     f"window; last error: {record.message}")
                continue
            retry_ids.append(item.outbox_id)
            batch.handled.add(item.outbox_id)
        self.store.reschedule(retry_ids, at, record, now)
        metrics.RETRIES.labels(destination.name, record.verdict).inc(len(group))

    async def _classified_send(self, destination: Destination, group: list[Prepared]) -> Classification:
        if getattr(destination, "offline", False):
            return destination.simulate(group)  # type: ignore[attr-defined, no-any-return]
        request = destination.build_request(group)
        try:
            response = await self.client.send(request)
            await response.aread()
        except httpx.HTTPError as exc:
            return destination.classify(None, exc, len(group))
        return destination.classify(response, None, len(group))
