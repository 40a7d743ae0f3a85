"""WooCommerce orders → raw canonical events (dicts for parse_batch).

Ids (docs/sources.md "WooCommerce"): a Purchase is ``{prefix}{order id}``, the id the thank-you page
snippet sends as ``reference`` (docs/sources.md), so pixel, CAPI and GA4 collapse; WooCommerce
sends ``order.updated`` for every change of a paid order and the id keeps it one Purchase. A
refund is ``Refund:{prefix}{order id}-{refund id}`` (each of the order's ``refunds`` once); an
order marked ``refunded`` without refund entries is ``Refund:{prefix}{order id}-full``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from trackside.identity.event_id import order_event_id, purchase_event_id
from trackside.sources.shopify.map import epoch
from trackside.sources.webhooks import MapContext, as_float, click_ids, e164, money, text
from trackside.sources.woocommerce.payload import LineItem, Order

#: Statuses of a paid order (https://woocommerce.com/document/managing-orders/order-statuses/).
PAID_STATUSES = frozenset({"processing", "completed"})
#: Statuses of an order nobody has paid: never a Purchase, even with date_paid set.
UNPAID_STATUSES = frozenset({"pending", "on-hold", "failed", "cancelled", "checkout-draft"})
#: Orders a shopper placed in the shop's checkout (classic or blocks): website events.
_BROWSER_CHECKOUTS = frozenset({"checkout", "store-api"})


def is_paid(order: Order) -> bool:
    if order.status in PAID_STATUSES:
        return True
    return order.status not in UNPAID_STATUSES | {"refunded"} and bool(
        text(order.date_paid_gmt) or text(order.date_paid))


def user_fields(order: Order) -> dict[str, Any]:
    address = order.billing or order.shipping
    user: dict[str, Any] = {}
    if address is not None:
        email = text(address.email)
        if email:
            user["email"] = email
        phone = e164(text(address.phone), text(address.country))
        if phone:
            user["phone"] = phone
        for key, value in (("first_name", address.first_name), ("last_name", address.last_name),
                           ("city", address.city), ("state", address.state),
                           ("zip", address.postcode), ("country", address.country)):
            if text(value):
                user[key] = text(value)
    if order.customer_id:  # 0 is a guest
        user["external_id"] = str(order.customer_id)
    if text(order.customer_ip_address):
        user["ip"] = text(order.customer_ip_address)
    agent = text(order.customer_user_agent, 1000)
    if agent:
        user["user_agent"] = agent
    user.update(click_ids({m.key: m.value for m in order.meta_data}, None))
    return user


def item(line: LineItem) -> dict[str, Any] | None:
    # A variation is its own catalogue entry; the SKU when the shop's feed uses SKUs is not
    # knowable here, so the post id (variation, else product) as the Meta for WooCommerce
    # catalogue's fallback does.
    item_id = line.variation_id or line.product_id or text(line.sku)
    if not item_id:
        return None
    out: dict[str, Any] = {"id": str(item_id), "quantity": max(0, line.quantity)}
    price = money(line.price)
    if price is not None:
        out["price"] = as_float(price)
    if text(line.name):
        out["name"] = text(line.name)
    return out


def purchase(order: Order, ctx: MapContext, site: str | None) -> dict[str, Any]:
    user = user_fields(order)
    body: dict[str, Any] = {"reference": str(order.id)}
    total = money(order.total)
    if total is not None and order.currency:
        body["value"] = as_float(total)
        body["currency"] = order.currency
        for key, value in (("tax", order.total_tax), ("shipping", order.shipping_total)):
            amount = money(value)
            if amount is not None:
                body[key] = as_float(amount)
    body["items"] = [i for i in (item(line) for line in order.line_items) if i]
    raw: dict[str, Any] = {
        "event_name": "Purchase",
        "event_id": purchase_event_id(str(order.id), ctx.prefix),
        "event_time": epoch(text(order.date_paid_gmt) or text(order.date_created_gmt),
                            ctx.now, ctx.now),
        "action_source": "system_generated",
        "user": user,
        "order": body,
    }
    if site and order.created_via in _BROWSER_CHECKOUTS and user.get("user_agent"):
        # WooCommerce's order-received endpoint, without the order key (it opens the order).
        raw["action_source"] = "website"
        raw["event_source_url"] = f"{site.rstrip('/')}/checkout/order-received/{order.id}/"
    if order.customer_id:
        raw["customer_id"] = str(order.customer_id)
    return raw


def refunds(order: Order, ctx: MapContext) -> list[dict[str, Any]]:
    """A Refund per refund entry of the order (WooCommerce lists them with negative totals);
    one for the whole order when it is ``refunded`` without entries."""
    parts: list[tuple[str, Decimal]] = []
    for entry in order.refunds:
        amount = money(entry.total)
        if amount is not None and amount != 0:
            parts.append((f"{order.id}-{entry.id}", abs(amount)))
    if not parts and order.status == "refunded":
        total = money(order.total)
        if total is not None and total > 0:
            parts.append((f"{order.id}-full", total))
    if not order.currency:
        return []
    return [{
        "event_name": "Refund",
        "event_id": order_event_id("Refund", key, ctx.prefix),
        "event_time": int(ctx.now),
        "action_source": "system_generated",
        "order": {"reference": str(order.id), "value": as_float(amount),
                  "currency": order.currency},
        "user": {},
    } for key, amount in parts]
