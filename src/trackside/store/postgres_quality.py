"""PostgreSQL's match-quality queries (issue 15), a mixin of PostgresStore: the match-key counts
of a period from the events' flags (migration 0002) through one covering index, and the last
Dataset Quality fetch per shop."""

from __future__ import annotations

import math
from collections import Counter

from trackside.shop_names import DEFAULT_SHOP, checked_shop
from trackside.store import DatasetQuality, KeyCombination
from trackside.store.postgres_outbox import PostgresHost
from trackside.store.records import period_parts, sorted_combinations

_MATCH_KEY_COUNTS = (
    "SELECT event_name, match_keys, count(*) AS n FROM events"
    " WHERE shop = %s AND event_time >= %s AND event_time < %s GROUP BY event_name, match_keys"
)
_SAVE = (
    "INSERT INTO dataset_quality (shop, dataset_id, checked_at, figures, figures_at, error)"
    " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (shop) DO UPDATE SET"
    " dataset_id = excluded.dataset_id, checked_at = excluded.checked_at,"
    " figures = excluded.figures, figures_at = excluded.figures_at, error = excluded.error"
)


#: Whole days from the signed daily counts (migration 0002's statement triggers).
_DAY_COUNTS = (
    "SELECT event_name, match_keys, sum(events) AS n FROM match_key_deltas"
    " WHERE shop = %s AND day >= %s AND day < %s GROUP BY event_name, match_keys"
    " HAVING sum(events) > 0"
)


class QualityQueries(PostgresHost):
    def match_key_counts(self, since: float, until: float, *,
                         shop: str = DEFAULT_SHOP) -> list[KeyCombination]:
        counted: Counter[tuple[str, int]] = Counter()
        for query, start, end in period_parts(since, until):
            # Whole numbers: event_time is BIGINT, and a float bound would compare as double
            # precision, which the (shop, event_time, …) index cannot serve. For an integer
            # t, t >= x is t >= ceil(x) and t < x is t < ceil(x).
            for row in self._read(_DAY_COUNTS if query == "days" else _MATCH_KEY_COUNTS,
                                  (shop, math.ceil(start), math.ceil(end))):
                counted[(row["event_name"], row["match_keys"])] += int(row["n"])
        return sorted_combinations([(name, mask, n) for (name, mask), n in counted.items()
                                    if n > 0])

    def save_dataset_quality(self, record: DatasetQuality) -> None:
        with self._write() as tx:
            tx.conn.execute(_SAVE, (checked_shop(record.shop, "DatasetQuality.shop"),
                                    record.dataset_id, record.checked_at, record.figures,
                                    record.figures_at, record.error))

    def dataset_quality(self, *, shop: str = DEFAULT_SHOP) -> DatasetQuality | None:
        rows = self._read("SELECT dataset_id, checked_at, figures, figures_at, error"
                          " FROM dataset_quality WHERE shop = %s", (shop,))
        if not rows:
            return None
        row = rows[0]
        return DatasetQuality(shop, row["dataset_id"], row["checked_at"], row["figures"],
                              row["figures_at"], row["error"])
