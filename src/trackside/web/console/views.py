"""What each console page shows, read from the store: plain dicts for the templates, no
personal data (the store's console reads return none, and an event's body is reduced to the
names of the keys it carries)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from markupsafe import Markup

from trackside import timeline
from trackside.identity import sha256_hex
from trackside.identity.fields import normalize_email
from trackside.outcomes import OPEN
from trackside.quality import MATCH_KEYS
from trackside.reports.match_quality import match_quality
from trackside.store import EventSummary, EventView, Store
from trackside.web.console import svg, wording

OVERVIEW_DAYS = 14
DAY_S = 86_400


def when(moment: float | None) -> str:
    if moment is None:
        return "–"
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * DAY_S:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / DAY_S:.1f} days"


def days_ending(today: date, count: int) -> list[date]:
    return [today - timedelta(days=count - 1 - i) for i in range(count)]


def _midnight(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


@dataclass(frozen=True)
class Period:
    since: date
    until: date  # included

    @property
    def start(self) -> float:
        return _midnight(self.since)

    @property
    def end(self) -> float:
        return _midnight(self.until + timedelta(days=1))


def overview(store: Store, shop: str, now: float) -> dict[str, Any]:
    today = datetime.fromtimestamp(now, UTC).date()
    days = days_ending(today, OVERVIEW_DAYS)
    since, until = _midnight(days[0]), _midnight(today + timedelta(days=1))
    daily = store.events_per_day(since, until, shop=shop)
    sources = sorted({row.source for row in daily})
    labels = [day.isoformat() for day in days]
    series = {source: [0.0] * len(days) for source in sources}
    for row in daily:
        series[row.source][labels.index(row.day)] = float(row.count)
    counts = store.counts(shop=shop)
    statuses = ["pending", "held", "delivered", "dead", "expired", "suppressed",
                "not_applicable"]
    destinations = [{
        "name": entry.destination,
        "counts": {status: entry.counts.get(status, 0) for status in statuses},
        "backlog": sum(entry.counts.get(status, 0) for status in OPEN),
        "oldest_wait": (None if entry.oldest_pending_accepted_at is None
                        else duration(now - entry.oldest_pending_accepted_at)),
    } for entry in counts]
    paused = [{
        "destination": state.destination, "reason": state.reason, "code": state.code,
        "owner_words": wording.pause(state.reason, state.paused_until),
        "until": None if state.paused_until is None else when(state.paused_until),
        "since": when(state.updated_at),
    } for state in store.destination_states(shop=shop)]
    latency = [{"destination": row.destination, "delivered": row.delivered,
                "average": duration(row.average_s), "longest": duration(row.max_s)}
               for row in store.delivery_latency(since, until, shop=shop)]
    return {
        "days": labels,
        "daily_rows": [{"day": label, "by_source": {s: int(series[s][i]) for s in sources}}
                       for i, label in enumerate(labels)],
        "sources": sources,
        "events_chart": svg.stacked_bars(labels, series, "Events per day by source")
        if sources else Markup(""),
        "events_total": sum(row.count for row in daily),
        "statuses": statuses,
        "status_words": wording.SHORT,
        "destinations": destinations,
        "backlog": sum(entry["backlog"] for entry in destinations),
        "oldest_wait": max((now - c.oldest_pending_accepted_at for c in counts
                            if c.oldest_pending_accepted_at is not None), default=None),
        "paused": paused,
        "latency": latency,
    }


def quality(store: Store, shop: str, period: Period) -> dict[str, Any]:
    report = match_quality(store, period.start, period.end, shop=shop)
    fetch = report.fetch
    return {
        "keys": list(MATCH_KEYS),
        "events": [{
            "name": event.event_name, "count": event.count, "estimate": event.estimate,
            "keys": {key: round(share * 100) for key, share in event.keys.items()},
            "meta": None if event.meta is None else {
                "score": event.meta.composite_score, "acr": event.meta.acr_percentage,
                "coverage": event.meta.event_coverage_percentage,
                "fetched": when(event.meta.fetched_at)},
        } for event in report.events],
        "fetch": None if fetch is None else {
            "checked": when(fetch.checked_at), "fetched": when(fetch.figures_at),
            "error": fetch.error},
        "chart": svg.bars([(event.event_name, event.estimate) for event in report.events],
                          "trackside's estimate per event (0-10)"),
    }


# -- orders and events -------------------------------------------------------------------

SEARCH_KINDS = ("event_id", "reference", "email")


class SearchError(ValueError):
    """A search the form cannot run; the message names the field."""


def search(store: Store, shop: str, kind: str, term: str) -> tuple[str, list[EventSummary]]:
    """(what was searched, as the page may repeat it, the events found). An e-mail is hashed
    as the pipeline hashes it and never repeated in clear."""
    term = term.strip()
    if kind not in SEARCH_KINDS:
        raise SearchError("kind: must be event id, order reference or e-mail")
    if not term or len(term) > 320:
        raise SearchError("q: enter 1 to 320 characters")
    if kind == "email":
        normalized = normalize_email(term)
        if normalized is None:
            raise SearchError("q: this is not an e-mail address")
        digest = sha256_hex(normalized)
        return f"the e-mail you entered (SHA-256 {digest[:12]}…)", store.find_events(
            email_hash=digest, shop=shop)
    if normalize_email(term) is not None:
        # Never repeated in clear: a page that echoes it would carry it.
        raise SearchError("q: this looks like an e-mail address: search by e-mail (hashed)")
    if kind == "reference":
        return f"order reference {term}", store.find_events(reference=term, shop=shop)
    return f"event id {term}", [
        EventSummary(v.event_name, v.event_id, v.source, v.accepted_at)
        for v in store.event_view(term, shop=shop)]


def event_pages(views: list[EventView], now: float) -> list[dict[str, Any]]:
    pages = []
    for view in views:
        body = view.event
        pages.append({
            "name": view.event_name, "event_id": view.event_id, "source": view.source,
            "accepted": when(view.accepted_at),
            "keys": sorted(key for key, value in body.user_data.items() if value),
            "order": None if body.order is None else {
                "reference": body.order.reference, "value": body.order.value,
                "currency": body.order.currency},
            "flags": body.flags,
            "destinations": [{
                "name": row.destination, "status": row.status,
                "owner_words": wording.outcome(row.status, row.message),
                "technical": timeline.outcome_line(row) if row.finished_at else
                f"{row.status}, {row.attempts} attempt(s)",
                "droppable": row.status in OPEN,
            } for row in view.outbox],
            "timeline": [{"at": when(entry.at), "line": timeline.line(entry)}
                         for entry in timeline.build(view)],
        })
    return pages


def dead_letters(store: Store, shop: str) -> list[dict[str, Any]]:
    return [{
        "event_name": row.event_name, "event_id": row.event_id, "destination": row.destination,
        "owner_words": wording.outcome(row.status, row.message),
        "technical": f"{row.status}" + (f", code {row.code}" if row.code is not None else "")
        + (f": {row.message}" if row.message else ""),
        "finished": when(row.finished_at),
    } for row in store.dead_letters(shop=shop)]


def now() -> float:
    return time.time()
