"""What the worker's parts share: the per-claim bookkeeping and the worker's attributes.

The worker is one class assembled from three modules (worker.py: the loop, claims and sends;
isolation.py: bisect and probe; throttle.py: pauses and the circuit breaker). This base
declares, for the type checker, what each part uses of the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx

from trackside.destinations import Classification, Destination, Prepared
from trackside.events import NormalizedEvent
from trackside.redact import Redactor
from trackside.store import AttemptRecord, Finished, Store

if TYPE_CHECKING:
    from trackside.delivery.throttle import CircuitBreaker


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


class WorkerBase:
    store: Store
    destinations: list[Destination]
    #: The shop whose outbox rows this worker claims and whose destinations it pauses.
    shop: str
    client: httpx.AsyncClient
    redact: Redactor
    owner: str
    lease_s: float
    timeout_s: float
    clock: Callable[[], float]
    concurrency: int
    policy: Callable[[NormalizedEvent, str], str | None] | None
    wake: asyncio.Event
    last_cycle_at: float
    breakers: dict[str, CircuitBreaker]
    throttles_in_a_row: dict[str, int]

    if TYPE_CHECKING:  # defined by the parts (worker.py, isolation.py, throttle.py)

        def _client(self, destination: Destination) -> httpx.AsyncClient: ...

        async def _send(self, destination: Destination, group: list[Prepared], batch: _Batch,
                        isolating: bool = False) -> None: ...

        def _finish(self, batch: _Batch, outbox_id: int, status: str, *,
                    code: int | None = None, subcode: int | None = None,
                    message: str | None = None, sent: str | None = None) -> None: ...

        def _retry_later(self, destination: Destination, group: list[Prepared], batch: _Batch,
                         record: AttemptRecord, now: float) -> None: ...

        async def _probe(self, destination: Destination, group: list[Prepared],
                         batch: _Batch | None) -> Classification | None: ...

        def _circuit_opened(self, destination: Destination, result: Classification) -> None: ...
