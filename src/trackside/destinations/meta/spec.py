"""Meta as the registry sees it (entry point ``meta``): used when its credentials are set."""

from __future__ import annotations

from trackside.config import Settings
from trackside.destinations import Destination
from trackside.destinations.meta.destination import MetaDestination
from trackside.destinations.meta.doctor import doctor_online
from trackside.destinations.meta.rules import USER_DATA_KEYS
from trackside.destinations.meta.settings import MetaSettings
from trackside.destinations.spec import DestinationSpec, DoctorLine
from trackside.identity.keys import PURGED_KEYS


def _create(settings: Settings) -> Destination:
    return MetaDestination(settings)


def own(settings: Settings) -> MetaSettings:
    return settings.destination("meta", MetaSettings)


def doctor(settings: Settings) -> list[DoctorLine]:
    meta = own(settings)
    if not meta.meta_configured:
        return []  # the dry run speaks for Meta then
    lines = [DoctorLine("ok", f"Meta: ready, pixel {meta.meta_pixel_id}, "
                              f"API {meta.meta_api_version}")]
    if meta.meta_test_event_code:
        lines.append(DoctorLine("warn", "Meta: TRACKSIDE_META_TEST_EVENT_CODE is set: events "
                                "show in Test Events and are still used for measurement; "
                                "remove it in production"))
    return lines


SPEC = DestinationSpec(
    name="meta",
    display_name="Meta",
    kind="ads",
    consent_kind="ads",
    configured=lambda settings: own(settings).meta_configured,
    create=_create,
    not_applicable=frozenset({"Refund"}),
    personal_keys=frozenset(USER_DATA_KEYS),
    # What Meta wants in clear (never hashed: IP, user agent, fbc, fbp) and the purge removes.
    purged_paths=frozenset(f"user_data.{key}" for key in PURGED_KEYS),
    settings_model=MetaSettings,
    doctor=doctor,
    doctor_online=doctor_online,
    order=10,
)
