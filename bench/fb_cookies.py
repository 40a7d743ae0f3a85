"""The cost of Meta's Parameter Builder on /collect, beside trackside's hand-written code.

    python bench/fb_cookies.py [--rounds 3] [--duration 10] [--connections 32]

Two parts, in one run:

1. Per call, in this process: ``decide_with_meta`` (identity/param_builder.py: the checks, a
   new ``ParamBuilder``, the Public Suffix List lookup) and ``decide_by_hand`` on the same
   inputs, µs per call (median of 7 repeats), for three shapes of request.
2. ``POST /collect`` req/s with ``TRACKSIDE_FB_COOKIE_BUILDER=meta`` and ``=trackside``,
   bench/ingest.py's collect server and beacon (an existing four-part ``_fbp``: the builder
   rewrites it, one ``Set-Cookie`` per answer), the two alternated ``--rounds`` times (each
   first every other round) on fresh SQLite files; medians and their ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ingest

from trackside.identity.param_builder import (
    PublicSuffixResolver,
    decide_by_hand,
    decide_with_meta,
)

CASES = {
    "new visitor, fbclid in the URL": ({}, "IwAR2F4-dbP0l7Mn_x"),
    "the pixel's four-part _fbp": ({"_fbp": "fb.1.1700000000000.1234567890"}, None),
    "five-part _fbp and _fbc, same click": (
        {"_fbp": "fb.1.1700000000000.1234567890.AQIAAQMC",
         "_fbc": "fb.1.1700000000000.IwAR2F4-dbP0l7Mn_x.AQICAQMC"}, "IwAR2F4-dbP0l7Mn_x"),
}
HOST = "track.shop.example.co.uk"


def per_call_us(statement: object, number: int) -> float:
    times = timeit.repeat(statement, number=number, repeat=7)  # type: ignore[arg-type]
    return statistics.median(times) / number * 1e6


def micro() -> None:
    print(f"per call, µs (median of 7 repeats), host {HOST}:")
    print(f"{'request':40} {'trackside':>10} {'meta':>10} {'meta/trackside':>15}")
    now = int(time.time() * 1000)
    for name, (cookies, fbclid) in CASES.items():
        hand = per_call_us(lambda c=cookies, f=fbclid: decide_by_hand(c, f, now, 1, True), 20000)
        meta = per_call_us(lambda c=cookies, f=fbclid: decide_with_meta(c, f, HOST, now, True),
                           5000)
        print(f"{name:40} {hand:10.1f} {meta:10.1f} {meta / hand:15.1f}")
    resolver = PublicSuffixResolver()
    print(f"of which the Public Suffix List lookup: "
          f"{per_call_us(lambda: resolver.resolve(HOST), 20000):.1f} µs")


def start(port: int, workdir: Path, database: Path, builder: str) -> subprocess.Popen[bytes]:
    (workdir / "collect_app.py").write_text(ingest.COLLECT_APP)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKSIDE_")}
    env.update({"TRACKSIDE_DATABASE_URL": f"sqlite:///{database}",
                "TRACKSIDE_ALLOWED_ORIGINS": ingest.COLLECT_ORIGIN,
                "TRACKSIDE_TRUSTED_PROXIES": "127.0.0.1",
                "TRACKSIDE_FB_COOKIE_BUILDER": builder})
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "collect_app:app", "--port", str(port),
         "--log-level", "warning", "--no-access-log", "--no-proxy-headers"],
        cwd=workdir, env=env,
    )


def collect(rounds: int, duration: int, connections: int) -> None:
    results: dict[str, list[ingest.Result]] = {"trackside": [], "meta": []}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for round_number in range(rounds):
            # Each goes first every other round: a drift in the machine's load hits both.
            order = ("trackside", "meta") if round_number % 2 == 0 else ("meta", "trackside")
            for builder in order:
                port = ingest.free_port()
                server = start(port, workdir, workdir / f"{builder}{round_number}.db", builder)
                try:
                    url = f"http://127.0.0.1:{port}"
                    ingest.wait_ready(f"{url}/healthz", server)
                    ingest.run_collect_wrk("warm-up", url, 2, connections)
                    results[builder].append(ingest.run_collect_wrk(
                        f"{builder} round {round_number + 1}", url, duration, connections))
                finally:
                    ingest.stop(server)
    print(f"\nPOST /collect, wrk -t1 -c{connections} -d{duration}s, {rounds} alternated rounds, "
          f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    print(f"{'builder':12} {'req/s (each round)':30} {'median':>8} {'p50 ms':>8} {'p99 ms':>8}"
          f" {'non-2xx':>8}")
    medians: dict[str, float] = {}
    for builder, runs in results.items():
        medians[builder] = statistics.median(r.requests_s for r in runs)
        each = ", ".join(f"{r.requests_s:.0f}" for r in runs)
        print(f"{builder:12} {each:30} {medians[builder]:8.0f} "
              f"{statistics.median(r.p50_ms for r in runs):8.2f} "
              f"{statistics.median(r.p99_ms for r in runs):8.2f} "
              f"{sum(r.non_2xx for r in runs):8d}")
    print(f"\nmeta / trackside req/s: {medians['meta'] / medians['trackside']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description="Meta's Parameter Builder vs trackside's code")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--micro-only", action="store_true", help="skip the /collect runs")
    args = parser.parse_args()
    micro()
    if not args.micro_only:
        collect(args.rounds, args.duration, args.connections)


if __name__ == "__main__":
    main()
