"""Accept-time admission: would any configured destination ever take this event?

Every destination's own rules decide (the event-age window, Meta's request validator, GA4's
limits, the webhook's size), asked once per event and destination when the event is accepted,
at the time of its first attempt: through its ``admission_check`` when it has one (the verdict
of its ``prepare`` without what only sending needs), else its ``prepare``. Then:

- no destination could ever take it (each one refuses it finally, or has no counterpart for
  it): it is **rejected** by index, with each destination's reason, and never stored;
- some destinations would refuse it: it is accepted, with a warning per refusing destination
  (``meta: would be refused: …``), and those rows still end ``dead``/``expired`` as before.

What is *not* a refusal (docs/api.md "What is refused at accept time"):

- consent: a suppressed plan, or a destination's own consent skip, is a recorded outcome
  (what the destination would refuse anyway is still a warning);
- a refusal a join may still cure: a field that a later copy of the event brings
  (trackside/context.py ``merge_context``, trackside/join.py): the shopper's identifiers and
  the page URL from the browser for a server event still waiting for its browser context
  (a website Purchase held for the join window) or carrying a cart or customer id (joined at
  insert); anything the store's copy of the order brings (the order, identifiers) for a
  browser event. Those are accepted with the warning, "unless … joins".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from trackside.consent import BROWSER_SOURCES
from trackside.destinations import Destination, Skip
from trackside.events import FieldError, NormalizedEvent
from trackside.outcomes import Outcome
from trackside.store import OutboxPlan

#: What a browser copy of the event (the beacon, or a cart's browser events) brings to a
#: server event: the shopper's identifiers, user agent and the page (context.merge_context).
BROWSER_CONTEXT = frozenset({"user", "event_source_url"})
#: What the store's copy of an order brings to a browser event: the order and identifiers.
STORE_COPY = frozenset({"user", "event_source_url", "order"})

#: Skip outcomes that refuse the event (the others are recorded outcomes, not refusals).
_REFUSING = frozenset({Outcome.DEAD, Outcome.EXPIRED})


@dataclass
class Admission:
    """One event's admission: ``errors`` when it is rejected, else its ``warnings``."""

    errors: list[FieldError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def curable_fields(event: NormalizedEvent, source: str, deferred: bool) -> frozenset[str]:
    """The fields a later copy of ``event`` may still bring before it is sent."""
    if source in BROWSER_SOURCES:
        return STORE_COPY
    if deferred or event.cart_id or event.customer_id:
        return BROWSER_CONTEXT
    return frozenset()


#: One destination's verdict on an event at a time: the Skip it would record, None if it
#: would send it.
Judge = Callable[[Destination, NormalizedEvent, float], Skip | None]


def checked(destination: Destination, event: NormalizedEvent, at: float) -> Skip | None:
    """The destination's cheap ``admission_check`` when it has one (the same verdict as its
    ``prepare``, without building what only sending needs), else its ``prepare``."""
    check = getattr(destination, "admission_check", None)
    if check is not None:
        verdict: Skip | None = check(event, at)
        return verdict
    return prepared(destination, event, at)


def prepared(destination: Destination, event: NormalizedEvent, at: float) -> Skip | None:
    """The verdict of the destination's whole ``prepare`` (the reference: see
    :func:`reference_verdicts`), with a placeholder outbox id: prepare() changes nothing."""
    result = destination.prepare(0, event, at)
    return result if isinstance(result, Skip) else None


def admit(event: NormalizedEvent, source: str, plans: Sequence[OutboxPlan],
          destinations: Sequence[Destination], now: float, prefix: str,
          judge: Judge = checked) -> Admission:
    """Ask every planned destination whether it would take ``event`` (see the module doc).

    ``prefix`` names the event in the request (``events[3]``) for the errors' fields."""
    admission = Admission()
    by_name = {d.name: d for d in destinations}
    final: list[tuple[str, Skip]] = []
    kept = False  # some destination takes it, may take it, or records an outcome for it
    for plan in plans:
        if plan.status == Outcome.NOT_APPLICABLE:
            continue
        destination = by_name.get(plan.destination)
        if destination is None:
            kept = True  # a destination without rules here: it decides at send time
            continue
        if plan.status != Outcome.PENDING:
            # Suppressed for consent: a recorded outcome, never a rejection; what the
            # destination would refuse anyway is still worth a warning.
            kept = True
            skip = judge(destination, event, now)
            if skip is not None and skip.outcome in _REFUSING:
                admission.warnings.append(
                    f"{destination.name}: would be refused: {skip.reason}")
            continue
        # Judged when it would first be sent (a purchase held for its beacon: at the end of
        # the join window).
        at = max(now, plan.next_attempt_at or now)
        deferred = at > now
        result = judge(destination, event, at)
        if result is None:
            kept = True
            continue
        if result.outcome == Outcome.NOT_APPLICABLE:
            continue
        if result.outcome not in _REFUSING:
            kept = True  # the destination's own consent or configuration skip
            continue
        label = destination.name
        if result.field is not None and result.field in curable_fields(event, source, deferred):
            kept = True
            admission.warnings.append(
                f"{label}: would be refused unless a later copy of the event brings "
                f"{result.field}: {result.reason}")
            continue
        final.append((label, result))
    if final and not kept:
        admission.errors = [
            FieldError(field=f"{prefix}.{skip.field}" if skip.field else prefix,
                       reason=f"{label}: would be refused: {skip.reason}")
            for label, skip in final
        ]
    else:
        admission.warnings.extend(f"{label}: would be refused: {skip.reason}"
                                  for label, skip in final)
    return admission


def reference_verdicts(event: NormalizedEvent, source: str, plans: Sequence[OutboxPlan],
                       destinations: Sequence[Destination], now: float,
                       prefix: str) -> Admission:
    """:func:`admit` judged by every destination's whole ``prepare`` (issue 18's admission):
    the reference the cheap checks must agree with (tests/unit/test_admission_equivalence.py)."""
    return admit(event, source, plans, destinations, now, prefix, judge=prepared)
