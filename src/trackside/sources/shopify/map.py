"""Shopify orders and refunds → raw canonical events (dicts for parse_batch).

Ids (docs/sources.md "Shopify"): a Purchase is ``{prefix}{order id}``, the id the Customer Events
pixel computes from ``checkout.order.id`` on the thank-you page, so pixel, CAPI and GA4
collapse. A refund is ``Refund:{prefix}{order id}-{refund id}`` (an order may be refunded in
parts, each once); a cancellation's remainder is ``Refund:{prefix}{order id}-cancelled``. Each
refund names the order (``order.reference``), so GA4's refund carries the Purchase's
transaction id. Nothing here raises on shop data: what is unusable is left out.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from trackside.events import parse_event_time
from trackside.identity.event_id import order_event_id, purchase_event_id
from trackside.sources.shopify.payload import Address, LineItem, Order, Refund, RefundLineItem
from trackside.sources.webhooks import (
    Delivery,
    MapContext,
    as_float,
    click_ids,
    e164,
    money,
    text,
)

#: financial_status values of an order nobody has paid (https://shopify.dev/docs/api/admin-rest/latest/resources/order).
UNPAID_STATUSES = frozenset({"pending", "authorized", "voided", "expired"})


def epoch(value: str | None, fallback: float, now: float) -> int:
    """An ISO 8601 time of the payload → unix seconds, never after ``now``."""
    try:
        seconds = parse_event_time(value) if value else int(fallback)
    except ValueError:
        seconds = int(fallback)
    return int(min(seconds, now))


def _address(order: Order) -> Address | None:
    return order.billing_address or order.shipping_address


def user_fields(order: Order) -> dict[str, Any]:
    """Customer, billing address (shipping as fallback), browser IP and user agent, and the
    click ids a storefront script stored as cart attributes (``note_attributes``) or the
    landing page's ``fbclid``."""
    customer = order.customer
    address = _address(order)
    user: dict[str, Any] = {}
    email = text(order.email) or text(order.contact_email) or (customer and text(customer.email))
    if email:
        user["email"] = email
    country = address.country_code if address else None
    phones: list[str] = []
    for raw in (order.phone, customer.phone if customer else None,
                order.billing_address.phone if order.billing_address else None,
                order.shipping_address.phone if order.shipping_address else None):
        phone = e164(text(raw), country)
        if phone and phone not in phones:
            phones.append(phone)
    if phones:
        user["phone"] = phones
    first = (customer and text(customer.first_name)) or (address and text(address.first_name))
    last = (customer and text(customer.last_name)) or (address and text(address.last_name))
    if first:
        user["first_name"] = first
    if last:
        user["last_name"] = last
    if address is not None:
        for key, value in (("city", address.city), ("zip", address.zip),
                           ("state", address.province_code), ("country", address.country_code)):
            if text(value):
                user[key] = text(value)
    if customer is not None and customer.id is not None:
        user["external_id"] = str(customer.id)
    details = order.client_details
    ip = text(order.browser_ip) or (details and text(details.browser_ip))
    if ip:
        user["ip"] = ip
    agent = details and text(details.user_agent, 1000)
    if agent:
        user["user_agent"] = agent
    attributes = {a.name: a.value for a in order.note_attributes}
    user.update(click_ids(attributes, order.landing_site))
    return user


def _landing_url(order: Order, shop_domain: str | None) -> str | None:
    if not shop_domain:
        return None
    path = (order.landing_site or "/").split("?", 1)[0].split("#", 1)[0]
    return f"https://{shop_domain}{path if path.startswith('/') else '/'}"


def _action_source(order: Order, user: dict[str, Any], url: str | None) -> str:
    # Point of sale is a shop counter; an order a browser placed is a website event (Meta
    # wants its URL and user agent); the rest (draft orders, the admin, other apps) were
    # entered by the shop's own systems. Website events: https://developers.facebook.com/documentation/ads-commerce/conversions-api/parameters/server-event
    if order.source_name == "pos":
        return "physical_store"
    if url and user.get("user_agent"):
        return "website"
    return "system_generated"


