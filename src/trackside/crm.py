"""CRM events (Meta's Conversion Leads): a lead's stages sent by the backend.

An event is a CRM event when it carries ``user.lead_id`` with ``action_source``
``system_generated``. Meta then requires ``custom_data.event_source = "crm"`` and
``custom_data.lead_event_source`` = the CRM's name, the stage as a free-form event name, and a
15-17 digit lead id
(https://developers.facebook.com/docs/marketing-api/conversions-api/conversion-leads-integration/payload-specification).
events.py marks the event (``event_source``) and refuses a bad lead id; its id is
``lead:{lead_id}:{stage}`` (identity/event_id.py); here the CRM's name comes from the event or
the shop's ``TRACKSIDE_CRM_NAME``.
"""

from __future__ import annotations

from trackside.events import Event, FieldError
from trackside.sources.batch import ParsedBatch, Rejected

__all__ = ["LEAD_EVENT_SOURCE_MAX", "complete_crm_events", "is_crm_event",
           "with_lead_event_source"]

#: A CRM name is a label, not a document.
LEAD_EVENT_SOURCE_MAX = 100


def is_crm_event(event: Event) -> bool:
    return event.custom_data.get("event_source") == "crm"


def with_lead_event_source(event: Event, crm_name: str | None,
                           prefix: str) -> Event | list[FieldError]:
    """The CRM event with its ``lead_event_source`` (the event's own, else ``crm_name``), or
    the field error that says it has none; other events unchanged."""
    if not is_crm_event(event):
        return event
    field = f"{prefix}.custom_data.lead_event_source"
    given = event.custom_data.get("lead_event_source")
    if given is None or given == "":
        if not crm_name:
            return [FieldError(field=field, reason="is required for a CRM event (user.lead_id "
                               "with action_source system_generated): the CRM's name, in the "
                               "event or as TRACKSIDE_CRM_NAME")]
        return event.model_copy(update={
            "custom_data": {**event.custom_data, "lead_event_source": crm_name}})
    if not isinstance(given, str) or not given.strip() or len(given) > LEAD_EVENT_SOURCE_MAX:
        return [FieldError(field=field, reason=f"must be the CRM's name, a text of 1 to "
                                               f"{LEAD_EVENT_SOURCE_MAX} characters")]
    return event


def complete_crm_events(parsed: ParsedBatch, crm_name: str | None, *, prefix: str) -> None:
    """Every CRM event of a parsed batch with its CRM name, or moved to the rejected ones,
    named ``{prefix}[{index in the request}]`` (the web API calls it with the request's
    positions before the pipeline, which calls it again for every other source)."""
    kept: list[tuple[int, Event]] = []
    for index, event in zip(parsed.positions, parsed.events, strict=True):
        completed = with_lead_event_source(event, crm_name, f"{prefix}[{index}]")
        if isinstance(completed, list):
            parsed.rejected.append(Rejected(index, completed))
        else:
            kept.append((index, completed))
    if len(kept) == len(parsed.events):
        parsed.events = [event for _, event in kept]
        return
    parsed.rejected.sort(key=lambda rejected: rejected.index)
    parsed.positions = [index for index, _ in kept]
    parsed.events = [event for _, event in kept]
