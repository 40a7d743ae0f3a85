"""What the PrestaShop connector reads, independent of how (database or webservice).

Both readers (``db.py``, ``ws.py``) return these records, so the mapping
to events and the sync loop (``sync.py``) are written once. Field meanings follow PrestaShop's
own schema (install-dev/data/db_structure.sql in PrestaShop/PrestaShop).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from trackside.errors import SourceError

__all__ = [
    "Address",
    "Customer",
    "HistoryRow",
    "Order",
    "OrderLine",
    "OrderReader",
    "OrderState",
    "PrestaShopError",
    "chunks",
]


class PrestaShopError(SourceError):
    """The shop cannot be read: the message says what is wrong and how to fix it."""


@dataclass(frozen=True)
class OrderState:
    id: int
    paid: bool
    logable: bool
    name: str = ""

    @property
    def counted(self) -> bool:
        # PrestaShop counts an order as a sale while its state is logable (Order::valid follows
        # it, OrderHistory::changeIdOrderState); "paid" covers "on backorder (paid)", which is
        # paid but not logable in the install data (install-dev/data/xml/order_state.xml).
        return self.paid or self.logable


@dataclass(frozen=True)
class HistoryRow:
    """One state change (``order_history``): the polling key, monotonic ``id``."""

    id: int
    id_order: int
    id_order_state: int
    #: Shop-local wall time, no time zone (PrestaShop writes PHP ``date()`` in PS_TIMEZONE).
    date_add: datetime


@dataclass
class Address:
    id: int
    firstname: str | None = None
    lastname: str | None = None
    phone: str | None = None
    phone_mobile: str | None = None
    postcode: str | None = None
    city: str | None = None
    country_iso: str | None = None
    state_iso: str | None = None


@dataclass
class Customer:
    id: int
    email: str | None = None
    firstname: str | None = None
    lastname: str | None = None
    #: ``YYYY-MM-DD``; PrestaShop's "no birthday" ``0000-00-00`` is None here.
    birthday: str | None = None
    #: ``gender.type``: 0 man, 1 woman, 2 neutral/other (the ids are the shop's rows; the type
    #: is what they mean).
    gender_type: int | None = None
    is_guest: bool = False


@dataclass
class OrderLine:
    product_id: int
    product_attribute_id: int
    name: str | None
    quantity: int
    unit_price_tax_incl: Decimal
    unit_price_tax_excl: Decimal
    product_reference: str | None = None


@dataclass
class Order:
    id: int
    reference: str
    id_cart: int
    id_customer: int
    id_currency: int
    id_address_invoice: int
    id_address_delivery: int
    current_state: int
    total_paid_tax_incl: Decimal
    total_paid_tax_excl: Decimal
    total_shipping_tax_incl: Decimal
    total_shipping_tax_excl: Decimal
    date_add: datetime
    #: ISO 4217 code, None when ``id_currency`` names no currency.
    currency: str | None = None
    customer: Customer | None = None
    invoice: Address | None = None
    delivery: Address | None = None
    lines: list[OrderLine] = field(default_factory=list)


class OrderReader(Protocol):
    """How the sync loop reads a shop. Every method raises PrestaShopError with a fix."""

    #: Shown in messages: "database shop@db.example:3306/prestashop" or the webservice URL.
    description: str

    def check(self) -> None:
        """Connect and verify every table/resource and permission the connector needs."""
        ...

    def shop_timezone(self) -> str | None:
        """``PS_TIMEZONE`` (an IANA name), or None when it cannot be read."""
        ...

    def shop_url(self) -> str | None:
        """The shop's base URL (for the confirmation page URL), or None."""
        ...

    def order_states(self) -> dict[int, OrderState]: ...

    def history_after(self, after_id: int, limit: int) -> list[HistoryRow]:
        """State changes with ``id > after_id``, ascending, at most ``limit``."""
        ...

    def history_by_ids(self, ids: Sequence[int]) -> list[HistoryRow]: ...

    def history_of_orders(self, order_ids: Sequence[int]) -> list[HistoryRow]: ...

    def first_history_id_since(self, when: datetime) -> int | None:
        """The smallest id whose ``date_add >= when`` (shop-local), None if there is none."""
        ...

    def max_history_id(self) -> int: ...

    def references(self, order_ids: Sequence[int]) -> dict[int, str]:
        """``id_order`` → ``reference`` for the orders that exist."""
        ...

    def orders_by_reference(self, references: Sequence[str]) -> list[Order]:
        """Every order of these checkout references, with customer, addresses and lines."""
        ...

    def close(self) -> None: ...


def chunks(values: Iterable[int | str], size: int) -> list[list[int | str]]:
    """``values`` (deduplicated, order kept) in lists of at most ``size``."""
    unique = list(dict.fromkeys(values))
    return [unique[i : i + size] for i in range(0, len(unique), size)]
