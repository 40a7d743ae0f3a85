"""``trackside demo``: a tiny shop beside the gateway, to watch one purchase travel.

Product page → cart → order → confirmation on the left; on the right one card per business
event (page view, add to cart, purchase): seen by the pixel, received by the gateway, sent to
Meta, counted once, read from the store (web/demo/story.py), with toggles to block the pixel
and to refuse cookies, and the console's teardown numbers. The shop's "backend" sends the
Purchase when the order is placed (as a PrestaShop module would), the confirmation page sends
it again from the browser: one id (the order's reference), one Purchase at Meta. The stand-in
pixel (pixel.js) posts what it receives to /demo/pixel, as the real one posts to Meta. Pages
live in web/demo/.
"""

from __future__ import annotations

import json
import re
import secrets
import string
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import typer
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from trackside.events import FieldError, parse_event
from trackside.identity.event_id import purchase_event_id
from trackside.runtime import Runtime
from trackside.sources.signing import join_token, sign_purchase
from trackside.web.collect import collect_routes
from trackside.web.committer import Committer
from trackside.web.demo.story import SERVER_SOURCE, Visitors, story
from trackside.web.errors import error_response
from trackside.web.requests import BodyIncomplete, BodyTooLarge, read_body
from trackside.web.tag import TagEndpoint

SOURCE = SERVER_SOURCE
#: The demo's own cookies: the shopper's toggles ("block the pixel", "refuse cookies").
BLOCK_PIXEL = "demo_block_pixel"
CONSENT = "demo_consent"
SIGNALS = ("ad_storage", "analytics_storage", "ad_user_data", "ad_personalization")
#: A stand-in pixel hit is a name and an id: a few hundred bytes at most.
MAX_PIXEL_BODY = 2048
PRODUCTS = {
    "mug": {"id": "mug", "name": "Enamel mug", "price": 14.9},
    "tote": {"id": "tote", "name": "Canvas tote bag", "price": 22.5},
}
_STATIC = {"pixel.js": "application/javascript", "shop.js": "application/javascript",
           "shop.css": "text/css"}
_LETTERS = string.ascii_uppercase
#: The demo's cart and customer ids (secrets.token_hex(8)); a cookie of another shape is
#: treated as absent and replaced, so nothing a client sets reaches an event unchecked.
_DEMO_ID = re.compile(r"[0-9a-f]{16}")


NO_SHOPPER = FieldError(field="demo_customer",
                        reason="cookie missing or not the demo's: open a page of the shop first")


def _demo_id(request: Request, cookie: str) -> str | None:
    value = request.cookies.get(cookie)
    return value if value is not None and _DEMO_ID.fullmatch(value) else None


