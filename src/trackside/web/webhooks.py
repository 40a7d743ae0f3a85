"""POST /webhooks/<source> and /webhooks/<source>/{shop}: the platform webhooks (Shopify,
WooCommerce, Stripe). The source (sources/shopify, sources/woocommerce, sources/stripe) says
how a delivery is signed, keyed and converted; this module answers over HTTP.

Order of checks: the shop (404), the body size (413), the platform's unsigned ping (200), the
signature over the raw body, before anything is parsed (401, a warning logged without the body,
nothing stored), the delivery already recorded (200, ``duplicate``), then the conversion: its
events are accepted like any other source's, and the delivery is recorded with its outcome.
Every authentic delivery is answered 200, so the platform does not retry what can never become
an event (sources/webhooks.py); a store that does not answer is 503, which the platform retries.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from trackside import metrics
from trackside.config import env_name
from trackside.pipeline import AcceptResult
from trackside.refunds import inherit_from_purchase, stored_purchase
from trackside.runtime import Runtime, ShopRuntime
from trackside.sources.batch import parse_batch
from trackside.sources.shopify import SHOPIFY
from trackside.sources.stripe import STRIPE
from trackside.sources.webhooks import (
    Conversion,
    MapContext,
    Unconverted,
    WebhookSource,
    storable,
)
from trackside.sources.woocommerce import WOOCOMMERCE
from trackside.store import StoreError, WebhookDelivery
from trackside.web.committer import STORE_WAIT_S, Committer, CommitterClosed
from trackside.web.errors import ApiError
from trackside.web.requests import BodyIncomplete, BodyTooLarge, read_body
from trackside.web.schemas import WebhookAnswer

log = logging.getLogger("trackside.webhooks")

#: The platform webhook sources, each served at /webhooks/<name>.
SOURCES: tuple[WebhookSource, ...] = (SHOPIFY, WOOCOMMERCE, STRIPE)
#: When a shop has no destination (nothing can be sent anyway): Meta's website window.
_DEFAULT_MAX_AGE_S = 7 * 86400

_T = TypeVar("_T")


def _answer(answer: WebhookAnswer) -> Response:
    return JSONResponse(answer.model_dump(mode="json"))


def webhook_routes(runtime: Runtime, committer: Committer) -> list[Route]:
    routes = []
    for source in SOURCES:
        endpoint = WebhookEndpoint(runtime, committer, source)
        routes.append(Route(f"/webhooks/{source.name}", endpoint.handle, methods=["POST"]))
        routes.append(Route(f"/webhooks/{source.name}/{{shop}}", endpoint.handle,
                            methods=["POST"]))
    return routes


class WebhookEndpoint:
    def __init__(self, runtime: Runtime, committer: Committer, source: WebhookSource) -> None:
        self.runtime = runtime
        self.committer = committer
        self.source = source

    def _shop(self, request: Request) -> ShopRuntime:
        """The shop of the path, or the only shop with this source's secret; 404 otherwise
        (an unknown shop and a shop without the secret look the same from outside)."""
        source = self.source
        not_here = ApiError(404, f"No {source.title} webhook is configured at this address "
                                 f"(set {env_name(source.secret_key)} for the shop)")
        name: str | None = request.path_params.get("shop")
        if name is not None:
            shop = self.runtime.shops.get(name)
            if shop is None or not source.secrets(shop.settings):
                raise not_here
            return self.runtime.shop(shop.name)
        configured = [s for s in self.runtime.shops if source.secrets(s.settings)]
        if len(configured) == 1:
            return self.runtime.shop(configured[0].name)
        if len(configured) > 1:
            raise ApiError(404, f"Several shops have a {source.title} webhook: post to "
                                f"/webhooks/{source.name}/<shop>")
        raise not_here

    async def _store(self, call: Callable[[], _T]) -> _T:
        def bounded() -> _T:
            with self.runtime.store.time_limit(STORE_WAIT_S):
                return call()

        try:
            return await asyncio.to_thread(bounded)
        except StoreError:
            # Nothing answered: the platform retries the delivery later.
            raise ApiError(503, headers={"Retry-After": "5"}) from None

    async def handle(self, request: Request) -> Response:
        source = self.source
        shop = self._shop(request)
        limit = self.runtime.settings.max_body_bytes
        try:
            body = await read_body(request, limit)
        except BodyTooLarge:
            raise ApiError(413, f"The request body is over the limit of {limit} bytes") from None
        except BodyIncomplete:
            raise ApiError(400, "The request body was not received completely") from None
        headers = request.headers
        if source.is_ping(headers, body):
            log.info("%s webhook ping answered", source.title,
                     extra={"action": "webhook_ping", "source": source.name, "shop": shop.name})
            return _answer(WebhookAnswer(status="ok"))
        if not source.verify(headers, body, source.secrets(shop.settings)):
            metrics.WEBHOOKS_REFUSED.labels(shop.name, source.name).inc()
            # Never the body nor the signature: a forged body is the sender's text.
            log.warning("a %s webhook was refused: its signature matches no secret in %s",
                        source.title, env_name(source.secret_key),
                        extra={"action": "webhook_refused", "source": source.name,
                               "shop": shop.name, "status": 401})
            raise ApiError(401, f"The {source.title} webhook signature does not match: check "
                                f"{env_name(source.secret_key)}")
        delivery = source.delivery(headers, body)
        seen = await self._store(lambda: self.runtime.store.webhook_delivery(
            source.name, delivery.delivery_id, shop=shop.name))
        if seen is not None:
            metrics.WEBHOOKS.labels(shop.name, source.name, "duplicate", seen.reason).inc()
            return _answer(WebhookAnswer(status="duplicate", delivery_id=delivery.delivery_id,
                                         outcome=seen.outcome, reason=seen.reason or None))
        now = time.time()
        context = MapContext(prefix=shop.settings.event_id_prefix, now=now,
                             max_age_s=max((d.max_event_age_s for d in shop.destinations),
                                           default=_DEFAULT_MAX_AGE_S))
        conversion = source.convert(delivery, body, context)
        results: list[AcceptResult] = []
        if conversion.events:
            raw = await self._store(lambda: self._with_purchase_context(shop, conversion))
            parsed = parse_batch(raw, prefix="events",
                                 max_event_bytes=self.runtime.settings.max_event_bytes)
            if parsed.rejected:
                metrics.EVENTS_REJECTED.labels(shop.name, source.name).inc(len(parsed.rejected))
            if not parsed.events:
                conversion = Conversion.ignored(Unconverted.MALFORMED, "; ".join(
                    f"{e.field}: {e.reason}" for r in parsed.rejected for e in r.errors[:3]))
            else:
                results = await self._accept(parsed.events, shop)
                for index, result in zip(parsed.positions, results, strict=True):
                    result.move_to(index)
                refused = [r for r in results if r.status == "rejected"]
                if refused:
                    metrics.EVENTS_REJECTED.labels(shop.name, source.name).inc(len(refused))
                if len(refused) == len(results):
                    conversion = Conversion.ignored(Unconverted.UNDELIVERABLE, "; ".join(
                        f"{e.field}: {e.reason}" for r in refused for e in r.errors[:3]))
        converted = any(r.status != "rejected" for r in results)
        outcome = "converted" if converted else "ignored"
        reason = "" if converted else str(conversion.reason or Unconverted.MALFORMED)
        record = WebhookDelivery(source=source.name, delivery_id=delivery.delivery_id,
                                 topic=delivery.topic or "(none)", outcome=outcome,
                                 reason=reason, detail=storable(conversion.detail[:500]),
                                 shop=shop.name)
        await self._store(lambda: self.runtime.store.record_webhook(record, now))
        metrics.WEBHOOKS.labels(shop.name, source.name, outcome, reason).inc()
        # The reason class only: the detail (in the answer and the store) may quote a field.
        log.info("%s webhook %r: %s%s", source.title, delivery.topic or "(no topic)", outcome,
                 f" ({reason})" if reason else "",
                 extra={"action": "webhook", "source": source.name, "shop": shop.name,
                        "count": len(results), "status": outcome})
        return _answer(WebhookAnswer.model_validate({
            "status": outcome, "delivery_id": delivery.delivery_id, "reason": reason or None,
            "detail": conversion.detail or None, "results": [r.as_dict() for r in results]}))

    def _with_purchase_context(self, shop: ShopRuntime,
                               conversion: Conversion) -> list[dict[str, Any]]:
        """Refunds carry what their stored Purchase knows (GA4's client id, consent, the
        hashed external id): a refunds/create body has no customer (trackside.refunds)."""
        out = []
        for raw in conversion.events:
            reference = (raw.get("order") or {}).get("reference")
            if raw.get("event_name") == "Refund" and isinstance(reference, str):
                purchase = stored_purchase(self.runtime.store, shop.settings, reference,
                                           shop=shop.name)
                raw = inherit_from_purchase(raw, purchase)
            out.append(raw)
        return out

    async def _accept(self, events: list[Any], shop: ShopRuntime) -> list[AcceptResult]:
        try:
            return await self.committer.accept(events, self.source.name,
                                               pipeline=shop.pipeline)
        except CommitterClosed:
            raise ApiError(503, "The service is shutting down; retry on another instance",
                           headers={"Retry-After": "5"}) from None
        except Exception:
            # Logged by the committer; nothing was stored and nothing recorded: the platform
            # retries the delivery.
            raise ApiError(503, headers={"Retry-After": "5"}) from None
