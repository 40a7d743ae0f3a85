"""web/cookie_header.set_cookie against Starlette's Response.set_cookie: the same header."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.responses import Response

from trackside.web import cookie_header

_VALUE = st.one_of(
    st.from_regex(r"fb\.1\.[0-9]{13}\.[0-9A-Za-z_-]{1,40}(\.[A-Za-z0-9]{2,8})?", fullmatch=True),
    st.text(max_size=12),
    st.text(alphabet="abc09._-;,\" =\\$!%'()é\x7f", min_size=1, max_size=12),
)
_DOMAIN = st.one_of(st.none(), st.just(""), st.sampled_from(
    [".shop.example", "shop.example", "xn--bcher-kva.example", "sh op", "a;b", "é.example"]))


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(["_fbp", "_fbc"]), _VALUE, _DOMAIN, st.booleans(),
       st.sampled_from([7_776_000, 0, 1]))
def test_the_header_is_starlettes(name: str, value: str, domain: str | None, secure: bool,
                                  max_age: int) -> None:
    expected, got = Response(b"{}"), Response(b"{}")
    try:
        expected.set_cookie(name, value, max_age=max_age, path="/", domain=domain,
                            secure=secure, httponly=False, samesite="lax")
    except (UnicodeEncodeError, ValueError) as exc:  # what Starlette refuses, so do we
        try:
            cookie_header.set_cookie(got, name, value, max_age=max_age, domain=domain,
                                     secure=secure)
        except type(exc):
            return
        raise AssertionError("accepted what set_cookie refuses") from None
    cookie_header.set_cookie(got, name, value, max_age=max_age, domain=domain, secure=secure)
    assert got.raw_headers == expected.raw_headers


def test_trackside_cookies_take_the_direct_path() -> None:
    response = Response(b"{}")
    cookie_header.set_cookie(response, "_fbc", "fb.1.1700000000000.IwAR2x_y-z", max_age=10,
                             domain=".shop.example", secure=True)
    assert response.raw_headers[-1] == (
        b"set-cookie",
        b"_fbc=fb.1.1700000000000.IwAR2x_y-z; Domain=.shop.example; Max-Age=10; Path=/; "
        b"SameSite=lax; Secure")
    assert cookie_header._PLAIN_VALUE.fullmatch("fb.1.1700000000000.1234567890")
