"""The reconciliation report and its order list with a year of history stored (issue 15).

Bulk-loads EVENTS events in SQL (one transaction; COPY on PostgreSQL) into a new SQLite file
and/or a new PostgreSQL database migrated by the store, in the columns the store's insert path
writes (checked against it on the first rows), spread evenly over DAYS
days ending now: a share PURCHASES of them store Purchases (source api; 60 % with the
confirmation page's beacon flags, 10 % of those with the pixel absent; rows for meta and ga4
delivered, a few suppressed for consent, dead or pending), the rest browser and server
PageView / ViewContent / AddToCart (rows for meta and ga4). Then times, RUNS times each, the
report of the last PERIOD days and the first page (100 orders) of three order lists: every
order, pixel_missed, and failed (the sparsest: its page scans the whole period). Prints the
medians as JSON.

Usage: python bench/reports.py [--events 1000000] [--purchases 0.1] [--days 365]
       [--period 30] [--runs 7] [--backend sqlite|postgres|both]
       [--pg-admin-url postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from trackside.events import NormalizedEvent
from trackside.reports import reconciliation as recon
from trackside.store import Store
from trackside.store.postgres import PostgresStore
from trackside.store.records import order_columns
from trackside.store.sqlite import SQLiteStore

SEED = 20261201
NOW = time.time()


def _outcome(rng: random.Random) -> list[tuple[str, str, str | None]]:
    """(destination, status, message) of a store order's rows."""
    roll = rng.random()
    if roll < 0.03:
        meta = ("meta", "suppressed", "consent: ad_storage denied")
    elif roll < 0.035:
        meta = ("meta", "dead", "vendor_refused: 100 invalid parameter")
    elif roll < 0.04:
        meta = ("meta", "pending", None)
    else:
        meta = ("meta", "delivered", None)
    return [meta, ("ga4", "delivered", None)]


Row = tuple[Any, ...]


def rows(count: int, purchases: float, days: int) -> Iterator[tuple[Row, list[Row]]]:
    """(events row, its outbox rows) in the columns the stores keep: the body is a stored
    NormalizedEvent's JSON and order_value / order_currency / flags are what
    trackside.store.records.order_columns makes of it (checked on the first rows)."""
    rng = random.Random(SEED)
    start = int(NOW) - days * 86400
    step = days * 86400 / count
    for n in range(count):
        pk, at = n + 1, start + int(n * step)
        if rng.random() < purchases:
            flags = []
            if rng.random() < 0.6:
                flags.append("seen_by_browser")
                if rng.random() < 0.1:
                    flags.append("pixel_absent")
            value = round(rng.uniform(5, 300), 2)
            currency = "EUR" if rng.random() < 0.8 else "USD"
            body: dict[str, Any] = {
                "event_name": "Purchase", "event_id": f"O{n}", "event_time": at,
                "action_source": "website", "user_data": {"em": ["a" * 64]},
                "order": {"reference": f"O{n}", "value": value, "currency": currency},
                "source": "api", **({"flags": flags} if flags else {})}
            event = ("default", "Purchase", f"O{n}", at, "api", NOW, json.dumps(body), value,
                     currency, " ".join(flags) or None, pk)
            outbox = _outcome(rng)
        else:
            name = rng.choice(("PageView", "ViewContent", "AddToCart"))
            source = "browser" if rng.random() < 0.7 else "api"
            body = {"event_name": name, "event_id": f"E{n}", "event_time": at,
                    "action_source": "website", "source": source,
                    "user_data": {"fbp": f"fb.1.1700000000000.{n}"}}
            event = ("default", name, f"E{n}", at, source, NOW, json.dumps(body), None, None,
                     None, pk)
            outbox = [("meta", "delivered", None), ("ga4", "delivered", None)]
        yield event, [(pk, destination, status, NOW if status == "pending" else None, message,
                       None if status == "pending" else NOW, "default")
                      for destination, status, message in outbox]


def _checked(event: Row) -> None:
    stored = NormalizedEvent.model_validate_json(event[6])
    assert order_columns(stored) == event[7:10], (order_columns(stored), event)


