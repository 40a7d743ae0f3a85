"""Times as the HTTP API shows them: ISO 8601 in UTC with a ``Z`` (``2026-11-24T16:00:00.100Z``).

The store keeps unix seconds; people and scripts reading the API get a time they can read and
parse without knowing that. Durations (``worker_last_cycle_age_s``) stay numbers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal, overload


@overload
def iso_utc(moment: float, timespec: Literal["seconds", "milliseconds"] = ...) -> str: ...


@overload
def iso_utc(moment: None, timespec: Literal["seconds", "milliseconds"] = ...) -> None: ...


def iso_utc(moment: float | None,
            timespec: Literal["seconds", "milliseconds"] = "milliseconds") -> str | None:
    """Unix seconds → ISO 8601 UTC with ``Z``; None stays None."""
    if moment is None:
        return None
    text = datetime.fromtimestamp(moment, UTC).isoformat(timespec=timespec)
    return text.replace("+00:00", "Z")