def item(line: LineItem, price: Any = None) -> dict[str, Any] | None:
    # The variant is the catalogue entry a Shopify product feed lists; the product when the
    # line has no variant (a custom item has neither: its SKU, else it is left out).
    item_id = line.variant_id or line.product_id or text(line.sku)
    if not item_id:
        return None
    out: dict[str, Any] = {"id": str(item_id), "quantity": max(0, line.quantity)}
    amount = money(price if price is not None else line.price)
    if amount is not None:
        out["price"] = as_float(amount)
    name = text(line.title) or text(line.name)
    if name:
        out["name"] = name
    return out


def purchase(order: Order, delivery: Delivery, ctx: MapContext) -> dict[str, Any]:
    user = user_fields(order)
    url = _landing_url(order, delivery.shop_domain)
    body: dict[str, Any] = {"reference": str(order.id)}
    total = money(order.total_price)
    if total is not None and order.currency:
        body["value"] = as_float(total)
        body["currency"] = order.currency
        tax = money(order.total_tax)
        shipping = money(order.shipping_amount())
        if tax is not None:
            body["tax"] = as_float(tax)
        if shipping is not None:
            body["shipping"] = as_float(shipping)
    body["items"] = [i for i in (item(line) for line in order.line_items) if i]
    # orders/paid's trigger time is when the payment happened; a retry keeps the original.
    paid_at = delivery.triggered_at or ctx.now
    raw: dict[str, Any] = {
        "event_name": "Purchase",
        "event_id": purchase_event_id(str(order.id), ctx.prefix),
        "event_time": epoch(None, paid_at, ctx.now),
        "action_source": _action_source(order, user, url),
        "user": user,
        "order": body,
    }
    if url and raw["action_source"] == "website":
        raw["event_source_url"] = url
    if order.customer is not None and order.customer.id is not None:
        raw["customer_id"] = str(order.customer.id)
    return raw


def refunded_amount(refund: Refund) -> tuple[Decimal, str | None]:
    """The money a refund gave back: its successful ``refund`` transactions, and their
    currency."""
    total = Decimal()
    currency = None
    for transaction in refund.transactions:
        if transaction.kind != "refund" or transaction.status != "success":
            continue
        amount = money(transaction.amount)
        if amount is not None:
            total += amount
            currency = currency or transaction.currency
    return total, currency


def refund(refund: Refund, ctx: MapContext) -> dict[str, Any] | None:
    """The Refund of one refunds/create delivery; None when it gave no money back (a restock
    without refund, a failed transaction)."""
    amount, currency = refunded_amount(refund)
    if amount <= 0 or not currency:
        return None
    items = []
    for line in refund.refund_line_items:
        entry = item(line.line_item, _unit(line)) if line.line_item is not None else None
        if entry is not None:
            entry["quantity"] = max(0, line.quantity)  # refunded, not ordered
            items.append(entry)
    body: dict[str, Any] = {"reference": str(refund.order_id), "value": as_float(amount),
                            "currency": currency}
    if items:
        body["items"] = items  # GA4: a partial refund lists the refunded items
    return {
        "event_name": "Refund",
        "event_id": order_event_id("Refund", f"{refund.order_id}-{refund.id}", ctx.prefix),
        "event_time": epoch(refund.processed_at or refund.created_at, ctx.now, ctx.now),
        "action_source": "system_generated",
        "order": body,
        "user": {},
    }


def _unit(line: RefundLineItem) -> Decimal | None:
    subtotal = money(line.subtotal)
    if subtotal is None or line.quantity <= 0:
        return None
    return subtotal / line.quantity


def cancellation(order: Order, ctx: MapContext) -> tuple[dict[str, Any] | None, Decimal]:
    """The Refund of what a cancelled order had paid and not got back yet, and that amount
    (None when nothing is left: its refunds already covered it)."""
    total = money(order.total_price) or Decimal()
    remainder = total - sum((refunded_amount(r)[0] for r in order.refunds), Decimal())
    if remainder <= 0 or not order.currency:
        return None, remainder
    raw = {
        "event_name": "Refund",
        "event_id": order_event_id("Refund", f"{order.id}-cancelled", ctx.prefix),
        "event_time": epoch(order.cancelled_at, ctx.now, ctx.now),
        "action_source": "system_generated",
        "order": {"reference": str(order.id), "value": as_float(remainder),
                  "currency": order.currency},
        "user": user_fields(order),
    }
    return raw, remainder
