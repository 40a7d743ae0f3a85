"""`trackside serve --workers N` on PostgreSQL: ingest with 1 and 2 server processes, one run.

    python bench/workers.py [--workers 1,2] [--duration 10] [--connections 16] [--batch 10]

Each measurement gets its own fresh PostgreSQL database (tests/pg.py) and one
`trackside serve --no-worker --workers N` on one port; wrk (bench/ingest.py's load, one event
per request and ``--batch`` events per request) posts to that port. Prints req/s, events/s,
p50/p99 per N and the ratio to N=1, then checks that each database holds every event a 202
acknowledged.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ingest import API_KEY, Result, free_port, run_wrk, wait_ready  # noqa: E402

from tests.pg import fresh_database  # noqa: E402


def start_serve(port: int, database_url: str, workers: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKSIDE_")}
    env.update({"TRACKSIDE_DATABASE_URL": database_url, "TRACKSIDE_API_KEYS": API_KEY})
    return subprocess.Popen(
        [sys.executable, "-m", "trackside.cli", "serve", "--no-worker", "--port", str(port),
         "--log-level", "warning", "--workers", str(workers)], env=env)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then wait while the processes commit what wrk left in flight."""
    process.terminate()
    process.wait(timeout=300)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", default="1,2", help="process counts, comma-separated")
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=16)
    # Small batches: PostgreSQL ingest here runs at about a thousand events/s, so wrk's last
    # in-flight 500-event requests would take the server a minute to commit after the window.
    parser.add_argument("--batch", type=int, default=10, help="events per batched request")
    args = parser.parse_args()
    rows: list[tuple[int, Result, Result, int, int]] = []
    for workers in (int(n) for n in args.workers.split(",")):
        with fresh_database("bench_workers") as url:
            port = free_port()
            server = start_serve(port, url, workers)
            try:
                base = f"http://127.0.0.1:{port}"
                wait_ready(f"{base}/healthz", server)
                run_wrk("warm-up", base, "/v1/events", 1, 3, args.connections)
                single = run_wrk(f"{workers} processes, 1 event/request", base, "/v1/events",
                                 1, args.duration, args.connections)
                batched = run_wrk(f"{workers} processes, {args.batch} events/request", base,
                                  "/v1/events", args.batch, args.duration, args.connections)
            finally:
                stop(server)
            with psycopg.connect(url) as connection:
                row = connection.execute("SELECT count(*) FROM events").fetchone()
            stored = int(row[0]) if row else 0
            acked = (single.requests - single.non_2xx) + (batched.requests
                                                          - batched.non_2xx) * args.batch
            rows.append((workers, single, batched, stored, acked))
    print(f"\nwrk -t1 -c{args.connections} -d{args.duration}s, {os.cpu_count()} CPUs, "
          f"Python {sys.version.split()[0]}, PostgreSQL")
    print(f"{'processes':>9} {'1-event req/s':>14} {'p99 ms':>8} {args.batch:>5}-event ev/s "
          f"{'p99 ms':>8} {'x1 ratio':>9} {'batch ratio':>12}")
    first = rows[0]
    for workers, single, batched, stored, acked in rows:
        print(f"{workers:9d} {single.requests_s:14.0f} {single.p99_ms:8.1f} "
              f"{batched.events_s:15.0f} {batched.p99_ms:8.1f} "
              f"{single.requests_s / first[1].requests_s:9.2f} "
              f"{batched.events_s / first[2].events_s:12.2f}")
        print(f"{'':9} stored {stored} events; the 202s in the windows carried {acked} "
              "(the warm-up adds some)")


if __name__ == "__main__":
    main()
