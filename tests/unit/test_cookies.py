"""fbp/fbc and GA cookie values.

fbp/fbc: https://developers.facebook.com/documentation/ads-commerce/conversions-api/parameters/fbp-and-fbc
and the strict fake Graph API's rules 26-27 (tests/fakes/meta_event_checks.py). _ga / _ga_<stream>:
https://www.bbccss.com/explanation-of-cookie-values-used-by-ga4.html and, for GS2,
https://www.thyngster.com/google-analytics-4-cookie-format-change-from-gs1-to-gs2-explained
"""

from __future__ import annotations

import re

import pytest

from trackside.identity import (
    build_fbc,
    fbclid_of,
    ga_client_id,
    ga_session_id,
    new_fbp,
    parse_fbc,
    parse_fbp,
)

VALID_FBC = [
    "fb.1.1554763741205.AbCdEfGhIjKlMnOpQrStUvWxYz1234567890",  # Meta's doc example
    "fb.1.1554763741205.IwZXh0bgNhZW0CMTAAAR-uK_5w",  # real fbclid with - and _
    "fb.1.1554763741205.IwAR2F4-dbP0l7Mn.AQICAQMC",  # parameter builder appendix
    "fb.1.1554763741205.IwAR2F4-dbP0l7Mn.AQ",  # legacy 2-char appendix
    "fb.0.1554763741205.abc",
    "fb.2.1554763741.abc",  # seconds (10 digits) are accepted by Graph
]
INVALID_FBC = [
    "fb.1.1554763741205",  # no fbclid: Meta's 2804001 "Click ID Incorrectly Formatted"
    "fb.1.1554763741205.",
    "fb.1.155476374.abc",  # 9-digit time
    "fb.1.15547637412050.abc",  # 14-digit time
    "fb.x.1554763741205.abc",
    "FB.1.1554763741205.abc",
    "fb.1.1554763741205.ab$c",
    "fb.1.1554763741205.abc.ABC",  # 3-char appendix
    "fb.1.1554763741205.abc.AQICAQMC.x",
    " fb.1.1554763741205.abc",
    "fb.1.١٥٥٤٧٦٣٧٤١٢٠٥.abc",  # non-ASCII digits
    "",
]


@pytest.mark.parametrize("value", VALID_FBC)
def test_parse_fbc_valid_values_unchanged(value: str) -> None:
    assert parse_fbc(value) == value


@pytest.mark.parametrize("value", [*INVALID_FBC, None, 12, ["fb.1.1554763741205.abc"]])
def test_parse_fbc_invalid(value: object) -> None:
    assert parse_fbc(value) is None


def test_parse_fbc_keeps_case() -> None:
    value = "fb.1.1554763741205.AbCdEf"
    assert parse_fbc(value) == value
    assert parse_fbc(value) != value.lower()


@pytest.mark.parametrize(
    "value",
    [
        "fb.1.1596403881668.1116446470",  # Meta's doc example
        "fb.1.1596403881668.1116446470.AQIAAQMC",
        "fb.1.1596403881668.1116446470.Bg",
        "fb.2.1596403881.1",
    ],
)
def test_parse_fbp_valid(value: str) -> None:
    assert parse_fbp(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "fb.1.1596403881668",
        "fb.1.1596403881668.abc",  # random part is digits
        "fb.1.159640388.1116446470",
        "fb.1.1596403881668.1116446470.AQIAAQM",
        "GA1.1.1197596843.1673515099",
        "",
        None,
    ],
)
def test_parse_fbp_invalid(value: object) -> None:
    assert parse_fbp(value) is None


def test_build_fbc() -> None:
    assert build_fbc("IwAR2F4-dbP0l7Mn", 1554763741205) == "fb.1.1554763741205.IwAR2F4-dbP0l7Mn"
    assert build_fbc("Ab_c", 1554763741205, subdomain_index=2) == "fb.2.1554763741205.Ab_c"
    built = build_fbc("IwZXh0bgNhZW0CMTAAAR-uK_5w", 1554763741205)
    assert parse_fbc(built) == built


@pytest.mark.parametrize("fbclid", ["", "a b", "a.b", "a%20b"])
def test_build_fbc_refuses_what_meta_would_reject(fbclid: str) -> None:
    with pytest.raises(ValueError):
        build_fbc(fbclid, 1554763741205)


def test_new_fbp() -> None:
    values = {new_fbp(1596403881668) for _ in range(20)}
    assert len(values) > 1
    for value in values:
        assert parse_fbp(value) == value
        assert re.fullmatch(r"fb\.1\.1596403881668\.[0-9]+", value)
        assert int(value.rsplit(".", 1)[1]) < 2**31
    assert new_fbp(1596403881668, subdomain_index=2).startswith("fb.2.1596403881668.")


@pytest.mark.parametrize(
    ("fbc", "expected"),
    [
        ("fb.1.1554763741205.IwAR2F4-dbP0l7Mn", "IwAR2F4-dbP0l7Mn"),
        ("fb.1.1554763741205.IwAR2F4-dbP0l7Mn.AQICAQMC", "IwAR2F4-dbP0l7Mn"),
        ("fb.1.1554763741205.x_y.AQ", "x_y"),
        ("fb.1.1554763741205", None),
        ("nonsense", None),
    ],
)
def test_fbclid_of(fbc: str, expected: str | None) -> None:
    assert fbclid_of(fbc) == expected


@pytest.mark.parametrize(
    ("cookie", "expected"),
    [
        ("GA1.1.1197596843.1673515099", "1197596843.1673515099"),  # client id: the last two fields
        ("GA1.2.1197596843.1673515099", "1197596843.1673515099"),
        ("GA1.2-2.1197596843.1673515099", "1197596843.1673515099"),
        ("GA1.1.97596843.1673515099", "97596843.1673515099"),  # random part length varies
        (" GA1.1.1197596843.1673515099 ", "1197596843.1673515099"),
        ("1197596843.1673515099", None),
        ("GA1.1.1197596843", None),
        ("GS2.1.s1747132561$o1", None),
        ("", None),
    ],
)
def test_ga_client_id(cookie: str, expected: str | None) -> None:
    assert ga_client_id(cookie) == expected


@pytest.mark.parametrize(
    ("cookie", "expected"),
    [
        # GS2: $-separated prefixed tokens, order not guaranteed
        ("GS2.1.s1747132561$o1$g0$t1747132655$j0$l0$h0", "1747132561"),
        ("GS2.1.o1$g0$s1747132561$t1747132655$j0$l0$h0", "1747132561"),
        ("GS2.1.o1$g0$t1747132655", None),
        # legacy GS1: third field
        ("GS1.1.1673515099.3.1.1673515200.0.0.0", "1673515099"),
        ("GS1.1.1673515099.1.0.1673515099.60.0.0", "1673515099"),
        ("GS1.1.abc.1", None),
        ("GA1.1.1197596843.1673515099", None),
        ("", None),
    ],
)
def test_ga_session_id(cookie: str, expected: str | None) -> None:
    assert ga_session_id(cookie) == expected
