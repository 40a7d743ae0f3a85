"""`trackside status` fits an 80-column terminal: counts are never cut however big, long
destination, source and reason names are (with an ellipsis), and destinations that do not fit
side by side go on in a further table."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from trackside.config import load_settings
from trackside.pipeline import Pipeline
from trackside.status_tables import age, outbox_tables, webhook_table
from trackside.store import STATUSES, DestinationCounts, WebhookCount
from trackside.store.sqlite import SQLiteStore

NOW = 1_800_000_000.0
BIG = 9_876_543_210
GRANTED = {"ad_storage": "granted", "ad_user_data": "granted", "analytics_storage": "granted"}


def _render(*tables: object, width: int = 80) -> list[str]:
    console = Console(width=width, record=True, color_system=None)
    for table in tables:
        console.print(table)
    return console.export_text().splitlines()


def _counts(name: str, base: int) -> DestinationCounts:
    return DestinationCounts(name, {str(s): base + i for i, s in enumerate(STATUSES)},
                             NOW - 3 * 86400)


def test_big_numbers_are_shown_whole_within_80_columns() -> None:
    counts = [_counts("meta", BIG), _counts("ga4", BIG + 100), _counts("webhook", 7)]
    lines = _render(*outbox_tables(counts, NOW, 80))
    assert max(map(len, lines)) <= 80
    text = "\n".join(lines)
    for entry in counts:
        for value in entry.counts.values():
            assert re.search(rf"\b{value}\b", text), value
    assert "…" not in text  # short names: nothing had to be cut
    [delivered] = [line for line in lines if " delivered " in line]
    assert str(BIG + 2) in delivered and str(BIG + 102) in delivered
    assert "3d" in "\n".join(line for line in lines if "oldest pending" in line)


def test_a_long_destination_name_is_cut_not_the_counts() -> None:
    long_name = "webhook-to-the-partner-with-an-extremely-long-destination-name"
    lines = _render(*outbox_tables([_counts(long_name, BIG), _counts("meta", 1)], NOW, 80))
    assert max(map(len, lines)) <= 80
    text = "\n".join(lines)
    assert long_name not in text and "webhook-" in text and "…" in text
    assert all(str(BIG + i) in text for i in range(len(STATUSES)))


def test_destinations_that_do_not_fit_side_by_side_go_on_in_another_table() -> None:
    counts = [_counts(f"destination-{n}", BIG) for n in range(8)]
    tables = outbox_tables(counts, NOW, 80)
    assert len(tables) > 1
    lines = _render(*tables)
    assert max(map(len, lines)) <= 80
    text = "\n".join(lines)
    assert f"Outbox by destination (1/{len(tables)})" in text
    # Every destination's every count is somewhere, whole.
    assert text.count(str(BIG + 2)) == len(counts)


def test_webhook_table_cuts_names_not_counts() -> None:
    webhooks = [WebhookCount("default", "woocommerce-on-a-platform-with-a-very-long-name",
                             "ignored", "not_a_purchase_because_the_order_was_only_pending_here",
                             BIG, NOW - 200_000)]
    lines = _render(webhook_table(webhooks, NOW, 80))
    assert max(map(len, lines)) <= 80
    text = "\n".join(lines)
    assert str(BIG) in text and "2d ago" in text and "…" in text


def test_age() -> None:
    assert [age(s) for s in (-5, 45, 600, 3 * 3600, 5 * 86400)] == ["0s", "45s", "10m", "3h",
                                                                     "5d"]


def test_the_status_command_fits_80_columns_on_a_real_store(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "status.db"))
    store.migrate()
    long_name = "webhook-partner-with-a-destination-name-far-too-long-for-a-column"
    settings = load_settings(environ={"TRACKSIDE_JOIN_WINDOW_S": "0"})
    events = [{"event_name": "Lead", "event_id": f"L{n}", "event_time": int(NOW),
               "user": {"email": f"l{n}@example.com"}, "consent": GRANTED} for n in range(3)]
    Pipeline(settings, store, ["meta", "ga4", long_name]).accept(events, "api", now=NOW)
    store.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKSIDE_")}
    env |= {"COLUMNS": "80", "TRACKSIDE_DATABASE_URL": f"sqlite:///{tmp_path}/status.db"}
    result = subprocess.run([sys.executable, "-m", "trackside.cli", "status"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(map(len, lines)) <= 80, result.stdout
    [pending] = [line for line in lines if " pending " in line and "oldest" not in line]
    assert re.findall(r"\b3\b", pending) == ["3", "3", "3"]
    assert "webhook-" in result.stdout and long_name not in result.stdout


def test_status_json_shows_a_pause_end_as_iso_8601_utc(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "paused.db"))
    store.migrate()
    store.pause_destination("meta", 4_102_444_800.0, "throttled (code 4)", 4, NOW)
    store.pause_destination("ga4", None, "invalid API secret", None, NOW)
    store.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKSIDE_")}
    env["TRACKSIDE_DATABASE_URL"] = f"sqlite:///{tmp_path}/paused.db"
    result = subprocess.run([sys.executable, "-m", "trackside.cli", "status", "--json"],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    paused = {p["destination"]: p["until"] for p in json.loads(result.stdout)["paused"]}
    assert paused == {"meta": "2100-01-01T00:00:00.000Z", "ga4": None}
