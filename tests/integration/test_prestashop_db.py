"""PrestaShop connector, database mode, against the real MariaDB service.

Tables and columns are PrestaShop's own (install-dev/data/db_structure.sql, see
tests/integration/prestashop_schema.py); the connector reads the minimal set a Purchase needs.

Every test builds the PrestaShop tables under its own random prefix and drops them after, so
tests can run in parallel with others using the same ``test`` database.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymysql
import pytest

from tests.fakes.fixtures import fake_graph  # noqa: F401  (pytest fixture)
from tests.fakes.ga4_fixtures import fake_ga4  # noqa: F401  (pytest fixture)
from tests.integration.prestashop_schema import (
    BANK_WIRE,
    CANCELED,
    DDL,
    MARIADB_DSN,
    PAYMENT_ACCEPTED,
    Fixtures,
    Shop,
    connect,
    create_tables,
    drop_tables,
    new_reference,
    random_prefix,
)
from tests.waiting import wait_until_async
from trackside.config import load_settings
from trackside.identity.hashing import sha256_hex
from trackside.runtime import Runtime
from trackside.sources.prestashop.db import DatabaseReader
from trackside.sources.prestashop.map import user_fields
from trackside.sources.prestashop.records import PrestaShopError
from trackside.sources.prestashop.sync import PrestaShopSync

pytestmark = pytest.mark.mariadb


@pytest.fixture
def db() -> Iterator[tuple[pymysql.connections.Connection[Any], str]]:
    prefix = random_prefix()
    conn = connect()
    create_tables(conn, prefix)
    try:
        yield conn, prefix
    finally:
        drop_tables(conn, prefix)
        conn.close()


def _runtime(tmp_path: Path, prefix: str, **extra: str) -> Runtime:
    environ = {
        "TRACKSIDE_DATABASE_URL": f"sqlite:///{tmp_path / 'trackside.db'}",
        "TRACKSIDE_PRESTASHOP_DB_URL": MARIADB_DSN,
        "TRACKSIDE_PRESTASHOP_DB_PREFIX": prefix,
        "TRACKSIDE_JOIN_WINDOW_S": "0",
        "TRACKSIDE_SERVER_EVENT_CONSENT": "grant",
        **extra,
    }
    return Runtime.from_settings(load_settings(environ=environ))


def _h(value: str) -> str:
    return sha256_hex(value)


def test_purchases_refunds_and_deliveries(db: Any, tmp_path: Path, fake_graph: Any,  # noqa: F811
                                          fake_ga4: Any) -> None:  # noqa: F811
    conn, prefix = db
    now = time.time()
    shop = Shop()
    f = Fixtures(shop, now)
    shop.flush(conn, prefix)
    runtime = _runtime(tmp_path, prefix, TRACKSIDE_PRESTASHOP_URL="https://shop.example",
                       TRACKSIDE_META_PIXEL_ID=fake_graph.pixel_id,
                       TRACKSIDE_META_ACCESS_TOKEN=fake_graph.token,
                       TRACKSIDE_META_GRAPH_URL=fake_graph.url,
                       TRACKSIDE_GA4_MEASUREMENT_ID=fake_ga4.measurement_id,
                       TRACKSIDE_GA4_API_SECRET=fake_ga4.api_secret,
                       TRACKSIDE_GA4_URL=fake_ga4.url)
    sync = PrestaShopSync(runtime, batch_size=3)
    report = sync.sync_once()
    assert report.queued == 4 and report.duplicates == 0 and report.rejected == 0

    store = runtime.store
    normal = store.event_view(f.normal)[0].event
    assert normal.order.value == 30.0 and normal.order.currency == "EUR"
    assert normal.order.shipping == 6.0 and normal.order.tax == 5.0
    assert [(i.id, i.quantity, i.price) for i in normal.order.items] == [("7", 2, 12.0)]
    assert normal.event_source_url == (
        f"https://shop.example/index.php?controller=order-confirmation&id_cart="
        f"{shop.row('orders', f.normal_id)['id_cart']}&id_order={f.normal_id}")
    ud = normal.user_data
    assert ud["em"] == [_h("anne.martin@example.com")]
    # Both numbers; the pipeline stores hashes sorted, so "mobile first" is checked on the
    # mapped event below.
    assert ud["ph"] == sorted([_h("33612345678"), _h("33472000000")])
    mapped = user_fields(sync.reader.orders_by_reference([f.normal])[0], [])
    assert mapped["phone"] == ["+33 6 12 34 56 78", "+33 4 72 00 00 00"]
    assert ud["fn"] == [_h("anne")] and ud["ln"] == [_h("martin")]
    assert ud["db"] == [_h("19850309")] and ud["ge"] == [_h("f")]
    assert ud["ct"] == [_h("lyon")] and ud["zp"] == [_h("69002")] and ud["country"] == [_h("fr")]
    assert ud["external_id"] == [_h("1")]
    assert normal.cart_id == str(shop.row("orders", f.normal_id)["id_cart"])

    split = store.event_view(f.split)
    assert len(split) == 1  # one Purchase per checkout reference
    assert split[0].event.order.value == round(24.0 + 10.55 + 4.8, 2)
    assert sorted(i.id for i in split[0].event.order.items) == ["1-3", "2"]

    guest = store.event_view(f.guest)[0].event
    assert guest.user_data["ph"] == [_h("33611223344")]  # national format → E.164
    assert guest.user_data["em"] == [_h("guest@example.org")]

    assert store.event_view(f.wire) == []  # awaiting bank wire: not a purchase yet

    chf = store.event_view(f.chf_ref)[0].event
    assert chf.order.currency == "CHF" and chf.order.value == 120.0
    assert chf.user_data["fn"] == [_h("zoë")]

    # Later: the wire transfer arrives, the CHF order is cancelled.
    shop.change_state(f.wire_id, PAYMENT_ACCEPTED, now - 60)
    shop.change_state(f.chf_id, CANCELED, now - 30)
    shop.flush(conn, prefix)
    report = sync.sync_once()
    assert (report.queued, report.refunds, report.duplicates) == (2, 1, 0)
    wire = store.event_view(f.wire)[0].event
    assert wire.event_time == int(now - 60)  # the paid time, read in PS_TIMEZONE
    assert "ph" not in wire.user_data and wire.user_data["ln"] == [_h("müller")]
    refund = store.event_view(f"Refund:{f.chf_ref}")[0]
    assert refund.event_name == "Refund"
    assert refund.event.order.value == 120.0 and refund.event.order.currency == "CHF"
    notes = [n.detail for n in store.event_view(f.chf_ref)[0].notes
             if n.kind == "order_state"]
    assert any("'Payment accepted' to 'Canceled'" in n for n in notes)

    assert sync.sync_once().state_changes == 0  # nothing new: nothing re-read

    # The confirmation page's beacon brings the shopper's browser context under the same id
    # (docs/browser-tag.md, "Joining browser context to server events"); it joins the stored
    # server Purchase.
    browser = [{"event_name": "Purchase", "event_id": ref, "action_source": "website",
                "user": {"ip": "203.0.113.7", "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
                         "fbp": "fb.1.1700000000000.1234567890"}}
               for ref in (f.normal, f.split, f.guest, f.chf_ref, f.wire)]
    joined = runtime.pipeline.accept(browser, source="browser")
    assert {r.status for r in joined} == {"duplicate"}
    assert store.event_view(f.normal)[0].event.user_data["fbp"] == "fb.1.1700000000000.1234567890"

    async def deliver() -> None:
        async with runtime.worker() as worker:
            await worker.drain()

    asyncio.run(deliver())
    purchases = {e["event_id"]: e for e in fake_graph.unique_events
                 if e["event_name"] == "Purchase"}
    assert set(purchases) == {f.normal, f.split, f.guest, f.chf_ref, f.wire}
    assert purchases[f.split]["custom_data"]["value"] == 39.35
    sent = purchases[f.normal]["user_data"]
    assert sent["em"] == _h("anne.martin@example.com") and sent["external_id"] == _h("1")
    assert sorted(sent["ph"]) == sorted([_h("33612345678"), _h("33472000000")])
    assert sent["client_user_agent"].startswith("Mozilla/5.0")
    assert purchases[f.guest]["user_data"]["ph"] == _h("33611223344")
    assert purchases[f.wire]["custom_data"]["value"] == 59.9
    assert not [e for e in fake_graph.events if e["event_name"] == "Refund"]  # not_applicable
    ga4 = {(e["name"], e["params"]["transaction_id"]): e for e in fake_ga4.events}
    assert set(ga4) == {("purchase", r) for r in purchases} | {("refund", f.chf_ref)}
    assert ga4[("purchase", f.split)]["params"]["value"] == 39.35
    assert ga4[("refund", f.chf_ref)]["params"]["value"] == 120.0
    sync.close()
    runtime.close()


def test_restart_in_the_middle_misses_and_repeats_nothing(db: Any, tmp_path: Path) -> None:
    conn, prefix = db
    now = time.time()
    shop = Shop()
    eur = shop.currency("EUR")
    fr = shop.country("FR", 33)
    references = []
    for n in range(23):
        customer = shop.customer(f"c{n}@example.com", "Ann", f"N{n}")
        address = shop.address(customer, fr, firstname="Ann", lastname=f"N{n}", city="Lyon",
                               postcode="69001")
        reference = new_reference()
        references.append(reference)
        state = BANK_WIRE if n % 3 == 0 else PAYMENT_ACCEPTED
        shop.order(reference, customer, eur, address, state=state, at=now - 600 + n,
                   lines=[(n + 1, 0, "P", 1, 10.0, 8.0)], shipping=(0.0, 0.0))
    shop.flush(conn, prefix)

    class Crash(Exception):
        pass

    def crash_after_two(done: int, total: int) -> None:
        if done >= 10:  # the cursor of two batches of 5 is committed, then the process dies
            raise Crash

    runtime = _runtime(tmp_path, prefix)
    with pytest.raises(Crash):
        PrestaShopSync(runtime, batch_size=5).sync_once(progress=crash_after_two)
    runtime.close()

    # While trackside is down: bank wires are paid, new orders arrive.
    for n in range(0, 23, 3):
        shop.change_state(n + 1, PAYMENT_ACCEPTED, now - 100)
    customer = shop.customer("late@example.com", "Late", "Comer")
    address = shop.address(customer, fr, firstname="Late", lastname="Comer", city="Lyon",
                           postcode="69001")
    late = new_reference()
    shop.order(late, customer, eur, address, state=PAYMENT_ACCEPTED, at=now - 50,
               lines=[(99, 0, "P", 1, 10.0, 8.0)], shipping=(0.0, 0.0))
    shop.flush(conn, prefix)

    runtime = _runtime(tmp_path, prefix)
    report = PrestaShopSync(runtime, batch_size=5).sync_once()
    stored = [v.event_id for r in [*references, late] for v in runtime.store.event_view(r)]
    assert sorted(stored) == sorted([*references, late])  # none missed
    assert report.duplicates == 0  # none re-read after the restart
    assert all(not [n for n in runtime.store.event_view(r)[0].notes if n.kind == "duplicate"]
               for r in references)
    runtime.close()


def test_missing_address_is_a_warning_and_an_unknown_currency_a_reported_refusal(
    db: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    conn, prefix = db
    now = time.time()
    shop = Shop()
    fr = shop.country("FR", 33)
    eur = shop.currency("EUR")
    customer = shop.customer("odd@example.com", "Odd", "Order")
    address = shop.address(customer, fr, firstname="Odd", lastname="Order", city="Lyon",
                           postcode="69001")
    no_invoice_address = new_reference()
    shop.order(no_invoice_address, customer, eur, address, id_address_invoice=999,
               state=PAYMENT_ACCEPTED, at=now - 110, lines=[(1, 0, "P", 1, 10.0, 8.0)],
               shipping=(0.0, 0.0))
    # Without a currency the Purchase has no value: no destination would take it (Meta's
    # rule 33), so it is refused at accept, logged and counted, and the cursor moves on.
    no_currency = new_reference()
    shop.order(no_currency, customer, 42, address, state=PAYMENT_ACCEPTED, at=now - 100,
               lines=[(1, 0, "P", 1, 10.0, 8.0)], shipping=(0.0, 0.0))
    fine = new_reference()
    shop.order(fine, customer, eur, address, state=PAYMENT_ACCEPTED, at=now - 90,
               lines=[(1, 0, "P", 1, 10.0, 8.0)], shipping=(0.0, 0.0))
    shop.flush(conn, prefix)
    runtime = _runtime(tmp_path, prefix)
    report = PrestaShopSync(runtime).sync_once()
    assert (report.queued, report.rejected) == (2, 1)
    view = runtime.store.event_view(no_invoice_address)[0]
    assert view.event.user_data["ct"] == [_h("lyon")]  # delivery address used instead
    warnings = " | ".join(n.detail for n in view.notes if n.kind == "warning")
    assert "invoice address 999 not found" in warnings
    assert runtime.store.event_view(no_currency) == []
    [refusal] = [r.getMessage() for r in caplog.records if no_currency in r.getMessage()]
    assert "could not be accepted" in refusal and "would be refused" in refusal
    assert runtime.store.event_view(fine)[0].event.order.value == 10.0
    again = PrestaShopSync(runtime).sync_once()
    assert (again.state_changes, again.rejected) == (0, 0)  # the cursor passed it
    runtime.close()


def test_clear_errors_for_wrong_dsn_prefix_and_missing_table(db: Any) -> None:
    conn, prefix = db
    with pytest.raises(PrestaShopError, match=r"access denied for user 'nobody'.*\*\*\*\*"):
        DatabaseReader("mysql://nobody:s3cret-pw@127.0.0.1:3306/test", prefix).check()
    with pytest.raises(PrestaShopError) as info:
        DatabaseReader("mysql://nobody:s3cret-pw@127.0.0.1:3306/test", prefix).check()
    assert "s3cret-pw" not in str(info.value)
    with pytest.raises(PrestaShopError,
                       match=r"cannot reach the database server at 127\.0\.0\.1:1"):
        DatabaseReader("mysql://root@127.0.0.1:1/test", prefix).check()
    with pytest.raises(PrestaShopError, match="database 'nope_db' does not exist"):
        DatabaseReader("mysql://root@127.0.0.1:3306/nope_db", prefix).check()
    with pytest.raises(PrestaShopError, match="write it as mysql://"):
        DatabaseReader("postgresql://root@127.0.0.1/test", prefix)
    with pytest.raises(PrestaShopError,
                       match=rf"no PrestaShop tables with prefix 'zz_'.*'{prefix}': set "
                             "TRACKSIDE_PRESTASHOP_DB_PREFIX"):
        DatabaseReader(MARIADB_DSN, "zz_").check()
    with conn.cursor() as cur:
        cur.execute(f"DROP TABLE `{prefix}gender`")
    with pytest.raises(PrestaShopError, match=rf"missing table\(s\) {prefix}gender"):
        DatabaseReader(MARIADB_DSN, prefix).check()
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE `{prefix}gender` (id_gender INT PRIMARY KEY)")
    with pytest.raises(PrestaShopError, match=rf"{prefix}gender lacks a column"):
        DatabaseReader(MARIADB_DSN, prefix).check()


def test_connection_is_read_only(db: Any) -> None:
    _conn, prefix = db
    reader = DatabaseReader(MARIADB_DSN, prefix)
    reader.check()
    with pytest.raises(PrestaShopError):
        reader._rows("INSERT INTO {p}gender (type) VALUES (0)")
    reader.close()


def test_user_without_a_grant_is_told_which(db: Any) -> None:
    conn, prefix = db
    user = f"ts_{prefix.strip('_')}"
    with conn.cursor() as cur:
        cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'pw-Secret-1'")
        try:
            for table in DDL:
                if table != "customer":
                    cur.execute(f"GRANT SELECT ON `test`.`{prefix}{table}` TO '{user}'@'%'")
            reader = DatabaseReader(f"mysql://{user}:pw-Secret-1@127.0.0.1:3306/test", prefix)
            with pytest.raises(PrestaShopError) as info:
                reader.check()
            assert f"missing table(s) {prefix}customer" in str(info.value)
            assert f"user '{user}' has no SELECT on them" in str(info.value)
            assert "pw-Secret-1" not in str(info.value)
            cur.execute(f"GRANT SELECT ON `test`.`{prefix}customer` TO '{user}'@'%'")
            reader.check()  # every grant the docs list: accepted
            with pytest.raises(PrestaShopError, match="may not read"):
                reader._rows("SELECT 1 FROM {p}cart", table=f"{prefix}cart")
            reader.close()
        finally:
            cur.execute(f"DROP USER '{user}'@'%'")


async def test_poll_forever_picks_up_new_orders_until_stopped(db: Any, tmp_path: Path) -> None:
    from trackside import pollers
    from trackside.sources.prestashop.poller import PrestaShopPoller

    conn, prefix = db
    shop = Shop()
    f = Fixtures(shop, time.time())
    shop.flush(conn, prefix)
    runtime = _runtime(tmp_path, prefix, TRACKSIDE_PRESTASHOP_POLL_S="0.1")
    stop = asyncio.Event()
    task = asyncio.create_task(pollers.run(PrestaShopPoller(), runtime, stop))
    await wait_until_async(lambda: runtime.store.event_view(f.normal), timeout_s=10,
                           what="the poller to queue the first order")
    shop.change_state(f.wire_id, PAYMENT_ACCEPTED, time.time())
    shop.flush(conn, prefix)
    await wait_until_async(lambda: runtime.store.event_view(f.wire), timeout_s=10,
                           what="the poller to queue the paid wire order")
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    assert runtime.store.event_view(f.normal) and runtime.store.event_view(f.wire)
    runtime.close()
