"""Fuzzing the three ingest endpoints with type-confused and oversized values.

Hypothesis builds a valid event and then puts a hostile value (wrong type, huge number, NaN,
lone surrogate, control characters, over-long string or list, deep nesting) at one of the
places a client can reach. Every answer must be a 4xx or a success, never a 5xx; on
``/v1/events`` the valid event beside the hostile one must be stored; the Graph-compatible
endpoint must refuse with a permanent Meta error (code 100, ``is_transient`` false).

The app runs in-process (httpx's ASGI transport on one event loop, real SQLite file):
thousands of requests fit in the suite's time budget. Hypothesis prints its seed when an example
fails
(``--hypothesis-seed`` replays it).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette

from tests.conftest import API_KEY
from trackside.config import Settings
from trackside.runtime import Runtime
from trackside.web.app import create_app
from trackside.web.collect import collect_routes

PIXEL = "123456789012345"
SHOP = "https://shop.example"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
FUZZ = settings(deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])
_serial = itertools.count()

# -- hostile values --------------------------------------------------------------------------

_nasty_text = st.sampled_from([
    "\ud800", "ok\udfffok", "\x1b[31mred\x1b[0m", "line\nbreak", "\u2028", "\x00", "\x85",
    "é" * 4097, "x" * 5000, "https://shop.example/" + "p" * 2100, "", " ", "NaN", "1e400",
    "-1", "99999999999999999999999", "2026-13-45T99:99:99", "[]", "{}",
    "http://[::1/?fbclid=x", "https://shop.example/?fbclid=%ff%fe", "fb.1.2.3\x1b",
])
_scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**63, -(2**63) - 1, 10**30, 0, -1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20), _nasty_text,
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)


def _deep(depth: int) -> Any:
    value: Any = "bottom"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


_hostile = st.one_of(
    _nasty_text,
    _values,
    st.integers(min_value=11, max_value=200).map(_deep),
    st.integers(min_value=21, max_value=1500).map(lambda n: ["a@example.com"] * n),
    st.integers(min_value=1001, max_value=3000).map(lambda n: [{"id": "sku"}] * n),
    st.integers(min_value=1, max_value=30).map(lambda n: {f"k{i}": "v" * 4000 for i in range(n)}),
)

# -- events and the places to put a hostile value -------------------------------------------


def canonical_event(event_id: str) -> dict[str, Any]:
    return {
        "event_name": "Purchase", "event_id": event_id, "event_time": int(time.time()) - 60,
        "action_source": "website", "event_source_url": "https://shop.example/thanks",
        "user": {"email": "jeanne@example.com", "phone": ["+33612345678"],
                 "ip": "203.0.113.7", "user_agent": "Mozilla/5.0"},
        "order": {"reference": event_id, "value": 10.5, "currency": "EUR",
                  "items": [{"id": "sku-1", "quantity": 1, "price": 10.5}]},
        "custom_data": {"note": "hello", "nested": {"list": [1, 2]}},
        "consent": {"ad_storage": "granted", "ad_user_data": "granted"},
        "cart_id": "cart-1",
    }


def meta_event(event_id: str) -> dict[str, Any]:
    return {
        "event_name": "Lead", "event_id": event_id, "event_time": int(time.time()) - 60,
        "action_source": "website", "event_source_url": "https://shop.example/form",
        "user_data": {"em": [hashlib.sha256(b"jeanne@example.com").hexdigest()],
                      "client_ip_address": "203.0.113.7", "client_user_agent": "Mozilla/5.0"},
        "custom_data": {"currency": "EUR", "value": 1,
                        "contents": [{"id": "sku-1", "quantity": 1, "item_price": 1}]},
    }


CANONICAL_PATHS = [
    (), ("event_name",), ("event_id",), ("event_time",), ("action_source",),
    ("event_source_url",), ("referrer_url",), ("user",), ("user", "email"), ("user", "phone"),
    ("user", "external_id"), ("user", "ip"), ("user", "fbc"), ("order",), ("order", "reference"),
    ("order", "value"), ("order", "currency"), ("order", "items"), ("order", "items", 0),
    ("order", "items", 0, "quantity"), ("order", "items", 0, "id"), ("custom_data",),
    ("custom_data", "note"), ("custom_data", "nested"), ("consent",), ("consent", "ad_storage"),
    ("opt_out",), ("cart_id",), ("customer_id",), ("data_processing_options",),
    ("data_processing_options_state",), ("user_data",), ("user_data", "em"),
]
META_PATHS = [
    ("event_name",), ("event_id",), ("event_time",), ("action_source",), ("event_source_url",),
    ("user_data",), ("user_data", "em"), ("user_data", "ph"), ("user_data", "client_ip_address"),
    ("user_data", "fbc"), ("user_data", "external_id"), ("user_data", "lead_id"),
    ("custom_data",), ("custom_data", "value"), ("custom_data", "currency"),
    ("custom_data", "contents"), ("custom_data", "contents", 0),
    ("custom_data", "contents", 0, "id"),
    ("custom_data", "order_id"), ("custom_data", "extra"), ("order",), ("user",),
    ("data_processing_options",), ("opt_out",),
]


def put(event: Any, path: tuple[Any, ...], value: Any) -> Any:
    """``event`` with ``value`` at ``path`` (creating missing keys; the root when empty)."""
    if not path:
        return value
    node = event
    for part in path[:-1]:
        node = node.setdefault(part, {}) if isinstance(part, str) else node[part]
    node[path[-1]] = value
    return event


def dumps(value: Any) -> bytes:
    # ensure_ascii writes a lone surrogate as its \ud800 escape, as a hostile client would.
    return json.dumps(value, ensure_ascii=True).encode()


def stored_ids(runtime: Runtime) -> set[str]:
    path = runtime.settings.database_url[len("sqlite:///"):]
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return {row[0] for row in conn.execute("SELECT event_id FROM events")}


# -- the apps ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    database = Path(tmp_path_factory.mktemp("fuzz")) / "trackside.db"
    rt = Runtime.from_settings(Settings(
        database_url=f"sqlite:///{database}", api_keys=[API_KEY], join_window_s=0,
        meta_pixel_id=PIXEL, meta_access_token="EAAT-fuzz-not-used", allowed_origins=[SHOP],
        consent_mode="off"))
    try:
        yield rt
    finally:
        rt.close()


class Client:
    """A synchronous face on an httpx client over ASGI: Hypothesis examples are sync calls,
    the app runs on one event loop kept for the whole module (its lifespan, its committer)."""

    def __init__(self, app: Starlette) -> None:
        self.loop = asyncio.new_event_loop()
        self.stack = AsyncExitStack()
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        self.http = httpx.AsyncClient(transport=transport, base_url="http://trackside.test")

        async def start() -> None:
            await self.stack.enter_async_context(app.router.lifespan_context(app))
            await self.stack.enter_async_context(self.http)

        self.loop.run_until_complete(start())

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.loop.run_until_complete(self.http.post(url, **kwargs))

    def close(self) -> None:
        self.loop.run_until_complete(self.stack.aclose())
        self.loop.close()


@pytest.fixture(scope="module")
def client(runtime: Runtime) -> Iterator[Client]:
    c = Client(create_app(runtime, run_worker=False))
    yield c
    c.close()


@pytest.fixture(scope="module")
def collect_client(runtime: Runtime) -> Iterator[Client]:
    # The public app's /collect, without its per-address rate limit (every request here comes
    # from one address); the handler is the same code.
    c = Client(Starlette(routes=collect_routes(runtime, rate_per_s=1e9, burst=1e9)))
    yield c
    c.close()


# -- /v1/events ------------------------------------------------------------------------------

good_sent: list[str] = []


@settings(FUZZ, max_examples=1300)
@given(path=st.sampled_from(CANONICAL_PATHS), value=_hostile, meta=st.booleans())
def test_v1_events_never_5xx_and_keeps_the_good_event(
    client: Client, path: tuple[Any, ...], value: Any, meta: bool
) -> None:
    serial = next(_serial)
    good_id = f"fuzz-good-{serial}"
    if meta:
        meta_path = META_PATHS[serial % len(META_PATHS)]
        hostile = put(meta_event(f"fuzz-bad-{serial}"), meta_path, value)
    else:
        hostile = put(canonical_event(f"fuzz-bad-{serial}"), path, value)
    body = dumps({"events": [canonical_event(good_id), hostile]})
    response = client.post("/v1/events", content=body, headers=AUTH)
    assert response.status_code == 202, response.text
    good, other = response.json()["results"]
    assert (good["index"], good["status"], good["event_id"]) == (0, "queued", good_id)
    if other["status"] == "rejected":
        assert other["errors"] and all(e["field"].startswith("events[1]")
                                       for e in other["errors"])
    good_sent.append(good_id)


def test_v1_events_fuzzing_stored_every_good_event(runtime: Runtime) -> None:
    # Runs after the fuzz above (file order): what it was told was queued is in the store.
    assert len(good_sent) >= 1000
    assert set(good_sent) <= stored_ids(runtime)


# -- the Graph-compatible endpoint -------------------------------------------------------------


@settings(FUZZ, max_examples=900)
@given(path=st.sampled_from(META_PATHS), value=_hostile, as_string=st.booleans())
def test_graph_endpoint_never_5xx_nor_transient(
    client: Client, path: tuple[Any, ...], value: Any, as_string: bool
) -> None:
    serial = next(_serial)
    event = put(meta_event(f"fuzz-graph-{serial}"), path, value)
    item: Any = json.dumps(event) if as_string else event  # Meta's SDK sends JSON strings
    response = client.post(f"/v26.0/{PIXEL}/events", content=dumps({"data": [item]}),
                           params={"access_token": API_KEY},
                           headers={"content-type": "application/json"})
    assert response.status_code < 500, response.text
    if response.status_code != 200:
        error = response.json()["error"]
        assert error["is_transient"] is False and error["code"] == 100, error


# -- /collect --------------------------------------------------------------------------------

BEACON_PATHS = [
    (), ("type",), ("event_name",), ("event_id",), ("url",), ("referrer",), ("params",),
    ("params", "value"), ("params", "currency"), ("params", "items"), ("params", "items", 0),
    ("params", "reference"), ("params", "cart_id"), ("params", "search_string"),
    ("cookies",), ("cookies", "_ga"), ("cookies", "_fbp"), ("fbclid",), ("consent",),
    ("consent", "ad_storage"), ("pixel",),
]


def beacon(serial: int) -> dict[str, Any]:
    return {"type": "track", "event_name": "AddToCart", "event_id": f"fuzz-beacon-{serial}",
            "url": "https://shop.example/p/1?fbclid=IwAR123", "referrer": "https://shop.example/",
            "params": {"value": 5, "currency": "EUR", "items": [{"id": "sku-1", "quantity": 1}],
                       "cart_id": "cart-9", "search_string": "shoes"},
            "cookies": {"_ga": "GA1.1.123.456", "_fbp": "fb.1.1700000000000.42"},
            "consent": {"ad_storage": "granted"}, "pixel": True}


@settings(FUZZ, max_examples=900)
@given(path=st.sampled_from(BEACON_PATHS), value=_hostile)
def test_collect_never_5xx(collect_client: Client, path: tuple[Any, ...], value: Any) -> None:
    sent = put(beacon(next(_serial)), path, value)
    response = collect_client.post("/collect", content=dumps(sent),
                                   headers={"origin": SHOP, "content-type": "text/plain"})
    assert response.status_code < 500, response.text
    if response.status_code == 400:
        assert response.json()["error"]["message"]
