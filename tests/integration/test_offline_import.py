"""`trackside import offline FILE.csv` as a user runs it (a real process, a real store): 10,000
rows with 20 bad lines, run twice, killed halfway and run again (issue 16)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from tests.integration.offline_files import iso, write_sales
from tests.pg import pg_url  # noqa: F401 (the fixture)

TRACKSIDE = str(Path(sys.executable).with_name("trackside"))
SUMMARY = re.compile(
    r"^(\d+) rows: (\d+) (?:queued|would queue), (\d+) duplicate, (\d+) rejected", re.M)


def environment(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKSIDE_")}
    env["TRACKSIDE_DATABASE_URL"] = database_url
    env["COLUMNS"] = "400"  # typer's error box: no wrapped message
    return env


def run_import(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TRACKSIDE, "import", "offline", *args], capture_output=True,
                          text=True, env=environment(database_url), timeout=600, check=False)


def summary(result: subprocess.CompletedProcess[str]) -> tuple[int, int, int, int]:
    found = SUMMARY.search(result.stdout)
    assert found, result.stdout + result.stderr
    rows, queued, duplicate, rejected = map(int, found.groups())
    return rows, queued, duplicate, rejected


def stored(database_url: str) -> tuple[int, int]:
    """(events, distinct (event_name, event_id)) in the store."""
    query = "SELECT COUNT(*), COUNT(DISTINCT event_name || '/' || event_id) FROM events"
    if database_url.startswith("sqlite:///"):
        with contextlib.closing(sqlite3.connect(database_url[len("sqlite:///"):])) as conn:
            total, distinct = conn.execute(query).fetchone()
    else:
        with psycopg.connect(database_url) as conn:
            row = conn.execute(query).fetchone()
            assert row is not None
            total, distinct = row
    return int(total), int(distinct)


def test_ten_thousand_rows_twenty_bad_then_again_adds_nothing(tmp_path: Path) -> None:
    sales = write_sales(tmp_path / "sales.csv")
    url = f"sqlite:///{tmp_path / 'store.db'}"

    first = run_import(url, str(sales.path))
    assert first.returncode == 1  # some lines were rejected
    assert summary(first) == (10_000, 9_980, 0, 20)
    # Every bad line by its number (header = line 1, quoted notes span two lines), the column
    # named as the file's header names it.
    reported = {int(n): column for n, column in
                re.findall(r"^line (\d+): (\w+): ", first.stdout, re.M)}
    assert reported == sales.bad_lines
    assert "columns ignored: note" in first.stdout
    assert stored(url) == (9_980, 9_980)

    second = run_import(url, str(sales.path))
    assert summary(second) == (10_000, 0, 9_980, 20)
    assert stored(url) == (9_980, 9_980)


def test_a_run_killed_halfway_then_run_again_completes_without_duplicates(
        tmp_path: Path) -> None:
    sales = write_sales(tmp_path / "sales.csv", bad=False)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    process = subprocess.Popen([TRACKSIDE, "import", "offline", str(sales.path)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               env=environment(url))
    assert process.stderr is not None
    try:
        # Not a terminal: one plain progress line per committed batch. Kill it mid-file.
        for line in process.stderr:
            read = re.match(r"(\d+) rows read", line)
            if read and int(read.group(1)) >= 4_000:
                break
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=60)
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL
    half, _ = stored(url)
    assert 4_000 <= half < 10_000

    again = run_import(url, str(sales.path))
    assert again.returncode == 0, again.stdout + again.stderr
    _, queued, duplicate, rejected = summary(again)
    assert (queued + duplicate, rejected) == (10_000, 0)
    assert duplicate == half  # exactly what the killed run had committed
    assert stored(url) == (10_000, 10_000)


def test_on_postgresql_map_renames_and_phone_calls(
        tmp_path: Path, pg_url: str) -> None:  # noqa: F811 (the fixture)
    path = tmp_path / "till.csv"
    when = iso(time.time() - 3600)
    path.write_text("Ticket,Date,Total,Devise,Mail\n"
                    f"T1,{when},12.5,EUR,a@example.com\n"
                    f"T2,{when},7,EUR,b@example.com\n", encoding="utf-8")
    maps = ["--map", "Ticket=receipt_id", "--map", "Date=event_time", "--map", "Total=value",
            "--map", "Devise=currency", "--map", "Mail=email"]
    first = run_import(pg_url, str(path), "--action-source", "phone_call", *maps)
    assert summary(first) == (2, 2, 0, 0), first.stdout + first.stderr
    assert summary(run_import(pg_url, str(path), *maps)) == (2, 0, 2, 0)
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute("SELECT event_id, body FROM events ORDER BY event_id").fetchall()
    assert [row[0] for row in rows] == ["offline:T1", "offline:T2"]
    assert all('"phone_call"' in str(row[1]) for row in rows)


def test_a_terminal_gets_a_progress_bar(tmp_path: Path) -> None:
    import pty

    sales = write_sales(tmp_path / "sales.csv", rows=1_200, bad=False)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    primary, secondary = pty.openpty()
    process = subprocess.Popen([TRACKSIDE, "import", "offline", str(sales.path)],
                               stdout=subprocess.PIPE, stderr=secondary,
                               env=environment(url))
    os.close(secondary)
    shown = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the child closed the terminal (EIO)
            break
        if not chunk:
            break
        shown += chunk
    os.close(primary)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0
    assert b"importing" in shown and b"rows read" not in shown  # rich's bar, not plain lines
    assert b"1200 rows: 1200 queued, 0 duplicate, 0 rejected" in output


def test_dry_run_stores_nothing(tmp_path: Path) -> None:
    sales = write_sales(tmp_path / "sales.csv", rows=300)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    result = run_import(url, str(sales.path), "--dry-run")
    assert summary(result) == (300, sales.good, 0, 20) and "dry run" in result.stdout
    assert stored(url) == (0, 0)


@pytest.mark.parametrize(("header", "args", "message"), [
    ("receipt_id,value,currency,email", [], "no column for event_time"),
    ("receipt_id,event_time,value,currency,email,EMAIL", [], "two columns for email"),
    ("receipt_id,event_time,value,currency", ["--map", "Nope=email"], "Nope"),
    ("receipt_id,event_time,value,currency", ["--map", "receipt_id=shoe_size"], "not a field"),
    ("receipt_id,event_time,value,currency", ["--action-source", "website"], "phone_call"),
])
def test_an_unusable_header_or_option_stops_before_anything_is_stored(
        tmp_path: Path, header: str, args: list[str], message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(header + "\nR1,2026-11-30T10:00:00Z,5,EUR,a@example.com\n")
    url = f"sqlite:///{tmp_path / 'store.db'}"
    result = run_import(url, str(path), *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_each_shop_its_own_sales_cli_and_http(tmp_path: Path) -> None:
    import asyncio

    from tests.conftest import app_client
    from trackside.runtime import Runtime
    from trackside.shops import load_shops

    config = tmp_path / "trackside.toml"
    config.write_text(f"""
