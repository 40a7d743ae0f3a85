"""Reading a PrestaShop shop straight from its MySQL/MariaDB database (read-only).

Table names are ``{prefix}{table}`` with the prefix from ``TRACKSIDE_PRESTASHOP_DB_PREFIX``
(never hard-code ``ps_``: each shop sets its own ``database_prefix``). The session is put in
READ ONLY mode and in autocommit, so every poll sees the newest committed rows (a long
REPEATABLE READ snapshot would hide new orders forever) and no statement can ever write to the
shop.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pymysql
import pymysql.cursors

from trackside.config import mask_url_password
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

DSN_KEY = "TRACKSIDE_PRESTASHOP_DB_URL"
PREFIX_KEY = "TRACKSIDE_PRESTASHOP_DB_PREFIX"

#: Table → columns the connector reads. Checked at start so schema drift or a
#: missing GRANT is reported by name instead of failing in the middle of a sync.
REQUIRED: dict[str, tuple[str, ...]] = {
    "orders": ("id_order", "reference", "id_cart", "id_customer", "id_currency",
               "id_address_invoice", "id_address_delivery", "current_state",
               "total_paid_tax_incl", "total_paid_tax_excl", "total_shipping_tax_incl",
               "total_shipping_tax_excl", "date_add"),
    "order_detail": ("id_order", "product_id", "product_attribute_id", "product_name",
                     "product_quantity", "product_reference", "unit_price_tax_incl",
                     "unit_price_tax_excl"),
    "order_history": ("id_order_history", "id_order", "id_order_state", "date_add"),
    "order_state": ("id_order_state", "paid", "logable"),
    "order_state_lang": ("id_order_state", "id_lang", "name"),
    "customer": ("id_customer", "id_gender", "firstname", "lastname", "email", "birthday",
                 "is_guest"),
    "gender": ("id_gender", "type"),
    "address": ("id_address", "id_country", "id_state", "firstname", "lastname", "postcode",
                "city", "phone", "phone_mobile"),
    "country": ("id_country", "iso_code"),
    "state": ("id_state", "iso_code"),
    "currency": ("id_currency", "iso_code"),
}
#: Read when granted; without them times are taken as UTC and the URL must be configured.
OPTIONAL: dict[str, tuple[str, ...]] = {
    "configuration": ("name", "value"),
    "shop_url": ("domain_ssl", "physical_uri", "main"),
}
_IN_CHUNK = 500


def parse_dsn(url: str) -> dict[str, Any]:
    """``mysql://user:password@host:3306/database`` → PyMySQL connect arguments."""
    parts = urlsplit(url)
    if parts.scheme not in ("mysql", "mariadb", "mysql+pymysql"):
        raise PrestaShopError(
            f"{DSN_KEY}: {mask_url_password(url)!r} is not a MySQL/MariaDB URL; write it as "
            "mysql://user:password@host:3306/database"
        )
    database = unquote(parts.path.lstrip("/"))
    if not database or not parts.hostname:
        raise PrestaShopError(
            f"{DSN_KEY}: {mask_url_password(url)!r} lacks the host or the database name; write "
            "it as mysql://user:password@host:3306/database"
        )
    try:
        port = parts.port or 3306
    except ValueError:
        raise PrestaShopError(f"{DSN_KEY}: the port is not a number") from None
    args: dict[str, Any] = {
        "host": parts.hostname, "port": port, "user": unquote(parts.username or ""),
        "password": unquote(parts.password or ""), "database": database,
    }
    query = parse_qs(parts.query)
    if "unix_socket" in query:
        args["unix_socket"] = query["unix_socket"][0]
    return args


