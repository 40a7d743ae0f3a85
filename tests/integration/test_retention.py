"""Retention: after purge no IP, user agent or raw cookie remains in the database file."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from typer.testing import CliRunner

from trackside.cli import app
from trackside.config import load_settings
from trackside.retention import purge_personal_data
from trackside.runtime import Runtime

IP = "198.51.100.234"
UA = "Mozilla/5.0 (CanaryAgent 7.7)"
FBP = "fb.1.1700000000000.987654321"
FBC = "fb.1.1700000000000.IwAR-canaryclick_ID"
GRANTED = {"ad_storage": "granted", "ad_user_data": "granted", "analytics_storage": "granted"}


def file_bytes(db: Path) -> bytes:
    data = db.read_bytes()
    wal = Path(str(db) + "-wal")
    return data + (wal.read_bytes() if wal.exists() else b"")


def test_purge_clears_browser_context_and_keeps_counts(tmp_path: Path, monkeypatch) -> None:
    db = tmp_path / "r.db"
    environ = {"TRACKSIDE_DATABASE_URL": f"sqlite:///{db}", "TRACKSIDE_JOIN_WINDOW_S": "0"}
    runtime = Runtime.from_settings(load_settings(environ=environ))
    long_ago = time.time() - 40 * 86400
    # Bought, accepted and delivered 40 days ago (the worker on that day's clock).
    events = [
        {"event_name": "Purchase", "event_id": f"R{i}", "event_time": int(long_ago),
         "event_source_url": "https://shop.example/thanks",
         "user": {"email": f"c{i}@example.com", "ip": IP, "user_agent": UA, "fbp": FBP, "fbc": FBC},
         "order": {"reference": f"R{i}", "value": 5, "currency": "EUR"}, "consent": GRANTED}
        for i in range(3)
    ]
    runtime.pipeline.accept(events, "api", now=long_ago)

    async def deliver() -> None:
        # The dry run answers as Meta did that day too.
        dryrun = runtime.destination("dryrun")
        dryrun.transport._clock = lambda: long_ago + 1  # type: ignore[attr-defined]
        async with runtime.worker(clock=lambda: long_ago + 1) as worker:
            await worker.drain()

    asyncio.run(deliver())
    before = {c.destination: c.counts for c in runtime.store.counts()}
    assert before == {"dryrun": {"delivered": 3}}
    assert IP.encode() in file_bytes(db)
    runtime.close()

    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(app, ["purge"])
    assert result.exit_code == 0, result.output
    assert "purged browser context of 3 events" in result.output

    raw = file_bytes(db)
    for secret in (IP, UA, FBP, FBC, "IwAR-canaryclick_ID"):
        assert secret.encode() not in raw, secret
    runtime = Runtime.from_settings(load_settings(environ=environ))
    assert {c.destination: c.counts for c in runtime.store.counts()} == before
    [view] = runtime.store.event_view("R1")
    assert "em" in view.event.user_data and "client_ip_address" not in view.event.user_data
    assert "client_ip_address" not in view.outbox[0].sent["user_data"]
    runtime.close()


def test_recent_pending_and_dead_events_are_kept(tmp_path: Path) -> None:
    db = tmp_path / "k.db"
    runtime = Runtime.from_settings(load_settings(environ={
        "TRACKSIDE_DATABASE_URL": f"sqlite:///{db}", "TRACKSIDE_JOIN_WINDOW_S": "0"}))
    now = time.time()
    base = {"event_name": "Lead", "event_time": int(now), "consent": GRANTED,
            "event_source_url": "https://shop.example/", "user": {"email": "a@b.co", "ip": IP}}
    # Accepted 40 days ago, still pending (the worker never ran).
    runtime.pipeline.accept([{**base, "event_id": "old-pending",
                              "event_time": int(now - 40 * 86400)}], "api", now=now - 40 * 86400)
    runtime.pipeline.accept([{**base, "event_id": "recent"}], "api", now=now)
    assert purge_personal_data(runtime.store, now - 30 * 86400, now) == 0
    assert runtime.store.event_view("old-pending")[0].event.user_data["client_ip_address"] == IP
    runtime.close()
