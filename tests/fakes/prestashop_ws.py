"""A fake PrestaShop webservice over a ``Shop`` of test rows.

Speaks what the connector uses, the way PrestaShop does: ``GET /api/{resource}`` with
``output_format=JSON``, HTTP Basic (key as user name, empty password), ``display=full`` or
``[f1,f2]``, ``filter[field]=[a|b]`` (any of) and ``[a,b]`` (inclusive interval), ``date=1`` to
filter on dates, ``sort=[field_ASC|DESC]``, ``limit=n`` or ``offset,n``. Lists answer
``{"orders": [...]}`` (a bare ``[]`` when empty), ids as numbers and other fields as strings;
errors answer ``{"errors": [{"code", "message"}]}`` with PrestaShop's codes
(https://devdocs.prestashop-project.org/9/webservice/cheat-sheet,
https://devdocs.prestashop-project.org/8/webservice/tutorials/testing-access).
"""

from __future__ import annotations

import base64
from datetime import datetime
from decimal import Decimal
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.integration.prestashop_schema import PK, Shop

#: resource → backing table.
TABLES = {"orders": "orders", "order_histories": "order_history", "order_states": "order_state",
          "customers": "customer", "addresses": "address", "countries": "country",
          "states": "state", "currencies": "currency", "genders": "gender",
          "configurations": "configuration"}
ALL = frozenset(TABLES)


def _out(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, (float, Decimal)):
        return f"{value:.6f}"
    return str(value)


class FakePrestaShopWS:
    def __init__(self, shop: Shop, key: str, permissions: frozenset[str] = ALL) -> None:
        self.shop = shop
        self.key = key
        self.permissions = permissions
        self.enabled = True
        self.requests: list[str] = []
        self.app = Starlette(routes=[Route("/api/{resource}", self._handle)])

    @staticmethod
    def _error(status: int, code: int, message: str) -> JSONResponse:
        headers = {"WWW-Authenticate": 'Basic realm="Welcome to PrestaShop Webservice"'} if status == 401 else {}
        return JSONResponse({"errors": [{"code": code, "message": message}]}, status, headers=headers)

    def _key(self, request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        if not header.startswith("Basic "):
            return None
        return base64.b64decode(header[6:]).decode().split(":", 1)[0]

    async def _handle(self, request: Request) -> JSONResponse:
        resource = request.path_params["resource"]
        self.requests.append(str(request.url))
        if not self.enabled:
            return self._error(503, 22, "The PrestaShop webservice is disabled. Please activate it in the PrestaShop Back Office")
        key = self._key(request)
        if key is None:
            return self._error(401, 16, "Please enter the authentication key as the login. No password required")
        if len(key) != 32:
            return self._error(401, 18, "Invalid authentication key format")
        if key != self.key:
            return self._error(401, 21, "No permission for this authentication key")
        if resource not in TABLES:
            return self._error(400, 27, f'Resource of type "{resource}" does not exists')
        if resource not in self.permissions:
            return self._error(401, 26, f'Resource of type "{resource}" is not allowed with this authentication key')
        query = request.query_params
        if query.get("output_format") != "JSON":
            return self._error(400, 0, "this fake only speaks output_format=JSON")
        rows = [self._view(resource, row) for row in self.shop.tables[TABLES[resource]]]
        for name, value in query.items():
            if not name.startswith("filter["):
                continue
            field = name[7:-1]
            if field.startswith("date_") and query.get("date") != "1":
                return self._error(400, 35, f'Unable to filter by this field "{field}" without date=1')
            rows = [r for r in rows if self._matches(r.get(field), value)]
        if "sort" in query:
            field, _, direction = query["sort"].strip("[]").rpartition("_")
            rows.sort(key=lambda r: _key(r.get(field)), reverse=direction == "DESC")
        if "limit" in query:
            parts = [int(p) for p in query["limit"].split(",")]
            offset, count = (0, parts[0]) if len(parts) == 1 else (parts[0], parts[1])
            rows = rows[offset:offset + count]
        display = query.get("display")
        if display is None:
            rows = [{"id": r["id"]} for r in rows]
        elif display != "full":
            fields = display.strip("[]").split(",")
            rows = [{f: r[f] for f in fields if f in r} for r in rows]
        if not rows:
            return JSONResponse([])
        return JSONResponse({resource: rows})

    @staticmethod
    def _matches(actual: Any, pattern: str) -> bool:
        inner = pattern.strip("[]")
        if "|" in inner or "," not in inner:
            return str(actual) in inner.split("|")
        low, high = inner.split(",", 1)
        return _key(low) <= _key(actual) <= _key(high)

    def _view(self, resource: str, row: dict[str, Any]) -> dict[str, Any]:
        table = TABLES[resource]
        out: dict[str, Any] = {"id": row[PK[table]]}
        out.update({k: _out(v) for k, v in row.items() if k != PK[table]})
        if resource == "orders":
            out["associations"] = {"order_rows": [
                {"id": str(d["id_order_detail"]), **{k: _out(v) for k, v in d.items()
                                                     if k not in ("id_order_detail", "id_order")}}
                for d in self.shop.tables["order_detail"] if d["id_order"] == row["id_order"]]}
        if resource == "order_states":
            names = [n for n in self.shop.tables["order_state_lang"]
                     if n["id_order_state"] == row["id_order_state"]]
            out["name"] = [{"id": str(n["id_lang"]), "value": n["name"]} for n in names]
        return out


def _key(value: Any) -> tuple[int, Any]:
    text = str(value)
    return (0, int(text)) if text.isdigit() else (1, text)
