"""GET/POST /dashboard…: the console's handlers. Each finds the session first (or answers the
login page), then the shop (?shop=NAME, a picker when several), then reads the store in a
thread and renders a template. Actions are POSTs with the session's CSRF token."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from trackside.errors import ReportError
from trackside.runtime import Runtime
from trackside.shops import Shop
from trackside.web.console import pages, teardown, views
from trackside.web.console.auth import (
    LOGIN_COOKIE,
    LOGIN_FORM_MAX_AGE_S,
    SESSION_COOKIE,
    SESSION_MAX_AGE_S,
    ConsoleAuth,
    Session,
    same_token,
)

#: A console form is a few short fields: anything larger is refused before parsing.
MAX_FORM_BYTES = 4096
PREFIX = "/dashboard"

Handler = Callable[[Request, Session, Shop], Awaitable[Response]]


class FormError(ValueError):
    pass


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form's fields (each at most once; the first value wins)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise FormError(f"the form is larger than {MAX_FORM_BYTES} bytes")
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        raise FormError("the form is not UTF-8 urlencoded fields") from None
    return {name: values[0] for name, values in fields.items()}


class Console:
    def __init__(self, runtime: Runtime, auth: ConsoleAuth | None = None) -> None:
        self.runtime = runtime
        settings = runtime.settings
        self.auth = auth or ConsoleAuth(settings.admin_password, settings.trusted_proxies)
        self.pages = pages.Pages(runtime.redactor)

    # -- plumbing ---------------------------------------------------------------------

    def _shop(self, request: Request, chosen: str | None = None) -> Shop | None:
        name = chosen or request.query_params.get("shop")
        if name is None:
            return next(iter(self.runtime.shops))
        return self.runtime.shops.get(name)

    def _page(self, request: Request, session: Session | None, shop: Shop | None,
              template: str, status: int = 200, **context: Any) -> Response:
        return self.pages.render(template, status, request=request, session=session,
                                 shop=shop, shops=self.runtime.shops.names, **context)

    def protected(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            if not self.auth.enabled:
                return self._page(request, None, None, "disabled.html", 403)
            session = self.auth.session(request)
            if session is None:
                if request.method == "GET":
                    target = request.url.path + (f"?{request.url.query}" if request.url.query
                                                 else "")
                    return RedirectResponse(f"{PREFIX}/login?next={quote(target)}", 303)
                return self._page(request, None, None, "message.html", 403,
                                  title="Signed out", message="Sign in again, then retry.")
            shop = self._shop(request)
            if shop is None:
                return self._page(request, session, None, "message.html", 404,
                                  title="No such shop",
                                  message="shop: not one of the configured shops.")
            return await handler(request, session, shop)

        return endpoint

    async def _action_form(self, request: Request, session: Session) -> dict[str, str] | Response:
        try:
            form = await read_form(request)
        except FormError as exc:
            return self._page(request, session, None, "message.html", 400,
                              title="Bad form", message=str(exc))
        if not same_token(session.csrf, form.get("csrf")):
            return self._page(request, session, None, "message.html", 403,
                              title="Expired form",
                              message="csrf: the form's token is missing or not this "
                              "session's; reload the page and try again.")
        return form

    # -- sign in and out ----------------------------------------------------------------

    async def login_page(self, request: Request) -> Response:
        if not self.auth.enabled:
            return self._page(request, None, None, "disabled.html", 403)
        return self._login(request, 200, None)

    def _login(self, request: Request, status: int, error: str | None) -> Response:
        token, cookie = self.auth.new_login_form()
        target = request.query_params.get("next", "")
        response = self._page(request, None, None, "login.html", status, form_token=token,
                              error=error, next=target if _local(target) else "")
        response.set_cookie(LOGIN_COOKIE, cookie, max_age=LOGIN_FORM_MAX_AGE_S,
                            path=PREFIX, httponly=True, samesite="strict",
                            secure=self.auth.over_tls(request))
        return response

    async def login(self, request: Request) -> Response:
        if not self.auth.enabled:
            return self._page(request, None, None, "disabled.html", 403)
        wait = self.auth.limiter.check(self.auth.client_key(request))
        if wait is not None:
            response = self._login(request, 429, f"Too many attempts: try again in "
                                   f"{max(1, round(wait))} s.")
            response.headers["Retry-After"] = str(max(1, round(wait)))
            return response
        try:
            form = await read_form(request)
        except FormError as exc:
            return self._login(request, 400, str(exc))
        if not self.auth.login_form_ok(request, form.get("csrf")):
            return self._login(request, 403, "csrf: the sign-in form expired; try again.")
        if not self.auth.password_matches(form.get("password", "")):
            return self._login(request, 401, "password: wrong password.")
        target = form.get("next", "")
        response = RedirectResponse(target if _local(target) else PREFIX, 303)
        response.set_cookie(SESSION_COOKIE, self.auth.new_session(), max_age=SESSION_MAX_AGE_S,
                            path=PREFIX, httponly=True, samesite="strict",
                            secure=self.auth.over_tls(request))
        response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
        return response

    async def logout(self, request: Request, session: Session, shop: Shop) -> Response:
        form = await self._action_form(request, session)
        if isinstance(form, Response):
            return form
        response = RedirectResponse(f"{PREFIX}/login", 303)
        response.delete_cookie(SESSION_COOKIE, path=PREFIX)
        return response

    # -- pages --------------------------------------------------------------------------

    async def overview(self, request: Request, session: Session, shop: Shop) -> Response:
        data = await asyncio.to_thread(views.overview, self.runtime.store, shop.name,
                                       views.now())
        return self._page(request, session, shop, "overview.html", **data)

    async def quality(self, request: Request, session: Session, shop: Shop) -> Response:
        period = pages.period_from(request.query_params, views.now())
        if isinstance(period, str):
            return self._page(request, session, shop, "message.html", 400,
                              title="Bad period", message=period)
        data = await asyncio.to_thread(views.quality, self.runtime.store, shop.name, period)
        return self._page(request, session, shop, "quality.html", period=period, **data)

    async def teardown(self, request: Request, session: Session, shop: Shop) -> Response:
        period = pages.period_from(request.query_params, views.now())
        if isinstance(period, str):
            return self._bad(request, session, shop, period)
        try:
            data = await asyncio.to_thread(teardown.page, self.runtime.store, shop.name, period)
        except ReportError as exc:
            return self._bad(request, session, shop, str(exc))
        return self._page(request, session, shop, "teardown.html", period=period, **data)

    async def teardown_orders(self, request: Request, session: Session, shop: Shop) -> Response:
        query = request.query_params
        period = pages.period_from(query, views.now())
        if isinstance(period, str):
            return self._bad(request, session, shop, period)
        try:
            data = await asyncio.to_thread(teardown.order_page, self.runtime.store, shop.name,
                                           period, query.get("filter"), query.get("cursor"))
        except ReportError as exc:
            return self._bad(request, session, shop, str(exc))
        return self._page(request, session, shop, "teardown_orders.html", period=period,
                          **data)

    async def teardown_csv(self, request: Request, session: Session, shop: Shop) -> Response:
        period = pages.period_from(request.query_params, views.now())
        if isinstance(period, str):
            return self._bad(request, session, shop, period)
        try:
            text = await asyncio.to_thread(teardown.csv_text, self.runtime.store, shop.name,
                                           period)
        except ReportError as exc:
            return self._bad(request, session, shop, str(exc))
        name = f"teardown-{shop.name}-{period.since.isoformat()}-{period.until.isoformat()}.csv"
        return Response(text, media_type="text/csv; charset=utf-8", headers={
            **pages.HEADERS, "Content-Disposition": f'attachment; filename="{name}"'})

    async def orders(self, request: Request, session: Session, shop: Shop) -> Response:
        context: dict[str, Any] = {"searched": None, "found": [], "error": None}
        status = 200
        if request.method == "POST":
            form = await self._action_form(request, session)
            if isinstance(form, Response):
                return form
            try:
                searched, found = await asyncio.to_thread(
                    views.search, self.runtime.store, shop.name, form.get("kind", ""),
                    form.get("q", ""))
                context.update(searched=searched, found=found)
            except views.SearchError as exc:
                context["error"], status = str(exc), 400
        context["dead"] = await asyncio.to_thread(views.dead_letters, self.runtime.store,
                                                  shop.name)
        return self._page(request, session, shop, "orders.html", status, **context)

    async def event(self, request: Request, session: Session, shop: Shop) -> Response:
        event_id = request.path_params["event_id"]
        stored = await asyncio.to_thread(self.runtime.store.event_view, event_id,
                                         shop=shop.name)
        if not stored:
            return self._page(request, session, shop, "message.html", 404,
                              title="No such event",
                              message="event_id: no event of this shop has this id.")
        return self._page(request, session, shop, "event.html", event_id=event_id,
                          events=views.event_pages(stored, views.now()))

    # -- actions (audited as notes by the store) ----------------------------------------

    async def act(self, request: Request, session: Session, shop: Shop) -> Response:
        form = await self._action_form(request, session)
        if isinstance(form, Response):
            return form
        action = request.path_params["action"]
        shop = self._shop(request, form.get("shop")) or shop
        event_id, destination = form.get("event_id", ""), form.get("destination") or None
        store = self.runtime.store
        if action == "resume":
            if not destination:
                return self._bad(request, session, shop, "destination: required")
            await asyncio.to_thread(store.resume_destination, destination, shop=shop.name)
            return RedirectResponse(pages.shop_url(PREFIX, shop.name), 303)
        if not event_id or len(event_id) > 200:
            return self._bad(request, session, shop, "event_id: required, 1 to 200 characters")
        if not await asyncio.to_thread(store.event_view, event_id, shop=shop.name):
            return self._page(request, session, shop, "message.html", 404,
                              title="No such event",
                              message="event_id: no event of this shop has this id.")
        if action == "replay":
            result = await asyncio.to_thread(
                store.replay, destination=destination, since=None, until=None,
                event_id=event_id, min_event_time=self._windows(shop), now=views.now(),
                shop=shop.name)
            done = f"{result.replayed} replayed" + "".join(
                f"; refused: {reason}" for _, reason in result.refused)
        elif action == "drop":
            reason = (form.get("reason") or "dropped in the console").strip()[:200]
            dropped = await asyncio.to_thread(
                store.drop_pending, event_id, destination, reason, "console", views.now(),
                shop=shop.name)
            done = f"{len(dropped.dropped)} dropped"
        else:
            return self._bad(request, session, shop, "action: must be replay, drop or resume")
        target = pages.shop_url(f"{PREFIX}/events/{quote(event_id, safe='')}", shop.name)
        return RedirectResponse(f"{target}{'&' if '?' in target else '?'}done={quote(done)}",
                                303)

    def _windows(self, shop: Shop) -> dict[str, float]:
        """The oldest event time each destination still accepts (replay refuses older)."""
        part = self.runtime.shop(shop.name)
        return {d.name: views.now() - d.max_event_age_s for d in part.destinations}

    def _bad(self, request: Request, session: Session, shop: Shop, message: str) -> Response:
        return self._page(request, session, shop, "message.html", 400, title="Bad request",
                          message=message)

    async def static(self, request: Request) -> Response:
        if not self.auth.enabled:
            return self._page(request, None, None, "disabled.html", 403)
        return self.pages.static(request.path_params["name"])

    async def unknown(self, request: Request) -> Response:
        if not self.auth.enabled:
            return self._page(request, None, None, "disabled.html", 403)
        return self._page(request, self.auth.session(request), None, "message.html", 404,
                          title="Not found", message="No console page has this address.")

    def routes(self, extra: list[BaseRoute] | None = None) -> list[BaseRoute]:
        guard = self.protected
        return [
            Route(PREFIX, guard(self.overview), methods=["GET"]),
            Route(f"{PREFIX}/login", self.login_page, methods=["GET"]),
            Route(f"{PREFIX}/login", self.login, methods=["POST"]),
            Route(f"{PREFIX}/logout", guard(self.logout), methods=["POST"]),
            Route(f"{PREFIX}/teardown", guard(self.teardown), methods=["GET"]),
            Route(f"{PREFIX}/teardown/orders", guard(self.teardown_orders), methods=["GET"]),
            Route(f"{PREFIX}/teardown.csv", guard(self.teardown_csv), methods=["GET"]),
            Route(f"{PREFIX}/quality", guard(self.quality), methods=["GET"]),
            Route(f"{PREFIX}/orders", guard(self.orders), methods=["GET", "POST"]),
            Route(f"{PREFIX}/events/{{event_id:path}}", guard(self.event), methods=["GET"]),
            Route(f"{PREFIX}/actions/{{action}}", guard(self.act), methods=["POST"]),
            Route(f"{PREFIX}/static/{{name}}", self.static, methods=["GET"]),
            *(extra or []),
            Route(f"{PREFIX}/{{rest:path}}", self.unknown,
                  methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        ]


def _local(target: str) -> bool:
    """Only a path of the console itself may be the redirect after sign-in."""
    return target.startswith(f"{PREFIX}") and not target.startswith("//") and "\\" not in target


def console_routes(runtime: Runtime) -> list[BaseRoute]:
    return Console(runtime).routes()
