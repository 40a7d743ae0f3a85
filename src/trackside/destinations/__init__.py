"""The Destination protocol: payload building and response classification, nothing else.

A destination never does I/O. The worker (``delivery.py``) asks it to ``prepare`` each stored
event, to cut the prepared payloads into ``batches``, to ``build_request`` for a batch, and to
``classify`` what came back. Every vendor lives in its own module (meta.py, ga4.py, …).

A destination that can tell "my credentials work" from "this event is refused" offers a
*probe*: ``build_probe()`` returns a request that reads something harmless at the vendor
(it never creates a conversion) and ``classify_probe`` judges its answer. The worker uses it to
tell a poisoned event from an outage before it dead-letters or pauses anything.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from trackside.events import NormalizedEvent
from trackside.outcomes import Outcome


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
    #: The vendor answered success but counted fewer events than it was sent
    #: (``events_received`` below the batch size): nothing may be marked delivered blindly.
    SHORT_COUNT = "short_count"


class Fault(enum.Enum):
    """Why a RETRY answer carries no usable verdict; the worker isolates on some of them."""

    #: HTTP 413: the request is too large, split it at once.
    TOO_LARGE = "too_large"
    #: A 2xx/4xx answer whose body is not a JSON object (HTML, empty, truncated).
    GARBLED = "garbled"
    #: No answer within the client timeout.
    TIMEOUT = "timeout"


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
    #: For RETRY: a fault the worker isolates on when it repeats (see :class:`Fault`).
    fault: Fault | None = None
    #: For SHORT_COUNT: how many events the vendor said it took.
    events_received: int | None = None


@dataclass(frozen=True)
class Skip:
    """An event this destination will not send, with the final outcome to record."""

    outcome: str  # "suppressed" | "expired" | "dead" | "not_applicable"
    reason: str
    #: The canonical event field the refusal is about ("event_time", "event_source_url",
    #: "user", "order", …), None for the event as a whole: accept-time admission
    #: (trackside/admission.py) names it, and knows which fields a join may still bring.
    field: str | None = None


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
    _size: int | None = field(default=None, repr=False)

    def payload_json(self) -> str:
        """The payload as compact JSON, encoded once for the request and the outbox record."""
        if self._encoded is None:
            self._encoded = json.dumps(self.payload, separators=(",", ":"), ensure_ascii=False)
        return self._encoded

    def payload_bytes(self) -> int:
        """Size of :meth:`payload_json` on the wire (UTF-8), measured once."""
        if self._size is None:
            self._size = len(self.payload_json().encode())
        return self._size


class Destination(Protocol):
    #: Outbox name: "meta", "ga4", "dryrun".
    name: str
    #: Most events the vendor takes in one request.
    max_batch_size: int
    #: Oldest event the vendor takes, in seconds (Meta: 7 days; GA4: 72 hours).
    max_event_age_s: int
    #: Give up this long before the limit: an event that expires in flight would take its
    #: whole batch down with it (Meta: 60 s).
    expiry_margin_s: int
    #: The limit in the vendor's words, for the ``expired`` reason.
    age_limit: str

    def prepare(self, outbox_id: int, event: NormalizedEvent, now: float) -> Prepared | Skip: ...

    def batches(self, prepared: Sequence[Prepared]) -> list[list[Prepared]]: ...

    def build_request(self, batch: Sequence[Prepared]) -> httpx.Request: ...

    def classify(
        self, response: httpx.Response | None, error: Exception | None, batch_size: int
    ) -> Classification: ...

    # Optional, read with getattr by the worker: ``display_name`` ("Meta") for messages; the
    # probe pair ``build_probe() -> httpx.Request`` / ``classify_probe(response, error)
    # -> Classification`` (DELIVERED means the credentials and the account work), where
    # ``build_probe = None`` says the vendor offers no such proof; and ``transport`` (an
    # ``httpx.AsyncBaseTransport``) that the worker mounts on a client of this destination's
    # own, as the dry run does to answer offline; ``window_of(event) -> (max_age_s,
    # age_limit)`` when the window depends on the event (read through :func:`window`);
    # ``admission_check(event, now) -> Skip | None``: ``prepare``'s verdict (None for a
    # Prepared) without building what only sending needs, used at accept time
    # (trackside/admission.py); it must agree with ``prepare`` on every event.


def window(destination: Destination, event: NormalizedEvent) -> tuple[int, str]:
    """The oldest ``event`` may be for ``destination`` (seconds) and that limit in the vendor's
    words: ``max_event_age_s`` and ``age_limit``, unless the destination has a window per event
    (the optional ``window_of(event)``; Meta: 62 days for physical_store events)."""
    window_of = getattr(destination, "window_of", None)
    if window_of is not None:
        limit: tuple[int, str] = window_of(event)
        return limit
    return destination.max_event_age_s, destination.age_limit


def too_old(destination: Destination, event: NormalizedEvent, now: float) -> Skip | None:
    """The one event-age check (the worker's, and ``prepare``'s for callers without one)."""
    age_s = now - event.event_time
    max_age_s, age_limit = window(destination, event)
    if age_s <= max_age_s - destination.expiry_margin_s:
        return None
    return Skip(
        outcome=Outcome.EXPIRED,
        reason=f"event_time is {age_s / 3600:.1f} hours ({age_s / 86400:.1f} days) old; "
        f"{age_limit}",
        field="event_time",
    )


def chunk_by_bytes(
    prepared: Sequence[Prepared], max_events: int, max_bytes: int
) -> list[list[Prepared]]:
    """Batches of at most ``max_events`` whose JSON array (``[e1,e2,…]``) fits ``max_bytes``.

    An event larger than the budget on its own still gets a batch of its own; destinations
    refuse such events in ``prepare`` so that never happens on the wire.
    """
    batches: list[list[Prepared]] = []
    for group in chunk(prepared, max(1, len(prepared))):
        current: list[Prepared] = []
        size = 2  # the brackets
        for item in group:
            extra = item.payload_bytes() + (1 if current else 0)  # the comma
            if current and (len(current) >= max_events or size + extra > max_bytes):
                batches.append(current)
                current, size = [], 2
                extra = item.payload_bytes()
            current.append(item)
            size += extra
        if current:
            batches.append(current)
    return batches


def chunk(prepared: Sequence[Prepared], size: int) -> list[list[Prepared]]:
    """Batches of at most ``size``, keeping events with one group key together."""
    groups: dict[str, list[Prepared]] = {}
    for item in prepared:
        groups.setdefault(item.group_key, []).append(item)
    batches: list[list[Prepared]] = []
    for items in groups.values():
        batches.extend(list(items[i : i + size]) for i in range(0, len(items), size))
    return batches
