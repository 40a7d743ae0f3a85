"""Delivery throughput: trackside's worker vs Meta's facebook-business SDK, same fake, same run.

    python bench/delivery.py [--events 50000] [--rounds 3]

1. Pre-fills a SQLite outbox with N purchase events (already normalized, as accepted).
2. Drains it with `trackside`'s worker (in a subprocess, which also reports its peak RSS) to
   the fake Graph API (another subprocess on loopback), and the same N events with the SDK
   (`EventRequest` of 1,000 events, as its docs show) to the same fake.
3. Repeats, interleaved, and prints medians and the ratio. Also drains a backlog 5× smaller to
   show the worker's peak memory does not grow with the backlog.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes.server import free_port  # noqa: E402
from trackside.config import Settings  # noqa: E402
from trackside.pipeline import Pipeline  # noqa: E402
from trackside.store.sqlite import SQLiteStore  # noqa: E402


def make_events(n: int, now: float) -> list[dict]:
    return [
        {
            "event_name": "Purchase",
            "event_id": f"ORD{i:07d}",
            "event_time": int(now) - (i % 3600),
            "event_source_url": "https://shop.example/order-confirmation",
            "user": {"email": f"customer{i}@example.com", "phone": f"+3361234{i % 10000:04d}",
                     "first_name": "Jeanne", "last_name": "Dupont", "city": "Paris",
                     "zip": "75018", "country": "fr", "external_id": f"cust-{i}",
                     "ip": "203.0.113.7", "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
                     "fbp": f"fb.1.1700000000000.{1000000 + i}"},
            "order": {"reference": f"ORD{i:07d}", "value": 10 + i % 90, "currency": "EUR",
                      "items": [{"id": f"SKU{i % 500}", "quantity": 1 + i % 3, "price": 9.9}]},
            "consent": {"ad_storage": "granted", "ad_user_data": "granted",
                        "analytics_storage": "granted", "ad_personalization": "granted"},
        }
        for i in range(n)
    ]


def prefill(path: Path, events: list[dict], now: float) -> None:
    store = SQLiteStore(str(path))
    store.migrate()
    settings = Settings(join_window_s=0, database_url=f"sqlite:///{path}")
    pipeline = Pipeline(settings, store, ["meta"])
    for start in range(0, len(events), 1000):
        pipeline.accept(events[start:start + 1000], "bench", now=now)
    store.close()


def start_fake(pixel_id: str, token: str, *options: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, str(ROOT / "bench/_fake_graph_server.py"),
                                str(port), pixel_id, token, *options])
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.get(url + "/v26.0/1/events", timeout=0.5)
            return process, url
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError("fake Graph API did not start")


def trackside_drain(db: Path, url: str, pixel_id: str, token: str) -> dict:
    out = subprocess.run([sys.executable, str(ROOT / "bench/_drain_once.py"), str(db), url,
                          pixel_id, token], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def sdk_send(events: list[dict], url: str, pixel_id: str, token: str) -> float:
    """The SDK path a shop's own code would take: build objects, EventRequest per 1,000."""
    from facebook_business.adobjects.serverside.action_source import ActionSource
    from facebook_business.adobjects.serverside.content import Content
    from facebook_business.adobjects.serverside.custom_data import CustomData
    from facebook_business.adobjects.serverside.event import Event
    from facebook_business.adobjects.serverside.event_request import EventRequest
    from facebook_business.adobjects.serverside.user_data import UserData
    from facebook_business.api import FacebookAdsApi
    from facebook_business.session import FacebookSession

    FacebookSession.GRAPH = url  # the SDK's documented base URL attribute
    FacebookAdsApi.init(access_token=token, api_version="v26.0")
    started = time.perf_counter()
    for start in range(0, len(events), 1000):
        batch = []
        for raw in events[start:start + 1000]:
            user, order = raw["user"], raw["order"]
            user_data = UserData(
                email=user["email"], phone=user["phone"].lstrip("+"), first_name=user["first_name"],
                last_name=user["last_name"], city=user["city"], zip_code=user["zip"],
                country_code=user["country"], external_id=user["external_id"],
                client_ip_address=user["ip"], client_user_agent=user["user_agent"], fbp=user["fbp"],
            )
            contents = [Content(product_id=i["id"], quantity=i["quantity"], item_price=i["price"])
                        for i in order["items"]]
            custom = CustomData(value=float(order["value"]), currency=order["currency"].lower(),
                                contents=contents, order_id=order["reference"])
            batch.append(Event(event_name="Purchase", event_time=raw["event_time"],
                               event_id=raw["event_id"], event_source_url=raw["event_source_url"],
                               action_source=ActionSource.WEBSITE, user_data=user_data,
                               custom_data=custom))
        EventRequest(events=batch, pixel_id=pixel_id).execute()
    return len(events) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    pixel_id, token = str(10**14 + secrets.randbelow(10**14)), "EAAbench" + secrets.token_hex(8)
    now = time.time()
    events = make_events(args.events, now)
    small = events[: args.events // 5]
    ours, theirs, memory = [], [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for round_no in range(args.rounds):
            fake, url = start_fake(pixel_id, token)
            try:
                db = Path(tmp) / f"r{round_no}.db"
                prefill(db, events, now)
                result = trackside_drain(db, url, pixel_id, token)
                assert result["counts"]["meta"] == {"delivered": args.events}, result["counts"]
                ours.append(result["events_per_s"])
                memory[args.events] = result["peak_rss_mb"]
                theirs.append(sdk_send(events, url, pixel_id, token))
                if round_no == 0:
                    db_small = Path(tmp) / "small.db"
                    prefill(db_small, small, now)
                    drained = trackside_drain(db_small, url, pixel_id, token)
                    memory[len(small)] = drained["peak_rss_mb"]
                print(f"round {round_no + 1}: trackside {ours[-1]:,.0f} ev/s, "
                      f"SDK {theirs[-1]:,.0f} ev/s",
                      flush=True)
            finally:
                fake.terminate()
                fake.wait()
    median_ours, median_theirs = statistics.median(ours), statistics.median(theirs)
    print(f"\nevents: {args.events:,}  rounds: {args.rounds}  cpus: {os.cpu_count()}")
    print(f"trackside worker : {median_ours:,.0f} events/s (median)")
    print(f"facebook-business: {median_theirs:,.0f} events/s (median)")
    print(f"ratio            : {median_ours / median_theirs:.2f}x  (target >= 3x)")
    for size, peak in sorted(memory.items()):
        print(f"worker peak RSS draining {size:,} events: {peak:.0f} MB")


if __name__ == "__main__":
    main()
