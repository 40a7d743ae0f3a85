"""Outcomes in a shop owner's words ("not sent: the shopper refused ad cookies"); the console
shows the stored, technical reason one click away (a <details>)."""

from __future__ import annotations

from trackside.outcomes import Outcome, Reason, reason_class

#: How the store words a drop (Store.drop_pending), older than the reason classes.
DROPPED_PREFIX = "dropped by operator"

_STATUS = {
    Outcome.PENDING: "waiting to be sent",
    Outcome.HELD: "waiting for the shop's own copy of the order",
    Outcome.DELIVERED: "sent",
    Outcome.DEAD: "not sent: the destination refused it",
    Outcome.EXPIRED: "not sent: it became too old for the destination",
    Outcome.SUPPRESSED: "not sent on purpose",
    Outcome.NOT_APPLICABLE: "not needed: the destination has no such event",
}

#: Column headings: one or two words per status.
SHORT = {
    "pending": "waiting", "held": "held", "delivered": "sent", "dead": "refused",
    "expired": "too old", "suppressed": "not sent on purpose", "not_applicable": "not needed",
}

_REASON = {
    Reason.POLICY: "not sent: a shop setting says not to (opt-out, limited data use, or too "
                   "little customer information)",
    Reason.NOT_APPLICABLE: "not needed: the destination has no such event",
    Reason.TOO_OLD: "not sent: it became too old for the destination",
    Reason.TOO_LARGE: "not sent: it is larger than the destination accepts",
    Reason.LOCAL_RULES: "not sent: it breaks the destination's rules (checked before sending)",
    Reason.VENDOR_REFUSED: "not sent: the destination refused it",
    Reason.RETRIES_EXHAUSTED: "not sent: the destination could not be reached in time",
    Reason.JOIN_WINDOW: "not sent: the shop never confirmed this browser purchase",
    Reason.OPERATOR: "not sent: dropped by someone in this console or the command line",
}


def outcome(status: str, reason: str | None) -> str:
    """The sentence for one row's status and stored reason."""
    kind = reason_class(reason)
    if kind is None and (reason or "").startswith(DROPPED_PREFIX):
        kind = Reason.OPERATOR
    if kind is Reason.CONSENT:
        text = (reason or "").lower()
        cookies = "analytics" if "analytics" in text else "ad"
        return f"not sent: the shopper refused {cookies} cookies"
    if kind is not None and status != Outcome.DELIVERED and kind in _REASON:
        return _REASON[kind]
    try:
        return _STATUS[Outcome(status)]
    except ValueError:
        return status


def pause(reason: str, paused_until: float | None) -> str:
    """A paused or throttled destination, for its owner."""
    if paused_until is None:
        return "stopped until someone resumes it (usually its access token or settings)"
    return "slowed down: the destination asked trackside to wait"
