"""MemoryStore's record of platform webhook deliveries (as the SQL stores' webhook_deliveries)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from trackside.shop_names import DEFAULT_SHOP, checked_shop
from trackside.store.records import WebhookCount, WebhookDelivery

if TYPE_CHECKING:
    from trackside.testing.memory_unit import State


class WebhookRecords:
    if TYPE_CHECKING:
        def _locked(self) -> AbstractContextManager[State]: ...

        def _write(self) -> AbstractContextManager[State]: ...

    def record_webhook(self, delivery: WebhookDelivery, now: float) -> bool:
        shop = checked_shop(delivery.shop)
        with self._write() as state:
            key = (shop, delivery.source, delivery.delivery_id)
            if key in state.webhooks:
                return False
            state.webhooks[key] = dataclasses.replace(delivery, shop=shop, received_at=now)
            return True

    def webhook_delivery(self, source: str, delivery_id: str, *,
                         shop: str = DEFAULT_SHOP) -> WebhookDelivery | None:
        with self._locked() as state:
            found = state.webhooks.get((shop, source, delivery_id))
            return dataclasses.replace(found) if found else None

    def webhook_counts(self, *, shop: str | None = None) -> list[WebhookCount]:
        with self._locked() as state:
            groups: dict[tuple[str, str, str, str], WebhookCount] = {}
            for delivery in _of_shop(state.webhooks.values(), shop):
                key = (delivery.shop, delivery.source, delivery.outcome, delivery.reason)
                entry = groups.setdefault(key, WebhookCount(*key, 0, delivery.received_at))
                entry.count += 1
                entry.last_received_at = max(entry.last_received_at, delivery.received_at)
            return [groups[key] for key in sorted(groups)]


def _of_shop(deliveries: Iterable[WebhookDelivery], shop: str | None) -> list[WebhookDelivery]:
    return [d for d in deliveries if shop is None or d.shop == shop]
