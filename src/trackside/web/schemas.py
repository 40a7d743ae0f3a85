"""Pydantic models of the HTTP bodies: the OpenAPI document's schemas (ops.py builds
/openapi.json from these, so the document cannot drift from what the handlers return). The
/v1/events envelope's parser is sources/api.py's."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from trackside.events import Event, FieldError
from trackside.outcomes import Outcome
from trackside.sources.api import MAX_EVENTS_PER_REQUEST

#: Every time the API returns (trackside.isotime.iso_utc).
_ISO = "ISO 8601 in UTC with Z, milliseconds (2026-11-24T16:00:00.100Z)"


class EventsRequest(BaseModel):
    """POST /v1/events body as documented: up to 1,000 events."""

    model_config = ConfigDict(extra="forbid")

    # `Event | Any`, not `Event`: an item that is not a valid Event does not refuse the
    # request, it is reported by index in the 202 (the document must say what we accept).
    events: list[Event | Any] = Field(
        min_length=1,
        max_length=MAX_EVENTS_PER_REQUEST,
        description="Events (schema Event). An invalid one is not stored and is reported with "
        "its index and errors in the 202; the valid ones are accepted.",
    )


class EventResult(BaseModel):
    index: int = Field(description="Position of the event in the request's `events`.")
    status: Literal["queued", "duplicate", "rejected"]
    event_id: str | None = Field(default=None, description="Absent for rejected events.")
    event_name: str | None = None
    errors: list[FieldError] = Field(
        default_factory=list,
        description="Why a rejected event was not stored: a field's problem, or "
                    "`<destination>: would be refused: <reason>` from each configured "
                    "destination when none would ever take it.")
    warnings: list[str] = Field(
        default_factory=list,
        description="Fields dropped during normalization, and `<destination>: would be "
                    "refused: <reason>` for each destination that will not send this "
                    "queued event.")


class EventsAccepted(BaseModel):
    """202: queued and duplicate events are committed; rejected ones were not stored (422:
    every event was rejected, nothing was stored)."""

    queued: int
    duplicate: int
    rejected: int
    results: list[EventResult]


class DestinationOutcome(BaseModel):
    destination: str
    status: Outcome
    attempts: int
    next_attempt_at: datetime | None = Field(default=None, description=_ISO)
    finished_at: datetime | None = Field(default=None, description=_ISO)
    code: int | None = None
    subcode: int | None = None
    message: str | None = None
    sent: dict[str, Any] | list[Any] | None = Field(
        default=None, description="What was sent (or would have been), personal data hashed."
    )


class TimelineEntry(BaseModel):
    at: datetime = Field(description=_ISO)
    kind: str = Field(description="accepted, duplicate, attempt, delivered, dead, …")
    destination: str | None = None
    detail: str


class StoredEvent(BaseModel):
    event_name: str
    event_id: str
    source: str
    accepted_at: datetime = Field(description=_ISO)
    event: dict[str, Any] = Field(description="The stored event; personal data hashed only; its "
                                  "event_time in ISO 8601 UTC (seconds).")
    destinations: list[DestinationOutcome]
    timeline: list[TimelineEntry]


class EventLookup(BaseModel):
    """GET /v1/events/{event_id}: one entry per event name sharing the id."""

    event_id: str
    events: list[StoredEvent]


class DestinationHealth(BaseModel):
    destination: str
    paused: bool
    paused_until: datetime | None = Field(
        description=f"{_ISO}; null while paused until an operator acts.")
    reason: str | None = None


class Health(BaseModel):
    status: Literal["ok", "degraded", "failing"]
    store: Literal["ok", "locked", "unwritable", "disk_full", "unreachable"] = Field(
        description="From a real write transaction: ok, or why the store cannot accept events.")
    worker: Literal["ok", "stalled", "disabled"]
    worker_last_cycle_age_s: float | None = None
    paused_destinations: list[DestinationHealth]


class CollectAccepted(BaseModel):
    """POST /collect's answer: the event is committed (or was already stored)."""

    status: Literal["queued", "duplicate"]
    event_id: str


class WebhookAnswer(BaseModel):
    """POST /webhooks/<platform>'s answer to an authentic delivery (or WooCommerce's ping):
    always 200, so the platform does not retry what can never become an event."""

    status: Literal["ok", "converted", "ignored", "duplicate"] = Field(
        description="ok: the ping; converted: its events were accepted (results); ignored: "
                    "nothing to send (reason); duplicate: this delivery was already answered.")
    delivery_id: str | None = Field(default=None, description="The delivery's key.")
    reason: str | None = Field(default=None, description="Why an ignored delivery sent no "
                               "event (unknown_topic, not_a_purchase, unpaid, malformed, stale, "
                               "undeliverable, nothing_to_refund); for a duplicate, its "
                               "first answer's.")
    detail: str | None = Field(default=None, description="The order, status or field at fault.")
    outcome: str | None = Field(default=None, description="A duplicate's first outcome.")
    results: list[EventResult] = Field(default_factory=list)


class GraphSuccess(BaseModel):
    """Meta's answer to an accepted request."""

    events_received: int
    messages: list[str]
    fbtrace_id: str


class GraphErrorDetail(BaseModel):
    message: str
    type: str
    code: int
    error_subcode: int | None = None
    is_transient: bool = False
    error_user_title: str | None = None
    error_user_msg: str | None = None
    error_data: dict[str, Any] | None = None
    fbtrace_id: str


class GraphError(BaseModel):
    """Meta's error envelope; classify by code/subcode only."""

    error: GraphErrorDetail


class GraphRequestBody(BaseModel):
    """The JSON form of a Graph call; form-urlencoded and multipart carry the same fields."""

    data: list[dict[str, Any] | str] = Field(
        description="Meta events, or JSON strings of them (as Meta's Python SDK sends)."
    )
    access_token: str | None = Field(default=None, description="A trackside API key.")
    test_event_code: str | None = None
    partner_agent: str | None = None


class ImportLineError(BaseModel):
    line: int = Field(description="The line in the file (the header is line 1).")
    field: str = Field(description="The column as the file's header names it, or \"line\".")
    reason: str


class OfflineImportSummary(BaseModel):
    """200 of POST /v1/imports/offline: queued and duplicate lines are committed."""

    rows: int
    queued: int
    duplicate: int
    rejected: int
    errors: list[ImportLineError]
    errors_not_listed: int | None = None
    ignored_columns: list[str] | None = None
