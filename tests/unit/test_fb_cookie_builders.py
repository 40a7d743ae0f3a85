"""Meta's Parameter Builder (identity/param_builder.py) against trackside's hand-written _fbp/_fbc
code, on the same inputs: every difference is written down in the table below.

Formats: https://developers.facebook.com/documentation/ads-commerce/conversions-api/parameters/fbp-and-fbc
(``fb.{subdomainIndex}.{creationTime}.{fbclid}``) and the appendix of
https://developers.facebook.com/documentation/ads-commerce/conversions-api/parameter-builder-library
(capi-param-builder-python 1.3.2).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fb_appendix import MODIFIED, NET_NEW, NO_CHANGE, appendix, change_of
from trackside.identity import param_builder
from trackside.identity.cookies import parse_fbc, parse_fbp
from trackside.identity.param_builder import (
    CookieDecision,
    PublicSuffixResolver,
    decide_by_hand,
    decide_with_meta,
)
from trackside.web import browser

CHANGE_NAMES = {NO_CHANGE: "NO_CHANGE", NET_NEW: "NET_NEW", MODIFIED: "MODIFIED"}
OLD = "fb.1.1700000000000"


def shape(value: str | None, before: int, after: int) -> str | None:
    """A value with the parts that vary run to run named: NEW (a creation time of this call),
    RANDOM (the random part of a new _fbp) and the appendix's change type."""
    if value is None:
        return None
    parts = value.split(".")
    fresh = before <= int(parts[2]) <= after
    if fresh:
        parts[2] = "NEW"
        if parts[3].isdigit():
            parts[3] = "RANDOM"
    if len(parts) == 5 and len(parts[4]) == 8:
        parts[4] = CHANGE_NAMES[change_of(value)]
    return ".".join(parts)


def run(decide: Callable[[int], CookieDecision]) -> tuple[str | None, str | None, bool, bool]:
    before = int(time.time() * 1000)
    decision = decide(before)
    after = int(time.time() * 1000)
    return (shape(decision.fbp, before, after), shape(decision.fbc, before, after),
            decision.set_fbp, decision.set_fbc)


