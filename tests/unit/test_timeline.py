"""One timeline for the CLI and the API (trackside/timeline.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from trackside import timeline
from trackside.events import NormalizedEvent
from trackside.store import ATTEMPTS_KEPT_FIRST, AttemptRow, EventView, NoteRow, OutboxRow
from trackside.web.views import event_lookup

NOW = 1_800_000_000.0


def _iso(moment: float) -> str:
    """An independent spelling of the API's times: ISO 8601 UTC, milliseconds, Z."""
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{round(moment % 1 * 1000):03d}Z"


def _view() -> EventView:
    event = NormalizedEvent(event_name="Purchase", event_id="R1", event_time=int(NOW),
                            action_source="website")
    attempts = [AttemptRow(i, 1, "meta", NOW + i, "retry", 500, 2, None, f"a{i}")
                for i in range(ATTEMPTS_KEPT_FIRST + 1)]
    attempts.append(AttemptRow(99, 1, "meta", NOW + 50, "rejected", 400, 100, 33, "bad", 1,
                               fbtrace_id="AbC123"))
    return EventView(
        "Purchase", "R1", "api", NOW, event,
        outbox=[OutboxRow(1, "meta", "dead", 9, code=100, subcode=33, message="bad",
                          finished_at=NOW + 51, attempts_not_kept=3),
                OutboxRow(2, "ga4", "pending", next_attempt_at=NOW + 90)],
        attempts=attempts,
        notes=[NoteRow(NOW + 0.5, "duplicate", "duplicate from browser; added fbc")],
    )


def test_one_story_in_time_order() -> None:
    entries = timeline.build(_view())
    assert [e.kind for e in entries] == (
        ["accepted", "attempt", "duplicate"] + ["attempt"] * (ATTEMPTS_KEPT_FIRST - 1)
        + ["attempts_not_kept", "attempt", "attempt", "dead"])
    assert [e.at for e in entries] == sorted(e.at for e in entries)
    lines = [timeline.line(e) for e in entries]
    assert "attempt [meta]: … 3 earlier attempts not kept" in lines
    assert lines[-2] == "attempt [meta]: rejected, HTTP 400, code 100/33, bad, fbtrace_id AbC123"
    assert lines[-1] == "dead [meta] code 100/33: bad"
    assert lines[2] == "duplicate: duplicate from browser; added fbc"


def test_the_api_tells_the_same_story() -> None:
    view = _view()
    [event] = event_lookup("R1", [view])["events"]
    entries = timeline.build(view)
    assert [(t["at"], t["kind"], t["destination"]) for t in event["timeline"]] == [
        (_iso(e.at), e.kind, e.destination) for e in entries]
    assert event["timeline"][0]["detail"] == "accepted from api"
    assert event["timeline"][-1]["detail"] == "bad"
    assert "fbtrace_id AbC123" in event["timeline"][-2]["detail"]


def test_a_final_outcome_without_message_shows_its_status() -> None:
    view = _view()
    view.outbox[0].message = None
    [event] = event_lookup("R1", [view])["events"]
    assert event["timeline"][-1]["detail"] == "dead"
    assert timeline.outcome_line(view.outbox[0]) == "dead [meta] code 100/33"


def test_the_api_shows_every_time_as_iso_8601_utc() -> None:
    [event] = event_lookup("R1", [_view()])["events"]
    # 1_800_000_000 is 2027-01-15 08:00:00 UTC.
    assert event["accepted_at"] == "2027-01-15T08:00:00.000Z"
    assert event["event"]["event_time"] == "2027-01-15T08:00:00Z"
    dead, pending = event["destinations"]
    assert dead["finished_at"] == "2027-01-15T08:00:51.000Z" and dead["next_attempt_at"] is None
    assert pending["next_attempt_at"] == "2027-01-15T08:01:30.000Z"
    assert pending["finished_at"] is None
    assert event["timeline"][2]["at"] == "2027-01-15T08:00:00.500Z"  # the note, at NOW + 0.5
    for entry in event["timeline"]:
        parsed = datetime.fromisoformat(entry["at"])
        assert parsed.utcoffset() is not None and parsed.utcoffset().total_seconds() == 0
