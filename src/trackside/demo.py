"""``trackside demo``: a tiny shop beside the gateway, to watch one purchase travel.

Product page → cart → order → confirmation, with a consent banner, a stand-in Meta Pixel that
lists the eventIDs it received, and a table of what the gateway stored and sent to the dry-run
Meta destination for the same ids. The shop's "backend" sends the Purchase when the order is
placed (as a PrestaShop module would), the confirmation page sends it again from the browser:
one id, one Purchase at Meta (DESIGN.md "Event ids"). Pages live in web/demo/.
"""

from __future__ import annotations

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

from trackside.events import Event
from trackside.identity.event_id import purchase_event_id
from trackside.runtime import Runtime
from trackside.sources.signing import join_token, sign_purchase
from trackside.web.collect import collect_routes
from trackside.web.committer import Committer
from trackside.web.tag import TagEndpoint

SOURCE = "demo-shop"
PRODUCTS = {
    "mug": {"id": "mug", "name": "Enamel mug", "price": 14.9},
    "tote": {"id": "tote", "name": "Canvas tote bag", "price": 22.5},
}
_STATIC = {"pixel.js": "application/javascript", "shop.js": "application/javascript",
           "shop.css": "text/css"}
_LETTERS = string.ascii_uppercase


class DemoShop:
    def __init__(self, runtime: Runtime, committer: Committer) -> None:
        self.runtime = runtime
        self.committer = committer
        self.folder = Path(str(resources.files("trackside.web") / "demo"))
        self.env = Environment(loader=FileSystemLoader(self.folder),
                               autoescape=select_autoescape(["html"]))
        self.tag_url = TagEndpoint(runtime.settings).versioned_path
        self.carts: dict[str, dict[str, int]] = {}

    def _page(self, name: str, request: Request, **context: Any) -> HTMLResponse:
        # The shop's own cart and customer ids, which the tag passes along for joining, each
        # with the store's token (docs/browser-tag.md "Join tokens"): without it the gateway
        # would not use the id, since anyone can claim a customer id.
        ids = {cookie: request.cookies.get(cookie) or secrets.token_hex(8)
               for cookie in ("demo_cart", "demo_customer")}
        html = self.env.get_template(name).render(tag_url=self.tag_url,
                                                  join=self._join_params(ids), **context)
        response = HTMLResponse(html)
        for cookie, value in ids.items():
            if cookie not in request.cookies:
                response.set_cookie(cookie, value, path="/", samesite="lax")
        return response

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
        cart_id = request.cookies.get("demo_cart")
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
        items = self._items(request.cookies.get("demo_cart"))
        total = round(sum(i["price"] * i["quantity"] for i in items), 2)
        return self._page("cart.html", request, title="Cart", items=items, total=total)

    async def checkout(self, request: Request) -> Response:
        cart_id = request.cookies.get("demo_cart")
        items = self._items(cart_id)
        if not items:
            return RedirectResponse("/cart", status_code=303)
        reference = "".join(secrets.choice(_LETTERS) for _ in range(9))  # PrestaShop-like
        total = round(sum(i["price"] * i["quantity"] for i in items), 2)
        # What the store backend sends: the order, the customer, the cart; no browser data.
        event = Event.model_validate({
            "event_name": "Purchase",
            "order": {"reference": reference, "value": total, "currency": "EUR", "items": items},
            "user": {"email": f"shopper-{cart_id}@example.com",
                     "external_id": request.cookies.get("demo_customer")},
            "cart_id": cart_id, "customer_id": request.cookies.get("demo_customer"),
        })
        await self.committer.accept([event], SOURCE)
        self.carts.pop(cart_id or "", None)
        self.carts[f"order:{reference}"] = {i["id"]: i["quantity"] for i in items}
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

    async def trace(self, request: Request) -> Response:
        """What the gateway holds for some event ids: source and outcome per destination."""
        ids = [i for i in request.query_params.get("ids", "").split(",") if i][:20]
        rows = []
        for event_id in dict.fromkeys(ids):
            for view in self.runtime.store.event_view(event_id):
                outcomes = []
                for row in view.outbox:
                    sent = row.sent if isinstance(row.sent, dict) else {}
                    text = f"{row.destination}: {row.status}"
                    if row.message:
                        text += f" ({row.message})"
                    if sent.get("event_id"):
                        text += f", sent event_id={sent['event_id']}"
                    outcomes.append(text)
                rows.append({"event_name": view.event_name, "event_id": view.event_id,
                             "source": view.source, "outcome": "; ".join(outcomes)})
        return JSONResponse(rows)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/", self.product),
            Route("/demo/product/{product_id}", self.product),
            Route("/cart", self.cart),
            Route("/demo/cart/add", self.add, methods=["POST"]),
            Route("/demo/checkout", self.checkout, methods=["POST"]),
            Route("/demo/order/{reference}", self.confirmation),
            Route("/demo/static/{name}", self.static),
            Route("/demo/api/trace", self.trace),
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
    """Run a demo shop beside the gateway (dry-run Meta): watch one purchase keep one id."""
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
