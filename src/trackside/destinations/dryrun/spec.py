"""The dry run as the registry sees it (entry point ``dryrun``): Meta without credentials."""

from __future__ import annotations

from trackside.config import Settings
from trackside.destinations import Destination
from trackside.destinations.dryrun.destination import DryRunDestination
from trackside.destinations.meta.spec import SPEC as META
from trackside.destinations.meta.spec import own as meta_settings
from trackside.destinations.spec import DestinationSpec, DoctorLine


def _create(settings: Settings) -> Destination:
    return DryRunDestination(settings)


def doctor(settings: Settings) -> list[DoctorLine]:
    if meta_settings(settings).meta_configured:
        return []
    return [DoctorLine("warn", "Meta: dry-run (no credentials): payloads are validated and "
                               "recorded, not sent. Set TRACKSIDE_META_PIXEL_ID and "
                               "TRACKSIDE_META_ACCESS_TOKEN to send.")]


#: What Meta would get, so Meta's kind, counterparts and personal keys.
SPEC = DestinationSpec(
    name="dryrun",
    display_name="the dry run",
    kind=META.kind,
    consent_kind=META.consent_kind,
    configured=lambda settings: not meta_settings(settings).meta_configured,
    create=_create,
    not_applicable=META.not_applicable,
    personal_keys=META.personal_keys,
    purged_paths=META.purged_paths,
    doctor=doctor,
    order=META.order,
)
