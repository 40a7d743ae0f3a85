"""The PrestaShop poller: one sync pass every TRACKSIDE_PRESTASHOP_POLL_S (trackside/pollers.py).

A pass that fails (shop database down, bad credentials) is logged with its fix and retried at
the next interval; the cursor has not moved, so nothing is missed.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from trackside.config import Settings
from trackside.sources.prestashop.records import PrestaShopError
from trackside.sources.prestashop.sync import PrestaShopSync, prestashop_configured

if TYPE_CHECKING:
    from trackside.runtime import Runtime

log = logging.getLogger("trackside.prestashop")


class PrestaShopPoller:
    name = "prestashop"

    def __init__(self) -> None:
        #: Kept between passes (its reader holds the shop connection); dropped after an error.
        self._sync: PrestaShopSync | None = None

    def enabled(self, settings: Settings) -> bool:
        return prestashop_configured(settings)

    def interval_s(self, settings: Settings) -> float:
        return settings.prestashop_poll_s

    def run_once(self, runtime: Runtime, now: float) -> None:
        try:
            if self._sync is None:
                self._sync = PrestaShopSync(runtime)
            report = self._sync.sync_once()
        except PrestaShopError as exc:
            log.error("PrestaShop sync failed: %s", exc)
            self.close()
            return
        if report.state_changes:
            log.info("PrestaShop: %d state changes, %d events queued, %d refunds",
                     report.state_changes, report.queued, report.refunds)

    def close(self) -> None:
        if self._sync is not None:
            self._sync.close()
            self._sync = None
