"""Which destinations a configuration enables."""

from __future__ import annotations

from trackside.config import Settings
from trackside.destinations import Destination


def configured_destinations(settings: Settings) -> list[Destination]:
    """Meta when its credentials are set, else the dry-run stand-in; GA4 when configured."""
    destinations: list[Destination] = []
    if settings.meta_configured:
        from trackside.destinations.meta import MetaDestination

        destinations.append(MetaDestination(settings))
    else:
        from trackside.destinations.dryrun import DryRunDestination

        destinations.append(DryRunDestination(settings))
    if settings.ga4_configured:
        from trackside.destinations.ga4 import GA4Destination

        destinations.append(GA4Destination(settings))
    return destinations
