"""accept(): the one path every source goes through.

parse → validate → event id → normalize and hash → outbox plan per destination → admission
(would any configured destination ever take it? trackside/admission.py) → commit.
Dedup on (event_name, event_id) happens inside the store's transaction, so two sources racing
with the same order still store it once. "Accepted" means committed: the result is returned
only after the store's transaction is durable.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from trackside import consent, join
from trackside.admission import admit
from trackside.config import Settings
from trackside.crm import complete_crm_events
from trackside.destinations import Destination, registry
from trackside.events import Event, FieldError, NormalizedEvent
from trackside.identity import normalize_user
from trackside.identity.event_id import resolve_event_id
from trackside.quality import has_sufficient_customer_information
from trackside.shop_names import DEFAULT_SHOP, checked_shop
from trackside.sources.batch import parse_batch
from trackside.sources.facts import BrowserFacts, BrowserRecord
from trackside.store import NewEvent, OutboxPlan, Store, UnitOfWork

BROWSER_SOURCES = consent.BROWSER_SOURCES


@dataclass
class AcceptResult:
    index: int
    status: Literal["queued", "duplicate", "rejected"]
    event_id: str | None = None
    event_name: str | None = None
    errors: list[FieldError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def move_to(self, index: int, prefix: str = "events") -> None:
        """Name the event by its ``index`` in the caller's request: the committer prepares
        several requests' events together, so ``events[7]`` there may be ``events[1]`` here."""
        old, new = f"{prefix}[{self.index}]", f"{prefix}[{index}]"
        self.errors = [
            FieldError(field=new + e.field[len(old):], reason=e.reason)
            if e.field == old or e.field.startswith(old + ".") else e
            for e in self.errors
        ]
        self.index = index

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "status": self.status}
        if self.event_id is not None:
            out["event_id"] = self.event_id
            out["event_name"] = self.event_name
        if self.errors:
            out["errors"] = [e.model_dump() for e in self.errors]
        if self.warnings:
            out["warnings"] = self.warnings
        return out


@dataclass
class PreparedBatch:
    """Events parsed, normalized and planned by :meth:`Pipeline.prepare`, not yet stored."""

    source: str
    now: float
    results: list[AcceptResult]
    records: list[NewEvent]
    #: Index in ``results`` of each record.
    positions: list[int]


