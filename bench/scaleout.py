"""Scale-out on PostgreSQL: delivery with 1, 2 and 4 `trackside worker` processes, ingest with
1 and 2 `serve --no-worker` processes, and one worker on SQLite beside them, in one run.

    python bench/scaleout.py [--events 20000] [--workers 1,2,4] [--servers 1,2]
                             [--batch 10] [--latency 0.05] [--duration 5]

Delivery: each measurement gets its own fresh PostgreSQL database (tests/pg.py) preloaded with
the same backlog of purchases, then N worker processes drain it to the fake Graph API (its own
process) answering every request after ``--latency`` seconds. The rate is taken between 10 %
and 90 % delivered, so process start-up is not in it. Claims and requests are ``--batch``
events (bench/_scaleout_worker.py says why). Ingest: wrk against each server at once
(``--ingest-batch`` events per request), events/s summed.
"""

from __future__ import annotations

import argparse
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from delivery import make_events, start_fake  # noqa: E402
from ingest import API_KEY, WRK, free_port, run_wrk, stop, wait_ready  # noqa: E402

from tests.pg import fresh_database  # noqa: E402
from trackside.config import Settings  # noqa: E402
from trackside.pipeline import Pipeline  # noqa: E402
from trackside.store import Store  # noqa: E402
from trackside.store.postgres import PostgresStore  # noqa: E402
from trackside.store.sqlite import SQLiteStore  # noqa: E402


def _env(database_url: str, graph_url: str, pixel_id: str, token: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKSIDE_")}
    env.update({"TRACKSIDE_DATABASE_URL": database_url, "TRACKSIDE_META_PIXEL_ID": pixel_id,
                "TRACKSIDE_META_ACCESS_TOKEN": token, "TRACKSIDE_META_GRAPH_URL": graph_url,
                "TRACKSIDE_JOIN_WINDOW_S": "0", "TRACKSIDE_API_KEYS": API_KEY})
    return env


def prefill(store: Store, events: list[dict], now: float) -> None:
    store.migrate()
    pipeline = Pipeline(Settings(join_window_s=0), store, ["meta"])
    for start in range(0, len(events), 1000):
        pipeline.accept(events[start:start + 1000], "bench", now=now)
    store.close()


def _delivered_counter(database_url: str) -> Callable[[], int]:
    if database_url.startswith("sqlite"):
        path = database_url[len("sqlite:///"):]

        def sqlite_count() -> int:
            import sqlite3
            with sqlite3.connect(path, timeout=30) as conn:
                return int(conn.execute("SELECT count(*) FROM outbox"
                                        " WHERE status = 'delivered'").fetchone()[0])
        return sqlite_count

    def pg_count() -> int:
        with psycopg.connect(database_url) as conn:
            row = conn.execute("SELECT count(*) FROM outbox WHERE status = 'delivered'"
                               ).fetchone()
            return int(row[0]) if row else 0
    return pg_count


def _transactions(database_url: str) -> int:
    """Transactions committed in the database so far (PostgreSQL's statistics; SQLite: 0)."""
    if not database_url.startswith("postgresql"):
        return 0
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT xact_commit FROM pg_stat_database"
                           " WHERE datname = current_database()").fetchone()
        return int(row[0]) if row else 0


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def drain_rate(database_url: str, workers: int, total: int, batch: int, graph_url: str,
               pixel_id: str, token: str, folder: Path) -> float:
    """Events/s delivered by ``workers`` processes between 10 % and 90 % of the backlog; the
    CPU the workers spent per event (start-up included) is printed beside it."""
    env = _env(database_url, graph_url, pixel_id, token)
    cpu_before = _children_cpu_s()
    processes = []
    for index in range(workers):
        with (folder / f"worker{workers}-{index}.log").open("wb") as log:
            processes.append(subprocess.Popen(
                [sys.executable, str(ROOT / "bench/_scaleout_worker.py"), str(batch),
                 "--log-level", "warning"], env=env, stdout=log, stderr=subprocess.STDOUT))
    delivered = _delivered_counter(database_url)
    marks: dict[float, float] = {}
    deadline = time.monotonic() + 600
    try:
        while len(marks) < 2:
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                raise RuntimeError(f"{workers} workers did not drain {total} events "
                                   f"(see {folder})")
            done = delivered()
            for fraction in (0.1, 0.9):
                if fraction not in marks and done >= fraction * total:
                    marks[fraction] = time.monotonic()
            time.sleep(0.05)  # a bench's sampling period, not a test's wait
        while delivered() < total:  # every event delivered: the bench checks its own figure
            if time.monotonic() > deadline:
                raise RuntimeError("the last 10 % were not delivered")
            time.sleep(0.1)
    finally:
        for process in processes:
            stop(process)
    cpu_ms = (_children_cpu_s() - cpu_before) * 1000 / total
    print(f"  {workers} worker process(es): {cpu_ms:.2f} ms CPU per event (all of them, "
          f"start-up included), {_transactions(database_url) / total:.2f} transactions per "
          f"event; load average {os.getloadavg()[0]:.1f}", flush=True)
    return 0.8 * total / (marks[0.9] - marks[0.1])


