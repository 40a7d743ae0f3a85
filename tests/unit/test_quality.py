"""Customer-information rules and the EMQ estimate.

Rule 29 is the strict fake Graph API's (tests/fakes/meta_event_checks.py): Meta's "baseline
matching rule", subcode 2804050
(https://developers.facebook.com/documentation/ads-commerce/conversions-api/best-practices).
"""

from __future__ import annotations

import pytest

from trackside.quality import (
    customer_information_keys,
    has_sufficient_customer_information,
    match_keys_report,
)

H = "a" * 64


def test_customer_information_keys_ignores_empty_and_unknown() -> None:
    user_data = {"em": [H], "ph": [], "fn": None, "client_user_agent": "", "fbp": "fb.1.1.1",
                 "custom": "x", "lead_id": "123456789012345"}  # fmt: skip
    assert customer_information_keys(user_data) == {"em", "fbp", "lead_id"}


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (set(), False),
        ({"ct", "country", "st", "zp", "ge", "client_user_agent"}, False),
        ({"country", "client_user_agent"}, False),
        ({"zp"}, False),
        ({"db", "client_user_agent"}, False),
        ({"db"}, False),
        ({"fn", "ge"}, False),
        ({"ln", "ge"}, False),
        ({"ln"}, False),
        ({"fn", "ln"}, True),
        ({"db", "country"}, True),
        ({"fn", "ge", "country"}, True),
        ({"em"}, True),
        ({"client_ip_address"}, True),
        ({"client_ip_address", "client_user_agent"}, True),
        ({"fbp"}, True),
        ({"external_id"}, True),
        ({"lead_id"}, True),
    ],
)
def test_has_sufficient_customer_information(keys: set[str], expected: bool) -> None:
    user_data = {key: "x" if key.startswith(("client", "fb", "lead")) else [H] for key in keys}
    assert has_sufficient_customer_information(user_data) is expected


def test_report_for_a_rich_event() -> None:
    user_data = {key: [H] for key in ("em", "ph", "fn", "ln", "ct", "st", "zp", "country",
                                      "db", "ge", "external_id")}  # fmt: skip
    user_data |= {"client_ip_address": "1.2.3.4", "client_user_agent": "UA",
                  "fbc": "fb.1.1554763741205.x", "fbp": "fb.1.1596403881668.1"}  # fmt: skip
    report = match_keys_report(user_data)
    assert report["score"] == 10.0
    assert report["missing"] == []
    assert report["sufficient"] is True
    assert report["estimate"] is True


def test_report_orders_missing_keys_by_usefulness() -> None:
    report = match_keys_report({"client_user_agent": "UA", "country": [H]})
    assert report["present"] == ["client_user_agent", "country"]
    assert report["missing"][:3] == ["em", "ph", "client_ip_address"]
    assert report["sufficient"] is False
    assert 0 < report["score"] < 2


def test_report_scores_more_keys_higher() -> None:
    low = match_keys_report({"client_ip_address": "1.2.3.4", "client_user_agent": "UA"})
    mid = match_keys_report({"client_ip_address": "1.2.3.4", "client_user_agent": "UA",
                             "fbp": "fb.1.1596403881668.1"})  # fmt: skip
    high = match_keys_report({"client_ip_address": "1.2.3.4", "client_user_agent": "UA",
                              "fbp": "fb.1.1596403881668.1", "em": [H]})  # fmt: skip
    assert low["score"] < mid["score"] < high["score"] <= 10


def test_lead_id_alone_is_a_strong_match() -> None:
    assert match_keys_report({"lead_id": "123456789012345"})["score"] >= 6.0


def test_empty_report() -> None:
    report = match_keys_report({})
    assert report["score"] == 0.0
    assert report["present"] == []
    assert report["sufficient"] is False