class DatabaseReader:
    def __init__(self, dsn: str, prefix: str = "ps_") -> None:
        self._args = parse_dsn(dsn)
        self._masked = mask_url_password(dsn)
        if not prefix.replace("_", "").isalnum() and prefix != "":
            raise PrestaShopError(f"{PREFIX_KEY}: {prefix!r} may only hold letters, digits and _")
        self.prefix = prefix
        self.description = f"database {self._masked} (prefix {prefix!r})"
        self._conn: pymysql.connections.Connection[Any] | None = None
        self._optional_ok: set[str] = set()

    # -- connection and errors -------------------------------------------------------------

    def _connect(self) -> pymysql.connections.Connection[Any]:
        try:
            conn = pymysql.connect(
                **self._args, charset="utf8mb4", autocommit=True, connect_timeout=10,
                read_timeout=120, cursorclass=pymysql.cursors.DictCursor,
            )
            with conn.cursor() as cur:
                cur.execute("SET SESSION TRANSACTION READ ONLY")
        except pymysql.err.MySQLError as exc:
            raise self._explain(exc) from None
        return conn

    def _explain(self, exc: BaseException, table: str | None = None) -> PrestaShopError:
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
        where = f"{self._args['host']}:{self._args['port']}"
        user, db = self._args["user"], self._args["database"]
        if code in (1045, 1698):
            return PrestaShopError(
                f"{DSN_KEY}: access denied for user {user!r} at {where} ({self._masked}): check "
                "the user name and password, and that the user may connect from this host"
            )
        if code in (2003, 2005, 2006, 2013):
            return PrestaShopError(
                f"{DSN_KEY}: cannot reach the database server at {where} ({exc.args[-1]}); "
                "check the host, the port and that the server accepts TCP connections"
            )
        if code in (1044, 1049):
            return PrestaShopError(
                f"{DSN_KEY}: database {db!r} does not exist or user {user!r} may not use it; "
                "the database name is database_name in the shop's app/config/parameters.php"
            )
        if code in (1142, 1143) and table:
            return PrestaShopError(
                f"user {user!r} may not read {table}: run GRANT SELECT ON `{db}`.`{table}` TO "
                f"'{user}'@'<trackside host>' (see docs/prestashop.md for the full list)"
            )
        if code == 1146 and table:
            return PrestaShopError(
                f"table {db}.{table} does not exist: check {PREFIX_KEY} (now {self.prefix!r})"
            )
        if code == 1054 and table:
            return PrestaShopError(
                f"table {db}.{table} lacks a column the connector reads ({exc.args[-1]}); this "
                "PrestaShop version is not supported (1.7, 8 and 9 are)"
            )
        return PrestaShopError(f"{self.description}: {type(exc).__name__}: {exc.args[-1]}")

    def _rows(
        self, sql: str, params: Sequence[Any] = (), table: str | None = None
    ) -> list[dict[str, Any]]:
        sql = sql.replace("{p}", self.prefix)
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = self._connect()
            try:
                with self._conn.cursor() as cur:
                    cur.execute(sql, tuple(params))
                    return list(cur.fetchall())
            except pymysql.err.OperationalError as exc:
                # A long idle poller meets wait_timeout: reconnect once, then report.
                if exc.args and exc.args[0] in (2006, 2013, 0) and attempt == 1:
                    self.close()
                    continue
                raise self._explain(exc, table) from None
            except pymysql.err.MySQLError as exc:
                raise self._explain(exc, table) from None
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except pymysql.err.Error:
                pass
            self._conn = None

    def check(self) -> None:
        present = {r["t"] for r in self._rows(
            "SELECT table_name AS t FROM information_schema.tables WHERE table_schema = DATABASE()"
        )}
        missing = [t for t in REQUIRED if self.prefix + t not in present]
        if len(missing) == len(REQUIRED):
            others = sorted(t[: -len("orders")] for t in present
                            if t.endswith("orders") and t[: -len("orders")].endswith("_"))
            hint = (f"; tables exist with prefix {', '.join(repr(o) for o in others)}: set "
                    f"{PREFIX_KEY} to it" if others else
                    "; check the database name and that the user has SELECT on the shop's tables")
            raise PrestaShopError(
                f"no PrestaShop tables with prefix {self.prefix!r} in database "
                f"{self._args['database']!r}{hint}"
            )
        if missing:
            names = ", ".join(self.prefix + t for t in missing)
            raise PrestaShopError(
                f"missing table(s) {names} in database {self._args['database']!r}, or user "
                f"{self._args['user']!r} has no SELECT on them (see docs/prestashop.md GRANTs)"
            )
        for table, columns in REQUIRED.items():
            self._rows(f"SELECT {', '.join(columns)} FROM {{p}}{table} LIMIT 0",
                       table=self.prefix + table)
        for table, columns in OPTIONAL.items():
            try:
                self._rows(f"SELECT {', '.join(columns)} FROM {{p}}{table} LIMIT 0",
                           table=self.prefix + table)
                self._optional_ok.add(table)
            except PrestaShopError:
                continue

    # -- reads ------------------------------------------------------------------------------

    def shop_timezone(self) -> str | None:
        if "configuration" not in self._optional_ok:
            return None
        rows = self._rows("SELECT value FROM {p}configuration WHERE name = 'PS_TIMEZONE' "
                          "ORDER BY id_shop IS NOT NULL, id_shop LIMIT 1")
        return str(rows[0]["value"]) if rows and rows[0]["value"] else None

    def shop_url(self) -> str | None:
        if "shop_url" not in self._optional_ok:
            return None
        rows = self._rows("SELECT domain_ssl, physical_uri FROM {p}shop_url WHERE main = 1 "
                          "ORDER BY id_shop LIMIT 1")
        if not rows or not rows[0]["domain_ssl"]:
            return None
        return f"https://{rows[0]['domain_ssl']}{rows[0]['physical_uri'] or '/'}".rstrip("/")

    def order_states(self) -> dict[int, OrderState]:
        rows = self._rows(
            "SELECT s.id_order_state AS id, s.paid, s.logable, (SELECT l.name FROM "
            "{p}order_state_lang l WHERE l.id_order_state = s.id_order_state ORDER BY l.id_lang "
            "LIMIT 1) AS name FROM {p}order_state s")
        return {r["id"]: OrderState(r["id"], bool(r["paid"]), bool(r["logable"]), r["name"] or "")
                for r in rows}

    _HISTORY = ("SELECT id_order_history AS id, id_order, id_order_state, date_add "
                "FROM {p}order_history ")

    def history_after(self, after_id: int, limit: int) -> list[HistoryRow]:
        return _history(self._rows(self._HISTORY + "WHERE id_order_history > %s "
                                   "ORDER BY id_order_history LIMIT %s", (after_id, limit)))

    def history_by_ids(self, ids: Sequence[int]) -> list[HistoryRow]:
        return self._history_in("id_order_history", ids)

    def history_of_orders(self, order_ids: Sequence[int]) -> list[HistoryRow]:
        return self._history_in("id_order", order_ids)

    def _history_in(self, column: str, values: Sequence[int]) -> list[HistoryRow]:
        rows: list[dict[str, Any]] = []
        for part in chunks(values, _IN_CHUNK):
            rows += self._rows(self._HISTORY + f"WHERE {column} IN ({_marks(part)})", part)
        return sorted(_history(rows), key=lambda r: r.id)

    def first_history_id_since(self, when: datetime) -> int | None:
        rows = self._rows("SELECT MIN(id_order_history) AS id FROM {p}order_history "
                          "WHERE date_add >= %s", (when.strftime("%Y-%m-%d %H:%M:%S"),))
        first: int | None = rows[0]["id"]
        return first

    def max_history_id(self) -> int:
        return int(self._rows("SELECT COALESCE(MAX(id_order_history), 0) AS id "
                              "FROM {p}order_history")[0]["id"])

    def references(self, order_ids: Sequence[int]) -> dict[int, str]:
        out: dict[int, str] = {}
        for part in chunks(order_ids, _IN_CHUNK):
            for r in self._rows(f"SELECT id_order, reference FROM {{p}}orders "
                                f"WHERE id_order IN ({_marks(part)})", part):
                out[r["id_order"]] = r["reference"]
        return out

    def orders_by_reference(self, references: Sequence[str]) -> list[Order]:
        rows: list[dict[str, Any]] = []
        for part in chunks(references, _IN_CHUNK):
            rows += self._rows(
                "SELECT o.*, cu.iso_code AS currency_iso, c.email, c.firstname AS c_firstname, "
                "c.lastname AS c_lastname, CAST(c.birthday AS CHAR) AS c_birthday, c.is_guest, "
                "c.id_customer AS c_id, g.type AS gender_type FROM {p}orders o "
                "LEFT JOIN {p}currency cu ON cu.id_currency = o.id_currency "
                "LEFT JOIN {p}customer c ON c.id_customer = o.id_customer "
                "LEFT JOIN {p}gender g ON g.id_gender = c.id_gender "
                f"WHERE o.reference IN ({_marks(part)}) ORDER BY o.id_order", part)
        orders = [_order(r) for r in rows]
        address_ids = [a for o in orders for a in (o.id_address_invoice, o.id_address_delivery)]
        addresses = self._addresses(address_ids)
        lines = self._lines([o.id for o in orders])
        for order in orders:
            order.invoice = addresses.get(order.id_address_invoice)
            order.delivery = addresses.get(order.id_address_delivery)
            order.lines = lines.get(order.id, [])
        return orders

    def _addresses(self, ids: Sequence[int]) -> dict[int, Address]:
        out: dict[int, Address] = {}
        for part in chunks(ids, _IN_CHUNK):
            for r in self._rows(
                "SELECT a.id_address, a.firstname, a.lastname, a.phone, a.phone_mobile, "
                "a.postcode, a.city, co.iso_code AS country_iso, st.iso_code AS state_iso "
                "FROM {p}address a LEFT JOIN {p}country co ON co.id_country = a.id_country "
                "LEFT JOIN {p}state st ON st.id_state = a.id_state "
                f"WHERE a.id_address IN ({_marks(part)})", part):
                out[r["id_address"]] = Address(
                    r["id_address"], r["firstname"], r["lastname"], r["phone"],
                    r["phone_mobile"], r["postcode"], r["city"], r["country_iso"], r["state_iso"])
        return out

    def _lines(self, order_ids: Sequence[int]) -> dict[int, list[OrderLine]]:
        out: dict[int, list[OrderLine]] = {}
        for part in chunks(order_ids, _IN_CHUNK):
            for r in self._rows(
                "SELECT id_order, product_id, product_attribute_id, product_name, "
                "product_quantity, product_reference, unit_price_tax_incl, unit_price_tax_excl "
                f"FROM {{p}}order_detail WHERE id_order IN ({_marks(part)}) "
                "ORDER BY id_order_detail", part):
                out.setdefault(r["id_order"], []).append(OrderLine(
                    r["product_id"], r["product_attribute_id"], r["product_name"],
                    r["product_quantity"], Decimal(r["unit_price_tax_incl"] or 0),
                    Decimal(r["unit_price_tax_excl"] or 0), r["product_reference"] or None))
        return out


