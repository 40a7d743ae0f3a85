"""GA4's fast accept-time "yes" (destinations/ga4/fast.py) only ever says yes where the general
request check (``rules.request_problems``, as ``prepare`` runs it) finds nothing, over the
payloads trackside builds from canonical events of every shape and over hostile payloads; and it
says yes for ordinary events, so the fast path is not dead code.
GA4's limits: https://developers.google.com/analytics/devguides/collection/protocol/ga4/sending-events
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trackside.config import Settings
from trackside.destinations import Prepared
from trackside.destinations.ga4 import GA4Destination
from trackside.destinations.ga4 import rules as ga4_rules
from trackside.destinations.ga4.destination import _body
from trackside.destinations.ga4.fast import surely_valid
from trackside.events import Consent, Item, NormalizedEvent, Order

NOW = 1_800_000_000.0
SETTINGS = Settings(ga4_measurement_id="G-FAST1234", ga4_api_secret="fast-secret")
DESTINATIONS = [GA4Destination(SETTINGS),
                GA4Destination(SETTINGS.model_copy(update={"event_id_prefix": "shop-"}),
                               event_names={"Lead": "my_lead"})]


def mostly(good: Any, *bad: Any) -> st.SearchStrategy[Any]:
    """``good`` nine times in ten, else one of ``bad`` (most events are then valid)."""
    return st.integers(0, 9).flatmap(lambda roll: st.just(good) if roll else st.sampled_from(bad))


TEXT = mostly("Shoes", "", "x" * 101, "é" * 100, "\x01", "a\ud800b", "🛒" * 30)
FLOATS = mostly(21.25, None, 0.0, -3.0, 1e300, 2**60, math.nan, math.inf)


@st.composite
def orders(draw: st.DrawFn) -> Order | None:
    if draw(st.integers(0, 9)) == 0:
        return None
    items = [Item.model_construct(id=draw(mostly("SKU-1", "S" * 101, "", "a\udc00")),
                                  quantity=draw(mostly(1, 0, 10**16, True, 2.5)),
                                  price=draw(FLOATS), name=draw(mostly(None, "Shoe", "n" * 150)),
                                  category=draw(mostly(None, "Feet", "\ud800")))
             for _ in range(draw(mostly(1, 0, 3, 300)))]
    # Unvalidated: an older row, or a sender the order's own validators would refuse today.
    return Order.model_construct(
        reference=draw(mostly("R-1", None, "R" * 120)), value=draw(FLOATS),
        currency=draw(mostly("EUR", None, "", "eu", "EURO", "€€€", 978)), items=items,
        shipping=draw(mostly(None, 4.5, math.nan)), tax=draw(mostly(None, 1.0, "1")),
        coupon=draw(mostly(None, "SUMMER", "c" * 101)), subscription_id=None, period=None)


@st.composite
def events(draw: st.DrawFn) -> NormalizedEvent:
    consent = draw(mostly("granted", None, "denied"))
    return NormalizedEvent(
        event_name=draw(mostly("Purchase", "Lead", "Refund", "Search", "ViewContent",
                               "purchase", "PageView", "my_lead")),
        event_id=draw(mostly("E-1", "Refund:shop-R-1", "Refund:", "x" * 101, " ")),
        event_time=int(NOW) - draw(mostly(30, 0, -30, -120, 72 * 3600, 72 * 3600 + 1,
                                          int(NOW) - 10**8)),
        action_source="website",
        user_data=draw(mostly({"em": "a" * 64}, {}, {"external_id": ["b" * 64]},
                              {"external_id": "me@example.com"}, {"external_id": []})),
        ga_client_id=draw(mostly("123.456", None, "GA1.1.123.456", "junk", " ")),
        ga_session_id=draw(mostly(None, "1700000000", "GS1.1.1700000000.1.1.1.0.0", "x")),
        order=draw(orders()),
        custom_data=draw(mostly({}, {"search_string": "boots"}, {"search_term": "z" * 150},
                                {"search_string": 3})),
        consent=None if consent is None else Consent(
            analytics_storage=consent, ad_user_data=draw(mostly("granted", None, "denied")),
            ad_personalization=draw(mostly("denied", None, "granted"))),
    )


@settings(max_examples=1000, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(event=events(), destination=st.sampled_from(DESTINATIONS),
       at=st.sampled_from([NOW, NOW + 3600]))
def test_the_fast_yes_is_the_limits_yes(event: NormalizedEvent, destination: GA4Destination,
                                        at: float) -> None:
    built = destination._payload(event, at, [])
    if isinstance(built, dict) and surely_valid(built, at):
        assert ga4_rules.request_problems(_body([built]), at) == []
    prepared = destination.prepare(0, event, at)
    assert destination.admission_check(event, at) == (
        None if isinstance(prepared, Prepared) else prepared)


GOOD: dict[str, Any] = {
    "client_id": "123.456", "user_id": "b" * 64,
    "consent": {"ad_user_data": "GRANTED", "ad_personalization": "DENIED"},
    "event": {"name": "purchase", "timestamp_micros": int(NOW - 60) * 1_000_000,
              "params": {"transaction_id": "E-1", "value": 42.5, "currency": "EUR",
                         "session_id": "1700000000", "engagement_time_msec": 1,
                         "items": [{"item_id": "SKU-1", "item_name": "Shoe", "price": 21.25,
                                    "quantity": 2}]}},
}
ODD = st.sampled_from([None, "", " ", 0, -1, True, 1.5, math.nan, "x" * 101, "\ud800", [], {},
                       "GRANTED", "purchase", "page_view", "_x", 10**15, 10**16, 2**70])


@settings(max_examples=600, deadline=None)
@given(path=st.sampled_from([
    ("client_id",), ("user_id",), ("consent",), ("consent", "ad_user_data"),
    ("consent", "ad_storage"), ("event",), ("event", "name"), ("event", "timestamp_micros"),
    ("event", "params"), ("event", "params", "transaction_id"), ("event", "params", "value"),
    ("event", "params", "currency"), ("event", "params", "session_id"),
    ("event", "params", "engagement_time_msec"), ("event", "params", "items"),
    ("event", "params", "coupon"), ("event", "params", "other"), ("event", "other"),
]), value=ODD, delete=st.booleans())
def test_hostile_payloads_get_no_fast_yes(path: tuple[str, ...], value: Any,
                                          delete: bool) -> None:
    payload = _copy(GOOD)
    where = payload
    for key in path[:-1]:
        where = where[key]
    if delete:
        where.pop(path[-1], None)
    else:
        where[path[-1]] = value
    if surely_valid(payload, NOW):
        assert ga4_rules.request_problems(_body([payload]), NOW) == []


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def test_an_ordinary_payload_takes_the_fast_path() -> None:
    assert surely_valid(GOOD, NOW)
    assert ga4_rules.request_problems(_body([GOOD]), NOW) == []


def test_a_body_near_the_limit_is_measured_not_guessed() -> None:
    """400 items of 100-character ids: about 60 kB of JSON, under the 130 kB limit, but over
    the 6-bytes-a-character bound: the general check measures it and takes it."""
    payload = _copy(GOOD)
    payload["event"]["params"]["items"] = [
        {"item_id": f"{i:03}" + "i" * 97, "quantity": 1} for i in range(400)]
    assert not surely_valid(payload, NOW)
    assert ga4_rules.request_problems(_body([payload]), NOW) == []