FRESH = "fb.1.NEW.RANDOM"
# (case, cookies, fbclid, host the builder sees, hand-written index (TRACKSIDE_COOKIE_DOMAIN),
#  hand-written result, the builder's result, why they differ)
TABLE: list[tuple[str, dict[str, str], str | None, str, int,
                  tuple[Any, ...], tuple[Any, ...], str]] = [
    ("fresh click on the registrable domain", {}, "IwAR-x_Y9", "shop.example", 1,
     (FRESH, "fb.1.NEW.IwAR-x_Y9", True, True),
     (FRESH + ".NET_NEW", "fb.1.NEW.IwAR-x_Y9.NET_NEW", True, True),
     "the builder adds the appendix (net new)"),
    ("the pixel's four-part cookies, same click",
     {"_fbp": f"{OLD}.42", "_fbc": f"{OLD}.IwAR-x_Y9"}, "IwAR-x_Y9", "shop.example", 1,
     (f"{OLD}.42", f"{OLD}.IwAR-x_Y9", False, False),
     (f"{OLD}.42.NO_CHANGE", f"{OLD}.IwAR-x_Y9.NO_CHANGE", True, True),
     "the builder rewrites four-part cookies with the no-change appendix"),
    ("five-part cookies, no click",
     {"_fbp": f"{OLD}.42.{appendix(NET_NEW)}", "_fbc": f"{OLD}.Click.{appendix(NET_NEW)}"},
     None, "shop.example", 1,
     (f"{OLD}.42.NET_NEW", f"{OLD}.Click.NET_NEW", False, False),
     (f"{OLD}.42.NET_NEW", f"{OLD}.Click.NET_NEW", False, False),
     "none"),
    ("a new click replaces the cookie's", {"_fbp": f"{OLD}.42.AQ", "_fbc": f"{OLD}.OldClick"},
     "NewClick", "shop.example", 1,
     (f"{OLD}.42.AQ", "fb.1.NEW.NewClick", False, True),
     (f"{OLD}.42.AQ", "fb.1.NEW.NewClick.MODIFIED", False, True),
     "appendix (modified); the legacy 2-character appendix AQ is kept by both"),
    ("host-only on shop.example.co.uk", {}, None, "shop.example.co.uk", 1,
     (FRESH, None, True, False), ("fb.2.NEW.RANDOM.NET_NEW", None, True, False),
     "index 2: the eTLD+1 example.co.uk has two dots; trackside says 1 for host-only"),
    ("TRACKSIDE_COOKIE_DOMAIN=www.shop.example", {}, None, "www.shop.example", 2,
     ("fb.2.NEW.RANDOM", None, True, False), (FRESH + ".NET_NEW", None, True, False),
     "the builder counts the eTLD+1 (shop.example), trackside the cookie domain's labels"),
    ("gateway on track.shop.example:8443, host-only", {}, None, "track.shop.example:8443", 1,
     (FRESH, None, True, False), (FRESH + ".NET_NEW", None, True, False),
     "appendix only"),
    ("a private suffix: shop.github.io", {}, None, "shop.github.io", 1,
     (FRESH, None, True, False), ("fb.2.NEW.RANDOM.NET_NEW", None, True, False),
     "github.io is a public suffix (PSL private section): eTLD+1 shop.github.io"),
    ("uppercase host and click id", {}, "IwAR-AbC", "SHOP.EXAMPLE.CO.UK", 1,
     (FRESH, "fb.1.NEW.IwAR-AbC", True, True),
     ("fb.2.NEW.RANDOM.NET_NEW", "fb.2.NEW.IwAR-AbC.NET_NEW", True, True),
     "index as above; the click id's case is kept by both"),
    ("an IPv4 host", {}, None, "203.0.113.7:8000", 1,
     (FRESH, None, True, False), ("fb.0.NEW.RANDOM.NET_NEW", None, True, False),
     "the builder says 0 for IP hosts (and would set the cookie on '[203.0.113.7]')"),
    ("an IPv6 host", {}, None, "[2001:db8::1]:443", 1,
     (FRESH, None, True, False), ("fb.0.NEW.RANDOM.NET_NEW", None, True, False),
     "index 0 for IP hosts"),
    ("localhost", {}, None, "localhost:8000", 1,
     (FRESH, None, True, False), ("fb.0.NEW.RANDOM.NET_NEW", None, True, False),
     "a single-label host is its own eTLD+1: index 0"),
    ("an unknown 2-character appendix", {"_fbp": f"{OLD}.42.ZZ"}, None, "shop.example", 1,
     (f"{OLD}.42.ZZ", None, False, False), (FRESH + ".NET_NEW", None, True, False),
     "the builder knows only AQ Ag Aw BA BQ Bg and replaces the cookie"),
    ("hostile cookies and click id",
     {"_fbp": f"{OLD}.42\x00", "_fbc": "fb.1.x.y"}, "a.b", "shop.example", 1,
     (FRESH, None, True, False), (FRESH + ".NET_NEW", None, True, False),
     "appendix only: both drop what Graph would refuse"),
    ("an fbclid over 1000 characters", {"_fbp": f"{OLD}.42.AQ"}, "A" * 1001, "shop.example", 1,
     (f"{OLD}.42.AQ", "fb.1.NEW." + "A" * 1001, False, True),
     (f"{OLD}.42.AQ", None, False, False),
     "the wrapper's limit (the beacon's own fbclid limit); the hand-written code has none"),
    ("a Host that is not a host name", {}, "Click", "shop.example\r\nX: y", 1,
     (FRESH, "fb.1.NEW.Click", True, True), (FRESH, "fb.1.NEW.Click", True, True),
     "none: the wrapper falls back to the hand-written code"),
]


@pytest.mark.parametrize(("case", "cookies", "fbclid", "host", "index", "by_hand", "by_meta",
                          "why"), TABLE, ids=[row[0] for row in TABLE])
def test_builder_and_hand_written_code_on_the_same_inputs(
        case: str, cookies: dict[str, str], fbclid: str | None, host: str, index: int,
        by_hand: tuple[Any, ...], by_meta: tuple[Any, ...], why: str) -> None:
    assert run(lambda now: decide_by_hand(cookies, fbclid, now, index, True)) == by_hand, case
    assert run(lambda now: decide_with_meta(cookies, fbclid, host, now, True)) == by_meta, why
    assert (by_hand == by_meta) == (why.startswith("none")), "the table names every difference"


@pytest.mark.parametrize("builder", ["meta", "trackside"])
def test_without_consent_nothing_is_built_and_the_browser_values_are_carried(
        builder: str) -> None:
    cookies = {"_fbp": f"{OLD}.42", "_fbc": "garbage"}
    decision = browser.first_party_cookies(cookies, "Click", builder=builder,
                                           host="shop.example", index=1, now_ms=1, may_store=False)
    assert decision == CookieDecision(f"{OLD}.42", None, False, False)


