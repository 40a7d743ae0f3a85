"""StoredEvent parses a stored body only when its event is read, and is otherwise the same
record as one built from the parsed event (equality, repr, replacing the event)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trackside.config import load_settings
from trackside.events import NormalizedEvent
from trackside.pipeline import Pipeline
from trackside.store import StoredEvent
from trackside.store.sqlite import SQLiteStore

NOW = 1_800_000_000.0


def _normalized(extra: dict[str, Any]) -> NormalizedEvent:
    pipeline = Pipeline(load_settings(environ={}), SQLiteStore(":memory:"), ["meta"])
    raw = {"event_name": "Purchase", "event_id": "o-1", "event_time": int(NOW) - 5,
           "event_source_url": "https://shop.example/thanks",
           "order": {"reference": "o-1", "value": 10, "currency": "EUR"}, **extra}
    batch = pipeline.prepare([raw], "api", now=NOW)
    assert batch.records, batch.results
    return batch.records[0].event


_USERS = st.fixed_dictionaries({}, optional={
    "email": st.sampled_from(["a@example.com", "Jeanne.Dupont@Example.com"]),
    "phone": st.sampled_from(["+33612345678", "06 12 34 56 78"]),
    "first_name": st.text(alphabet="abcdéÀ ", min_size=1, max_size=8),
    "ip": st.sampled_from(["203.0.113.7", "2001:db8::1"]),
    "fbp": st.just("fb.1.1700000000000.1234567890"),
})


@settings(max_examples=40, deadline=None)
@given(user=_USERS, cart=st.one_of(st.none(), st.text(alphabet="abc123-", min_size=1,
                                                       max_size=12)))
def test_a_stored_event_from_its_body_equals_one_from_the_parsed_event(
    user: dict[str, Any], cart: str | None,
) -> None:
    event = _normalized({"user": user, **({"cart_id": cart} if cart else {})})
    body = event.model_dump_json(exclude_defaults=True)
    lazy = StoredEvent(7, body, "api", NOW, ["pending"], "alpha")
    eager = StoredEvent(7, NormalizedEvent.model_validate_json(body), "api", NOW, ["pending"],
                        "alpha")
    assert lazy == eager and repr(lazy) == repr(eager)
    assert lazy.event == event and lazy.event is lazy.event  # parsed once, then kept
    assert StoredEvent(7, body.encode(), "api", NOW, ["pending"], "alpha") == eager
    assert lazy != StoredEvent(8, body, "api", NOW, ["pending"], "alpha")


def test_the_event_can_be_replaced_and_the_record_is_not_hashable() -> None:
    event = _normalized({})
    stored = StoredEvent(1, event.model_dump_json(), "api", NOW, [])
    other = event.model_copy(update={"flags": ["seen_by_browser"]})
    stored.event = other
    assert stored.event is other
    with pytest.raises(TypeError):
        hash(stored)


def test_a_lookup_reads_the_body_only_when_the_event_is_used(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "t.db"))
    store.migrate()
    try:
        pipeline = Pipeline(load_settings(environ={}), store, ["meta"])
        pipeline.accept([{"event_name": "Purchase", "event_id": "o-1",
                          "event_time": int(NOW) - 5, "user": {"email": "a@example.com"},
                          "event_source_url": "https://shop.example/thanks",
                          "order": {"reference": "o-1", "value": 10, "currency": "EUR"}}],
                        "api", now=NOW)
        with store.transaction() as unit:
            stored = unit.find_event("Purchase", "o-1")
        assert stored is not None and stored.statuses
        assert isinstance(stored._event, str)  # only the ref was needed so far
        assert stored.event.event_id == "o-1" and stored.event.order is not None
    finally:
        store.close()
