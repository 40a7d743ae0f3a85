from __future__ import annotations

import time

import pytest

from trackside.events import Event, parse_event, parse_event_time


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1732250000, 1732250000),
        (1732250000123, 1732250000),  # unix milliseconds are converted
        ("1732250000", 1732250000),
        ("2024-11-22T04:33:20Z", 1732250000),
        ("2024-11-22T05:33:20+01:00", 1732250000),
        ("2024-11-22T04:33:20", 1732250000),  # naive ISO is UTC
        (1732250000.9, 1732250000),
    ],
)
def test_event_time_shapes(value: object, expected: int) -> None:
    assert parse_event_time(value) == expected


def test_missing_event_time_means_now() -> None:
    before = int(time.time())
    event = Event(event_name="PageView")
    assert before <= event.event_time <= int(time.time())


@pytest.mark.parametrize("value", ["yesterday", -5, True, float("nan"), 10**16, [1]])
def test_bad_event_time_is_named(value: object) -> None:
    errors = parse_event({"event_name": "Purchase", "event_time": value}, prefix="events[3]")
    assert isinstance(errors, list)
    assert errors[0].field == "events[3].event_time"


def test_canonical_shape() -> None:
    event = Event.model_validate({
        "event_name": "Purchase",
        "event_time": "2026-11-20T10:00:00Z",
        "event_source_url": "https://shop.example/order-confirmation",
        "user": {"email": " A@B.fr ", "external_id": 42, "ip": "1.2.3.4"},
        "order": {"reference": "XKBKNABJK", "value": "19.90", "currency": "eur",
                  "items": [{"id": 7, "quantity": 2, "price": 9.95}]},
        "consent": {"ad_storage": "GRANTED", "analytics_storage": False},
    })
    assert event.user.email == "A@B.fr"
    assert event.user.external_id == "42"
    assert event.order is not None and event.order.currency == "EUR"
    assert event.order.items[0].id == "7"
    assert event.consent is not None
    assert event.consent.ad_storage == "granted"
    assert event.consent.analytics_storage == "denied"


def test_meta_native_shape_is_accepted() -> None:
    event = Event.model_validate({
        "event_name": "Purchase",
        "event_time": 1732250000,
        "event_id": "order-1",
        "action_source": "website",
        "event_source_url": "https://shop.example/thanks",
        "user_data": {
            "em": ["62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f"],
            "ph": "16505551212",
            "client_ip_address": "1.2.3.4",
            "client_user_agent": "Mozilla/5.0",
            "fbc": "fb.1.1554763741205.AbCdEf",
            "external_id": 12,
        },
        "custom_data": {"value": 142.52, "currency": "usd", "order_id": "R1",
                        "contents": [{"id": "sku", "quantity": 1, "item_price": 142.52}],
                        "content_type": "product"},
    })
    assert event.user.email == ["62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f"]
    assert event.user.ip == "1.2.3.4" and event.user.user_agent == "Mozilla/5.0"
    assert event.user.external_id == "12"
    assert event.order is not None
    assert (event.order.value, event.order.currency, event.order.reference) == (142.52, "USD", "R1")
    assert event.order.items[0].price == 142.52
    assert event.custom_data == {"content_type": "product"}


@pytest.mark.parametrize(
    ("raw", "field", "reason"),
    [
        ({}, "events[0].event_name", "Field required"),
        ({"event_name": ""}, "events[0].event_name", "at least 1 character"),
        ({"event_name": "X", "user": {"emali": "a@b.c"}},
         "events[0].user.emali", "is not a known field"),
        ({"event_name": "X", "order": {"currency": "EURO"}},
         "events[0].order.currency", "3-letter ISO 4217"),
        ({"event_name": "X", "order": {"value": "lots"}}, "events[0].order.value", "valid number"),
        ({"event_name": "X", "order": {"items": [{"quantity": 1}]}},
         "events[0].order.items[0].id", "Field required"),
        ({"event_name": "X", "action_source": "web"}, "events[0].action_source", "Input should be"),
        ({"event_name": "X", "event_source_url": "shop.example/x"},
         "events[0].event_source_url", "absolute http"),
        ({"event_name": "X", "user_data": "nope"}, "events[0].user", "valid dictionary"),
        ({"event_name": "X", "consent": {"ad_storage": "yes"}},
         "events[0].consent.ad_storage", "Input should be"),
    ],
)
def test_validation_errors_name_the_path_and_reason(raw: dict, field: str, reason: str) -> None:
    errors = parse_event(raw, prefix="events[0]")
    assert isinstance(errors, list)
    assert any(e.field == field and reason in e.reason for e in errors), errors


def test_not_an_object() -> None:
    errors = parse_event(["Purchase"], prefix="events[2]")
    assert isinstance(errors, list)
    assert errors[0].field == "events[2]"
