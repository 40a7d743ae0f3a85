"""The registry of destinations: entry points, what each spec declares, the shared helpers."""

from __future__ import annotations

import pytest

from trackside.config import Settings
from trackside.destinations import registry, too_old
from trackside.destinations.ga4 import GA4Destination
from trackside.destinations.meta import MetaDestination
from trackside.destinations.spec import purge_payload
from trackside.events import NormalizedEvent

NOW = 1_795_000_000.0


def test_every_destination_comes_from_an_entry_point_meta_first() -> None:
    assert [spec.name for spec in registry.specs()] == ["dryrun", "meta", "ga4", "webhook"]


def test_specs_declare_kinds_and_the_events_they_cannot_take() -> None:
    settings = Settings()
    kinds = {s.name: (s.kind, s.consent_kind_for(settings)) for s in registry.specs()}
    assert kinds == {"meta": ("ads", "ads"), "dryrun": ("ads", "ads"),
                     "ga4": ("analytics", "analytics"), "webhook": ("warehouse", "ads")}
    assert registry.not_applicable("meta") == registry.not_applicable("dryrun") == {"Refund"}
    assert registry.not_applicable("ga4") == frozenset()
    assert registry.consent_kind("tiktok", settings) == "ads"  # unknown: the stricter kind


def test_only_configured_destinations_are_built() -> None:
    assert [d.name for d in registry.configured_destinations(Settings())] == ["dryrun"]
    both = Settings(meta_pixel_id="1", meta_access_token="t" * 20, ga4_measurement_id="G-X",
                    ga4_api_secret="s" * 20)
    assert [d.name for d in registry.configured_destinations(both)] == ["meta", "ga4"]


def test_personal_keys_cover_every_vendor() -> None:
    keys = registry.personal_keys()
    assert {"client_ip_address", "fbp", "em", "client_id", "user_id"} <= keys


def test_the_purge_removes_each_vendors_clear_keys_only() -> None:
    meta, ga4 = registry.spec("meta"), registry.spec("ga4")
    assert meta is not None and ga4 is not None
    sent = {"event_id": "R1", "user_data": {"em": ["h"], "client_ip_address": "203.0.113.9",
                                            "client_user_agent": "UA", "fbp": "p", "fbc": "c"}}
    assert purge_payload(meta, sent) == {"event_id": "R1", "user_data": {"em": ["h"]}}
    assert sent["user_data"]["fbp"] == "p"  # a copy: the input is untouched
    assert purge_payload(ga4, {"client_id": "1.2", "events": []}) == {"events": []}
    assert purge_payload(meta, {"event_id": "R1"}) == {"event_id": "R1"}


def test_the_purge_parameters_come_from_the_specs() -> None:
    from trackside import retention

    user, top = registry.purged_keys()
    # The same as retention's defaults today; a new destination's clear keys join them.
    assert user == set(retention.PURGED_USER_KEYS) and top == set(retention.PURGED_PAYLOAD_KEYS)


@pytest.mark.parametrize(
    ("destination", "age_s", "expired"),
    [
        (MetaDestination(Settings(meta_pixel_id="1", meta_access_token="t" * 20)),
         7 * 86400 - 61, False),
        (MetaDestination(Settings(meta_pixel_id="1", meta_access_token="t" * 20)),
         7 * 86400 - 59, True),  # inside Meta's 60 s margin
        (GA4Destination(Settings(ga4_measurement_id="G-X", ga4_api_secret="s" * 20)),
         72 * 3600, False),
        (GA4Destination(Settings(ga4_measurement_id="G-X", ga4_api_secret="s" * 20)),
         72 * 3600 + 1, True),
    ],
)
def test_one_age_check_with_each_destinations_window(
    destination: MetaDestination | GA4Destination, age_s: float, expired: bool
) -> None:
    event = NormalizedEvent(event_name="Purchase", event_id="R1", event_time=int(NOW - age_s),
                            action_source="website")
    result = too_old(destination, event, NOW)
    assert (result is not None) == expired
    if result is not None:
        assert result.outcome == "expired" and destination.age_limit in result.reason
