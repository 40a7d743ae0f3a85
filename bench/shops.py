"""Several shops in one gateway (issue 13): ingest and delivery with 1 shop vs 50 shops, same run.

    python bench/shops.py [--shops 50] [--duration 3] [--connections 32] [--batch 100]
                          [--events 5000] [--rounds 3] [--only ingest|delivery]

Target: with 50 shops configured, ingest and delivery rates within 10 % of the single-shop
figures measured in the same run. Both sides are configured the same way, a TRACKSIDE_CONFIG
file with ``[shops.<name>]`` tables (one table vs ``--shops`` tables), each shop with its own
API key, Meta pixel and token.

1. ingest: ``trackside serve --no-worker`` for each configuration (both running, on fresh
   SQLite files), loaded by wrk (bench/ingest.py's helpers) with ``POST /v1/events`` of one
   event and of ``--batch`` events per request; every request carries a random shop's key.
2. delivery: a backlog of ``--events`` accepted purchases (bench/delivery.py's events) in one
   shop, vs the same events spread round-robin over the shops, drained by the runtime's worker
   (one Worker per shop side by side with several) in a subprocess, to one fake Graph API on
   loopback that answers every shop's pixel.

Rounds alternate 1 shop / N shops; the figures are the medians, with the ratio N / 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from delivery import make_events  # noqa: E402
from ingest import EVENT, WRK, Result, _wrk, free_port, stop, wait_ready  # noqa: E402

# bench/ingest.py's LUA with one change: each request takes a random key of the list.
LUA = r'''
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  n = tonumber(args[1])
  nonce = args[2]
  math.randomseed(tonumber(args[3]))
  counter = 0
  keys = {%(keys)s}
end
function request()
  counter = counter + 1
  local parts = {}
  for i = 1, n do
    local id = nonce .. "-" .. tid .. "-" .. counter .. "-" .. i
    parts[i] = string.format(%(template)s, id, id)
  end
  local headers = {["Content-Type"] = "application/json",
                   ["Authorization"] = "Bearer " .. keys[math.random(#keys)]}
  local body = '{"events":[' .. table.concat(parts, ",") .. ']}'
  return wrk.format("POST", "/v1/events", headers, body)
end
'''


class Config:
    """A TRACKSIDE_CONFIG file of ``count`` shops, each with its own key, pixel and token."""

    def __init__(self, folder: Path, label: str, count: int, graph_url: str) -> None:
        self.database = folder / f"{label}.db"
        self.path = folder / f"{label}.toml"
        self.shops = [f"shop{i:02d}" for i in range(count)]
        self.keys = {name: f"key-{name}-{secrets.token_hex(8)}" for name in self.shops}
        self.pixels = {name: str(10**14 + secrets.randbelow(10**14)) for name in self.shops}
        self.tokens = {name: "EAAbench" + secrets.token_hex(8) for name in self.shops}
        lines = [f'database_url = "sqlite:///{self.database}"', "join_window_s = 0",
                 f'meta_graph_url = "{graph_url}"']
        for name in self.shops:
            lines += [f"[shops.{name}]", f'api_keys = ["{self.keys[name]}"]',
                      f'meta_pixel_id = "{self.pixels[name]}"',
                      f'meta_access_token = "{self.tokens[name]}"']
        self.path.write_text("\n".join(lines) + "\n")

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKSIDE_")}
        env["TRACKSIDE_CONFIG"] = str(self.path)
        return env


# == ingest ======================================================================================

def start_serve(config: Config) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "trackside.cli", "serve", "--no-worker", "--port", str(port),
         "--log-level", "warning"], env=config.env())
    url = f"http://127.0.0.1:{port}"
    wait_ready(f"{url}/healthz", process)
    return process, url


def run_ingest(name: str, url: str, config: Config, events: int, duration: int,
               connections: int) -> Result:
    keys = ",".join(json.dumps(config.keys[s]) for s in config.shops)
    script = LUA % {"keys": keys, "template": json.dumps(EVENT)}
    return _wrk(name, script, url, [str(events), secrets.token_hex(4),
                                    str(secrets.randbelow(2**31))],
                duration, connections, events)


# == delivery ====================================================================================

def start_fake(configs: list[Config]) -> tuple[subprocess.Popen[bytes], str]:
    import httpx

    pairs = [f"{c.pixels[s]}={c.tokens[s]}" for c in configs for s in c.shops]
    first_pixel, first_token = pairs[0].split("=")
    port = free_port()
    process = subprocess.Popen([sys.executable, str(ROOT / "bench/_fake_graph_server.py"),
                                str(port), first_pixel, first_token, *pairs[1:]])
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/v26.0/1/events", timeout=0.5)
            return process, url
        except httpx.HTTPError:
            time.sleep(0.05)
    process.terminate()
    raise RuntimeError("fake Graph API did not start")


def _runtime(config: Config):  # type: ignore[no-untyped-def]
    from trackside.runtime import Runtime
    from trackside.shops import load_shops

    return Runtime.from_shops(load_shops(environ=config.env()))


def prefill(config: Config, events: list[dict], now: float) -> None:
    """The events spread round-robin over the config's shops, accepted by each shop's
    pipeline (1,000 at a time, as delivery.py does)."""
    if config.database.exists():
        for suffix in ("", "-wal", "-shm"):
            Path(f"{config.database}{suffix}").unlink(missing_ok=True)
    runtime = _runtime(config)
    runtime.store.migrate()
    count = len(config.shops)
    for index, name in enumerate(config.shops):
        mine = events[index::count]
        for start in range(0, len(mine), 1000):
            runtime.per_shop[name].pipeline.accept(mine[start:start + 1000], "bench", now=now)
    runtime.store.close()


def drain_main(config_path: str) -> None:
    """In the subprocess: drain every shop's backlog; print events/s and counts as JSON."""
    from trackside.runtime import Runtime
    from trackside.shops import load_shops

    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKSIDE_")}
    env["TRACKSIDE_CONFIG"] = config_path
    runtime = Runtime.from_shops(load_shops(environ=env))

    # The workers are built before the clock starts: each shop's Worker opens its own HTTP
    # client, whose TLS context loads the CA bundle (~27 ms each, 1.4 s for 50 shops, cProfile):
    # a start-up cost of `trackside serve`/`worker`, not a delivery rate.
    worker = runtime.worker(timeout_s=60)

    async def drain() -> tuple[int, float]:
        async with worker:
            started = time.perf_counter()
            handled = await worker.drain(timeout_s=3600)
            return handled, time.perf_counter() - started

    handled, elapsed = asyncio.run(drain())
    delivered = sum(c.counts.get("delivered", 0) for c in runtime.store.counts()
                    if c.destination == "meta")
    print(json.dumps({"handled": handled, "seconds": elapsed, "events_per_s": handled / elapsed,
                      "delivered": delivered}))


