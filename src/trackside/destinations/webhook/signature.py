"""What X-Trackside-Signature signs, in one place (the receiver's check is documented in
docs/destinations.md and re-implemented, independently, by tests/fakes/webhook_receiver.py).

The signed bytes are ``<timestamp>.<raw body>``: the decimal Unix time of
``X-Trackside-Timestamp``, one ASCII dot, then the request body exactly as sent. The header is
``sha256=<lowercase hex HMAC-SHA256(secret, signed bytes)>``. Signing the timestamp lets a
receiver refuse replays of an old body.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Trackside-Signature"
TIMESTAMP_HEADER = "X-Trackside-Timestamp"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()
