"""Operator tools on a real store: terminal-safe output in every command, `events drop`, and
attempts bounded for a row retried for days (issue attack 8 and the attempts note)."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trackside.cli import app
from trackside.config import load_settings
from trackside.events import NormalizedEvent
from trackside.runtime import Runtime
from trackside.store import AttemptRecord, Finished, NewEvent, OutboxPlan

#: What a hostile sender (or vendor) can put in stored text: clear the screen, set the title,
#: and a newline that would print a forged timeline line.
FORGED_LINE = "  2030-01-01 00:00:00 UTC  delivered [meta]"
HOSTILE_ID = f"R1\x1b[2J\x1b]0;owned\x07\n{FORGED_LINE}"
HOSTILE_MESSAGE = f"bad\x1b[31m red\n{FORGED_LINE}: forged"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {"TRACKSIDE_DATABASE_URL": f"sqlite:///{tmp_path}/ops.db",
              "TRACKSIDE_JOIN_WINDOW_S": "0"}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def _store_event(event_id: str, *, event_time: float | None = None,
                 destinations: tuple[str, ...] = ("dryrun",)) -> Runtime:
    runtime = Runtime.from_settings(load_settings())
    now = time.time()
    event = NormalizedEvent(
        event_name="Purchase", event_id=event_id, event_time=int(event_time or now),
        action_source="website", event_source_url="https://shop.example/thanks",
        user_data={"em": ["a" * 64]}, warnings=["warn\x1b[5m blink"],
    )
    # Written to the store directly: ingest may refuse control characters, older rows and
    # other writers may not have.
    runtime.store.insert_events(
        [NewEvent(event, "api\x1b[1m", [OutboxPlan(d) for d in destinations])],
                                now)
    return runtime


def _assert_terminal_safe(output: str) -> None:
    assert "\x1b" not in output and "\x07" not in output
    assert not any(line.startswith(FORGED_LINE) for line in output.splitlines()), output


def test_every_command_escapes_stored_text(env: dict[str, str]) -> None:
    runtime = _store_event(HOSTILE_ID, event_time=time.time() - 30 * 86400)
    now = time.time()
    [row] = runtime.store.claim("dryrun", 10, "test", 60, now)
    runtime.store.reschedule([row.outbox_id], now, AttemptRecord("retry", 500, 1, None,
                                                                  HOSTILE_MESSAGE), now)
    [row] = runtime.store.claim("dryrun", 10, "test", 60, now)
    runtime.store.finish([Finished(row.outbox_id, "dead", 100, 33, HOSTILE_MESSAGE)], now)
    runtime.store.add_note("Purchase", HOSTILE_ID, "joined\x1b[8m", HOSTILE_MESSAGE, now)
    runtime.store.pause_destination("dryrun", None, HOSTILE_MESSAGE, 190, now)
    runtime.close()

    code, shown = invoke("events", "show", HOSTILE_ID)
    assert code == 0, shown
    _assert_terminal_safe(shown)
    assert "R1\\x1b[2J\\x1b]0;owned\\x07\\n" in shown  # visible, not interpreted
    assert "bad\\x1b[31m red\\n" in shown and "warn\\x1b[5m blink" in shown
    assert "accepted from api\\x1b[1m" in shown

    code, json_shown = invoke("events", "show", HOSTILE_ID, "--json")
    assert code == 0 and "\x1b" not in json_shown and "\\u001b" in json_shown

    code, status = invoke("status")
    _assert_terminal_safe(status)
    assert "PAUSED until you act: bad\\x1b[31m red\\n" in status

    code, doctor = invoke("doctor")
    _assert_terminal_safe(doctor)
    assert "fail dryrun: paused until you act: bad\\x1b[31m red\\n" in doctor

    # The event is 30 days old: replay refuses it and names it.
    code, replayed = invoke("replay", "--event-id", HOSTILE_ID)
    assert code == 1
    _assert_terminal_safe(replayed)
    assert "refused R1\\x1b[2J" in replayed


def test_events_drop_ends_pending_rows_with_an_audited_note(env: dict[str, str]) -> None:
    _store_event("D1", destinations=("dryrun", "ga4")).close()

    code, output = invoke("events", "drop", "D1", "--destination", "ga4",
                          "--reason", "test order placed by staff")
    assert code == 0, output
    assert "dropped Purchase D1 [ga4]: dead, test order placed by staff" in output

    runtime = Runtime.from_settings(load_settings())
    [view] = runtime.store.event_view("D1")
    runtime.close()
    rows = {row.destination: row for row in view.outbox}
    assert rows["ga4"].status == "dead" and rows["dryrun"].status == "pending"
    assert rows["ga4"].message == "dropped by operator: test order placed by staff"
    assert rows["ga4"].finished_at is not None
    [note] = [n for n in view.notes if n.kind == "dropped"]
    assert note.destination == "ga4"
    assert note.detail.startswith("dropped by ") and "(trackside events drop)" in note.detail
    assert note.detail.endswith(": test order placed by staff")

    code, shown = invoke("events", "show", "D1")
    assert "dropped [ga4]: dropped by" in shown and "dead [ga4]: dropped by operator" in shown

    # Finished rows are refused, pending ones (all destinations) dropped.
    code, output = invoke("events", "drop", "D1", "--reason", "duplicate order")
    assert code == 0, output
    assert "dropped Purchase D1 [dryrun]" in output
    assert "not dropped Purchase D1 [ga4]: already dead; only pending rows can be dropped" in output

    code, output = invoke("events", "drop", "D1", "--reason", "again")
    assert code == 1 and "already dead" in output

    code, output = invoke("events", "drop", "NOPE", "--reason", "why not")
    assert code == 1 and "no event with id 'NOPE'" in output

    code, output = invoke("events", "drop", "D1", "--destination", "meta", "--reason", "x")
    assert code == 1 and "no event with id 'D1' for destination 'meta'" in output

    code, output = invoke("events", "drop", "D1", "--reason", "  ")
    assert code == 2 and "--reason" in output

    code, output = invoke("events", "drop", "D1")
    assert code == 2 and "--reason" in output


def test_a_row_retried_for_days_keeps_bounded_attempts(env: dict[str, str], tmp_path: Path) -> None:
    runtime = _store_event("A1")
    start = time.time()
    [row] = runtime.store.claim("dryrun", 10, "test", 60, start)
    for attempt in range(1000):
        at = start + attempt * 600  # every ten minutes for a week
        runtime.store.reschedule([row.outbox_id], at, AttemptRecord(
            "retry", 503, 2, None, f"attempt {attempt}"), at)
    [view] = runtime.store.event_view("A1")
    runtime.close()

    messages = [a.message for a in view.attempts]
    assert messages == [f"attempt {i}" for i in (*range(5), *range(980, 1000))]
    [outbox] = view.outbox
    assert outbox.attempts == 1000 and outbox.attempts_not_kept == 975
    with contextlib.closing(sqlite3.connect(tmp_path / "ops.db")) as conn:
        assert conn.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] == 25

    code, shown = invoke("events", "show", "A1")
    assert code == 0
    lines = [line for line in shown.splitlines() if "attempt [dryrun]" in line]
    assert len(lines) == 26
    assert lines[4].endswith("attempt 4") and lines[5].endswith("… 975 earlier attempts not kept")
    assert lines[6].endswith("attempt 980")
    assert "(attempts so far: 1000)" in shown


def test_prestashop_sync_escapes_the_shop_answer(env: dict[str, str]) -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from tests.fakes.server import serve

    async def hostile(request: Request) -> JSONResponse:
        # A compromised or misconfigured shop answers with its own text: escapes and markup.
        return JSONResponse(
            {"errors": [{"code": 21, "message": f"[bold]no[/bold] {HOSTILE_MESSAGE}"}]},
                            401)

    with serve(Starlette(routes=[Route("/api/{resource}", hostile)])) as shop:
        result = CliRunner().invoke(app, ["prestashop", "sync"], env={
            "TRACKSIDE_PRESTASHOP_URL": shop.url, "TRACKSIDE_PRESTASHOP_API_KEY": "K" * 32})
    assert result.exit_code == 1, result.output
    _assert_terminal_safe(result.output)
    assert "[bold]no[/bold] bad\\x1b[31m red\\n" in result.output
