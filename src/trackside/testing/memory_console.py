"""MemoryStore's reads for the console (web/console/), as store/sqlite_console.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from trackside.shop_names import DEFAULT_SHOP
from trackside.store.records import DailyCount, DeadLetter, DeliveryLatency, EventSummary
from trackside.testing.memory_unit import State


class ConsoleQueries:
    def _locked(self) -> AbstractContextManager[State]:
        raise NotImplementedError  # MemoryStore's

    def events_per_day(self, since: float, until: float, *,
                       shop: str = DEFAULT_SHOP) -> list[DailyCount]:
        counts: dict[tuple[str, str], int] = {}
        with self._locked() as state:
            for event in state.events.values():
                if event.shop == shop and since <= event.accepted_at < until:
                    day = datetime.fromtimestamp(event.accepted_at, UTC).strftime("%Y-%m-%d")
                    counts[(day, event.source)] = counts.get((day, event.source), 0) + 1
        return [DailyCount(day, source, n) for (day, source), n in sorted(counts.items())]

    def delivery_latency(self, since: float, until: float, *,
                         shop: str = DEFAULT_SHOP) -> list[DeliveryLatency]:
        waits: dict[str, list[float]] = {}
        with self._locked() as state:
            for row in state.outbox.values():
                if (row.shop == shop and row.status == "delivered"
                        and row.finished_at is not None and since <= row.finished_at < until):
                    accepted = state.events[row.event_pk].accepted_at
                    waits.setdefault(row.destination, []).append(row.finished_at - accepted)
        return [DeliveryLatency(name, len(w), sum(w) / len(w), max(w))
                for name, w in sorted(waits.items())]

    def dead_letters(self, *, shop: str = DEFAULT_SHOP, limit: int = 50) -> list[DeadLetter]:
        with self._locked() as state:
            rows = sorted((row for row in state.outbox.values()
                           if row.shop == shop and row.status in ("dead", "expired")),
                          key=lambda row: (row.finished_at or 0.0, row.id), reverse=True)
            return [DeadLetter(state.events[row.event_pk].event_name,
                               state.events[row.event_pk].event_id, row.destination,
                               row.status, row.code, row.message, row.finished_at)
                    for row in rows[:limit]]

    def find_events(self, *, reference: str | None = None, email_hash: str | None = None,
                    shop: str = DEFAULT_SHOP, limit: int = 20) -> list[EventSummary]:
        if reference is None and email_hash is None:
            return []
        with self._locked() as state:
            found = [event for event in state.events.values() if event.shop == shop
                     and _matches(json.loads(event.body), reference, email_hash)]
        found.sort(key=lambda event: (event.accepted_at, event.pk), reverse=True)
        return [EventSummary(e.event_name, e.event_id, e.source, e.accepted_at)
                for e in found[:limit]]


def _matches(body: dict[str, Any], reference: str | None, email_hash: str | None) -> bool:
    if reference is not None and (body.get("order") or {}).get("reference") != reference:
        return False
    return email_hash is None or email_hash in _emails(body)


def _emails(body: dict[str, Any]) -> Iterator[str]:
    yield from (body.get("user_data") or {}).get("em") or []