def ingest_rate(database_url: str, servers: int, graph_url: str, pixel_id: str, token: str,
                duration: int, connections: int, batch: int) -> float:
    env = _env(database_url, graph_url, pixel_id, token)
    processes, urls = [], []
    for _ in range(servers):
        port = free_port()
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "trackside.cli", "serve", "--no-worker", "--port", str(port),
             "--log-level", "warning"], env=env))
        urls.append(f"http://127.0.0.1:{port}")
    rates: list[float] = []
    try:
        for url, process in zip(urls, processes, strict=True):
            wait_ready(f"{url}/healthz", process)

        def load(url: str) -> None:
            result = run_wrk(f"{servers} server(s)", url, "/v1/events", batch, duration,
                             connections)
            rates.append(result.events_s)

        threads = [threading.Thread(target=load, args=(url,)) for url in urls]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for process in processes:
            stop(process)
    return sum(rates)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--servers", default="1,2")
    parser.add_argument("--batch", type=int, default=10, help="rows per claim and request")
    parser.add_argument("--latency", type=float, default=0.05, help="the fake's answer delay")
    parser.add_argument("--duration", type=int, default=5, help="seconds of wrk per server")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections/server")
    parser.add_argument("--ingest-batch", type=int, default=10, help="events per request")
    args = parser.parse_args(argv)
    pixel_id, token = str(10**14 + secrets.randbelow(10**14)), "EAAbench" + secrets.token_hex(8)
    now = time.time()
    events = make_events(args.events, now)
    figures: dict[str, float] = {}
    fake, graph_url = start_fake(pixel_id, token, f"--latency={args.latency}")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            for workers in [int(n) for n in args.workers.split(",")]:
                with fresh_database("trackside_bench") as url:
                    prefill(PostgresStore(url), events, now)
                    rate = drain_rate(url, workers, args.events, args.batch, graph_url,
                                      pixel_id, token, folder)
                figures[f"delivery, {workers} worker(s)"] = rate
                print(f"delivery, {workers} worker(s), PostgreSQL: {rate:,.0f} events/s",
                      flush=True)
            sqlite_url = f"sqlite:///{folder / 'one.db'}"
            prefill(SQLiteStore(str(folder / "one.db")), events, now)
            figures["delivery, 1 worker, SQLite"] = drain_rate(
                sqlite_url, 1, args.events, args.batch, graph_url, pixel_id, token, folder)
            print(f"delivery, 1 worker, SQLite: "
                  f"{figures['delivery, 1 worker, SQLite']:,.0f} events/s", flush=True)
            for servers in [int(n) for n in args.servers.split(",")]:
                with fresh_database("trackside_bench") as url:
                    PostgresStore(url).migrate()
                    rate = ingest_rate(url, servers, graph_url, pixel_id, token,
                                       args.duration, args.connections, args.ingest_batch)
                figures[f"ingest, {servers} server(s)"] = rate
                print(f"ingest, {servers} server(s), PostgreSQL: {rate:,.0f} events/s",
                      flush=True)
    finally:
        fake.terminate()
        fake.wait()
    _report(figures, args)
    return figures


def _report(figures: dict[str, float], args: argparse.Namespace) -> None:
    print(f"\nevents: {args.events:,}  batch: {args.batch}  latency: {args.latency * 1000:.0f}"
          f" ms  cpus: {os.cpu_count()}")
    one = figures.get("delivery, 1 worker(s)")
    for name, rate in figures.items():
        base = one if name.startswith("delivery") else figures.get("ingest, 1 server(s)")
        ratio = f"{rate / base:.2f}x" if base else "-"
        print(f"{name:<32} {rate:>10,.0f} events/s  {ratio}")
    four = figures.get("delivery, 4 worker(s)")
    if one and four:
        verdict = "met" if four >= 3 * one else "missed"
        print(f"target 4 workers >= 3x one worker: {four / one:.2f}x, {verdict}")


if __name__ == "__main__":
    if not Path(WRK).exists():
        sys.exit(f"{WRK} is required (Debian's wrk)")
    main()
