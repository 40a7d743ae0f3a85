"""The console's pages with a year of history stored (issue 15): what each page reads, timed.

Loads the history of bench/reports.py (EVENTS events over DAYS days, its purchases, flags and
outcomes), then moves each event's acceptance to its own time and each finished row's end a
few seconds later (reports.py accepts everything "now": the console's daily and latency reads
would then cover the whole year at once). Then times, RUNS times each, the medians of: the
overview (events per day of 14 days, counts, paused, latency), the teardown (the
reconciliation of PERIOD days), match quality (PERIOD days), the dead letters, one event's view,
and the search by order reference and by hashed e-mail (a scan of the shop's bodies: no index).
Prints JSON.

Usage: python bench/console.py [--events 1000000] [--days 365] [--period 30] [--runs 5]
       [--backend sqlite|postgres|both]
       [--pg-admin-url postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reports as history

from trackside.store import Store
from trackside.store.postgres import PostgresStore
from trackside.store.sqlite import SQLiteStore
from trackside.web.console import teardown, views
from trackside.web.console.pages import period_from

#: Accepted 5 s after the event's time, finished 2 s after acceptance (pending rows: not).
_SPREAD = ("UPDATE events SET accepted_at = event_time + 5",
           "UPDATE outbox SET finished_at = (SELECT accepted_at FROM events e"
           " WHERE e.pk = outbox.event_pk) + 2 WHERE finished_at IS NOT NULL")


def spread_sqlite(path: Path) -> None:
    conn = sqlite3.connect(path)
    with conn:
        for statement in _SPREAD:
            conn.execute(statement)
    conn.execute("ANALYZE")
    conn.close()


def spread_postgres(url: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("SET synchronous_commit = off")
        for statement in _SPREAD:
            conn.execute(statement)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def measure(store: Store, period_days: int, runs: int) -> dict[str, Any]:
    now = time.time()
    period = period_from({}, now)
    assert not isinstance(period, str)
    timed = {
        "overview": lambda: views.overview(store, "default", now),
        "teardown": lambda: teardown.page(store, "default", period),
        "quality": lambda: views.quality(store, "default", period),
        "dead_letters": lambda: views.dead_letters(store, "default"),
        "event_view": lambda: store.event_view("O500000"),
        "search_reference": lambda: store.find_events(reference="O500000"),
        "search_email": lambda: store.find_events(email_hash="b" * 64),
    }
    figures: dict[str, Any] = {}
    for name, action in timed.items():
        figures[f"{name}_ms"], _ = history._median_ms(action, runs)
    return figures


def run(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder, (
            history.postgres_database(args.pg_admin_url) if backend == "postgres"
            else nullcontext("")) as url:
        store: Store
        started = time.perf_counter()
        if backend == "postgres":
            store = PostgresStore(url, pool_size=2)
            store.migrate()
            history.load_postgres(url, args.events, 0.1, args.days)
            spread_postgres(url)
        else:
            path = Path(folder) / "bench.db"
            store = SQLiteStore(str(path))
            store.migrate()
            history.load_sqlite(path, args.events, 0.1, args.days)
            spread_sqlite(path)
        load_s = time.perf_counter() - started
        try:
            return {"backend": backend, "events": args.events, "load_s": round(load_s, 1),
                    **measure(store, args.period, args.runs)}
        finally:
            store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--period", type=int, default=30)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    for backend in backends:
        print(json.dumps({**run(backend, args), "days": args.days,
                          "period_days": args.period}), flush=True)


if __name__ == "__main__":
    main()
