"""web/browser.py: origin policy, client IP behind proxies, rate limiter, cookies;
sources/signing.py: purchase signatures and join tokens."""

from __future__ import annotations

import hashlib
import hmac
import re

import pytest

from trackside.identity.cookies import parse_fbc, parse_fbp
from trackside.identity.param_builder import CookieDecision, decide_by_hand
from trackside.sources import signing
from trackside.web import browser

# -- origin -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("allowed", "origin", "host", "ok"),
    [
        (["https://shop.example"], "https://shop.example", "t.shop.example", True),
        (["https://shop.example/"], "https://SHOP.example", "x", True),
        (["https://shop.example"], "http://shop.example", "x", False),  # scheme matters
        (["https://shop.example"], "https://shop.example.evil.test", "x", False),
        (["https://shop.example"], "https://evil.test", "x", False),
        (["https://*.shop.example"], "https://www.shop.example", "x", True),
        (["https://*.shop.example"], "https://a.b.shop.example", "x", True),
        (["https://*.shop.example"], "https://evilshop.example", "x", False),
        (["https://*.shop.example"], "http://www.shop.example", "x", False),
        (["*"], "https://anything.test", "x", True),
        (["*"], None, "x", False),  # no Origin: not a browser page
        (["*"], "null", "x", False),  # sandboxed iframe, file://
        ([], "http://127.0.0.1:8000", "127.0.0.1:8000", True),  # same origin only
        ([], "http://127.0.0.1:8000", "127.0.0.1:9000", False),
        ([], "https://shop.example", "shop.example", True),
        ([], "https://evil.test", "shop.example", False),
        ([], "https://shop.example", None, False),
    ],
)
def test_origin_policy(allowed: list[str], origin: str | None, host: str | None, ok: bool) -> None:
    assert browser.OriginPolicy(allowed).allows(origin, host) is ok


# -- client IP --------------------------------------------------------------------------------

TRUSTED = browser.parse_networks(["10.0.0.0/8", "127.0.0.1", "2001:db8:ffff::/48"])


@pytest.mark.parametrize(
    ("peer", "xff", "expected"),
    [
        ("203.0.113.9", None, "203.0.113.9"),
        # An untrusted peer's X-Forwarded-For is anyone's word: ignored.
        ("203.0.113.9", "198.51.100.1", "203.0.113.9"),
        ("10.1.2.3", "198.51.100.1", "198.51.100.1"),
        # Right to left: the spoofed left part is beyond our proxies.
        ("10.1.2.3", "6.6.6.6, 198.51.100.1, 10.9.9.9", "198.51.100.1"),
        ("127.0.0.1", "198.51.100.1:4711", "198.51.100.1"),
        ("10.1.2.3", "10.2.2.2, 10.3.3.3", "10.2.2.2"),  # all trusted: the farthest
        ("10.1.2.3", "garbage, 10.3.3.3", "10.3.3.3"),
        ("10.1.2.3", "", "10.1.2.3"),
        ("::ffff:10.1.2.3", "198.51.100.7", "198.51.100.7"),  # dual-stack peer
        ("2001:db8:ffff::1", "2001:db8:1::42", "2001:db8:1::42"),
        ("2001:db8:ffff::1", "[2001:db8:1::42]:443, 2001:db8:ffff::2", "2001:db8:1::42"),
        ("2001:db8:1::1", "198.51.100.1", "2001:db8:1::1"),  # IPv6 peer not trusted
        (None, "198.51.100.1", None),
        ("not-an-ip", None, None),
    ],
)
def test_client_ip(peer: str | None, xff: str | None, expected: str | None) -> None:
    assert browser.client_ip(peer, xff, TRUSTED) == expected


def test_trusted_proxies_reject_garbage() -> None:
    with pytest.raises(ValueError, match="not an address or CIDR"):
        browser.parse_networks(["10.0.0.0/8", "proxy.internal"])


