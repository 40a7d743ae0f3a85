"""The outcome of an outbox row, and the closed list of reasons a row ends without delivery.

Every outbox row (one event × one destination) is in exactly one of these states. The
strings are what the database, the CLI, the API and the logs say; ``Outcome`` is a
``StrEnum``, so ``Outcome.DELIVERED == "delivered"`` and stored values need no translation.

Reasons are free text for a person (they name the rule, the consent signal, the vendor's code
and message) but each starts with one class from :class:`Reason`, so reports can group them
(the console's "suppressed by consent / policy / not applicable").
"""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    #: Waiting for its ``next_attempt_at`` (or being sent under a lease).
    PENDING = "pending"
    #: An unconfirmed browser Purchase waiting for the store's copy of the order (join window).
    HELD = "held"
    DELIVERED = "delivered"
    #: The destination, or our local check of its rules, refused it; or retries ran out.
    DEAD = "dead"
    #: Too old for the destination's window before it could be sent.
    EXPIRED = "expired"
    #: Not sent on purpose: consent or policy.
    SUPPRESSED = "suppressed"
    #: The destination has no such event (e.g. a refund for Meta).
    NOT_APPLICABLE = "not_applicable"

    @property
    def final(self) -> bool:
        return self in FINAL


#: Outcomes a row never leaves.
FINAL: frozenset[Outcome] = frozenset(
    {Outcome.DELIVERED, Outcome.DEAD, Outcome.EXPIRED, Outcome.SUPPRESSED, Outcome.NOT_APPLICABLE}
)
#: Outcomes a row may still leave, in the order reports show them.
OPEN: tuple[Outcome, ...] = (Outcome.PENDING, Outcome.HELD)
#: Every outcome, in the order reports show them.
ALL: tuple[Outcome, ...] = (
    Outcome.PENDING,
    Outcome.HELD,
    Outcome.DELIVERED,
    Outcome.DEAD,
    Outcome.EXPIRED,
    Outcome.SUPPRESSED,
    Outcome.NOT_APPLICABLE,
)


class Reason(StrEnum):
    """Why a row ended other than delivered: the class a reason text starts with."""

    #: A consent signal was denied or missing (suppressed).
    CONSENT = "consent"
    #: A shop setting said not to send: opt-out, LDU, too little customer information.
    POLICY = "policy"
    #: The destination has no counterpart for the event (not_applicable).
    NOT_APPLICABLE = "not_applicable"
    #: Older than the destination accepts (expired).
    TOO_OLD = "too_old"
    #: Larger than one request to the destination may be (dead).
    TOO_LARGE = "too_large"
    #: Our copy of the destination's rules refused it before sending (dead).
    LOCAL_RULES = "local_rules"
    #: The destination refused it: its code, subcode and message follow (dead).
    VENDOR_REFUSED = "vendor_refused"
    #: Retries went on past the destination's window (dead or expired).
    RETRIES_EXHAUSTED = "retries_exhausted"
    #: A browser Purchase no store copy confirmed within the join window (suppressed).
    JOIN_WINDOW = "join_window"
    #: An operator ended it (``trackside events drop``).
    OPERATOR = "operator"


def reason_text(reason: Reason, detail: str) -> str:
    """``"<class>: <detail>"``, the one shape of a stored reason."""
    return f"{reason.value}: {detail}"


def reason_class(text: str | None) -> Reason | None:
    """The class a stored reason text starts with, or None for older free-text reasons."""
    if not text:
        return None
    head, sep, _ = text.partition(":")
    if not sep:
        return None
    try:
        return Reason(head.strip())
    except ValueError:
        return None
