"""Claim latency of shop B with and without shop A's backlog of paused rows (issue 13).

Builds two SQLite stores in a temporary folder: one where shop A has BACKLOG due rows for
``meta`` (and A's meta paused, as a bad token would leave it) plus shop B's rows, one with shop
B's rows only. Then times ``claim(shop=B)`` of one due row, released after each run so every
run claims the same row; prints the medians as JSON.

Usage: python bench/claim_shops.py [--backlog 50000] [--runs 200]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from trackside.events import NormalizedEvent
from trackside.store import NewEvent, OutboxPlan
from trackside.store.sqlite import SQLiteStore

NOW = 1_800_000_000.0
SHOP_A, SHOP_B = "shop-a", "shop-b"


def _event(event_id: str) -> NormalizedEvent:
    return NormalizedEvent(event_name="Purchase", event_id=event_id, event_time=int(NOW) - 60,
                           action_source="website", user_data={"em": ["a" * 64]})


def _store(path: Path, backlog: int) -> SQLiteStore:
    store = SQLiteStore(str(path))
    store.migrate()
    for start in range(0, backlog, 5000):
        store.insert_events([NewEvent(_event(f"A{n}"), "api", [OutboxPlan("meta")], SHOP_A)
                             for n in range(start, min(backlog, start + 5000))], NOW - 600)
    if backlog:
        store.pause_destination("meta", None, "bad token", 190, NOW, shop=SHOP_A)
    store.insert_events([NewEvent(_event("B1"), "api", [OutboxPlan("meta")], SHOP_B)], NOW)
    return store


def _median_claim_ms(store: SQLiteStore, runs: int) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        claimed = store.claim("meta", 1000, "bench", 60, NOW, shop=SHOP_B)
        timings.append((time.perf_counter() - started) * 1000)
        assert [c.event.event_id for c in claimed] == ["B1"], claimed
        store.release([c.outbox_id for c in claimed])
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        with_backlog = _store(Path(folder) / "backlog.db", args.backlog)
        without = _store(Path(folder) / "alone.db", 0)
        try:
            # Interleaved rounds, so a busy moment of the machine hits both sides alike.
            rounds = [(_median_claim_ms(with_backlog, args.runs), _median_claim_ms(without,
                                                                                   args.runs))
                      for _ in range(3)]
        finally:
            with_backlog.close()
            without.close()
    print(json.dumps({
        "backlog_of_shop_a": args.backlog,
        "runs_per_round": args.runs,
        "claim_ms_median_with_backlog": round(statistics.median(r[0] for r in rounds), 3),
        "claim_ms_median_without_backlog": round(statistics.median(r[1] for r in rounds), 3),
    }))


if __name__ == "__main__":
    main()
