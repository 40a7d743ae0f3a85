"""The dry-run destination: Meta's payloads, Meta's verdicts, no credentials, nothing sent.

The reference for "Meta's verdict" is the strict fake Graph API over real HTTP: for the same
batch, ``simulate`` must agree with what the fake answers when the Meta destination sends it.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import httpx
import pytest

from tests.fakes.fixtures import fake_graph  # noqa: F401  (fixture)
from tests.fakes.graph_api import FakeGraphAPI
from trackside.config import Settings
from trackside.destinations import Prepared, Skip, Verdict
from trackside.destinations.dryrun import PLACEHOLDER_PIXEL_ID, PLACEHOLDER_TOKEN, DryRunDestination
from trackside.destinations.dryrun.transport import DryRunTransport
from trackside.destinations.meta import MetaDestination
from trackside.destinations.meta import rules as mr
from trackside.destinations.registry import configured_destinations
from trackside.events import Item, NormalizedEvent, Order


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def stored(event_id: str = "R1", **overrides: Any) -> NormalizedEvent:
    values: dict[str, Any] = {
        "event_name": "Purchase",
        "event_id": event_id,
        "event_time": int(time.time()) - 10,
        "action_source": "website",
        "event_source_url": "https://shop.example/thanks",
        "user_data": {"em": [sha("a@example.com")], "client_user_agent": "Mozilla/5.0"},
        "order": Order(
            reference=event_id,
            value=30,
            currency="EUR",
            items=[Item(id="SKU", price=15, quantity=2)],
        ),
    }
    values.update(overrides)
    return NormalizedEvent(**values)


def prepare_all(destination: Any, events: list[NormalizedEvent]) -> list[Prepared]:
    now = time.time()
    items = [destination.prepare(i, event, now) for i, event in enumerate(events)]
    assert all(isinstance(item, Prepared) for item in items), items
    return items  # type: ignore[return-value]


def test_is_the_stand_in_without_credentials() -> None:
    [destination] = configured_destinations(Settings())
    assert isinstance(destination, DryRunDestination)
    # Its requests go to a transport that answers offline, never to the network.
    assert destination.name == "dryrun" and isinstance(destination.transport, DryRunTransport)
    assert destination.url.startswith("https://graph.facebook.invalid/")
    assert (destination.max_batch_size, destination.max_event_age_s) == (1000, 7 * 86400)


def test_simulate_delivers_a_good_batch() -> None:
    destination = DryRunDestination(Settings(meta_ldu="geo", meta_test_event_code="TEST9"))
    batch = prepare_all(destination, [stored("A"), stored("B")])
    result = destination.simulate(batch)
    assert result.verdict is Verdict.DELIVERED and result.http_status == 200
    # The stored "what would have been sent" is Meta's payload, LDU included.
    assert batch[0].payload["data_processing_options"] == ["LDU"]
    assert batch[0].payload["custom_data"]["contents"] == [
        {"id": "SKU", "quantity": 2, "item_price": 15}
    ]


def test_same_payload_as_the_meta_destination(fake_graph: FakeGraphAPI) -> None:  # noqa: F811
    event = stored("SAME")
    meta = MetaDestination(fake_graph.settings())
    dry = DryRunDestination(Settings())
    assert dry.prepare(1, event, time.time()) == meta.prepare(1, event, time.time())


def test_prepare_skips_like_meta() -> None:
    destination = DryRunDestination(Settings())
    skip = destination.prepare(1, stored(user_data={"client_user_agent": "UA"}), time.time())
    assert isinstance(skip, Skip) and skip.outcome == "dead" and "2804050" in skip.reason
    old = stored(event_time=int(time.time()) - 8 * 86400)
    expired = destination.prepare(1, old, time.time())
    assert isinstance(expired, Skip) and expired.outcome == "expired"


def broken(item: Prepared, how: str) -> Prepared:
    """A payload damaged after prepare (as a bug or a stale stored payload would)."""
    payload = json.loads(json.dumps(item.payload))
    if how == "clear_email":
        payload["user_data"]["em"] = "a@example.com"
    elif how == "bad_fbc":
        payload["user_data"]["fbc"] = "fb.1.1554763741205"
    elif how == "too_old":
        payload["event_time"] = int(time.time()) - 8 * 86400
    elif how == "no_value":
        del payload["custom_data"]["value"]
    elif how == "bad_ldu":
        payload["data_processing_options"] = ["LDU"]
        payload["data_processing_options_country"] = 7
    return Prepared(outbox_id=item.outbox_id, event=item.event, payload=payload)


CASES = [
    pytest.param(None, Verdict.DELIVERED, None, id="good"),
    pytest.param("clear_email", Verdict.REJECTED, 2804016, id="rule23_2804016"),
    pytest.param("bad_fbc", Verdict.REJECTED, 2804001, id="rule26_2804001"),
    pytest.param("too_old", Verdict.REJECTED, 2804003, id="rule12_2804003"),
    pytest.param("no_value", Verdict.REJECTED, 2804019, id="rule33_2804019"),
    pytest.param("bad_ldu", Verdict.REJECTED, None, id="rule20"),
]


@pytest.mark.parametrize(("damage", "verdict", "subcode"), CASES)
def test_simulate_agrees_with_the_fake_graph_api(
    fake_graph: FakeGraphAPI, damage: str | None, verdict: Verdict, subcode: int | None  # noqa: F811
) -> None:
    dry = DryRunDestination(Settings())
    meta = MetaDestination(fake_graph.settings())
    events = [stored("OK1"), stored("X"), stored("OK2")]
    dry_batch, meta_batch = prepare_all(dry, events), prepare_all(meta, events)
    if damage:
        dry_batch[1], meta_batch[1] = broken(dry_batch[1], damage), broken(meta_batch[1], damage)

    simulated = dry.simulate(dry_batch)
    with httpx.Client(timeout=5) as client:
        response = client.send(meta.build_request(meta_batch))
    real = meta.classify(response, None, len(meta_batch))

    assert simulated.verdict is real.verdict is verdict
    assert (simulated.code, simulated.subcode) == (real.code, real.subcode)
    assert simulated.subcode == subcode
    if verdict is Verdict.REJECTED:
        assert simulated.code == 100
        assert simulated.http_status == response.status_code == 400
        assert "data[1]" in (simulated.message or "")


def test_never_uses_a_configured_secret() -> None:
    settings = Settings(meta_pixel_id="999", meta_access_token="REAL-SECRET-TOKEN")
    destination = DryRunDestination(settings)
    request = destination.build_request(prepare_all(destination, [stored()]))
    body = request.read()
    assert b"REAL-SECRET-TOKEN" not in body and PLACEHOLDER_TOKEN.encode() in body
    assert "REAL-SECRET-TOKEN" not in str(request.url) + repr(destination)
    assert PLACEHOLDER_PIXEL_ID in str(request.url) and "999" not in str(request.url)


def test_strict_mode_is_available() -> None:
    destination = DryRunDestination(
        Settings(),
        rules=mr.RulesConfig(mode="strict", versions=("v26.0",), require_user_agent=True),
    )
    no_agent = stored(user_data={"em": [sha("a@example.com")]})
    skip = destination.prepare(1, no_agent, time.time())
    assert isinstance(skip, Skip) and "client_user_agent" in skip.reason
    compat = DryRunDestination(Settings())
    item = compat.prepare(1, no_agent, time.time())
    assert isinstance(item, Prepared)
    result = compat.simulate([item])
    assert result.verdict is Verdict.DELIVERED and "client_user_agent" in (result.message or "")
