"""What the store signs so that a beacon can prove what the store told it.

A signed purchase (``TRACKSIDE_SIGNING_KEY``) is sent on the browser's word; a join token
lets a beacon name a cart or customer id for joins (docs/browser-tag.md). Shop templates
compute the same HMACs, so these functions are the documented formulas, nothing more.
"""

from __future__ import annotations

import hashlib
import hmac
import math

# -- signed purchases -----------------------------------------------------------------------


def signature_message(reference: str, value: float, currency: str) -> bytes:
    """``reference|value|currency``, value with two decimals and a dot (``49.90``), currency
    upper-case: the exact text a store template signs (docs/browser-tag.md)."""
    if not math.isfinite(value):
        raise ValueError("value must be finite")
    return f"{reference}|{value:.2f}|{currency.upper()}".encode()


def sign_purchase(key: str, reference: str, value: float, currency: str) -> str:
    """Lower-case hex HMAC-SHA256 of :func:`signature_message` with ``TRACKSIDE_SIGNING_KEY``."""
    message = signature_message(reference, value, currency)
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def verify_purchase(key: str | None, signature: object, reference: str | None,
                    value: float | None, currency: str | None) -> bool:
    if not key or not isinstance(signature, str) or not reference or value is None \
            or not currency:
        return False
    try:
        expected = sign_purchase(key, reference, value, currency)
    except ValueError:
        return False
    return hmac.compare_digest(expected, signature.strip().lower())


# -- join tokens ----------------------------------------------------------------------------

#: The ids a beacon may name for joining, and the token param that vouches for each.
JOIN_TOKEN_PARAMS = {"cart_id": "cart_token", "customer_id": "customer_token"}


def join_token(key: str, kind: str, value: str) -> str:
    """Lower-case hex HMAC-SHA256 of ``"{kind}:{value}"`` (``cart:8841``, ``customer:311``)
    with ``TRACKSIDE_SIGNING_KEY``: what the shop renders beside a cart or customer id so a
    beacon can prove the store gave it that id (docs/browser-tag.md "Join tokens")."""
    return hmac.new(key.encode(), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def verify_join_token(key: str | None, kind: str, value: str | None, token: object) -> bool:
    """Whether ``token`` is the store's token for ``value``; constant-time, hex in any case."""
    if not key or not value or not isinstance(token, str):
        return False
    expected = join_token(key, kind, value)
    return hmac.compare_digest(expected.encode(), token.strip().lower().encode("utf-8", "replace"))
