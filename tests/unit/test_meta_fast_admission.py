"""Meta's fast accept-time "yes" (destinations/meta/fast.py) only ever says yes where the
general path (the payload, its JSON and rules 10-34, as ``prepare`` runs them) accepts too,
over canonical events of every shape, hostile ones included; and it does say yes for the
events trackside's own normalizer writes, so the fast path is not dead code.
Meta's rules: https://developers.facebook.com/docs/marketing-api/conversions-api/parameters/server-event
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trackside.config import Settings
from trackside.destinations import Prepared
from trackside.destinations.dryrun import DryRunDestination
from trackside.destinations.meta import MetaDestination
from trackside.destinations.meta.fast import surely_accepted
from trackside.destinations.meta.rules import RulesConfig
from trackside.events import Event, Item, NormalizedEvent, Order, parse_event
from trackside.pipeline import Pipeline
from trackside.testing import MemoryStore

NOW = 1_800_000_000.0
HASH = "a" * 64
CREDENTIALS = {"meta_pixel_id": "123456789012345", "meta_access_token": "EAAB-fast"}
RULES = [
    None,  # the destination's own: compat, physical_store up to 62 days
    RulesConfig(mode="strict"),
    RulesConfig(mode="strict", require_user_agent=True, allow_physical_store_62d=True),
    RulesConfig(mode="compat", max_future_skew_s=0),
]

def mostly(good: Any, *bad: Any) -> st.SearchStrategy[Any]:
    """``good`` nine times in ten, else one of ``bad``: most generated events are then
    accepted, and the property below says something about the fast path's yes."""
    return st.integers(0, 9).flatmap(
        lambda roll: st.just(good) if roll else st.sampled_from(bad))


AGES = mostly(30, 0, 3600, 7 * 86400 - 90, 7 * 86400 - 30, 7 * 86400 + 5, 61 * 86400,
              63 * 86400, -30, -601, -86400, int(NOW), -int(NOW) * 1000)
HASHED = mostly(HASH, HASH.upper(), HASH + ".AbCdEfGh", HASH + ".a", "jane", "", None, [HASH],
                [HASH, "b" * 64], [], [None, ""], [HASH, None], [HASH, 3], [[HASH]], 7,
                {"x": HASH})
CLEAR = {
    "client_ip_address": mostly("81.2.69.142", "::1", "2001:db8::1", HASH, "garbage",
                                "81.2.69.142.AbCdEfGh", "01.2.3.4", "", None, 5),
    "client_user_agent": mostly("Mozilla/5.0", "", None, 3, []),
    "fbc": mostly("fb.1.1700000000000.AbCd", "fb.1.1700000000.AbCd", "x", "", 1),
    "fbp": mostly("fb.1.1700000000000.1234567890", "bad", "", None),
    "external_id": mostly("cust-1", ["a", "b"], [1, 2], 12, "", [], None),
    "lead_id": mostly("123456789012345", "abc", 123456789012345, ""),
    "fb_login_id": mostly("12345", "0", "x"),
    "page_id": mostly("123", 123, [], 1.5, ""),
    "madid": mostly("m-1", 1, ""),
    "f5first": mostly("jeann", ""),
    "ga_client_id": st.just("GA1.1.1.1"),  # not a Meta key: left out
}
FLOATS = mostly(42.5, None, 0.0, -3.0, 1e300, math.nan, math.inf, -math.inf)
BIG = mostly("x" * 20, "", "é" * 9000, "\x01" * 3000, "🛒" * 5000, "a" * 70_000)


@st.composite
def user_data(draw: st.DrawFn) -> dict[str, Any]:
    user: dict[str, Any] = {}
    for key in ("em", "ph", "fn", "ln", "ge", "db", "ct", "st", "zp", "country"):
        if draw(st.integers(0, 3)) == 0:
            user[key] = draw(HASHED)
    for key, values in CLEAR.items():
        if draw(st.integers(0, 3)) == 0:
            user[key] = draw(values)
    return user


