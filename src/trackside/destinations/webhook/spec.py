"""The webhook as the registry sees it (entry point ``webhook``)."""

from __future__ import annotations

from urllib.parse import urlsplit

from trackside.config import Settings
from trackside.destinations import Destination
from trackside.destinations.spec import ConsentKind, DestinationSpec, DoctorLine
from trackside.destinations.webhook.destination import WebhookDestination
from trackside.destinations.webhook.settings import WebhookSettings
from trackside.identity.keys import HASHED_KEYS


def _own(settings: Settings) -> WebhookSettings:
    return settings.destination("webhook", WebhookSettings)


def _create(settings: Settings) -> Destination:
    return WebhookDestination(settings)


def _consent_kind(settings: Settings) -> ConsentKind:
    return _own(settings).webhook_consent


def doctor(settings: Settings) -> list[DoctorLine]:
    own = _own(settings)
    if own.webhook_url is None:
        return []
    parts = urlsplit(own.webhook_url)
    return [DoctorLine("ok", f"webhook: ready, signed POSTs to {parts.scheme}://{parts.netloc}"
                             f"{parts.path} (consent as for {own.webhook_consent})")]


SPEC = DestinationSpec(
    name="webhook",
    display_name="the webhook",
    kind="warehouse",
    consent_kind=_consent_kind,
    configured=lambda settings: _own(settings).configured,
    create=_create,
    # Hashed only (destination.event_document): nothing in clear for the purge to remove.
    personal_keys=frozenset(HASHED_KEYS),
    settings_model=WebhookSettings,
    doctor=doctor,
)
