"""parse_batch: each raw event on its own, rejected by index, the good ones kept in order."""

from __future__ import annotations

from trackside.events import Event, parse_event
from trackside.sources.batch import parse_batch

GOOD = {"event_name": "Lead", "event_id": "L1", "user": {"email": "a@example.com"}}


def test_bad_events_are_rejected_by_index_and_good_ones_kept_in_order() -> None:
    second = {**GOOD, "event_id": "L2"}
    batch = parse_batch([GOOD, {"event_id": "x"}, second, "not an object"], prefix="events")
    assert [event.event_id for event in batch.events] == ["L1", "L2"]
    assert batch.positions == [0, 2]
    assert [rejected.index for rejected in batch.rejected] == [1, 3]
    assert batch.rejected[0].errors[0].field.startswith("events[1]")
    assert batch.rejected[1].errors[0].field.startswith("events[3]")


def test_errors_are_named_with_the_callers_prefix() -> None:
    batch = parse_batch([GOOD, {"event_id": "x"}], prefix="data")
    assert batch.rejected[0].errors[0].field.startswith("data[1]")


def test_an_event_already_parsed_by_its_source_is_kept_as_it_is() -> None:
    event = parse_event(GOOD)
    assert isinstance(event, Event)
    batch = parse_batch([event], prefix="events")
    assert batch.events == [event] and batch.events[0] is event


def test_the_size_limit_rejects_only_the_event_over_it() -> None:
    big = {**GOOD, "event_id": "L9", "custom_data": {"text": "x" * 2000}}
    batch = parse_batch([big, GOOD], prefix="events", max_event_bytes=1024)
    assert batch.positions == [1]
    assert batch.rejected[0].index == 0
