"""Reading a PrestaShop shop through its webservice.

``GET {shop}/api/{resource}?output_format=JSON``, HTTP Basic with the key as user name and an
empty password (never ``?ws_key=``, which lands in access logs). Lists come back as
``{"orders": [...]}``, and as a bare ``[]`` when nothing matches. Errors come back as
``{"errors": [{"code": 26, "message": "..."}]}``; the codes used below are PrestaShop's own
(classes/webservice/WebserviceRequest.php): 16-21 the key, 22 webservice disabled, 25 method
and 26 resource not allowed for this key. The webservice's authentication:
https://devdocs.prestashop-project.org/8/webservice/tutorials/testing-access
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx

from trackside.sources.prestashop.records import (
    Address,
    Customer,
    HistoryRow,
    Order,
    OrderLine,
    OrderState,
    PrestaShopError,
    chunks,
)

#: Resources the key needs GET on (Back Office > Advanced Parameters > Webservice).
RESOURCES = ("orders", "order_histories", "order_states", "customers", "addresses", "countries",
             "states", "currencies", "genders")
#: Read when allowed: the shop's time zone (without it times are read as UTC).
OPTIONAL = ("configurations",)
_FAR = "4294967295"
_IN_CHUNK = 100  # ids per filter: keeps the URL well under common 8 kB limits
_FMT = "%Y-%m-%d %H:%M:%S"


class WebserviceReader:
    def __init__(self, url: str, key: str, timeout_s: float = 30.0,
                 client: httpx.Client | None = None) -> None:
        self.base = url.rstrip("/")
        self.description = f"webservice {self.base}/api"
        self._client = client or httpx.Client(auth=(key, ""), timeout=timeout_s,
                                              headers={"User-Agent": "trackside"})
        self._currencies: dict[int, str] | None = None
        self._optional_ok: set[str] = set()

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> WebserviceReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- HTTP and errors --------------------------------------------------------------------

    def _get(self, resource: str, **params: str) -> list[dict[str, Any]]:
        try:
            response = self._client.get(f"{self.base}/api/{resource}",
                                        params={"output_format": "JSON", **params})
        except httpx.HTTPError as exc:
            raise PrestaShopError(
                f"TRACKSIDE_PRESTASHOP_URL: cannot reach {self.base} ({type(exc).__name__}: "
                f"{exc}); check the URL and that the shop answers from this host") from None
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code != 200 or not isinstance(data, (dict, list)):
            raise self._explain(resource, response.status_code, data)
        if isinstance(data, list):  # PrestaShop's JSON for "no match"
            return []
        rows = data.get(resource, [])
        return rows if isinstance(rows, list) else [rows]

    def _explain(self, resource: str, status: int, data: Any) -> PrestaShopError:
        errors = data.get("errors", []) if isinstance(data, dict) else []
        codes = {e.get("code") for e in errors if isinstance(e, dict)}
        text = "; ".join(str(e.get("message")) for e in errors if isinstance(e, dict))
        if codes & {16, 17, 18, 20, 21}:
            return PrestaShopError(
                f"TRACKSIDE_PRESTASHOP_API_KEY is refused by {self.base} ({text}): use an "
                "active 32-character key from Back Office > Advanced Parameters > Webservice")
        if 22 in codes:
            return PrestaShopError(
                f"the webservice of {self.base} is disabled: enable it in Back Office > "
                "Advanced Parameters > Webservice")
        if codes & {25, 26}:
            return PrestaShopError(
                f"the webservice key may not read {resource!r} ({text}): in Back Office > "
                f"Advanced Parameters > Webservice, edit the key and tick View (GET) for "
                f"{', '.join(RESOURCES)}")
        if status == 401 and not errors:
            return PrestaShopError(
                f"{self.base} answered 401 without a webservice error: the server may strip the "
                "Authorization header (PHP-FPM/CGI); see docs/prestashop.md")
        if status == 404 and not errors:
            return PrestaShopError(
                f"TRACKSIDE_PRESTASHOP_URL: {self.base}/api/{resource} does not exist; the URL "
                "must be the shop's base URL and the webservice must be enabled")
        return PrestaShopError(
            f"{self.description}/{resource} answered HTTP {status}" + (f": {text}" if text else ""))

    # -- reads ------------------------------------------------------------------------------

    def check(self) -> None:
        for resource in RESOURCES:
            self._get(resource, display="[id]", limit="1")
        for resource in OPTIONAL:
            try:
                self._get(resource, display="[id]", limit="1")
                self._optional_ok.add(resource)
            except PrestaShopError:
                continue

    def shop_timezone(self) -> str | None:
        if "configurations" not in self._optional_ok:
            return None
        rows = self._get("configurations", display="[name,value]",
                         **{"filter[name]": "[PS_TIMEZONE]"})
        return str(rows[0]["value"]) if rows and rows[0].get("value") else None

    def shop_url(self) -> str | None:
        return self.base

    def order_states(self) -> dict[int, OrderState]:
        states = {}
        for r in self._get("order_states", display="full"):
            states[int(r["id"])] = OrderState(int(r["id"]), _bool(r.get("paid")),
                                               _bool(r.get("logable")), _text(r.get("name")))
        return states

    def history_after(self, after_id: int, limit: int) -> list[HistoryRow]:
        rows = self._get("order_histories", display="full", sort="[id_ASC]", limit=str(limit),
                         **{"filter[id]": f"[{after_id + 1},{_FAR}]"})
        return _history(rows)

    def history_by_ids(self, ids: Sequence[int]) -> list[HistoryRow]:
        return self._history_in("id", ids)

    def history_of_orders(self, order_ids: Sequence[int]) -> list[HistoryRow]:
        return self._history_in("id_order", order_ids)

    def _history_in(self, field: str, values: Sequence[int]) -> list[HistoryRow]:
        rows: list[dict[str, Any]] = []
        for part in chunks(values, _IN_CHUNK):
            rows += self._get("order_histories", display="full",
                              **{f"filter[{field}]": _any(part)})
        return sorted(_history(rows), key=lambda h: h.id)

    def first_history_id_since(self, when: datetime) -> int | None:
        rows = self._get("order_histories", display="[id]", sort="[id_ASC]", limit="1", date="1",
                         **{"filter[date_add]": f"[{when.strftime(_FMT)},9999-12-31 23:59:59]"})
        return int(rows[0]["id"]) if rows else None

    def max_history_id(self) -> int:
        rows = self._get("order_histories", display="[id]", sort="[id_DESC]", limit="1")
        return int(rows[0]["id"]) if rows else 0

    def references(self, order_ids: Sequence[int]) -> dict[int, str]:
        out: dict[int, str] = {}
        for part in chunks(order_ids, _IN_CHUNK):
            for r in self._get("orders", display="[id,reference]", **{"filter[id]": _any(part)}):
                out[int(r["id"])] = str(r["reference"])
        return out

    def orders_by_reference(self, references: Sequence[str]) -> list[Order]:
        rows: list[dict[str, Any]] = []
        for part in chunks(references, _IN_CHUNK):
            rows += self._get("orders", display="full", **{"filter[reference]": _any(part)})
        if self._currencies is None:
            self._currencies = {int(r["id"]): str(r["iso_code"])
                                for r in self._get("currencies", display="[id,iso_code]")}
        orders = [self._order(r) for r in sorted(rows, key=lambda r: int(r["id"]))]
        customers = self._customers([o.id_customer for o in orders])
        addresses = self._addresses([a for o in orders
                                     for a in (o.id_address_invoice, o.id_address_delivery)])
        for order in orders:
            order.customer = customers.get(order.id_customer)
            order.invoice = addresses.get(order.id_address_invoice)
            order.delivery = addresses.get(order.id_address_delivery)
        return orders

    def _order(self, r: dict[str, Any]) -> Order:
        assert self._currencies is not None
        lines = [OrderLine(int(x.get("product_id") or 0), int(x.get("product_attribute_id") or 0),
                           x.get("product_name"), int(x.get("product_quantity") or 0),
                           _dec(x.get("unit_price_tax_incl")), _dec(x.get("unit_price_tax_excl")),
                           x.get("product_reference") or None)
                 for x in (r.get("associations") or {}).get("order_rows", [])]
        return Order(
            id=int(r["id"]), reference=str(r["reference"]), id_cart=int(r["id_cart"]),
            id_customer=int(r["id_customer"]), id_currency=int(r["id_currency"]),
            id_address_invoice=int(r["id_address_invoice"]),
            id_address_delivery=int(r["id_address_delivery"]),
            current_state=int(r.get("current_state") or 0),
            total_paid_tax_incl=_dec(r.get("total_paid_tax_incl")),
            total_paid_tax_excl=_dec(r.get("total_paid_tax_excl")),
            total_shipping_tax_incl=_dec(r.get("total_shipping_tax_incl")),
            total_shipping_tax_excl=_dec(r.get("total_shipping_tax_excl")),
            date_add=_when(r.get("date_add")),
            currency=self._currencies.get(int(r["id_currency"])), lines=lines)

    def _customers(self, ids: Sequence[int]) -> dict[int, Customer]:
        rows = [r for part in chunks(ids, _IN_CHUNK)
                for r in self._get("customers", display="full", **{"filter[id]": _any(part)})]
        genders = {int(g["id"]): int(g["type"]) for g in self._get("genders", display="[id,type]")}
        out = {}
        for r in rows:
            birthday = str(r.get("birthday") or "")
            out[int(r["id"])] = Customer(
                int(r["id"]), r.get("email") or None, r.get("firstname") or None,
                r.get("lastname") or None,
                birthday[:10] if birthday and not birthday.startswith("0000") else None,
                genders.get(int(r.get("id_gender") or 0)), _bool(r.get("is_guest")))
        return out

    def _addresses(self, ids: Sequence[int]) -> dict[int, Address]:
        rows = [r for part in chunks(ids, _IN_CHUNK)
                for r in self._get("addresses", display="full", **{"filter[id]": _any(part)})]
        countries = self._codes("countries", [int(r.get("id_country") or 0) for r in rows])
        states = self._codes("states", [int(r.get("id_state") or 0) for r in rows])
        return {int(r["id"]): Address(
            int(r["id"]), r.get("firstname") or None, r.get("lastname") or None,
            r.get("phone") or None, r.get("phone_mobile") or None, r.get("postcode") or None,
            r.get("city") or None, countries.get(int(r.get("id_country") or 0)),
            states.get(int(r.get("id_state") or 0))) for r in rows}

    def _codes(self, resource: str, ids: Sequence[int]) -> dict[int, str]:
        wanted = [i for i in ids if i]
        return {int(r["id"]): str(r["iso_code"]) for part in chunks(wanted, _IN_CHUNK)
                for r in self._get(resource, display="[id,iso_code]", **{"filter[id]": _any(part)})}


def _any(values: Sequence[int | str]) -> str:
    return "[" + "|".join(str(v) for v in values) + "]"


def _bool(value: Any) -> bool:
    return str(value).strip() in ("1", "true", "True")


def _dec(value: Any) -> Decimal:
    try:
        return Decimal(str(value)) if value not in (None, "") else Decimal(0)
    except ArithmeticError:
        return Decimal(0)


def _text(value: Any) -> str:
    # Multilingual fields: [{"id": "1", "value": "Canceled"}, …] unless ?language= was given.
    if isinstance(value, list):
        return str(value[0].get("value", "")) if value and isinstance(value[0], dict) else ""
    return str(value or "")


def _when(value: Any) -> datetime:
    try:
        return datetime.strptime(str(value), _FMT)
    except ValueError:
        return datetime(1970, 1, 1)


def _history(rows: list[dict[str, Any]]) -> list[HistoryRow]:
    return [HistoryRow(int(r["id"]), int(r["id_order"]), int(r["id_order_state"]),
                       _when(r.get("date_add"))) for r in rows]
