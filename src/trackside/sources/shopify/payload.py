"""The parts of Shopify's webhook bodies trackside reads (REST Admin API resources).

Order: https://shopify.dev/docs/api/admin-rest/latest/resources/order
Refund: https://shopify.dev/docs/api/admin-rest/latest/resources/refund
Amounts are decimal strings ("199.00"); ids are integers. Unknown fields are ignored (Shopify
adds fields in new API versions); a field of the wrong type makes the delivery malformed.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


def _blank_to_none(value: Any) -> Any:
    return None if value == "" else value


class Address(_Lenient):
    first_name: str | None = None
    last_name: str | None = None
    address1: str | None = None
    city: str | None = None
    province_code: str | None = None
    country_code: str | None = None
    zip: str | None = None
    phone: str | None = None


class Customer(_Lenient):
    id: int | None = None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None


class ClientDetails(_Lenient):
    browser_ip: str | None = None
    user_agent: str | None = None


class NoteAttribute(_Lenient):
    name: str
    value: Any = None


class LineItem(_Lenient):
    id: int | None = None
    product_id: int | None = None
    variant_id: int | None = None
    sku: str | None = None
    title: str | None = None
    name: str | None = None
    quantity: int = 0
    price: str | float | None = None


class Transaction(_Lenient):
    kind: str | None = None
    status: str | None = None
    amount: str | float | None = None
    currency: str | None = None


class RefundLineItem(_Lenient):
    line_item_id: int | None = None
    quantity: int = 0
    subtotal: str | float | None = None
    line_item: LineItem | None = None


class Refund(_Lenient):
    id: int
    order_id: int
    created_at: str | None = None
    processed_at: str | None = None
    transactions: list[Transaction] = Field(default_factory=list)
    refund_line_items: list[RefundLineItem] = Field(default_factory=list)


class Order(_Lenient):
    id: int
    name: str | None = None
    email: str | None = None
    contact_email: str | None = None
    phone: str | None = None
    created_at: str | None = None
    processed_at: str | None = None
    cancelled_at: str | None = None
    currency: str | None = None
    total_price: str | float | None = None
    total_tax: str | float | None = None
    total_shipping_price_set: dict[str, Any] | None = None
    financial_status: str | None = None
    source_name: str | None = None
    browser_ip: str | None = None
    client_details: ClientDetails | None = None
    landing_site: str | None = None
    note_attributes: list[NoteAttribute] = Field(default_factory=list)
    customer: Customer | None = None
    billing_address: Address | None = None
    shipping_address: Address | None = None
    line_items: list[LineItem] = Field(default_factory=list)
    refunds: list[Refund] = Field(default_factory=list)
    test: bool = False

    _blanks = field_validator("email", "contact_email", "phone", "landing_site",
                              mode="before")(_blank_to_none)

    def shipping_amount(self) -> Any:
        """``total_shipping_price_set.shop_money.amount`` (the shop's currency)."""
        money = (self.total_shipping_price_set or {}).get("shop_money")
        return money.get("amount") if isinstance(money, dict) else None
