"""GET /v1/reports/match-quality?since=&until=: the match-quality report of the API key's shop
(trackside/reports/match_quality.py; the shape is in docs/api.md)."""

from __future__ import annotations

import asyncio
import json
import time

from starlette.requests import Request
from starlette.responses import Response

from trackside.events import FieldError
from trackside.reports.match_quality import PeriodError, match_quality, parse_period
from trackside.runtime import Runtime
from trackside.web.api import require_api_key
from trackside.web.errors import ApiError

#: The query parameters this report reads; any other is refused (a typo should not pass).
_PARAMETERS = frozenset({"since", "until"})


class MatchQualityAPI:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def get(self, request: Request) -> Response:
        shop = require_api_key(request, self.runtime)
        query = request.query_params
        unknown = sorted(set(query.keys()) - _PARAMETERS)
        if unknown:
            raise ApiError(400, "Unknown query parameter", [
                FieldError(field=name[:64], reason="not a parameter of this report (since, "
                           "until)") for name in unknown[:10]])
        if any(len(query.getlist(name)) > 1 for name in _PARAMETERS):
            raise ApiError(400, "A query parameter is repeated", [
                FieldError(field=name, reason="given more than once")
                for name in sorted(_PARAMETERS) if len(query.getlist(name)) > 1])
        try:
            since, until = parse_period(query.get("since"), query.get("until"), time.time())
        except PeriodError as exc:
            raise ApiError(400, "Invalid report period",
                           [FieldError(field=exc.field, reason=exc.reason)]) from None
        report = await asyncio.to_thread(match_quality, self.runtime.store, since, until,
                                         shop=shop.name)
        # Meta's error text is stored scrubbed already; masked again in case a secret changed.
        text = json.dumps(report.as_dict(), ensure_ascii=False)
        return Response(self.runtime.redactor(text) or "", media_type="application/json")
