"""Pauses and storms: backoff, escalating throttle pauses, the per-destination circuit breaker.

Storms of transient failures open a destination's circuit, which probes instead of sending;
on recovery the rows the storm pushed into backoff are due at once.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass

from trackside.delivery.base import WorkerBase, _Batch
from trackside.destinations import Classification, Destination, Prepared, Verdict
from trackside.store import AttemptRecord

log = logging.getLogger("trackside.delivery")  # one logger for the whole worker

BACKOFF_BASE_S = 2.0  # first retry within seconds (full jitter on 2 s)
BACKOFF_CAP_S = 3600.0
#: Throttle pauses without a hint from the vendor: 5 s, doubling per throttle in a row, up to
#: 15 minutes; a success starts again at 5 s (a long backoff only when the throttling persists).
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


class ThrottleMixin(WorkerBase):
    async def _throttled(
        self, destination: Destination, group: list[Prepared], batch: _Batch,
        result: Classification, record: AttemptRecord, now: float,
    ) -> None:
        name = destination.name
        self.throttles_in_a_row[name] = self.throttles_in_a_row.get(name, 0) + 1
        in_a_row = self.throttles_in_a_row[name]
        # The vendor's own estimate wins over ours (Meta's estimated_time_to_regain_access:
        # https://developers.facebook.com/docs/marketing-api/overview/rate-limiting).
        pause = result.retry_after_s or throttle_pause(in_a_row)
        until = now + pause
        log.warning("%s throttles us (code %s, %d in a row): pausing %.0f s, until %s",
                    name, result.code, in_a_row, pause,
                    time.strftime("%H:%M:%S", time.localtime(until)),
                    extra={"action": "throttled", "destination": name, "code": result.code})
        await asyncio.to_thread(
            self.store.pause_destination, name, until,
            f"throttled by {name} (code {result.code}); pausing {pause:.0f} s", result.code, now,
            shop=self.shop,
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
        due = await asyncio.to_thread(self.store.expedite_retries, destination.name, began, now,
                                      shop=self.shop)
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
