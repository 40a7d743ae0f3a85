"""Meta's own match-quality figures, fetched from the Dataset Quality API and stored per shop.

A periodic job (trackside/pollers.py runs it under ``Store.job_lock``, so once per hour across
every process sharing the store) asks Meta for each shop with Meta credentials; the request
and the reading of the answer are Meta's folder's (destinations/meta/dataset_quality.py). What
is stored (``Store.save_dataset_quality``): the figures of the last successful fetch, per
event name, and when the last fetch failed, why (a permission error, code 10, or anything
else: unreachable, not JSON, a refused token), so the report shows the reason instead of
failing. A failed fetch keeps the previous figures (they are still Meta's last word), marked
with the time they were fetched.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx

from trackside.config import Settings
from trackside.destinations.meta.dataset_quality import (
    FIELD_LISTS,
    EventFigures,
    GraphRefusal,
    build_request,
    read_answer,
)
from trackside.destinations.meta.settings import MetaSettings
from trackside.store import DatasetQuality, Store

if TYPE_CHECKING:
    from trackside.runtime import Runtime

log = logging.getLogger("trackside.reports")

#: Meta computes EMQ over days; asking more than hourly only spends the app's rate limit.
INTERVAL_S = 3600.0
#: A read for a report, not the checkout path: more patience than event delivery gets.
TIMEOUT_S = 15.0


def fetch(client: httpx.Client, meta: MetaSettings) -> list[EventFigures] | GraphRefusal:
    """Meta's figures for ``meta``'s pixel, trying :data:`FIELD_LISTS` in turn while Meta
    refuses the fields (code 100); any other answer ends the search."""
    refusal: GraphRefusal | None = None
    for fields in FIELD_LISTS:
        request = build_request(meta, fields)
        try:
            response = client.get(request.url, params=request.params, headers=request.headers)
        except httpx.HTTPError as exc:
            return GraphRefusal(0, None, None, f"Meta could not be reached ({type(exc).__name__})")
        answer = read_answer(response.status_code, response.text)
        if not (isinstance(answer, GraphRefusal) and answer.fields_refused):
            return answer
        log.info("Meta refused a dataset quality field list (code %s); trying a smaller one",
                 answer.code)
        refusal = answer
    assert refusal is not None
    return refusal


def refresh(store: Store, shop: str, meta: MetaSettings, client: httpx.Client, now: float,
            scrub: Callable[[str], str]) -> DatasetQuality:
    """Fetch ``shop``'s figures and store the outcome (``scrub`` masks secrets in a reason)."""
    assert meta.meta_pixel_id is not None
    answer = fetch(client, meta)
    if isinstance(answer, list):
        figures = json.dumps({event.event_name: event.as_dict() for event in answer},
                             sort_keys=True)
        record = DatasetQuality(shop, meta.meta_pixel_id, now, figures, now)
        log.info("dataset quality of shop %s: figures for %d event names", shop, len(answer))
    else:
        previous = store.dataset_quality(shop=shop)
        kept = previous if previous is not None and previous.dataset_id == meta.meta_pixel_id \
            else None
        reason = scrub(answer.reason())
        record = DatasetQuality(shop, meta.meta_pixel_id, now,
                                kept.figures if kept else None, kept.figures_at if kept else None,
                                reason)
        log.warning("dataset quality of shop %s not fetched: %s", shop, reason)
    store.save_dataset_quality(record)
    return record


def figures_of(record: DatasetQuality | None) -> dict[str, dict[str, object]]:
    """The stored figures per event name ({} when none were fetched)."""
    if record is None or record.figures is None:
        return {}
    loaded = json.loads(record.figures)
    return loaded if isinstance(loaded, dict) else {}


class DatasetQualityPoller:
    """The periodic job: every shop with Meta credentials, one after the other."""

    name = "meta-dataset-quality"

    def __init__(self, client: httpx.Client | None = None) -> None:
        self._client = client

    def enabled(self, settings: Settings) -> bool:
        """Whether this shop's settings have Meta credentials (the job runs when any shop's
        do; run_once skips the shops without)."""
        return settings.destination("meta", MetaSettings).meta_configured

    def interval_s(self, settings: Settings) -> float:
        return INTERVAL_S

    def run_once(self, runtime: Runtime, now: float) -> None:
        for part in runtime.per_shop.values():
            meta = part.settings.destination("meta", MetaSettings)
            if not meta.meta_configured:
                continue
            if self._client is None:
                self._client = httpx.Client(timeout=TIMEOUT_S)
            try:
                refresh(runtime.store, part.name, meta, self._client, now,
                        lambda text: runtime.redactor(text) or "")
            except Exception as exc:  # one shop's store failure must not skip the others
                log.warning("dataset quality of shop %s: %s", part.name,
                            runtime.redactor(f"{type(exc).__name__}: {exc}") or "")

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