@st.composite
def orders(draw: st.DrawFn) -> Order | None:
    if draw(st.integers(0, 9)) == 0:
        return None
    items = [Item.model_construct(id=draw(mostly("SKU-1", "S" * 300, 7)),
                                  quantity=draw(mostly(1, 0, 3, 10**16, True)),
                                  price=draw(FLOATS), name=None, category=None)
             for _ in range(draw(st.integers(0, 3)))]
    # Unvalidated: an older row, or a sender the order's own validators would refuse today.
    return Order.model_construct(
        reference=draw(mostly("R-1", None)), value=draw(FLOATS),
        currency=draw(mostly("EUR", None, "", "eur", "XXX", "EU", "XAU", 978)),
        items=items, shipping=None, tax=None, coupon=None, subscription_id=None, period=None)


@st.composite
def custom_data(draw: st.DrawFn) -> dict[str, Any]:
    keys = mostly("note", "search_string", "value", "currency", "predicted_ltv",
                  "delivery_category", "content_type", "num_items", "contents", "event_source",
                  "lead_event_source")
    values = st.one_of(BIG, mostly("x", None, 1, 2**70, 1.5, math.nan, True, "in_store",
                                   "product", [1, "a"], {"k": "v"}, ("t", 1)))
    return draw(st.dictionaries(keys, values, max_size=3))


@st.composite
def events(draw: st.DrawFn) -> NormalizedEvent:
    options = draw(mostly(None, [], ["LDU"], ["X"]))
    return NormalizedEvent(
        event_name=draw(mostly("Purchase", "Lead", "ViewContent", " ", "", "x" * 500)),
        event_id=draw(mostly("E-1", "", "é" * 100)),
        event_time=int(NOW) - draw(AGES),
        action_source=draw(mostly("website", "email", "app", "phone_call", "chat",
                                  "physical_store", "system_generated", "business_messaging",
                                  "other")),
        event_source_url=draw(mostly("https://shop.example/p", None, "", "ftp://x",
                                     "https://a b", "http://[::1/", "/relative")),
        referrer_url=draw(mostly(None, "", "https://r.example/")),
        opt_out=draw(st.booleans()),
        data_processing_options=options,
        data_processing_options_country=draw(st.sampled_from([None, 0, 1, 5]))
        if options is not None else None,
        data_processing_options_state=draw(st.sampled_from([None, 0, 1000, 7]))
        if options is not None else None,
        user_data={"em": HASH, **draw(user_data())},
        order=draw(orders()),
        custom_data=draw(custom_data()),
    )


def meta(rules: RulesConfig | None, ldu: str = "off", max_bytes: int = 64 * 1024,
         dry_run: bool = False) -> MetaDestination:
    settings = Settings(**CREDENTIALS, meta_ldu=ldu, meta_max_request_bytes=max_bytes)
    return DryRunDestination(settings, rules=rules) if dry_run else MetaDestination(
        settings, rules=rules)


DESTINATIONS = [meta(rules, ldu, max_bytes, dry_run)
                for rules in RULES for ldu in ("off", "geo", "always-california")
                for max_bytes, dry_run in ((64 * 1024, False), (2 * 1024 * 1024, True))]


def verdict(result: Prepared | Any) -> Any:
    return None if isinstance(result, Prepared) else result


