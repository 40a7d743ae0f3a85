"""The Stripe objects an ``invoice.paid`` delivery carries, read leniently: unknown fields are
ignored (Stripe adds fields in every API version) and a field of the wrong type fails the
delivery as malformed, naming it.

Event: https://docs.stripe.com/api/events/object; Invoice:
https://docs.stripe.com/api/invoices/object. Since API version 2025-03-31 ("basil") the
subscription of an invoice is ``parent.subscription_details.subscription`` and of a line
``parent.subscription_item_details.subscription``; before, ``subscription`` on both. Both
are read.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


#: Unix seconds Stripe can send: up to the year 5138 (anything larger is not a date).
Timestamp = Annotated[int, Field(ge=0, lt=100_000_000_000)]
#: An amount in minor units: far above any invoice, well inside a float's exact range.
Amount = Annotated[int, Field(ge=-(10**15), le=10**15)]


def _id_of(value: Any) -> Any:
    """An expandable field: the id, or the expanded object's ``id``."""
    if isinstance(value, dict):
        return value.get("id")
    return value


class Address(_Lenient):
    line1: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None


class Period(_Lenient):
    start: Timestamp
    end: Timestamp | None = None


class SubscriptionDetails(_Lenient):
    subscription: str | None = None

    @field_validator("subscription", mode="before")
    @classmethod
    def _expandable(cls, value: Any) -> Any:
        return _id_of(value)


class InvoiceParent(_Lenient):
    subscription_details: SubscriptionDetails | None = None
    subscription_item_details: SubscriptionDetails | None = None


class Price(_Lenient):
    id: str | None = None
    product: str | None = None

    @field_validator("product", mode="before")
    @classmethod
    def _expandable(cls, value: Any) -> Any:
        return _id_of(value)


class Pricing(_Lenient):
    price_details: Price | None = None


class Line(_Lenient):
    amount: Amount | None = None
    quantity: Annotated[int, Field(ge=0, le=10**9)] | None = None
    description: str | None = None
    period: Period | None = None
    price: Price | None = None
    pricing: Pricing | None = None
    subscription: str | None = None
    parent: InvoiceParent | None = None

    @field_validator("subscription", mode="before")
    @classmethod
    def _expandable(cls, value: Any) -> Any:
        return _id_of(value)

    def subscription_id(self) -> str | None:
        details = self.parent.subscription_item_details if self.parent else None
        return (details.subscription if details else None) or self.subscription

    def product_id(self) -> str | None:
        price = self.price or (self.pricing.price_details if self.pricing else None)
        if price is None:
            return None
        return price.product or price.id


class Lines(_Lenient):
    data: list[Line] = Field(default_factory=list)


class StatusTransitions(_Lenient):
    paid_at: Timestamp | None = None


class Invoice(_Lenient):
    id: str = Field(min_length=1, max_length=200)
    customer: str | None = None
    customer_email: str | None = None
    customer_name: str | None = None
    customer_phone: str | None = None
    customer_address: Address | None = None
    currency: str = Field(min_length=3, max_length=3)
    amount_paid: Annotated[int, Field(ge=0, le=10**15)]
    billing_reason: str | None = Field(default=None, max_length=100)
    period_start: Timestamp | None = None
    created: Timestamp | None = None
    subscription: str | None = None
    parent: InvoiceParent | None = None
    status_transitions: StatusTransitions | None = None
    lines: Lines = Field(default_factory=Lines)

    @field_validator("customer", "subscription", mode="before")
    @classmethod
    def _expandable(cls, value: Any) -> Any:
        return _id_of(value)

    def subscription_id(self) -> str | None:
        details = self.parent.subscription_details if self.parent else None
        found = (details.subscription if details else None) or self.subscription
        if found:
            return found
        return next((s for s in (line.subscription_id() for line in self.lines.data) if s),
                    None)


class EventData(_Lenient):
    object: dict[str, Any]


class StripeEvent(_Lenient):
    id: str = Field(min_length=1, max_length=200)
    type: str = Field(min_length=1, max_length=200)
    created: Timestamp | None = None
    livemode: bool | None = None
    data: EventData
