"""MetaDestination: payload, request and verdicts.

Payload fields: https://developers.facebook.com/documentation/ads-commerce/conversions-api/parameters/server-event
(and its customer-information and custom-data pages); verdicts by Meta's error codes:
https://developers.facebook.com/docs/graph-api/guides/error-handling
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx
import pytest

from trackside import PARTNER_AGENT
from trackside.config import Settings
from trackside.destinations import Prepared, Skip, Verdict
from trackside.destinations.meta import MetaDestination, classify_response, event_payload
from trackside.destinations.meta import rules as mr
from trackside.events import Item, NormalizedEvent, Order

NOW = 1_790_000_000.0
TOKEN = "EAAT-super-secret-token"


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "meta_pixel_id": "123456789012345",
        "meta_access_token": TOKEN,
        "meta_graph_url": "http://127.0.0.1:9",
    }
    values.update(overrides)
    return Settings(**values)


def purchase(**overrides: Any) -> NormalizedEvent:
    values: dict[str, Any] = {
        "event_name": "Purchase",
        "event_id": "XKBKNABJK",
        "event_time": int(NOW) - 30,
        "action_source": "website",
        "event_source_url": "https://shop.example/order-confirmation",
        "user_data": {
            "em": [sha("john_smith@gmail.com")],
            "ph": [sha("33612345678"), sha("33698765432")],
            "external_id": [sha("42")],
            "client_ip_address": "2001:db8::1",
            "client_user_agent": "Mozilla/5.0",
            "fbp": "fb.1.1596403881668.1116446470",
        },
        "order": Order(
            reference="XKBKNABJK",
            value=59.8,
            currency="EUR",
            items=[Item(id="SKU-1", price=19.9, quantity=2), Item(id="SKU-2", price=20.0)],
        ),
    }
    values.update(overrides)
    return NormalizedEvent(**values)


def prepared(destination: MetaDestination, event: NormalizedEvent) -> Prepared:
    result = destination.prepare(7, event, NOW)
    assert isinstance(result, Prepared), result
    return result


# -- payload -----------------------------------------------------------------------------------


def test_purchase_payload_shape() -> None:
    payload = prepared(MetaDestination(settings()), purchase()).payload
    assert payload == {
        "event_name": "Purchase",
        "event_time": int(NOW) - 30,
        "event_id": "XKBKNABJK",
        "action_source": "website",
        "event_source_url": "https://shop.example/order-confirmation",
        "user_data": {
            "em": sha("john_smith@gmail.com"),  # one value → a plain string
            "ph": [sha("33612345678"), sha("33698765432")],  # several → a list
            "external_id": sha("42"),
            "client_ip_address": "2001:db8::1",
            "client_user_agent": "Mozilla/5.0",
            "fbp": "fb.1.1596403881668.1116446470",
        },
        "custom_data": {
            "value": 59.8,
            "currency": "EUR",
            "contents": [
                {"id": "SKU-1", "quantity": 2, "item_price": 19.9},
                {"id": "SKU-2", "quantity": 1, "item_price": 20},
            ],
            "content_ids": ["SKU-1", "SKU-2"],
            "content_type": "product",
            "num_items": 3,
            "order_id": "XKBKNABJK",
        },
    }


def test_optional_event_fields() -> None:
    event = purchase(referrer_url="https://www.google.com/", opt_out=True)
    payload = event_payload(event)
    assert payload["referrer_url"] == "https://www.google.com/"
    assert payload["opt_out"] is True
    assert "opt_out" not in event_payload(purchase())  # only sent when true
    assert "data_processing_options" not in event_payload(purchase())


def test_custom_data_passes_through_without_overriding_standard_keys() -> None:
    event = purchase(custom_data={"value": 1, "currency": "USD", "order_id": "X", "coupon": "BF"})
    custom = event_payload(event)["custom_data"]
    assert (custom["value"], custom["currency"], custom["order_id"]) == (59.8, "EUR", "XKBKNABJK")
    assert custom["coupon"] == "BF"


def test_event_without_order_keeps_its_custom_data() -> None:
    event = purchase(event_name="Search", order=None, custom_data={"search_string": "shoes"})
    assert event_payload(event)["custom_data"] == {"search_string": "shoes"}
    assert "custom_data" not in event_payload(purchase(event_name="PageView", order=None))


def test_unknown_and_empty_user_keys_are_not_sent() -> None:
    event = purchase(user_data={"em": [sha("a")], "fbc": "", "ga_client_id": "1.2", "ph": []})
    assert event_payload(event)["user_data"] == {"em": sha("a")}


def test_lead_id_goes_as_integer() -> None:
    event = purchase(user_data={"em": [sha("a")], "lead_id": "123456789012345"})
    assert event_payload(event)["user_data"]["lead_id"] == 123456789012345


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("off", None),
        ("geo", (["LDU"], 0, 0)),
        ("always-california", (["LDU"], 1, 1000)),
    ],
)
def test_ldu_modes_pass_rule_20(mode: str, expected: tuple[list[str], int, int] | None) -> None:
    destination = MetaDestination(settings(meta_ldu=mode))
    # With and without an IP (rule 20 needs a state when Meta cannot geolocate).
    for user_data in (purchase().user_data, {"em": [sha("a")], "client_user_agent": "UA"}):
        payload = prepared(destination, purchase(user_data=user_data)).payload
        keys = (
            "data_processing_options",
            "data_processing_options_country",
            "data_processing_options_state",
        )
        if expected is None:
            assert not set(keys) & set(payload)
        else:
            assert tuple(payload[k] for k in keys) == expected
        assert mr.check_event(payload, mr.RulesConfig(mode="strict"), NOW) is None


def test_hashed_user_data_passes_rule_23_in_strict_mode() -> None:
    payload = prepared(MetaDestination(settings()), purchase()).payload
    assert mr.check_event(payload, mr.RulesConfig(mode="strict"), NOW) is None
    for key in mr.HASHED_KEYS:
        value = payload["user_data"].get(key)
        for item in [value] if isinstance(value, str) else value or []:
            assert len(item) == 64 and item == item.lower()


# -- prepare: local checks so one event never poisons a batch ----------------------------------

SKIPS = [
    pytest.param(
        purchase(event_time=int(NOW) - 7 * 86400 - 5), "expired", "2804003", id="older_than_7d"
    ),
    pytest.param(
        purchase(event_time=int(NOW) - 7 * 86400 + 10), "expired", "2804003", id="inside_margin"
    ),
    pytest.param(
        purchase(user_data={"client_user_agent": "UA"}), "dead", "100/2804050", id="rule29"
    ),
    pytest.param(
        purchase(user_data={"ct": [sha("paris")], "country": [sha("fr")]}),
        "dead",
        "100/2804050",
        id="rule29_too_broad",
    ),
    pytest.param(
        purchase(order=Order(reference="R")), "dead", "100/2804019", id="purchase_without_value"
    ),
    pytest.param(purchase(event_source_url=None), "dead", "100: ", id="website_without_url"),
    pytest.param(purchase(user_data={"em": ["not-a-hash"]}), "dead", "100/2804016", id="unhashed"),
    pytest.param(
        purchase(user_data={"em": [sha("a")], "fbc": "fb.1.123"}),
        "dead",
        "100/2804001",
        id="bad_fbc",
    ),
    pytest.param(purchase(event_time=int(NOW) + 3600), "dead", "100: ", id="future"),
]


@pytest.mark.parametrize(("event", "outcome", "reason"), SKIPS)
def test_prepare_skips_what_meta_would_refuse(
    event: NormalizedEvent, outcome: str, reason: str
) -> None:
    result = MetaDestination(settings()).prepare(1, event, NOW)
    assert isinstance(result, Skip)
    assert result.outcome == outcome
    assert reason in result.reason


def test_prepare_accepts_server_purchase_without_user_agent_in_compat_mode() -> None:
    event = purchase(user_data={"em": [sha("a")]})
    result = MetaDestination(settings()).prepare(1, event, NOW)
    assert isinstance(result, Prepared)
    assert any("client_user_agent" in note for note in result.notes)
    strict = MetaDestination(
        settings(), rules=mr.RulesConfig(mode="strict", require_user_agent=True)
    )
    assert isinstance(strict.prepare(1, event, NOW), Skip)


def test_batches_of_at_most_1000() -> None:
    destination = MetaDestination(settings())
    item = prepared(destination, purchase())
    sizes = [len(b) for b in destination.batches([item] * 2500)]
    assert sizes == [1000, 1000, 500]
    assert destination.max_batch_size == 1000 and destination.max_event_age_s == 7 * 86400
    assert destination.name == "meta"


@pytest.mark.parametrize(("action_source", "days", "sent"), [
    ("physical_store", 61.9, True),
    ("physical_store", 62.1, False),
    ("phone_call", 6.9, True),
    ("phone_call", 7.1, False),
    ("website", 7.1, False),
])
def test_physical_store_events_get_62_days_others_7(action_source: str, days: float,
                                                    sent: bool) -> None:
    # https://developers.facebook.com/documentation/ads-commerce/conversions-api/parameters/server-event
    destination = MetaDestination(settings())
    event = purchase(action_source=action_source, event_time=int(NOW - days * 86400),
                     event_source_url=None if action_source != "website"
                     else "https://shop.example/thanks")
    result = destination.prepare(1, event, NOW)
    assert isinstance(result, Prepared) is sent, result
    if not sent:
        assert isinstance(result, Skip) and result.outcome == "expired"
        assert ("62 days" in result.reason) is (action_source == "physical_store")


def test_physical_store_events_never_share_a_request_with_others() -> None:
    destination = MetaDestination(settings())
    store = prepared(destination, purchase(action_source="physical_store", event_source_url=None,
                                           event_time=int(NOW) - 30 * 86400))
    web = prepared(destination, purchase())
    batches = destination.batches([web, store, web, store, web])
    assert sorted(len(batch) for batch in batches) == [2, 3]
    for batch in batches:
        assert len({item.event.action_source for item in batch}) == 1


# -- request -----------------------------------------------------------------------------------


def form_fields(request: httpx.Request) -> dict[str, Any]:
    """The body's fields, decoded the way Graph does (form-urlencoded or multipart)."""
    request.read()  # a multipart body is a stream until read
    media = request.headers["content-type"].split(";")[0]
    assert media in ("application/x-www-form-urlencoded", "multipart/form-data")
    return mr.decode_body(request.content, request.headers["content-type"])