class DemoShop:
    def __init__(self, runtime: Runtime, committer: Committer) -> None:
        self.runtime = runtime
        self.committer = committer
        self.folder = Path(str(resources.files("trackside.web") / "demo"))
        self.env = Environment(loader=FileSystemLoader(self.folder),
                               autoescape=select_autoescape(["html"]))
        self.tag_url = TagEndpoint(runtime.settings).versioned_path
        self.carts: dict[str, dict[str, int]] = {}
        self.visitors = Visitors()

    def _page(self, name: str, request: Request, **context: Any) -> HTMLResponse:
        # The shop's own cart and customer ids, which the tag passes along for joining, each
        # with the store's token (docs/browser-tag.md "Join tokens"): without it the gateway
        # would not use the id, since anyone can claim a customer id.
        ids = {cookie: _demo_id(request, cookie) or secrets.token_hex(8)
               for cookie in ("demo_cart", "demo_customer")}
        self.visitors.get(ids["demo_customer"])
        html = self.env.get_template(name).render(
            tag_url=self.tag_url, join=self._join_params(ids),
            pixel_blocked=self._pixel_blocked(request),
            cookies_refused=self._cookies_refused(request), **context)
        response = HTMLResponse(html)
        for cookie, value in ids.items():
            if _demo_id(request, cookie) is None:
                response.set_cookie(cookie, value, path="/", samesite="lax")
        return response

    @staticmethod
    def _pixel_blocked(request: Request) -> bool:
        return request.cookies.get(BLOCK_PIXEL) == "1"

    @staticmethod
    def _cookies_refused(request: Request) -> bool:
        return request.cookies.get(CONSENT) == "denied"

    def _join_params(self, ids: dict[str, str]) -> dict[str, str]:
        params = {"cart_id": ids["demo_cart"], "customer_id": ids["demo_customer"]}
        key = self.runtime.settings.signing_key
        if key is not None:
            params["cart_token"] = join_token(key.get_secret_value(), "cart", params["cart_id"])
            params["customer_token"] = join_token(key.get_secret_value(), "customer",
                                                  params["customer_id"])
        return params

    async def product(self, request: Request) -> Response:
        product = PRODUCTS.get(request.path_params.get("product_id", "mug"))
        if product is None:
            return HTMLResponse("No such product", status_code=404)
        return self._page("product.html", request, title=product["name"], product=product)

    async def add(self, request: Request) -> Response:
        product_id = (await request.body()).decode(errors="replace")
        cart_id = _demo_id(request, "demo_cart")
        if product_id not in PRODUCTS or not cart_id:
            return JSONResponse({"ok": False}, status_code=400)
        cart = self.carts.setdefault(cart_id, {})
        cart[product_id] = cart.get(product_id, 0) + 1
        return JSONResponse({"ok": True})

    def _items(self, cart_id: str | None) -> list[dict[str, Any]]:
        cart = self.carts.get(cart_id or "", {})
        return [{"id": pid, "name": PRODUCTS[pid]["name"], "price": PRODUCTS[pid]["price"],
                 "quantity": qty} for pid, qty in cart.items()]

    async def cart(self, request: Request) -> Response:
        items = self._items(_demo_id(request, "demo_cart"))
        total = round(sum(i["price"] * i["quantity"] for i in items), 2)
        return self._page("cart.html", request, title="Cart", items=items, total=total)

    async def checkout(self, request: Request) -> Response:
        cart_id = _demo_id(request, "demo_cart")
        items = self._items(cart_id)
        if not items:
            return RedirectResponse("/cart", status_code=303)
        reference = "".join(secrets.choice(_LETTERS) for _ in range(9))  # PrestaShop-like
        total = round(sum(i["price"] * i["quantity"] for i in items), 2)
        customer_id = _demo_id(request, "demo_customer")
        # What a shop backend sends: the order, the customer as the checkout knew them (e-mail,
        # the address and browser the order came from), the page, and the consent the shopper
        # gave on the site; no browser cookies. Complete, so every destination can take it.
        user: dict[str, Any] = {"email": f"shopper-{cart_id}@example.com",
                                "external_id": customer_id}
        if request.client is not None:
            user["ip"] = request.client.host
        if request.headers.get("user-agent"):
            user["user_agent"] = request.headers["user-agent"]
        raw: dict[str, Any] = {
            "event_name": "Purchase",
            "event_source_url": str(request.url_for("cart")),
            "order": {"reference": reference, "value": total, "currency": "EUR", "items": items},
            "user": user, "cart_id": cart_id, "customer_id": customer_id,
        }
        choice = request.cookies.get(CONSENT)
        if choice in ("granted", "denied"):
            raw["consent"] = dict.fromkeys(SIGNALS, choice)
        event = parse_event(raw)
        if isinstance(event, list):  # e.g. a Host header no URL can be made of
            return error_response(400, errors=event)
        await self.committer.accept([event], SOURCE)
        self.carts.pop(cart_id or "", None)
        self.carts[f"order:{reference}"] = {i["id"]: i["quantity"] for i in items}
        if customer_id:
            self.visitors.get(customer_id).orders.append(reference)
        return RedirectResponse(f"/demo/order/{reference}", status_code=303)

    async def confirmation(self, request: Request) -> Response:
        reference = request.path_params["reference"]
        items = self._items(f"order:{reference}")
        if not items:
            return HTMLResponse("No such order", status_code=404)
        total = round(sum(i["price"] * i["quantity"] for i in items), 2)
        purchase: dict[str, Any] = {"reference": reference, "value": total, "currency": "EUR",
                                    "items": items}
        key = self.runtime.settings.signing_key
        if key is not None:  # docs/browser-tag.md "Signing purchases"
            purchase["signature"] = sign_purchase(key.get_secret_value(), reference, total, "EUR")
        return self._page("confirmation.html", request, title="Thank you", reference=reference,
                          total=total, purchase=purchase,
                          event_id=purchase_event_id(reference,
                                                     self.runtime.settings.event_id_prefix))

    async def static(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in _STATIC:
            return Response("Not found", status_code=404)
        return Response((self.folder / name).read_bytes(), media_type=_STATIC[name])

    async def pixel(self, request: Request) -> Response:
        """The stand-in pixel's hit (pixel.js): what the real pixel would have told Meta."""
        customer_id = _demo_id(request, "demo_customer")
        if not customer_id:
            return error_response(400, errors=[NO_SHOPPER])
        try:
            body = json.loads(await read_body(request, MAX_PIXEL_BODY))
        except BodyTooLarge:
            return error_response(413, f"A pixel hit is at most {MAX_PIXEL_BODY} bytes")
        except (BodyIncomplete, ValueError, RecursionError):  # RecursionError: "[[[[…"
            return error_response(400, errors=[FieldError(field="body",
                                                          reason="must be a JSON object")])
        if not isinstance(body, dict):
            return error_response(400, errors=[FieldError(field="body",
                                                          reason="must be a JSON object")])
        problems = [FieldError(field=name, reason="must be a text of 1 to 100 characters")
                    for name in ("event", "eventID")
                    if not isinstance(body.get(name), str) or not 0 < len(body[name]) <= 100]
        if problems:
            return error_response(400, errors=problems)
        self.visitors.get(customer_id).pixel.append((body["event"], body["eventID"]))
        return JSONResponse({"ok": True})

    async def story(self, request: Request) -> Response:
        """The cards of this shopper and today's teardown (web/demo/story.py)."""
        customer_id = _demo_id(request, "demo_customer")
        if not customer_id:
            return error_response(400, errors=[NO_SHOPPER])
        return JSONResponse(story(self.runtime.store, self.visitors.get(customer_id), customer_id,
                                  prefix=self.runtime.settings.event_id_prefix,
                                  pixel_blocked=self._pixel_blocked(request),
                                  cookies_refused=self._cookies_refused(request)))

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/", self.product),
            Route("/demo/product/{product_id}", self.product),
            Route("/cart", self.cart, name="cart"),
            Route("/demo/cart/add", self.add, methods=["POST"]),
            Route("/demo/checkout", self.checkout, methods=["POST"]),
            Route("/demo/order/{reference}", self.confirmation),
            Route("/demo/static/{name}", self.static),
            Route("/demo/pixel", self.pixel, methods=["POST"]),
            Route("/demo/api/story", self.story),
        ]


