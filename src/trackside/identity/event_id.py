"""Event ids: one per business fact, shared by the pixel, CAPI and GA4.

Meta deduplicates on (event_name, event_id) within 48 h
(https://developers.facebook.com/documentation/ads-commerce/conversions-api/deduplicate-pixel-and-server-events).
An id invented independently on each side is the main cause of double-counted purchases, so
ids come from business keys wherever one exists.
"""

from __future__ import annotations

import json
import uuid
from hashlib import sha256
from typing import Any

__all__ = [
    "lead_event_id",
    "order_event_id",
    "purchase_event_id",
    "random_event_id",
    "renewal_event_id",
    "resolve_event_id",
]

#: Length of the digest in content-derived ids: 128 bits, ample for uniqueness, short to read.
_DIGEST_CHARS = 32


def purchase_event_id(reference: str, prefix: str = "") -> str:
    """The order's checkout reference, with the shop prefix: ``prefix + reference``.

    The browser tag computes the same value on the confirmation page, so pixel ``eventID``,
    CAPI ``event_id`` and GA4 ``transaction_id`` are identical (docs/browser-tag.md, ``purchase``).
    """
    return f"{prefix}{reference}"


def order_event_id(event_name: str, reference: str, prefix: str = "") -> str:
    """``{event_name}:{prefix}{reference}`` for other order-bound events (refund, status)."""
    return f"{event_name}:{prefix}{reference}"


def renewal_event_id(subscription_id: str, period: str) -> str:
    """``renewal:{subscription}:{period start, YYYY-MM-DD}``: one charge of one period of a
    subscription, whichever backend reports it (Stripe's invoice.paid, POST /v1/events)."""
    return f"renewal:{subscription_id}:{period}"


def lead_event_id(lead_id: str, stage: str) -> str:
    """``lead:{lead_id}:{stage}``: a CRM stage of a Meta lead counts once, however often the
    CRM (or its export) sends it."""
    return f"lead:{lead_id}:{stage}"


def random_event_id() -> str:
    """A random id for a browser action without a business key (uuid4 hex)."""
    return uuid.uuid4().hex


def _canonical(event: Any) -> str:
    # event_time is left out when the source did not send it: the model fills it with "now",
    # which differs on every retry of the same POST.
    exclude = {"event_id"}
    if "event_time" not in event.model_fields_set:
        exclude.add("event_time")
    body = event.model_dump(mode="json", exclude=exclude)
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def resolve_event_id(event: Any, prefix: str = "") -> str:
    """The id an event is stored and sent under.

    1. an explicit ``event.event_id`` wins;
    2. a subscription charge (``order.subscription_id`` and ``order.period``) →
       ``renewal_event_id``; a CRM event (trackside/crm.py) → ``lead_event_id``;
    3. ``Purchase`` with ``order.reference`` → ``purchase_event_id``;
    4. any other event with ``order.reference`` → ``order_event_id``;
    5. otherwise ``h-`` + SHA-256 of the event's canonical JSON (first 128 bits), so the same
       server POST retried gets the same id and is deduplicated. ``prefix`` does not apply: a
       content hash is already specific to the event.
    """
    given: str | None = event.event_id
    if given:
        return given
    order = event.order
    if order is not None and order.subscription_id and order.period:
        return renewal_event_id(order.subscription_id, order.period)
    if event.action_source == "system_generated" and isinstance(event.user.lead_id, str):
        return lead_event_id(event.user.lead_id, event.event_name)
    reference = order.reference if order is not None else None
    if reference:
        if event.event_name == "Purchase":
            return purchase_event_id(reference, prefix)
        return order_event_id(event.event_name, reference, prefix)
    digest = sha256(_canonical(event).encode("utf-8")).hexdigest()
    return "h-" + digest[:_DIGEST_CHARS]
