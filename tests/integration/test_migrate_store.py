"""`trackside migrate-store`: a populated SQLite store copied into a real PostgreSQL database.

Real components only: the SQLite source is filled through the real pipeline and store (two
shops, rows in every status, held rows, attempts, notes, cursors, a paused destination, rows
leased by a "running" worker), the target is a fresh database on the shared PostgreSQL service
(tests/pg.py), the command runs as a subprocess, and after the copy a worker on the PostgreSQL
store delivers to the strict fake Graph APIs on loopback. Every URL carries a canary password
(the service trusts loopback, so any password connects) that must never be printed.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.fakes.graph_api import FakeGraphAPI
from tests.pg import fresh_database
from trackside.runtime import Runtime
from trackside.shops import load_shops
from trackside.store import AttemptRecord, Finished, Store, open_store
from trackside.store.move import copy_store

CANARY = "pw-canary-8e1f3b77"
SHOPS = ("alpha", "beta")


def with_password(url: str) -> str:
    return url.replace("postgresql://postgres@", f"postgresql://postgres:{CANARY}@", 1)


@pytest.fixture
def target() -> Iterator[str]:
    """A fresh PostgreSQL database's URL, with the canary password in it."""
    with fresh_database("trackside_move") as url:
        yield with_password(url)


def shops_runtime(tmp_path: Path, pixels: tuple[FakeGraphAPI, FakeGraphAPI],
                  database_url: str, name: str) -> Runtime:
    tables = "".join(f"""
[shops.{shop}]
meta_pixel_id = "{fake.pixel_id}"
meta_access_token = "{fake.token}"
meta_graph_url = "{fake.url}"
api_keys = ["{shop}-key-0123456789abcdef"]
consent_mode = "off"
""" for shop, fake in zip(SHOPS, pixels, strict=True))
    config = tmp_path / f"{name}.toml"
    config.write_text(f'database_url = "{database_url}"\njoin_window_s = 0\n'
                      f'server_event_consent = "grant"\n{tables}', encoding="utf-8")
    return Runtime.from_shops(load_shops({"TRACKSIDE_CONFIG": str(config)}))


def purchase(reference: str, now: float) -> dict[str, Any]:
    return {"event_name": "Purchase", "event_time": int(now) - 30,
            "event_source_url": "https://shop.example/thanks",
            "user": {"email": f"{reference.lower()}@example.com", "ip": "203.0.113.9",
                     "user_agent": "Mozilla/5.0"},
            "order": {"reference": reference, "value": 19.9, "currency": "EUR"}}


def accept(runtime: Runtime, shop: str, references: list[str], now: float,
           held: bool = False) -> None:
    pipeline = runtime.shop(shop).pipeline
    for start in range(0, len(references), 500):
        batch = pipeline.prepare([purchase(r, now) for r in references[start:start + 500]],
                                 "api", now)
        if held:  # an unconfirmed browser Purchase, as the join stage plans it
            for record in batch.records:
                for plan in record.outbox:
                    plan.status, plan.next_attempt_at = "held", None
        results = pipeline.commit(batch)
        assert all(r.status == "queued" for r in results), results


def populate(runtime: Runtime, now: float, bulk: int = 0) -> dict[str, list[str]]:
    """Rows in every status in two shops; returns the event ids that are due (pending and
    unleased or leased by a worker that will be gone) per shop."""
    store = runtime.store
    accept(runtime, "alpha", [f"A-{i}" for i in range(1, 31)], now)
    accept(runtime, "alpha", ["A-HELD-1", "A-HELD-2"], now, held=True)
    accept(runtime, "beta", [f"B-{i}" for i in range(1, 11)], now)
    if bulk:
        accept(runtime, "beta", [f"BULK-{i}" for i in range(bulk)], now)
    claimed = store.claim("meta", 12, "old-worker", 30.0, now, shop="alpha")
    ids = [c.outbox_id for c in claimed]
    sent = json.dumps({"data": [{"event_name": "Purchase"}]})
    store.finish([Finished(ids[0], "delivered", sent=sent), Finished(ids[1], "delivered"),
                  Finished(ids[2], "dead", code=100, subcode=2804019, message="bad value"),
                  Finished(ids[3], "expired", message="older than 7 days"),
                  Finished(ids[4], "suppressed", message="consent: ad_storage denied"),
                  Finished(ids[5], "not_applicable")], now)
    retry = AttemptRecord("retry", http_status=500, code=1, message="unknown error",
                          batch_size=2, fbtrace_id="TRACE-1")
    store.record_attempts(ids[6:8], AttemptRecord("bisect", http_status=400, batch_size=2), now)
    store.reschedule(ids[6:8], now - 1, retry, now)
    store.release(ids[8:10])
    # ids[10:12] stay leased by "old-worker": the copy must hand them over unleased.
    store.add_note("Purchase", "A-1", "duplicate", "a second copy arrived", now, shop="alpha")
    store.add_note("Purchase", "B-1", "replay", "replayed by test", now, "meta", shop="beta")
    store.set_cursor("prestashop.orders", "1234", now, shop="alpha")
    store.set_cursor("prestashop.orders", "77", now, shop="beta")
    store.pause_destination("meta", None, "invalid token", 190, now, shop="beta")
    finished = {c.event.event_id for c in claimed[:6]}
    return {"alpha": [f"A-{i}" for i in range(1, 31) if f"A-{i}" not in finished],
            "beta": [f"B-{i}" for i in range(1, 11)] + [f"BULK-{i}" for i in range(bulk)]}


