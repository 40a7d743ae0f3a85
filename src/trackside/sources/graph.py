"""The Graph-compatible body (a Conversions API call) → canonical events, or Meta's refusal.

The same body encodings as Meta (form, multipart or JSON; ``data`` an array or a JSON string,
its events objects or JSON strings), checked with Meta's rules in compat mode (rules 6-34 of
destinations/meta/rules/) and then with trackside's model; like Meta, one invalid event refuses
the whole request and nothing is stored. Authentication, the pixel check and the HTTP answers
are web/graph.py's. Meta's edge: https://developers.facebook.com/docs/marketing-api/reference/ads-pixel/events/
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from trackside import limits
from trackside.destinations.meta import rules as meta_rules
from trackside.destinations.meta.rules import GraphRequest, MetaError, RulesConfig
from trackside.events import Event, FieldError
from trackside.sources.batch import parse_batch

SOURCE = "graph-api"
_RULES = RulesConfig(mode="compat")


@dataclass
class Refused:
    """Meta's answer refusing the whole request, and how many events it drops."""

    error: MetaError
    events: int


def read_request(version: str, pixel_id: str, query: Mapping[str, str],
                 headers: Mapping[str, str], body: bytes) -> GraphRequest | MetaError:
    """A POST's parameters and token from any of Meta's encodings (rules 1-2, the method and
    the version, are the caller's: they need no body)."""
    return meta_rules.parse_request("POST", version, pixel_id, query, headers, body)


def read_events(request: GraphRequest, now: float,
                max_event_bytes: int = limits.DEFAULT_MAX_EVENT_BYTES) -> list[Event] | Refused:
    """Every event of an authenticated call, or the refusal of all of them."""
    outcome = meta_rules.check_payload(request, _RULES, now)  # rules 6-34
    if outcome.error is not None:
        return Refused(outcome.error, len(outcome.events) or 1)
    batch = parse_batch(outcome.events, prefix="data", max_event_bytes=max_event_bytes)
    if batch.rejected:
        first = batch.rejected[0].errors[0]
        return Refused(_not_accepted(first.field, first.reason), len(outcome.events))
    return batch.events


def undeliverable(error: FieldError) -> MetaError:
    """Meta's refusal of the whole request for an event no configured destination would ever
    take (trackside/admission.py), blamed on its field in Meta's words (``data[i]``)."""
    field = "data" + error.field.removeprefix("events") if error.field.startswith("events[") \
        else error.field
    return _not_accepted(field, error.reason)


def _not_accepted(field: str, reason: str) -> MetaError:
    # Meta's usual envelope (code 100), blaming the field like error_data.blame_field_specs.
    return meta_rules.invalid_parameter(
        None, "Invalid Event Parameter", f"{field} {reason} (trackside cannot accept this event).",
        rule=0, blame=field,
    )