def _marks(values: Sequence[Any]) -> str:
    return ", ".join(["%s"] * len(values))


def _datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    # Zero dates (0000-00-00 00:00:00) come back as text; they sort first, like PrestaShop.
    return datetime(1970, 1, 1)


def _history(rows: list[dict[str, Any]]) -> list[HistoryRow]:
    return [HistoryRow(r["id"], r["id_order"], r["id_order_state"], _datetime(r["date_add"]))
            for r in rows]


def _order(r: dict[str, Any]) -> Order:
    birthday = r["c_birthday"]
    customer = None if r["c_id"] is None else Customer(
        r["c_id"], r["email"], r["c_firstname"], r["c_lastname"],
        None if not birthday or birthday.startswith("0000") else birthday[:10],
        r["gender_type"], bool(r["is_guest"]))
    return Order(
        id=r["id_order"], reference=r["reference"], id_cart=r["id_cart"],
        id_customer=r["id_customer"], id_currency=r["id_currency"],
        id_address_invoice=r["id_address_invoice"], id_address_delivery=r["id_address_delivery"],
        current_state=r["current_state"], total_paid_tax_incl=Decimal(r["total_paid_tax_incl"]),
        total_paid_tax_excl=Decimal(r["total_paid_tax_excl"]),
        total_shipping_tax_incl=Decimal(r["total_shipping_tax_incl"]),
        total_shipping_tax_excl=Decimal(r["total_shipping_tax_excl"]),
        date_add=_datetime(r["date_add"]), currency=r["currency_iso"], customer=customer,
    )
