"""Signed webhook: batches of events POSTed as JSON to the shop's own receiver."""

from __future__ import annotations

from trackside.destinations.webhook.destination import WebhookDestination, event_document
from trackside.destinations.webhook.settings import WebhookSettings
from trackside.destinations.webhook.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "WebhookDestination",
    "WebhookSettings",
    "event_document",
    "sign",
]
