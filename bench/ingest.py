"""Ingest throughput: a bare ASGI app vs trackside's POST /v1/events, same machine, same run.

    python bench/ingest.py [--duration 10] [--connections 32] [--batch 500]

Servers run in their own processes on loopback, each under uvicorn with the same options
(httptools + uvloop, no access log, log level warning); the load generator is wrk (Debian's
/usr/bin/wrk), another process, with the same concurrency for every measurement.

1. bare: an ASGI app that reads a small JSON POST body, parses it and answers 202.
2. trackside, one event per request: ``trackside serve --no-worker`` on a fresh SQLite file,
   every request a Purchase with a unique event id; a 202 means the event is committed
   (WAL, synchronous=FULL).
3. trackside, ``--batch`` events per request.
4. latency at half the measured maximum rate of (1) and (2), paced by wrk's ``delay()``.

Prints requests/s, events/s, p50/p99, the server's CPU time per request and its resident
memory after each measurement, the ratios against the bare app (by rate and by CPU), then
checks that the database holds every event a 202 acknowledged.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
WRK = "/usr/bin/wrk"
API_KEY = "bench-" + secrets.token_hex(8)

# One realistic event: contact data to normalize and hash, IP/UA, consent, an order.
EVENT = (
    '{"event_name":"Purchase","event_id":"%s",'
    '"event_source_url":"https://shop.example/order-confirmation",'
    '"user":{"email":"jeanne.dupont@example.com","phone":"+33612345678",'
    '"first_name":"Jeanne","last_name":"Dupont","zip":"75018","country":"fr",'
    '"ip":"203.0.113.7","user_agent":"Mozilla/5.0 (X11; Linux x86_64)",'
    '"fbp":"fb.1.1700000000000.1234567890"},'
    '"order":{"reference":"%s","value":59.9,"currency":"EUR",'
    '"items":[{"id":"SKU1","quantity":1,"price":59.9}]},'
    '"consent":{"ad_storage":"granted","analytics_storage":"granted",'
    '"ad_user_data":"granted","ad_personalization":"granted"}}'
)

BARE_APP = '''
import json

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    if body:
        json.loads(body)
    await send({"type": "http.response.start", "status": 202,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"status":"queued"}'})
'''

LUA = r'''
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  n = tonumber(args[1])
  pause = tonumber(args[2])
  nonce = args[3]
  counter = 0
  headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer %(key)s"}
end
function request()
  counter = counter + 1
  local parts = {}
  for i = 1, n do
    local id = nonce .. "-" .. tid .. "-" .. counter .. "-" .. i
    parts[i] = string.format(%(template)s, id, id)
  end
  return wrk.format("POST", "%(path)s", headers, '{"events":[' .. table.concat(parts, ",") .. ']}')
end
function delay()
  return pause
end
'''


@dataclass
class Result:
    name: str
    requests_s: float
    events_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    requests: int
    #: The server process's CPU time (user + system, every thread) per answered request: on a
    #: machine shared with other work the rates swing with the load, this much less.
    cpu_us: float = float("nan")
    #: The server's resident memory right after the measurement (MB).
    rss_mb: float = float("nan")


def rss_mb(pid: int) -> float:
    """Resident memory of a process now, MB (/proc/<pid>/status VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc/<pid>/stat, every thread)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:  # wrk prints e.g. "-nan" when no request completed in the window
        return float("nan")
    value, unit = match.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def _wrk(name: str, script: str, url: str, wrk_args: list[str], duration: int,
         connections: int, events: int, pid: int | None = None) -> Result:
    """Run wrk with a Lua script in its own process; parse its throughput and latency (and
    the CPU time process ``pid`` spent meanwhile)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    cpu_before = cpu_seconds(pid) if pid is not None else 0.0
    try:
        out = subprocess.run(
            [WRK, "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", handle.name,
             url, "--", *wrk_args],
            check=True, capture_output=True, text=True,
        ).stdout
    finally:
        os.unlink(handle.name)
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    refused = int(bad.group(1)) if bad else 0
    # Only answered events count: a 503 carried none into the store.
    answered = rps * (requests - refused) / requests if requests else 0.0
    cpu = (cpu_seconds(pid) - cpu_before) * 1e6 / requests if pid and requests else float("nan")
    return Result(name, rps, answered * events, p50, p99, refused, requests, cpu,
                  rss_mb(pid) if pid else float("nan"))


def run_wrk(name: str, url: str, path: str, events: int, duration: int, connections: int,
            pause_ms: int = 0, pid: int | None = None) -> Result:
    template = json.dumps(EVENT)
    script = LUA % {"key": API_KEY, "template": template, "path": path}
    return _wrk(name, script, url, [str(events), str(pause_ms), secrets.token_hex(4)],
                duration, connections, events, pid)


def run_paced(name: str, url: str, path: str, target_rps: float, duration: int,
              connections: int, pid: int | None = None) -> Result:
    """``run_wrk`` at about ``target_rps``: wrk's per-connection delay() is calibrated with
    short probes, because the achieved rate also depends on the server's latency."""
    pause = max(1.0, connections / target_rps * 1000)
    for _ in range(3):
        probe = run_wrk(name, url, path, 1, 3, connections, pause_ms=round(pause))
        if abs(probe.requests_s - target_rps) < 0.05 * target_rps:
            break
        pause = max(1.0, pause * probe.requests_s / target_rps)
    return run_wrk(name, url, path, 1, duration, connections, pause_ms=round(pause), pid=pid)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def start_bare(port: int, workdir: Path) -> subprocess.Popen[bytes]:
    (workdir / "bare_app.py").write_text(BARE_APP)
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bare_app:app", "--port", str(port),
         "--log-level", "warning", "--no-access-log"],
        cwd=workdir,
    )


