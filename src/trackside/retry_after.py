"""One reading of HTTP ``Retry-After``: delay-seconds or an HTTP-date.

https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3
"""

from __future__ import annotations

import email.utils
import math

#: Longer than this is taken as a misconfigured server, not a plan: capped.
MAX_RETRY_AFTER_S = 86400.0


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from ``now``, or None when the header is absent or unreadable.

    ``"120"`` → 120.0; ``"Wed, 21 Oct 2026 07:28:00 GMT"`` → the seconds until then (0 when it
    is past); negative, non-finite or garbled values → None (the caller's own backoff applies).
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        return min(float(text), MAX_RETRY_AFTER_S)
    try:
        seconds = float(text)
    except ValueError:
        seconds = None
    if seconds is not None:
        # Not RFC delay-seconds, but seen in the wild ("1.5"); a negative one is garbage.
        if not math.isfinite(seconds) or seconds < 0:
            return None
        return min(seconds, MAX_RETRY_AFTER_S)
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:  # RFC 9110 HTTP-dates are GMT
        return None
    return min(max(0.0, moment.timestamp() - now), MAX_RETRY_AFTER_S)
