"""The console's sign-in pieces on their own: password digests, signed sessions (forged,
tampered, another process's key), CSRF token comparison, the login rate limit, TLS and client
address through trusted proxies only."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr
from starlette.requests import Request

from trackside.web.console.auth import (
    LOGIN_BURST,
    LOGIN_COOKIE,
    LOGIN_PER_S,
    SESSION_COOKIE,
    ConsoleAuth,
    same_token,
)


def request(cookies: dict[str, str] | None = None, headers: dict[str, str] | None = None,
            peer: str = "192.0.2.10", scheme: str = "http") -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    if cookies:
        raw.append((b"cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()).encode()))
    scope: dict[str, Any] = {"type": "http", "method": "GET", "path": "/dashboard",
                             "headers": raw, "client": (peer, 5000), "scheme": scheme,
                             "server": ("gateway", 80), "query_string": b""}
    return Request(scope)


def auth(password: str | None = "right horse battery", proxies: list[str] | None = None
         ) -> ConsoleAuth:
    return ConsoleAuth(None if password is None else SecretStr(password), proxies or [],
                       signing_key=b"k" * 32)


def test_password_compared_as_digests() -> None:
    console = auth()
    assert console.enabled
    assert console.password_matches("right horse battery")
    assert not console.password_matches("right horse batter")
    assert not console.password_matches("")
    assert not console.password_matches("right horse battery" * 1000)
    disabled = auth(None)
    assert not disabled.enabled and not disabled.password_matches("")


def test_session_cookie_is_signed() -> None:
    console = auth()
    cookie = console.new_session()
    session = console.session(request({SESSION_COOKIE: cookie}))
    assert session is not None and len(session.csrf) >= 32
    assert console.new_session() != cookie  # a new CSRF token per session
    tampered = cookie[:-2] + ("A" if cookie[-2] != "A" else "B") + cookie[-1]
    assert console.session(request({SESSION_COOKIE: tampered})) is None
    assert console.session(request({SESSION_COOKIE: "x" * 600})) is None
    assert console.session(request()) is None
    other_process = ConsoleAuth(SecretStr("right horse battery"), [], signing_key=b"o" * 32)
    assert other_process.session(request({SESSION_COOKIE: cookie})) is None
    # The login form's pairing cookie is not a session (another salt), nor the reverse.
    token, pairing = console.new_login_form()
    assert console.session(request({SESSION_COOKIE: pairing})) is None
    assert console.login_form_ok(request({LOGIN_COOKIE: pairing}), token)
    assert not console.login_form_ok(request({LOGIN_COOKIE: pairing}), token + "x")
    assert not console.login_form_ok(request({LOGIN_COOKIE: cookie}), token)
    assert not console.login_form_ok(request(), token)


def test_csrf_tokens_compared_whole() -> None:
    assert same_token("abc", "abc")
    assert not same_token("abc", "ab")
    assert not same_token("abc", None)
    assert not same_token("abc", "")


def test_login_rate_limit_per_address() -> None:
    limiter = auth().limiter
    allowed = [limiter.check("192.0.2.1", now=100.0) is None for _ in range(7)]
    assert allowed == [True] * int(LOGIN_BURST) + [False, False]
    assert limiter.check("192.0.2.2", now=100.0) is None  # another address has its own
    assert limiter.check("192.0.2.1", now=100.0 + 1 / LOGIN_PER_S) is None


def test_tls_and_client_address_only_through_trusted_proxies() -> None:
    direct = auth()
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.5"}
    assert not direct.over_tls(request(headers=forwarded))
    assert direct.over_tls(request(scheme="https"))
    assert direct.client_key(request(headers=forwarded)) == "192.0.2.10"
    proxied = auth(proxies=["192.0.2.0/24"])
    assert proxied.over_tls(request(headers=forwarded))
    assert not proxied.over_tls(request(headers={"X-Forwarded-Proto": "http"}))
    assert proxied.client_key(request(headers=forwarded)) == "203.0.113.5"
    assert not proxied.over_tls(request(headers=forwarded, peer="198.51.100.7"))
