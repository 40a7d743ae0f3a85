"""Rendering: the Jinja2 templates (autoescaped), the security headers every console answer
carries, the stylesheet and script, and the small helpers the templates share."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse, Response

from trackside.redact import Redactor
from trackside.web.console.views import Period, duration, when

#: Nothing from another origin, no inline script or style (charts are inline SVG coloured by
#: classes), no framing, forms only to ourselves.
CSP = ("default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_STATIC = {"console.css": "text/css; charset=utf-8",
           "console.js": "text/javascript; charset=utf-8"}
DEFAULT_PERIOD_DAYS = 30
MAX_PERIOD_DAYS = 367


def shop_url(path: str, shop: str | None) -> str:
    return path if shop is None else f"{path}?shop={quote(shop)}"


def period_from(query: Mapping[str, str], now: float) -> Period | str:
    """?since=YYYY-MM-DD&until=YYYY-MM-DD (until included; default: the last 30 days), or the
    reason it is not a period, naming the field."""
    today = datetime.fromtimestamp(now, UTC).date()
    try:
        until = date.fromisoformat(query["until"]) if query.get("until") else today
    except ValueError:
        return "until: must be a date, YYYY-MM-DD"
    try:
        since = (date.fromisoformat(query["since"]) if query.get("since")
                 else until - timedelta(days=DEFAULT_PERIOD_DAYS - 1))
    except ValueError:
        return "since: must be a date, YYYY-MM-DD"
    if until < since:
        return "until: must not be before since"
    if (until - since).days >= MAX_PERIOD_DAYS:
        return f"until: a period covers at most {MAX_PERIOD_DAYS} days"
    return Period(since, until)


class Pages:
    def __init__(self, redactor: Redactor) -> None:
        folder = resources.files("trackside.web.console")
        self.env = Environment(loader=FileSystemLoader(str(folder / "templates")),
                               autoescape=select_autoescape(["html"]), trim_blocks=True,
                               lstrip_blocks=True)
        self.env.globals.update(shop_url=shop_url, when=when, duration=duration,
                                prefix="/dashboard")
        self.redactor = redactor
        self._static = {name: (folder / "static" / name).read_bytes() for name in _STATIC}

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        html = self.env.get_template(template).render(**context)
        # A secret that reached a stored message (a vendor echoing a token) is masked here too.
        return HTMLResponse(self.redactor(html) or "", status, headers=HEADERS)

    def static(self, name: str) -> Response:
        if name not in self._static:
            return Response("not found", 404, headers=HEADERS)
        return Response(self._static[name], media_type=_STATIC[name],
                        headers={**HEADERS, "Cache-Control": "max-age=300"})
