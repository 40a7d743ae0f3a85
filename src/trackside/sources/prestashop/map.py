"""PrestaShop orders → canonical events (Purchase per checkout reference, Refund per reversal).

One Purchase per checkout ``reference`` (docs/prestashop.md); its id is the reference with the
shop prefix, the same id the confirmation-page tag computes, so pixel, CAPI and GA4 collapse.
Orders that share a reference (a split checkout: PrestaShop's PaymentModule makes one reference
per cart and one order per carrier or warehouse) are summed into that one Purchase.
Nothing here raises on shop data: what is unusable is left out and named in ``warnings``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any

import phonenumbers

from trackside.identity.event_id import order_event_id, purchase_event_id
from trackside.sources.prestashop.records import Address, HistoryRow, Order, OrderLine

SOURCE = "prestashop"
#: gender.type → the value trackside's normalizer reads (by type: the ids are the shop's rows).
_GENDER = {0: "m", 1: "f"}


@dataclass
class MapContext:
    tz: tzinfo
    tax_included: bool
    prefix: str
    shop_url: str | None


@dataclass
class Mapped:
    """One event to accept, with what the sync records on the timeline once it is stored."""

    raw: dict[str, Any]
    purchase_id: str
    warnings: list[str] = field(default_factory=list)
    note: str | None = None


def epoch(local: datetime, tz: tzinfo, now: float) -> int:
    """Shop-local wall time → unix seconds, never after ``now`` (destinations drop the future)."""
    return int(min(local.replace(tzinfo=tz).timestamp(), now))


def _money(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.01")))


def _total(order: Order, tax_included: bool) -> Decimal:
    return order.total_paid_tax_incl if tax_included else order.total_paid_tax_excl


def _item(line: OrderLine, tax_included: bool) -> dict[str, Any]:
    # A combination (size, colour) is its own catalogue entry in PrestaShop product feeds:
    # "{product_id}-{product_attribute_id}"; a simple product is its product id.
    item_id = str(line.product_id)
    if line.product_attribute_id:
        item_id += f"-{line.product_attribute_id}"
    price = line.unit_price_tax_incl if tax_included else line.unit_price_tax_excl
    item: dict[str, Any] = {
        "id": item_id, "price": _money(price), "quantity": max(0, line.quantity)
    }
    if line.name:
        item["name"] = line.name
    return item


def _e164(raw: str | None, country: str | None) -> str | None:
    """A national-format number in the address's own country → E.164."""
    if not raw or not raw.strip():
        return None
    text = raw.strip()
    if text.startswith(("+", "00")) or not country:
        return text
    try:
        number = phonenumbers.parse(text, country.upper())
    except phonenumbers.NumberParseException:
        return text  # the pipeline's normalizer drops it with a warning of its own
    if not phonenumbers.is_possible_number(number):
        return text
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def user_fields(order: Order, warnings: list[str]) -> dict[str, Any]:
    """Identity from the customer and the invoice address (delivery address as fallback)."""
    customer = order.customer
    if customer is None:
        warnings.append(f"order {order.id}: customer {order.id_customer} not found")
    address: Address | None = order.invoice or order.delivery
    if order.invoice is None:
        warnings.append(
            f"order {order.id}: invoice address {order.id_address_invoice} not found"
            + ("; used the delivery address" if order.delivery else "; no address used"))
    user: dict[str, Any] = {"external_id": str(order.id_customer)}
    phones: list[str] = []
    for addr in (order.invoice, order.delivery):
        if addr is None:
            continue
        for raw in (addr.phone_mobile, addr.phone):  # mobile first: the number people answer
            phone = _e164(raw, addr.country_iso)
            if phone and phone not in phones:
                phones.append(phone)
    if phones:
        user["phone"] = phones
    if customer is not None:
        if customer.email:
            user["email"] = customer.email
        if customer.birthday:
            user["date_of_birth"] = customer.birthday
        if customer.gender_type in _GENDER:
            user["gender"] = _GENDER[customer.gender_type]
    first = (customer.firstname if customer else None) or (address.firstname if address else None)
    last = (customer.lastname if customer else None) or (address.lastname if address else None)
    if first:
        user["first_name"] = first
    if last:
        user["last_name"] = last
    if address is not None:
        for key, value in (("city", address.city), ("zip", address.postcode),
                           ("state", address.state_iso), ("country", address.country_iso)):
            if value and value.strip():
                user[key] = value.strip()
    return user


