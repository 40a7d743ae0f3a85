"""The worker: claim due rows, send, classify, then deliver / retry / isolate / dead-letter / pause.

The only code that talks to vendors. Every claimed row leaves ``_process`` in one of three
ways: finished (a final outcome), rescheduled (an attempt recorded), or released (the
destination was paused, or its circuit opened, before its turn). A worker renews the lease of
the rows it holds while it works (every lease/3); a row whose worker dies is due again when the
lease expires: delivery is at-least-once on the wire, and effectively once at Meta because a
resent batch carries the same event ids (spec/meta-capi.md §5).

No single event stops delivery for the others (DESIGN.md "Hostile input and faults"): a batch
that is refused, answered with a short count, a 413, or (twice) with HTML/an empty body/no
answer in time, is split until the culprit is alone. Before a lone event is dead-lettered for an
answer that could also mean an outage, and before a destination is paused for its credentials,
a *probe* (a harmless read, see destinations/__init__.py) tells "this event" from "the vendor":
the destination pauses only when the event alone AND the probe fail the same way. Storms of
transient failures open a per-destination circuit breaker that probes instead of sending, and
on recovery the rows the storm pushed into backoff are due at once.
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
from trackside.destinations import (
    Classification,
    Destination,
    Fault,
    Prepared,
    Skip,
    Verdict,
    too_old,
)
from trackside.events import NormalizedEvent
from trackside.redact import Redactor
from trackside.store import AttemptRecord, Claimed, Finished, Store

log = logging.getLogger("trackside.delivery")

CLAIM_LIMIT = 1000  # rows per claim; Meta takes 1,000 events per request (spec §6.1)
#: A killed worker's rows are due again this long after its last heartbeat; the heartbeat
#: (every lease/3) keeps a slow send's rows from being sent twice meanwhile.
LEASE_S = 30.0
IDLE_POLL_S = 0.5  # how often an idle worker looks for due rows
#: Requests in flight per destination: Meta answers in ~0.6 s (spec §6.1), so one request at
#: a time would cap a destination at ~1,600 events/s whatever our CPU does.
CONCURRENCY = 4
BACKOFF_BASE_S = 2.0  # first retry within seconds (full jitter on 2 s)
BACKOFF_CAP_S = 3600.0
#: Throttle pauses without a hint from the vendor: 5 s, doubling per throttle in a row, up to
#: 15 minutes; a success starts again at 5 s (spec §6.2 "long backoff" only when it persists).
THROTTLE_FIRST_S = 5.0
THROTTLE_CAP_S = 900.0
#: Failed requests in a row (outside an isolation) that open a destination's circuit.
BREAKER_THRESHOLD = 3
#: While the circuit is open, one probe after this long, doubling up to the cap.
BREAKER_FIRST_PROBE_S = 5.0
BREAKER_PROBE_CAP_S = 300.0


def retry_delay(attempts: int) -> float:
    """Exponential backoff with full jitter: uniform(0, min(cap, base · 2^attempts))."""
    ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * (2 ** min(attempts, 20)))
    return max(0.2, random.uniform(0, ceiling))


def throttle_pause(in_a_row: int) -> float:
    """The pause for the ``in_a_row``-th throttle since the last success: 5, 10, 20 … 900 s."""
    return min(THROTTLE_CAP_S, THROTTLE_FIRST_S * 2.0 ** min(max(in_a_row, 1) - 1, 20))


@dataclass
class CircuitBreaker:
    """One destination's view of a storm, shared by the worker's lanes (in memory)."""

    failures: int = 0
    #: When the current run of failures began: rows retried since then are the storm's.
    first_failure_at: float | None = None
    opened_at: float | None = None
    next_probe_at: float = 0.0
    probe_interval_s: float = BREAKER_FIRST_PROBE_S
    probing: bool = False

    @property
    def is_open(self) -> bool:
        return self.opened_at is not None

    def failure(self, now: float) -> bool:
        """Count a failed request; True when it opens (or finds open) the circuit."""
        if self.first_failure_at is None:
            self.first_failure_at = now
        self.failures += 1
        if not self.is_open and self.failures >= BREAKER_THRESHOLD:
            self.trip(now)
        return self.is_open

    def trip(self, now: float) -> None:
        if self.first_failure_at is None:
            self.first_failure_at = now
        if not self.is_open:
            self.opened_at = now
            self.probe_interval_s = BREAKER_FIRST_PROBE_S
            self.next_probe_at = now + self.probe_interval_s

    def probe_failed(self, now: float) -> None:
        self.probe_interval_s = min(BREAKER_PROBE_CAP_S, self.probe_interval_s * 2)
        self.next_probe_at = now + self.probe_interval_s

    def success(self) -> float | None:
        """Close the circuit; returns when the storm began if it was open."""
        began = self.first_failure_at if self.is_open else None
        self.failures = 0
        self.first_failure_at = None
        self.opened_at = None
        self.probe_interval_s = BREAKER_FIRST_PROBE_S
        return began


@dataclass
class _Batch:
    """What one claim turned into, collected and written back in few transactions."""

    finished: list[Finished] = field(default_factory=list)
    notes: list[tuple[int, str, str, str]] = field(default_factory=list)
    handled: set[int] = field(default_factory=set)
    stop: bool = False
    attempts: dict[int, int] = field(default_factory=dict)
    #: Each row's newest attempt before this claim (to see a fault repeat for a group).
    previous: dict[int, AttemptRecord] = field(default_factory=dict)
    #: The probe's verdict, asked at most once per claim.
    probe: Classification | None = None
    probed: bool = False


def _healthy(probe: Classification | None) -> bool:
    return probe is not None and probe.verdict is Verdict.DELIVERED


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
        # pauses the destination again (after the event alone and the probe both fail); an
        # event that was isolated before is dead-lettered and never claimed again.
        names = {d.name for d in self.destinations}
        for state in self.store.destination_states():
            if state.paused_until is None and state.destination in names:
                log.warning("retrying paused destination %s (was: %s)",
                            state.destination, state.reason)
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
        breaker = self.breakers[destination.name]
        if breaker.is_open:
            return max(0.05, min(breaker.next_probe_at - now, IDLE_POLL_S * 10))
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
        breaker = self.breakers[destination.name]
        if breaker.is_open and not await self._probe_open_circuit(destination, breaker, now):
            return 0
        claimed = await asyncio.to_thread(
            self.store.claim, destination.name, CLAIM_LIMIT, self.owner, self.lease_s, now
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
        for result in batch.finished:
            metrics.OUTCOMES.labels(destination.name, result.status).inc()
            if result.status == "delivered":
                metrics.DELIVERY_LATENCY.labels(destination.name).observe(
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
                # One invalid event rejects the whole request (spec §0.1, §6.2): bisect so
                # every valid event is delivered and only the bad ones are dead-lettered.
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

    async def _split(self, destination: Destination, group: list[Prepared], batch: _Batch) -> None:
        middle = len(group) // 2
        await self._send(destination, group[:middle], batch, isolating=True)
        if not batch.stop:
            await self._send(destination, group[middle:], batch, isolating=True)

    def _repeats(self, batch: _Batch, group: list[Prepared], record: AttemptRecord) -> bool:
        """The same kind of non-answer as these rows' previous attempt (same HTTP status, no
        vendor code): a second HTML page, empty body or timeout for the same events."""
        for item in group:
            previous = batch.previous.get(item.outbox_id)
            if (
                previous is not None
                and previous.verdict == Verdict.RETRY.value
                and previous.code is None
                and previous.http_status == record.http_status
            ):
                return True
        return False

    async def _isolate_fault(
        self, destination: Destination, group: list[Prepared], batch: _Batch,
        result: Classification, record: AttemptRecord, now: float, isolating: bool,
    ) -> None:
        """A 413, or a repeated HTML/empty answer or timeout: the vendor or this group?"""
        if result.fault is not Fault.TOO_LARGE and not isolating:
            probe = await self._probe(destination, group, batch)
            if not _healthy(probe):
                await self._outage(destination, group, batch, result, record, probe, now)
                return
        if len(group) > 1:
            await self._step(batch, destination, group, record, now,
                             "splitting to find the event it chokes on")
            await self._split(destination, group, batch)
            return
        await self._step(batch, destination, group, record, now, "an event alone: the vendor "
                         "or this event? (probe)")
        probe = await self._probe(destination, group, batch)
        if not _healthy(probe):
            await self._outage(destination, group, batch, result, record, probe, now)
            return
        item = group[0]
        self._finish(batch, item.outbox_id, "dead", message=self._alone(destination, result),
                     sent=item.payload_json())

    def _alone(self, destination: Destination, result: Classification) -> str:
        vendor = getattr(destination, "display_name", destination.name)
        healthy = f"while a probe of {vendor} succeeded, so {vendor} is up"
        if result.fault is Fault.TIMEOUT:
            return (f"{vendor} timed out on this event alone (no answer within "
                    f"{self.timeout_s:g} s, twice: {result.message}) {healthy}")
        if result.fault is Fault.TOO_LARGE:
            return f"{vendor} answered 413 to this event alone ({result.message}) {healthy}"
        return f"{vendor} answered {result.message} to this event alone, twice, {healthy}"

    async def _outage(
        self, destination: Destination, group: list[Prepared], batch: _Batch,
        result: Classification, record: AttemptRecord, probe: Classification | None, now: float,
    ) -> None:
        """Not this event's fault (or no way to prove it is): retry later, never dead-letter."""
        await asyncio.to_thread(self._retry_later, destination, group, batch, record, now)
        breaker = self.breakers[destination.name]
        if probe is None:
            opened = breaker.failure(now)
        else:
            breaker.trip(now)  # the probe failed too: the vendor is down
            opened = True
        if opened:
            self._circuit_opened(destination, probe or result)
            batch.stop = True

    async def _refused_credentials(
        self, destination: Destination, group: list[Prepared], batch: _Batch,
        result: Classification, record: AttemptRecord, now: float,
    ) -> None:
        """190, 104, 100/33…: the credentials, or one event the vendor chokes on that way?"""
        await self._step(batch, destination, group, record, now,
                         "credentials, or this batch? (probe, then split)")
        probe = await self._probe(destination, group, batch)
        if _healthy(probe):
            if len(group) > 1:
                await self._split(destination, group, batch)
                return
            vendor = getattr(destination, "display_name", destination.name)
            item = group[0]
            self._finish(
                batch, item.outbox_id, "dead", code=result.code, subcode=result.subcode,
                message=f"{result.message} (refused for this event alone, while a probe with "
                f"the same credentials succeeded: {vendor} accepts the credentials)",
                sent=item.payload_json(),
            )
            return
        same_way = probe is None or (
            probe.verdict is Verdict.DISABLED
            and (probe.code, probe.subcode) == (result.code, result.subcode)
        )
        if not same_way:
            # The probe failed otherwise (timeout, 5xx, another code): nothing proves the
            # credentials wrong, and nothing proves this event bad. Try again later.
            await asyncio.to_thread(self._retry_later, destination, group, batch, record, now)
            return
        if len(group) > 1:
            # The destination stops only once an event alone has failed the same way too.
            await self._send(destination, group[:1], batch, isolating=True)
            if not batch.stop:
                # That event went through or was refused alone: the credentials work after all.
                await self._send(destination, group[1:], batch, isolating=True)
            return
        reason = f"{destination.name} refused our credentials or configuration: {record.message}"
        log.error("%s paused until an operator acts (code %s, for an event alone and for the "
                  "probe): %s", destination.name, result.code, record.message)
        await asyncio.to_thread(
            self.store.pause_destination, destination.name, None, reason, result.code, now
        )
        await asyncio.to_thread(
            self.store.reschedule, [i.outbox_id for i in group], now, record, now
        )
        batch.handled.update(i.outbox_id for i in group)
        batch.stop = True

    async def _throttled(
        self, destination: Destination, group: list[Prepared], batch: _Batch,
        result: Classification, record: AttemptRecord, now: float,
    ) -> None:
        name = destination.name
        self.throttles_in_a_row[name] = self.throttles_in_a_row.get(name, 0) + 1
        in_a_row = self.throttles_in_a_row[name]
        # The vendor's own estimate wins over ours (spec §6.2: honour
        # estimated_time_to_regain_access).
        pause = result.retry_after_s or throttle_pause(in_a_row)
        until = now + pause
        log.warning("%s throttles us (code %s, %d in a row): pausing %.0f s, until %s",
                    name, result.code, in_a_row, pause,
                    time.strftime("%H:%M:%S", time.localtime(until)))
        await asyncio.to_thread(
            self.store.pause_destination, name, until,
            f"throttled by {name} (code {result.code}); pausing {pause:.0f} s", result.code, now,
        )
        await asyncio.to_thread(
            self.store.reschedule, [i.outbox_id for i in group], until, record, now
        )
        batch.handled.update(i.outbox_id for i in group)
        batch.stop = True

    async def _vendor_answered(self, destination: Destination, now: float) -> None:
        """A coherent answer: the throttle escalation and any storm are over."""
        self.throttles_in_a_row[destination.name] = 0
        breaker = self.breakers[destination.name]
        if breaker.failures or breaker.is_open:
            await self._circuit_closed(destination, breaker, now)

    async def _circuit_closed(
        self, destination: Destination, breaker: CircuitBreaker, now: float
    ) -> None:
        began = breaker.success()
        if began is None:
            return
        # Rows the storm pushed into backoff (up to an hour) go out now, not at their turn;
        # rows that were never tried (held for the join window) keep their time.
        due = await asyncio.to_thread(self.store.expedite_retries, destination.name, began, now)
        log.warning("%s answers again: circuit closed; %d rows retried during the storm are "
                    "due now", destination.name, due)

    def _circuit_opened(self, destination: Destination, result: Classification) -> None:
        breaker = self.breakers[destination.name]
        log.error("%s keeps failing (%s): circuit open, probing every %.0f s instead of sending",
                  destination.name, result.message, breaker.probe_interval_s)

    async def _probe_open_circuit(
        self, destination: Destination, breaker: CircuitBreaker, now: float
    ) -> bool:
        """While the circuit is open: one probe when it is due. True lets a claim go ahead."""
        if breaker.probing or now < breaker.next_probe_at:
            return False
        if getattr(destination, "build_probe", None) is None:
            # Nothing to probe with: this claim is the trial; its first failure reopens.
            breaker.probe_failed(now)
            return True
        breaker.probing = True
        try:
            probe = await self._probe(destination, [], None)
        finally:
            breaker.probing = False
        now = self.clock()
        if probe is not None and probe.verdict is not Verdict.RETRY:
            # The vendor answers coherently (even a refusal): send, and let the answers decide.
            await self._circuit_closed(destination, breaker, now)
            return True
        breaker.probe_failed(now)
        log.warning("%s still failing (%s); next probe in %.0f s", destination.name,
                    probe.message if probe else "?", breaker.probe_interval_s)
        return False

    async def _probe(
        self, destination: Destination, group: list[Prepared], batch: _Batch | None
    ) -> Classification | None:
        """The destination's probe verdict (None: it has no probe), once per claim."""
        if batch is not None and batch.probed:
            return batch.probe
        build = getattr(destination, "build_probe", None)
        if build is None:
            result = None
        else:
            request = build()
            try:
                response = await self._client(destination).send(request)
                await response.aread()
            except httpx.HTTPError as exc:
                result = destination.classify_probe(None, exc)  # type: ignore[attr-defined]
            else:
                result = destination.classify_probe(response, None)  # type: ignore[attr-defined]
            log.warning("%s probe: %s (%s)", destination.name, result.verdict.value, result.message)
        if batch is not None:
            batch.probe, batch.probed = result, True
            if result is not None and group:
                record = AttemptRecord(
                    verdict="probe", http_status=result.http_status, code=result.code,
                    subcode=result.subcode,
                    message=self.redact(f"probe {'succeeded' if _healthy(result) else 'failed'}: "
                                        f"{result.message}"),
                    batch_size=len(group),
                )
                await asyncio.to_thread(
                    self.store.record_attempts, [i.outbox_id for i in group], record, self.clock()
                )
        return result

    async def _step(
        self, batch: _Batch, destination: Destination, group: list[Prepared],
        record: AttemptRecord, now: float, action: str,
    ) -> None:
        """An isolation step: an attempt row per event of the group, and a log line."""
        log.warning("%s: %s for a batch of %d (code %s, HTTP %s: %s); %s", destination.name,
                    record.verdict, len(group), record.code, record.http_status, record.message,
                    action)
        await asyncio.to_thread(
            self.store.record_attempts, [i.outbox_id for i in group], record, now
        )

    def _attempt_record(self, result: Classification, size: int) -> AttemptRecord:
        return AttemptRecord(
            verdict=result.verdict.value,
            http_status=result.http_status,
            code=result.code,
            subcode=result.subcode,
            message=self.redact(result.message),
            batch_size=size,
        )

    def _retry_later(
        self, destination: Destination, group: list[Prepared], batch: _Batch,
        record: AttemptRecord, now: float,
    ) -> None:
        # One jittered time per group: the rows were sent together and stay batched.
        at = now + retry_delay(max(batch.attempts.get(item.outbox_id, 0) for item in group))
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
