"""PrestaShop tables the connector reads, and an in-memory shop to fill them (and the fake WS).

Columns and types follow PrestaShop's install-dev/data/db_structure.sql
(https://github.com/PrestaShop/PrestaShop/blob/develop/install-dev/data/db_structure.sql),
restricted to what the connector reads plus the keys around them; ``PREFIX_`` becomes the prefix
under test. Order states and their flags are PrestaShop's install data
(install-dev/data/xml/order_state.xml), ids in install order.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pymysql

MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": "", "database": "test"}
MARIADB_DSN = "mysql://root@127.0.0.1:3306/test"
SHOP_TZ = ZoneInfo("Europe/Paris")

DDL = {
    "orders": """id_order INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        reference VARCHAR(9), id_shop_group INT UNSIGNED NOT NULL DEFAULT 1,
        id_shop INT UNSIGNED NOT NULL DEFAULT 1, id_carrier INT UNSIGNED NOT NULL DEFAULT 1,
        id_lang INT UNSIGNED NOT NULL DEFAULT 1, id_customer INT UNSIGNED NOT NULL,
        id_cart INT UNSIGNED NOT NULL, id_currency INT UNSIGNED NOT NULL,
        id_address_delivery INT UNSIGNED NOT NULL, id_address_invoice INT UNSIGNED NOT NULL,
        current_state INT UNSIGNED NOT NULL, secure_key VARCHAR(32) NOT NULL DEFAULT '-1',
        payment VARCHAR(255) NOT NULL DEFAULT '', module VARCHAR(255),
        total_discounts_tax_incl DECIMAL(20,6) NOT NULL DEFAULT 0,
        total_paid_tax_incl DECIMAL(20,6) NOT NULL DEFAULT 0,
        total_paid_tax_excl DECIMAL(20,6) NOT NULL DEFAULT 0,
        total_products DECIMAL(20,6) NOT NULL DEFAULT 0,
        total_products_wt DECIMAL(20,6) NOT NULL DEFAULT 0,
        total_shipping_tax_incl DECIMAL(20,6) NOT NULL DEFAULT 0,
        total_shipping_tax_excl DECIMAL(20,6) NOT NULL DEFAULT 0,
        valid TINYINT(1) UNSIGNED NOT NULL DEFAULT 0, date_add DATETIME NOT NULL,
        date_upd DATETIME NOT NULL, KEY reference (reference), KEY id_customer (id_customer)""",
    "order_detail": """id_order_detail INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        id_order INT UNSIGNED NOT NULL, product_id INT UNSIGNED NOT NULL,
        product_attribute_id INT UNSIGNED, product_name VARCHAR(255) NOT NULL,
        product_quantity INT UNSIGNED NOT NULL DEFAULT 0,
        product_price DECIMAL(20,6) NOT NULL DEFAULT 0,
        product_reference VARCHAR(64), unit_price_tax_incl DECIMAL(20,6) NOT NULL DEFAULT 0,
        unit_price_tax_excl DECIMAL(20,6) NOT NULL DEFAULT 0, KEY order_detail_order (id_order)""",
    "order_history": """id_order_history INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        id_employee INT UNSIGNED NOT NULL DEFAULT 0, id_order INT UNSIGNED NOT NULL,
        id_order_state INT UNSIGNED NOT NULL, date_add DATETIME NOT NULL,
        KEY id_order (id_order), KEY id_order_state (id_order_state)""",
    "order_state": """id_order_state INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        invoice TINYINT(1) UNSIGNED DEFAULT 0, module_name VARCHAR(255),
        logable TINYINT(1) NOT NULL DEFAULT 0, delivery TINYINT(1) UNSIGNED NOT NULL DEFAULT 0,
        shipped TINYINT(1) UNSIGNED NOT NULL DEFAULT 0, paid TINYINT(1) UNSIGNED NOT NULL DEFAULT 0,
        deleted TINYINT(1) UNSIGNED NOT NULL DEFAULT 0""",
    "order_state_lang": """id_order_state INT UNSIGNED NOT NULL, id_lang INT UNSIGNED NOT NULL,
        name VARCHAR(64) NOT NULL, template VARCHAR(64) NOT NULL DEFAULT '',
        PRIMARY KEY (id_order_state, id_lang)""",
    "customer": """id_customer INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        id_gender INT UNSIGNED NOT NULL DEFAULT 0, id_lang INT UNSIGNED,
        firstname VARCHAR(255) NOT NULL, lastname VARCHAR(255) NOT NULL,
        email VARCHAR(255) NOT NULL, birthday DATE, newsletter TINYINT(1) NOT NULL DEFAULT 0,
        optin TINYINT(1) NOT NULL DEFAULT 0, is_guest TINYINT(1) NOT NULL DEFAULT 0,
        date_add DATETIME NOT NULL, KEY customer_email (email)""",
    "gender": """id_gender INT NOT NULL AUTO_INCREMENT PRIMARY KEY, type TINYINT(1) NOT NULL""",
    "address": """id_address INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        id_country INT UNSIGNED NOT NULL, id_state INT UNSIGNED,
        id_customer INT UNSIGNED NOT NULL DEFAULT 0, alias VARCHAR(32) NOT NULL DEFAULT 'a',
        company VARCHAR(255), lastname VARCHAR(255) NOT NULL, firstname VARCHAR(255) NOT NULL,
        address1 VARCHAR(128) NOT NULL DEFAULT '', address2 VARCHAR(128),
        postcode VARCHAR(12), city VARCHAR(64) NOT NULL, phone VARCHAR(32),
        phone_mobile VARCHAR(32), vat_number VARCHAR(32),
        deleted TINYINT(1) UNSIGNED NOT NULL DEFAULT 0""",
    "country": """id_country INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        iso_code VARCHAR(3) NOT NULL, call_prefix INT NOT NULL DEFAULT 0,
        contains_states TINYINT(1) NOT NULL DEFAULT 0""",
    "state": """id_state INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        id_country INT UNSIGNED NOT NULL, name VARCHAR(80) NOT NULL,
        iso_code VARCHAR(7) NOT NULL""",
    "currency": """id_currency INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        iso_code VARCHAR(3) NOT NULL DEFAULT '0',
        conversion_rate DECIMAL(13,6) NOT NULL DEFAULT 1""",
    "configuration": """id_configuration INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        id_shop_group INT UNSIGNED, id_shop INT UNSIGNED, name VARCHAR(254) NOT NULL,
        value TEXT, date_add DATETIME NOT NULL, date_upd DATETIME NOT NULL""",
    "shop_url": """id_shop_url INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        id_shop INT UNSIGNED NOT NULL DEFAULT 1, domain VARCHAR(150) NOT NULL,
        domain_ssl VARCHAR(150) NOT NULL, physical_uri VARCHAR(64) NOT NULL,
        main TINYINT(1) NOT NULL DEFAULT 0, active TINYINT(1) NOT NULL DEFAULT 1""",
}
PK = {"orders": "id_order", "order_detail": "id_order_detail", "order_history": "id_order_history",
      "order_state": "id_order_state", "customer": "id_customer", "gender": "id_gender",
      "address": "id_address", "country": "id_country", "state": "id_state",
      "currency": "id_currency", "configuration": "id_configuration", "shop_url": "id_shop_url"}

# (name, logable, paid) in install order: ids 1..13.
STATES = [("Awaiting check payment", 0, 0), ("Payment accepted", 1, 1),
          ("Processing in progress", 1, 1), ("Shipped", 1, 1), ("Delivered", 1, 1),
          ("Canceled", 0, 0), ("Refunded", 0, 0), ("Payment error", 0, 0),
          ("On backorder (paid)", 0, 1), ("Awaiting bank wire payment", 0, 0),
          ("Remote payment accepted", 1, 1), ("On backorder (not paid)", 0, 0),
          ("Awaiting Cash On Delivery validation", 0, 0)]
PAYMENT_ACCEPTED, CANCELED, REFUNDED, BANK_WIRE = 2, 6, 7, 10


def shop_time(ts: float) -> datetime:
    """Unix time → the shop's local wall time without zone, as PrestaShop stores it."""
    return datetime.fromtimestamp(ts, SHOP_TZ).replace(tzinfo=None, microsecond=0)