def run_drain(config: Config) -> dict:
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "_drain",
                          str(config.path)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# == the run =====================================================================================

def _stored(database: Path) -> tuple[int, int]:
    """Events in the store, and how many shops they belong to."""
    with sqlite3.connect(database) as db:
        count, shops = db.execute("SELECT COUNT(*), COUNT(DISTINCT shop) FROM events").fetchone()
    return int(count), int(shops)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shops", type=int, default=50)
    parser.add_argument("--duration", type=int, default=3, help="seconds per wrk measurement")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--batch", type=int, default=100, help="events per batched request")
    parser.add_argument("--events", type=int, default=5000, help="delivery backlog")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=("ingest", "delivery"), help="measure one part")
    args = parser.parse_args(argv)
    many = f"{args.shops} shops"
    figures: dict[str, dict[str, list[float]]] = {
        k: {"1 shop": [], many: []} for k in ("single", "batch", "delivery")}
    now = time.time()
    events = make_events(args.events, now)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        # The fake's URL goes into the configs, so it starts first, with the pixels known: the
        # configs are written twice (same keys and pixels, the URL filled in).
        one = Config(folder, "one", 1, "http://127.0.0.1:1")
        several = Config(folder, "many", args.shops, "http://127.0.0.1:1")
        fake, graph_url = start_fake([one, several])
        try:
            for config in (one, several):
                config.path.write_text(config.path.read_text().replace(
                    "http://127.0.0.1:1", graph_url))
            sides = [("1 shop", one), (many, several)]

            # -- ingest: both servers up, rounds alternate between them
            servers = []
            stored: dict[str, tuple[int, int]] = {}
            try:
                for _, config in sides if args.only != "delivery" else ():
                    servers.append(start_serve(config))
                for (_, config), (_, url) in zip(sides[:len(servers)], servers, strict=True):
                    run_ingest("warm-up", url, config, 1, 1, args.connections)
                for round_no in range(args.rounds if args.only != "delivery" else 0):
                    order = sides if round_no % 2 == 0 else sides[::-1]
                    for label, config in order:
                        url = servers[sides.index((label, config))][1]
                        single = run_ingest(label, url, config, 1, args.duration,
                                            args.connections)
                        batch = run_ingest(label, url, config, args.batch, args.duration,
                                           args.connections)
                        figures["single"][label].append(single.events_s)
                        figures["batch"][label].append(batch.events_s)
                        print(f"ingest round {round_no + 1}, {label}: {single.requests_s:,.0f} "
                              f"req/s single ({single.non_2xx} non-2xx), {batch.events_s:,.0f} "
                              f"events/s in batches of {args.batch} ({batch.non_2xx} non-2xx)",
                              flush=True)
            finally:
                for process, _ in servers:
                    stop(process)
            if args.only != "delivery":
                stored = {label: _stored(config.database) for label, config in sides}

            # -- delivery: the same backlog, in one shop or spread over all of them
            for round_no in range(args.rounds if args.only != "ingest" else 0):
                order = sides if round_no % 2 == 0 else sides[::-1]
                for label, config in order:
                    prefill(config, events, now)
                    result = run_drain(config)
                    assert result["delivered"] == args.events, result
                    figures["delivery"][label].append(result["events_per_s"])
                    print(f"delivery round {round_no + 1}, {label}: "
                          f"{result['events_per_s']:,.0f} events/s", flush=True)
        finally:
            fake.terminate()
            fake.wait()

    print(f"\n{args.rounds} alternating rounds, medians; wrk -t1 -c{args.connections} "
          f"-d{args.duration}s; delivery of {args.events:,} events; {os.cpu_count()} CPUs, "
          f"Python {sys.version.split()[0]}")
    print(f"{'measurement':36} {'1 shop':>10} {many:>10} {'ratio':>7}")
    ratios: dict[str, float] = {}
    names = {"single": "ingest, 1 event/request (events/s)",
             "batch": f"ingest, {args.batch} events/request (ev/s)",
             "delivery": "delivery (events/s)"}
    for key, name in names.items():
        if not figures[key]["1 shop"]:
            continue
        base, other = (statistics.median(figures[key][s]) for s in ("1 shop", many))
        ratios[key] = other / base
        print(f"{name:36} {base:10,.0f} {other:10,.0f} {ratios[key]:7.2f}")
    missed = [names[k] for k, r in ratios.items() if r < 0.9]
    print("target (ratio >= 0.90): " + ("met" if not missed else "MISSED: " + "; ".join(missed)))
    if stored:
        print("events in the databases: " + ", ".join(f"{k}: {n:,} in {s} shop(s)"
                                                      for k, (n, s) in stored.items())
              + " (every 202'd event; warm-up adds some)")
    return ratios


if __name__ == "__main__" and sys.argv[1:2] == ["_drain"]:
    drain_main(sys.argv[2])
    sys.exit(0)

if __name__ == "__main__":
    if not os.path.exists(WRK):
        sys.exit(f"{WRK} is required (Debian's wrk)")
    main()
