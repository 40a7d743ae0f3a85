"""Benchmark: sync 20,000 PrestaShop orders from MariaDB into the store (database mode).

Builds the PrestaShop tables under a random prefix in the MariaDB service (127.0.0.1:3306,
database ``test``), fills them with N orders (1-3 lines each, 10% split checkouts, 20% bank
wires paid later, 5% cancelled after payment), then runs one ``sync`` pass in a child process
so its peak RSS is the connector's own. Prints orders/s, state changes/s and peak memory.

Usage: python bench/prestashop.py [--orders 20000] [--batch 500]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.integration.prestashop_schema import (
    BANK_WIRE,
    CANCELED,
    MARIADB_DSN,
    PAYMENT_ACCEPTED,
    Shop,
    connect,
    create_tables,
    drop_tables,
    new_reference,
    random_prefix,
)


def build(shop: Shop, orders: int, now: float) -> int:
    rng = random.Random(8)
    countries = [shop.country("FR", 33), shop.country("DE", 49), shop.country("US", 1)]
    currencies = [shop.currency("EUR"), shop.currency("USD")]
    customers = []
    for n in range(max(1, orders // 4)):
        country = rng.choice(countries)
        customer = shop.customer(f"buyer{n}@example.com", "Zoë", f"Müller{n}",
                                 birthday="1980-02-03", id_gender=rng.choice([1, 2]),
                                 is_guest=int(n % 5 == 0))
        address = shop.address(customer, country, firstname="Zoë", lastname=f"Müller{n}",
                               city="Lyon", postcode="69001", phone_mobile="06 12 34 56 78")
        customers.append((customer, address))
    references = 0
    made = 0
    later: list[int] = []
    while made < orders:
        customer, address = rng.choice(customers)
        reference = new_reference()
        references += 1
        parts = 2 if rng.random() < 0.1 else 1
        state = BANK_WIRE if rng.random() < 0.2 else PAYMENT_ACCEPTED
        at = now - rng.uniform(3600, 5 * 86400)
        for _ in range(parts):
            lines = [(rng.randint(1, 500), rng.choice([0, 0, 7]), "Produit é", rng.randint(1, 3),
                      19.99, 16.66) for _ in range(rng.randint(1, 3))]
            order_id = shop.order(reference, customer, rng.choice(currencies), address,
                                  lines=lines, shipping=(4.99, 4.16), state=state, at=at,
                                  id_cart=references)
            made += 1
            if state == BANK_WIRE or rng.random() < 0.05:
                later.append(order_id)
    for order_id in later:
        row = shop.row("orders", order_id)
        state = PAYMENT_ACCEPTED if row["current_state"] == BANK_WIRE else CANCELED
        shop.change_state(order_id, state, now - 1800)
    return references


def child(db_path: str, prefix: str, batch: int, trace: bool) -> None:
    from trackside.config import load_settings
    from trackside.runtime import Runtime
    from trackside.sources.prestashop.sync import PrestaShopSync

    settings = load_settings(environ={
        "TRACKSIDE_DATABASE_URL": f"sqlite:///{db_path}",
        "TRACKSIDE_PRESTASHOP_DB_URL": MARIADB_DSN, "TRACKSIDE_PRESTASHOP_DB_PREFIX": prefix,
        "TRACKSIDE_JOIN_WINDOW_S": "0"})
    runtime = Runtime.from_settings(settings)
    sync = PrestaShopSync(runtime, batch_size=batch)
    if trace:
        tracemalloc.start()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    report = sync.sync_once()
    seconds = time.perf_counter() - started
    heap = tracemalloc.get_traced_memory()[1] if trace else None
    print(json.dumps({
        "seconds": seconds, "state_changes": report.state_changes, "queued": report.queued,
        "refunds": report.refunds, "rss_before_mb": before / 1024,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_python_heap_mb": heap / 2**20 if heap is not None else None}))
    sync.close()
    runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--child", nargs=3, metavar=("DB", "PREFIX", "TRACE"))
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.batch, args.child[2] == "1")
        return
    prefix = random_prefix()
    conn = connect()
    create_tables(conn, prefix)
    try:
        shop = Shop()
        started = time.perf_counter()
        references = build(shop, args.orders, time.time())
        shop.flush(conn, prefix)
        print(f"fixture: {args.orders} orders, {references} checkout references, "
              f"{len(shop.tables['order_history'])} state changes "
              f"({time.perf_counter() - started:.1f} s to build)")
        results = []
        for trace in ("0", "1"):
            with tempfile.TemporaryDirectory() as tmp:
                out = subprocess.run(
                    [sys.executable, __file__, "--batch", str(args.batch), "--child",
                     f"{tmp}/trackside.db", prefix, trace],
                    check=True, capture_output=True, text=True)
                results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        timed, traced = results
        print(f"sync: {timed['state_changes']} state changes → {timed['queued']} events "
              f"({timed['refunds']} refunds) in {timed['seconds']:.2f} s")
        print(f"  {args.orders / timed['seconds']:,.0f} orders/s, "
              f"{timed['state_changes'] / timed['seconds']:,.0f} state changes/s")
        print(f"  peak RSS {timed['peak_rss_mb']:.0f} MB (process at start "
              f"{timed['rss_before_mb']:.0f} MB); peak Python heap during sync "
              f"{traced['peak_python_heap_mb']:.1f} MB (tracemalloc run: "
              f"{traced['seconds']:.2f} s)")
    finally:
        drop_tables(conn, prefix)
        conn.close()


if __name__ == "__main__":
    main()
