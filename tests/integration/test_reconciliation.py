"""The reconciliation against a constructed history (issue 15), over SQLite and PostgreSQL:
100 store orders on four days in EUR and USD; the confirmation page's pixel fired for 60 (half
of the beacons before the store's copy, half after), 10 more pages without the pixel, 30
without a beacon; consent refused for 5; one refused by Meta (dead). Accepted through the real
pipeline and delivered by the real worker to the fake Graph API on loopback. Every number of
the JSON (API and CLI), the CSV and the table is checked, per day and in total, against the
test's own bookkeeping of what it built."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.conftest import API_KEY, app_client
from tests.fakes.fixtures import WorkerClock, fake_graph  # noqa: F401  (fixture)
from tests.fakes.graph_api import FakeGraphAPI
from tests.pg import fresh_database
from trackside.cli import app as cli_app
from trackside.runtime import Runtime
from trackside.sources.facts import BrowserFacts

GRANTED = {k: "granted" for k in ("ad_storage", "analytics_storage", "ad_user_data",
                                  "ad_personalization")}
DENIED = {**GRANTED, "ad_storage": "denied"}
TODAY = datetime.now(UTC).date()
DAYS = [TODAY - timedelta(days=n) for n in (4, 3, 2, 1)]
SINCE, UNTIL = DAYS[0].isoformat(), DAYS[-1].isoformat()


@dataclass
class Built:
    """One order as the test built it: what every report must say about it."""

    reference: str
    day: date
    currency: str
    value: Decimal
    fired: bool
    consent_refused: bool
    dead: bool

    def numbers(self) -> set[str]:
        found = {"orders", "pixel_fired" if self.fired else "pixel_missed"}
        if self.consent_refused:
            found.add("suppressed.consent")
        elif self.dead:
            found.add("failed")
        else:
            found.add("delivered.meta")
            if not self.fired:
                found.add("recovered")
        return found


def _epoch(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def history() -> list[Built]:
    built = []
    for i in range(100):
        built.append(Built(
            reference=f"ORD{i:03d}", day=DAYS[i // 25], currency="EUR" if i % 2 == 0 else "USD",
            value=Decimal("19.99") + i, fired=i < 60, consent_refused=70 <= i < 75,
            dead=i == 80))
    return built


def server_order(order: Built, i: int) -> dict[str, Any]:
    return {"event_name": "Purchase", "event_time": _epoch(order.day) + 3600 + 60 * i,
            "order": {"reference": order.reference, "value": float(order.value),
                      "currency": order.currency},
            "event_source_url": "https://shop.example/checkout",
            "user": {"email": f"shopper{i}@example.com", "ip": "198.51.100.4",
                     "user_agent": "Mozilla/5.0 (Checkout)"},
            "consent": DENIED if order.consent_refused else GRANTED}


def beacon(order: Built, i: int) -> dict[str, Any]:
    # The page's own numbers differ on purpose: the store's copy is the truth.
    return {"event_name": "Purchase", "event_time": _epoch(order.day) + 3600 + 60 * i,
            "event_source_url": "https://shop.example/thanks",
            "order": {"reference": order.reference, "value": 1.0, "currency": order.currency},
            "user": {"fbp": f"fb.1.1700000000000.{i}", "ip": "203.0.113.7",
                     "user_agent": "Mozilla/5.0 (Browser)"}, "consent": GRANTED}


def build(runtime: Runtime, fake: FakeGraphAPI, orders: list[Built], now: float) -> None:
    pipeline = runtime.pipeline
    for i, order in enumerate(orders):
        has_beacon = i < 70
        facts = [BrowserFacts(pixel=order.fired)]
        if has_beacon and i % 4 < 2:  # the beacon first
            pipeline.accept([beacon(order, i)], "browser", now=now, facts=facts)
            pipeline.accept([server_order(order, i)], "api", now=now + 1)
        else:
            pipeline.accept([server_order(order, i)], "api", now=now)
            if has_beacon:  # the beacon late
                pipeline.accept([beacon(order, i)], "browser", now=now + 1, facts=facts)
        if order.dead:
            fake.reject_event_id(order.reference)
    # Not orders: another event, a browser purchase the store never confirmed, an order
    # after the period.
    pipeline.accept([{"event_name": "ViewContent", "event_time": _epoch(DAYS[0]) + 10,
                      "user": {"email": "v@example.com"}, "consent": GRANTED}], "api", now=now)
    stray = Built("STRAY", DAYS[1], "EUR", Decimal(5), True, False, False)
    pipeline.accept([beacon(stray, 1)], "browser", now=now, facts=[BrowserFacts(pixel=True)])
    late = Built("TODAY", TODAY, "EUR", Decimal(7), False, False, False)
    pipeline.accept([server_order(late, 0)], "api", now=now)

    async def drain() -> None:
        async with runtime.worker(clock=WorkerClock(now + 120)) as worker:
            await worker.drain()

    asyncio.run(drain())


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[str]:
    if request.param == "postgres":
        with fresh_database() as url:
            yield url
    else:
        yield f"sqlite:///{Path(tmp_path_factory.mktemp('recon')) / 'recon.db'}"


@pytest.fixture
def built(database: str, fake_graph: FakeGraphAPI) -> Iterator[tuple[Runtime, list[Built]]]:  # noqa: F811
    runtime = Runtime.from_settings(fake_graph.settings(database_url=database,
                                                        api_keys=[API_KEY]))
    orders = history()
    if not runtime.store.orders(0, 2**40):  # built once per database
        build(runtime, fake_graph, orders, time.time())
    try:
        yield runtime, orders
    finally:
        runtime.close()


def tally(orders: list[Built], name: str) -> dict[str, Any]:
    chosen = [o for o in orders if name in o.numbers()]
    value: dict[str, Decimal] = {}
    for order in chosen:
        value[order.currency] = value.get(order.currency, Decimal(0)) + order.value
    return {"count": len(chosen), "value": {c: float(value[c]) for c in sorted(value)}}


def expected_figures(orders: list[Built]) -> dict[str, Any]:
    figures = {name: tally(orders, name)
               for name in ("orders", "pixel_fired", "pixel_missed", "recovered")}
    figures["pixel_missed"]["share"] = (round(figures["pixel_missed"]["count"] / len(orders), 4)
                                        if orders else None)
    figures["delivered"] = {"meta": tally(orders, "delivered.meta")}
    figures["suppressed"] = {kind: tally(orders, f"suppressed.{kind}")
                             for kind in ("consent", "policy", "not_applicable")}
    figures["failed"] = tally(orders, "failed")
    figures["pending"] = tally(orders, "pending")
    return figures


def expected_report(orders: list[Built]) -> dict[str, Any]:
    return {"shop": "default", "since": SINCE, "until": UNTIL, "timezone": "UTC",
            "destinations": ["meta"], **expected_figures(orders),
            "days": [{"date": day.isoformat(),
                      **expected_figures([o for o in orders if o.day == day])} for day in DAYS]}


def test_the_constructed_history_itself() -> None:
    # The bookkeeping says what the issue asks for.
    figures = expected_figures(history())
    assert figures["orders"]["count"] == 100 and figures["pixel_fired"]["count"] == 60
    assert figures["suppressed"]["consent"]["count"] == 5 and figures["failed"]["count"] == 1
    assert figures["recovered"]["count"] == 40 - 5 - 1
    assert set(figures["orders"]["value"]) == {"EUR", "USD"}


def test_json_of_the_api_is_exact(built: tuple[Runtime, list[Built]]) -> None:
    runtime, orders = built

    async def get() -> Any:
        async for client in app_client(runtime):
            answer = await client.get("/v1/reports/reconciliation",
                                      params={"since": SINCE, "until": UNTIL},
                                      headers={"Authorization": f"Bearer {API_KEY}"})
            assert answer.status_code == 200, answer.text
            return answer.json()
        raise AssertionError("no client")

    assert asyncio.run(get()) == expected_report(orders)


def run_cli(database: str, *args: str) -> str:
    result = CliRunner().invoke(cli_app, ["reconcile", "--since", SINCE, "--until", UNTIL,
                                          *args],
                                env={"TRACKSIDE_DATABASE_URL": database})
    assert result.exit_code == 0, result.output
    return result.output


def test_json_of_the_cli_is_exact(built: tuple[Runtime, list[Built]], database: str) -> None:
    _, orders = built
    assert json.loads(run_cli(database, "--format", "json")) == expected_report(orders)


def _money(value: dict[str, float], currency: str) -> str:
    return str(value.get(currency, 0))


def test_csv_is_exact(built: tuple[Runtime, list[Built]], database: str) -> None:
    _, orders = built
    rows = list(csv.DictReader(io.StringIO(run_cli(database, "--format", "csv"))))
    assert [row["date"] for row in rows] == [*(d.isoformat() for d in DAYS), "total"]
    for row, chosen in zip(rows, [*([o for o in orders if o.day == d] for d in DAYS), orders],
                           strict=True):
        figures = expected_figures(chosen)
        flat = {name: figures[name] for name in ("orders", "pixel_fired", "pixel_missed",
                                                 "recovered", "failed", "pending")}
        flat["delivered_meta"] = figures["delivered"]["meta"]
        flat.update({f"suppressed_{k}": v for k, v in figures["suppressed"].items()})
        expected = {"date": row["date"],
                    "pixel_missed_share": str(figures["pixel_missed"]["share"])}
        for name, numbers in flat.items():
            expected[f"{name}_count"] = str(numbers["count"])
            for currency in ("EUR", "USD"):
                expected[f"{name}_value_{currency}"] = _money(numbers["value"], currency)
        assert row == expected


def test_table_is_exact(built: tuple[Runtime, list[Built]], database: str) -> None:
    _, orders = built
    text = run_cli(database)
    lines = text.splitlines()
    assert lines[0] == f"Reconciliation of shop default, {SINCE} to {UNTIL} (UTC days)"
    totals = expected_figures(orders)
    labels = {"orders": totals["orders"], "pixel fired": totals["pixel_fired"],
              "pixel missed": totals["pixel_missed"], "recovered by CAPI": totals["recovered"],
              "delivered to meta": totals["delivered"]["meta"],
              "suppressed: consent": totals["suppressed"]["consent"],
              "suppressed: policy": totals["suppressed"]["policy"],
              "suppressed: not applicable": totals["suppressed"]["not_applicable"],
              "failed": totals["failed"], "pending": totals["pending"]}
    assert lines[2].split() == ["count", "value", "EUR", "value", "USD", "share"]
    for line, (label, numbers) in zip(lines[3:13], labels.items(), strict=True):
        assert line.startswith(label + " ")
        cells = line[len(label):].split()
        expected = [str(numbers["count"]), _money(numbers["value"], "EUR"),
                    _money(numbers["value"], "USD")]
        if label == "pixel missed":
            expected.append(f"{numbers['share'] * 100:.1f}%")
        assert cells == expected, label
    assert lines[13:15] == ["", "Orders per day"]
    assert lines[15].split() == ["date", "orders", "fired", "missed", "missed", "%",
                                 "recovered", "meta", "consent", "policy", "n/a", "failed",
                                 "pending"]
    per_day = [line.split() for line in lines[16:]]
    assert [row[0] for row in per_day] == [*(d.isoformat() for d in DAYS), "total"]
    for row, chosen in zip(per_day, [*([o for o in orders if o.day == d] for d in DAYS), orders],
                           strict=True):
        f = expected_figures(chosen)
        assert row[1:] == [str(n) for n in (f["orders"]["count"], f["pixel_fired"]["count"],
                                            f["pixel_missed"]["count"])] + [
            f"{f['pixel_missed']['share'] * 100:.1f}%"] + [str(n) for n in (
                f["recovered"]["count"], f["delivered"]["meta"]["count"],
                f["suppressed"]["consent"]["count"], f["suppressed"]["policy"]["count"],
                f["suppressed"]["not_applicable"]["count"], f["failed"]["count"],
                f["pending"]["count"])]


@pytest.mark.parametrize("name", ["pixel_missed", "recovered", "failed", "suppressed",
                                  "suppressed.consent", "delivered.meta", "orders"])
def test_the_order_lists_behind_the_numbers(built: tuple[Runtime, list[Built]],
                                            name: str) -> None:
    runtime, orders = built
    alias = {"suppressed": "suppressed.consent", "delivered.meta": "delivered.meta"}
    wanted = [o.reference for o in orders if alias.get(name, name) in o.numbers()]

    async def pages() -> list[str]:
        seen: list[str] = []
        cursor: str | None = None
        async for client in app_client(runtime):
            while True:
                params = {"since": SINCE, "until": UNTIL, "filter": name, "limit": "7",
                          **({"cursor": cursor} if cursor else {})}
                answer = await client.get("/v1/reports/reconciliation/orders", params=params,
                                          headers={"Authorization": f"Bearer {API_KEY}"})
                assert answer.status_code == 200, answer.text
                page = answer.json()
                assert len(page["orders"]) <= 7
                seen += [o["event_id"] for o in page["orders"]]
                cursor = page["next_cursor"]
                if cursor is None:
                    return seen
        raise AssertionError("no client")

    assert asyncio.run(pages()) == wanted  # by order time: the order they were built in
    by_ref = {o.reference: o for o in orders}
    page = asyncio.run(_first_page(runtime, name))
    for entry in page["orders"]:
        order = by_ref[entry["event_id"]]
        assert entry["value"] == float(order.value) and entry["currency"] == order.currency
        assert entry["pixel_fired"] is order.fired
        assert entry["date"] == order.day.isoformat()


async def _first_page(runtime: Runtime, name: str) -> Any:
    async for client in app_client(runtime):
        answer = await client.get("/v1/reports/reconciliation/orders",
                                  params={"since": SINCE, "until": UNTIL, "filter": name},
                                  headers={"Authorization": f"Bearer {API_KEY}"})
        return answer.json()
    raise AssertionError("no client")


def test_the_cli_lists_orders(built: tuple[Runtime, list[Built]], database: str) -> None:
    assert built
    listed = json.loads(run_cli(database, "--orders", "failed", "--format", "json"))
    [dead] = listed["orders"]
    assert dead["event_id"] == "ORD080" and dead["destinations"]["meta"]["status"] == "dead"
    text = run_cli(database, "--orders", "suppressed.consent")
    assert text.splitlines()[-1] == "5 orders (suppressed.consent)"
    assert "meta=suppressed" in text
