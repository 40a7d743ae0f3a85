"""The warning /collect logs for a refused Origin: once per origin per minute, bounded.

A shop page whose origin is missing from TRACKSIDE_ALLOWED_ORIGINS sees only a CORS error in
the browser; the operator needs the server's log to say which origin and which setting. A
hostile client can send any Origin on every request, so each origin is logged at most once per
``interval_s``, at most ``max_origins`` are remembered, and a flood of distinct origins is
summed up in one line per interval instead of one line each.
"""

from __future__ import annotations

import logging
import time

log = logging.getLogger("trackside.collect")

#: An Origin header is logged up to this many characters.
SHOWN_CHARS = 200


class RefusedOrigins:
    def __init__(self, interval_s: float = 60.0, max_origins: int = 1000) -> None:
        self.interval_s = interval_s
        self.max_origins = max_origins
        self._last: dict[str, float] = {}  # origin -> when it was last logged
        self._unlogged = 0
        self._flood_logged_at: float | None = None

    def refused(self, origin: str | None, now: float | None = None) -> None:
        """Log a warning for this refused Origin unless it was logged within the interval."""
        now = time.monotonic() if now is None else now
        shown = (origin or "(none)")[:SHOWN_CHARS]
        last = self._last.get(shown)
        if last is not None and now - last < self.interval_s:
            return
        if last is None and len(self._last) >= self.max_origins:
            self._last = {o: at for o, at in self._last.items() if now - at < self.interval_s}
            if len(self._last) >= self.max_origins:
                self._flood(now)
                return
        self._last[shown] = now
        log.warning("Beacon refused (403): Origin %r is not in TRACKSIDE_ALLOWED_ORIGINS; add "
                    "the shop page's origin (scheme://host[:port]) to it if it is yours. "
                    "Logged once per origin per minute.", shown,
                    extra={"action": "origin_refused"})

    def _flood(self, now: float) -> None:
        self._unlogged += 1
        if self._flood_logged_at is not None and now - self._flood_logged_at < self.interval_s:
            return
        self._flood_logged_at = now
        log.warning("Beacons refused (403) from more than %d distinct origins in a minute "
                    "(%d not logged one by one): not in TRACKSIDE_ALLOWED_ORIGINS.",
                    self.max_origins, self._unlogged, extra={"action": "origin_refused"})
        self._unlogged = 0