def test_request_is_a_form_with_the_token_in_the_body() -> None:
    destination = MetaDestination(settings(meta_test_event_code="TEST123"))
    items = [prepared(destination, purchase()), prepared(destination, purchase(event_id="B"))]
    request = destination.build_request(items)
    assert request.method == "POST"
    assert str(request.url) == "http://127.0.0.1:9/v26.0/123456789012345/events"
    assert TOKEN not in str(request.url) and TOKEN not in repr(request)
    form = form_fields(request)
    assert set(form) == {"data", "access_token", "partner_agent", "test_event_code"}
    assert form["access_token"] == TOKEN
    assert form["partner_agent"] == PARTNER_AGENT
    assert form["test_event_code"] == "TEST123"
    assert json.loads(form["data"]) == [items[0].payload, items[1].payload]
    # The request passes the validator as Meta would see it.
    parsed = mr.parse_request(
        "POST", "v26.0", "123456789012345", {}, dict(request.headers), request.read()
    )
    assert isinstance(parsed, mr.GraphRequest)
    assert mr.validate(parsed, mr.RulesConfig(mode="compat"), NOW).ok


def test_no_test_event_code_unless_configured() -> None:
    destination = MetaDestination(settings())
    request = destination.build_request([prepared(destination, purchase())])
    assert "test_event_code" not in form_fields(request)


