"""GET /v1/reports/reconciliation and GET /v1/reports/reconciliation/orders: the teardown
(reports/reconciliation.py) over HTTP, for the shop of the API key (as /v1/events).

A bad parameter is a 400 naming it (``since``, ``until``, ``filter``, ``cursor``, ``limit``);
a store that does not answer is a 503. The numbers and their shape are the reports module's;
docs/api.md shows them.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from trackside.errors import ReportError
from trackside.events import FieldError
from trackside.reports import reconciliation
from trackside.runtime import Runtime
from trackside.store import StoreError
from trackside.web.api import require_api_key
from trackside.web.errors import ApiError


class ReportsAPI:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def reconciliation(self, request: Request) -> Response:
        shop = require_api_key(request, self.runtime)
        query = request.query_params
        span = _checked(lambda: reconciliation.period(query.get("since"), query.get("until")))
        report = await self._read(reconciliation.reconciliation, self.runtime.store, span,
                                  shop=shop.name)
        return JSONResponse(report)

    async def orders(self, request: Request) -> Response:
        shop = require_api_key(request, self.runtime)
        query = request.query_params

        def checked() -> tuple[reconciliation.Period, str, int]:
            span = reconciliation.period(query.get("since"), query.get("until"))
            chosen = reconciliation.check_filter(query.get("filter"))
            reconciliation.decode_cursor(query.get("cursor"))
            return span, chosen, reconciliation.check_limit(query.get("limit"))

        span, chosen, limit = _checked(checked)
        page = await self._read(reconciliation.order_list, self.runtime.store, span,
                                shop=shop.name, filter_name=chosen,
                                cursor=query.get("cursor"), limit=limit)
        return JSONResponse(page)

    async def _read(self, report: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(report, *args, **kwargs)
        except StoreError:
            raise ApiError(503, headers={"Retry-After": "5"}) from None


def _checked(parse: Any) -> Any:
    try:
        return parse()
    except ReportError as exc:
        raise ApiError(400, f"The parameter {exc.field} cannot be used",
                       [FieldError(field=exc.field, reason=exc.reason)]) from None
