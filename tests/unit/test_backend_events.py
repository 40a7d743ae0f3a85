"""Subscription charges and CRM events in the event model: their ids, action source and the
fields their errors name (trackside/events.py, trackside/crm.py, identity/event_id.py)."""

from __future__ import annotations

from typing import Any

import pytest

from trackside.crm import with_lead_event_source
from trackside.events import Event, FieldError, parse_event
from trackside.identity.event_id import resolve_event_id


def event(**fields: Any) -> Event:
    parsed = parse_event({"event_name": "Purchase", **fields}, prefix="events[0]")
    assert isinstance(parsed, Event), parsed
    return parsed


def errors(**fields: Any) -> list[tuple[str, str]]:
    parsed = parse_event({"event_name": "Purchase", **fields}, prefix="events[0]")
    assert isinstance(parsed, list), parsed
    return [(e.field, e.reason) for e in parsed]


@pytest.mark.parametrize("period", ["2026-11-01", "2026-11-01T23:59:59Z",
                                    "2026-11-01T12:00:00+00:00", 1793534400, "1793534400"])
def test_a_period_is_read_as_its_utc_date(period: Any) -> None:
    charge = event(order={"subscription_id": "sub_1", "period": period})
    assert charge.order is not None and charge.order.period == "2026-11-01"
    assert resolve_event_id(charge, "shop-") == "renewal:sub_1:2026-11-01"
    assert charge.action_source == "system_generated"
    assert charge.custom_data["subscription_id"] == "sub_1"
    assert charge.user.subscription_id == "sub_1"


def test_an_explicit_action_source_and_event_id_win() -> None:
    charge = event(event_id="mine", action_source="website",
                   event_source_url="https://shop.example/account",
                   order={"subscription_id": "sub_1", "period": "2026-11-01"})
    assert charge.action_source == "website" and resolve_event_id(charge) == "mine"


@pytest.mark.parametrize(("order", "reason"), [
    ({"subscription_id": "sub_1"}, "is required with order.subscription_id"),
    ({"period": "2026-11-01"}, "needs order.subscription_id"),
    ({"subscription_id": "sub_1", "period": "2026-02-30"}, "must be a date YYYY-MM-DD"),
    ({"subscription_id": "sub_1", "period": "soon"}, "must be a date YYYY-MM-DD"),
    ({"subscription_id": "sub_1", "period": True}, "must be a date YYYY-MM-DD"),
])
def test_a_half_given_or_bad_period_names_order_period(order: dict[str, Any],
                                                       reason: str) -> None:
    [(field, message)] = errors(order=order)
    assert field == "events[0].order.period" and reason in message


def test_a_crm_event_is_marked_and_gets_the_lead_id_rule() -> None:
    lead = event(event_name="QualifiedLead", action_source="system_generated",
                 user={"lead_id": 123456789012345})
    assert lead.custom_data["event_source"] == "crm"
    assert resolve_event_id(lead, "shop-") == "lead:123456789012345:QualifiedLead"
    # Not a CRM event: a website event with a lead id keeps the usual rules.
    web = event(event_name="Lead", user={"lead_id": "12"})
    assert "event_source" not in web.custom_data and resolve_event_id(web).startswith("h-")


@pytest.mark.parametrize("lead_id", ["12345678901234", "123456789012345678", "12345678901234a",
                                     "１２３４５６７８９０１２３４５"])
def test_a_crm_event_with_a_bad_lead_id_names_the_field(lead_id: str) -> None:
    [(field, reason)] = errors(action_source="system_generated", user={"lead_id": lead_id})
    assert field == "events[0].user.lead_id" and "15 to 17 digits" in reason


def test_the_crm_name_comes_from_the_event_else_the_setting() -> None:
    lead = event(event_name="Lead", action_source="system_generated",
                 user={"lead_id": "123456789012345"})
    named = with_lead_event_source(lead, "HubSpot", "events[3]")
    assert isinstance(named, Event) and named.custom_data["lead_event_source"] == "HubSpot"
    own = event(event_name="Lead", action_source="system_generated",
                user={"lead_id": "123456789012345"}, custom_data={"lead_event_source": "Zoho"})
    kept = with_lead_event_source(own, "HubSpot", "events[3]")
    assert isinstance(kept, Event) and kept.custom_data["lead_event_source"] == "Zoho"
    [missing] = with_lead_event_source(lead, None, "events[3]")  # type: ignore[misc]
    assert isinstance(missing, FieldError)
    assert missing.field == "events[3].custom_data.lead_event_source"
    bad = event(event_name="Lead", action_source="system_generated",
                user={"lead_id": "123456789012345"}, custom_data={"lead_event_source": 7})
    [wrong] = with_lead_event_source(bad, "HubSpot", "events[3]")  # type: ignore[misc]
    assert "the CRM's name" in wrong.reason