def migrate_store(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trackside.cli", "migrate-store", *args],
                          capture_output=True, text=True, timeout=timeout, env=_env())


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("TRACKSIDE_")}


def event_ids(sqlite_file: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(sqlite_file) as conn:
        rows = conn.execute("SELECT shop, event_id FROM events ORDER BY pk").fetchall()
    conn.close()
    return [(r[0], r[1]) for r in rows]


def comparable(store: Store, shop: str, event_id: str) -> list[dict[str, Any]]:
    """An event's view without the store's own keys and leases."""
    views = []
    for view in store.event_view(event_id, shop=shop):
        data = asdict(view)
        for row in data["outbox"]:
            row.pop("id")
            row.pop("lease_expires_at")
        for attempt in data["attempts"]:
            attempt.pop("id")
            attempt.pop("outbox_id")
        views.append(data)
    return views


def assert_same_stores(source: Store, copy: Store, ids: list[tuple[str, str]]) -> None:
    for shop, event_id in ids:
        assert comparable(copy, shop, event_id) == comparable(source, shop, event_id), event_id
    assert [asdict(c) for c in copy.counts()] == [asdict(c) for c in source.counts()]
    assert copy.destination_states() == source.destination_states()
    for shop in SHOPS:
        assert copy.get_cursor("prestashop.orders", shop=shop) == \
            source.get_cursor("prestashop.orders", shop=shop)


def pg_count(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
    assert row is not None
    return int(row[0])


def no_canary(*results: subprocess.CompletedProcess[str]) -> None:
    for result in results:
        assert CANARY not in result.stdout and CANARY not in result.stderr
        assert "Traceback" not in result.stderr


@pytest.fixture
def source(tmp_path: Path, pixels: tuple[FakeGraphAPI, FakeGraphAPI]
           ) -> Iterator[tuple[Path, Runtime, dict[str, list[str]]]]:
    sqlite_file = tmp_path / "source.db"
    runtime = shops_runtime(tmp_path, pixels, f"sqlite:///{sqlite_file}", "source")
    due = populate(runtime, time.time())
    try:
        yield sqlite_file, runtime, due
    finally:
        runtime.close()


async def test_full_copy_then_delivery_continues_on_postgresql(
    source: tuple[Path, Runtime, dict[str, list[str]]], target: str, tmp_path: Path,
    pixels: tuple[FakeGraphAPI, FakeGraphAPI],
) -> None:
    sqlite_file, source_runtime, due = source
    before = sqlite_file.read_bytes()
    result = migrate_store("--from", f"sqlite:///{sqlite_file}", "--to", target, "--batch", "7")
    assert result.returncode == 0, result.stderr
    no_canary(result)
    assert "copied 42/42 events" in result.stdout
    assert "TRACKSIDE_DATABASE_URL=postgresql://postgres:**********@" in result.stdout
    assert "2 outbox rows of the source are leased by a running worker" in result.stderr
    assert sqlite_file.read_bytes() == before  # the source is only read

    copy = open_store(target)
    try:
        ids = event_ids(sqlite_file)
        assert_same_stores(source_runtime.store, copy, ids)
        with psycopg.connect(target) as conn:
            assert conn.execute("SELECT COUNT(*) FROM outbox WHERE lease_owner IS NOT NULL"
                                ).fetchone() == (0,)
    finally:
        copy.close()

    alpha, beta = pixels
    runtime = shops_runtime(tmp_path, pixels, target, "target")
    try:
        async with runtime.worker() as worker:
            delivered = await worker.drain(timeout_s=60)
        assert sorted(alpha.event_ids()) == sorted(due["alpha"])  # once each
        assert beta.event_ids() == []  # beta's destination arrived paused
        assert delivered == len(due["alpha"])
        runtime.store.resume_destination("meta", shop="beta")
        async with runtime.worker() as worker:
            await worker.drain(timeout_s=60)
        assert sorted(beta.event_ids()) == sorted(due["beta"])
        assert sorted(alpha.event_ids()) == sorted(due["alpha"])
        counts = {(c.shop, c.destination): c.counts for c in runtime.store.counts()}
        assert counts[("alpha", "meta")].get("held") == 2
        assert counts[("alpha", "meta")].get("pending", 0) == 0
    finally:
        runtime.close()

    again = migrate_store("--from", f"sqlite:///{sqlite_file}", "--to", target)
    assert again.returncode == 0, again.stderr
    assert "already copied completely" in again.stdout
    assert pg_count(target, "events") == len(ids)
    no_canary(again)


def test_a_non_empty_target_is_refused_without_append_and_kept_with_it(
    source: tuple[Path, Runtime, dict[str, list[str]]], target: str, tmp_path: Path,
    pixels: tuple[FakeGraphAPI, FakeGraphAPI],
) -> None:
    sqlite_file, source_runtime, _ = source
    now = time.time()
    runtime = shops_runtime(tmp_path, pixels, target, "target")
    try:
        accept(runtime, "alpha", ["A-1", "OWN-1"], now + 5)  # A-1 is also in the source
        runtime.store.set_cursor("prestashop.orders", "999", now, shop="alpha")
        own_a1 = comparable(runtime.store, "alpha", "A-1")
    finally:
        runtime.close()

    refused = migrate_store("--from", f"sqlite:///{sqlite_file}", "--to", target)
    assert refused.returncode == 2
    assert "--append" in refused.stderr and "nothing was written" in refused.stderr
    assert pg_count(target, "events") == 2 and pg_count(target, "outbox") == 2
    with psycopg.connect(target) as conn:
        assert conn.execute("SELECT to_regclass('store_copies')").fetchone() == (None,)

    result = migrate_store("--from", f"sqlite:///{sqlite_file}", "--to", target, "--append",
                           "--batch", "5")
    assert result.returncode == 0, result.stderr
    no_canary(refused, result)
    lines = {line.split()[0]: line.split() for line in result.stdout.splitlines() if line}
    assert lines["events"][1:] == ["41", "copied", "1", "duplicate"]
    assert lines["outbox"][1:] == ["41", "copied", "1", "skipped"]
    assert lines["notes"][1:] == ["1", "copied", "1", "skipped"]  # A-1's note stays behind
    assert lines["cursors"][1:] == ["1", "copied", "1", "skipped"]
    assert lines["destination_state"][1:] == ["1", "copied", "0", "skipped"]

    copy = open_store(target)
    try:
        assert comparable(copy, "alpha", "A-1") == own_a1  # the target's own event stays
        assert copy.get_cursor("prestashop.orders", shop="alpha") == "999"
        assert copy.get_cursor("prestashop.orders", shop="beta") == "77"
        others = [key for key in event_ids(sqlite_file) if key != ("alpha", "A-1")]
        for shop, event_id in others:
            assert comparable(copy, shop, event_id) == \
                comparable(source_runtime.store, shop, event_id), event_id
        assert len(copy.event_view("OWN-1", shop="alpha")) == 1
    finally:
        copy.close()
    assert pg_count(target, "events") == 43


@pytest.fixture
def bulk_source(tmp_path: Path, pixels: tuple[FakeGraphAPI, FakeGraphAPI]) -> Path:
    sqlite_file = tmp_path / "bulk.db"
    runtime = shops_runtime(tmp_path, pixels, f"sqlite:///{sqlite_file}", "bulk")
    try:
        populate(runtime, time.time(), bulk=4000)
    finally:
        runtime.close()
    return sqlite_file


def source_totals(sqlite_file: Path) -> dict[str, int]:
    with sqlite3.connect(sqlite_file) as conn:
        totals = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                  for t in ("events", "outbox", "attempts", "notes")}
    conn.close()
    return totals


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGINT], ids=["sigkill", "ctrl-c"])
def test_a_stopped_copy_is_continued_by_a_rerun_without_duplicates(
    bulk_source: Path, target: str, stop: signal.Signals,
) -> None:
    command = [sys.executable, "-m", "trackside.cli", "migrate-store",
               "--from", f"sqlite:///{bulk_source}", "--to", target, "--batch", "20"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=_env())
    assert process.stdout is not None
    seen = []
    try:
        for line in process.stdout:
            seen.append(line)
            if line.startswith("copied ") and int(line.split()[1].split("/")[0]) >= 200:
                process.send_signal(stop)
                break
        else:
            pytest.fail(f"the copy ended before it was killed: {seen[-3:]}")
        process.wait(timeout=60)
    finally:
        process.kill()
        process.wait()
        process.stdout.close()
        assert process.stderr is not None
        stderr = process.stderr.read()
        process.stderr.close()
    if stop == signal.SIGKILL:
        assert process.returncode == -signal.SIGKILL
    else:
        assert process.returncode == 130, stderr
        assert "interrupted" in stderr and "run the same command again" in stderr.lower()
        assert "Traceback" not in stderr and CANARY not in stderr
    partial = pg_count(target, "events")
    totals = source_totals(bulk_source)
    assert 0 < partial < totals["events"] and partial % 20 == 0  # whole batches only

    result = migrate_store("--from", f"sqlite:///{bulk_source}", "--to", target)
    assert result.returncode == 0, result.stderr
    no_canary(result)
    assert f"continued a copy: {partial} events had been copied" in result.stdout
    for table, total in totals.items():
        assert pg_count(target, table) == total, table
        assert f"{table} " in result.stdout
    lines = {line.split()[0]: line.split() for line in result.stdout.splitlines() if line}
    assert lines["events"][1:] == [str(totals["events"]), "copied", "0", "duplicate"]
    with psycopg.connect(target) as conn:
        doubled = conn.execute("SELECT COUNT(*) FROM (SELECT 1 FROM outbox GROUP BY event_pk, "
                               "destination HAVING COUNT(*) > 1) d").fetchone()
    assert doubled == (0,)


