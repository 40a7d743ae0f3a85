"""Consent on the server path: one policy, decided per event and destination.

Other tools gate consent in the browser only (PrestaShop's ps_facebook) or not at all (Meta's
server-side GTM tag); trackside also gates events no browser ever saw (store orders, webhooks,
CSV). The policy runs twice with the same inputs: in ``accept()``, and again just before
sending, because browser consent may join a waiting server event in between
(docs/consent-and-privacy.md "Events no browser saw").

``TRACKSIDE_CONSENT_MODE`` (docs/consent-and-privacy.md; the four signals are Google Consent
Mode v2's, https://support.google.com/analytics/answer/13802165):
- ``eea``: for customers in the EEA, the UK or Switzerland, ad destinations need
  ``ad_storage`` and ``ad_user_data`` granted and GA4 needs ``analytics_storage`` granted.
  Elsewhere consent is assumed unless the event says denied.
- ``required``: the EEA rules everywhere.
- ``off``: consent is recorded and passed on, never enforced.

Where consent comes from, in order: the event itself; the browser's, joined for the same
event id / cart / customer; the owner's default for server events
(``TRACKSIDE_SERVER_EVENT_CONSENT``).
"""

from __future__ import annotations

from collections.abc import Callable

from trackside.config import Settings
from trackside.destinations import registry
from trackside.events import Consent, NormalizedEvent

# EU 27 + Iceland, Liechtenstein, Norway (EEA) + United Kingdom + Switzerland.
EEA_UK_CH = frozenset(
    "at be bg hr cy cz dk ee fi fr de gr hu ie it lv lt lu mt nl pl pt ro sk si es se "
    "is li no gb ch".split()
)

#: Signals each kind of destination needs when consent is enforced.
REQUIRED_SIGNALS: dict[str, tuple[str, ...]] = {
    "ads": ("ad_storage", "ad_user_data"),
    "analytics": ("analytics_storage",),
}

#: Sources whose events come from a browser; everything else is a server event.
BROWSER_SOURCES = frozenset({"browser"})

Policy = Callable[[NormalizedEvent, str], "str | None"]


def in_scope(event: NormalizedEvent, settings: Settings) -> bool:
    """Whether consent must be granted (not merely not denied) for this event."""
    if settings.consent_mode == "required":
        return True
    country = event.country_hint or settings.default_country
    # No country at all: treat the customer as in the EEA. Guessing "elsewhere" would send
    # an EEA customer's data without consent; the opposite only costs a conversion.
    return country is None or country in EEA_UK_CH


def _origin(event: NormalizedEvent) -> str:
    if event.consent_source == "browser" and event.source not in BROWSER_SOURCES:
        return "joined from the browser"
    return "carried by the event"


def decide(event: NormalizedEvent, destination: str, settings: Settings) -> str | None:
    """None when the event may go to ``destination``; else the recorded suppression reason."""
    if settings.consent_mode == "off":
        return None
    # Each destination declares its kind (destinations/*/spec.py); unknown ones count as ads.
    kind = registry.consent_kind(destination, settings)
    consent = event.consent or Consent()
    signals = REQUIRED_SIGNALS[kind]
    denied = [s for s in signals if getattr(consent, s) == "denied"]
    if denied:
        return f"consent: {', '.join(denied)} denied ({_origin(event)})"
    if kind == "ads" and event.opt_out and settings.meta_opt_out == "suppress":
        return (f"consent: ad_personalization denied or opt_out set ({_origin(event)}); "
                "TRACKSIDE_META_OPT_OUT=send would send it with opt_out: true")
    if not in_scope(event, settings):
        return None
    missing = [s for s in signals if getattr(consent, s) != "granted"]
    if not missing:
        return None
    if event.source in BROWSER_SOURCES or event.consent is not None:
        return f"consent: {', '.join(missing)} not granted ({_origin(event)})"
    if settings.server_event_consent == "grant":
        return None
    return ("consent: no consent recorded for this server event and none joined from the "
            "browser (TRACKSIDE_SERVER_EVENT_CONSENT=deny)")


def policy(settings: Settings) -> Policy:
    return lambda event, destination: decide(event, destination, settings)


def is_deferrable(event: NormalizedEvent) -> bool:
    """A server event without consent may still get the browser's during the join window."""
    return event.consent is None and event.source not in BROWSER_SOURCES