@settings(max_examples=1000, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(event=events(), destination=st.sampled_from(DESTINATIONS),
       at=st.sampled_from([NOW, NOW + 3600]))
def test_the_fast_yes_is_the_general_paths_yes(event: NormalizedEvent,
                                               destination: MetaDestination, at: float) -> None:
    if surely_accepted(event, destination.rules, at, destination.max_request_bytes):
        assert destination._general_check(event, at) is None
    # And the whole accept-time verdict is prepare's, refusals and their reasons included.
    assert destination.admission_check(event, at) == verdict(destination.prepare(0, event, at))


def normalized(raw: dict[str, Any]) -> NormalizedEvent:
    settings = Settings(**CREDENTIALS)
    pipeline = Pipeline(settings, MemoryStore(), ["meta"], admitting=[])
    event = parse_event(raw, max_event_bytes=1_000_000)
    assert isinstance(event, Event), event
    return pipeline.normalize(event, "api", NOW)


GOOD = {
    "event_name": "Purchase", "event_id": "P-1", "event_time": int(NOW) - 60,
    "event_source_url": "https://shop.example/order-confirmation",
    "user": {"email": "jeanne.dupont@example.com", "phone": "+33612345678",
             "first_name": "Jeanne", "last_name": "Dupont", "country": "FR",
             "ip": "203.0.113.7", "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
             "fbp": "fb.1.1700000000000.1234567890", "fbc": "fb.1.1700000000000.AbCd",
             "external_id": "customer-7"},
    "order": {"reference": "R-1", "value": 42.5, "currency": "EUR",
              "items": [{"id": "SKU-1", "quantity": 2, "price": 21.25}]},
    "custom_data": {"search_string": "shoes"},
}


@pytest.mark.parametrize("rules", RULES)
def test_the_normalizers_events_take_the_fast_path(rules: RulesConfig | None) -> None:
    destination = meta(rules, max_bytes=2 * 1024 * 1024)
    event = normalized(GOOD)
    assert surely_accepted(event, destination.rules, NOW, destination.max_request_bytes)
    assert destination.admission_check(event, NOW) is None


@pytest.mark.parametrize(("change", "field"), [
    ({"event_time": int(NOW) - 8 * 86400}, "event_time"),  # stale: the window
    ({"event_source_url": None}, "event_source_url"),  # website without its page
    ({"order": {"reference": "R-1", "currency": "EUR"}}, "order"),  # Purchase without value
    ({"order": {"reference": "R-1", "value": 3.5}}, "order"),  # … or currency
    ({"user": {"country": "FR"}}, "user"),  # customer information too broad
    ({"user": {}}, "user"),  # none at all
    ({"custom_data": {f"k{i}": "é" * 3000 for i in range(14)}}, None),  # 84 kB > 64 KiB
])
def test_refusals_go_the_general_way(change: dict[str, Any], field: str | None) -> None:
    destination = meta(None)
    event = normalized({**GOOD, **change})
    assert not surely_accepted(event, destination.rules, NOW, destination.max_request_bytes)
    skip = destination.admission_check(event, NOW)
    assert skip is not None and skip.outcome in ("dead", "expired")
    assert skip.field == field
    assert skip == verdict(destination.prepare(0, event, NOW))


def test_the_expiry_margin_is_the_windows_not_the_fast_paths() -> None:
    """30 s inside Meta's 7 days: rule 12 would take it, the window (60 s margin) does not."""
    destination = meta(None)
    event = normalized({**GOOD, "event_time": int(NOW) - 7 * 86400 + 30})
    assert surely_accepted(event, destination.rules, NOW, destination.max_request_bytes)
    skip = destination.admission_check(event, NOW)
    assert skip is not None and skip.outcome == "expired"
    assert skip == verdict(destination.prepare(0, event, NOW))


def test_huge_amounts_are_measured() -> None:
    """1e300 goes out as a 301-digit integer (payload._number): beyond the size bound's
    24 characters a number, so such orders go the general way, which measures them."""
    destination = meta(None)
    event = normalized(GOOD)
    assert event.order is not None
    huge = event.model_copy(update={"order": event.order.model_copy(update={"value": 1e300})})
    assert not surely_accepted(huge, destination.rules, NOW, destination.max_request_bytes)
    assert destination.admission_check(huge, NOW) is None


def test_a_payload_near_the_budget_is_measured_not_guessed() -> None:
    """30 kB of custom_data fits 64 KiB, but not the 8-times bound: the general path measures
    it and takes it."""
    destination = meta(None)
    event = normalized({**GOOD, "custom_data": {f"k{i}": "a" * 3000 for i in range(10)}})
    assert not surely_accepted(event, destination.rules, NOW, destination.max_request_bytes)
    assert destination.admission_check(event, NOW) is None
