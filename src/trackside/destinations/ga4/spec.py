"""GA4 as the registry sees it (entry point ``ga4``): used when its credentials are set."""

from __future__ import annotations

import httpx

from trackside.config import Settings
from trackside.destinations import Destination
from trackside.destinations.ga4.debug import debug_validate
from trackside.destinations.ga4.destination import GA4Destination
from trackside.destinations.ga4.settings import GA4Settings
from trackside.destinations.spec import DestinationSpec, DoctorLine


def _create(settings: Settings) -> Destination:
    return GA4Destination(settings)


def own(settings: Settings) -> GA4Settings:
    return settings.destination("ga4", GA4Settings)


def doctor(settings: Settings) -> list[DoctorLine]:
    ga4 = own(settings)
    if not ga4.ga4_configured:
        return [DoctorLine("ok", "GA4: off (set TRACKSIDE_GA4_MEASUREMENT_ID and "
                                 "TRACKSIDE_GA4_API_SECRET)")]
    return [DoctorLine("ok", f"GA4: ready, measurement id {ga4.ga4_measurement_id}")]


def doctor_online(settings: Settings, client: httpx.Client) -> list[DoctorLine]:
    return [_debug_check(settings, client)]


def _debug_check(settings: Settings, client: httpx.Client) -> DoctorLine:
    """A sample purchase through /debug/mp/collect
    (https://developers.google.com/analytics/devguides/collection/protocol/ga4/validating-events).
    Asked for (--online) and not answered is a failure: doctor cannot say GA4 works."""
    result = debug_validate(settings, client)
    if isinstance(result, str):
        return DoctorLine("fail", f"GA4: sample payload not validated: {result}")
    if not result:
        return DoctorLine("ok", "GA4: sample payload validated by /debug/mp/collect with no "
                                "messages")
    described = "; ".join(f"{m.get('fieldPath')}: {m.get('description')}" for m in result)
    return DoctorLine("fail", f"GA4: /debug/mp/collect found problems in a sample payload: "
                             f"{described}")


SPEC = DestinationSpec(
    name="ga4",
    display_name="GA4",
    kind="analytics",
    consent_kind="analytics",
    configured=lambda settings: own(settings).ga4_configured,
    create=_create,
    personal_keys=frozenset({"client_id", "user_id", "session_id"}),
    purged_paths=frozenset({"client_id"}),  # the browser's _ga client id
    settings_model=GA4Settings,
    doctor=doctor,
    doctor_online=doctor_online,
    order=20,
)
