"""A paid subscription invoice → one raw canonical event (a dict for parse_batch).

- The first invoice of a subscription (``billing_reason`` ``subscription_create``) is a
  ``Subscribe``; every later paid invoice (``subscription_cycle``, ``subscription_update``, …)
  a ``Purchase`` (https://docs.stripe.com/api/invoices/object#invoice_object-billing_reason).
- ``order.subscription_id`` + ``order.period`` make the id ``renewal:{subscription}:{YYYY-MM-DD}``
  and the action source ``system_generated`` (trackside/events.py), the rule any backend's
  renewal posted to /v1/events follows, so the same charge counts once whoever reports it.
- The period is the subscription line's ``period.start``, the period paid for: the invoice's
  own ``period_start`` "looks back one period for a subscription invoice. Use the line item
  period to get the service period for each price"
  (https://docs.stripe.com/api/invoices/object#invoice_object-period_start), and would give
  the first renewal the date of the first invoice. It is the fallback when no line has one.
- Amounts are in the currency's minor unit, except for zero-decimal currencies
  (https://docs.stripe.com/currencies#zero-decimal).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from trackside.sources.stripe.payload import Invoice
from trackside.sources.webhooks import e164, text

#: https://docs.stripe.com/currencies#zero-decimal
ZERO_DECIMAL = frozenset({
    "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV",
    "XAF", "XOF", "XPF",
})
#: https://docs.stripe.com/currencies#three-decimal
THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})


def major_units(amount: int, currency: str) -> float:
    code = currency.upper()
    exponent = 0 if code in ZERO_DECIMAL else 3 if code in THREE_DECIMAL else 2
    return float(Decimal(amount).scaleb(-exponent))


def period_start(invoice: Invoice, subscription: str) -> int | None:
    for line in invoice.lines.data:
        if line.period is not None and line.subscription_id() in (subscription, None):
            return line.period.start
    return invoice.period_start


def day(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).date().isoformat()


def user_fields(invoice: Invoice) -> dict[str, Any]:
    """The customer as the invoice recorded it; hashed by the pipeline like any source's."""
    user: dict[str, Any] = {}
    address = invoice.customer_address
    country = text(address.country) if address else None
    for key, value in (("email", invoice.customer_email),
                       ("phone", e164(text(invoice.customer_phone), country))):
        if text(value):
            user[key] = text(value)
    names = (text(invoice.customer_name) or "").split()
    if len(names) >= 2:
        user["first_name"], user["last_name"] = names[0], names[-1]
    if address is not None:
        for key, value in (("city", address.city), ("state", address.state),
                           ("zip", address.postal_code), ("country", address.country)):
            if text(value):
                user[key] = text(value)
    if invoice.customer:
        user["external_id"] = invoice.customer
    return user


def items(invoice: Invoice) -> list[dict[str, Any]]:
    out = []
    for line in invoice.lines.data:
        product = line.product_id()
        if not product or not line.quantity:
            continue
        entry: dict[str, Any] = {"id": product, "quantity": line.quantity}
        if line.amount is not None:
            entry["price"] = major_units(line.amount, invoice.currency) / line.quantity
        if text(line.description):
            entry["name"] = text(line.description)
        out.append(entry)
    return out


def subscription_event(invoice: Invoice, subscription: str, started: int,
                       paid_at: int) -> dict[str, Any]:
    first = invoice.billing_reason == "subscription_create"
    return {
        "event_name": "Subscribe" if first else "Purchase",
        "event_time": paid_at,
        "action_source": "system_generated",
        "user": user_fields(invoice),
        "order": {
            "reference": invoice.id,
            "subscription_id": subscription,
            "period": day(started),
            "value": major_units(invoice.amount_paid, invoice.currency),
            "currency": invoice.currency.upper(),
            "items": items(invoice),
        },
        "custom_data": {"subscription_id": subscription,
                        "billing_reason": invoice.billing_reason or "unknown"},
    }
