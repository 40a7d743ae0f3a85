"""The worker's loop: claim due rows, prepare, batch, send, classify, write back.

Every claimed row leaves ``_process`` in one of three ways: finished (a final outcome),
rescheduled (an attempt recorded), or released (the destination was paused, or its circuit
opened, before its turn). Answers that need isolating go to isolation.py, throttles and storms
to throttle.py.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence

import httpx

from trackside import metrics
from trackside.delivery.base import _Batch
from trackside.delivery.isolation import IsolationMixin
from trackside.delivery.throttle import CircuitBreaker, ThrottleMixin, retry_delay
from trackside.delivery.wakeup import IDLE_POLL_S, store_wakeups
from trackside.destinations import (
    Classification,
    Destination,
    Fault,
    Prepared,
    Skip,
    Verdict,
    too_old,
    window,
)
from trackside.events import NormalizedEvent
from trackside.redact import Redactor
from trackside.shop_names import DEFAULT_SHOP, checked_shop
from trackside.store import AttemptRecord, Claimed, Finished, Store, StoreError

log = logging.getLogger("trackside.delivery")  # one logger for the whole worker

CLAIM_LIMIT = 1000  # rows per claim; Meta takes 1,000 events per request
#: A killed worker's rows are due again this long after its last heartbeat; the heartbeat
#: (every lease/3) keeps a slow send's rows from being sent twice meanwhile.
#: How long a lane waits before claiming again when the store did not answer.
STORE_RETRY_S = 2.0
LEASE_S = 30.0
#: Requests in flight per destination: Meta answers in ~0.6 s (most answers take under 600 ms,
#: Meta's Conversions API support page), so one request at a time would cap a destination at
#: ~1,600 events/s whatever our CPU does.
CONCURRENCY = 4


class Worker(IsolationMixin, ThrottleMixin):
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
        shop: str = DEFAULT_SHOP,
    ) -> None:
        self.store = store
        self.shop = checked_shop(shop)
        self.destinations = list(destinations)
        self.client = client or httpx.AsyncClient(timeout=timeout_s)
        self._own_client = client is None
        #: A destination that brings its own transport (the dry run answers offline, like
        #: httpx's MockTransport) gets a client of its own on it; the others share ``client``.
        self._clients: dict[str, httpx.AsyncClient] = {
            d.name: httpx.AsyncClient(transport=transport, timeout=timeout_s)
            for d in destinations
            if (transport := getattr(d, "transport", None)) is not None
        }
        self.redact = redactor or Redactor(())
        self.owner = owner or f"worker-{uuid.uuid4().hex[:12]}"
        self.lease_s = lease_s
        self.timeout_s = timeout_s
        self.clock = clock
        self.concurrency = max(1, concurrency)
        self.policy = policy
        self.wake = asyncio.Event()
        self.idle_poll_s = IDLE_POLL_S
        self.last_cycle_at = 0.0
        self.breakers: dict[str, CircuitBreaker] = {d.name: CircuitBreaker() for d in destinations}
        #: Throttles in a row per destination since its last success (for the escalation).
        self.throttles_in_a_row: dict[str, int] = {d.name: 0 for d in destinations}

    async def aclose(self) -> None:
        """Close the HTTP client if the worker made it (a client passed in is the caller's)."""
        for own in self._clients.values():
            await own.aclose()
        if self._own_client:
            await self.client.aclose()

    async def __aenter__(self) -> Worker:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- loop --------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; in-flight sends finish, unclaimed rows stay pending.
        Other processes' commits wake it through the store when it can (delivery/wakeup.py)."""
        async with store_wakeups(self.store, self.wake) as idle_poll_s:
            await self.deliver(stop, idle_poll_s)

    async def deliver(self, stop: asyncio.Event, idle_poll_s: float = IDLE_POLL_S) -> None:
        """``run``'s lanes, with ``wake`` set by whoever subscribed (ShopWorkers: once for
        every shop); an idle lane looks again after ``idle_poll_s`` at most."""
        self.idle_poll_s = idle_poll_s
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
        # pauses the destination again (after the event alone and the probe both fail); an
        # event that was isolated before is dead-lettered and never claimed again.
        names = {d.name for d in self.destinations}
        for state in self.store.destination_states(shop=self.shop):
            if state.paused_until is None and state.destination in names:
                log.warning("retrying paused destination %s (was: %s)",
                            state.destination, state.reason)
                self.store.resume_destination(state.destination, shop=self.shop)

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
            try:
                delay = await asyncio.to_thread(self._idle_delay, destination)
            except StoreError as exc:
                # The store is away (PostgreSQL restarting, a failover): this lane waits and
                # claims again; ending it would end delivery until the process restarts.
                log.warning("delivery to %s: the store is unavailable (%s); retrying in %g s",
                            destination.name, type(exc).__name__, STORE_RETRY_S)
                delay = STORE_RETRY_S
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
        breaker = self.breakers[destination.name]
        if breaker.is_open:
            return max(0.05, min(breaker.next_probe_at - now, IDLE_POLL_S * 10))
        due = self.store.next_due(destination.name, shop=self.shop)
        if due is None:
            return self.idle_poll_s
        return max(0.0, min(due - now, self.idle_poll_s))

    def _paused_until(self, name: str, now: float) -> float | None:
        for state in self.store.destination_states(shop=self.shop):
            if state.destination != name:
                continue
            if state.paused_until is None:
                return float("inf")
            if state.paused_until > now:
                return state.paused_until
            self.store.resume_destination(name, shop=self.shop)
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
        breaker = self.breakers[destination.name]
        if breaker.is_open and not await self._probe_open_circuit(destination, breaker, now):
            return 0
        claimed = await asyncio.to_thread(
            self.store.claim, destination.name, CLAIM_LIMIT, self.owner, self.lease_s, now,
            shop=self.shop,
        )
        if not claimed:
            return 0
        batch = _Batch()
        heartbeat = asyncio.create_task(self._keep_leases([c.outbox_id for c in claimed]))
        try:
            await self._process(destination, claimed, batch, now)
        finally:
            heartbeat.cancel()
            await asyncio.to_thread(self._write_back, destination, claimed, batch)
        return len(claimed)

    async def _keep_leases(self, outbox_ids: list[int]) -> None:
        """Renew the claim every lease/3 while it is worked on, so a slow send (timeouts ×
        bisect depth) never lets another worker send the same rows meanwhile."""
        while True:
            await asyncio.sleep(self.lease_s / 3)
            try:
                await asyncio.to_thread(
                    self.store.renew_lease, outbox_ids, self.owner, self.clock() + self.lease_s
                )
            except Exception:
                log.exception("could not renew the lease of %d rows", len(outbox_ids))

    def _write_back(self, destination: Destination, claimed: list[Claimed], batch: _Batch) -> None:
        now = self.clock()
        self.store.finish(batch.finished, now)
        if batch.notes:
            self.store.add_notes(batch.notes, now)
        leftover = [c.outbox_id for c in claimed if c.outbox_id not in batch.handled]
        self.store.release(leftover)
        accepted_at = {c.outbox_id: c.accepted_at for c in claimed}
        outcomes = Counter(result.status for result in batch.finished)
        for status, count in sorted(outcomes.items()):
            log.info("%s: %d %s", destination.name, count, status,
                     extra={"action": status, "shop": self.shop,
                            "destination": destination.name, "count": count})
        for result in batch.finished:
            metrics.OUTCOMES.labels(self.shop, destination.name, result.status).inc()
            if result.status == "delivered":
                metrics.DELIVERY_LATENCY.labels(self.shop, destination.name).observe(
                    max(0.0, now - accepted_at[result.outbox_id])
                )

    async def _process(
        self, destination: Destination, claimed: list[Claimed], batch: _Batch, now: float
    ) -> None:
        prepared: list[Prepared] = []
        for row in claimed:
            batch.attempts[row.outbox_id] = row.attempts
            expired = too_old(destination, row.event, now)
            if expired is not None:
                self._finish(batch, row.outbox_id, "expired", message=expired.reason)
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
        retried = [row.outbox_id for row in claimed if row.attempts]
        if retried:
            batch.previous = await asyncio.to_thread(self.store.last_attempts, retried)
        breaker = self.breakers[destination.name]
        for group in destination.batches(prepared):
            if batch.stop or breaker.is_open:
                break  # the rest is released, untouched: it was never sent
            await self._send(destination, group, batch)

    def _finish(self, batch: _Batch, outbox_id: int, status: str, *, code: int | None = None,
                subcode: int | None = None, message: str | None = None,
                sent: str | None = None) -> None:
        batch.finished.append(
            Finished(outbox_id, status, code, subcode, self.redact(message), sent)
        )
        batch.handled.add(outbox_id)

    # -- one request and what its answer means -------------------------------------------------

    async def _send(
        self, destination: Destination, group: list[Prepared], batch: _Batch,
        isolating: bool = False,
    ) -> None:
        """Send ``group`` and act on the answer; ``isolating`` when ``group`` is half of a batch
        that failed in a way only one of its events may cause."""
        result = await self._classified_send(destination, group)
        now = self.clock()
        name = destination.name
        verdict = result.verdict
        record = self._attempt_record(result, len(group))
        if verdict in (Verdict.DELIVERED, Verdict.SHORT_COUNT):
            await self._vendor_answered(destination, now)
        if verdict is Verdict.DELIVERED:
            for item in group:
                self._finish(batch, item.outbox_id, "delivered", sent=item.payload_json())
            return
        if verdict is Verdict.SHORT_COUNT:
            if len(group) == 1:
                # The vendor took the request and counted nothing: resending gets the same.
                await self._step(batch, destination, group, record, now, "dead-lettered")
                item = group[0]
                self._finish(batch, item.outbox_id, "dead", message=result.message,
                             sent=item.payload_json())
                return
            await self._step(batch, destination, group, record, now,
                             "nothing marked delivered; splitting until the counts match")
            await self._split(destination, group, batch)
            return
        if verdict is Verdict.REJECTED:
            if len(group) > 1:
                # One invalid event rejects the whole request: bisect so every valid event is
                # delivered and only the bad ones are dead-lettered. Meta:
                # https://developers.facebook.com/documentation/ads-commerce/conversions-api/using-the-api
                await self._step(batch, destination, group, record, now,
                                 "splitting to find the refused event")
                await self._split(destination, group, batch)
                return
            await self._step(batch, destination, group, record, now, "dead-lettered")
            item = group[0]
            self._finish(batch, item.outbox_id, "dead", code=result.code, subcode=result.subcode,
                         message=result.message, sent=item.payload_json())
            return
        if verdict is Verdict.THROTTLED:
            await self._throttled(destination, group, batch, result, record, now)
            return
        if verdict is Verdict.DISABLED:
            await self._refused_credentials(destination, group, batch, result, record, now)
            return
        fault = result.fault
        if fault is Fault.TOO_LARGE or (
            fault in (Fault.GARBLED, Fault.TIMEOUT)
            and (isolating or self._repeats(batch, group, record))
        ):
            await self._isolate_fault(destination, group, batch, result, record, now, isolating)
            return
        await asyncio.to_thread(self._retry_later, destination, group, batch, record, now)
        if self.breakers[name].failure(now):
            self._circuit_opened(destination, result)
            batch.stop = True

    def _attempt_record(self, result: Classification, size: int) -> AttemptRecord:
        return AttemptRecord(
            verdict=result.verdict.value,
            http_status=result.http_status,
            code=result.code,
            subcode=result.subcode,
            message=self.redact(result.message),
            batch_size=size,
            # Meta support asks for it; other vendors' trace ids ride along the same way.
            fbtrace_id=result.trace_id,
        )

    def _retry_later(
        self, destination: Destination, group: list[Prepared], batch: _Batch,
        record: AttemptRecord, now: float,
    ) -> None:
        # One jittered time per group: the rows were sent together and stay batched.
        at = now + retry_delay(max(batch.attempts.get(item.outbox_id, 0) for item in group))
        retry_ids = []
        for item in group:
            if at > item.event.event_time + window(destination, item.event)[0]:
                # Giving up only when the destination would refuse it anyway.
                self._finish(batch, item.outbox_id, "expired", code=record.code,
                             subcode=record.subcode,
                             message=f"still failing when the event left {destination.name}'s "
                                     f"window; last error: {record.message}")
                continue
            retry_ids.append(item.outbox_id)
            batch.handled.add(item.outbox_id)
        self.store.reschedule(retry_ids, at, record, now)
        if retry_ids:
            log.info("%s: %d to retry in %.0f s (code %s, HTTP %s)", destination.name,
                     len(retry_ids), at - now, record.code, record.http_status,
                     extra={"action": "retry", "shop": self.shop,
                            "destination": destination.name, "count": len(retry_ids),
                            "code": record.code, "status": record.http_status,
                            "fbtrace_id": record.fbtrace_id})
        metrics.RETRIES.labels(self.shop, destination.name, record.verdict).inc(len(group))

    def _client(self, destination: Destination) -> httpx.AsyncClient:
        return self._clients.get(destination.name, self.client)

    async def _classified_send(
        self, destination: Destination, group: list[Prepared]
    ) -> Classification:
        request = destination.build_request(group)
        try:
            response = await self._client(destination).send(request)
            await response.aread()
        except httpx.HTTPError as exc:
            return destination.classify(None, exc, len(group))
        return destination.classify(response, None, len(group))
