"""The PrestaShop connector: poll order state changes, accept Purchases and Refunds.

The polling key is ``order_history.id_order_history`` (PrestaShop writes one row per state
change), not ``orders.date_upd``, which has second resolution and shop-local time. The cursor
lives in the store and moves only after ``pipeline.accept`` has committed the batch, so a crash
re-reads at most one batch (harmless: same event ids → ``duplicate``) and never skips one.
Auto-increment ids can commit out of order (two concurrent checkouts), so ids skipped inside a
batch are remembered as gaps and looked up again for ``GAP_TTL_S``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from trackside.config import Settings
from trackside.refunds import inherit_from_purchase, stored_purchase
from trackside.runtime import Runtime
from trackside.sources.prestashop.map import (
    SOURCE,
    MapContext,
    Mapped,
    purchase,
    refund,
)
from trackside.sources.prestashop.records import (
    HistoryRow,
    Order,
    OrderReader,
    OrderState,
    PrestaShopError,
)

log = logging.getLogger("trackside.prestashop")

CURSOR = "prestashop"
BATCH = 500
#: A first sync (no cursor yet) starts this far back: Meta's window, the longest (7 days).
FIRST_SYNC_LOOKBACK = timedelta(days=7)
GAP_TTL_S = 600.0
MAX_GAPS = 2000

Progress = Callable[[int, int], None]  # (history ids done, history ids in total)


def prestashop_configured(settings: Settings) -> bool:
    return settings.prestashop_db_url is not None or (
        settings.prestashop_url is not None and settings.prestashop_api_key is not None)


def open_reader(settings: Settings) -> OrderReader:
    """The database reader when a DSN is set, else the webservice reader."""
    if settings.prestashop_db_url is not None:
        from trackside.sources.prestashop.db import DatabaseReader

        return DatabaseReader(settings.prestashop_db_url.get_secret_value(),
                              settings.prestashop_db_prefix)
    if settings.prestashop_url and settings.prestashop_api_key is not None:
        from trackside.sources.prestashop.ws import WebserviceReader

        return WebserviceReader(settings.prestashop_url,
                                settings.prestashop_api_key.get_secret_value())
    raise PrestaShopError(
        "PrestaShop is not configured: set TRACKSIDE_PRESTASHOP_DB_URL (database, read-only "
        "user) or TRACKSIDE_PRESTASHOP_URL and TRACKSIDE_PRESTASHOP_API_KEY (webservice)")


@dataclass
class Cursor:
    after: int
    #: Skipped ids (maybe a transaction not yet committed) → when first seen missing.
    gaps: dict[int, float] = field(default_factory=dict)

    def dump(self) -> str:
        gaps = {str(k): v for k, v in self.gaps.items()}
        return json.dumps({"history_id": self.after, "gaps": gaps})

    @classmethod
    def load(cls, text: str) -> Cursor:
        data = json.loads(text)
        gaps = {int(k): float(v) for k, v in data.get("gaps", {}).items()}
        return cls(int(data["history_id"]), gaps)


@dataclass
class SyncReport:
    state_changes: int = 0
    queued: int = 0
    duplicates: int = 0
    refunds: int = 0
    rejected: int = 0
    warnings: int = 0
    batches: int = 0
    last_history_id: int | None = None


class PrestaShopSync:
    def __init__(self, runtime: Runtime, reader: OrderReader | None = None,
                 batch_size: int = BATCH) -> None:
        self.runtime = runtime
        self.reader = reader or open_reader(runtime.settings)
        self.batch_size = batch_size
        self._ctx: MapContext | None = None
        self._states: dict[int, OrderState] = {}

    def close(self) -> None:
        self.reader.close()

    # -- setup -----------------------------------------------------------------------------

    def context(self) -> MapContext:
        if self._ctx is None:
            self.reader.check()
            tz: tzinfo = UTC
            name = self.reader.shop_timezone()
            if name:
                try:
                    tz = ZoneInfo(name)
                except (ZoneInfoNotFoundError, ValueError):
                    log.warning("PrestaShop PS_TIMEZONE %r is unknown here; reading times as UTC",
                                name)
            else:
                log.warning("cannot read PS_TIMEZONE from %s; reading order times as UTC",
                            self.reader.description)
            settings = self.runtime.settings
            self._ctx = MapContext(tz, settings.prestashop_tax_included, settings.event_id_prefix,
                                   settings.prestashop_url or self.reader.shop_url())
            self._states = self.reader.order_states()
        return self._ctx

    def _state(self, state_id: int) -> OrderState:
        if state_id not in self._states:
            self._states = self.reader.order_states()  # a state created since we started
        return self._states.get(state_id, OrderState(state_id, False, False, f"#{state_id}"))

    def _local_now(self, ctx: MapContext, now: float) -> datetime:
        return datetime.fromtimestamp(now, ctx.tz).replace(tzinfo=None)

    # -- passes ----------------------------------------------------------------------------

    def sync_once(
        self, progress: Progress | None = None, max_batches: int | None = None
    ) -> SyncReport:
        """Read every state change after the cursor; the cursor moves after each batch."""
        ctx = self.context()
        now = time.time()
        stored = self.runtime.store.get_cursor(CURSOR, shop=self.runtime.shop_name)
        if stored is None:
            first = self.reader.first_history_id_since(
                self._local_now(ctx, now) - FIRST_SYNC_LOOKBACK)
            cursor = Cursor(first - 1 if first is not None else self.reader.max_history_id())
        else:
            cursor = Cursor.load(stored)
        report = SyncReport()
        end = max(self.reader.max_history_id(), cursor.after)
        start = cursor.after
        while max_batches is None or report.batches < max_batches:
            rows = self.reader.history_after(cursor.after, self.batch_size)
            retried = (
                self.reader.history_by_ids(sorted(cursor.gaps))
                if cursor.gaps and not report.batches else []
            )
            if not rows and not retried:
                if self._expire_gaps(cursor, time.time()):
                    self.runtime.store.set_cursor(CURSOR, cursor.dump(), time.time(),
                                              shop=self.runtime.shop_name)
                break
            self._process(retried + rows, report)
            self._advance(cursor, rows, retried, time.time())
            # Committed by accept() above: only now may the cursor pass these rows.
            self.runtime.store.set_cursor(CURSOR, cursor.dump(), time.time(),
                                              shop=self.runtime.shop_name)
            report.batches += 1
            report.last_history_id = cursor.after
            if progress:
                progress(cursor.after - start, max(end, cursor.after) - start)
            if len(rows) < self.batch_size:
                break
        return report

    def backfill(self, since: datetime, progress: Progress | None = None) -> SyncReport:
        """Every state change from ``since`` (shop-local) on, without moving a newer cursor."""
        self.context()
        report = SyncReport()
        first = self.reader.first_history_id_since(since)
        if first is None:
            return report
        after = start = first - 1
        end = self.reader.max_history_id()
        while after < end:
            rows = self.reader.history_after(after, self.batch_size)
            if not rows:
                break
            self._process(rows, report)
            after = rows[-1].id
            report.batches += 1
            report.last_history_id = after
            if progress:
                progress(after - start, max(end - start, 1))
        stored = self.runtime.store.get_cursor(CURSOR, shop=self.runtime.shop_name)
        if report.last_history_id is not None and (
                stored is None or Cursor.load(stored).after < report.last_history_id):
            # The next sync continues after what backfill read (re-reading would only add
            # duplicates); gaps stay as they were.
            cursor = Cursor.load(stored) if stored else Cursor(0)
            cursor.after = report.last_history_id
            self.runtime.store.set_cursor(CURSOR, cursor.dump(), time.time(),
                                              shop=self.runtime.shop_name)
        return report

    @staticmethod
    def _advance(
        cursor: Cursor, rows: list[HistoryRow], retried: list[HistoryRow], now: float
    ) -> None:
        for row in retried:
            cursor.gaps.pop(row.id, None)
        expected = cursor.after + 1
        for row in rows:
            for missing in range(expected, row.id):
                cursor.gaps.setdefault(missing, now)
            expected = row.id + 1
        if rows:
            cursor.after = rows[-1].id
        PrestaShopSync._expire_gaps(cursor, now)

    @staticmethod
    def _expire_gaps(cursor: Cursor, now: float) -> bool:
        before = len(cursor.gaps)
        live = {k: v for k, v in cursor.gaps.items() if now - v < GAP_TTL_S}
        cursor.gaps = dict(sorted(live.items())[-MAX_GAPS:])
        return len(cursor.gaps) != before

    # -- one batch -------------------------------------------------------------------------

    def _process(self, rows: list[HistoryRow], report: SyncReport) -> None:
        ctx = self.context()
        now = time.time()
        references = self.reader.references([r.id_order for r in rows])
        orders = self.reader.orders_by_reference(sorted(set(references.values())))
        groups: dict[str, list[Order]] = {}
        by_id: dict[int, Order] = {}
        for fetched in orders:
            groups.setdefault(fetched.reference, []).append(fetched)
            by_id[fetched.id] = fetched
        history: dict[int, list[HistoryRow]] = {}
        for h in self.reader.history_of_orders(list(by_id)):
            history.setdefault(h.id_order, []).append(h)
        mapped: list[Mapped] = []
        for row in rows:
            report.state_changes += 1
            order = by_id.get(row.id_order)
            if order is None:
                log.warning("order %s (state change %s) no longer exists; skipped",
                            row.id_order, row.id)
                continue
            group = groups[order.reference]
            changes = sorted((h for o in group for h in history.get(o.id, [])), key=lambda h: h.id)
            first_paid = next((h for h in changes if self._state(h.id_order_state).counted), None)
            if first_paid is not None and first_paid.id == row.id:
                mapped.append(purchase(group, row, ctx, now))
                continue
            new_state = self._state(row.id_order_state)
            if new_state.counted:
                continue
            previous = [h for h in history.get(order.id, []) if h.id < row.id]
            if previous and self._state(previous[-1].id_order_state).counted:
                old = self._state(previous[-1].id_order_state)
                mapped.append(refund(order, group, row, old.name, new_state.name, ctx, now))
        if mapped:
            self._accept(mapped, report, now)

    def _accept(self, mapped: list[Mapped], report: SyncReport, now: float) -> None:
        store, shop = self.runtime.store, self.runtime.shop_name
        raws = [
            inherit_from_purchase(m.raw, stored_purchase(store, self.runtime.settings,
                                                         m.raw["order"]["reference"], shop=shop))
            if m.raw["event_name"] == "Refund" else m.raw
            for m in mapped
        ]
        results = self.runtime.pipeline.accept(raws, source=SOURCE, now=now)
        for item, result in zip(mapped, results, strict=True):
            name = item.raw["event_name"]
            if result.status == "rejected":
                report.rejected += 1
                log.error("PrestaShop %s %s could not be accepted: %s", name, item.raw["event_id"],
                          "; ".join(f"{e.field} {e.reason}" for e in result.errors))
                continue
            if result.status == "duplicate":
                report.duplicates += 1
                continue
            report.queued += 1
            if name == "Refund":
                report.refunds += 1
            # Notes only for what this pass stored, so a re-read batch does not repeat them.
            for warning in item.warnings + result.warnings:
                report.warnings += 1
                store.add_note(name, result.event_id or "", "warning", warning, now,
                               shop=shop)
            if item.note:
                store.add_note("Purchase", item.purchase_id, "order_state", item.note, now,
                               shop=shop)
