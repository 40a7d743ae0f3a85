"""What a source knows about an event beyond its body, carried beside it to the join.

The beacon's facts decide how the join treats a browser event (trackside/join.py): a missing
pixel is flagged, a store-signed purchase is sent on its own word, and the cart or customer ids
refused for want of a join token become notes. They travel with the prepared record, never in
the event body, so nothing a client posts can set them and nothing has to strip them before a
vendor sees the event.
"""

from __future__ import annotations

from dataclasses import dataclass

from trackside.store import NewEvent


@dataclass(frozen=True)
class BrowserFacts:
    #: Whether the page's Meta Pixel fired with the event's id (None: the tag did not say).
    pixel: bool | None = None
    #: The purchase carries a valid signature of the store (TRACKSIDE_SIGNING_KEY).
    verified: bool = False
    #: Why a cart or customer id the page named was not kept for joins.
    refused_join_keys: tuple[str, ...] = ()


#: What is known of a browser event whose source stated nothing (tests, replays).
NO_FACTS = BrowserFacts()


@dataclass
class BrowserRecord(NewEvent):
    """A browser event prepared for the store, with what its source knows about it."""

    facts: BrowserFacts = NO_FACTS


def facts_of(record: NewEvent) -> BrowserFacts:
    return record.facts if isinstance(record, BrowserRecord) else NO_FACTS
