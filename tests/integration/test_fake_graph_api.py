"""The strict fake Graph API over real HTTP: every body encoding Graph takes (form, multipart,
JSON, events as JSON strings, as Meta's own ``facebook-business`` SDK sends), auth rules 2-5,
dedup (rule 36), every fault mode (rule 37) and French text (rule 38), classified by
MetaDestination as the worker would."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fakes.fixtures import fake_graph  # noqa: F401  (fixture)
from tests.fakes.graph_api import FakeGraphAPI, Fault
from trackside.destinations import Classification, Prepared, Verdict
from trackside.destinations.meta import MetaDestination
from trackside.destinations.meta import rules as mr
from trackside.events import NormalizedEvent, Order


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def capi_event(event_id: str = "R1", **overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_name": "Purchase",
        "event_time": int(time.time()) - 10,
        "event_id": event_id,
        "action_source": "website",
        "event_source_url": "https://shop.example/thanks",
        "user_data": {
            "em": sha("a@example.com"),
            "client_user_agent": "Mozilla/5.0",
            "client_ip_address": "203.0.113.9",
        },
        "custom_data": {"value": 12.5, "currency": "EUR"},
    }
    event.update(overrides)
    return event


def stored(event_id: str = "R1", **overrides: Any) -> NormalizedEvent:
    values: dict[str, Any] = {
        "event_name": "Purchase",
        "event_id": event_id,
        "event_time": int(time.time()) - 10,
        "action_source": "website",
        "event_source_url": "https://shop.example/thanks",
        "user_data": {"em": [sha("a@example.com")], "client_user_agent": "Mozilla/5.0"},
        "order": Order(reference=event_id, value=12.5, currency="EUR"),
    }
    values.update(overrides)
    return NormalizedEvent(**values)


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as http:
        yield http


def endpoint(fake: FakeGraphAPI, version: str = "v26.0", pixel: str | None = None) -> str:
    return f"{fake.url}/{version}/{pixel or fake.pixel_id}/events"


def send_batch(
    fake: FakeGraphAPI, client: httpx.Client, ids: list[str], **settings: Any
) -> tuple[httpx.Response | None, Classification]:
    """What the worker does: prepare, build the request, send, classify."""
    destination = MetaDestination(fake.settings(**settings))
    batch = []
    for number, event_id in enumerate(ids):
        item = destination.prepare(number, stored(event_id), time.time())
        assert isinstance(item, Prepared), item
        batch.append(item)
    try:
        response = client.send(destination.build_request(batch))
    except httpx.HTTPError as exc:
        return None, destination.classify(None, exc, len(batch))
    return response, destination.classify(response, None, len(batch))


# -- body encodings (rule 6) --------------------------------------------------------------------


def test_trackside_request_is_accepted(fake_graph: FakeGraphAPI, client: httpx.Client) -> None:  # noqa: F811
    response, verdict = send_batch(fake_graph, client, ["R1", "R2"], meta_test_event_code="TEST42")
    assert response is not None and response.status_code == 200, response and response.text
    assert response.json()["events_received"] == 2
    assert verdict.verdict is Verdict.DELIVERED and verdict.trace_id
    [request] = fake_graph.accepted_requests
    assert request.token_location == "body"  # never in the URL
    assert request.params["partner_agent"].startswith("trackside-")
    assert [e["event_id"] for e in fake_graph.events] == ["R1", "R2"]
    assert {e.test_event_code for e in fake_graph.events} == {"TEST42"}


def test_form_urlencoded_json_array_string(fake_graph: FakeGraphAPI, client: httpx.Client) -> None:  # noqa: F811
    form = {"data": json.dumps([capi_event()]), "access_token": fake_graph.token}
    response = client.post(endpoint(fake_graph), data=form)
    assert response.status_code == 200, response.text
    assert fake_graph.requests[-1].content_type == "application/x-www-form-urlencoded"
    assert fake_graph.events[0].payload == capi_event() | {
        "event_time": fake_graph.events[0]["event_time"]
    }


def test_form_with_elements_as_json_strings(fake_graph: FakeGraphAPI, client: httpx.Client) -> None:  # noqa: F811
    form = {
        "data": json.dumps([json.dumps(capi_event("S1")), json.dumps(capi_event("S2"))]),
        "access_token": fake_graph.token,
    }
    response = client.post(endpoint(fake_graph), data=form)
    assert response.status_code == 200, response.text
    assert fake_graph.event_ids() == ["S1", "S2"]


def test_multipart(fake_graph: FakeGraphAPI, client: httpx.Client) -> None:  # noqa: F811
    files = {
        "data": (None, json.dumps([capi_event("M1")])),
        "access_token": (None, fake_graph.token),
        "test_event_code": (None, "TEST1"),
    }
    response = client.post(endpoint(fake_graph), files=files)
    assert response.status_code == 200, response.text
    assert fake_graph.requests[-1].content_type.startswith("multipart/form-data")
    assert fake_graph.events[0].test_event_code == "TEST1"


@pytest.mark.parametrize("where", ["query", "bearer", "body"])
def test_json_body_with_token_anywhere(
    fake_graph: FakeGraphAPI, client: httpx.Client, where: str  # noqa: F811
) -> None:
    body: dict[str, Any] = {"data": [capi_event("J1")]}
    params, headers = {}, {}
    if where == "query":  # Meta's GTM server tag
        params["access_token"] = fake_graph.token
    elif where == "bearer":
        headers["authorization"] = f"Bearer {fake_graph.token}"
    else:
        body["access_token"] = fake_graph.token
    response = client.post(endpoint(fake_graph), json=body, params=params, headers=headers)
    assert response.status_code == 200, response.text
    assert fake_graph.requests[-1].token_location == where
    assert fake_graph.event_ids() == ["J1"]


def test_json_body_with_elements_as_strings(fake_graph: FakeGraphAPI, client: httpx.Client) -> None:  # noqa: F811
    body = {"data": [json.dumps(capi_event("J2"))], "access_token": fake_graph.token}
    assert client.post(endpoint(fake_graph), json=body).status_code == 200
    assert fake_graph.event_ids() == ["J2"]


@pytest.fixture
def sdk_api(fake_graph: FakeGraphAPI) -> Iterator[Any]:  # noqa: F811
    """Meta's SDK pointed at the fake: its session's GRAPH URL, a non-default API object.

    ``FacebookAdsApi.init`` is avoided on purpose: it also enables the SDK's crash reporter,
    which posts to graph.facebook.com.
    """
    api_module = pytest.importorskip("facebook_business.api")
    from facebook_business.session import FacebookSession

    session = FacebookSession(
        access_token=fake_graph.token, app_secret=fake_graph.app_secret, timeout=5
    )
    session.GRAPH = (
        fake_graph.url
    )  # instance attribute: FacebookAdsApi.call reads self._session.GRAPH
    api = api_module.FacebookAdsApi(session, api_version="v26.0")
    previous = api_module.FacebookAdsApi.get_default_api()
    api_module.FacebookAdsApi.set_default_api(api)  # EventRequest.execute uses the default API
    try:
        yield api
    finally:
        api_module.FacebookAdsApi.set_default_api(previous)


def sdk_request(fake: FakeGraphAPI, event_time: int, email: str = "John_Smith@gmail.com") -> Any:
    from facebook_business.adobjects.serverside.action_source import ActionSource
    from facebook_business.adobjects.serverside.custom_data import CustomData
    from facebook_business.adobjects.serverside.event import Event
    from facebook_business.adobjects.serverside.event_request import EventRequest
    from facebook_business.adobjects.serverside.user_data import UserData

    event = Event(
        event_name="Purchase",
        event_time=event_time,
        event_id="SDK-1",
        action_source=ActionSource.WEBSITE,
        event_source_url="https://shop.example/thanks",
        user_data=UserData(
            email=email,
            client_user_agent="Mozilla/5.0",
            client_ip_address="203.0.113.9",
            fbp="fb.1.1596403881668.1116446470",
        ),
        custom_data=CustomData(value=142.52, currency="eur"),
    )
    return EventRequest(
        pixel_id=fake.pixel_id, events=[event], test_event_code="TEST77", partner_agent="sdk-test"
    )


def test_meta_sdk_posts_to_the_fake(fake_graph: FakeGraphAPI, sdk_api: Any) -> None:  # noqa: F811
    fake_graph.add_token(
        fake_graph.token,
        [fake_graph.pixel_id],
        app_secret=fake_graph.app_secret,
        require_proof=True,
    )  # the SDK signs with appsecret_proof (rule 4)
    response = sdk_request(fake_graph, int(time.time())).execute()
    assert response.events_received == 1
    [request] = fake_graph.accepted_requests
    assert request.token_location == "query"  # the SDK's session puts it in the URL
    assert request.content_type == "application/x-www-form-urlencoded"
    [event] = fake_graph.events
    # The SDK's hash is Meta's documented example (customer information parameters page): the
    # fake and the SDK agree.
    assert event["user_data"]["em"] == [
        "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f"
    ]
    assert event.test_event_code == "TEST77"


def test_meta_sdk_sees_meta_shaped_errors(fake_graph: FakeGraphAPI, sdk_api: Any) -> None:  # noqa: F811
    from facebook_business.exceptions import FacebookRequestError

    with pytest.raises(FacebookRequestError) as excinfo:
        sdk_request(fake_graph, int(time.time()) - 8 * 86400).execute()
    error = excinfo.value
    assert (error.http_status(), error.api_error_code(), error.api_error_subcode()) == (
        400,
        100,
        2804003,
    )
    assert error.api_error_type() == "OAuthException"
    assert fake_graph.events == []


# -- auth and transport (rules 1-5) ------------------------------------------------------------


def test_rules_1_to_5_over_http(fake_graph: FakeGraphAPI, client: httpx.Client) -> None:  # noqa: F811
    form = {"data": json.dumps([capi_event()]), "access_token": fake_graph.token}

    def answer(response: httpx.Response) -> tuple[int, int, int | None]:
        error = response.json()["error"]
        return response.status_code, error["code"], error.get("error_subcode")

    assert answer(client.get(endpoint(fake_graph), params={"access_token": fake_graph.token})) == (
        400,
        100,
        None,
    )
    assert answer(client.post(f"{fake_graph.url}/{fake_graph.pixel_id}/events", data=form)) == (
        400,
        2635,
        None,
    )
    assert answer(client.post(endpoint(fake_graph, "v16.0"), data=form)) == (400, 2635, None)
    assert answer(client.post(endpoint(fake_graph), data={"data": form["data"]})) == (
        400,
        104,
        None,
    )
    assert answer(client.post(endpoint(fake_graph), data=form | {"access_token": "nope"})) == (
        401,
        190,
        None,
    )
    assert answer(client.post(endpoint(fake_graph), data=form | {"appsecret_proof": "00"})) == (
        400,
        100,
        None,
    )
    assert answer(client.post(endpoint(fake_graph, pixel="42"), data=form)) == (400, 100, 33)
    fake_graph.add_token("old", [fake_graph.pixel_id], expired=True)
    assert answer(client.post(endpoint(fake_graph), data=form | {"access_token": "old"})) == (
        401,
        190,
        463,
    )
    proof = mr.appsecret_proof(fake_graph.app_secret, fake_graph.token)
    assert (
        client.post(endpoint(fake_graph), data=form | {"appsecret_proof": proof}).status_code == 200
    )
    assert len(fake_graph.accepted_requests) == 1 and len(fake_graph.requests) == 9


def test_validation_error_is_recorded_and_nothing_is_processed(
    fake_graph: FakeGraphAPI, client: httpx.Client  # noqa: F811
) -> None:
    good, bad = capi_event("G1"), capi_event("B1")
    bad["user_data"]["em"] = "clear@example.com"
    response = client.post(
        endpoint(fake_graph),
        data={"data": json.dumps([good, bad]), "access_token": fake_graph.token},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["error_subcode"]) == (100, 2804016)
    assert error["error_user_title"] == "User Parameter Not Hashed"
    assert len(error["fbtrace_id"]) == 23
    assert fake_graph.events == []
    assert fake_graph.requests[-1].error_subcode == 2804016


def test_rule38_french_text_same_codes_same_verdict(
    fake_graph: FakeGraphAPI, client: httpx.Client  # noqa: F811
) -> None:
    bad = capi_event()
    bad["user_data"]["ct"] = "paris"
    form = {"data": json.dumps([bad]), "access_token": fake_graph.token}
    english = client.post(endpoint(fake_graph), data=form)
    french = client.post(
        endpoint(fake_graph), data=form, headers={"accept-language": "fr-FR,fr;q=0.9"}
    )
    assert french.json()["error"]["error_user_title"] == "Paramètre utilisateur non haché"
    assert english.json()["error"]["error_user_title"] == "User Parameter Not Hashed"
    destination = MetaDestination(fake_graph.settings())
    a, b = destination.classify(english, None, 1), destination.classify(french, None, 1)
    assert (
        (a.verdict, a.code, a.subcode)
        == (b.verdict, b.code, b.subcode)
        == (Verdict.REJECTED, 100, 2804016)
    )


# -- dedup (rule 36) ---------------------------------------------------------------------------


def test_dedup_counts_copies_within_48_hours(
    fake_graph: FakeGraphAPI, client: httpx.Client  # noqa: F811
) -> None:
    clock = [time.time()]
    fake_graph.clock = lambda: clock[0]
    for _ in range(2):
        _response, verdict = send_batch(fake_graph, client, ["D1", "D2"])
        assert verdict.verdict is Verdict.DELIVERED  # a duplicate is never an error
    assert len(fake_graph.events) == 4 and fake_graph.deduplicated == 2
    assert [e["event_id"] for e in fake_graph.unique_events] == ["D1", "D2"]
    clock[0] += 49 * 3600  # outside the window: Meta counts it again
    form = {
        "data": json.dumps([capi_event("D1", event_time=int(clock[0]))]),
        "access_token": fake_graph.token,
    }
    assert client.post(endpoint(fake_graph), data=form).status_code == 200
    assert fake_graph.deduplicated == 2 and len(fake_graph.unique_events) == 3


def test_dedup_key_includes_event_name(fake_graph: FakeGraphAPI, client: httpx.Client) -> None:  # noqa: F811
    events = [capi_event("X"), capi_event("X", event_name="Lead", custom_data={})]
    form = {"data": json.dumps(events), "access_token": fake_graph.token}
    assert client.post(endpoint(fake_graph), data=form).status_code == 200
    assert fake_graph.deduplicated == 0


# -- faults (rule 37) --------------------------------------------------------------------------

FAULTS = [
    pytest.param(Fault.transient(1), 500, Verdict.RETRY, id="code1_http500"),
    pytest.param(Fault.transient(2), 500, Verdict.RETRY, id="code2_http500"),
    pytest.param(Fault.throttle(4), 400, Verdict.THROTTLED, id="code4"),
    pytest.param(
        Fault.throttle(17, is_transient=False), 400, Verdict.THROTTLED, id="code17_not_transient"
    ),
    pytest.param(Fault.throttle(613), 400, Verdict.THROTTLED, id="code613"),
    pytest.param(Fault.server_error(503), 503, Verdict.RETRY, id="http503_text"),
    pytest.param(Fault.html(502), 502, Verdict.RETRY, id="html_502"),
    pytest.param(Fault.html(200), 200, Verdict.RETRY, id="html_200"),
    pytest.param(Fault.empty(200), 200, Verdict.RETRY, id="empty_200"),
    pytest.param(Fault.empty(500), 500, Verdict.RETRY, id="empty_500"),
    pytest.param(Fault.invalid_token(), 401, Verdict.DISABLED, id="code190_http401"),
    pytest.param(Fault.unknown_object("1"), 400, Verdict.DISABLED, id="code100_33"),
    pytest.param(
        Fault.meta_error(mr.MetaError(400, 368, "(#368) blocked")),
        400,
        Verdict.DISABLED,
        id="code368",
    ),
]


@pytest.mark.parametrize(("fault", "status", "verdict"), FAULTS)
def test_fault_then_recovery(
    fake_graph: FakeGraphAPI, client: httpx.Client, fault: Fault, status: int, verdict: Verdict  # noqa: F811
) -> None:
    fake_graph.fail_next(fault)
    response, result = send_batch(fake_graph, client, ["F1"])
    assert response is not None and response.status_code == status
    assert result.verdict is verdict
    assert fake_graph.token not in (result.message or "")
    assert fake_graph.events == [] and fake_graph.requests[-1].fault == fault.kind
    # The fault was for one request only: the resend (same event id) goes through.
    response, result = send_batch(fake_graph, client, ["F1"])
    assert result.verdict is Verdict.DELIVERED
    assert fake_graph.event_ids() == ["F1"]


def test_throttle_carries_estimated_time_to_regain_access(
    fake_graph: FakeGraphAPI, client: httpx.Client  # noqa: F811
) -> None:
    fake_graph.fail_next(Fault.throttle(80004, regain_minutes=15))
    _, result = send_batch(fake_graph, client, ["T1"])
    assert (result.verdict, result.code, result.retry_after_s) == (Verdict.THROTTLED, 80004, 900)


def test_timeout(fake_graph: FakeGraphAPI) -> None:  # noqa: F811
    fake_graph.fail_next(Fault.timeout(3.0))
    with httpx.Client(timeout=0.3) as short:
        started = time.monotonic()
        response, result = send_batch(fake_graph, short, ["T1"])
    assert response is None and result.verdict is Verdict.RETRY
    assert "Timeout" in (result.message or "")
    assert time.monotonic() - started < 2.0
    assert fake_graph.events == []


def test_fail_next_times_and_until_cleared(fake_graph: FakeGraphAPI, client: httpx.Client) -> None:  # noqa: F811
    fake_graph.fail_next(Fault.transient(2), times=2)
    verdicts = [send_batch(fake_graph, client, ["A"])[1].verdict for _ in range(3)]
    assert verdicts == [Verdict.RETRY, Verdict.RETRY, Verdict.DELIVERED]
    fake_graph.fail_until_cleared(Fault.server_error(500))
    assert {send_batch(fake_graph, client, ["B"])[1].verdict for _ in range(3)} == {Verdict.RETRY}
    fake_graph.clear_faults()
    assert send_batch(fake_graph, client, ["B"])[1].verdict is Verdict.DELIVERED


def test_reject_any_batch_containing_an_event_id(
    fake_graph: FakeGraphAPI, client: httpx.Client  # noqa: F811
) -> None:
    fake_graph.reject_event_id("POISON", subcode=2804048)
    response, result = send_batch(fake_graph, client, ["OK1", "POISON", "OK2"])
    assert response is not None and response.status_code == 400
    assert (result.verdict, result.code, result.subcode) == (Verdict.REJECTED, 100, 2804048)
    assert fake_graph.events == []  # the whole batch, like Meta
    assert send_batch(fake_graph, client, ["OK1", "OK2"])[1].verdict is Verdict.DELIVERED
    assert send_batch(fake_graph, client, ["POISON"])[1].verdict is Verdict.REJECTED
    fake_graph.clear_faults()
    assert send_batch(fake_graph, client, ["POISON"])[1].verdict is Verdict.DELIVERED


def test_reset_forgets_everything_but_tokens(
    fake_graph: FakeGraphAPI, client: httpx.Client  # noqa: F811
) -> None:
    send_batch(fake_graph, client, ["Z"])
    fake_graph.reset()
    assert fake_graph.requests == [] and fake_graph.events == []
    assert send_batch(fake_graph, client, ["Z"])[1].verdict is Verdict.DELIVERED
    assert fake_graph.deduplicated == 0
