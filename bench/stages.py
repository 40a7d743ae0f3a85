"""Where an accepted event's time goes: µs per event for each stage of the ingest paths.

    python bench/stages.py [--rounds 5] [--events 2000] [--profile collect|api1|api500]

Every stage is the real code on the same inputs as bench/ingest.py (its Purchase, its beacon),
run in this process on a fresh SQLite file (WAL, synchronous=FULL), each event with a unique
event id: body read, envelope parse, event validation, normalization per field, hashing, the
event record (event id, rule 29), consent and plan, SQL, commit/fsync, per-event results,
response encoding, logging and metrics. Then the whole request through the ASGI app in this
process (32 concurrent requests on one uvloop loop, as wrk -c32 sends them, so group commit
shares the fsync as it does under load); what the stages do not cover is the framework
(Starlette's routing, Request, the middleware) and the loop's scheduling. The HTTP server
(uvicorn + httptools) is not in this process: bench/ingest.py's bare app measures it.

Figures are medians over ``--rounds`` rounds. ``--profile`` prints a pyinstrument profile
of the whole-request run of one path (pip install pyinstrument).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import BEACON, COLLECT_ORIGIN, EVENT

from trackside import metrics
from trackside.config import load_settings
from trackside.crm import complete_crm_events
from trackside.identity import fields, normalize_user
from trackside.identity.network import normalize_ip
from trackside.identity.phone import normalize_phone
from trackside.logs import request_id
from trackside.pipeline import AcceptResult
from trackside.runtime import Runtime
from trackside.sources.api import parse_envelope
from trackside.sources.batch import parse_batch
from trackside.sources.browser import BeaconMapping, read_beacon
from trackside.web import browser
from trackside.web.app import create_app

try:  # the ingest endpoints' response class (web/responses.py, issue 17)
    from trackside.web.responses import FastJSONResponse as json_response
except ImportError:  # the code before it: Starlette's own
    from starlette.responses import JSONResponse as json_response

API_KEY = "bench-stages-key-0123456789"
CONCURRENCY = 32
_counter = 0


def _unique() -> str:
    global _counter
    _counter += 1
    return f"st-{time.time_ns()}-{_counter}"


def api_body(events: int) -> bytes:
    parts = []
    for _ in range(events):
        ident = _unique()
        parts.append(EVENT % (ident, ident))
    return ('{"events":[' + ",".join(parts) + "]}").encode()


def beacon_body() -> bytes:
    ident = _unique()
    return (BEACON % (ident, ident)).encode()


def median_us(run: Callable[[], int], rounds: int) -> float:
    """Median over rounds of µs per unit; ``run`` returns how many units it did."""
    figures = []
    for _ in range(rounds):
        start = time.perf_counter()
        units = run()
        figures.append((time.perf_counter() - start) * 1e6 / max(units, 1))
    return statistics.median(figures)


# -- the whole request through the ASGI app ----------------------------------------------------


def _scope(path: str, headers: list[tuple[bytes, bytes]], index: int) -> dict[str, Any]:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": b"", "root_path": "", "headers": headers,
            "client": (f"10.0.{index // 250 % 250}.{index % 250 + 1}", 40000),
            "server": ("127.0.0.1", 8000)}


async def _request(app: Any, path: str, headers: list[tuple[bytes, bytes]], body: bytes,
                   index: int) -> int:
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.Event().wait()  # no disconnect while the request runs
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(_scope(path, [*headers, (b"content-length", str(len(body)).encode())], index),
              receive, send)
    return status


async def _drive(app: Any, path: str, headers: list[tuple[bytes, bytes]],
                 bodies: Sequence[bytes]) -> None:
    queue = list(enumerate(bodies))

    async def client() -> None:
        while queue:
            index, body = queue.pop()
            status = await _request(app, path, headers, body, index)
            if status != 202:
                raise RuntimeError(f"{path} answered {status}")

    await asyncio.gather(*(client() for _ in range(CONCURRENCY)))


API_HEADERS = [(b"content-type", b"application/json"),
               (b"authorization", f"Bearer {API_KEY}".encode()), (b"host", b"127.0.0.1")]
COLLECT_HEADERS = [(b"content-type", b"text/plain;charset=UTF-8"),
                   (b"origin", COLLECT_ORIGIN.encode()), (b"host", b"127.0.0.1"),
                   (b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0")]


def whole_request_rows(app: Any, loop: asyncio.AbstractEventLoop, path: str,
                       headers: list[tuple[bytes, bytes]], make_body: Callable[[], bytes],
                       requests: int, events_per_request: int,
                       rounds: int) -> list[tuple[str, float]]:
    """Wall time and process CPU time (every thread) per event of the whole request."""
    wall, cpu = [], []
    for _ in range(rounds):
        bodies = [make_body() for _ in range(requests)]
        start, start_cpu = time.perf_counter(), time.process_time()
        loop.run_until_complete(_drive(app, path, headers, bodies))
        units = requests * events_per_request
        wall.append((time.perf_counter() - start) * 1e6 / units)
        cpu.append((time.process_time() - start_cpu) * 1e6 / units)
    return [("WHOLE REQUEST in-process, CPU (all threads)", statistics.median(cpu)),
            ("WHOLE REQUEST in-process, wall (ASGI app, 32 concurrent)",
             statistics.median(wall))]


# -- the stages one by one -----------------------------------------------------------------------


def store_stages(runtime: Runtime, make_events: Callable[[], list[Any]], group: int,
                 rounds: int, facts: Any = None) -> tuple[float, float, float]:
    """(prepare, SQL, commit) µs per event for transactions of ``group`` events."""
    pipeline, store = runtime.pipeline, runtime.store
    prepare, sql, commit = [], [], []
    for _ in range(rounds):
        batches_in = [make_events() for _ in range(max(1, 400 // group))]
        t0 = time.perf_counter()
        prepared = [pipeline.prepare(events, "api" if facts is None else "browser",
                                     facts=None if facts is None else [facts] * len(events))
                    for events in batches_in]
        t1 = time.perf_counter()
        inside = done = 0.0
        for batch in prepared:
            a = time.perf_counter()
            with store.transaction() as unit:
                pipeline.commit_in(unit, batch)
                b = time.perf_counter()
            c = time.perf_counter()
            inside += b - a
            done += c - b
        n = sum(len(b.records) for b in prepared)
        prepare.append((t1 - t0) * 1e6 / n)
        sql.append(inside * 1e6 / n)
        commit.append(done * 1e6 / n)
    return statistics.median(prepare), statistics.median(sql), statistics.median(commit)


def normalization_rows(events: list[Any], rounds: int) -> list[tuple[str, float]]:
    """µs per event for each identity field's normalizer and for the hashing."""
    users = [event.user for event in events]
    n = len(users)
    rows: list[tuple[str, float]] = []
    per_field: list[tuple[str, Callable[[Any], Any]]] = [
        ("email", lambda u: fields.normalize_email(u.email)),
        ("phone", lambda u: normalize_phone(u.phone, "fr")),
        ("first_name + last_name", lambda u: (fields.normalize_name(u.first_name),
                                              fields.normalize_name(u.last_name))),
        ("zip", lambda u: fields.normalize_zip(u.zip, "fr")),
        ("country", lambda u: fields.normalize_country(u.country)),
        ("ip", lambda u: normalize_ip(u.ip)),
    ]
    for name, fn in per_field:
        rows.append((f"normalize {name}", median_us(lambda fn=fn: [fn(u) for u in users]
                                                    and n, rounds)))
    clear = [[v for v in (fields.normalize_email(u.email), normalize_phone(u.phone, "fr"),
                          fields.normalize_name(u.first_name), fields.normalize_name(u.last_name),
                          fields.normalize_zip(u.zip, "fr"), fields.normalize_country(u.country),
                          ) if v] for u in users]
    rows.append(("hashing (SHA-256 of 6 values)", median_us(
        lambda: [hashlib.sha256(v.encode()).hexdigest() for vs in clear for v in vs] and n,
        rounds)))
    rows.append(("normalize_user whole (all of the above + fbp, ua)", median_us(
        lambda: [normalize_user(u, now_ms=1) for u in users] and n, rounds)))
    return rows


