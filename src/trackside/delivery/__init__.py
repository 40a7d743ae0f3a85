"""The worker: claim due rows, send, classify, then deliver / retry / isolate / dead-letter / pause.

The only code that talks to vendors. Every claimed row leaves ``_process`` in one of three
ways: finished (a final outcome), rescheduled (an attempt recorded), or released (the
destination was paused, or its circuit opened, before its turn). A worker renews the lease of
the rows it holds while it works (every lease/3); a row whose worker dies is due again when the
lease expires: delivery is at-least-once on the wire, and effectively once at Meta because a
resent batch carries the same event ids (Meta deduplicates on event_name + event_id within
48 h: https://developers.facebook.com/documentation/ads-commerce/conversions-api/deduplicate-pixel-and-server-events).

No single event stops delivery for the others (docs/architecture.md, "Rules the layout keeps"):
a batch that is refused, answered with a short count, a 413, or (twice) with HTML/an empty
body/no answer in time, is split until the culprit is alone. Before a lone event is
dead-lettered for an answer that could also mean an outage, and before a destination is paused
for its credentials, a *probe* (a harmless read, see destinations/__init__.py) tells "this
event" from "the vendor": the destination pauses only when the event alone AND the probe fail
the same way. Storms of transient failures open a per-destination circuit breaker that probes
instead of sending, and on recovery the rows the storm pushed into backoff are due at once.

The package: worker.py (loop, claims, sends), isolation.py (bisect, probe), throttle.py
(backoff, pauses, circuit breaker), base.py (what they share).
"""

from __future__ import annotations

from trackside.delivery.throttle import (
    BREAKER_THRESHOLD,
    CircuitBreaker,
    retry_delay,
    throttle_pause,
)
from trackside.delivery.worker import CLAIM_LIMIT, CONCURRENCY, LEASE_S, Worker

__all__ = [
    "BREAKER_THRESHOLD",
    "CLAIM_LIMIT",
    "CONCURRENCY",
    "LEASE_S",
    "CircuitBreaker",
    "Worker",
    "retry_delay",
    "throttle_pause",
]
