"""Accept-time admission's cost: Pipeline.prepare with and without it, same run, in process.

    python bench/admission.py [--events 2000] [--repeats 7]

prepare() is the CPU half of accepting (parse, normalize, hash, plan, and now the admission:
every configured destination's own ``prepare`` on the event, trackside/admission.py). The
same valid purchases (bench/ingest.py's event, unique ids) go through two pipelines on one
MemoryStore, interleaved, ``--repeats`` times each; the pipeline without admission is built
with ``admitting=[]`` (what accept did before issue 18). Three configurations: the dry run
(a new install), Meta + GA4 with placeholder credentials, and the webhook (nothing is sent:
prepare does no I/O). Prints the median µs per event of each side and the ratio; then, per
destination, the median µs of its whole ``prepare`` (issue 18's admission,
``admission.prepared``) and of the accept-time verdict (``admission.checked``: its
``admission_check``) over the same normalized events, interleaved. Times are the process's
CPU time (the machine is shared). Results go in docs/benchmarks.md ("Accept-time admission").
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from trackside.admission import Judge, checked, prepared
from trackside.config import Settings
from trackside.destinations import Destination
from trackside.destinations.registry import configured_destinations
from trackside.events import NormalizedEvent
from trackside.pipeline import Pipeline
from trackside.testing import MemoryStore


def purchase(index: int, now: int) -> dict[str, Any]:
    return {
        "event_name": "Purchase", "event_id": f"bench-{index}", "event_time": now,
        "event_source_url": "https://shop.example/order-confirmation",
        "user": {"email": "jeanne.dupont@example.com", "phone": "+33612345678",
                 "first_name": "Jeanne", "last_name": "Dupont", "country": "FR",
                 "ip": "203.0.113.7", "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
                 "fbp": "fb.1.1700000000000.1234567890"},
        "order": {"reference": f"R-{index}", "value": 42.5, "currency": "EUR",
                  "items": [{"id": "SKU-1", "quantity": 2, "price": 21.25}]},
        "consent": {"ad_storage": "granted", "analytics_storage": "granted",
                    "ad_user_data": "granted", "ad_personalization": "granted"},
    }


def measure(pipeline: Pipeline, events: list[dict[str, Any]]) -> float:
    """µs per event of one prepare() over ``events`` (every one must be queued)."""
    started = time.process_time()
    batch = pipeline.prepare(events, "api")
    elapsed = time.process_time() - started
    assert all(r.status == "queued" for r in batch.results), batch.results[:3]
    return elapsed / len(events) * 1e6


def run(name: str, settings: Settings, events: list[dict[str, Any]], repeats: int) -> None:
    store = MemoryStore()
    destinations = configured_destinations(settings)
    names = [d.name for d in destinations]
    without = Pipeline(settings, store, names, admitting=[])
    with_ = Pipeline(settings, store, names, admitting=destinations)
    measure(without, events[:100])  # warm caches and imports on both sides
    measure(with_, events[:100])
    before, after = [], []
    for _ in range(repeats):
        before.append(measure(without, events))
        after.append(measure(with_, events))
    b, a = statistics.median(before), statistics.median(after)
    print(f"{name:<14} destinations={','.join(names):<10} without admission {b:7.1f} µs/event"
          f"   with {a:7.1f} µs/event   ratio {a / b:.2f}   (+{a - b:.1f} µs)")
    normalized = [record.event for record in without.prepare(events, "api").records]
    for destination in destinations:
        whole, cheap = [], []
        for _ in range(repeats):
            whole.append(verdict_cost(prepared, destination, normalized))
            cheap.append(verdict_cost(checked, destination, normalized))
        w, c = statistics.median(whole), statistics.median(cheap)
        print(f"{'':<14} {destination.name:<6} whole prepare {w:6.1f} µs/event"
              f"   admission_check {c:6.1f} µs/event   ratio {c / w:.2f}")
    store.close()


def verdict_cost(judge: Judge, destination: Destination,
                 events: list[NormalizedEvent]) -> float:
    """µs per event of one destination's accept-time verdict (each must take the event)."""
    now = time.time()
    started = time.process_time()
    verdicts = [judge(destination, event, now) for event in events]
    elapsed = time.process_time() - started
    assert not any(verdicts), verdicts[:3]
    return elapsed / len(events) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    now = int(time.time())
    events = [purchase(i, now) for i in range(args.events)]
    run("dry run", Settings(), events, args.repeats)
    run("meta + ga4", Settings(meta_pixel_id="123456789012345", meta_access_token="EAAB-bench",
                               ga4_measurement_id="G-BENCH1234", ga4_api_secret="bench-secret"),
        events, args.repeats)
    run("webhook", Settings(webhook_url="https://warehouse.example/hook",
                            webhook_secret="bench-webhook-secret-" + "w" * 16),
        events, args.repeats)


if __name__ == "__main__":
    main()