def random_prefix() -> str:
    return f"t{secrets.token_hex(4)}_"


def new_reference() -> str:
    return "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(9))


@dataclass
class Shop:
    """Rows per table (``tables[name]``): written to MariaDB by ``flush``, or served by the fake
    WS."""

    tables: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    flushed: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    dirty_orders: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.add("gender", type=0)
        self.add("gender", type=1)
        for number, (name, logable, paid) in enumerate(STATES, start=1):
            self.add("order_state", logable=logable, paid=paid)
            self.tables["order_state_lang"].append(
                {"id_order_state": number, "id_lang": 1, "name": name})
        now = shop_time(0)
        self.add("configuration", name="PS_TIMEZONE", value="Europe/Paris", date_add=now,
                 date_upd=now)
        self.add("shop_url", domain="shop.example", domain_ssl="shop.example", physical_uri="/",
                 main=1)

    def add(self, table: str, **row: Any) -> int:
        rows = self.tables[table]
        row = {PK[table]: len(rows) + 1, **row}
        rows.append(row)
        return int(row[PK[table]])

    def row(self, table: str, pk: int) -> dict[str, Any]:
        return self.tables[table][pk - 1]

    # -- builders --------------------------------------------------------------------------

    def country(self, iso: str, call_prefix: int) -> int:
        return self.add("country", iso_code=iso, call_prefix=call_prefix)

    def currency(self, iso: str) -> int:
        return self.add("currency", iso_code=iso)

    def customer(self, email: str, firstname: str, lastname: str, *, birthday: str | None = None,
                 id_gender: int = 0, is_guest: int = 0) -> int:
        return self.add("customer", email=email, firstname=firstname, lastname=lastname,
                        birthday=birthday, id_gender=id_gender, is_guest=is_guest, id_lang=1,
                        date_add=shop_time(0))

    def address(self, id_customer: int, id_country: int, *, firstname: str, lastname: str,
                city: str, postcode: str, phone: str = "", phone_mobile: str = "",
                id_state: int = 0) -> int:
        return self.add("address", id_customer=id_customer, id_country=id_country,
                        id_state=id_state, firstname=firstname, lastname=lastname, city=city,
                        postcode=postcode, phone=phone, phone_mobile=phone_mobile)

    def order(self, reference: str, id_customer: int, id_currency: int, id_address: int, *,
              lines: list[tuple[int, int, str, int, float, float]], shipping: tuple[float, float],
              state: int, at: float, id_cart: int | None = None,
              id_address_invoice: int | None = None) -> int:
        """Lines are (product_id, attribute_id, name, quantity, unit_incl, unit_excl)."""
        incl = sum(q * pi for _, _, _, q, pi, _ in lines) + shipping[0]
        excl = sum(q * pe for _, _, _, q, _, pe in lines) + shipping[1]
        when = shop_time(at)
        order_id = self.add(
            "orders", reference=reference, id_customer=id_customer,
            id_cart=id_cart or len(self.tables["orders"]) + 1000, id_currency=id_currency,
            id_address_delivery=id_address, id_address_invoice=id_address_invoice or id_address,
            current_state=state, total_paid_tax_incl=round(incl, 2),
            total_paid_tax_excl=round(excl, 2), total_shipping_tax_incl=shipping[0],
            total_shipping_tax_excl=shipping[1], date_add=when, date_upd=when)
        for product_id, attribute, name, quantity, unit_incl, unit_excl in lines:
            self.add("order_detail", id_order=order_id, product_id=product_id,
                     product_attribute_id=attribute, product_name=name, product_quantity=quantity,
                     product_reference=f"SKU{product_id}", unit_price_tax_incl=unit_incl,
                     unit_price_tax_excl=unit_excl)
        self.add("order_history", id_order=order_id, id_order_state=state, date_add=when)
        return order_id

    def change_state(self, id_order: int, state: int, at: float) -> int:
        self.row("orders", id_order)["current_state"] = state
        self.dirty_orders.add(id_order)
        return self.add("order_history", id_order=id_order, id_order_state=state,
                        date_add=shop_time(at))

    # -- MariaDB ---------------------------------------------------------------------------

    def flush(self, conn: pymysql.connections.Connection[Any], prefix: str) -> None:
        """Insert rows added since the last flush and apply order state updates."""
        with conn.cursor() as cur:
            for table, rows in self.tables.items():
                new = rows[self.flushed[table]:]
                if not new:
                    continue
                columns = sorted({key for row in new for key in row})
                cur.executemany(
                    f"INSERT INTO `{prefix}{table}` ({', '.join(columns)}) VALUES "
                    f"({', '.join(['%s'] * len(columns))})",
                    [tuple(row.get(c) for c in columns) for row in new])
                self.flushed[table] = len(rows)
            for order_id in sorted(self.dirty_orders):
                cur.execute(f"UPDATE `{prefix}orders` SET current_state = %s WHERE id_order = %s",
                            (self.row("orders", order_id)["current_state"], order_id))
            self.dirty_orders.clear()
        conn.commit()


