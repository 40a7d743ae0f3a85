"""The one JSON error shape of every non-Meta endpoint, built here and nowhere else.

    {"error": {"status": 400, "message": "…", "errors": [{"field": "…", "reason": "…"}]}}

``status`` repeats the HTTP status so a logged body is self-explaining; ``errors`` lists field
problems when there are any (always present, possibly empty, so clients need no key check).
Messages never contain a submitted value: a value may be personal data or a secret pasted in the
wrong place. The Graph-compatible endpoint answers with Meta's own shape instead (graph.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from trackside.errors import RequestError
from trackside.events import FieldError

#: Default messages for statuses raised by Starlette itself (unknown path, wrong method).
_REASONS = {
    400: "Bad request",
    401: "A valid API key is required (Authorization: Bearer <key>)",
    404: "Not found",
    405: "Method not allowed",
    413: "Request body too large",
    415: "The request body must be JSON",
    500: "Internal error; the request id in the logs tells an operator what happened",
    503: "The store is unavailable; retry later",
}


class ErrorDetail(BaseModel):
    status: int = Field(description="The HTTP status, repeated.")
    message: str = Field(description="What went wrong, for a human.")
    errors: list[FieldError] = Field(
        default_factory=list, description="One entry per invalid field, when there are any."
    )


class ErrorBody(BaseModel):
    """Every non-2xx answer of the trackside API (not the Graph-compatible endpoint)."""

    error: ErrorDetail


class ApiError(RequestError):
    """Raise anywhere in a handler; the app turns it into :func:`error_response`."""

    def __init__(
        self,
        status: int,
        message: str | None = None,
        errors: Sequence[FieldError] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.message = message or _REASONS.get(status, "Error")
        self.errors = list(errors)
        self.headers = dict(headers or {})
        super().__init__(self.message)


def error_body(status: int, message: str, errors: Sequence[FieldError] = ()) -> dict[str, object]:
    return {
        "error": {
            "status": status,
            "message": message,
            "errors": [{"field": e.field, "reason": e.reason} for e in errors],
        }
    }


def error_response(
    status: int,
    message: str | None = None,
    errors: Sequence[FieldError] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        error_body(status, message or _REASONS.get(status, "Error"), errors),
        status_code=status,
        headers=dict(headers) if headers else None,
    )


def unauthorized(message: str | None = None) -> ApiError:
    # A 401 for a bearer-protected resource names the scheme:
    # https://www.rfc-editor.org/rfc/rfc6750#section-3
    return ApiError(401, message, headers={"WWW-Authenticate": 'Bearer realm="trackside"'})


# -- handlers installed by create_app -----------------------------------------------------------


async def api_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.message, exc.errors, exc.headers)


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    # Starlette raises these for unknown paths (404) and wrong methods (405); its own
    # `detail` is just the reason phrase, so our messages replace it.
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, _REASONS.get(exc.status_code, exc.detail),
                          headers=exc.headers)