def api_stages(runtime: Runtime, app: Any, loop: asyncio.AbstractEventLoop, per_request: int,
               total: int, rounds: int) -> list[tuple[str, float]]:
    requests = max(1, total // per_request)
    bodies = [api_body(per_request) for _ in range(requests)]
    n = requests * per_request
    rows: list[tuple[str, float]] = []
    rows.append(("envelope parse (JSON + envelope model)", median_us(
        lambda: [parse_envelope(b) for b in bodies] and n, rounds)))
    raws = [parse_envelope(b) for b in bodies]
    rows.append(("event validation (limits + Event model)", median_us(
        lambda: [parse_batch(r, prefix="events") for r in raws] and n, rounds)))
    parsed = [parse_batch(r, prefix="events") for r in raws]
    rows.append(("CRM names", median_us(
        lambda: [complete_crm_events(p, None, prefix="events") for p in parsed] and n, rounds)))
    events = [e for p in parsed for e in p.events]
    rows += normalization_rows(events, rounds)
    rows.append(("Pipeline.normalize (normalize_user + event id, rule 29, record)", median_us(
        lambda: [runtime.pipeline.normalize(e, "api", 1.0) for e in events] and n, rounds)))
    normalized = [runtime.pipeline.normalize(e, "api", 1.0) for e in events]
    rows.append(("consent + plan", median_us(
        lambda: [runtime.pipeline.plan(e, "api", 1.0) for e in normalized] and n, rounds)))
    group = min(max(per_request, CONCURRENCY), 1000)

    def make_events() -> list[Any]:
        return parse_batch(parse_envelope(api_body(group)), prefix="events").events

    prepare, sql, commit = store_stages(runtime, make_events, group, rounds)
    rows.append(("Pipeline.prepare whole (normalize + record + plan)", prepare))
    rows.append((f"SQL (groups of {group})", sql))
    rows.append((f"commit/fsync (groups of {group})", commit))
    results = [AcceptResult(i, "queued", f"id-{i}", "Purchase") for i in range(per_request)]

    def answer() -> int:
        for _ in range(requests):
            counts = {"queued": 0, "duplicate": 0, "rejected": 0}
            out = []
            for result in results:
                counts[result.status] += 1
                out.append(result.as_dict())
            json_response({**counts, "results": out}, status_code=202)
        return n

    rows.append(("results + response encoding", median_us(answer, rounds)))
    rows += logging_metrics_rows(requests, n, rounds)
    rows.append(framework_row(loop, "/v1/events", API_HEADERS, requests, per_request, rounds))
    rows += whole_request_rows(app, loop, "/v1/events", API_HEADERS,
                               lambda: api_body(per_request), requests, per_request, rounds)
    return rows


def framework_row(loop: asyncio.AbstractEventLoop, path: str, headers: list[tuple[bytes, bytes]],
                  requests: int, events_per_request: int, rounds: int) -> tuple[str, float]:
    """What a request costs before any endpoint work: Starlette, its routing and error
    middleware and trackside's RequestContext, to a route that reads the body and answers."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from trackside.web.middleware import RequestContext

    async def endpoint(request: Request) -> Response:
        await request.body()
        return Response(b"{}", status_code=202, media_type="application/json")

    bare = Starlette(routes=[Route(path, endpoint, methods=["POST"])],
                     middleware=[Middleware(RequestContext)])
    body = b"{}"
    rows = whole_request_rows(bare, loop, path, headers, lambda: body, requests,
                              events_per_request, rounds)
    return ("framework (Starlette + middleware, empty endpoint), wall", rows[1][1])


def logging_metrics_rows(requests: int, n: int, rounds: int) -> list[tuple[str, float]]:
    http_log = logging.getLogger("trackside.http")

    def once() -> int:
        for _ in range(requests):
            token = request_id.set("0123456789abcdef")
            metrics.HTTP_REQUESTS.labels("/v1/events", "202").inc()
            metrics.EVENTS_ACCEPTED.labels("default", "api", "queued").inc(n // requests)
            http_log.isEnabledFor(logging.INFO)
            request_id.reset(token)
        return n

    return [("logging + metrics (per request)", median_us(once, rounds))]


def collect_stages(runtime: Runtime, app: Any, loop: asyncio.AbstractEventLoop, total: int,
                   rounds: int) -> list[tuple[str, float]]:
    bodies = [beacon_body() for _ in range(total)]
    n = total
    mapping = BeaconMapping(runtime.settings)
    trusted = browser.parse_networks(["127.0.0.1"])
    limiter = browser.RateLimiter(1e9, 1e9)
    rows: list[tuple[str, float]] = []
    rows.append(("origin + client IP + rate limit", median_us(lambda: [
        (runtime.shops.by_origin(COLLECT_ORIGIN, "127.0.0.1"),
         limiter.check(browser.rate_key(browser.client_ip("127.0.0.1", f"10.0.0.{i % 250}",
                                                          trusted) or "")))
        for i in range(n)] and n, rounds)))
    rows.append(("beacon parse (JSON + beacon model)", median_us(
        lambda: [read_beacon(b) for b in bodies] and n, rounds)))
    beacons = [read_beacon(b) for b in bodies]
    rows.append(("cookies decided", median_us(lambda: [
        browser.decide_by_hand(b.cookies, b.click_id(), 1_700_000_000_000, 1, True)
        for b in beacons] and n, rounds)))

    def mapped() -> list[Any]:
        return [mapping.event(b, b.cookies, fbp=b.cookies.get("_fbp"), fbc=None,
                              ip="203.0.113.7", user_agent="Mozilla/5.0") for b in beacons]

    rows.append(("event validation (mapping + Event model)", median_us(
        lambda: mapped() and n, rounds)))
    events = [m[0] for m in mapped()]
    facts = mapped()[0][1]
    rows.append(("normalize_user whole (fbp, ga, ip, ua)", median_us(
        lambda: [normalize_user(e.user, now_ms=1) for e in events] and n, rounds)))

    def make_events() -> list[Any]:
        return [m[0] for m in (mapping.event(b, b.cookies, fbp=b.cookies.get("_fbp"),
                                             fbc=None, ip="203.0.113.7", user_agent="UA")
                               for b in (read_beacon(beacon_body())
                                         for _ in range(CONCURRENCY)))]

    prepare, sql, commit = store_stages(runtime, make_events, CONCURRENCY, rounds, facts)
    rows.append(("Pipeline.prepare whole (normalize + record + plan)", prepare))
    rows.append((f"SQL (groups of {CONCURRENCY})", sql))
    rows.append((f"commit/fsync (groups of {CONCURRENCY})", commit))
    rows.append(("response encoding", median_us(lambda: [
        json_response({"status": "queued", "event_id": f"e{i}"}, status_code=202)
        for i in range(n)] and n, rounds)))
    rows += logging_metrics_rows(n, n, rounds)
    rows.append(framework_row(loop, "/collect", COLLECT_HEADERS, total, 1, rounds))
    rows += whole_request_rows(app, loop, "/collect", COLLECT_HEADERS, beacon_body, total, 1,
                               rounds)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--events", type=int, default=2000, help="events per stage and round")
    parser.add_argument("--profile", choices=["collect", "api1", "api500"])
    args = parser.parse_args()
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(environ={
            "TRACKSIDE_DATABASE_URL": f"sqlite:///{Path(tmp) / 'stages.db'}",
            "TRACKSIDE_API_KEYS": API_KEY, "TRACKSIDE_ALLOWED_ORIGINS": COLLECT_ORIGIN,
            "TRACKSIDE_TRUSTED_PROXIES": "127.0.0.1"})
        runtime = Runtime.from_settings(settings)
        app = create_app(runtime, run_worker=False)
        try:  # as `trackside serve` does before serving (absent before issue 17)
            from trackside.web.serving import tune_gc
        except ImportError:
            pass
        else:
            tune_gc()
        try:
            if args.profile:
                profile(args.profile, app, loop, args.events)
                return
            tables = {
                "/collect": collect_stages(runtime, app, loop, args.events, args.rounds),
                "/v1/events x1": api_stages(runtime, app, loop, 1, args.events, args.rounds),
                "/v1/events x500": api_stages(runtime, app, loop, 500, max(args.events, 2000),
                                              args.rounds),
            }
        finally:
            loop.run_until_complete(app.state.committer.aclose())
            runtime.close()
            loop.close()
    print(f"µs per event, median of {args.rounds} rounds, Python {sys.version.split()[0]}")
    for title, rows in tables.items():
        print(f"\n{title}")
        for name, value in rows:
            print(f"  {name:58} {value:8.1f}")
        print(f"  {'= events/s in-process (whole request)':58} {1e6 / rows[-1][1]:8.0f}")


def profile(path: str, app: Any, loop: asyncio.AbstractEventLoop, events: int) -> None:
    from pyinstrument import Profiler

    per_request = {"collect": 1, "api1": 1, "api500": 500}[path]
    requests = max(1, events // per_request) if per_request == 1 else max(4, events // 500)
    if path == "collect":
        target, headers, make = "/collect", COLLECT_HEADERS, beacon_body
    else:
        target, headers = "/v1/events", API_HEADERS

        def make() -> bytes:
            return api_body(per_request)
    bodies = [make() for _ in range(requests)]
    profiler = Profiler(interval=0.0002)
    profiler.start()
    loop.run_until_complete(_drive(app, target, headers, bodies))
    profiler.stop()
    print(profiler.output_text(unicode=True, color=False, show_all=False))


if __name__ == "__main__":
    main()