def demo_app(runtime: Runtime, *, run_worker: bool = True) -> Starlette:
    """The demo shop in front of the full gateway (create_app), on one origin."""
    from trackside.web.app import create_app

    gateway = create_app(runtime, run_worker=run_worker)
    shop = DemoShop(runtime, gateway.state.committer)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        # Mounted apps get no lifespan of their own: run the gateway's (worker, committer).
        async with gateway.router.lifespan_context(gateway):
            yield

    app = Starlette(
        routes=[*shop.routes(), *collect_routes(runtime), Mount("/", app=gateway)],
        lifespan=lifespan,
    )
    app.state.committer = gateway.state.committer
    app.state.runtime = runtime
    return app


def demo(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Run a demo shop beside the gateway (dry-run Meta): follow each event to Meta."""
    import uvicorn

    from trackside.config import load_settings

    folder = tempfile.mkdtemp(prefix="trackside-demo-")
    # Dry run whatever the environment says: the demo must never send to a real pixel.
    settings = load_settings(database_url=f"sqlite:///{folder}/demo.db", meta_pixel_id=None,
                             meta_access_token=None, ga4_measurement_id=None,
                             ga4_api_secret=None)
    if settings.signing_key is None:
        # A key for this run only, so the demo's pages can sign purchases and join tokens.
        settings = settings.model_copy(update={"signing_key": SecretStr(secrets.token_hex(32))})
    runtime = Runtime.from_settings(settings)
    typer.echo(f"Demo shop: http://{host}:{port}/  (store: {folder}/demo.db, Meta: dry run)")
    if settings.admin_password is not None:
        typer.echo(f"Console: http://{host}:{port}/dashboard/teardown  (the admin password)")
    else:
        typer.echo("Console: set TRACKSIDE_ADMIN_PASSWORD to open /dashboard (docs/console.md)")
    # proxy_headers=False: TRACKSIDE_TRUSTED_PROXIES alone decides whose X-Forwarded-For counts.
    # HeaderLimitedProtocol: the same 64 KB bound on request headers as `trackside serve`.
    from trackside.web.protocol import HeaderLimitedProtocol

    uvicorn.run(demo_app(runtime), host=host, port=port, log_level="warning",
                proxy_headers=False, http=HeaderLimitedProtocol)
