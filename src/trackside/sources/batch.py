"""parse_batch(): every source's "parse each raw event, reject bad ones by index, keep the rest".

/v1/events, the Graph-compatible endpoint and ``Pipeline.prepare`` all take a list of raw
events; each event is checked on its own (trackside/limits.py, then the model), so one bad
event never hides the good ones beside it. Each caller decides what a rejection means: the API
answers it by index in its 202, the Graph endpoint refuses the whole request as Meta would.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from trackside import limits
from trackside.events import Event, FieldError, parse_event


@dataclass
class Rejected:
    """A raw event that cannot be accepted: its index in the batch and why."""

    index: int
    errors: list[FieldError]


@dataclass
class ParsedBatch:
    #: The events that parsed, in batch order.
    events: list[Event] = field(default_factory=list)
    #: Index in the raw batch of each of ``events``.
    positions: list[int] = field(default_factory=list)
    #: The raw events that did not parse, in batch order.
    rejected: list[Rejected] = field(default_factory=list)


def parse_batch(raw_events: Sequence[Any], *, prefix: str,
                max_event_bytes: int = limits.DEFAULT_MAX_EVENT_BYTES) -> ParsedBatch:
    """Parse every raw event; an error's field is named ``{prefix}[{index}].…``.

    An :class:`Event` already parsed by its source (the browser beacon) is kept as it is.
    """
    batch = ParsedBatch()
    for index, raw in enumerate(raw_events):
        parsed = raw if isinstance(raw, Event) else parse_event(
            raw, prefix=f"{prefix}[{index}]", max_event_bytes=max_event_bytes)
        if isinstance(parsed, list):
            batch.rejected.append(Rejected(index, parsed))
        else:
            batch.events.append(parsed)
            batch.positions.append(index)
    return batch
