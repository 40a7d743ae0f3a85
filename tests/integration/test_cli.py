"""The operator's commands on a real store: doctor's verdicts, status, events show, replay."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trackside.cli import app
from trackside.config import load_settings
from trackside.runtime import Runtime
from trackside.store import AttemptRecord, Finished

GRANTED = {"ad_storage": "granted", "ad_user_data": "granted", "analytics_storage": "granted"}


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {"TRACKSIDE_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db",
              "TRACKSIDE_JOIN_WINDOW_S": "0"}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_doctor_is_usable_with_no_configuration(env: dict[str, str]) -> None:
    code, output = invoke("doctor")
    assert code == 0, output
    assert "Meta: dry-run" in output and "TRACKSIDE_META_ACCESS_TOKEN" in output


@pytest.mark.parametrize(
    ("extra", "missing"),
    [({"TRACKSIDE_META_PIXEL_ID": "123"},
      "TRACKSIDE_META_PIXEL_ID is set but TRACKSIDE_META_ACCESS_TOKEN is not"),
     ({"TRACKSIDE_GA4_API_SECRET": "s3cr3t-value"},
      "TRACKSIDE_GA4_API_SECRET is set but TRACKSIDE_GA4_MEASUREMENT_ID is not")],
)
def test_doctor_fails_on_a_half_configured_destination(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, extra: dict[str, str], missing: str
) -> None:
    # Half a destination is a configuration error (exit 2), not a silent dry run.
    for key, value in extra.items():
        monkeypatch.setenv(key, value)
    code, output = invoke("doctor")
    assert code == 2 and missing in output
    assert "s3cr3t-value" not in output


def test_doctor_reports_bad_settings_with_exit_2(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKSIDE_META_LDU", "sometimes")
    code, output = invoke("doctor")
    assert code == 2 and "TRACKSIDE_META_LDU" in output


def test_doctor_fails_while_meta_is_paused_for_credentials(env: dict[str, str]) -> None:
    runtime = Runtime.from_settings(load_settings())
    runtime.store.pause_destination(
        "meta", None, "meta refused our credentials: code 190", 190, time.time()
    )
    runtime.close()
    code, output = invoke("doctor")
    assert code == 1 and "paused until you act" in output


def test_status_events_show_and_replay(env: dict[str, str]) -> None:
    runtime = Runtime.from_settings(load_settings())
    now = time.time()
    base = {"event_name": "Purchase", "event_source_url": "https://shop.example/thanks",
            "user": {"email": "a@example.com"}, "consent": GRANTED}
    runtime.pipeline.accept([
        {**base, "event_time": int(now),
         "order": {"reference": "R1", "value": 5, "currency": "EUR"}}], "api", now=now)
    # Accepted when it was fresh, 8 days ago (an event 8 days old is refused at accept).
    runtime.pipeline.accept([
        {**base, "event_time": int(now - 8 * 86400),
         "order": {"reference": "OLD", "value": 5, "currency": "EUR"}},
    ], "api", now=now - 8 * 86400)
    rows = runtime.store.claim("dryrun", 10, "test", 60, now)
    runtime.store.finish([Finished(r.outbox_id, "dead" if r.event.event_id == "R1" else "expired",
                                   100, 2804019, "[fr] Paramètre invalide") for r in rows], now)
    runtime.close()

    code, output = invoke("status", "--json")
    assert code == 0
    [entry] = json.loads(output)["destinations"]
    assert entry["counts"] == {"dead": 1, "expired": 1}

    code, output = invoke("events", "show", "R1")
    assert code == 0
    assert "accepted from api" in output
    assert "dead [dryrun] code 100/2804019: [fr] Paramètre invalide" in output  # brackets kept

    code, output = invoke("events", "show", "NOPE")
    assert code == 1 and "no event with id 'NOPE'" in output

    code, output = invoke("replay", "--destination", "dryrun")
    assert code == 0
    assert "replayed 1 outbox rows" in output
    assert "refused OLD: dryrun: event_time is outside the destination's window" in output

    code, output = invoke("replay", "--since", "yesterday")
    assert code == 2 and "is not a date" in output


def test_events_show_and_status_with_held_rows_and_fbtrace_ids(env: dict[str, str]) -> None:
    runtime = Runtime.from_settings(load_settings())
    now = time.time()
    beacon = {"event_name": "Purchase", "event_time": int(now), "consent": GRANTED,
              "event_source_url": "https://shop.example/thanks",
              "user": {"fbp": "fb.1.1700000000000.1", "ip": "203.0.113.9", "user_agent": "UA"},
              "order": {"reference": "HELD1", "value": 5, "currency": "EUR"}}
    runtime.pipeline.accept([beacon], "browser", now=now)
    runtime.pipeline.accept([{**beacon, "order": {**beacon["order"], "reference": "R1"},
                              "user": {"email": "a@example.com"}}], "api", now=now)
    [row] = runtime.store.claim("dryrun", 10, "test", 60, now)
    runtime.store.reschedule([row.outbox_id], now + 60,
                             AttemptRecord("retry", 500, 2, None, "Please retry",
                                           fbtrace_id="AZx9Trace"), now)
    runtime.close()

    code, output = invoke("events", "show", "HELD1")
    assert code == 0, output
    assert "held [dryrun]: an unconfirmed browser purchase" in output
    code, output = invoke("events", "show", "R1")
    assert code == 0, output
    assert "attempt [dryrun]: retry, HTTP 500, code 2, Please retry, fbtrace_id AZx9Trace" in output
    code, output = invoke("events", "show", "R1", "--json")
    [shown] = json.loads(output)
    assert shown["attempts"][0]["fbtrace_id"] == "AZx9Trace"
    code, output = invoke("status", "--json")
    [entry] = json.loads(output)["destinations"]
    assert entry["counts"] == {"held": 1, "pending": 1}