def confirmation_url(base: str | None, order: Order) -> str | None:
    if not base:
        return None
    # index.php?controller=… works with and without friendly URLs; the secure key is left out.
    return (f"{base}/index.php?controller=order-confirmation&id_cart={order.id_cart}"
            f"&id_order={order.id}")


def purchase(group: list[Order], paid: HistoryRow, ctx: MapContext, now: float) -> Mapped:
    """The one Purchase of a checkout reference, emitted when its first order is paid/logable."""
    group = sorted(group, key=lambda o: o.id)
    first = group[0]
    warnings: list[str] = []
    currency = next((o.currency for o in group if o.currency), None)
    for order in group:
        if order.currency is None:
            warnings.append(f"order {order.id}: unknown currency id {order.id_currency}; its "
                            "amount is left out")
        elif order.currency != currency:
            warnings.append(f"order {order.id}: currency {order.currency} differs from "
                            f"{currency}; its amount is left out")
    counted = [o for o in group if o.currency is not None and o.currency == currency]
    order_body: dict[str, Any] = {"reference": first.reference}
    if currency is not None:
        order_body["value"] = _money(sum((_total(o, ctx.tax_included) for o in counted), Decimal()))
        order_body["currency"] = currency
        shipping = sum(((o.total_shipping_tax_incl if ctx.tax_included
                         else o.total_shipping_tax_excl) for o in counted), Decimal())
        order_body["shipping"] = _money(shipping)
        order_body["tax"] = _money(sum((o.total_paid_tax_incl - o.total_paid_tax_excl
                                        for o in counted), Decimal()))
    else:
        warnings.append(f"reference {first.reference}: no known currency; value left out")
    order_body["items"] = [_item(line, ctx.tax_included) for o in group for line in o.lines]
    event_id = purchase_event_id(first.reference, ctx.prefix)
    raw: dict[str, Any] = {
        "event_name": "Purchase",
        "event_id": event_id,
        "event_time": epoch(paid.date_add, ctx.tz, now),
        "action_source": "website",
        "user": user_fields(first, warnings),
        "order": order_body,
        "cart_id": str(first.id_cart),
        "customer_id": str(first.id_customer),
    }
    url = confirmation_url(ctx.shop_url, first)
    if url:
        raw["event_source_url"] = url
    ids = ", ".join(str(o.id) for o in group)
    return Mapped(raw, event_id, warnings, note=f"paid: order(s) {ids} of {first.reference}")


def refund(order: Order, group: list[Order], change: HistoryRow, from_state: str, to_state: str,
           ctx: MapContext, now: float) -> Mapped:
    """A paid order moved to a state PrestaShop no longer counts (cancelled, refunded, error).

    Id ``Refund:{prefix}{reference}`` (docs/prestashop.md); when the reference is a split
    checkout each order can be reversed on its own, so the order id is added to keep both
    refunds.
    """
    event_id = order_event_id("Refund", order.reference, ctx.prefix)
    partial = len(group) > 1
    if partial:
        event_id = order_event_id("Refund", f"{order.reference}-{order.id}", ctx.prefix)
    warnings: list[str] = []
    body: dict[str, Any] = {"reference": order.reference}
    amount = ""
    if order.currency is not None:
        body["value"] = _money(_total(order, ctx.tax_included))
        body["currency"] = order.currency
        amount = f" {body['value']:.2f} {order.currency}"
    else:
        warnings.append(f"order {order.id}: unknown currency id {order.id_currency}")
    if partial:
        # GA4: a partial refund lists the refunded items; a full one omits them.
        body["items"] = [_item(line, ctx.tax_included) for line in order.lines]
    raw: dict[str, Any] = {
        "event_name": "Refund",
        "event_id": event_id,
        "event_time": epoch(change.date_add, ctx.tz, now),
        "action_source": "system_generated",
        "user": user_fields(order, []),
        "order": body,
        "cart_id": str(order.id_cart),
        "customer_id": str(order.id_customer),
    }
    purchase_id = purchase_event_id(order.reference, ctx.prefix)
    note = (f"order {order.id} moved from {from_state!r} to {to_state!r}: refund{amount} "
            f"queued as {event_id}")
    return Mapped(raw, purchase_id, warnings, note=note)
