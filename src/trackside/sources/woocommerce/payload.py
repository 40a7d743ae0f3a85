"""The parts of a WooCommerce order webhook body trackside reads (REST API v3 order:
https://woocommerce.github.io/woocommerce-rest-api-docs/#order-properties). Amounts are decimal
strings, dates ISO 8601 (``*_gmt`` in UTC without an offset). Unknown fields are ignored; a
field of the wrong type makes the delivery malformed."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Address(_Lenient):
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    city: str | None = None
    state: str | None = None
    postcode: str | None = None
    country: str | None = None


class LineItem(_Lenient):
    product_id: int | None = None
    variation_id: int | None = None
    sku: str | None = None
    name: str | None = None
    quantity: int = 0
    price: str | float | None = None


class MetaData(_Lenient):
    key: str
    value: Any = None


class RefundEntry(_Lenient):
    id: int
    total: str | float | None = None


class Order(_Lenient):
    id: int
    status: str
    currency: str | None = None
    created_via: str | None = None
    date_created_gmt: str | None = None
    date_paid_gmt: str | None = None
    date_paid: str | None = None
    total: str | float | None = None
    total_tax: str | float | None = None
    shipping_total: str | float | None = None
    customer_id: int | None = None
    customer_ip_address: str | None = None
    customer_user_agent: str | None = None
    billing: Address | None = None
    shipping: Address | None = None
    line_items: list[LineItem] = Field(default_factory=list)
    meta_data: list[MetaData] = Field(default_factory=list)
    refunds: list[RefundEntry] = Field(default_factory=list)