def test_rate_key_groups_ipv6_by_64() -> None:
    assert browser.rate_key("2001:db8:1:2:aaaa::1") == browser.rate_key("2001:db8:1:2:bbbb::9")
    assert browser.rate_key("2001:db8:1:2::1") != browser.rate_key("2001:db8:1:3::1")
    assert browser.rate_key("198.51.100.1") == "198.51.100.1"


# -- rate limiter -------------------------------------------------------------------------------


def test_rate_limiter_burst_then_rate() -> None:
    limiter = browser.RateLimiter(rate=2.0, burst=5.0)
    assert all(limiter.check("a", now=100.0) is None for _ in range(5))
    wait = limiter.check("a", now=100.0)
    assert wait == pytest.approx(0.5)
    assert limiter.check("b", now=100.0) is None  # per client
    assert limiter.check("a", now=100.5) is None  # one token back after 1/rate
    assert limiter.check("a", now=100.5) is not None


def test_rate_limiter_memory_is_bounded() -> None:
    limiter = browser.RateLimiter(rate=1.0, burst=2.0, max_keys=100)
    for i in range(1000):
        limiter.check(f"k{i}", now=float(i))  # each key idle long enough to be dropped
    assert len(limiter._buckets) <= 100
    flood = browser.RateLimiter(rate=1.0, burst=2.0, max_keys=100)
    for i in range(1000):
        flood.check(f"k{i}", now=0.0)  # all active at once: forget rather than grow
    assert len(flood._buckets) <= 100


# -- cookies --------------------------------------------------------------------------------


@pytest.mark.parametrize(("domain", "index"),
                         [(None, 1), ("shop.example", 1), (".shop.example", 1),
                          ("www.shop.example", 2), ("com", 0)])
def test_subdomain_index(domain: str | None, index: int) -> None:
    assert browser.subdomain_index(domain) == index


NOW_MS = 1_732_250_000_123


def test_new_fbp_and_fbc_when_missing() -> None:
    decision = decide_by_hand({}, "IwAR-x_Y9", NOW_MS, 1, may_store=True)
    assert decision.set_fbp and decision.set_fbc
    assert parse_fbp(decision.fbp) and decision.fbp.startswith(f"fb.1.{NOW_MS}.")
    assert decision.fbc == f"fb.1.{NOW_MS}.IwAR-x_Y9" and parse_fbc(decision.fbc)


def test_existing_cookies_are_kept_unless_a_new_click_arrives() -> None:
    existing = {"_fbp": "fb.1.1700000000000.42", "_fbc": "fb.1.1700000000000.OldClick.AQ"}
    same = decide_by_hand(existing, "OldClick", NOW_MS, 1, may_store=True)
    assert (same.fbp, same.fbc, same.set_fbp, same.set_fbc) == (
        existing["_fbp"], existing["_fbc"], False, False)
    newer = decide_by_hand(existing, "NewClick", NOW_MS, 2, may_store=True)
    assert newer.set_fbc and newer.fbc == f"fb.2.{NOW_MS}.NewClick" and not newer.set_fbp


def test_nothing_is_written_without_consent_and_bad_values_are_not_carried() -> None:
    decision = decide_by_hand({"_fbp": "garbage", "_fbc": "fb.1.x.y"}, "Click",
                                      NOW_MS, 1, may_store=False)
    assert decision == CookieDecision(None, None, False, False)
    invalid_click = decide_by_hand({}, "bad click!", NOW_MS, 1, may_store=True)
    assert invalid_click.fbc is None and not invalid_click.set_fbc


# -- signatures ---------------------------------------------------------------------------------


def test_signature_recipe_is_hmac_sha256_of_reference_value_currency() -> None:
    # The recipe in docs/browser-tag.md, computed independently.
    expected = hmac.new(b"k3y", b"XKBKNABJK|49.90|EUR", hashlib.sha256).hexdigest()
    assert signing.sign_purchase("k3y", "XKBKNABJK", 49.9, "eur") == expected
    assert re.fullmatch(r"[0-9a-f]{64}", expected)


