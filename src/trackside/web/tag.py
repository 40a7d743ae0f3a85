"""GET /t.js: the browser tag, with this gateway's event id prefix built in.

The file is rendered once per process (the prefix is configuration, not per request), so its
ETag is a content hash: ``/t.js`` is revalidated every few minutes (a deploy or a prefix change
reaches pages quickly), while ``/t.js?v=<etag>`` is immutable and cached for a year.
Nothing secret goes in: the signing key and tokens never leave the server (docs/browser-tag.md).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from importlib import resources

from starlette.requests import Request
from starlette.responses import Response

from trackside.config import Settings
from trackside.web.errors import error_response

PLACEHOLDER = '"__TRACKSIDE_PREFIX__"'
SHORT_CACHE = "public, max-age=300"
LONG_CACHE = "public, max-age=31536000, immutable"


def render_tag(settings: Settings) -> bytes:
    source = (resources.files("trackside.web") / "static" / "t.js").read_text(encoding="utf-8")
    # json.dumps gives a valid JS string literal for any prefix (quotes, backslashes).
    return source.replace(PLACEHOLDER, json.dumps(settings.event_id_prefix), 1).encode()


class TagEndpoint:
    def __init__(self, settings: Settings) -> None:
        self.body = render_tag(settings)
        self.version = hashlib.sha256(self.body).hexdigest()[:16]
        self.etag = f'"{self.version}"'

    @property
    def versioned_path(self) -> str:
        """The URL to put in pages for year-long caching: ``/t.js?v=<version>``."""
        return f"/t.js?v={self.version}"

    async def handle(self, request: Request) -> Response:
        pinned = request.query_params.get("v") == self.version
        headers = {
            "ETag": self.etag,
            "Cache-Control": LONG_CACHE if pinned else SHORT_CACHE,
            # The tag is loaded cross-origin by shop pages; it reveals nothing.
            "Access-Control-Allow-Origin": "*",
            "X-Content-Type-Options": "nosniff",
        }
        if self.etag in _etags(request.headers.get("if-none-match")):
            return Response(status_code=304, headers=headers)
        return Response(self.body, media_type="application/javascript; charset=utf-8",
                        headers=headers)


def _etags(header: str | None) -> list[str]:
    if not header:
        return []
    return [tag.strip().removeprefix("W/") for tag in header.split(",")]


class ShopTags:
    """``/t.js`` for every shop: the tag differs between shops only by the event id prefix, so
    shops that share a prefix share ``/t.js``; otherwise a page loads ``/t.js?shop=<name>``
    (a script request carries no Origin to route by, and guessing would break dedup)."""

    def __init__(self, shops: Mapping[str, Settings]) -> None:
        self.tags = {name: TagEndpoint(settings) for name, settings in shops.items()}
        bodies = {tag.body for tag in self.tags.values()}
        self.shared = next(iter(self.tags.values())) if len(bodies) == 1 else None

    async def handle(self, request: Request) -> Response:
        name = request.query_params.get("shop")
        if name is not None:
            tag = self.tags.get(name)
            if tag is None:
                return error_response(404, "No shop with this name (the shop parameter of "
                                           "/t.js is a shop's name in the configuration)")
            return await tag.handle(request)
        if self.shared is None:
            return error_response(400, "The shops of this gateway have different event id "
                                       "prefixes: load /t.js?shop=<name>")
        return await self.shared.handle(request)
