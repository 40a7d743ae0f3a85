"""Secret hygiene for every CLI command (issue 7): with distinctive secrets configured, run each
command, including error and crash paths, then search the output, the logs and the database
file: no canary appears."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.fixtures import fake_graph  # noqa: F401
from tests.fakes.graph_api import FakeGraphAPI, Fault
from tests.fakes.server import free_port

TOKEN = "EAAcanaryMETAtoken9f3k2"
GA4_SECRET = "canaryGA4secretQ8w7e"
API_KEY = "canaryAPIkey5t6y7u"
DB_PASSWORD = "canaryDBpasswordZ1x2"
PS_KEY = "CANARYPRESTASHOPKEY0123456789ABC"
SIGNING = "canarySigningKeyM9n8"
CANARIES = (TOKEN, GA4_SECRET, API_KEY, DB_PASSWORD, PS_KEY, SIGNING)


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trackside.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def env(fake_graph: FakeGraphAPI, tmp_path: Path) -> dict[str, str]:  # noqa: F811
    fake_graph.add_token(TOKEN, [fake_graph.pixel_id])
    import os

    return {
        # No TRACKSIDE_* of the developer's shell: `serve` and `worker` refuse unknown ones.
        **{k: v for k, v in os.environ.items() if not k.startswith("TRACKSIDE_")},
        "TRACKSIDE_DATABASE_URL": f"sqlite:///{tmp_path}/canary.db",
        "TRACKSIDE_META_PIXEL_ID": fake_graph.pixel_id,
        "TRACKSIDE_META_ACCESS_TOKEN": TOKEN,
        "TRACKSIDE_META_GRAPH_URL": fake_graph.url,
        "TRACKSIDE_META_API_VERSION": fake_graph.settings().meta_api_version,
        "TRACKSIDE_META_TEST_EVENT_CODE": "TEST123",
        "TRACKSIDE_GA4_MEASUREMENT_ID": "G-CANARY1",
        "TRACKSIDE_GA4_API_SECRET": GA4_SECRET,
        # A closed port: GA4 delivery and doctor's debug check fail, exercising error paths.
        "TRACKSIDE_GA4_URL": f"http://127.0.0.1:{free_port()}",
        "TRACKSIDE_API_KEYS": API_KEY,
        "TRACKSIDE_SIGNING_KEY": SIGNING,
        "TRACKSIDE_PRESTASHOP_DB_URL": f"mysql://trackside:{DB_PASSWORD}@127.0.0.1:{free_port()}/shop",
        "TRACKSIDE_PRESTASHOP_API_KEY": PS_KEY,
        "TRACKSIDE_CONSENT_MODE": "off",
        "TRACKSIDE_JOIN_WINDOW_S": "0",
    }


def test_no_secret_in_any_cli_output_or_the_database(env: dict[str, str], fake_graph: FakeGraphAPI,  # noqa: F811
                                                     tmp_path: Path) -> None:
    outputs: list[str] = []

    def record(*args: str, environ: dict[str, str] | None = None,
               typed: str | None = None) -> subprocess.CompletedProcess[str]:
        result = run(environ or env, *args)
        # ``typed``: what to show of a command line that itself holds a canary on purpose.
        outputs.append(f"$ trackside {typed or ' '.join(args)}\n{result.stdout}\n{result.stderr}")
        return result

    assert record("doctor").returncode in (0, 1)
    assert record("doctor", "--online").returncode == 1  # GA4 and PrestaShop unreachable
    assert record("send-test").returncode in (0, 1)
    fake_graph.fail_until_cleared(Fault.invalid_token())  # Meta refuses the token: error path
    record("send-test", "--email", "other@example.com")
    fake_graph.clear_faults()
    record("worker", "--drain")
    record("status")
    record("status", "--json")
    record("events", "show", "does-not-exist")
    record("replay", "--destination", "meta")
    record("replay", "--since", "not-a-date")
    record("refund", "NOPE")
    record("refund", "NOPE", "--value", "5", "--currency", "EUR")
    record("purge", "--days", "1")
    record("prestashop", "sync")  # unreachable shop database: an error message with the DSN
    record("doctor", environ={**env, "TRACKSIDE_JOIN_WINDOW_S": "soon"})  # config error path
    record("status", environ={**env, "TRACKSIDE_META_API_VERSION": TOKEN})  # bad value = a canary
    record("events", "show", "trackside-test", "--json")
    record("events", "drop", "does-not-exist", "--reason", "typo")
    # An operator pasting a secret into the reason: it is stored and shown masked.
    from trackside.config import load_settings
    from trackside.runtime import Runtime

    pending = Runtime.from_settings(load_settings(env))  # accepted, not delivered: pending
    try:
        [accepted] = pending.pipeline.accept([{"event_name": "Lead", "event_id": "LEAD-DROP",
                                               "user": {"email": "a@example.com"}}], "api")
    finally:
        pending.close()
    assert accepted.status == "queued"
    dropped = record("events", "drop", "LEAD-DROP", "--reason", f"ga4 refuses {GA4_SECRET}",
                     typed="events drop LEAD-DROP --reason ga4 refuses <GA4 secret>")
    assert dropped.returncode == 0 and "dropped" in dropped.stdout
    record("events", "show", "LEAD-DROP")
    # Unknown variable (did-you-mean path) whose value is a secret: serve exits 2 at start.
    assert record("serve", environ={**env, "TRACKSIDE_META_PIXELID": TOKEN}).returncode == 2

    text = "\n".join(outputs)
    for canary in CANARIES:
        assert canary not in text, f"{canary} leaked:\n{text}"
    db = Path(env["TRACKSIDE_DATABASE_URL"].removeprefix("sqlite:///"))
    raw = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
    assert raw, "the commands should have written the database"
    for canary in CANARIES:
        assert canary.encode() not in raw
    # The send-test event did reach the fake, so the paths above really ran.
    assert fake_graph.events
