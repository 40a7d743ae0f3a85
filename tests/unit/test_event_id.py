"""Event id rules: one id per business fact, the same on every path (a Purchase's is its order
reference, other order events ``{event_name}:{reference}``, browser actions a random id), because
Meta deduplicates the same event_name + event_id within 48 h
(https://developers.facebook.com/documentation/ads-commerce/conversions-api/deduplicate-pixel-and-server-events).
"""

from __future__ import annotations

import re
import time

import pytest

from trackside.events import Event
from trackside.identity import (
    order_event_id,
    purchase_event_id,
    random_event_id,
    resolve_event_id,
)


def test_purchase_event_id() -> None:
    assert purchase_event_id("XKBKNABJK") == "XKBKNABJK"
    assert purchase_event_id("XKBKNABJK", prefix="shop1-") == "shop1-XKBKNABJK"


def test_order_event_id() -> None:
    assert order_event_id("Refund", "XKBKNABJK") == "Refund:XKBKNABJK"
    assert order_event_id("Refund", "XKBKNABJK", prefix="shop1-") == "Refund:shop1-XKBKNABJK"


def test_random_event_id() -> None:
    ids = {random_event_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)


@pytest.mark.parametrize(
    ("raw", "prefix", "expected"),
    [
        ({"event_name": "Purchase", "event_id": "given", "order": {"reference": "R1"}}, "p-",
         "given"),
        ({"event_name": "Purchase", "order": {"reference": "R1"}}, "", "R1"),
        ({"event_name": "Purchase", "order": {"reference": "R1"}}, "p-", "p-R1"),
        ({"event_name": "Purchase", "order": {"reference": 1042}}, "", "1042"),
        ({"event_name": "Refund", "order": {"reference": "R1"}}, "", "Refund:R1"),
        ({"event_name": "OrderShipped", "order": {"reference": "R1"}}, "p-", "OrderShipped:p-R1"),
        # Meta's native shape: custom_data.order_id is the reference
        ({"event_name": "Purchase", "custom_data": {"order_id": "R9", "value": 1,
                                                     "currency": "EUR"}}, "", "R9"),
    ],
)  # fmt: skip
def test_resolve_event_id_rules(raw: dict, prefix: str, expected: str) -> None:
    assert resolve_event_id(Event.model_validate(raw), prefix) == expected


def _event(**extra: object) -> Event:
    raw = {"event_name": "Lead", "event_time": 1795000000, "user": {"email": "a@b.co"}}
    raw.update(extra)
    return Event.model_validate(raw)


def test_hash_id_is_deterministic_and_prefixed_h() -> None:
    first = resolve_event_id(_event())
    assert re.fullmatch(r"h-[0-9a-f]{32}", first)
    assert resolve_event_id(_event()) == first
    # the same content in another key order is the same event
    again = Event.model_validate(
        {"user": {"email": "a@b.co"}, "event_time": 1795000000, "event_name": "Lead"}
    )
    assert resolve_event_id(again) == first


def test_hash_id_depends_on_content() -> None:
    base = resolve_event_id(_event())
    assert resolve_event_id(_event(event_time=1795000001)) != base
    assert resolve_event_id(_event(user={"email": "c@d.co"})) != base
    assert resolve_event_id(_event(event_name="Contact")) != base


def test_hash_id_ignores_the_filled_in_time_of_an_untimed_event(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A retried POST without event_time gets a different "now" each time; its id must not.
    raw = {"event_name": "Lead", "user": {"email": "a@b.co"}}
    monkeypatch.setattr(time, "time", lambda: 1795000000.0)
    first = Event.model_validate(raw)
    monkeypatch.setattr(time, "time", lambda: 1795000042.0)
    second = Event.model_validate(raw)
    assert first.event_time != second.event_time
    assert resolve_event_id(first) == resolve_event_id(second)


def test_hash_id_without_reference_ignores_prefix() -> None:
    assert resolve_event_id(_event(), "shop1-") == resolve_event_id(_event())


def test_purchase_without_reference_gets_a_hash_id() -> None:
    event = Event.model_validate({"event_name": "Purchase", "event_time": 1795000000,
                                  "order": {"value": 10, "currency": "EUR"}})  # fmt: skip
    assert resolve_event_id(event).startswith("h-")