_EVENT_COLUMNS = ("shop, event_name, event_id, event_time, source, accepted_at, body,"
                  " order_value, order_currency, flags, pk")
_OUTBOX_COLUMNS = "event_pk, destination, status, next_attempt_at, message, finished_at, shop"


def load_sqlite(path: Path, count: int, purchases: float, days: int) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous = OFF")  # a bench's data: no fsync needed
    with conn:
        for n, (event, outbox) in enumerate(rows(count, purchases, days)):
            if n < 100:
                _checked(event)
            conn.execute(f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES ({','.join('?' * 11)})",
                         event)
            conn.executemany(f"INSERT INTO outbox ({_OUTBOX_COLUMNS}) VALUES"
                             f" ({','.join('?' * 7)})", outbox)
    conn.execute("ANALYZE")
    conn.close()


def load_postgres(url: str, count: int, purchases: float, days: int) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("SET synchronous_commit = off")
        outbox: list[Row] = []
        with conn.cursor() as cur, cur.copy(f"COPY events ({_EVENT_COLUMNS}) FROM STDIN") as copy:
            for n, (event, rows_of_event) in enumerate(rows(count, purchases, days)):
                if n < 100:
                    _checked(event)
                copy.write_row(event)
                outbox.extend(rows_of_event)
        with conn.cursor() as cur, cur.copy(f"COPY outbox ({_OUTBOX_COLUMNS}) FROM STDIN") as copy:
            for row in outbox:
                copy.write_row(row)
        for table, column in (("events", "pk"), ("outbox", "id")):
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'),"
                         f" (SELECT max({column}) FROM {table}))")
    with psycopg.connect(url, autocommit=True) as conn:
        # What autovacuum does soon after a bulk load: planner statistics and the
        # visibility map (index-only scans).
        conn.execute("VACUUM ANALYZE")


def _median_ms(action: Any, runs: int) -> tuple[float, Any]:
    timings, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = action()
        timings.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(timings), 1), result


def measure(store: Store, period_days: int, runs: int) -> dict[str, Any]:
    today = datetime.now(UTC).date()
    span = recon.period((today - timedelta(days=period_days - 1)).isoformat(),
                        today.isoformat())
    report_ms, report = _median_ms(lambda: recon.reconciliation(store, span), runs)
    figures: dict[str, Any] = {"orders_in_period": report["orders"]["count"],
                               "report_ms": report_ms}
    for name in ("orders", "pixel_missed", "failed"):
        page_ms, page = _median_ms(lambda n=name: recon.order_list(store, span, filter_name=n),
                                   runs)
        figures[f"list_{name}_ms"] = page_ms
        figures[f"list_{name}_rows"] = len(page["orders"])
    return figures


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A new database on the server, dropped at the end (never one the bench did not make)."""
    name = f"trackside_bench_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"{admin_url.rpartition('/')[0]}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                          .format(sql.Identifier(name)))


def run(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder, (
            postgres_database(args.pg_admin_url) if backend == "postgres"
            else nullcontext("")) as url:
        store: Store
        started = time.perf_counter()
        if backend == "postgres":
            store = PostgresStore(url, pool_size=2)
            store.migrate()
            load_postgres(url, args.events, args.purchases, args.days)
        else:
            path = Path(folder) / "bench.db"
            store = SQLiteStore(str(path))
            store.migrate()
            load_sqlite(path, args.events, args.purchases, args.days)
        load_s = time.perf_counter() - started
        try:
            return {"backend": backend, "events": args.events, "load_s": round(load_s, 1),
                    **measure(store, args.period, args.runs)}
        finally:
            store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--purchases", type=float, default=0.1,
                        help="The share of the events that are store Purchases.")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--period", type=int, default=30)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    for backend in backends:
        print(json.dumps({**run(backend, args), "purchases_share": args.purchases,
                          "days": args.days, "period_days": args.period}), flush=True)


if __name__ == "__main__":
    main()
