"""The Destination protocol: payload building and response classification, nothing else.

A destination never does I/O. The worker (``delivery.py``) asks it to ``prepare`` each stored
event, to cut the prepared payloads into ``batches``, to ``build_request`` for a batch, and to
``classify`` what came back. Every vendor lives in its own module (meta.py, ga4.py, …).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from trackside.events import NormalizedEvent


class Verdict(enum.Enum):
    DELIVERED = "delivered"
    #: Transient: network, timeout, 5xx, transient codes. Retry the rows with backoff.
    RETRY = "retry"
    #: The destination throttles us: pause the whole destination for ``retry_after_s``.
    THROTTLED = "throttled"
    #: Credentials or configuration are wrong (e.g. Meta 190, 100/33): pause the destination
    #: until an operator acts; never dead-letter the backlog for it.
    DISABLED = "disabled"
    #: The request was refused because of its content. A batch of several events is bisected
    #: to find the bad ones; a single event with this verdict is dead-lettered.
    REJECTED = "rejected"


@dataclass(frozen=True)
class Classification:
    verdict: Verdict
    http_status: int | None = None
    code: int | None = None
    subcode: int | None = None
    #: The destination's own message (never parsed, only shown). Secrets are scrubbed by the
    #: worker before it is stored.
    message: str | None = None
    retry_after_s: float | None = None
    trace_id: str | None = None


@dataclass(frozen=True)
class Skip:
    """An event this destination will not send, with the final outcome to record."""

    outcome: str  # "suppressed" | "expired" | "dead" | "not_applicable"
    reason: str


@dataclass
class Prepared:
    """One event's payload for one destination, plus what the batcher needs to group it."""

    outbox_id: int
    event: NormalizedEvent
    payload: dict[str, Any]
    #: Events with different group keys never share a request (GA4: one client id each).
    group_key: str = ""
    notes: list[str] = field(default_factory=list)
    _encoded: str | None = field(default=None, repr=False)

    def payload_json(self) -> str:
        """The payload as compact JSON, encoded once for the request and the outbox record."""
        if self._encoded is None:
            self._encoded = json.dumps(self.payload, separators=(",", ":"), ensure_ascii=False)
        return self._encoded


class Destination(Protocol):
    #: Outbox name: "meta", "ga4", "dryrun".
    name: str
    #: Most events the vendor takes in one request.
    max_batch_size: int
    #: Oldest event the vendor takes, in seconds (Meta: 7 days; GA4: 72 hours).
    max_event_age_s: int

    def prepare(self, outbox_id: int, event: NormalizedEvent, now: float) -> Prepared | Skip: ...

    def batches(self, prepared: Sequence[Prepared]) -> list[list[Prepared]]: ...

    def build_request(self, batch: Sequence[Prepared]) -> httpx.Request: ...

    def classify(
        self, response: httpx.Response | None, error: Exception | None, batch_size: int
    ) -> Classification: ...


def chunk(prepared: Sequence[Prepared], size: int) -> list[list[Prepared]]:
    """Batches of at most ``size``, keeping events with one group key together."""
    groups: dict[str, list[Prepared]] = {}
    for item in prepared:
        groups.setdefault(item.group_key, []).append(item)
    batches: list[list[Prepared]] = []
    for items in groups.values():
        batches.extend(list(items[i : i + size]) for i in range(0, len(items), size))
    return batches