database_url = "sqlite:///{tmp_path}/shops.db"
[shops.alpha]
api_keys = ["alpha-key-0123456789"]
[shops.beta]
api_keys = ["beta-key-0123456789"]
""", encoding="utf-8")
    path = tmp_path / "till.csv"
    path.write_text("receipt_id,event_time,value,currency,email\n"
                    f"T1,{iso(time.time() - 3600)},5,EUR,a@example.com\n", encoding="utf-8")
    env = {**environment(f"sqlite:///{tmp_path}/shops.db"), "TRACKSIDE_CONFIG": str(config)}
    del env["TRACKSIDE_DATABASE_URL"]

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([TRACKSIDE, "import", "offline", str(path), *args],
                              capture_output=True, text=True, env=env, timeout=120, check=False)

    unnamed = cli()
    assert unnamed.returncode == 2 and "alpha" in unnamed.stderr  # several shops: say which
    assert summary(cli("--shop", "alpha"))[1] == 1

    async def over_http() -> dict[str, int]:
        runtime = Runtime.from_shops(load_shops({"TRACKSIDE_CONFIG": str(config)}))
        try:
            async for client in app_client(runtime):
                answer = await client.post(
                    "/v1/imports/offline", content=path.read_bytes(),
                    headers={"Authorization": "Bearer beta-key-0123456789",
                             "Content-Type": "text/csv"})
                assert answer.status_code == 200, answer.text
                body: dict[str, int] = answer.json()
                return body
        finally:
            runtime.close()
        raise AssertionError("no client")

    # The same receipt in the other shop is its own sale; again in alpha, a duplicate.
    assert asyncio.run(over_http())["queued"] == 1
    assert summary(cli("--shop", "alpha"))[1:3] == (0, 1)
    with contextlib.closing(sqlite3.connect(tmp_path / "shops.db")) as conn:
        shops = conn.execute("SELECT shop, event_id FROM events ORDER BY shop").fetchall()
    assert shops == [("alpha", "offline:T1"), ("beta", "offline:T1")]


@pytest.mark.parametrize("dry_run", [False, True], ids=["import", "dry_run"])
def test_sales_no_destination_would_take_are_listed_line_by_line(
        tmp_path: Path, dry_run: bool) -> None:
    # Issue 18: 90 days is past Meta's 62 days for physical_store events
    # (https://developers.facebook.com/documentation/ads-commerce/conversions-api/parameters/server-event):
    # every line is refused at accept time, each one named in the summary.
    sales = write_sales(tmp_path / "old.csv", rows=4, bad=False, age_s=90 * 86400)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    env = {**environment(url), "TRACKSIDE_SERVER_EVENT_CONSENT": "grant"}
    result = subprocess.run([TRACKSIDE, "import", "offline", str(sales.path),
                             *(["--dry-run"] if dry_run else [])],
                            capture_output=True, text=True, env=env, timeout=600, check=False)
    assert summary(result) == (4, 0, 0, 4), result.stdout
    refusals = re.findall(r"^line \d+: event_time: dryrun: would be refused: event_time is "
                          r"2160.0 hours \(90.0 days\) old; Meta takes physical_store events "
                          r"up to 62 days old$", result.stdout, re.M)
    assert len(refusals) == 4, result.stdout
    assert stored(url) == (0, 0)
