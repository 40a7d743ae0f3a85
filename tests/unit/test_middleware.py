"""RequestContext (web/middleware.py): the request id and the per-route counter it keeps."""

from __future__ import annotations

import re

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from trackside import metrics
from trackside.web.middleware import RequestContext, new_request_id


async def _ok(request: Request) -> Response:
    return Response(status_code=int(request.query_params.get("status", "200")))


def _app() -> Starlette:
    return Starlette(routes=[Route("/test-mw/{item}", _ok)],
                     middleware=[Middleware(RequestContext)])


def _count(route: str, status: str) -> float:
    value = metrics.REGISTRY.get_sample_value("trackside_http_requests_total",
                                              {"route": route, "status": status})
    return value or 0.0


def test_new_request_ids_are_32_random_hex_digits() -> None:
    ids = {new_request_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(r"[0-9a-f]{32}", rid) for rid in ids)


async def test_each_request_is_counted_under_its_template_and_status() -> None:
    transport = httpx.ASGITransport(app=_app())
    before_200 = _count("/test-mw/{item}", "200")
    before_404 = _count("/test-mw/{item}", "404")
    before_unmatched = _count("unmatched", "404")
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for index in range(3):
            response = await client.get(f"/test-mw/{index}")
            assert response.status_code == 200
            assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])
        assert (await client.get("/test-mw/x?status=404")).status_code == 404
        assert (await client.get("/elsewhere")).status_code == 404
        kept = await client.get("/test-mw/y", headers={"x-request-id": "proxy-id-1234"})
        assert kept.headers["x-request-id"] == "proxy-id-1234"
    # The cached counter children are the ones /metrics reads.
    assert _count("/test-mw/{item}", "200") == before_200 + 4
    assert _count("/test-mw/{item}", "404") == before_404 + 1
    assert _count("unmatched", "404") == before_unmatched + 1
