"""migrate-store throughput: events/s copied from SQLite into PostgreSQL, COPY vs executemany.

    python bench/migrate_store.py [--events 20000] [--batch 1000] [--rounds 3]

A SQLite store of ``--events`` purchases (one shop, one Meta row each, the real pipeline) is
copied into a fresh database on the PostgreSQL service (PG_TEST_ADMIN_URL, default
postgresql://postgres@127.0.0.1:5432/test) with each write method of trackside.store.move;
rounds alternate the methods and the figures are the medians. Prints events/s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.pg import fresh_database  # noqa: E402
from trackside.config import Settings  # noqa: E402
from trackside.runtime import Runtime  # noqa: E402
from trackside.store.move import WriteMethod, copy_store  # noqa: E402


def build_source(path: Path, events: int) -> None:
    settings = Settings(database_url=f"sqlite:///{path}", meta_pixel_id="123456789012345",
                        meta_access_token="bench-token", join_window_s=0)
    runtime = Runtime.from_settings(settings)
    now = time.time()
    try:
        for start in range(0, events, 500):
            raw = [{"event_name": "Purchase", "event_time": int(now) - 30,
                    "event_source_url": "https://shop.example/thanks",
                    "user": {"email": f"c{i}@example.com", "ip": "203.0.113.9",
                             "user_agent": "Mozilla/5.0"},
                    "order": {"reference": f"R-{i}", "value": 19.9, "currency": "EUR"}}
                   for i in range(start, min(events, start + 500))]
            runtime.pipeline.accept(raw, "api", now)
    finally:
        runtime.close()


def one_round(source: Path, batch: int, write: WriteMethod) -> float:
    with fresh_database("trackside_bench") as url:
        started = time.perf_counter()
        summary = copy_store(f"sqlite:///{source}", url, batch=batch, write=write)
        elapsed = time.perf_counter() - started
    return summary.events_this_run / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "source.db"
        build_source(source, args.events)
        rates: dict[str, list[float]] = {"copy": [], "executemany": []}
        for _ in range(args.rounds):
            for method in ("copy", "executemany"):
                rates[method].append(one_round(source, args.batch, method))  # type: ignore[arg-type]
    print(f"migrate-store, {args.events} events (1 outbox row each), batch {args.batch}, "
          f"median of {args.rounds} (schema creation included):")
    for method, values in rates.items():
        print(f"  {method:12} {statistics.median(values):8.0f} events/s  "
              f"({', '.join(f'{v:.0f}' for v in values)})")


if __name__ == "__main__":
    main()
