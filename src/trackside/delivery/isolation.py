"""Isolation: which event of a failing batch is at fault, or is it the vendor? (bisect, probe)

A batch refused for its content, answered with a short count, a 413, or twice with HTML / an
empty body / no answer in time, is split until the culprit is alone. Before a lone event is
dead-lettered for an answer that could also mean an outage, and before a destination is paused
for its credentials, a probe (a harmless read, destinations/__init__.py) tells "this event"
from "the vendor": the destination pauses only when the event alone AND the probe fail the
same way.
"""

from __future__ import annotations

import asyncio
import logging

import httpx

from trackside.delivery.base import WorkerBase, _Batch
from trackside.destinations import Classification, Destination, Fault, Prepared, Verdict
from trackside.store import AttemptRecord

log = logging.getLogger("trackside.delivery")  # one logger for the whole worker


def _healthy(probe: Classification | None) -> bool:
    return probe is not None and probe.verdict is Verdict.DELIVERED


class IsolationMixin(WorkerBase):
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
            self.store.pause_destination, destination.name, None, reason, result.code, now,
            shop=self.shop,
        )
        await asyncio.to_thread(
            self.store.reschedule, [i.outbox_id for i in group], now, record, now
        )
        batch.handled.update(i.outbox_id for i in group)
        batch.stop = True

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
                    fbtrace_id=result.trace_id,
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
