"""Dry run: Meta's payloads checked by Meta's rules, sent nowhere (no Meta credentials)."""

from __future__ import annotations

from trackside.destinations.dryrun.destination import (
    PLACEHOLDER_PIXEL_ID,
    PLACEHOLDER_TOKEN,
    DryRunDestination,
)

__all__ = ["PLACEHOLDER_PIXEL_ID", "PLACEHOLDER_TOKEN", "DryRunDestination"]
