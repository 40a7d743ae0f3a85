"""`trackside events show --json` writes times as GET /v1/events/{id} does (ISO 8601 UTC)."""

from __future__ import annotations

import json
import re
import time

from tests.integration.test_cli import GRANTED, env, invoke  # noqa: F401  (fixture)
from trackside.config import load_settings
from trackside.runtime import Runtime
from trackside.store import AttemptRecord, Finished
from trackside.web.views import event_lookup

MILLIS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
SECONDS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def test_events_show_json_times_are_the_apis(env: dict[str, str]) -> None:  # noqa: F811
    runtime = Runtime.from_settings(load_settings())
    now = time.time()
    event = {"event_name": "Purchase", "event_time": int(now) - 3600,
             "event_source_url": "https://shop.example/thanks",
             "order": {"reference": "ISO1", "value": 5, "currency": "EUR"},
             "user": {"email": "a@example.com"}, "consent": GRANTED}
    runtime.pipeline.accept([event], "api", now=now)
    runtime.pipeline.accept([event], "api", now=now + 1)  # a duplicate: a note
    [row] = runtime.store.claim("dryrun", 10, "test", 60, now + 2)
    runtime.store.reschedule([row.outbox_id], now + 60,
                             AttemptRecord("retry", 500, 2, None, "Please retry"), now + 3)
    [row] = runtime.store.claim("dryrun", 10, "test", 60, now + 61)
    runtime.store.finish([Finished(row.outbox_id, "dead", 100, None, "refused")], now + 62)
    api = event_lookup("ISO1", runtime.store.event_view("ISO1"))
    runtime.close()

    code, output = invoke("events", "show", "ISO1", "--json")
    assert code == 0, output
    [shown] = json.loads(output)
    [expected] = api["events"]
    assert shown["accepted_at"] == expected["accepted_at"]
    assert MILLIS.fullmatch(shown["accepted_at"])
    assert shown["event"]["event_time"] == expected["event"]["event_time"]
    assert SECONDS.fullmatch(shown["event"]["event_time"])
    [destination] = shown["destinations"]
    assert destination["finished_at"] == expected["destinations"][0]["finished_at"]
    assert MILLIS.fullmatch(destination["finished_at"])
    assert destination["lease_expires_at"] is None or MILLIS.fullmatch(
        destination["lease_expires_at"])
    assert shown["attempts"] and all(MILLIS.fullmatch(a["at"]) for a in shown["attempts"])
    assert shown["notes"] and all(MILLIS.fullmatch(n["at"]) for n in shown["notes"])
    # The moments the API's timeline shows are the CLI's, in the same form.
    timeline = {entry["at"] for entry in expected["timeline"]}
    assert {n["at"] for n in shown["notes"]} <= timeline
    assert {a["at"] for a in shown["attempts"]} <= timeline