def test_a_failed_write_keeps_the_batches_before_it_and_a_rerun_finishes(
    source: tuple[Path, Runtime, dict[str, list[str]]], target: str,
) -> None:
    sqlite_file, source_runtime, _ = source
    open_store(target).close()  # the schema, so the fault can be planted in it
    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute("""
            CREATE FUNCTION refuse_b5() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.event_id = 'B-5' THEN RAISE EXCEPTION 'disk quota exceeded'; END IF;
                RETURN NEW;
            END; $$;
            CREATE TRIGGER refuse_b5 BEFORE INSERT ON events
                FOR EACH ROW EXECUTE FUNCTION refuse_b5();""")
    failed = migrate_store("--from", f"sqlite:///{sqlite_file}", "--to", target, "--batch", "4")
    assert failed.returncode == 2
    assert "writing to postgresql://postgres:**********@" in failed.stderr
    assert "disk quota exceeded" in failed.stderr and "run the same command again" in failed.stderr
    kept = pg_count(target, "events")
    assert 0 < kept < 42 and kept % 4 == 0

    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute("DROP TRIGGER refuse_b5 ON events")
    result = migrate_store("--from", f"sqlite:///{sqlite_file}", "--to", target, "--batch", "4")
    assert result.returncode == 0, result.stderr
    no_canary(failed, result)
    copy = open_store(target)
    try:
        assert_same_stores(source_runtime.store, copy, event_ids(sqlite_file))
    finally:
        copy.close()