@pytest.mark.parametrize(
    ("signature_of", "reference", "value", "currency", "ok"),
    [
        (("XKBKNABJK", 49.9, "EUR"), "XKBKNABJK", 49.9, "EUR", True),
        (("XKBKNABJK", 49.9, "EUR"), "XKBKNABJK", 49.90000001, "EUR", True),  # same cents
        (("XKBKNABJK", 49.9, "EUR"), "XKBKNABJK", 499.0, "EUR", False),
        (("XKBKNABJK", 49.9, "EUR"), "XKBKNABJK", 49.9, "USD", False),
        (("XKBKNABJK", 49.9, "EUR"), "OTHERREF", 49.9, "EUR", False),
    ],
)
def test_verify_purchase(signature_of: tuple[str, float, str], reference: str, value: float,
                         currency: str, ok: bool) -> None:
    signature = signing.sign_purchase("k3y", *signature_of)
    assert signing.verify_purchase("k3y", signature, reference, value, currency) is ok
    assert signing.verify_purchase("k3y", signature.upper(), reference, value, currency) is ok


def test_verify_purchase_refuses_missing_pieces() -> None:
    good = signing.sign_purchase("k3y", "R", 1.0, "EUR")
    assert not signing.verify_purchase(None, good, "R", 1.0, "EUR")  # no key configured
    assert not signing.verify_purchase("other", good, "R", 1.0, "EUR")
    assert not signing.verify_purchase("k3y", None, "R", 1.0, "EUR")
    assert not signing.verify_purchase("k3y", 12345, "R", 1.0, "EUR")
    assert not signing.verify_purchase("k3y", good, "R", None, "EUR")
    assert not signing.verify_purchase("k3y", good, "R", float("nan"), "EUR")


# -- join tokens (docs/browser-tag.md "Join tokens") ----------------------------------------------

TOKEN_KEY = "join-token-key-1"


def test_join_token_is_the_documented_hmac() -> None:
    expected = hmac.new(TOKEN_KEY.encode(), b"customer:311", hashlib.sha256).hexdigest()
    assert signing.join_token(TOKEN_KEY, "customer", "311") == expected
    assert re.fullmatch(r"[0-9a-f]{64}", expected)
    assert signing.join_token(TOKEN_KEY, "cart", "311") != expected  # the kind is signed too


@pytest.mark.parametrize(
    ("key", "kind", "value", "token", "valid"),
    [
        (TOKEN_KEY, "cart", "8841", signing.join_token(TOKEN_KEY, "cart", "8841"), True),
        # Hex in upper case is the same token (a template may print it so).
        (TOKEN_KEY, "cart", "8841", signing.join_token(TOKEN_KEY, "cart", "8841").upper(), True),
        (TOKEN_KEY, "cart", "8841", None, False),  # missing
        (TOKEN_KEY, "cart", "8841", "", False),
        (TOKEN_KEY, "cart", "8841", signing.join_token("other-key", "cart", "8841"), False),
        (TOKEN_KEY, "cart", "8842", signing.join_token(TOKEN_KEY, "cart", "8841"), False),
        # Ids are exact: another case is another id.
        (TOKEN_KEY, "cart", "ABC", signing.join_token(TOKEN_KEY, "cart", "abc"), False),
        (TOKEN_KEY, "customer", "8841", signing.join_token(TOKEN_KEY, "cart", "8841"), False),
        (TOKEN_KEY, "cart", "8841", 12345, False),  # not a string
        (TOKEN_KEY, "cart", "8841", "\u00e9" * 64, False),  # not ASCII: no exception
        (None, "cart", "8841", signing.join_token(TOKEN_KEY, "cart", "8841"), False),  # no key
        (TOKEN_KEY, "cart", None, signing.join_token(TOKEN_KEY, "cart", "None"), False),
    ],
)
def test_verify_join_token(key: str | None, kind: str, value: str | None, token: object,
                           valid: bool) -> None:
    assert signing.verify_join_token(key, kind, value, token) is valid
