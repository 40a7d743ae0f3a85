"""The webhook's accept-time verdict (``admission_check``: the size bounded from orjson's
encoding, measured only near the limit) is its ``prepare``'s, over canonical events of every
shape and size, on both sides of a small request budget."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.test_meta_fast_admission import NOW, events
from trackside.config import Settings
from trackside.destinations import Prepared
from trackside.destinations.webhook import WebhookDestination
from trackside.events import NormalizedEvent

BASE = {"webhook_url": "https://warehouse.example/hook", "webhook_secret": "w" * 32}
WEBHOOKS = [WebhookDestination(Settings(**BASE, webhook_max_batch_bytes=size))
            for size in (16 * 1024, 1024 * 1024)]


# The generator's unvalidated orders (an int item id): pydantic warns while dumping them.
@pytest.mark.filterwarnings("ignore:Pydantic serializer warnings")
@settings(max_examples=800, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(event=events(), webhook=st.sampled_from(WEBHOOKS), at=st.sampled_from([NOW, NOW + 3600]))
def test_the_webhooks_admission_is_its_prepare(event: NormalizedEvent,
                                               webhook: WebhookDestination, at: float) -> None:
    prepared = webhook.prepare(0, event, at)
    assert webhook.admission_check(event, at) == (
        None if isinstance(prepared, Prepared) else prepared)


def test_near_and_over_the_limit() -> None:
    webhook = WEBHOOKS[0]
    base = {"event_name": "Lead", "event_id": "L-1", "event_time": int(NOW),
            "action_source": "website"}
    near = NormalizedEvent(**base, custom_data={"note": "a" * 12_000})  # fits, over the bound
    over = NormalizedEvent(**base, custom_data={"note": "é" * 9_000})  # 18 kB > 16 KiB
    odd = NormalizedEvent(**base, custom_data={"n": math.nan, "big": 2**70})  # orjson refuses
    assert webhook.admission_check(near, NOW) is None
    skip = webhook.admission_check(over, NOW)
    assert skip is not None and skip.outcome == "dead" and "bytes of JSON" in skip.reason
    assert skip == webhook.prepare(0, over, NOW)
    assert webhook.admission_check(odd, NOW) is None
    assert isinstance(webhook.prepare(0, odd, NOW), Prepared)
