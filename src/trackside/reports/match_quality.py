"""Match quality per event name over a period: how many events, the share carrying each match
key, trackside's own 0-10 estimate, and beside it Meta's figures from the Dataset Quality API.

Definitions (docs/api.md "GET /v1/reports/match-quality" says the same):

- the period is on the event's own time (``event_time``), ``since`` included, ``until`` not;
- ``keys[k]`` = events of that name carrying key ``k`` / events of that name, rounded to 4
  decimals; a key is carried when present and not empty (quality.customer_information_keys)
  in the stored event as the pipeline last wrote it (a later merge's keys count, the
  retention purge's stripping does not);
- ``estimate`` = the mean, over the events of that name, of trackside's per-event estimate
  (quality.estimate_score: the weights of the keys carried, which add up to 10, with a floor
  of 6 for a direct id such as a lead id), rounded to 1 decimal. Without direct ids this is
  Σ weight(k) × keys[k]. It is trackside's reading of Meta's guidance, not Meta's score;
- ``meta``: Meta's ``composite_score``, ``acr_percentage`` and ``event_coverage_percentage``
  for that event name from the last successful fetch, with its time (``fetched_at``), or None
  when Meta has no figures for it (or none were fetched: ``meta_status`` says why).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from trackside.errors import RequestError
from trackside.quality import MATCH_KEYS, estimate_score
from trackside.reports.dataset_quality import figures_of
from trackside.shop_names import DEFAULT_SHOP
from trackside.store import DatasetQuality, Store

#: The longest period a report covers (a year and a day: a leap year's same day).
MAX_PERIOD_DAYS = 367
_SHARE_DECIMALS = 4


class PeriodError(RequestError):
    """A ``since``/``until`` value that is not a date, or a period that is not one."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


def parse_moment(value: str, field: str, *, end_of_day: bool = False) -> float:
    """``YYYY-MM-DD`` (midnight UTC; with ``end_of_day`` the next midnight, so the day is
    included) or an ISO-8601 date and time (UTC unless it names its offset), as epoch
    seconds."""
    text = value.strip()
    if len(text) > 40:
        raise PeriodError(field, "must be a date (YYYY-MM-DD) or an ISO-8601 date and time")
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return (moment + timedelta(days=1 if end_of_day else 0)).timestamp()
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise PeriodError(field, "must be a date (YYYY-MM-DD) or an ISO-8601 date and time"
                          ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def parse_period(since: str | None, until: str | None, now: float) -> tuple[float, float]:
    """The period [since, until) from the query's texts; ``until`` defaults to ``now``."""
    if since is None or not since.strip():
        raise PeriodError("since", "is required (YYYY-MM-DD)")
    start = parse_moment(since, "since")
    end = now if until is None or not until.strip() else parse_moment(until, "until",
                                                                      end_of_day=True)
    if end <= start:
        raise PeriodError("until", "must be after since")
    if end - start > MAX_PERIOD_DAYS * 86400:
        raise PeriodError("until", f"the period may cover at most {MAX_PERIOD_DAYS} days")
    return start, end


@dataclass(frozen=True)
class MetaFigures:
    composite_score: float | None
    acr_percentage: float | None
    event_coverage_percentage: float | None
    fetched_at: float

    def as_dict(self) -> dict[str, Any]:
        return {"composite_score": self.composite_score, "acr_percentage": self.acr_percentage,
                "event_coverage_percentage": self.event_coverage_percentage,
                "fetched_at": _iso(self.fetched_at)}


@dataclass(frozen=True)
class EventQuality:
    event_name: str
    count: int
    #: Every key of quality.MATCH_KEYS → the share of the events carrying it.
    keys: dict[str, float]
    estimate: float
    meta: MetaFigures | None

    def as_dict(self) -> dict[str, Any]:
        return {"event_name": self.event_name, "count": self.count, "keys": self.keys,
                "estimate": self.estimate,
                "meta": None if self.meta is None else self.meta.as_dict()}


@dataclass(frozen=True)
class MatchQuality:
    since: float
    until: float
    events: list[EventQuality]
    #: The last Dataset Quality fetch (None: never fetched, e.g. no Meta credentials).
    fetch: DatasetQuality | None

    def as_dict(self) -> dict[str, Any]:
        """The JSON of GET /v1/reports/match-quality (docs/api.md)."""
        return {"since": _iso(self.since), "until": _iso(self.until),
                "events": [event.as_dict() for event in self.events],
                "meta_status": _status(self.fetch)}


def match_quality(store: Store, since: float, until: float, *,
                  shop: str = DEFAULT_SHOP) -> MatchQuality:
    """The report of ``shop`` for [``since``, ``until``), by event name."""
    totals: dict[str, int] = {}
    carrying: dict[str, dict[str, int]] = {}
    score_sums: dict[str, float] = {}
    for combination in store.match_key_counts(since, until, shop=shop):
        name, count = combination.event_name, combination.count
        totals[name] = totals.get(name, 0) + count
        per_key = carrying.setdefault(name, dict.fromkeys(MATCH_KEYS, 0))
        for key in combination.keys & per_key.keys():
            per_key[key] += count
        score_sums[name] = score_sums.get(name, 0.0) + estimate_score(combination.keys) * count
    fetch = store.dataset_quality(shop=shop)
    figures = figures_of(fetch)
    events = []
    for name in sorted(totals):
        total = totals[name]
        events.append(EventQuality(
            event_name=name, count=total,
            keys={key: round(carrying[name][key] / total, _SHARE_DECIMALS) for key in MATCH_KEYS},
            estimate=round(score_sums[name] / total, 1),
            meta=_meta(figures.get(name), fetch)))
    return MatchQuality(since, until, events, fetch)


def _meta(figures: dict[str, Any] | None, fetch: DatasetQuality | None) -> MetaFigures | None:
    if figures is None or fetch is None or fetch.figures_at is None:
        return None
    return MetaFigures(figures.get("composite_score"), figures.get("acr_percentage"),
                       figures.get("event_coverage_percentage"), fetch.figures_at)


def _status(fetch: DatasetQuality | None) -> dict[str, Any] | None:
    if fetch is None:
        return None
    return {"dataset_id": fetch.dataset_id, "checked_at": _iso(fetch.checked_at),
            "fetched_at": None if fetch.figures_at is None else _iso(fetch.figures_at),
            "error": fetch.error}


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds").replace(
        "+00:00", "Z")