def test_an_older_source_schema_is_refused_with_the_fix(tmp_path: Path, target: str) -> None:
    old = tmp_path / "old.db"
    folder = Path(__file__).parents[2] / "src/trackside/store/migrations/sqlite"
    with sqlite3.connect(old) as conn:
        conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
                     "applied_at REAL NOT NULL)")
        for version in range(1, 7):
            conn.executescript(next(folder.glob(f"{version:04d}_*.sql")).read_text())
            conn.execute("INSERT INTO schema_migrations VALUES (?, 0)", (version,))
    conn.close()
    result = migrate_store("--from", f"sqlite:///{old}", "--to", target)
    assert result.returncode == 2
    assert "older schema" in result.stderr and "0007" in result.stderr
    assert f"TRACKSIDE_DATABASE_URL=sqlite:///{old} trackside migrate" in result.stderr
    assert not _has_schema(target)  # the source is checked before the target is touched

    # The fix the message gives, then the copy.
    fixed = subprocess.run([sys.executable, "-m", "trackside.cli", "migrate"], text=True,
                           capture_output=True, timeout=60,
                           env={**_env(), "TRACKSIDE_DATABASE_URL": f"sqlite:///{old}"})
    assert fixed.returncode == 0, fixed.stderr
    copied = migrate_store("--from", f"sqlite:///{old}", "--to", target)
    assert copied.returncode == 0, copied.stderr
    no_canary(result, copied)


