"""GA's browser ids: the client id from ``_ga``, the session id from ``_ga_<stream>``, and a
stable synthetic client id for events no browser carried."""

from __future__ import annotations

import hashlib
import re

from trackside.identity import cookies

__all__ = ["client_id_from_cookie", "session_id_from_cookie", "synthesize_client_id"]

_DIGITS = re.compile(r"[0-9]+")
_CLIENT_ID = re.compile(r"[0-9]+\.[0-9]+")


def client_id_from_cookie(value: str | None) -> str | None:
    """GA client id from a ``_ga`` cookie (``GA1.1.<rand>.<ts>``) or an already-parsed id.

    The pipeline normally stores the parsed id already (identity/normalize.py); this accepts
    both so an event stored with the raw cookie still keeps its attribution.
    """
    if not value:
        return None
    text = value.strip()
    if text.upper().startswith("GA"):
        return cookies.ga_client_id(text)
    return text if _CLIENT_ID.fullmatch(text) else None


def session_id_from_cookie(value: str | None) -> str | None:
    """GA session id from a ``_ga_<stream>`` cookie (GS1 or GS2 format) or a bare id."""
    if not value:
        return None
    text = value.strip()
    return text if _DIGITS.fullmatch(text) else cookies.ga_session_id(text)


def synthesize_client_id(seed: str) -> str:
    """A stable, GA-shaped client id (``<digits>.<digits>``) for an event without ``_ga``.

    Derived from the hashed external id when there is one, so the same customer keeps one
    synthetic GA user across events instead of a new orphan user (no attribution) per event.
    """
    digest = hashlib.sha256(b"trackside-ga4-client-id:" + seed.encode()).digest()
    random_part = int.from_bytes(digest[:4], "big") % 2_000_000_000 + 100_000_000
    second_part = int.from_bytes(digest[4:8], "big") % 900_000_000 + 1_000_000_000
    return f"{random_part}.{second_part}"
