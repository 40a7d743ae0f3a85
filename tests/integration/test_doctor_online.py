"""`trackside doctor --online` against the fake Graph API, the fake GA4, the fake PrestaShop
webservice and MariaDB: each finding graded ok/warn/fail, the exit code, and no secret in the
output or in any URL a fake received."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.fakes.fixtures import fake_graph, served_graph  # noqa: F401  (pytest fixture)
from tests.fakes.ga4_fixtures import FakeGA4Handle, fake_ga4  # noqa: F401
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.prestashop_ws import FakePrestaShopWS
from tests.fakes.server import ThreadedServer, free_port
from tests.integration.prestashop_schema import Fixtures, Shop
from trackside.cli import app

CANARY_TOKEN = "EAAT-canary-" + secrets.token_urlsafe(18)
PS_KEY = secrets.token_hex(16).upper()
TEST_CODE = "TEST4242"


@pytest.fixture
def graph() -> Iterator[FakeGraphAPI]:
    with served_graph(token=CANARY_TOKEN) as fake:
        yield fake


@pytest.fixture
def prestashop() -> Iterator[tuple[FakePrestaShopWS, str, Fixtures]]:
    shop = Shop()
    orders = Fixtures(shop, time.time())
    fake = FakePrestaShopWS(shop, PS_KEY)
    server = ThreadedServer(fake.app).start()
    try:
        yield fake, server.url, orders
    finally:
        server.stop()


def _env(graph: FakeGraphAPI, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "TRACKSIDE_DATABASE_URL": f"sqlite:///{tmp_path / 'trackside.db'}",
        "TRACKSIDE_META_PIXEL_ID": graph.pixel_id,
        "TRACKSIDE_META_ACCESS_TOKEN": CANARY_TOKEN,
        "TRACKSIDE_META_GRAPH_URL": graph.url,
        "TRACKSIDE_API_KEYS": "k-" + secrets.token_hex(8),
        "TRACKSIDE_ALLOWED_ORIGINS": "https://shop.example",
        **extra,
    }


def _doctor(env: dict[str, str], *args: str) -> tuple[int, list[str]]:
    result = CliRunner().invoke(app, ["doctor", *args], env=env)
    assert CANARY_TOKEN not in result.output and PS_KEY not in result.output
    return result.exit_code, result.output.splitlines()


def _line(lines: list[str], start: str) -> str:
    found = [line for line in lines if line.startswith(start)]
    assert found, f"no line starting {start!r} in:\n" + "\n".join(lines)
    return found[0]


def _references(orders: Fixtures) -> set[str]:
    return {str(row["reference"]) for row in orders.shop.tables["orders"]}


def _token_never_in_a_url(graph: FakeGraphAPI) -> None:
    received = graph.requests + graph.probes
    assert received
    for request in received:
        assert CANARY_TOKEN not in request.path
        assert request.token_location != "query", request.path


def test_everything_answers(graph: FakeGraphAPI, fake_ga4: FakeGA4Handle,  # noqa: F811
                            prestashop: Any, tmp_path: Path) -> None:
    fake_ps, ps_url, orders = prestashop
    env = _env(graph, tmp_path, TRACKSIDE_META_TEST_EVENT_CODE=TEST_CODE,
               TRACKSIDE_GA4_MEASUREMENT_ID=fake_ga4.measurement_id,
               TRACKSIDE_GA4_API_SECRET=fake_ga4.api_secret, TRACKSIDE_GA4_URL=fake_ga4.url,
               TRACKSIDE_PRESTASHOP_URL=ps_url, TRACKSIDE_PRESTASHOP_API_KEY=PS_KEY)
    code, lines = _doctor(env, "--online")
    assert code == 0, "\n".join(lines)
    _line(lines, "ok   store: takes a write")
    assert graph.pixel_id in _line(lines, "ok   Meta: the token reads pixel")
    assert TEST_CODE in _line(lines, "ok   Meta: test event trackside-doctor-")
    _line(lines, "ok   GA4: sample payload validated by /debug/mp/collect")
    line = _line(lines, "ok   PrestaShop: ")
    assert "latest order" in line and _references(orders) & set(line.split())
    # The test event reached the fake with its test code: Test Events, not measurement.
    [event] = graph.events
    assert event.test_event_code == TEST_CODE and event["event_name"] == "PageView"
    assert graph.probes[0].token_location == "bearer"
    _token_never_in_a_url(graph)
    assert all("ws_key" not in r for r in fake_ps.requests)
    # A test event code in production is still a warning.
    _line(lines, "warn Meta: TRACKSIDE_META_TEST_EVENT_CODE is set")
    # The store kept nothing of the probe.
    import sqlite3
    conn = sqlite3.connect(tmp_path / "trackside.db")
    try:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
    finally:
        conn.close()
    assert "trackside_doctor_probe" not in tables


def test_without_online_nothing_is_asked(graph: FakeGraphAPI, tmp_path: Path) -> None:
    code, lines = _doctor(_env(graph, tmp_path, TRACKSIDE_META_TEST_EVENT_CODE=TEST_CODE))
    assert code == 0, "\n".join(lines)
    assert graph.requests == [] and graph.probes == []
    assert not any("takes a write" in line for line in lines)


def test_no_test_event_without_a_test_event_code(graph: FakeGraphAPI, tmp_path: Path) -> None:
    code, lines = _doctor(_env(graph, tmp_path), "--online")
    assert code == 0, "\n".join(lines)
    _line(lines, "ok   Meta: the token reads pixel")
    assert graph.requests == [] and graph.events == []  # a test event without a code is real
    _token_never_in_a_url(graph)


def test_a_refused_token_fails(graph: FakeGraphAPI, tmp_path: Path) -> None:
    env = _env(graph, tmp_path, TRACKSIDE_META_TEST_EVENT_CODE=TEST_CODE)
    env["TRACKSIDE_META_ACCESS_TOKEN"] = CANARY_TOKEN + "x"  # unknown to the fake
    result = CliRunner().invoke(app, ["doctor", "--online"], env=env)
    assert result.exit_code == 1, result.output
    assert CANARY_TOKEN not in result.output
    line = _line(result.output.splitlines(), "fail Meta: pixel")
    assert "code 190" in line
    assert graph.events == []  # no test event after a failed read


def test_a_pixel_the_token_cannot_use_fails(graph: FakeGraphAPI, tmp_path: Path) -> None:
    env = _env(graph, tmp_path)
    env["TRACKSIDE_META_PIXEL_ID"] = "1" + graph.pixel_id
    code, lines = _doctor(env, "--online")
    assert code == 1
    assert "code 100" in _line(lines, "fail Meta: pixel 1" + graph.pixel_id)


def test_unreachable_vendors_and_a_read_only_store_fail(graph: FakeGraphAPI,
                                                        tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    env = _env(graph, tmp_path, TRACKSIDE_META_GRAPH_URL=closed,
               TRACKSIDE_GA4_MEASUREMENT_ID="G-TEST123",
               TRACKSIDE_GA4_API_SECRET="canary-ga4-" + secrets.token_hex(8),
               TRACKSIDE_GA4_URL=closed,
               TRACKSIDE_PRESTASHOP_URL=closed, TRACKSIDE_PRESTASHOP_API_KEY=PS_KEY)
    assert CliRunner().invoke(app, ["migrate"], env=env).exit_code == 0
    (tmp_path / "trackside.db").chmod(0o444)
    try:
        code, lines = _doctor(env, "--online")
    finally:
        (tmp_path / "trackside.db").chmod(0o644)
    assert code == 1
    assert env["TRACKSIDE_GA4_API_SECRET"] not in "\n".join(lines)
    _line(lines, "fail Meta: pixel")
    _line(lines, "fail GA4: sample payload not validated: cannot reach GA4")
    _line(lines, "fail PrestaShop")
    import os
    if os.geteuid() != 0:  # root writes a read-only file anyway
        _line(lines, "fail store:")


def test_a_bad_pixel_id_is_an_invalid_setting(tmp_path: Path) -> None:
    # Meta's pixel (dataset) ids are numeric ("pixel_or_dataset_id",
    # https://developers.facebook.com/documentation/ads-commerce/conversions-api/using-the-api).
    result = CliRunner().invoke(app, ["doctor"], env={
        "TRACKSIDE_DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}",
        "TRACKSIDE_META_PIXEL_ID": "abc", "TRACKSIDE_META_ACCESS_TOKEN": CANARY_TOKEN})
    assert result.exit_code == 2
    assert "TRACKSIDE_META_PIXEL_ID" in result.output and "digits" in result.output
    assert CANARY_TOKEN not in result.output


@pytest.mark.parametrize("origin", ["https://shop.example/tr", "shop.example",
                                    "ftp://shop.example", "https://shop.example:99999"])
def test_a_bad_allowed_origin_is_an_invalid_setting(origin: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["doctor"], env={
        "TRACKSIDE_DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}",
        "TRACKSIDE_ALLOWED_ORIGINS": f"https://ok.example,{origin}"})
    assert result.exit_code == 2, result.output
    assert "TRACKSIDE_ALLOWED_ORIGINS" in result.output and origin in result.output


def test_empty_allowed_origins_is_a_warning(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["doctor"], env={
        "TRACKSIDE_DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}"})
    assert result.exit_code == 0
    _line(result.output.splitlines(), "warn browser tag: TRACKSIDE_ALLOWED_ORIGINS is empty")


@pytest.mark.mariadb
def test_prestashop_database_reader_reads_the_latest_order(graph: FakeGraphAPI,
                                                           tmp_path: Path) -> None:
    from tests.integration.prestashop_schema import (
        MARIADB_DSN,
        connect,
        create_tables,
        drop_tables,
        random_prefix,
    )

    prefix = random_prefix()
    conn = connect()
    create_tables(conn, prefix)
    try:
        env = _env(graph, tmp_path, TRACKSIDE_PRESTASHOP_DB_URL=MARIADB_DSN,
                   TRACKSIDE_PRESTASHOP_DB_PREFIX=prefix)
        code, lines = _doctor(env, "--online")
        assert code == 0, "\n".join(lines)  # an empty shop answers: a warning
        _line(lines, "warn PrestaShop: ")
        shop = Shop()
        orders = Fixtures(shop, time.time())
        shop.flush(conn, prefix)
        code, lines = _doctor(env, "--online")
        assert code == 0, "\n".join(lines)
        line = _line(lines, "ok   PrestaShop: database")
        assert "latest order" in line and _references(orders) & set(line.split())
        wrong = {**env, "TRACKSIDE_PRESTASHOP_DB_PREFIX": "nope_"}
        code, lines = _doctor(wrong, "--online")
        assert code == 1 and "nope_" in _line(lines, "fail PrestaShop")
    finally:
        drop_tables(conn, prefix)
        conn.close()


def test_a_postgresql_store_takes_the_probe_write_and_keeps_nothing(graph: FakeGraphAPI,
                                                                    tmp_path: Path) -> None:
    import psycopg

    from tests.pg import fresh_database

    with fresh_database() as url:
        code, lines = _doctor(_env(graph, tmp_path, TRACKSIDE_DATABASE_URL=url), "--online")
        assert code == 0, "\n".join(lines)
        _line(lines, "ok   store: takes a write")
        with psycopg.connect(url) as conn:
            (left,) = conn.execute("SELECT to_regclass('trackside_doctor_probe')").fetchone()
        assert left is None
        # A database that may be read but not written: a failure naming why (here already
        # when the store opens, since opening checks the schema inside a transaction).
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("ALTER DATABASE " + url.rsplit("/", 1)[1]
                         + " SET default_transaction_read_only = on")
        code, lines = _doctor(_env(graph, tmp_path, TRACKSIDE_DATABASE_URL=url), "--online")
        assert code == 1
        assert "read-only" in _line(lines, "fail store:")
        # The probe itself, on a store that opens but refuses writes.
        from trackside.store import StoreError
        from trackside.store.writable import check_writable

        with pytest.raises(StoreError, match="read-only") as refused:
            check_writable(url)
        assert "does not take a write" in str(refused.value)