def connect() -> pymysql.connections.Connection[Any]:
    return pymysql.connect(**MARIADB, charset="utf8mb4", autocommit=False)


def create_tables(conn: pymysql.connections.Connection[Any], prefix: str,
                  skip: tuple[str, ...] = ()) -> None:
    with conn.cursor() as cur:
        for table, columns in DDL.items():
            if table not in skip:
                cur.execute(f"CREATE TABLE `{prefix}{table}` ({columns}) "
                            "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4")
    conn.commit()


def drop_tables(conn: pymysql.connections.Connection[Any], prefix: str) -> None:
    with conn.cursor() as cur:
        for table in DDL:
            cur.execute(f"DROP TABLE IF EXISTS `{prefix}{table}`")
    conn.commit()


def minutes_ago(now: float, minutes: float) -> float:
    return now - timedelta(minutes=minutes).total_seconds()


class Fixtures:
    """The orders of the connector's test scenarios, in one shop."""

    def __init__(self, shop: Shop, now: float) -> None:
        self.shop = shop
        self.now = now
        fr = shop.country("FR", 33)
        de = shop.country("DE", 49)
        eur, self.chf = shop.currency("EUR"), shop.currency("CHF")
        # A normal paid order: registered customer, mobile and landline, Mrs.
        c1 = shop.customer("Anne.Martin@Example.com", "Anne", "Martin", birthday="1985-03-09",
                           id_gender=2)
        a1 = shop.address(c1, fr, firstname="Anne", lastname="Martin", city="Lyon",
                          postcode="69002", phone="+33 4 72 00 00 00",
                          phone_mobile="+33 6 12 34 56 78")
        self.normal = new_reference()
        self.normal_id = shop.order(self.normal, c1, eur, a1, state=PAYMENT_ACCEPTED, at=now - 3000,
                                    lines=[(7, 0, "Mug", 2, 12.0, 10.0)], shipping=(6.0, 5.0))
        # A split checkout: two orders, one reference, one cart.
        c2 = shop.customer("bob@example.com", "Bob", "Durand", id_gender=1)
        a2 = shop.address(c2, fr, firstname="Bob", lastname="Durand", city="Paris",
                          postcode="75011", phone_mobile="+33 7 00 00 00 01")
        self.split = new_reference()
        self.split_ids = [
            shop.order(self.split, c2, eur, a2, state=PAYMENT_ACCEPTED, at=now - 2900, id_cart=501,
                       lines=[(1, 3, "Shirt M", 1, 24.0, 20.0)], shipping=(0.0, 0.0)),
            shop.order(self.split, c2, eur, a2, state=PAYMENT_ACCEPTED, at=now - 2900, id_cart=501,
                       lines=[(2, 0, "Book", 1, 10.55, 10.0)], shipping=(4.8, 4.0)),
        ]
        # A guest checkout with a national-format phone (French number without +33).
        c3 = shop.customer("guest@example.org", "Camille", "Petit", is_guest=1)
        a3 = shop.address(c3, fr, firstname="Camille", lastname="Petit", city="Nantes",
                          postcode="44000", phone="06 11 22 33 44")
        self.guest = new_reference()
        self.guest_id = shop.order(self.guest, c3, eur, a3, state=PAYMENT_ACCEPTED, at=now - 2800,
                                   lines=[(3, 0, "Tea", 3, 5.0, 4.5)], shipping=(0.0, 0.0))
        # Bank wire awaiting payment, paid later.
        c4 = shop.customer("wire@example.com", "Jürgen", "Müller", id_gender=1)
        a4 = shop.address(c4, de, firstname="Jürgen", lastname="Müller", city="München",
                          postcode="80331")  # no phone at all
        self.wire = new_reference()
        self.wire_id = shop.order(self.wire, c4, eur, a4, state=BANK_WIRE, at=now - 2700,
                                  lines=[(4, 0, "Lamp", 1, 59.9, 49.92)], shipping=(0.0, 0.0))
        # A paid order in CHF (second currency), cancelled later; non-ASCII names.
        c5 = shop.customer("zoe@example.ch", "Zoë", "Ĺubomírová", id_gender=2)
        a5 = shop.address(c5, fr, firstname="Zoë", lastname="Ĺubomírová", city="Genève",
                          postcode="1201", phone_mobile="0612345679")
        self.chf_ref = new_reference()
        self.chf_id = shop.order(self.chf_ref, c5, self.chf, a5, state=PAYMENT_ACCEPTED,
                                 at=now - 2600, lines=[(5, 0, "Watch", 1, 120.0, 111.0)],
                                 shipping=(0.0, 0.0))