def start_trackside(port: int, database: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKSIDE_")}
    env.update({"TRACKSIDE_DATABASE_URL": f"sqlite:///{database}", "TRACKSIDE_API_KEYS": API_KEY})
    return subprocess.Popen(
        [sys.executable, "-m", "trackside.cli", "serve", "--no-worker", "--port", str(port),
         "--log-level", "warning"],
        env=env,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--batch", type=int, default=500, help="events per batched request")
    args = parser.parse_args()
    conns, duration = args.connections, args.duration
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        port = free_port()
        bare = start_bare(port, workdir)
        try:
            wait_ready(f"http://127.0.0.1:{port}/", bare)
            url = f"http://127.0.0.1:{port}"
            run_wrk("warm-up", url, "/", 1, 2, conns)
            bare_max = run_wrk("bare ASGI", url, "/", 1, duration, conns, pid=bare.pid)
            results.append(bare_max)
        finally:
            stop(bare)

        database = workdir / "bench.db"
        port = free_port()
        server = start_trackside(port, database)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_ready(f"{url}/healthz", server)
            run_wrk("warm-up", url, "/v1/events", 1, 2, conns)
            single = run_wrk("trackside 1 event/request", url, "/v1/events", 1, duration, conns,
                             pid=server.pid)
            results.append(single)
            batched = run_wrk(f"trackside {args.batch} events/request", url, "/v1/events",
                              args.batch, duration, conns, pid=server.pid)
            results.append(batched)
            results.append(run_paced("trackside 1 event/request, half rate", url, "/v1/events",
                                     single.requests_s / 2, duration, conns, pid=server.pid))
        finally:
            stop(server)
        stored = sqlite3.connect(database).execute("SELECT COUNT(*) FROM events").fetchone()[0]

        port = free_port()
        bare = start_bare(port, workdir)
        try:
            wait_ready(f"http://127.0.0.1:{port}/", bare)
            results.append(run_paced("bare ASGI, half rate", f"http://127.0.0.1:{port}", "/",
                                     bare_max.requests_s / 2, duration, conns))
        finally:
            stop(bare)

    print(f"\nwrk -t1 -c{conns} -d{duration}s, {os.cpu_count()} CPUs, "
          f"Python {sys.version.split()[0]}")
    print(f"{'measurement':42} {'req/s':>9} {'events/s':>10} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'non-2xx':>8} {'CPU µs/req':>10} {'RSS MB':>7}")
    for r in results:
        print(f"{r.name:42} {r.requests_s:9.0f} {r.events_s:10.0f} {r.p50_ms:8.2f} "
              f"{r.p99_ms:8.2f} {r.non_2xx:8d} {r.cpu_us:10.0f} {r.rss_mb:7.0f}")
    base = bare_max.requests_s
    single_ratio = single.requests_s / base
    print(f"\nsingle-event requests / bare requests: {single_ratio:.2f} (target ≥ 0.25)")
    print(f"batched events/s / bare requests/s:    {batched.events_s / base:.2f} (target ≥ 0.5)")
    # The same ratios from the servers' CPU time per request (less sensitive to other load).
    print(f"CPU: bare / trackside per request: {bare_max.cpu_us / single.cpu_us:.2f} (1 event), "
          f"bare per request / trackside per event: "
          f"{bare_max.cpu_us / (batched.cpu_us / args.batch):.2f} ({args.batch} events)")
    half = results[3]
    print(f"p99 at half rate ({half.requests_s:.0f} req/s): {half.p99_ms:.1f} ms (target < 50)")
    # wrk counts requests completed in the window; a few more may be answered after it ends.
    acked = sum((r.requests - r.non_2xx)
                * (args.batch if "events/request" in r.name and "1 event" not in r.name else 1)
                for r in results[1:4])
    print(f"events in the database: {stored} (requests answered 202 within the windows "
          f"carried {acked}; warm-up adds some)")



# == POST /collect: single browser beacons (issue 5; owned by the browser-tag engineer) =========
#
#     python bench/ingest.py collect [--duration 10] [--connections 32]
#
# Same run, same options: the bare ASGI app first, then the gateway (create_app + the /collect
# routes, as `trackside serve` mounts them) on a fresh SQLite file. Every request is one
# text/plain beacon, as sendBeacon posts it, with an Origin, an existing _fbp cookie and granted
# consent; a 202 means the event is committed. The gateway trusts 127.0.0.1 as its reverse
# proxy and wrk varies X-Forwarded-For, so the per-client rate limit sees many shoppers (and is
# exercised on every request) instead of refusing one.

COLLECT_ORIGIN = "https://shop.example"
BEACON = (
    '{"v":1,"type":"track","event_name":"AddToCart","event_id":"%s",'
    '"url":"https://shop.example/product/7","referrer":"https://shop.example/",'
    '"params":{"value":14.9,"currency":"EUR","cart_id":"cart-%s",'
    '"items":[{"id":"mug","name":"Enamel mug","price":14.9,"quantity":1}]},'
    '"cookies":{"_fbp":"fb.1.1700000000000.1234567890","_ga":"GA1.1.1197596843.1673515099"},'
    '"fbclid":null,"consent":{"ad_storage":"granted","analytics_storage":"granted",'
    '"ad_user_data":"granted","ad_personalization":"granted"},"pixel":true}'
)

COLLECT_APP = """
from trackside.config import load_settings
from trackside.runtime import Runtime
from trackside.web.app import create_app
from trackside.web.collect import collect_routes

runtime = Runtime.from_settings(load_settings())
app = create_app(runtime, run_worker=False)
if not any(getattr(route, "path", None) == "/collect" for route in app.routes):
    app.router.routes[0:0] = collect_routes(runtime)
try:  # what `trackside serve` does before serving (absent before issue 17)
    from trackside.web.serving import tune_gc
except ImportError:
    pass
else:
    tune_gc()
"""

COLLECT_LUA = r"""
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  nonce = args[1]
  counter = 0
end
function request()
  counter = counter + 1
  local id = nonce .. "-" .. tid .. "-" .. counter
  local xff = "10." .. tid .. "." .. (math.floor(counter / 250) %% 250) .. "."
    .. (counter %% 250 + 1)
  local headers = {["Content-Type"] = "text/plain;charset=UTF-8", ["Origin"] = "%(origin)s",
                   ["X-Forwarded-For"] = xff,
                   ["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36"}
  return wrk.format("POST", "/collect", headers, string.format(%(template)s, id, id))
end
"""


def run_collect_wrk(name: str, url: str, duration: int, connections: int,
                    pid: int | None = None) -> Result:
    script = COLLECT_LUA % {"origin": COLLECT_ORIGIN, "template": json.dumps(BEACON)}
    return _wrk(name, script, url, [secrets.token_hex(4)], duration, connections, 1, pid)


def start_collect(port: int, workdir: Path, database: Path) -> subprocess.Popen[bytes]:
    (workdir / "collect_app.py").write_text(COLLECT_APP)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKSIDE_")}
    env.update({"TRACKSIDE_DATABASE_URL": f"sqlite:///{database}",
                "TRACKSIDE_ALLOWED_ORIGINS": COLLECT_ORIGIN,
                "TRACKSIDE_TRUSTED_PROXIES": "127.0.0.1"})
    # --no-proxy-headers: TRACKSIDE_TRUSTED_PROXIES alone decides whose X-Forwarded-For counts.
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "collect_app:app", "--port", str(port),
         "--log-level", "warning", "--no-access-log", "--no-proxy-headers"],
        cwd=workdir, env=env,
    )


