"""GA4 Measurement Protocol: the destination and GA4's own request limits (rules.py)."""

from __future__ import annotations

from trackside.destinations.ga4.debug import debug_validate
from trackside.destinations.ga4.destination import (
    GA4_EVENT_NAMES,
    UNATTRIBUTED_NOTE,
    GA4Destination,
)
from trackside.destinations.ga4.ids import (
    client_id_from_cookie,
    session_id_from_cookie,
    synthesize_client_id,
)

__all__ = [
    "GA4_EVENT_NAMES",
    "UNATTRIBUTED_NOTE",
    "GA4Destination",
    "client_id_from_cookie",
    "debug_validate",
    "session_id_from_cookie",
    "synthesize_client_id",
]
