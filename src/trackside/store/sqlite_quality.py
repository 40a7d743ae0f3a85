"""SQLite's match-quality queries (issue 15), a mixin of SQLiteStore: the match-key counts of a
period, read from the events' flags (migration 0009) through one covering index, and the last
Dataset Quality fetch per shop."""

from __future__ import annotations

from collections import Counter

from trackside.shop_names import DEFAULT_SHOP, checked_shop
from trackside.store import DatasetQuality, KeyCombination
from trackside.store.records import period_parts, sorted_combinations
from trackside.store.sqlite_outbox import SQLiteHost

#: Spelled so the planner answers from events_match_keys alone (shop, event_time, event_name,
#: match_keys): no body is read.
_MATCH_KEY_COUNTS = (
    "SELECT event_name, match_keys, count(*) AS n FROM events INDEXED BY events_match_keys"
    " WHERE shop = ? AND event_time >= ? AND event_time < ? GROUP BY event_name, match_keys"
)
_SAVE = (
    "INSERT INTO dataset_quality (shop, dataset_id, checked_at, figures, figures_at, error)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (shop) DO UPDATE SET"
    " dataset_id = excluded.dataset_id, checked_at = excluded.checked_at,"
    " figures = excluded.figures, figures_at = excluded.figures_at, error = excluded.error"
)


#: Whole days from the rollups (migration 0009's triggers keep them exact).
_DAY_COUNTS = (
    "SELECT event_name, match_keys, sum(events) AS n FROM match_key_days"
    " WHERE shop = ? AND day >= ? AND day < ? GROUP BY event_name, match_keys HAVING n > 0"
)


class QualityQueries(SQLiteHost):
    def match_key_counts(self, since: float, until: float, *,
                         shop: str = DEFAULT_SHOP) -> list[KeyCombination]:
        counted: Counter[tuple[str, int]] = Counter()
        for query, start, end in period_parts(since, until):
            for row in self._read(_DAY_COUNTS if query == "days" else _MATCH_KEY_COUNTS,
                                  (shop, start, end)):
                counted[(row["event_name"], row["match_keys"])] += row["n"]
        return sorted_combinations([(name, mask, n) for (name, mask), n in counted.items()
                                    if n > 0])

    def save_dataset_quality(self, record: DatasetQuality) -> None:
        with self._write() as conn:
            conn.execute(_SAVE, (checked_shop(record.shop, "DatasetQuality.shop"),
                                 record.dataset_id, record.checked_at, record.figures,
                                 record.figures_at, record.error))

    def dataset_quality(self, *, shop: str = DEFAULT_SHOP) -> DatasetQuality | None:
        rows = self._read("SELECT dataset_id, checked_at, figures, figures_at, error"
                          " FROM dataset_quality WHERE shop = ?", (shop,))
        if not rows:
            return None
        row = rows[0]
        return DatasetQuality(shop, row["dataset_id"], row["checked_at"], row["figures"],
                              row["figures_at"], row["error"])
