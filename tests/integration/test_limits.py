"""Limits at the edge and malformed input, endpoint by endpoint (docs/api.md, "Limits").

Each case puts one limit breach or type confusion into one event beside a valid one and checks
the status, the named field and what was stored:

- ``POST /v1/events``: 202, the bad event rejected by index with its field, the good one stored;
- the Graph-compatible endpoint: Meta's whole-request refusal (one invalid event rejects the
  whole request,
  https://developers.facebook.com/documentation/ads-commerce/conversions-api/using-the-api):
  400, code 100, ``is_transient`` false, blaming the field; nothing stored, and the good event
  alone is then accepted;
- ``POST /collect`` (one event per beacon): 400 naming the field, nothing stored, the next
  valid beacon stored.

The request-header limit (431) is checked against a real ``trackside serve`` process.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import select
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import API_KEY, SettingsFactory, app_client
from tests.fakes.server import free_port
from trackside.runtime import Runtime
from trackside.web.protocol import MAX_HEADER_BYTES

PIXEL = "123456789012345"
SHOP = "https://shop.example"
AUTH = {"Authorization": f"Bearer {API_KEY}", "content-type": "application/json"}
HASH = hashlib.sha256(b"jeanne@example.com").hexdigest()


def canonical(event_id: str) -> dict[str, Any]:
    return {
        "event_name": "Purchase", "event_id": event_id, "event_time": int(time.time()) - 60,
        "event_source_url": f"{SHOP}/thanks",
        "user": {"email": "jeanne@example.com", "ip": "198.51.100.20", "user_agent": "Mozilla/5.0"},
        "order": {"reference": event_id, "value": 10.5, "currency": "EUR",
                  "items": [{"id": "sku-1", "quantity": 1, "price": 10.5}]},
        "custom_data": {"note": "hello"},
        "consent": {"ad_storage": "granted", "ad_user_data": "granted"},
    }


def meta(event_id: str) -> dict[str, Any]:
    return {
        "event_name": "Lead", "event_id": event_id, "event_time": int(time.time()) - 60,
        "action_source": "website", "event_source_url": f"{SHOP}/form",
        "user_data": {"em": [HASH], "client_ip_address": "198.51.100.20",
                      "client_user_agent": "Mozilla/5.0"},
        "custom_data": {"currency": "EUR", "value": 1, "note": "hello"},
    }


def deep(levels: int) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = {"k": value}
    return value


def put(event: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    *parents, last = path.split(".")
    node = event
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return event


RAW = object()  # marks a value written into the JSON text as is (NaN, 1e400, "\ud800")

# (id, path in the event, value, field named in the error, words of the reason)
CASES: list[tuple[str, str, Any, str, str]] = [
    ("string-over-4096", "custom_data.note", "x" * 4097, "custom_data.note",
     "longer than 4096 characters"),
    ("3-MB-string", "custom_data.note", "x" * 3_000_000, "custom_data.note",
     "longer than 4096 characters"),
    ("nested-string", "custom_data.a", {"b": ["y" * 5000]}, "custom_data.a.b[0]",
     "longer than 4096 characters"),
    ("custom-data-key", "custom_data." + "k" * 4097, 1, "custom_data.(key)", "longer than 4096"),
    ("url-over-2048", "event_source_url", f"{SHOP}/" + "p" * 2048, "event_source_url",
     "longer than 2048 characters"),
    ("referrer-over-2048", "referrer_url", f"{SHOP}/" + "p" * 2048, "referrer_url",
     "longer than 2048 characters"),
    ("list-over-1000", "custom_data.content_ids", ["sku"] * 1001, "custom_data.content_ids",
     "more than 1000"),
    ("event-over-64KB", "custom_data", {f"k{i}": "v" * 4000 for i in range(20)}, "",
     "over the limit of 65536 bytes"),
    ("nested-11-levels", "custom_data.deep", deep(10), "custom_data.deep" + ".k" * 8,
     "deeper than 10"),
    ("nested-past-the-json-parser", "custom_data.deep", deep(300), "custom_data.deep" + ".k" * 8,
     "deeper than 10"),
    ("event-id-escape", "event_id", "A-1\x1b[2J", "event_id", "control characters"),
    ("event-id-newline", "event_id", "A-1\nINFO forged", "event_id", "control characters"),
    ("event-name-line-separator", "event_name", "Lead\u2028x", "event_name",
     "control characters"),
    ("cart-id-c1", "cart_id", "ca\x85rt", "cart_id", "control characters"),
    ("customer-id-del", "customer_id", "cust\x7f", "customer_id", "control characters"),
    ("nan", "custom_data.n", (RAW, "NaN"), "custom_data.n", "finite number"),
    ("infinity", "custom_data.n", (RAW, "1e400"), "custom_data.n", "finite number"),
    ("huge-integer", "custom_data.n", 2**64, "custom_data.n", "64-bit integer"),
    ("lone-surrogate", "custom_data.note", (RAW, '"\\ud800"'), "custom_data.note",
     "lone surrogate"),
    ("surrogate-in-name", "event_name", (RAW, '"Lead\\udfff"'), "event_name", "lone surrogate"),
    ("custom-data-string", "custom_data", "x", "custom_data", "valid dictionary"),
    ("event-time-word", "event_time", "soon", "event_time", "ISO 8601"),
    ("data-processing-options-number", "data_processing_options", 5,
     "data_processing_options", "valid list"),
]

# Cases only the canonical shape has (trackside's own user and order).
CANONICAL_CASES: list[tuple[str, str, Any, str, str]] = [
    ("identity-over-20", "user.email", [f"u{i}@example.com" for i in range(21)], "user.email",
     "more than 20"),
    ("items-over-1000", "order.items", [{"id": "sku"}] * 1001, "order.items", "more than 1000"),
    ("first-name-over-4096", "user.first_name", "x" * 4097, "user.first_name",
     "longer than 4096"),
    ("order-reference-nul", "order.reference", "R\x00", "order.reference", "control characters"),
    ("order-number", "order", 5, "order", "valid dictionary"),
    ("user-list", "user", [], "user", "valid dictionary"),
    ("value-word", "order.value", "twelve", "order.value", "valid number"),
    ("value-infinite", "order.value", (RAW, "1e400"), "order.value", "finite number"),
]

# Cases in Meta's shape (user_data / custom_data), as the Graph endpoint and API both take it.
META_CASES: list[tuple[str, str, Any, str, str]] = [
    ("em-over-20", "user_data.em", [HASH] * 21, "user_data.em", "more than 20"),
    ("contents-over-1000", "custom_data.contents", [{"id": "sku"}] * 1001,
     "custom_data.contents", "more than 1000"),
    ("order-number-beside-custom-data", "order", 5, "order", "valid dictionary"),
    ("user-data-list", "user_data", [], "user", "valid dictionary"),
    ("order-id-escape", "custom_data.order_id", "R-1\x1b]0;pwned\x07", "order.reference",
     "control characters"),
]


def body_with(container: str, events: list[dict[str, Any]], raw: str | None) -> bytes:
    """JSON text of ``{container: events}``; a RAW value replaces the "__RAW__" placeholder."""
    text = json.dumps({container: events})
    return (text.replace('"__RAW__"', raw) if raw is not None else text).encode()


def prepared(event: dict[str, Any], path: str, value: Any) -> tuple[dict[str, Any], str | None]:
    if isinstance(value, tuple) and value[0] is RAW:
        return put(event, path, "__RAW__"), value[1]
    return put(event, path, value), None


def stored_ids(runtime: Runtime) -> list[str]:
    path = runtime.settings.database_url[len("sqlite:///"):]
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return [row[0] for row in conn.execute("SELECT event_id FROM events ORDER BY pk")]


@pytest.fixture
def gateway(settings_factory: SettingsFactory) -> Iterator[Runtime]:
    rt = Runtime.from_settings(settings_factory(
        meta_pixel_id=PIXEL, meta_access_token="EAAT-limits-not-used", allowed_origins=[SHOP],
        consent_mode="off"))
    try:
        yield rt
    finally:
        rt.close()


@pytest.fixture
async def client(gateway: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async for c in app_client(gateway):
        yield c


# -- POST /v1/events ---------------------------------------------------------------------------


@pytest.mark.parametrize(("case", "path", "value", "field", "reason"),
                         [(c[0], *c[1:]) for c in CASES + CANONICAL_CASES],
                         ids=[c[0] for c in CASES + CANONICAL_CASES])
async def test_api_rejects_the_event_by_index_and_stores_the_good_one(
    client: httpx.AsyncClient, gateway: Runtime, case: str, path: str, value: Any, field: str,
    reason: str,
) -> None:
    bad, raw = prepared(canonical("BAD-1"), path, value)
    response = await client.post("/v1/events", headers=AUTH,
                                 content=body_with("events", [canonical("GOOD-1"), bad], raw))
    assert response.status_code == 202, response.text
    good, rejected = response.json()["results"]
    assert good["status"] == "queued" and good["event_id"] == "GOOD-1"
    assert rejected["status"] == "rejected" and rejected["index"] == 1
    expected = f"events[1].{field}" if field else "events[1]"
    assert any(e["field"] == expected and reason in e["reason"] for e in rejected["errors"]), \
        rejected["errors"]
    assert stored_ids(gateway) == ["GOOD-1"]


@pytest.mark.parametrize(("case", "path", "value", "field", "reason"),
                         [(c[0], *c[1:]) for c in META_CASES], ids=[c[0] for c in META_CASES])
async def test_api_rejects_a_meta_shaped_event_by_index(
    client: httpx.AsyncClient, gateway: Runtime, case: str, path: str, value: Any, field: str,
    reason: str,
) -> None:
    bad, raw = prepared(meta("BAD-1"), path, value)
    response = await client.post("/v1/events", headers=AUTH,
                                 content=body_with("events", [meta("GOOD-1"), bad], raw))
    assert response.status_code == 202, response.text
    good, rejected = response.json()["results"]
    assert good["status"] == "queued"
    assert any(e["field"] == f"events[1].{field}" and reason in e["reason"]
               for e in rejected["errors"]), rejected["errors"]
    assert stored_ids(gateway) == ["GOOD-1"]


async def test_a_string_at_the_limit_is_accepted_whole(client: httpx.AsyncClient,
                                                       gateway: Runtime) -> None:
    event = put(canonical("EDGE-1"), "custom_data.note", "é" * 4096)
    put(event, "event_source_url", f"{SHOP}/" + "p" * (2048 - len(SHOP) - 1))
    put(event, "user.email", [f"u{i}@example.com" for i in range(20)])
    response = await client.post("/v1/events", headers=AUTH, json={"events": [event]})
    assert response.json()["results"][0]["status"] == "queued", response.text
    [view] = gateway.store.event_view("EDGE-1")
    assert view.event.custom_data["note"] == "é" * 4096  # not truncated
    assert len(view.event.user_data["em"]) == 20


async def test_the_event_size_limit_follows_the_setting(settings_factory: SettingsFactory) -> None:
    runtime = Runtime.from_settings(settings_factory(max_event_bytes=2048))
    try:
        async for client in app_client(runtime):
            small = canonical("SMALL-1")
            large = put(canonical("LARGE-1"), "custom_data.note", "x" * 2048)
            response = await client.post("/v1/events", headers=AUTH,
                                         json={"events": [small, large]})
            _, rejected = response.json()["results"]
            assert rejected["errors"][0]["field"] == "events[1]"
            assert "over the limit of 2048 bytes" in rejected["errors"][0]["reason"]
            assert stored_ids(runtime) == ["SMALL-1"]
    finally:
        runtime.close()


async def test_a_body_too_deep_for_any_parser_is_a_named_400(client: httpx.AsyncClient) -> None:
    body = '{"events": [' + "[" * 5000 + "]" * 5000 + "]}"
    response = await client.post("/v1/events", headers=AUTH, content=body)
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["error"]["message"]


# -- the Graph-compatible endpoint ---------------------------------------------------------------


def assert_permanent_meta_error(response: httpx.Response, blame: str) -> None:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == 100 and error["is_transient"] is False
    assert error["error_data"]["blame_field_specs"] == [[blame]]


@pytest.mark.parametrize(("case", "path", "value", "field", "reason"),
                         [(c[0], *c[1:]) for c in CASES + META_CASES],
                         ids=[c[0] for c in CASES + META_CASES])
async def test_graph_refuses_with_a_permanent_meta_error_naming_the_field(
    client: httpx.AsyncClient, gateway: Runtime, case: str, path: str, value: Any, field: str,
    reason: str,
) -> None:
    bad, raw = prepared(meta("BAD-1"), path, value)
    url = f"/v26.0/{PIXEL}/events?access_token={API_KEY}"
    response = await client.post(url, headers={"content-type": "application/json"},
                                 content=body_with("data", [meta("GOOD-1"), bad], raw))
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == 100 and error["is_transient"] is False
    [[blame]] = error["error_data"]["blame_field_specs"]
    expected = f"data[1].{field}" if field else "data[1]"
    if "trackside cannot accept" in error.get("error_user_msg", ""):  # trackside's limits and model
        assert blame == expected
        assert reason in error["error_user_msg"]
    else:  # Meta's own rules (checked first) refused the same field in their words
        assert expected.startswith(blame.replace("data[1].user_data", "data[1].user")), blame
    assert stored_ids(gateway) == []  # Meta's rule: one invalid event refuses the request
    again = await client.post(url, json={"data": [meta("GOOD-1")]})
    assert again.status_code == 200 and again.json()["events_received"] == 1
    assert stored_ids(gateway) == ["GOOD-1"]


async def test_graph_never_calls_a_lone_surrogate_transient(client: httpx.AsyncClient,
                                                            gateway: Runtime) -> None:
    # The landed code answered 503 code 2 is_transient: Meta's SDK would retry it forever.
    event = put(meta("SUR-1"), "custom_data.note", "__RAW__")
    response = await client.post(f"/v26.0/{PIXEL}/events?access_token={API_KEY}",
                                 headers={"content-type": "application/json"},
                                 content=body_with("data", [event], '"\\ud800"'))
    assert_permanent_meta_error(response, "data[0].custom_data.note")
    assert stored_ids(gateway) == []


# -- POST /collect -------------------------------------------------------------------------------


def beacon(event_id: str) -> dict[str, Any]:
    return {"type": "track", "event_name": "AddToCart", "event_id": event_id,
            "url": f"{SHOP}/product/7", "referrer": f"{SHOP}/",
            "params": {"value": 14.9, "currency": "EUR", "cart_id": "cart-1",
                       "items": [{"id": "mug", "quantity": 1}]},
            "cookies": {"_fbp": "fb.1.1700000000000.1234567"}}


BEACON_CASES: list[tuple[str, str, Any, str, str]] = [
    # Named as the canonical event has them (the existing /collect tests pin that).
    ("url-over-2048", "url", f"{SHOP}/" + "p" * 2048, "event_source_url", "longer than 2048"),
    ("referrer-over-2048", "referrer", f"{SHOP}/" + "p" * 2048, "referrer_url",
     "longer than 2048"),
    # Refused by the browser's allow-list of names before the control-character rule.
    ("event-name-escape", "event_name", "Add\x1b[31m", "event_name", "standard events"),
    ("event-id-newline", "event_id", "abc\ndef", "event_id", "letters, digits"),
    ("value-word", "params.value", "twelve", "params.value", "valid number"),
    ("value-infinite", "params.value", (RAW, "1e400"), "params.value", "finite number"),
    ("items-not-objects", "params.items", [1, "x"], "params.items[0]", "valid dictionary"),
    ("item-id-escape", "params.items", [{"id": "m\x1bug"}], "params.items[0].id",
     "control characters"),
    ("params-number", "params", 5, "params", "an object"),
    ("cookies-list", "cookies", [], "cookies", "an object"),
    ("cookie-number", "cookies._fbp", 5, "cookies._fbp", "valid string"),
]


def post_beacon(client: httpx.AsyncClient, body: bytes) -> Any:
    return client.post("/collect", content=body,
                       headers={"origin": SHOP, "content-type": "text/plain;charset=UTF-8"})


@pytest.mark.parametrize(("case", "path", "value", "field", "reason"),
                         [(c[0], *c[1:]) for c in BEACON_CASES], ids=[c[0] for c in BEACON_CASES])
async def test_collect_answers_400_naming_the_field_and_keeps_accepting(
    client: httpx.AsyncClient, gateway: Runtime, case: str, path: str, value: Any, field: str,
    reason: str,
) -> None:
    bad, raw = prepared(beacon("bad-beacon-1"), path, value)
    text = json.dumps(bad)
    response = await post_beacon(client, (text.replace('"__RAW__"', raw) if raw else text)
                                 .encode())
    assert response.status_code == 400, response.text
    errors = response.json()["error"]["errors"]
    assert any(e["field"] == field and reason in e["reason"] for e in errors), errors
    good = await post_beacon(client, json.dumps(beacon("good-beacon-1")).encode())
    assert good.status_code == 202, good.text
    assert stored_ids(gateway) == ["good-beacon-1"]


@pytest.mark.parametrize("url", ["http://[::1/?fbclid=IwAR1", "https://[/x"])
async def test_collect_survives_an_unparseable_page_url(client: httpx.AsyncClient,
                                                        gateway: Runtime, url: str) -> None:
    # The landed code answered 500: urlsplit raises on an unclosed IPv6 bracket.
    response = await post_beacon(client, json.dumps({**beacon("odd-url-1"), "url": url}).encode())
    assert response.status_code in (202, 400), response.text


async def test_collect_refuses_a_lone_surrogate_with_a_400(client: httpx.AsyncClient,
                                                           gateway: Runtime) -> None:
    text = json.dumps(put(beacon("sur-1"), "params.search_string", "__RAW__"))
    response = await post_beacon(client, text.replace('"__RAW__"', '"\\ud800"').encode())
    assert response.status_code == 400
    assert stored_ids(gateway) == []


# -- request headers: 431 from a real `trackside serve` ------------------------------------------


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    """A real `trackside serve` process: (port, pid)."""
    folder = tmp_path_factory.mktemp("serve-limits")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKSIDE_")}
    env["TRACKSIDE_API_KEYS"] = API_KEY
    log = (folder / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "trackside.cli", "serve", "--port", str(port), "--no-worker",
         "--log-level", "error"], cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5)
            break
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError((folder / "serve.log").read_text()) from None
            time.sleep(0.05)
    try:
        yield port, process.pid
    finally:
        process.terminate()
        process.wait(timeout=20)


def request_head(header_bytes: int, path: str = "/healthz") -> bytes:
    filler = "a" * max(0, header_bytes)
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Filler: {filler}\r\n\r\n".encode()


def exchange(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        return received


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.mark.slow
def test_headers_over_64kb_are_431_and_under_are_served(serve: tuple[int, int]) -> None:
    port, _ = serve
    over = exchange(port, request_head(MAX_HEADER_BYTES + 1))
    assert over.startswith(b"HTTP/1.1 431 "), over[:100]
    assert b"connection: close" in over.lower()
    under = exchange(port, request_head(MAX_HEADER_BYTES - 200))
    assert under.startswith(b"HTTP/1.1 200 "), under[:100]


@pytest.mark.slow
def test_the_header_limit_is_per_request_on_a_keep_alive_connection(
    serve: tuple[int, int],
) -> None:
    port, _ = serve
    # Two 40 KB heads on one connection: 80 KB in all, each under the limit.
    answers = b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request_head(40_000) + request_head(40_000))
        while answers.count(b"HTTP/1.1 200 ") < 2:
            chunk = sock.recv(65536)
            assert chunk, answers
            answers += chunk


@pytest.mark.slow
def test_a_large_body_is_not_counted_as_headers(serve: tuple[int, int]) -> None:
    port, _ = serve
    event = put(canonical("BODY-1"), "custom_data.blob", ["x" * 4000] * 250)  # ~1 MB
    response = httpx.post(f"http://127.0.0.1:{port}/v1/events", json={"events": [event]},
                          headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30)
    # Judged by the event limits (its only event rejected by index: 422), not refused as
    # headers (431).
    assert response.status_code == 422
    assert "over the limit of 65536 bytes" in response.text


@pytest.mark.slow
def test_memory_stays_flat_under_8_parallel_oversized_header_requests(
    serve: tuple[int, int],
) -> None:
    port, pid = serve
    exchange(port, request_head(100))  # warm
    before = rss_bytes(pid)
    chunk = b"X-Filler: " + b"a" * (64 * 1024) + b"\r\n"
    outcomes: list[tuple[int, bytes]] = []

    def attack() -> None:
        sent = 0
        answer = b""
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            try:
                while sent < 50 * 1024 * 1024:  # what the landed server swallowed whole
                    readable, _, _ = select.select([sock], [], [], 0)
                    if readable:
                        break
                    sock.sendall(chunk)
                    sent += len(chunk)
                answer = sock.recv(65536)
            except (BrokenPipeError, ConnectionResetError):
                pass
        outcomes.append((sent, answer))

    threads = [threading.Thread(target=attack) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    after = rss_bytes(pid)
    assert len(outcomes) == 8
    # Each client was stopped within a few reads of the limit, not after 50 MB.
    assert all(sent < 16 * 1024 * 1024 for sent, _ in outcomes), [s for s, _ in outcomes]
    assert any(answer.startswith(b"HTTP/1.1 431 ") for _, answer in outcomes)
    assert after - before < 20 * 1024 * 1024, (before, after)
    healthy = exchange(port, request_head(100))
    assert healthy.startswith(b"HTTP/1.1 200 ")


@pytest.mark.parametrize(("path", "value"), [
    ("event_time", "\u00b2"),  # str.isdigit says yes, int() says no (rule 11)
    ("action_source", ["website"]),  # unhashable where one of nine strings belongs (rule 14)
    ("customer_segmentation", ["new_customer_to_business"]),  # rule 19
    ("user_data.fb_login_id", "\u00b2"),  # rule 28
], ids=["event-time-superscript", "action-source-list", "segmentation-list",
        "fb-login-id-superscript"])
async def test_graph_refuses_what_metas_rules_once_crashed_on(
    client: httpx.AsyncClient, gateway: Runtime, path: str, value: Any,
) -> None:
    # Found by tests/integration/test_fake_is_independent.py: meta_rules raised instead of
    # refusing, and the endpoint answered 503 code 2 (retry) to a client's bad input.
    event = put(meta("CRASH-1"), path, value)
    response = await client.post(f"/v26.0/{PIXEL}/events?access_token={API_KEY}",
                                 json={"data": [event]})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == 100 and error["is_transient"] is False
    assert stored_ids(gateway) == []