class Pipeline:
    def __init__(self, settings: Settings, store: Store, destinations: Sequence[str],
                 shop: str = DEFAULT_SHOP,
                 admitting: Sequence[Destination] | None = None) -> None:
        self.settings = settings
        self.store = store
        self.destinations = list(destinations)
        #: The destination objects whose own rules admit events at accept time
        #: (trackside/admission.py): the runtime's; by default built from the registry for
        #: the named destinations these settings configure.
        self.admitting = list(admitting) if admitting is not None else _created(
            settings, self.destinations)
        #: Every event this pipeline accepts is stored in this shop (dedup and joins within it).
        self.shop = checked_shop(shop)
        self.joins = join.JoinStage(
            join_window_s=settings.join_window_s, retention_days=settings.retention_days,
            trust_browser_purchases=settings.trust_browser_purchases, plan=self.plan,
            shop=self.shop)

    def normalize(self, event: Event, source: str, now: float) -> NormalizedEvent:
        user = normalize_user(
            event.user,
            default_country=self.settings.default_country,
            day_first=self.settings.date_day_first,
            hash_external_id=self.settings.hash_external_id,
            now_ms=int(now * 1000),
        )
        flags: list[str] = []
        if not has_sufficient_customer_information(user.user_data):
            # Meta would refuse it with 2804050 (rule 29 in destinations/meta/rules/events.py).
            flags.append("no_customer_information")
        ad_personalization_denied = (
            event.consent is not None and event.consent.ad_personalization == "denied"
        )
        return NormalizedEvent(
            event_name=event.event_name,
            event_id=resolve_event_id(event, self.settings.event_id_prefix),
            event_time=event.event_time,
            action_source=event.action_source,
            event_source_url=event.event_source_url,
            referrer_url=event.referrer_url,
            # Meta's opt_out: attribution only, no optimisation:
            # https://developers.facebook.com/documentation/ads-commerce/conversions-api/parameters/server-event
            opt_out=event.opt_out or ad_personalization_denied,
            data_processing_options=(
                list(event.data_processing_options)
                if event.data_processing_options is not None else None
            ),
            data_processing_options_country=event.data_processing_options_country,
            data_processing_options_state=event.data_processing_options_state,
            user_data=user.user_data,
            ga_client_id=user.ga_client_id,
            ga_session_id=user.ga_session_id,
            order=event.order,
            custom_data=event.custom_data,
            consent=event.consent,
            cart_id=event.cart_id,
            customer_id=event.customer_id,
            country_hint=user.country,
            warnings=user.warnings,
            flags=flags,
            source=source,
            consent_source=None if event.consent is None
            else ("browser" if source in BROWSER_SOURCES else "event"),
        )

    def plan(self, event: NormalizedEvent, source: str, now: float) -> list[OutboxPlan]:
        plans = []
        for destination in self.destinations:
            # Events a destination has no counterpart for (its spec says which).
            if event.event_name in registry.not_applicable(destination):
                plans.append(
                    OutboxPlan(destination, "not_applicable",
                               reason=f"{destination} has no {event.event_name} event")
                )
                continue
            first_attempt = self._first_attempt(event, source, now)
            refused = consent.decide(event, destination, self.settings)
            if refused and not (first_attempt > now and consent.is_deferrable(event)):
                plans.append(OutboxPlan(destination, "suppressed", reason=refused))
                continue
            # Undecided server events waiting for the browser are decided again at send time.
            plans.append(OutboxPlan(destination, next_attempt_at=first_attempt))
        return plans

    def _first_attempt(self, event: NormalizedEvent, source: str, now: float) -> float:
        # A server Purchase waits for the confirmation page's browser context (same event
        # id) for the join window, unless it already carries it (docs/browser-tag.md). A
        # sale made away from the website (a till, a phone call) has no browser to wait for.
        if (
            source not in BROWSER_SOURCES
            and event.action_source == "website"
            and event.event_name == "Purchase"
            and "fbp" not in event.user_data
            and "client_ip_address" not in event.user_data
        ):
            return now + self.settings.join_window_s
        return now

    def accept(
        self, raw_events: Sequence[Any], source: str, now: float | None = None,
        facts: Sequence[BrowserFacts] | None = None,
    ) -> list[AcceptResult]:
        return self.commit(self.prepare(raw_events, source, now, facts))

    def prepare(
        self, raw_events: Sequence[Any], source: str, now: float | None = None,
        facts: Sequence[BrowserFacts] | None = None,
    ) -> PreparedBatch:
        """The CPU half of accept(): parse, normalize, hash and plan; no store I/O.

        ``facts`` (one per raw event) is what a browser source knows beyond each event's body;
        it rides on the prepared record to the join (sources/facts.py).
        """
        if facts is not None and len(facts) != len(raw_events):
            raise ValueError(f"{len(facts)} facts for {len(raw_events)} events")
        now = time.time() if now is None else now
        parsed = parse_batch(raw_events, prefix="events",
                             max_event_bytes=self.settings.max_event_bytes)
        slots: list[AcceptResult | None] = [None] * len(raw_events)
        complete_crm_events(parsed, self.settings.crm_name, prefix="events")
        for rejected in parsed.rejected:
            slots[rejected.index] = AcceptResult(rejected.index, "rejected",
                                                 errors=rejected.errors)
        records: list[NewEvent] = []
        positions: list[int] = []
        for index, raw in zip(parsed.positions, parsed.events, strict=True):
            event = self.normalize(raw, source, now)
            plans = self.plan(event, source, now)
            # Would any destination ever take it? (trackside/admission.py)
            admission = admit(event, source, plans, self.admitting, now, f"events[{index}]")
            if admission.errors:
                slots[index] = AcceptResult(index, "rejected", errors=admission.errors)
                continue
            records.append(NewEvent(event, source, plans, self.shop) if facts is None
                           else BrowserRecord(event, source, plans, self.shop,
                                              facts=facts[index]))
            positions.append(index)
            slots[index] = AcceptResult(
                index, "queued", event.event_id, event.event_name,
                warnings=event.warnings + admission.warnings if admission.warnings
                else event.warnings)
        results = [result for result in slots if result is not None]
        return PreparedBatch(source, now, results, records, positions)

    def commit(self, batch: PreparedBatch) -> list[AcceptResult]:
        """The store half of accept(): one transaction (one fsync) for the batch, its joins,
        confirmations, notes and the sweep of expired holds included; returns once durable."""
        if batch.records:
            with self.store.transaction() as unit:
                return self.commit_in(unit, batch)
        return batch.results

    def commit_in(self, unit: UnitOfWork, batch: PreparedBatch) -> list[AcceptResult]:
        """commit() inside a transaction the caller holds (the committer writes the batches of
        several shops and sources in one); durable when that transaction commits."""
        if batch.records:
            # Browser context joins and the browser Purchase policy (trackside/join.py,
            # docs/browser-tag.md).
            inserted = join.insert(self.joins, unit, batch.records, batch.source, batch.now)
            for position, result in zip(batch.positions, inserted, strict=True):
                batch.results[position].status = result.status
        return batch.results

    def sweep_holds(self, now: float, force: bool = False) -> int:
        """End held browser purchases whose join window is over (serve runs it every second,
        so they end while the shop is idle too); at most once a second unless forced."""
        if not force and now - self.joins.last_sweep < join.SWEEP_EVERY_S:
            return 0
        # A cheap read outside any transaction first: almost always nothing has expired.
        if not self.store.has_expired_holds(now - self.joins.join_window_s, shop=self.shop):
            self.joins.last_sweep = now
            return 0
        with self.store.transaction() as unit:
            return join.sweep(self.joins, unit, now, force=True)


def _created(settings: Settings, names: Sequence[str]) -> list[Destination]:
    """The named destinations ``settings`` configure, built from their specs."""
    created = []
    for name in names:
        spec = registry.spec(name)
        if spec is not None and spec.configured(settings):
            created.append(spec.create(settings))
    return created
