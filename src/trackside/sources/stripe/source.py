"""STRIPE: the Stripe webhook source (route ``/webhooks/stripe``, ``/webhooks/stripe/{shop}``).

Stripe signs each delivery with the endpoint's secret (signature.py) and retries an
unanswered or failed one for up to three days (https://docs.stripe.com/webhooks#retries), so
every authentic delivery is answered 200, converted or with the reason it is not. The
delivery key is the Stripe event's ``id`` (``evt_…``): Stripe sends the same event again on a
retry (https://docs.stripe.com/webhooks#handle-duplicate-events).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from pydantic import SecretStr, ValidationError

from trackside.config import Settings
from trackside.events import validation_errors
from trackside.sources.stripe import map as stripe_map
from trackside.sources.stripe import signature
from trackside.sources.stripe.payload import Invoice, StripeEvent
from trackside.sources.webhooks import (
    Conversion,
    Delivery,
    MapContext,
    Unconverted,
    body_digest,
    is_text,
    parse_json_object,
    storable,
)

#: The one event type converted: a subscription's invoice was paid (first or renewal).
PAID = "invoice.paid"


class StripeSource:
    name = "stripe"
    title = "Stripe"
    secret_key = "stripe_webhook_secret"

    def secrets(self, settings: Settings) -> Sequence[SecretStr]:
        return settings.stripe_webhook_secret

    def is_ping(self, headers: Mapping[str, str], body: bytes) -> bool:
        return False  # Stripe has no unsigned hello: `stripe trigger` sends signed events

    def verify(self, headers: Mapping[str, str], body: bytes,
               secrets: Sequence[SecretStr]) -> bool:
        return signature.verify(headers.get("stripe-signature"), body, secrets, time.time())

    def delivery(self, headers: Mapping[str, str], body: bytes) -> Delivery:
        parsed = parse_json_object(body) or {}
        event_id, topic, created = parsed.get("id"), parsed.get("type"), parsed.get("created")
        return Delivery(
            delivery_id=event_id[:200] if isinstance(event_id, str) and event_id
            and is_text(event_id) else body_digest(body),
            topic=storable(topic[:100]) if isinstance(topic, str) else "",
            triggered_at=float(created) if isinstance(created, int)
            and not isinstance(created, bool) and 0 <= created < 10**11 else None)

    def convert(self, delivery: Delivery, body: bytes, context: MapContext) -> Conversion:
        parsed = parse_json_object(body)
        if parsed is None:
            return Conversion.ignored(Unconverted.MALFORMED, "the body is not a JSON object")
        if delivery.topic != PAID:
            return Conversion.ignored(Unconverted.UNKNOWN_TOPIC,
                                      f"event type {delivery.topic or '(none)'!r} is not "
                                      f"converted: subscribe the endpoint to {PAID} only")
        try:
            event = StripeEvent.model_validate(parsed)
            invoice = Invoice.model_validate(event.data.object)
        except ValidationError as exc:
            fields = "; ".join(f"{e.field}: {e.reason}"
                               for e in validation_errors(exc, "data.object")[:5])
            return Conversion.ignored(Unconverted.MALFORMED, fields)
        subscription = invoice.subscription_id()
        if not subscription:
            return Conversion.ignored(Unconverted.NOT_A_SUBSCRIPTION,
                                      f"invoice {invoice.id} belongs to no subscription")
        started = stripe_map.period_start(invoice, subscription)
        if started is None:
            return Conversion.ignored(Unconverted.MALFORMED,
                                      f"invoice {invoice.id} has no period start")
        paid_at = (invoice.status_transitions.paid_at if invoice.status_transitions else None) \
            or event.created or int(context.now)
        if context.now - paid_at > context.max_age_s:
            return Conversion.ignored(Unconverted.STALE,
                                      f"invoice {invoice.id} was paid longer ago than the "
                                      "destinations accept")
        return Conversion([stripe_map.subscription_event(invoice, subscription, started,
                                                         paid_at)])


STRIPE = StripeSource()