def collect_main() -> None:
    parser = argparse.ArgumentParser(description="POST /collect vs a bare ASGI app")
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    conns, duration = args.connections, args.duration
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        port = free_port()
        bare = start_bare(port, workdir)
        try:
            wait_ready(f"http://127.0.0.1:{port}/", bare)
            url = f"http://127.0.0.1:{port}"
            run_wrk("warm-up", url, "/", 1, 2, conns)
            bare_max = run_wrk("bare ASGI", url, "/", 1, duration, conns, pid=bare.pid)
        finally:
            stop(bare)
        database = workdir / "collect.db"
        port = free_port()
        server = start_collect(port, workdir, database)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_ready(f"{url}/healthz", server)
            run_collect_wrk("warm-up", url, 2, conns)
            beacons = run_collect_wrk("trackside POST /collect", url, duration, conns,
                                      pid=server.pid)
        finally:
            stop(server)
        stored = sqlite3.connect(database).execute(
            "SELECT COUNT(*) FROM events WHERE source = 'browser'").fetchone()[0]
    print(f"\nwrk -t1 -c{conns} -d{duration}s, {os.cpu_count()} CPUs, "
          f"Python {sys.version.split()[0]}")
    print(f"{'measurement':42} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} "
          f"{'CPU µs/req':>10}")
    for r in (bare_max, beacons):
        print(f"{r.name:42} {r.requests_s:9.0f} {r.p50_ms:8.2f} {r.p99_ms:8.2f} {r.non_2xx:8d} "
              f"{r.cpu_us:10.0f}")
    print(f"\n/collect requests / bare requests: {beacons.requests_s / bare_max.requests_s:.2f}"
          " (target ≥ 0.25)")
    print(f"CPU: bare / trackside per request: {bare_max.cpu_us / beacons.cpu_us:.2f}")
    print(f"browser events in the database: {stored} (beacons answered within the window: "
          f"{beacons.requests}; warm-up adds some)")


if __name__ == "__main__" and sys.argv[1:2] == ["collect"]:
    del sys.argv[1]
    collect_main()
    sys.exit(0)


if __name__ == "__main__":
    main()
