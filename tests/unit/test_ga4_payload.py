"""GA4 payload building, policies, local limits and classification.

Limits: https://developers.google.com/analytics/devguides/collection/protocol/ga4/sending-events;
ecommerce events: https://developers.google.com/analytics/devguides/collection/ga4/reference/events
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from trackside.config import Settings
from trackside.destinations import Prepared, Skip, Verdict
from trackside.destinations.ga4 import (
    GA4_EVENT_NAMES,
    UNATTRIBUTED_NOTE,
    GA4Destination,
    client_id_from_cookie,
    session_id_from_cookie,
    synthesize_client_id,
)
from trackside.destinations.ga4 import rules as ga4_rules
from trackside.events import NormalizedEvent

NOW = 1_795_000_000.0
SECRET = "s3cr3t-ga4-api-secret-value"
EXTERNAL = "5feceb66ffc86f38d952786c6d696c79c2dbc239dd4e91b46729d73a27fb57e9"


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "ga4_measurement_id": "G-TEST123",
        "ga4_api_secret": SECRET,
        "ga4_url": "http://127.0.0.1:9",
    }
    values.update(overrides)
    return Settings(**values)


def event(**overrides: Any) -> NormalizedEvent:
    values: dict[str, Any] = {
        "event_name": "Purchase",
        "event_id": "ORDERREF",
        "event_time": int(NOW) - 30,
        "action_source": "website",
        "user_data": {"external_id": [EXTERNAL]},
        "ga_client_id": "GA1.1.1197596843.1673515099",
        "order": {
            "reference": "ORDERREF",
            "value": 59.9,
            "currency": "EUR",
            "items": [
                {"id": "SKU-1", "name": "Mug", "price": 19.95, "quantity": 2,
                 "category": "Kitchen"},
                {"id": "SKU-2", "price": 20.0},
            ],
            "shipping": 4.9,
            "tax": 9.98,
            "coupon": "WELCOME10",
        },
        "consent": {"analytics_storage": "granted"},
    }
    values.update(overrides)
    return NormalizedEvent.model_validate(values)


def prepared(dest: GA4Destination | None = None, **overrides: Any) -> Prepared:
    result = (dest or GA4Destination(settings())).prepare(1, event(**overrides), NOW)
    assert isinstance(result, Prepared), result
    return result


def skipped(dest: GA4Destination | None = None, **overrides: Any) -> Skip:
    result = (dest or GA4Destination(settings())).prepare(1, event(**overrides), NOW)
    assert isinstance(result, Skip), result
    return result


def body_of(request: httpx.Request) -> dict[str, Any]:
    return json.loads(request.content)


# -- construction -----------------------------------------------------------------------------


def test_destination_attributes() -> None:
    dest = GA4Destination(settings())
    assert (dest.name, dest.max_batch_size, dest.max_event_age_s) == ("ga4", 25, 72 * 3600)


def test_not_configured_is_refused_in_plain_words() -> None:
    with pytest.raises(ValueError, match="TRACKSIDE_GA4_API_SECRET"):
        GA4Destination(Settings(ga4_measurement_id="G-X"))


def test_repr_does_not_show_the_secret() -> None:
    assert SECRET not in repr(GA4Destination(settings()))


# -- event names --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("Purchase", "purchase"),
        ("AddToCart", "add_to_cart"),
        ("InitiateCheckout", "begin_checkout"),
        ("ViewContent", "view_item"),
        ("AddPaymentInfo", "add_payment_info"),
        ("Lead", "generate_lead"),
        ("CompleteRegistration", "sign_up"),
        ("Search", "search"),
        ("Refund", "refund"),
        ("add_to_cart", "add_to_cart"),
    ],
)
def test_event_names_map_to_ga4(source: str, expected: str) -> None:
    payload = prepared(event_name=source, event_id=f"{source}:ORDERREF").payload
    assert payload["event"]["name"] == expected


def test_mapping_is_exposed_for_reuse() -> None:
    assert GA4_EVENT_NAMES["Refund"] == "refund"
    assert GA4_EVENT_NAMES["CompleteRegistration"] == "sign_up"


def test_unmapped_event_is_not_applicable() -> None:
    result = skipped(event_name="Contact", event_id="c1")
    assert result.outcome == "not_applicable"
    assert "Contact" in result.reason


def test_other_names_are_configurable() -> None:
    dest = GA4Destination(settings(),
                          event_names={"Contact": "contact_form", "Lead": "qualify_lead"})
    contact = prepared(dest, event_name="Contact", event_id="c1").payload
    assert contact["event"]["name"] == "contact_form"
    lead = prepared(dest, event_name="Lead", event_id="l1").payload
    assert lead["event"]["name"] == "qualify_lead"


@pytest.mark.parametrize("bad", ["page_view", "1abc", "has-dash", "x" * 41, "firebase_x", "_x"])
def test_configured_names_must_be_valid_ga4_names(bad: str) -> None:
    with pytest.raises(ValueError, match="not allowed"):
        GA4Destination(settings(), event_names={"Contact": bad})


# -- parameters ---------------------------------------------------------------------------------


def test_purchase_params_and_items() -> None:
    params = prepared().payload["event"]["params"]
    assert params == {
        "transaction_id": "ORDERREF",
        "value": 59.9,
        "currency": "EUR",
        "coupon": "WELCOME10",
        "shipping": 4.9,
        "tax": 9.98,
        "items": [
            {"item_id": "SKU-1", "item_name": "Mug", "price": 19.95, "quantity": 2,
             "item_category": "Kitchen"},
            {"item_id": "SKU-2", "price": 20.0, "quantity": 1},
        ],
    }  # fmt: skip


def test_purchase_transaction_id_is_the_event_id() -> None:
    result = prepared(event_id="SHOP1-XKBKNABJK")
    assert result.payload["event"]["params"]["transaction_id"] == "SHOP1-XKBKNABJK"


def test_non_purchase_events_carry_no_transaction_id() -> None:
    params = prepared(event_name="AddToCart", event_id="rand-1").payload["event"]["params"]
    assert "transaction_id" not in params
    assert params["value"] == 59.9 and params["items"][0]["item_id"] == "SKU-1"


def test_refund_names_the_purchase_transaction_with_the_prefix() -> None:
    dest = GA4Destination(settings(event_id_prefix="SHOP1-"))
    result = prepared(
        dest,
        event_name="Refund",
        event_id="Refund:SHOP1-ORDERREF",
        order={"reference": "ORDERREF", "value": -25.0, "currency": "EUR"},
    )
    ga4_event = result.payload["event"]
    assert ga4_event["name"] == "refund"
    # GA4 refund: same transaction_id as the purchase; value positive.
    assert ga4_event["params"]["transaction_id"] == "SHOP1-ORDERREF"
    assert ga4_event["params"]["value"] == 25.0


def test_refund_without_reference_uses_its_event_id() -> None:
    result = prepared(event_name="Refund", event_id="Refund:SHOP1-ORDERREF", order=None)
    assert result.payload["event"]["params"] == {"transaction_id": "SHOP1-ORDERREF"}


def test_refund_without_any_purchase_id_is_dead() -> None:
    result = skipped(event_name="Refund", event_id="r-123", order=None)
    assert result.outcome == "dead" and "transaction_id" in result.reason


def test_search_term_from_meta_search_string() -> None:
    result = prepared(
        event_name="Search", event_id="s1", order=None, custom_data={"search_string": "red mug"}
    )
    assert result.payload["event"]["params"] == {"search_term": "red mug"}


def test_long_item_labels_are_truncated_with_a_note() -> None:
    result = prepared(
        order={"value": 1.0, "currency": "EUR",
               "items": [{"id": "A", "name": "N" * 150, "category": "C" * 101}]}
    )  # fmt: skip
    item = result.payload["event"]["params"]["items"][0]
    assert item["item_name"] == "N" * 100 and item["item_category"] == "C" * 100
    assert "ga4: item_name truncated to 100 characters" in result.notes
    assert "ga4: item_category truncated to 100 characters" in result.notes


# -- timestamps ---------------------------------------------------------------------------------


def test_timestamp_micros_from_event_time() -> None:
    result = prepared(event_time=1_794_990_000)
    assert result.payload["event"]["timestamp_micros"] == 1_794_990_000_000_000
    assert len(str(result.payload["event"]["timestamp_micros"])) == 16


def test_event_from_the_future_is_sent_at_now() -> None:
    result = prepared(event_time=int(NOW) + 3600)
    assert result.payload["event"]["timestamp_micros"] == int(NOW * 1_000_000)


def test_events_older_than_72_hours_expire() -> None:
    result = skipped(event_time=int(NOW) - 72 * 3600 - 1)
    assert result.outcome == "expired" and "72 hours" in result.reason


def test_events_just_under_72_hours_are_sent() -> None:
    assert prepared(event_time=int(NOW) - 72 * 3600 + 60).payload["event"]["timestamp_micros"]


# -- client and session ids ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("GA1.1.1197596843.1673515099", "1197596843.1673515099"),
        ("GA1.2.42.1673515099", "42.1673515099"),
        ("GA1.3.123456789012.1673515099", "123456789012.1673515099"),
        ("1197596843.1673515099", "1197596843.1673515099"),
        ("  GA1.1.1.2  ", "1.2"),
        ("", None),
        (None, None),
        ("has space.1", None),
    ],
)
def test_client_id_from_ga_cookie(raw: str | None, expected: str | None) -> None:
    assert client_id_from_cookie(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("GS1.1.1673515099.1.1.1673515200.0.0.0", "1673515099"),
        ("GS2.1.s1747132561$o1$g0$t1747132655$j0$l0$h0", "1747132561"),
        ("GS2.1.o3$g1$s1747132561$t1747132655", "1747132561"),
        ("1747132561", "1747132561"),
        ("GS2.1.o3$g1$t1747132655", None),
        ("GS1.1.abc.1", None),
        ("garbage", None),
        (None, None),
    ],
)
def test_session_id_from_both_cookie_formats(raw: str | None, expected: str | None) -> None:
    assert session_id_from_cookie(raw) == expected


def test_client_and_session_ids_from_joined_browser_context() -> None:
    result = prepared(ga_session_id="GS2.1.s1747132561$o1$g0$t1747132655$j0$l0$h0")
    assert result.payload["client_id"] == "1197596843.1673515099"
    assert result.group_key == "1197596843.1673515099"
    params = result.payload["event"]["params"]
    assert params["session_id"] == "1747132561"
    assert params["engagement_time_msec"] == 1
    assert result.notes == []


def test_no_session_params_without_a_session() -> None:
    params = prepared().payload["event"]["params"]
    assert "session_id" not in params and "engagement_time_msec" not in params


def test_synthesize_policy_is_stable_per_external_id_and_flagged() -> None:
    dest = GA4Destination(settings())
    first = prepared(dest, ga_client_id=None, event_id="A")
    second = prepared(dest, ga_client_id=None, event_id="B", event_name="AddToCart")
    other = prepared(dest, ga_client_id=None, event_id="A", user_data={"external_id": ["f" * 64]})
    assert first.payload["client_id"] == second.payload["client_id"]
    assert first.payload["client_id"] != other.payload["client_id"]
    assert re.fullmatch(r"\d+\.\d+", first.payload["client_id"])
    assert first.group_key == first.payload["client_id"]
    assert first.notes == [UNATTRIBUTED_NOTE]


def test_synthesized_id_falls_back_to_the_event_id() -> None:
    result = prepared(ga_client_id=None, user_data={}, event_id="ORDER-9")
    assert result.payload["client_id"] == synthesize_client_id("ORDER-9")
    assert "user_id" not in result.payload


def test_unparseable_client_id_counts_as_missing() -> None:
    assert prepared(ga_client_id="   ").notes == [UNATTRIBUTED_NOTE]


def test_skip_policy_records_an_outcome() -> None:
    dest = GA4Destination(settings(ga4_without_client_id="skip"))
    result = skipped(dest, ga_client_id=None)
    assert result.outcome == "suppressed"
    assert "TRACKSIDE_GA4_WITHOUT_CLIENT_ID=skip" in result.reason
    assert isinstance(dest.prepare(1, event(), NOW), Prepared)


# -- user id and consent ------------------------------------------------------------------------


def test_user_id_is_the_hashed_external_id() -> None:
    assert prepared().payload["user_id"] == EXTERNAL


def test_user_id_is_never_an_email() -> None:
    result = prepared(user_data={"external_id": ["shopper@example.com"], "em": [EXTERNAL]})
    assert "user_id" not in result.payload
    assert "shopper@example.com" not in json.dumps(result.payload)


def test_no_user_id_without_external_id() -> None:
    assert "user_id" not in prepared(user_data={"em": [EXTERNAL]}).payload


def test_consent_in_payload_uppercase() -> None:
    result = prepared(
        consent={"analytics_storage": "granted", "ad_user_data": "granted",
                 "ad_personalization": "denied", "ad_storage": "denied"}
    )  # fmt: skip
    assert result.payload["consent"] == {"ad_user_data": "GRANTED", "ad_personalization": "DENIED"}


def test_no_consent_block_when_nothing_is_known() -> None:
    assert "consent" not in prepared(consent=None).payload


def test_analytics_consent_denied_is_suppressed() -> None:
    result = skipped(consent={"analytics_storage": "denied", "ad_user_data": "granted"})
    assert result.outcome == "suppressed" and "analytics_storage" in result.reason


def test_consent_is_checked_before_age() -> None:
    result = skipped(consent={"analytics_storage": "denied"}, event_time=int(NOW) - 100 * 3600)
    assert result.outcome == "suppressed"


# -- local limits (GA4's sending-events page) --------------------------------------------------


def _valid_body() -> dict[str, Any]:
    return {
        "client_id": "1.2",
        "user_id": "u",
        "consent": {"ad_user_data": "GRANTED"},
        "events": [
            {
                "name": "purchase",
                "timestamp_micros": int(NOW * 1_000_000),
                "params": {"transaction_id": "T", "value": 1.5, "currency": "EUR",
                           "items": [{"item_id": "A", "price": 1.5, "quantity": 1}]},
            }
        ],
    }  # fmt: skip


def test_valid_body_has_no_problems() -> None:
    assert ga4_rules.request_problems(_valid_body(), NOW) == []


def _set(body: dict[str, Any], path: str, value: Any) -> None:
    target: Any = body
    parts = path.split("/")
    for part in parts[:-1]:
        target = target[int(part)] if isinstance(target, list) else target[part]
    last = parts[-1]
    if value is _DELETE:
        del target[last]
    elif isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value


_DELETE = object()
_EVENT = "events/0"
_PARAMS = "events/0/params"


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("events", [_valid_body()["events"][0]] * 26, "at most 25 per request"),
        ("events", [], "at least one event"),
        (_PARAMS, {f"p{i}": i for i in range(26)}, "26 parameters, at most 25"),
        (f"{_EVENT}/name", "x" * 41, "at most 40 characters"),
        (f"{_EVENT}/name", "9lives", "starting with a letter"),
        (f"{_EVENT}/name", "add-to-cart", "letters, digits and underscores"),
        (f"{_EVENT}/name", "session_start", "reserved event name"),
        (f"{_EVENT}/name", "firebase_thing", "reserved"),
        (f"{_PARAMS}/ga_custom", "x", "reserved prefix"),
        (f"{_PARAMS}/_private", "x", "letters, digits"),
        (f"{_PARAMS}/" + "p" * 41, "x", "at most 40 characters"),
        (f"{_PARAMS}/coupon", "c" * 101, "101 characters long, at most 100"),
        (f"{_PARAMS}/items/0/item_name", "n" * 101, "at most 100"),
        (f"{_PARAMS}/items/0", {"item_id": "A", **{f"c{i}": 1 for i in range(11)}},
         "11 custom item parameters"),
        (f"{_PARAMS}/items/0", {"price": 1.0}, "needs item_id or item_name"),
        (f"{_PARAMS}/items/0/price", "1.50", "must be a JSON number"),
        (f"{_PARAMS}/value", "1.50", "must be a JSON number"),
        (f"{_PARAMS}/currency", _DELETE, "currency: is required when value is set"),
        (f"{_PARAMS}/currency", "EURO", "3-letter ISO 4217"),
        (f"{_PARAMS}/transaction_id", "", "non-empty string"),
        (f"{_PARAMS}/transaction_id", _DELETE, "non-empty string"),
        (f"{_EVENT}/timestamp_micros", int(NOW * 1000), "microseconds (16 digits)"),
        (f"{_EVENT}/timestamp_micros", int((NOW - 73 * 3600) * 1_000_000), "hours old"),
        (f"{_EVENT}/timestamp_micros", int((NOW + 3600) * 1_000_000), "in the future"),
        ("client_id", _DELETE, "client_id: is required"),
        ("client_id", "", "client_id: is required"),
        ("consent/ad_user_data", "granted", "GRANTED or DENIED"),
        ("consent/analytics_storage", "GRANTED", "not a consent field"),
        ("user_properties", {"first_visit_time": {"value": "x"}}, "reserved user property"),
        ("user_properties", {"u" * 25: {"value": "x"}}, "at most 24 characters"),
        ("user_properties", {"tier": {"value": "v" * 37}}, "at most 36"),
        ("user_properties", {f"u{i}": {"value": i} for i in range(26)}, "at most 25"),
        ("event", {"name": "x"}, "not a Measurement Protocol field"),
        (f"{_PARAMS}/blob", "x" * 99, None),
    ],
)
def test_each_local_limit(path: str, value: Any, expected: str | None) -> None:
    body = _valid_body()
    _set(body, path, value)
    problems = ga4_rules.request_problems(body, NOW)
    if expected is None:
        assert problems == []
    else:
        assert any(expected in p for p in problems), problems


def test_body_size_limit() -> None:
    body = _valid_body()
    body["events"][0]["params"]["items"] = [{"item_id": "i" * 100}] * 1400
    problems = ga4_rules.request_problems(body, NOW)
    assert any("must be under 130000" in p for p in problems), problems


def test_breaking_a_limit_dead_letters_with_the_reason() -> None:
    result = skipped(event_id="R" * 101)
    assert result.outcome == "dead"
    assert "transaction_id" in result.reason and "at most 100" in result.reason


def test_item_id_over_100_chars_is_dead_not_truncated() -> None:
    result = skipped(order={"value": 1.0, "currency": "EUR", "items": [{"id": "I" * 101}]})
    assert result.outcome == "dead" and "item_id" in result.reason


def test_value_without_currency_is_dead() -> None:
    result = skipped(order={"value": 10.0})
    assert result.outcome == "dead" and "currency" in result.reason


def test_single_event_over_the_body_limit_is_dead() -> None:
    items = [{"id": "i" * 100, "name": "n" * 100, "category": "c" * 100}] * 400
    result = skipped(order={"value": 1.0, "currency": "EUR", "items": items})
    assert result.outcome == "dead" and "130000" in result.reason


# -- batches and requests -----------------------------------------------------------------------


def test_batches_group_by_client_id_at_most_25() -> None:
    dest = GA4Destination(settings())
    items = [prepared(dest, event_id=f"a{i}", ga_client_id="GA1.1.1.1") for i in range(30)]
    items += [prepared(dest, event_id=f"b{i}", ga_client_id="2.2") for i in range(3)]
    batches = dest.batches(items)
    assert sorted(len(b) for b in batches) == [3, 5, 25]
    for batch in batches:
        assert len({p.payload["client_id"] for p in batch}) == 1
    assert sum(len(b) for b in batches) == 33


def test_batches_split_when_request_level_fields_differ() -> None:
    dest = GA4Destination(settings())
    anonymous = prepared(dest, event_id="a", user_data={})
    logged_in = prepared(dest, event_id="b")
    denied = prepared(dest, event_id="c", consent={"ad_user_data": "denied"})
    batches = dest.batches([anonymous, logged_in, denied])
    assert len(batches) == 3


def test_batches_stay_under_the_body_limit() -> None:
    dest = GA4Destination(settings())
    items = [{"id": f"{i}" + "i" * 90, "name": "n" * 100, "category": "c" * 100}
             for i in range(100)]
    big = [
        prepared(dest, event_id=f"e{i}", order={"value": 1.0, "currency": "EUR", "items": items})
        for i in range(12)
    ]
    batches = dest.batches(big)
    assert len(batches) > 1
    for batch in batches:
        body = dest.build_request(batch).content
        assert len(body) < 130_000
        assert ga4_rules.request_problems(json.loads(body), NOW) == []


def test_build_request_shape() -> None:
    dest = GA4Destination(settings(ga4_url="https://region1.google-analytics.com"))
    batch = [prepared(dest, event_id="a"), prepared(dest, event_id="b", event_name="AddToCart")]
    request = dest.build_request(batch)
    assert request.method == "POST"
    assert request.url.path == "/mp/collect"
    assert request.url.host == "region1.google-analytics.com"
    assert request.url.params["measurement_id"] == "G-TEST123"
    assert request.url.params["api_secret"] == SECRET
    assert request.headers["Content-Type"] == "application/json"
    body = body_of(request)
    assert set(body) == {"client_id", "user_id", "events"}
    assert [e["name"] for e in body["events"]] == ["purchase", "add_to_cart"]
    assert ga4_rules.request_problems(body, NOW) == []


def test_build_request_refuses_mixed_request_fields() -> None:
    dest = GA4Destination(settings())
    with pytest.raises(ValueError, match="share client_id"):
        dest.build_request([prepared(dest), prepared(dest, ga_client_id="9.9")])


def test_request_repr_masks_the_secret() -> None:
    dest = GA4Destination(settings())
    request = dest.build_request([prepared(dest)])
    assert SECRET not in repr(request)
    assert "api_secret=**********" in repr(request)


def test_secret_is_not_in_payloads_or_skip_reasons() -> None:
    dest = GA4Destination(settings())
    assert SECRET not in json.dumps(prepared(dest).payload)
    assert SECRET not in skipped(dest, event_id="R" * 101).reason


# -- classify -----------------------------------------------------------------------------------


def _response(status: int, text: str = "", headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, text=text, headers=headers)


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (200, Verdict.DELIVERED),
        (204, Verdict.DELIVERED),
        (500, Verdict.RETRY),
        (503, Verdict.RETRY),
        (429, Verdict.THROTTLED),
        (401, Verdict.DISABLED),
        (403, Verdict.DISABLED),
        (400, Verdict.REJECTED),
        (413, Verdict.REJECTED),
        (301, Verdict.DISABLED),
    ],
)
def test_classify_by_status(status: int, verdict: Verdict) -> None:
    result = GA4Destination(settings()).classify(_response(status), None, 1)
    assert result.verdict is verdict
    assert result.http_status == status


@pytest.mark.parametrize(
    "error",
    [httpx.ConnectError("Connection refused"), httpx.ReadTimeout("timed out"), OSError("reset")],
)
def test_classify_network_errors_retry(error: Exception) -> None:
    result = GA4Destination(settings()).classify(None, error, 3)
    assert result.verdict is Verdict.RETRY
    assert result.message and "GA4 unreachable" in result.message


def test_classify_retry_after() -> None:
    result = GA4Destination(settings()).classify(
        _response(429, headers={"Retry-After": "30"}), None, 1
    )
    assert result.retry_after_s == 30.0


def test_classification_messages_never_hold_the_secret() -> None:
    dest = GA4Destination(settings())
    leaky = f"bad request for /mp/collect?measurement_id=G-TEST123&api_secret={SECRET}"
    for result in (
        dest.classify(_response(400, text=leaky), None, 1),
        dest.classify(_response(403, text=SECRET), None, 1),
        dest.classify(
            _response(302, headers={"Location": f"https://x/?api_secret={SECRET}"}), None, 1
        ),
        dest.classify(None, httpx.ConnectError(leaky), 1),
    ):
        assert result.message and SECRET not in result.message
