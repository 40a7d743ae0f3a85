"""The memory store's match-quality queries (issue 15), a mixin of MemoryStore."""

from __future__ import annotations

import dataclasses
from collections import Counter
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from trackside.shop_names import DEFAULT_SHOP, checked_shop
from trackside.store import DatasetQuality, KeyCombination
from trackside.store.records import sorted_combinations
from trackside.testing.memory_unit import State


class MemoryQuality:
    if TYPE_CHECKING:
        def _locked(self) -> AbstractContextManager[State]: ...

        def _write(self) -> AbstractContextManager[State]: ...

    def match_key_counts(self, since: float, until: float, *,
                         shop: str = DEFAULT_SHOP) -> list[KeyCombination]:
        with self._locked() as state:
            counted = Counter((row.event_name, row.match_keys) for row in state.events.values()
                              if row.shop == shop and since <= row.event_time < until)
        return sorted_combinations([(name, mask, count)
                                    for (name, mask), count in counted.items()])

    def save_dataset_quality(self, record: DatasetQuality) -> None:
        checked_shop(record.shop, "DatasetQuality.shop")
        with self._write() as state:
            state.dataset_quality[record.shop] = dataclasses.replace(record)

    def dataset_quality(self, *, shop: str = DEFAULT_SHOP) -> DatasetQuality | None:
        with self._locked() as state:
            found = state.dataset_quality.get(shop)
        return None if found is None else dataclasses.replace(found)
