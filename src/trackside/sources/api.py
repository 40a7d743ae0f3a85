"""The /v1/events body: ``{"events": [...]}`` in, canonical events (and rejections) out.

The envelope is refused as a whole (not JSON, or not the shape); inside it every event is
checked on its own, so a batch with invalid events still yields the valid ones
(docs/api.md "POST /v1/events"). The HTTP answers are web/api.py's.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from trackside import limits
from trackside.errors import RequestError
from trackside.events import FieldError, validation_errors
from trackside.sources.batch import ParsedBatch, parse_batch

SOURCE = "api"
MAX_EVENTS_PER_REQUEST = 1000  # docs/api.md; also Meta's cap per request


class EventsEnvelope(BaseModel):
    """What POST /v1/events parses: the events stay raw so each one is judged on its own."""

    model_config = ConfigDict(extra="forbid")

    events: list[Any] = Field(min_length=1, max_length=MAX_EVENTS_PER_REQUEST)


ENVELOPE = TypeAdapter(EventsEnvelope)

_JSON_ERRORS = frozenset({"json_invalid", "json_type"})


class EnvelopeError(RequestError):
    """The body is not a batch of events; nothing in it is read further."""

    def __init__(self, message: str, errors: Sequence[FieldError] = (), *,
                 not_json: bool = False) -> None:
        self.message = message
        self.errors = list(errors)
        #: Not JSON at all (the API answers 415), rather than JSON of the wrong shape (400).
        self.not_json = not_json
        super().__init__(message)


def read_events(body: bytes, max_event_bytes: int = limits.DEFAULT_MAX_EVENT_BYTES
                ) -> ParsedBatch:
    """The events of a request body, each parsed on its own; EnvelopeError for the whole."""
    return parse_batch(parse_envelope(body), prefix="events", max_event_bytes=max_event_bytes)


def parse_envelope(body: bytes) -> list[Any]:
    """The raw events of a request body, or EnvelopeError (not JSON / wrong shape)."""
    try:
        return ENVELOPE.validate_json(body).events
    except ValidationError as exc:
        if not any(error["type"] in _JSON_ERRORS for error in exc.errors()):
            raise _bad_envelope(exc) from None
    # The fast parser refuses a whole body for one lone surrogate ("\ud800") or nesting past
    # its recursion limit; the standard library reads both, so the event that holds them is
    # rejected by index (trackside/limits.py) and the rest of the batch is still accepted.
    try:
        document = json.loads(body)
    except RecursionError:
        raise EnvelopeError("The request body is nested too deeply to read") from None
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        raise EnvelopeError("The request body is not valid JSON", not_json=True) from None
    try:
        return ENVELOPE.validate_python(document).events
    except ValidationError as exc:
        raise _bad_envelope(exc) from None


def _bad_envelope(exc: ValidationError) -> EnvelopeError:
    return EnvelopeError(
        'The body must be a JSON object {"events": [...]} with 1 to 1000 events',
        validation_errors(exc),
    )
