"""Who may use the console: the admin password, the signed session cookie, CSRF tokens and the
login rate limit.

- The password (TRACKSIDE_ADMIN_PASSWORD) is compared as SHA-256 digests with
  hmac.compare_digest: equal-length inputs, constant time, whatever the candidate's length.
- A session is a cookie signed with itsdangerous (HMAC) under a key drawn at random when the
  process starts: nothing about it is stored, a restart signs everyone out, and a key derived
  from the password would let a stolen cookie be brute-forced offline past the rate limit.
  The cookie carries the session's CSRF token and its age (8 hours at most), nothing else.
- Every POST carries the session's CSRF token in a form field (``csrf``); the login form, made
  before a session exists, carries a token of its own, paired with a short-lived cookie
  (double submit), so a page on another site cannot log a browser in to its own session.
- Login attempts are limited per client address (browser.RateLimiter): 5 at once, then one
  every 12 seconds.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer
from pydantic import SecretStr
from starlette.requests import Request

from trackside.web import browser

SESSION_COOKIE = "trackside_console"
LOGIN_COOKIE = "trackside_console_login"
SESSION_MAX_AGE_S = 8 * 3600
LOGIN_FORM_MAX_AGE_S = 3600
LOGIN_BURST = 5.0
LOGIN_PER_S = 1 / 12


@dataclass(frozen=True)
class Session:
    csrf: str


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def same_token(expected: str, submitted: str | None) -> bool:
    """Whether a submitted token is the expected one (constant time)."""
    return submitted is not None and hmac.compare_digest(_digest(expected), _digest(submitted))


class ConsoleAuth:
    def __init__(self, password: SecretStr | None, trusted_proxies: list[str], *,
                 signing_key: bytes | None = None) -> None:
        self._password = None if password is None else _digest(password.get_secret_value())
        key = signing_key or secrets.token_bytes(32)
        self._sessions = URLSafeTimedSerializer(key, salt="trackside-console-session")
        self._login_forms = URLSafeTimedSerializer(key, salt="trackside-console-login")
        self._trusted = browser.parse_networks(trusted_proxies)
        self.limiter = browser.RateLimiter(LOGIN_PER_S, LOGIN_BURST)

    @property
    def enabled(self) -> bool:
        return self._password is not None

    def password_matches(self, candidate: str) -> bool:
        if self._password is None:
            return False
        return hmac.compare_digest(self._password, _digest(candidate))

    # -- sessions -------------------------------------------------------------------------

    def new_session(self) -> str:
        """A new session's cookie value, with a new CSRF token."""
        return self._sessions.dumps({"csrf": secrets.token_urlsafe(32)})

    def session(self, request: Request) -> Session | None:
        """The request's valid session, or None (no cookie, a forged or expired one)."""
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie or len(cookie) > 512:
            return None
        try:
            data = self._sessions.loads(cookie, max_age=SESSION_MAX_AGE_S)
        except BadSignature:  # SignatureExpired is one too
            return None
        csrf = data.get("csrf") if isinstance(data, dict) else None
        return Session(csrf) if isinstance(csrf, str) else None

    # -- the login form's own token (double submit) ------------------------------------

    def new_login_form(self) -> tuple[str, str]:
        """(the form's token, the cookie value pairing it)."""
        token = secrets.token_urlsafe(32)
        return token, self._login_forms.dumps(token)

    def login_form_ok(self, request: Request, submitted: str | None) -> bool:
        cookie = request.cookies.get(LOGIN_COOKIE)
        if not cookie or len(cookie) > 512:
            return False
        try:
            token = self._login_forms.loads(cookie, max_age=LOGIN_FORM_MAX_AGE_S)
        except BadSignature:
            return False
        return isinstance(token, str) and same_token(token, submitted)

    # -- where the request came from ----------------------------------------------------

    def client_key(self, request: Request) -> str:
        """The rate limit's key: the client's address (through trusted proxies only)."""
        peer = request.client.host if request.client else None
        address = browser.client_ip(peer, request.headers.get("x-forwarded-for"), self._trusted)
        return browser.rate_key(address) if address else "unknown"

    def over_tls(self, request: Request) -> bool:
        """Whether the browser talked TLS: to us, or to a trusted proxy that says so."""
        if request.url.scheme == "https":
            return True
        peer = request.client.host if request.client else None
        if not browser.from_trusted_proxy(peer, self._trusted):
            return False
        forwarded = request.headers.get("x-forwarded-proto", "")
        return forwarded.split(",")[0].strip().lower() == "https"