def test_the_appendix_is_metas_six_bytes() -> None:
    decision = decide_with_meta({}, "IwAR-x_Y9", "www.example.com", 0, True)
    assert decision.fbc is not None and decision.fbp is not None
    # Meta's own example: fbclid on www.example.com → fb.1.<ms>.<fbclid>.AQICAQMC (1.3.2).
    assert decision.fbc.endswith(".IwAR-x_Y9." + appendix(NET_NEW))
    assert decision.fbp.endswith("." + appendix(NET_NEW))
    assert parse_fbc(decision.fbc) == decision.fbc and parse_fbp(decision.fbp) == decision.fbp


def test_each_host_gets_its_own_index_when_hosts_alternate() -> None:
    # A ParamBuilder keeps the first host's eTLD+1: one reused across hosts would give every
    # host the first one's index.
    for _ in range(2):
        for host, index in (("shop.example.co.uk", "2"), ("127.0.0.1", "0"), ("shop.example", "1")):
            fbp = decide_with_meta({}, None, host, 0, True).fbp
            assert fbp is not None and fbp.split(".")[1] == index, host


def test_threads_never_share_a_builder() -> None:
    hosts = {"shop.example.co.uk": "2", "10.0.0.1": "0", "shop.example": "1", "localhost": "0"}

    def index_of(host: str) -> tuple[str, str]:
        fbc = decide_with_meta({}, f"Click{len(host)}", host, 0, True).fbc
        assert fbc is not None and fbc.split(".")[3] == f"Click{len(host)}"
        return host, fbc.split(".")[1]

    with ThreadPoolExecutor(max_workers=4) as pool:
        for host, index in pool.map(index_of, list(hosts) * 200):
            assert hosts[host] == index


def test_hostile_values_are_dropped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    canary = "fb.1.1700000000000.42\x1b[31mCANARY"
    with caplog.at_level(logging.WARNING, logger="trackside.cookies"):
        decision = decide_with_meta({"_fbp": canary, "_fbc": "x" * 5000}, "bad click!",
                                    "shop.example", 0, True)
    assert decision.fbc is None and decision.fbp is not None and "CANARY" not in decision.fbp
    text = caplog.text
    assert "_fbp cookie is not a valid value" in text and "_fbc cookie" in text
    assert "fbclid is not a valid click id" in text
    assert "CANARY" not in text and "bad click" not in text  # never the hostile value itself


def test_a_failing_library_falls_back_to_the_hand_written_values(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        def __init__(self, resolver: object) -> None:
            pass

        def process_request(self, *args: object) -> set[object]:
            raise IndexError("a library bug")

    monkeypatch.setattr(param_builder, "ParamBuilder", Broken)
    monkeypatch.setattr(param_builder, "_BUILDERS", threading.local())  # none made yet
    with caplog.at_level(logging.WARNING, logger="trackside.cookies"):
        decision = decide_with_meta({}, "Click", "shop.example", 1_700_000_000_000, True)
    assert decision.fbc == "fb.1.1700000000000.Click" and decision.set_fbp
    assert "parameter builder failed (IndexError)" in caplog.text


def test_the_public_suffix_list_is_read_without_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the resolver tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    param_builder._public_suffixes.cache_clear()
    resolver = PublicSuffixResolver()
    assert resolver.resolve("shop.example.co.uk") == "example.co.uk"
    assert resolver.resolve("a.b.example.com.") == "example.com"
    assert resolver.resolve("co.uk") == "co.uk" and resolver.resolve("localhost") == "localhost"


cookie_text = st.one_of(st.text(max_size=60), st.from_regex(
    r"fb\.[0-9]{1,2}\.[0-9]{10,13}\.[A-Za-z0-9_.-]{0,20}", fullmatch=True))


@settings(max_examples=300, deadline=None)
@given(fbp=st.one_of(st.none(), cookie_text), fbc=st.one_of(st.none(), cookie_text),
       fbclid=st.one_of(st.none(), st.text(max_size=40),
                        st.from_regex(r"[A-Za-z0-9_-]{1,30}", fullmatch=True)),
       host=st.one_of(st.none(), st.text(max_size=40),
                      st.from_regex(r"[a-z0-9.-]{1,30}(:[0-9]{1,5})?", fullmatch=True)),
       may_store=st.booleans())
def test_the_wrapped_builder_never_raises_and_only_gives_valid_values(
        fbp: str | None, fbc: str | None, fbclid: str | None, host: str | None,
        may_store: bool) -> None:
    cookies = {k: v for k, v in (("_fbp", fbp), ("_fbc", fbc)) if v is not None}
    decision = decide_with_meta(cookies, fbclid, host, 1_700_000_000_000, may_store)
    for value, parse in ((decision.fbp, parse_fbp), (decision.fbc, parse_fbc)):
        assert value is None or parse(value) == value
    if not may_store:
        assert not (decision.set_fbp or decision.set_fbc)
    else:
        assert decision.fbp is not None
