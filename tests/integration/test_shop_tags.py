"""/t.js for every shop: shared when the shops' tags are the same, ?shop=<name> otherwise."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.routing import Route

from tests.fakes.server import serve
from trackside.config import Settings
from trackside.web.tag import ShopTags


def _get(tags: ShopTags, path: str) -> httpx.Response:
    app = Starlette(routes=[Route("/t.js", tags.handle, methods=["GET", "HEAD"])])
    with serve(app) as server:
        return httpx.get(server.url + path)


def test_shops_with_one_prefix_share_the_tag() -> None:
    tags = ShopTags({"a": Settings(), "b": Settings(cookie_domain="b.example")})
    plain = _get(tags, "/t.js")
    assert plain.status_code == 200 and '""' in plain.text
    assert _get(tags, "/t.js?shop=b").text == plain.text


def test_each_shop_gets_its_own_prefix_by_name() -> None:
    tags = ShopTags({"a": Settings(event_id_prefix="a-"), "b": Settings(event_id_prefix="b-")})
    a, b = _get(tags, "/t.js?shop=a"), _get(tags, "/t.js?shop=b")
    assert a.status_code == b.status_code == 200
    assert 'var PREFIX = "a-"' in a.text and 'var PREFIX = "b-"' in b.text
    assert a.headers["etag"] != b.headers["etag"]
    unnamed = _get(tags, "/t.js")
    assert unnamed.status_code == 400 and "/t.js?shop=<name>" in unnamed.text
    unknown = _get(tags, "/t.js?shop=c")
    assert unknown.status_code == 404 and "shop" in unknown.text
