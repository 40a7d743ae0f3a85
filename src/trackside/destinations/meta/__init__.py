"""Meta Conversions API: the destination, its payloads, its classifier and Meta's rules."""

from __future__ import annotations

from trackside.destinations.meta.classify import classify_response
from trackside.destinations.meta.destination import MetaDestination
from trackside.destinations.meta.payload import event_payload

__all__ = ["MetaDestination", "classify_response", "event_payload"]