def test_an_empty_source_copies_to_an_empty_store(tmp_path: Path, target: str) -> None:
    empty = tmp_path / "empty.db"
    open_store(f"sqlite:///{empty}").close()
    summary = copy_store(f"sqlite:///{empty}", target)
    assert summary.events_this_run == 0
    assert all(c.copied == c.skipped == 0 for c in summary.counts.values())
    assert copy_store(f"sqlite:///{empty}", target).already_finished
    assert pg_count(target, "events") == 0


def test_bad_sources_and_targets_exit_2_with_a_message(tmp_path: Path, target: str,
                                                      source: tuple[Path, Runtime, Any]) -> None:
    sqlite_file = source[0]
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database" * 100)
    cases = [
        (["--from", f"sqlite:///{tmp_path}/missing.db", "--to", target], "no SQLite file"),
        (["--from", f"sqlite:///{garbage}", "--to", target], "cannot read"),
        (["--from", "mysql://x/y", "--to", target], "not a sqlite:/// URL"),
        (["--from", f"sqlite:///{sqlite_file}", "--to",
          f"postgresql://postgres:{CANARY}@127.0.0.1:1/nowhere"], "postgresql://postgres:***"),
        (["--from", f"sqlite:///{sqlite_file}", "--to", f"sqlite:///{tmp_path}/t.db"],
         "not a postgresql:// URL"),
        (["--from", f"sqlite:///{sqlite_file}", "--to", target, "--batch", "0"], "--batch"),
    ]
    for args, expected in cases:
        result = migrate_store(*args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert expected in result.stderr, (args, result.stderr)
        no_canary(result)
    if _has_schema(target):  # nothing of the source arrived
        assert pg_count(target, "events") == 0


def _has_schema(url: str) -> bool:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT to_regclass('events')").fetchone()
    return bool(row and row[0])


def test_help_names_the_options() -> None:
    result = subprocess.run([sys.executable, "-m", "trackside.cli", "migrate-store", "--help"],
                            capture_output=True, text=True, timeout=60, env=_env())
    assert result.returncode == 0
    for option in ("--from", "--to", "--append", "--batch"):
        assert option in result.stdout


def test_a_source_written_during_the_copy_is_copied_as_of_the_start_with_a_warning(
    source: tuple[Path, Runtime, dict[str, list[str]]], target: str,
) -> None:
    sqlite_file, source_runtime, _ = source
    written: list[int] = []

    def meanwhile(done: int, total: int) -> None:  # trackside still running on the source
        if done and not written:
            accept(source_runtime, "alpha", ["LATE-1"], time.time())
            written.append(done)

    summary = copy_store(f"sqlite:///{sqlite_file}", target, batch=10, on_progress=meanwhile)
    assert summary.counts["events"].copied == 42  # the snapshot: LATE-1 is not in it
    assert any("changed while it was copied" in w for w in summary.warnings)
    again = copy_store(f"sqlite:///{sqlite_file}", target)
    assert again.events_this_run == 1 and again.counts["events"].copied == 43
    assert again.already_finished


def test_two_copies_of_one_source_at_once_the_second_is_refused(
    source: tuple[Path, Runtime, dict[str, list[str]]], target: str,
) -> None:
    sqlite_file = source[0]
    outcome: list[subprocess.CompletedProcess[str]] = []

    def second_copy(done: int, total: int) -> None:
        if not outcome:
            outcome.append(migrate_store("--from", f"sqlite:///{sqlite_file}", "--to", target))

    copy_store(f"sqlite:///{sqlite_file}", target, batch=10, on_progress=second_copy)
    assert outcome[0].returncode == 2
    assert "another migrate-store is copying this source" in outcome[0].stderr
    no_canary(outcome[0])
    assert pg_count(target, "events") == 42
