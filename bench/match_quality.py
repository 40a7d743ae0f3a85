"""The match-quality report on a large history: 1,000,000 stored events, on SQLite and
PostgreSQL, with the report for a 30-day period (whole days, and cut mid-day) and for one day
(medians), and beside it what the same counts cost read from the stored bodies instead.

    python bench/match_quality.py [--events 1000000] [--days 90] [--repeats 5]
                                  [--stores sqlite,postgres] [--body-scan]

The events are written straight into the events table (the store's own schema, migrated by
the store; rows as the pipeline writes them: a JSON body with hashed keys and the matching
match_keys flags), spread over ``--days`` days, six event names, 40 key combinations drawn
with a fixed seed, one shop, so loading takes seconds, not an hour of ingest. PostgreSQL gets
its own fresh database on the shared service (tests/pg.py) and ANALYZE, as autovacuum would.
``--body-scan`` also times the report's counts computed from the bodies of the 30-day period
(SQLite only: what the flags avoid).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.pg import fresh_database  # noqa: E402
from trackside.quality import MATCH_KEYS, customer_information_keys, match_key_mask  # noqa: E402
from trackside.reports.match_quality import match_quality  # noqa: E402
from trackside.store import Store  # noqa: E402
from trackside.store.postgres import PostgresStore  # noqa: E402
from trackside.store.sqlite import SQLiteStore  # noqa: E402

NAMES = ("PageView", "ViewContent", "AddToCart", "InitiateCheckout", "Purchase", "Lead")
END = 1_796_083_200  # 2026-12-01T00:00:00Z: the history ends here
HASH = "5" * 64
CLEAR = {"client_ip_address": "203.0.113.9", "client_user_agent": "Mozilla/5.0 (X11; Linux)",
         "fbp": "fb.1.1700000000000.123456789", "fbc": "fb.1.1700000000000.IwAR0abc"}


def combinations(seed: int) -> list[dict[str, object]]:
    """40 user_data shapes, from one key to all of them."""
    chooser = random.Random(seed)
    shapes = []
    for _ in range(40):
        keys = chooser.sample(MATCH_KEYS, chooser.randint(1, len(MATCH_KEYS)))
        shapes.append({key: CLEAR.get(key, [HASH]) for key in keys})
    return shapes


def rows(events: int, days: int, seed: int) -> Iterator[tuple[object, ...]]:
    chooser = random.Random(seed)
    shapes = combinations(seed)
    masks = [match_key_mask(shape) for shape in shapes]
    span = days * 86400
    for n in range(events):
        name = NAMES[n % len(NAMES)]
        at = END - span + (n * span) // events
        pick = chooser.randrange(len(shapes))
        body = json.dumps({"event_name": name, "event_id": f"E{n}", "event_time": at,
                           "action_source": "website",
                           "event_source_url": "https://shop.example/p/1",
                           "user_data": shapes[pick]})
        yield ("default", name, f"E{n}", at, "api", float(at), body, masks[pick])


_COLUMNS = "shop, event_name, event_id, event_time, source, accepted_at, body, match_keys"


def load_sqlite(path: Path, events: int, days: int, seed: int) -> SQLiteStore:
    store = SQLiteStore(str(path))
    store.migrate()
    import sqlite3

    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA synchronous=OFF")
        conn.executemany(f"INSERT INTO events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         rows(events, days, seed))
        conn.execute("ANALYZE")
    return store


def load_postgres(url: str, events: int, days: int, seed: int) -> PostgresStore:
    import psycopg

    store = PostgresStore(url, pool_size=2)
    store.migrate()
    with psycopg.connect(url) as conn:
        conn.execute("SET synchronous_commit = off")
        with conn.cursor() as cursor, cursor.copy(f"COPY events ({_COLUMNS}) FROM STDIN") as copy:
            for row in rows(events, days, seed):
                copy.write_row(row)
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE events")
    return store


def timed(store: Store, since: float, until: float, repeats: int) -> tuple[float, int]:
    durations, count = [], 0
    for _ in range(repeats):
        started = time.perf_counter()
        report = match_quality(store, since, until)
        durations.append(time.perf_counter() - started)
        count = sum(event.count for event in report.events)
    return statistics.median(durations) * 1000, count


def body_scan(path: Path, since: float, until: float) -> float:
    """The same counts from the bodies: what a report without the flags would do."""
    import sqlite3

    started = time.perf_counter()
    counted: Counter[tuple[str, frozenset[str]]] = Counter()
    with sqlite3.connect(path) as conn:
        for name, body in conn.execute(
                "SELECT event_name, body FROM events WHERE shop = 'default' AND event_time >= ?"
                " AND event_time < ?", (since, until)):
            keys = customer_information_keys(json.loads(body).get("user_data", {}))
            counted[(name, frozenset(keys))] += 1
    return (time.perf_counter() - started) * 1000


def measure(name: str, store: Store, repeats: int) -> dict[str, float]:
    figures = {}
    # Whole days come from the daily counts; a period cut mid-day (until = now, the API's
    # default) also counts its two edges from the events.
    for label, since, until in (("30 days", END - 30 * 86400, END),
                                ("30 days, cut mid-day", END - 30 * 86400 + 43200, END - 600),
                                ("1 day", END - 86400, END)):
        ms, count = timed(store, since, until, repeats)
        figures[f"{name}, {label}"] = ms
        print(f"{name:<10} {label:<20} {count:>9,} events  {ms:8.1f} ms (median of {repeats})",
              flush=True)
    return figures


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument("--body-scan", action="store_true")
    args = parser.parse_args(argv)
    stores = args.stores.split(",")
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        if "sqlite" in stores:
            path = Path(folder) / "history.db"
            started = time.perf_counter()
            store = load_sqlite(path, args.events, args.days, args.seed)
            print(f"SQLite: {args.events:,} events loaded in {time.perf_counter() - started:.0f}"
                  " s", flush=True)
            try:
                figures |= measure("SQLite", store, args.repeats)
            finally:
                store.close()
            if args.body_scan:
                ms = body_scan(path, END - 30 * 86400, END)
                figures["SQLite, 30 days, from the bodies"] = ms
                print(f"SQLite     30 days from the bodies (no flags): {ms:8.1f} ms", flush=True)
        if "postgres" in stores:
            with fresh_database("trackside_bench") as url:
                started = time.perf_counter()
                pg = load_postgres(url, args.events, args.days, args.seed)
                print(f"PostgreSQL: {args.events:,} events loaded in "
                      f"{time.perf_counter() - started:.0f} s", flush=True)
                try:
                    figures |= measure("PostgreSQL", pg, args.repeats)
                finally:
                    pg.close()
    return figures


if __name__ == "__main__":
    main()
