"""GA4 destination against the fake GA4 server over real HTTP on loopback.

Transport: https://developers.google.com/analytics/devguides/collection/protocol/ga4/reference;
validation server: https://developers.google.com/analytics/devguides/collection/protocol/ga4/validating-events
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fakes.ga4_fixtures import FakeGA4Handle, fake_ga4  # noqa: F401
from tests.fakes.server import free_port
from trackside.config import Settings
from trackside.destinations import Prepared, Verdict
from trackside.destinations.ga4 import GA4Destination, debug_validate
from trackside.destinations.ga4 import rules as ga4_rules
from trackside.events import NormalizedEvent

EXTERNAL = "5feceb66ffc86f38d952786c6d696c79c2dbc239dd4e91b46729d73a27fb57e9"


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as c:
        yield c


def _event(now: float, **overrides: Any) -> NormalizedEvent:
    values: dict[str, Any] = {
        "event_name": "Purchase",
        "event_id": "XKBKNABJK",
        "event_time": int(now) - 60,
        "action_source": "website",
        "user_data": {"external_id": [EXTERNAL]},
        "ga_client_id": "1197596843.1673515099",
        "ga_session_id": "1747132561",
        "order": {
            "reference": "XKBKNABJK",
            "value": 84.5,
            "currency": "EUR",
            "items": [
                {"id": "SKU-1", "name": "Mug", "price": 19.5, "quantity": 3, "category": "Kitchen"},
                {"id": "SKU-2", "name": "P" * 140, "price": 26.0},
            ],
            "shipping": 5.0,
            "tax": 14.08,
            "coupon": "SPRING",
        },
        "consent": {"analytics_storage": "granted", "ad_user_data": "granted",
                    "ad_personalization": "denied"},
    }  # fmt: skip
    values.update(overrides)
    return NormalizedEvent.model_validate(values)


def _varied_events(now: float) -> list[NormalizedEvent]:
    browse = {"order": {"value": 19.5, "currency": "EUR",
                        "items": [{"id": "SKU-1", "price": 19.5}]}}
    return [
        _event(now),
        _event(now, event_id="A2", ga_client_id="GA1.1.42.1673515099", ga_session_id=None),
        _event(now, event_name="AddToCart", event_id="atc-1", **browse),
        _event(now, event_name="ViewContent", event_id="vc-1", **browse),
        _event(now, event_name="InitiateCheckout", event_id="ic-1"),
        _event(now, event_name="AddPaymentInfo", event_id="api-1", consent=None),
        _event(now, event_name="Lead", event_id="lead-1", order=None),
        _event(now, event_name="CompleteRegistration", event_id="reg-1", order=None,
               user_data={}),
        _event(now, event_name="Search", event_id="s-1", order=None,
               custom_data={"search_string": "blue mug"}),
        _event(now, event_name="Refund", event_id="Refund:XKBKNABJK",
               order={"reference": "XKBKNABJK", "value": -19.5, "currency": "EUR",
                      "items": [{"id": "SKU-1", "price": 19.5, "quantity": 1}]}),
        _event(now, event_name="Refund", event_id="Refund:OTHERREF", order=None),
        # No browser context: synthesized client id, GS1 and GS2 session cookies.
        _event(now, event_id="B1", ga_client_id=None, ga_session_id=None),
        _event(now, event_id="B2", ga_session_id="GS1.1.1673515099.1.1.1673515200.0.0.0"),
        _event(now, event_id="B3", ga_session_id="GS2.1.s1747132561$o1$g0$t1747132655$j0$l0$h0"),
        _event(now, event_id="old", event_time=int(now) - 71 * 3600),
    ] + [
        _event(now, event_name="AddToCart", event_id=f"bulk-{i}", **browse) for i in range(30)
    ]  # fmt: skip


def _prepare_all(dest: GA4Destination, now: float) -> list[Prepared]:
    out = []
    for index, event in enumerate(_varied_events(now)):
        result = dest.prepare(index, event, now)
        assert isinstance(result, Prepared), (event.event_id, result)
        out.append(result)
    return out


def _debug_url(request: httpx.Request) -> httpx.URL:
    return request.url.copy_with(path="/debug/mp/collect")


def test_every_payload_validates_at_the_debug_endpoint(
    fake_ga4: FakeGA4Handle, client: httpx.Client  # noqa: F811
) -> None:
    dest = GA4Destination(fake_ga4.settings())
    now = time.time()
    batches = dest.batches(_prepare_all(dest, now))
    assert max(len(b) for b in batches) == 25
    for batch in batches:
        request = dest.build_request(batch)
        answer = client.post(_debug_url(request), content=request.content,
                             headers={"Content-Type": "application/json"})  # fmt: skip
        assert answer.status_code == 200
        assert answer.json() == {"validationMessages": []}, json.loads(request.content)
    assert fake_ga4.auth_problems == []


def test_delivery_to_mp_collect_records_events_without_violations(
    fake_ga4: FakeGA4Handle, client: httpx.Client  # noqa: F811
) -> None:
    dest = GA4Destination(fake_ga4.settings())
    now = time.time()
    prepared = _prepare_all(dest, now)
    for batch in dest.batches(prepared):
        response = client.send(dest.build_request(batch))
        assert dest.classify(response, None, len(batch)).verdict is Verdict.DELIVERED
    assert len(fake_ga4.events) == len(prepared)
    assert fake_ga4.violations == [] and fake_ga4.auth_problems == []
    purchase = next(e for e in fake_ga4.events if e["params"].get("transaction_id") == "XKBKNABJK"
                    and e["name"] == "purchase")  # fmt: skip
    assert purchase["client_id"] == "1197596843.1673515099"
    assert purchase["user_id"] == EXTERNAL
    assert purchase["consent"] == {"ad_user_data": "GRANTED", "ad_personalization": "DENIED"}
    assert purchase["params"]["session_id"] == "1747132561"
    refund = next(e for e in fake_ga4.events if e["name"] == "refund" and "value" in e["params"])
    assert refund["params"]["transaction_id"] == "XKBKNABJK" and refund["params"]["value"] == 19.5
    # Every request carried one client id.
    for recorded in fake_ga4.requests:
        assert len(recorded.json["events"]) <= 25


def _base_body(now: float) -> dict[str, Any]:
    return {
        "client_id": "1.2",
        "events": [
            {
                "name": "purchase",
                "timestamp_micros": int(now * 1_000_000),
                "params": {"transaction_id": "T1", "value": 1.0, "currency": "EUR",
                           "items": [{"item_id": "A", "price": 1.0, "quantity": 1}]},
            }
        ],
    }  # fmt: skip


def _broken(now: float, change: str) -> dict[str, Any]:
    body = _base_body(now)
    event = body["events"][0]
    params = event["params"]
    if change == "too_many_events":
        body["events"] = body["events"] * 26
    elif change == "too_many_params":
        params.update({f"p{i}": i for i in range(25)})
    elif change == "bad_event_name":
        event["name"] = "add-to-cart"
    elif change == "long_event_name":
        event["name"] = "e" * 41
    elif change == "reserved_event_name":
        event["name"] = "session_start"
    elif change == "reserved_param_prefix":
        params["google_thing"] = 1
    elif change == "long_value":
        params["coupon"] = "c" * 101
    elif change == "reserved_user_property":
        body["user_properties"] = {"first_open_time": {"value": 1}}
    elif change == "long_user_property":
        body["user_properties"] = {"tier": {"value": "v" * 37}}
    elif change == "item_custom_params":
        params["items"][0].update({f"c{i}": "x" for i in range(11)})
    elif change == "huge_body":
        params["items"] = [{"item_id": "i" * 100}] * 1300
    elif change == "no_client_id":
        del body["client_id"]
    elif change == "milliseconds":
        event["timestamp_micros"] = int(now * 1000)
    elif change == "older_than_72h":
        event["timestamp_micros"] = int((now - 73 * 3600) * 1_000_000)
    elif change == "value_without_currency":
        del params["currency"]
    elif change == "empty_transaction_id":
        params["transaction_id"] = ""
    elif change == "consent_lowercase":
        body["consent"] = {"ad_user_data": "granted"}
    elif change == "number_as_string":
        params["value"] = "1.00"
    elif change == "unknown_top_level":
        body["event"] = body.pop("events")[0]
    else:
        raise AssertionError(change)
    return body


BROKEN = [
    ("too_many_events", "events", "EXCEEDED_MAX_ENTITIES"),
    ("too_many_params", "events[0].params", "EXCEEDED_MAX_ENTITIES"),
    ("bad_event_name", "events[0].name", "NAME_INVALID"),
    ("long_event_name", "events[0].name", "NAME_INVALID"),
    ("reserved_event_name", "events[0].name", "NAME_RESERVED"),
    ("reserved_param_prefix", "events[0].params.google_thing", "NAME_RESERVED"),
    ("long_value", "events[0].params.coupon", "VALUE_OUT_OF_BOUNDS"),
    ("reserved_user_property", "user_properties.first_open_time", "NAME_RESERVED"),
    ("long_user_property", "user_properties.tier.value", "VALUE_OUT_OF_BOUNDS"),
    ("item_custom_params", "events[0].params.items[0]", "EXCEEDED_MAX_ENTITIES"),
    ("huge_body", "", "VALUE_OUT_OF_BOUNDS"),
    ("no_client_id", "client_id", "VALUE_REQUIRED"),
    ("milliseconds", "events[0].timestamp_micros", "VALUE_INVALID"),
    ("older_than_72h", "events[0].timestamp_micros", "VALUE_OUT_OF_BOUNDS"),
    ("value_without_currency", "events[0].params.currency", "VALUE_REQUIRED"),
    ("empty_transaction_id", "events[0].params.transaction_id", "VALUE_REQUIRED"),
    ("consent_lowercase", "consent.ad_user_data", "VALUE_INVALID"),
    ("number_as_string", "events[0].params.value", "VALUE_INVALID"),
    ("unknown_top_level", "event", "VALUE_INVALID"),
]


def test_the_base_body_is_valid(fake_ga4: FakeGA4Handle, client: httpx.Client) -> None:  # noqa: F811
    url = f"{fake_ga4.url}/debug/mp/collect"
    params = {"measurement_id": fake_ga4.measurement_id, "api_secret": fake_ga4.api_secret}
    answer = client.post(url, params=params, json=_base_body(time.time()))
    assert answer.json() == {"validationMessages": []}


@pytest.mark.parametrize(("change", "field_path", "code"), BROKEN, ids=[b[0] for b in BROKEN])
def test_the_fake_flags_broken_payloads(
    fake_ga4: FakeGA4Handle, client: httpx.Client, change: str, field_path: str, code: str  # noqa: F811
) -> None:
    fake_ga4.expect_violations()
    now = time.time()
    body = _broken(now, change)
    params = {"measurement_id": fake_ga4.measurement_id, "api_secret": fake_ga4.api_secret}
    answer = client.post(f"{fake_ga4.url}/debug/mp/collect", params=params, json=body)
    messages = answer.json()["validationMessages"]
    assert {"fieldPath": field_path, "validationCode": code} in [
        {"fieldPath": m["fieldPath"], "validationCode": m["validationCode"]} for m in messages
    ], messages
    assert all(m["description"] for m in messages)
    # Production answers 2xx anyway; the fake keeps what it would have said.
    sent = client.post(f"{fake_ga4.url}/mp/collect", params=params, json=body)
    assert sent.status_code == 204
    assert fake_ga4.violations == messages
    # The two implementations agree: trackside's own validator refuses it too.
    assert ga4_rules.request_problems(body, now) != []


def test_wrong_credentials_are_recorded_as_auth_problems(
    fake_ga4: FakeGA4Handle, client: httpx.Client  # noqa: F811
) -> None:
    dest = GA4Destination(fake_ga4.settings(ga4_api_secret="not-the-secret"))
    now = time.time()
    prepared = dest.prepare(1, _event(now), now)
    assert isinstance(prepared, Prepared)
    response = client.send(dest.build_request([prepared]))
    assert response.status_code == 204  # GA4 never says no
    assert fake_ga4.auth_problems == ["/mp/collect: api_secret missing or wrong"]


@pytest.mark.parametrize(
    ("status", "headers", "verdict"),
    [
        (500, {}, Verdict.RETRY),
        (429, {"Retry-After": "12"}, Verdict.THROTTLED),
        (403, {}, Verdict.DISABLED),
        (400, {}, Verdict.REJECTED),
    ],
)
def test_classify_real_answers(
    fake_ga4: FakeGA4Handle,  # noqa: F811
    client: httpx.Client,
    status: int,
    headers: dict[str, str],
    verdict: Verdict,
) -> None:
    dest = GA4Destination(fake_ga4.settings())
    now = time.time()
    prepared = dest.prepare(1, _event(now), now)
    assert isinstance(prepared, Prepared)
    fake_ga4.fail_next(status, headers=headers)
    result = dest.classify(client.send(dest.build_request([prepared])), None, 1)
    assert result.verdict is verdict and result.http_status == status
    if status == 429:
        assert result.retry_after_s == 12.0
    assert fake_ga4.api_secret not in (result.message or "")


def test_closed_port_classifies_as_retry_without_the_secret(client: httpx.Client) -> None:
    settings = Settings(ga4_measurement_id="G-X", ga4_api_secret="closed-port-secret",
                        ga4_url=f"http://127.0.0.1:{free_port()}")  # fmt: skip
    dest = GA4Destination(settings)
    now = time.time()
    prepared = dest.prepare(1, _event(now), now)
    assert isinstance(prepared, Prepared)
    with pytest.raises(httpx.TransportError) as info:
        client.send(dest.build_request([prepared]))
    result = dest.classify(None, info.value, 1)
    assert result.verdict is Verdict.RETRY
    assert "closed-port-secret" not in (result.message or "")
    assert "closed-port-secret" not in str(info.value)


def test_httpx_log_line_masks_the_secret(
    fake_ga4: FakeGA4Handle, client: httpx.Client, caplog: pytest.LogCaptureFixture  # noqa: F811
) -> None:
    caplog.set_level(logging.INFO, logger="httpx")
    dest = GA4Destination(fake_ga4.settings())
    now = time.time()
    prepared = dest.prepare(1, _event(now), now)
    assert isinstance(prepared, Prepared)
    client.send(dest.build_request([prepared]))
    assert "HTTP Request: POST" in caplog.text
    assert "api_secret=**********" in caplog.text
    assert fake_ga4.api_secret not in caplog.text


def test_debug_validate_against_the_fake(fake_ga4: FakeGA4Handle, client: httpx.Client) -> None:  # noqa: F811
    assert debug_validate(fake_ga4.settings(), client) == []
    (recorded,) = fake_ga4.requests
    assert recorded.path == "/debug/mp/collect" and recorded.auth_ok
    assert recorded.json["validation_behavior"] == "ENFORCE_RECOMMENDATIONS"
    assert fake_ga4.events == []  # the debug endpoint records no events


def test_debug_validate_returns_the_messages(fake_ga4: FakeGA4Handle, client: httpx.Client) -> None:  # noqa: F811
    # A GA4 whose clock runs 73 hours ahead sees trackside's fresh sample as too old.
    fake_ga4.clock_offset_s = 73 * 3600
    answer = debug_validate(fake_ga4.settings(), client)
    assert isinstance(answer, list) and answer
    assert {m["validationCode"] for m in answer} == {"VALUE_OUT_OF_BOUNDS"}
    assert answer[0]["fieldPath"] == "events[0].timestamp_micros"


def test_debug_validate_reports_an_unreachable_host_in_plain_words(client: httpx.Client) -> None:
    port = free_port()  # bound then released: nothing listens there
    settings = Settings(ga4_measurement_id="G-X", ga4_api_secret="unreachable-secret",
                        ga4_url=f"http://127.0.0.1:{port}")  # fmt: skip
    answer = debug_validate(settings, client)
    assert isinstance(answer, str)
    assert answer.startswith(f"cannot reach GA4 at http://127.0.0.1:{port}")
    assert "unreachable-secret" not in answer


def test_debug_validate_reports_a_wrong_url(fake_ga4: FakeGA4Handle, client: httpx.Client) -> None:  # noqa: F811
    answer = debug_validate(fake_ga4.settings(ga4_url=fake_ga4.url + "/nowhere"), client)
    assert isinstance(answer, str) and "answered HTTP 404" in answer
    assert fake_ga4.api_secret not in answer


def test_debug_validate_without_configuration(client: httpx.Client) -> None:
    answer = debug_validate(Settings(), client)
    assert isinstance(answer, str) and "TRACKSIDE_GA4_MEASUREMENT_ID" in answer


async def test_the_worker_s_async_client_sends_the_request(fake_ga4: FakeGA4Handle) -> None:  # noqa: F811
    dest = GA4Destination(fake_ga4.settings())
    now = time.time()
    prepared = [dest.prepare(i, e, now) for i, e in enumerate(_varied_events(now)[:5])]
    batches = dest.batches([p for p in prepared if isinstance(p, Prepared)])
    async with httpx.AsyncClient(timeout=5) as async_client:
        for batch in batches:
            response = await async_client.send(dest.build_request(batch))
            assert dest.classify(response, None, len(batch)).verdict is Verdict.DELIVERED
    assert len(fake_ga4.events) == 5 and fake_ga4.violations == []
