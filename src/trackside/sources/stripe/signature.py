"""Stripe's webhook signature (https://docs.stripe.com/webhooks#verify-manually).

``Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…][,v0=…]``: each ``v1`` is
HMAC-SHA256(endpoint secret, ``"{t}.{raw body}"``) in hex; several ``v1`` appear while a rolled
secret's old one still signs; other schemes (``v0``, test-mode only) are ignored. Stripe's
libraries refuse a timestamp more than 300 seconds away (the replay window); so does this.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from pydantic import SecretStr

#: Stripe's default tolerance: a delivery signed longer ago than this is a replay.
TOLERANCE_S = 300
#: A header longer than this is not Stripe's (a timestamp and a few signatures).
_MAX_HEADER = 2000
_MAX_SIGNATURES = 8


def parse_header(header: str | None) -> tuple[int, list[str]] | None:
    """The timestamp and the v1 signatures, or None when the header is not Stripe's shape."""
    if not header or len(header) > _MAX_HEADER:
        return None
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isascii() and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif key == "v1" and value and len(signatures) < _MAX_SIGNATURES:
            signatures.append(value.lower())
    if timestamp is None or not signatures:
        return None
    return timestamp, signatures


def verify(header: str | None, body: bytes, secrets: Sequence[SecretStr], now: float) -> bool:
    """Whether one ``v1`` signature matches one secret and the timestamp is within
    :data:`TOLERANCE_S` of ``now``; constant-time comparisons, every pair tried."""
    parsed = parse_header(header)
    if parsed is None or not secrets:
        return False
    timestamp, signatures = parsed
    if abs(now - timestamp) > TOLERANCE_S:
        return False
    signed = str(timestamp).encode("ascii") + b"." + body
    matched = False
    for secret in secrets:
        expected = hmac.new(secret.get_secret_value().encode("utf-8"), signed,
                            hashlib.sha256).hexdigest()
        for signature in signatures:
            matched |= hmac.compare_digest(expected.encode("ascii"),
                                           signature.encode("utf-8", "replace"))
    return matched