def test_repr_and_constructor_never_show_the_token() -> None:
    assert TOKEN not in repr(MetaDestination(settings()))
    with pytest.raises(ValueError) as excinfo:
        MetaDestination(Settings(meta_pixel_id="1"))
    assert TOKEN not in str(excinfo.value)


# -- classification (Meta's error codes, every row) --------------------------------------------


def graph_error(
    status: int, code: int, subcode: int | None = None, transient: bool = False, **extra: Any
) -> httpx.Response:
    error: dict[str, Any] = {
        "message": "msg",
        "type": "OAuthException",
        "code": code,
        "is_transient": transient,
        "fbtrace_id": "TRACE",
        **extra,
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    return httpx.Response(status, json={"error": error})


CLASSIFY = [
    pytest.param(graph_error(500, 1, 99, True), Verdict.RETRY, id="1_unknown_error"),
    pytest.param(graph_error(500, 2, None, True), Verdict.RETRY, id="2_service_unavailable"),
    pytest.param(graph_error(400, 4, 1504022, True), Verdict.THROTTLED, id="4_app_limit"),
    pytest.param(
        graph_error(400, 4, 1504039, False), Verdict.THROTTLED, id="4_app_limit_not_transient"
    ),
    pytest.param(graph_error(400, 17, 2446079, True), Verdict.THROTTLED, id="17_user_limit"),
    pytest.param(graph_error(400, 32), Verdict.THROTTLED, id="32_page_limit"),
    pytest.param(graph_error(400, 341), Verdict.RETRY, id="341_app_limit_reached"),
    pytest.param(graph_error(400, 368), Verdict.DISABLED, id="368_policy_block"),
    pytest.param(graph_error(400, 613, 1487742), Verdict.THROTTLED, id="613_rate_limit"),
    pytest.param(graph_error(400, 613, 5044001), Verdict.THROTTLED, id="613_custom_limit"),
    pytest.param(graph_error(400, 80000), Verdict.THROTTLED, id="80000_buc"),
    pytest.param(graph_error(400, 80003), Verdict.THROTTLED, id="80003_buc"),
    pytest.param(graph_error(400, 80004), Verdict.THROTTLED, id="80004_buc"),
    pytest.param(graph_error(400, 80014), Verdict.THROTTLED, id="80014_buc"),
    pytest.param(graph_error(400, 5000), Verdict.RETRY, id="5000_unknown_code"),
    pytest.param(graph_error(403, 10), Verdict.DISABLED, id="10_permission"),
    pytest.param(graph_error(403, 200), Verdict.DISABLED, id="200_permission"),
    pytest.param(graph_error(403, 299), Verdict.DISABLED, id="299_permission"),
    pytest.param(graph_error(400, 102), Verdict.DISABLED, id="102_session_key"),
    pytest.param(graph_error(401, 190), Verdict.DISABLED, id="190_invalid_token"),
    pytest.param(graph_error(401, 190, 460), Verdict.DISABLED, id="190_460_password_changed"),
    pytest.param(graph_error(401, 190, 463), Verdict.DISABLED, id="190_463_expired"),
    pytest.param(graph_error(401, 190, 467), Verdict.DISABLED, id="190_467_invalid"),
    pytest.param(graph_error(400, 100, 33), Verdict.DISABLED, id="100_33_unknown_object"),
    pytest.param(graph_error(400, 104), Verdict.DISABLED, id="104_no_token"),
    pytest.param(graph_error(400, 2635), Verdict.DISABLED, id="2635_deprecated_version"),
    pytest.param(graph_error(400, 100, 2804001), Verdict.REJECTED, id="100_2804001_fbc"),
    pytest.param(graph_error(400, 100, 2804003), Verdict.REJECTED, id="100_2804003_too_old"),
    pytest.param(graph_error(400, 100, 2804007), Verdict.REJECTED, id="100_2804007"),
    pytest.param(graph_error(400, 100, 2804014), Verdict.REJECTED, id="100_2804014"),
    pytest.param(graph_error(400, 100, 2804016), Verdict.REJECTED, id="100_2804016_not_hashed"),
    pytest.param(graph_error(400, 100, 2804017), Verdict.REJECTED, id="100_2804017"),
    pytest.param(graph_error(400, 100, 2804019), Verdict.REJECTED, id="100_2804019"),
    pytest.param(graph_error(400, 100, 2804030), Verdict.REJECTED, id="100_2804030_ldu"),
    pytest.param(graph_error(400, 100, 2804036), Verdict.REJECTED, id="100_2804036_lead_id"),
    pytest.param(graph_error(400, 100, 2804048), Verdict.REJECTED, id="100_2804048"),
    pytest.param(graph_error(400, 100, 2804050), Verdict.REJECTED, id="100_2804050_insufficient"),
    pytest.param(graph_error(400, 100, 2804116), Verdict.REJECTED, id="100_2804116_messaging"),
    pytest.param(graph_error(400, 100, 2804131), Verdict.REJECTED, id="100_2804131_no_page"),
    pytest.param(graph_error(400, 100), Verdict.REJECTED, id="100_no_subcode"),
    pytest.param(graph_error(400, 12345, None, True), Verdict.RETRY, id="unknown_code_transient"),
    pytest.param(graph_error(400, 12345), Verdict.RETRY, id="unknown_code_retries_until_expiry"),
    pytest.param(graph_error(503, 12345), Verdict.RETRY, id="unknown_code_5xx"),
    pytest.param(
        httpx.Response(502, text="<html>Bad gateway</html>"), Verdict.RETRY, id="html_5xx"
    ),
    pytest.param(httpx.Response(200, text="<html>hi</html>"), Verdict.RETRY, id="html_200"),
    pytest.param(httpx.Response(200, content=b""), Verdict.RETRY, id="empty_200"),
    pytest.param(
        httpx.Response(200, json={"ok": True}), Verdict.RETRY, id="200_without_events_received"
    ),
    pytest.param(httpx.Response(400, json=[1]), Verdict.RETRY, id="json_not_object"),
    pytest.param(httpx.Response(500, json={}), Verdict.RETRY, id="5xx_without_error"),
]


@pytest.mark.parametrize(("response", "verdict"), CLASSIFY)
def test_classification_by_code(response: httpx.Response, verdict: Verdict) -> None:
    result = MetaDestination(settings()).classify(response, None, 3)
    assert result.verdict is verdict
    assert result.http_status == response.status_code
    body = response.json() if response.content.startswith(b"{") else {}
    if "error" in body:
        assert (result.code, result.subcode) == (
            body["error"]["code"],
            body["error"].get("error_subcode"),
        )
        assert result.trace_id == "TRACE"
    if verdict is Verdict.THROTTLED:
        # No hint from Meta: the worker picks an escalating pause (delivery.throttle_pause).
        assert result.retry_after_s is None


def test_delivered() -> None:
    response = httpx.Response(200, json={"events_received": 3, "messages": [], "fbtrace_id": "T"})
    result = classify_response(response, None, 3)
    assert (result.verdict, result.trace_id, result.message) == (Verdict.DELIVERED, "T", None)
    assert "2 of 3" in (
        classify_response(
            httpx.Response(200, json={"events_received": 2, "messages": []}), None, 3
        ).message
        or ""
    )


def test_network_errors_retry() -> None:
    for error in (httpx.ConnectError("refused"), httpx.ReadTimeout("timed out")):
        result = classify_response(None, error, 1)
        assert result.verdict is Verdict.RETRY
        assert type(error).__name__ in (result.message or "")


def test_throttle_honours_estimated_time_to_regain_access() -> None:
    body = graph_error(400, 80004, error_data={"estimated_time_to_regain_access": 7})
    assert classify_response(body, None, 1).retry_after_s == 420
    header = httpx.Response(
        400,
        json={"error": {"code": 4, "is_transient": True}},
        headers={
            "x-business-use-case-usage": json.dumps(
                {"123": [{"type": "ads_management", "estimated_time_to_regain_access": 3}]}
            )
        },
    )
    assert classify_response(header, None, 1).retry_after_s == 180
    retry_after = httpx.Response(400, json={"error": {"code": 17}}, headers={"retry-after": "90"})
    assert classify_response(retry_after, None, 1).retry_after_s == 90


def test_verdict_ignores_localized_text() -> None:
    english = graph_error(400, 100, 2804016, error_user_title="User Parameter Not Hashed")
    french = graph_error(400, 100, 2804016, error_user_title="Paramètre utilisateur non haché")
    a, b = classify_response(english, None, 1), classify_response(french, None, 1)
    assert (a.verdict, a.code, a.subcode) == (b.verdict, b.code, b.subcode)
    assert "Paramètre" in (b.message or "")


def test_classification_message_never_carries_the_token() -> None:
    destination = MetaDestination(settings())
    echoed = graph_error(400, 100, 2804016, error_user_msg=f"token {TOKEN} echoed")
    result = destination.classify(echoed, None, 1)
    assert TOKEN not in (result.message or "") and "**********" in (result.message or "")
    failed = destination.classify(None, httpx.ConnectError(f"bad {TOKEN}"), 1)
    assert TOKEN not in (failed.message or "")
