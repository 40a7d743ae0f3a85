"""Stripe's webhook signature as https://docs.stripe.com/webhooks#verify-manually describes
it, signed here with the standard library (never trackside's code)."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from pydantic import SecretStr

from trackside.sources.stripe.signature import TOLERANCE_S, parse_header, verify

BODY = b'{"id": "evt_1", "type": "invoice.paid"}'
NOW = 1_780_000_000
SECRET = "whsec_unitTest"


def sign(secret: str, timestamp: int, body: bytes = BODY) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def secrets(*values: str) -> list[SecretStr]:
    return [SecretStr(v) for v in values]


def test_one_of_several_v1_signatures_and_other_schemes_ignored() -> None:
    header = (f"t={NOW},v1={sign('whsec_other', NOW)},v1={sign(SECRET, NOW)},"
              f"v0={sign('x', NOW)}")
    assert verify(header, BODY, secrets(SECRET), NOW)
    assert verify(header, BODY, secrets("whsec_nope", SECRET), NOW)
    assert not verify(header, BODY, secrets("whsec_nope"), NOW)


@pytest.mark.parametrize(("age", "ok"), [(0, True), (TOLERANCE_S, True), (TOLERANCE_S + 1, False),
                                         (-TOLERANCE_S, True), (-TOLERANCE_S - 1, False)])
def test_the_timestamp_must_be_within_five_minutes(age: int, ok: bool) -> None:
    signed_at = NOW - age
    assert verify(f"t={signed_at},v1={sign(SECRET, signed_at)}", BODY, secrets(SECRET),
                  NOW) is ok


def test_the_signature_covers_the_timestamp_and_the_raw_body() -> None:
    good = sign(SECRET, NOW)
    assert not verify(f"t={NOW - 1},v1={good}", BODY, secrets(SECRET), NOW)
    assert not verify(f"t={NOW},v1={good}", BODY + b" ", secrets(SECRET), NOW)


@pytest.mark.parametrize("header", [
    None, "", "t=", "v1=abc", f"t={NOW}", f"t=abc,v1={'0' * 64}", "t=-5,v1=00",
    f"t={NOW},v1=", "x" * 5000, f"t={NOW},v1=é\u202e", f"t=١٢٣,v1={'0' * 64}",
])
def test_headers_not_of_stripe_shape_are_refused(header: str | None) -> None:
    assert not verify(header, BODY, secrets(SECRET), NOW)


def test_no_secret_refuses_everything() -> None:
    assert not verify(f"t={NOW},v1={sign(SECRET, NOW)}", BODY, [], NOW)
    assert parse_header(f" t={NOW} , v1=AB ") == (NOW, ["ab"])
