"""GA4 Measurement Protocol destination: payload building and response classification.

Google's reference: https://developers.google.com/analytics/devguides/collection/protocol/ga4/reference
GA4 never reports a bad payload (production ``/mp/collect`` answers 2xx to anything), so every
event is checked against GA4's limits by ``ga4_rules`` in ``prepare`` and dead-lettered locally
with the reason when it breaks one.

The API secret has to travel in GA4's query string. It is unwrapped only in
``build_request``; the request's repr, httpx's own "HTTP Request" log line and every
classification message show it masked.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from trackside.config import Settings
from trackside.destinations import (
    Classification,
    Fault,
    Prepared,
    Skip,
    Verdict,
    chunk,
    too_old,
)
from trackside.destinations.ga4 import rules as ga4_rules
from trackside.destinations.ga4.fast import surely_valid
from trackside.destinations.ga4.ids import (
    client_id_from_cookie,
    session_id_from_cookie,
    synthesize_client_id,
)
from trackside.destinations.ga4.secret import GA4Request, redact_secret
from trackside.destinations.ga4.settings import GA4Settings
from trackside.events import NormalizedEvent
from trackside.retry_after import parse_retry_after

__all__ = ["GA4_EVENT_NAMES", "UNATTRIBUTED_NOTE", "GA4Destination"]

#: trackside (Meta-style) event names → GA4 recommended event names.
GA4_EVENT_NAMES: Mapping[str, str] = {
    "Purchase": "purchase",
    "AddToCart": "add_to_cart",
    "InitiateCheckout": "begin_checkout",
    "ViewContent": "view_item",
    "AddPaymentInfo": "add_payment_info",
    "Lead": "generate_lead",
    "CompleteRegistration": "sign_up",
    "Search": "search",
    "Refund": "refund",
}

UNATTRIBUTED_NOTE = "ga4: unattributed, synthesized client_id"

# Realtime and session reports need engagement_time_msec with session_id (Google's reference
# page). 1 ms counts the event as engaged without inventing engagement time the shopper did
# not spend.
_ENGAGEMENT_TIME_MSEC = 1
#: Labels that only describe (shown in reports), truncated rather than losing the whole event.
_LABEL_ITEM_FIELDS = ("item_name", "item_category")
_REFUND_ID_PREFIX = "Refund:"


def _first_hash(user_data: Mapping[str, Any], key: str) -> str | None:
    value = user_data.get(key)
    if isinstance(value, list):
        value = value[0] if value else None
    return value if isinstance(value, str) and value else None


class GA4Destination:
    """No probe (``build_probe`` is None): production ``/mp/collect`` answers 2xx even to a
    wrong api_secret, so nothing GA4 answers can prove the credentials right."""

    name = "ga4"
    display_name = "GA4"
    build_probe = None
    max_batch_size = ga4_rules.MAX_EVENTS
    max_event_age_s = ga4_rules.MAX_TIMESTAMP_AGE_S
    expiry_margin_s = 0
    age_limit = "GA4 takes events up to 72 hours old"

    def __init__(self, settings: Settings, event_names: Mapping[str, str] | None = None) -> None:
        if not settings.destination("ga4", GA4Settings).ga4_configured:
            raise ValueError(
                "GA4 is not configured: set TRACKSIDE_GA4_MEASUREMENT_ID and "
                "TRACKSIDE_GA4_API_SECRET"
            )
        self._settings = settings
        self._own = settings.destination("ga4", GA4Settings)
        names = dict(GA4_EVENT_NAMES)
        for source, target in (event_names or {}).items():
            if not ga4_rules.is_valid_name(target) or ga4_rules.is_reserved_event_name(target):
                raise ValueError(
                    f"GA4 event name {target!r} for {source!r} is not allowed: at most 40 "
                    "letters, digits and underscores, starting with a letter, not reserved"
                )
            names[source] = target
        self.event_names: Mapping[str, str] = names

    def __repr__(self) -> str:
        return f"GA4Destination(measurement_id={self._own.ga4_measurement_id!r})"

    # -- prepare ---------------------------------------------------------------------------

    def ga4_name(self, event_name: str) -> str | None:
        if event_name in self.event_names:
            return self.event_names[event_name]
        # A source that already speaks GA4 ("purchase") gets the same treatment.
        return event_name if event_name in self.event_names.values() else None

    def prepare(self, outbox_id: int, event: NormalizedEvent, now: float) -> Prepared | Skip:
        notes: list[str] = []
        built = self._payload(event, now, notes)
        if isinstance(built, Skip):
            return built
        refused = self._refusal(built, now)
        if refused is not None:
            return refused
        return Prepared(outbox_id=outbox_id, event=event, payload=built,
                        group_key=built["client_id"], notes=notes)

    def admission_check(self, event: NormalizedEvent, now: float) -> Skip | None:
        """``prepare``'s verdict without the Prepared (trackside/admission.py): the same
        payload, judged by the same limits; None when GA4 would take it."""
        built = self._payload(event, now, [])
        if isinstance(built, Skip):
            return built
        # The payload's own shape spares most of the general check (fast.py); what it cannot
        # vouch for is judged by the limits themselves.
        return None if surely_valid(built, now) else self._refusal(built, now)

    @staticmethod
    def _refusal(payload: dict[str, Any], now: float) -> Skip | None:
        problems = ga4_rules.request_problems(_body([payload]), now)
        if problems:
            return Skip("dead", "GA4 limits: " + "; ".join(problems))
        return None

    def _payload(self, event: NormalizedEvent, now: float,
                 notes: list[str]) -> dict[str, Any] | Skip:
        """The event's Measurement Protocol payload, or why it is not sent at all."""
        name = self.ga4_name(event.event_name)
        if name is None:
            return Skip(
                "not_applicable",
                f"GA4 has no event name for {event.event_name!r}; map one to send it",
            )
        consent = event.consent
        if consent is not None and consent.analytics_storage == "denied":
            # MP has no analytics_storage field: that consent is enforced by not sending at all.
            return Skip("suppressed", "analytics_storage consent denied: not sent to GA4")
        expired = too_old(self, event, now)
        if expired is not None:
            return expired

        client_id = client_id_from_cookie(event.ga_client_id)
        if client_id is None:
            if self._own.ga4_without_client_id == "skip":
                return Skip(
                    "suppressed",
                    "no GA client id (no _ga cookie joined) and "
                    "TRACKSIDE_GA4_WITHOUT_CLIENT_ID=skip",
                )
            seed = _first_hash(event.user_data, "external_id") or event.event_id
            client_id = synthesize_client_id(seed)
            notes.append(UNATTRIBUTED_NOTE)

        params = self._params(name, event, notes)
        if isinstance(params, Skip):
            return params
        session_id = session_id_from_cookie(event.ga_session_id)
        if session_id is not None:
            params["session_id"] = session_id
            params["engagement_time_msec"] = _ENGAGEMENT_TIME_MSEC

        # Event time never in the future: GA4 drops such events and clocks drift.
        micros = int(min(event.event_time, now) * 1_000_000)
        ga4_event: dict[str, Any] = {"name": name, "params": params, "timestamp_micros": micros}
        payload: dict[str, Any] = {"client_id": client_id}
        user_id = self._user_id(event)
        if user_id is not None:
            payload["user_id"] = user_id
        consent_fields = _consent_fields(event)
        if consent_fields:
            payload["consent"] = consent_fields
        payload["event"] = ga4_event
        return payload

    def _user_id(self, event: NormalizedEvent) -> str | None:
        # user_id only from a non-personal id (the hashed external id), never an email.
        value = _first_hash(event.user_data, "external_id")
        if value is None or "@" in value:
            return None
        return value

    def _params(self, name: str, event: NormalizedEvent, notes: list[str]) -> dict[str, Any] | Skip:
        params: dict[str, Any] = {}
        if name in ga4_rules.TRANSACTION_EVENTS:
            transaction_id = self._transaction_id(name, event)
            if transaction_id is None:
                return Skip(
                    "dead",
                    "refund without an order reference: the purchase's transaction_id is unknown",
                )
            params["transaction_id"] = transaction_id
        order = event.order
        if order is not None:
            if order.value is not None:
                # A refund's value is the refunded amount, positive.
                params["value"] = abs(order.value) if name == "refund" else order.value
            if order.currency is not None:
                params["currency"] = order.currency
            for key in ("coupon", "shipping", "tax"):
                if getattr(order, key) is not None:
                    params[key] = getattr(order, key)
            if order.items:
                params["items"] = [self._item(item, notes) for item in order.items]
        if name == "search":
            term = event.custom_data.get("search_string") or event.custom_data.get("search_term")
            if isinstance(term, str) and term:
                params["search_term"] = self._label(term, "search_term", notes)
        return params

    def _transaction_id(self, name: str, event: NormalizedEvent) -> str | None:
        if name == "purchase":
            # Pixel eventID, CAPI event_id and GA4 transaction_id are one (identity/event_id.py).
            return event.event_id
        # A refund names the purchase it reverses: the Purchase's event id, which is the order
        # reference with the shop prefix; the Refund's own id is "Refund:<that id>".
        if event.order is not None and event.order.reference:
            return self._settings.event_id_prefix + event.order.reference
        if event.event_id.startswith(_REFUND_ID_PREFIX) and len(event.event_id) > 7:
            return event.event_id[len(_REFUND_ID_PREFIX) :]
        return None

    def _item(self, item: Any, notes: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"item_id": item.id}
        if item.name:
            out["item_name"] = self._label(item.name, "item_name", notes)
        if item.price is not None:
            out["price"] = item.price
        out["quantity"] = item.quantity
        if item.category:
            out["item_category"] = self._label(item.category, "item_category", notes)
        return out

    @staticmethod
    def _label(text: str, field: str, notes: list[str]) -> str:
        # A product title over 100 characters is common; losing a purchase over a display label
        # would be worse than a shortened label. Ids are never truncated (validation catches them).
        limit = ga4_rules.MAX_PARAM_VALUE_CHARS
        if len(text) <= limit:
            return text
        note = f"ga4: {field} truncated to {limit} characters"
        if note not in notes:
            notes.append(note)
        return text[:limit]

    # -- batches and requests ----------------------------------------------------------------

    def batches(self, prepared: Sequence[Prepared]) -> list[list[Prepared]]:
        """≤ 25 events, one client id, one set of request-level fields, body < 130 kB."""
        out: list[list[Prepared]] = []
        for group in chunk(prepared, len(prepared) or 1):
            # user_id and consent are request-level: events that differ in them cannot share
            # a request even with one client id (a shopper who logs in mid-session).
            by_request: dict[tuple[Any, ...], list[Prepared]] = {}
            for item in group:
                by_request.setdefault(_request_key(item.payload), []).append(item)
            for items in by_request.values():
                out.extend(_cut_by_size(items, self.max_batch_size))
        return out

    def build_request(self, batch: Sequence[Prepared]) -> httpx.Request:
        return self.request_for([item.payload for item in batch], "/mp/collect")

    def request_for(
        self, payloads: Sequence[Mapping[str, Any]], path: str, extra: Mapping[str, Any] = {}
    ) -> httpx.Request:
        if not payloads:
            raise ValueError("a GA4 request needs at least one event")
        if len({_request_key(p) for p in payloads}) != 1:
            raise ValueError("events of one GA4 request must share client_id, user_id and consent")
        assert self._own.ga4_api_secret is not None
        body = {**_body(payloads), **extra}
        return GA4Request(
            "POST",
            self._own.ga4_url + path,
            params={
                "measurement_id": self._own.ga4_measurement_id or "",
                "api_secret": self._own.ga4_api_secret.get_secret_value(),
            },
            content=ga4_rules.encode_body(body),
            headers={"Content-Type": "application/json"},
        )

    # -- classify ----------------------------------------------------------------------------

    def classify(
        self, response: httpx.Response | None, error: Exception | None, batch_size: int
    ) -> Classification:
        if response is None:
            detail = f"{type(error).__name__}: {error}" if error is not None else "no response"
            timed_out = isinstance(error, httpx.TimeoutException) and not isinstance(
                error, httpx.ConnectTimeout | httpx.PoolTimeout
            )
            return Classification(Verdict.RETRY, message=self.scrub(f"GA4 unreachable ({detail})"),
                                  fault=Fault.TIMEOUT if timed_out else None)
        status = response.status_code
        if 200 <= status < 300:
            return Classification(Verdict.DELIVERED, http_status=status)
        message = self.scrub(f"GA4 answered HTTP {status}: {response.text[:500]}".rstrip(": "))

        if status == 429:
            return Classification(
                Verdict.THROTTLED,
                http_status=status,
                message=message,
                retry_after_s=parse_retry_after(response.headers.get("Retry-After"), time.time()),
            )
        if status in (401, 403):
            return Classification(Verdict.DISABLED, http_status=status, message=message)
        if 300 <= status < 400:
            # A redirect means TRACKSIDE_GA4_URL points somewhere else: an operator must fix
            # it; dead-lettering the backlog would lose events that are fine.
            return Classification(
                Verdict.DISABLED,
                http_status=status,
                message=self.scrub(
                    f"GA4 answered a redirect (HTTP {status}) to "
                    f"{response.headers.get('Location', '?')}; check TRACKSIDE_GA4_URL"
                ),
            )
        if 400 <= status < 500:
            return Classification(Verdict.REJECTED, http_status=status, message=message)
        return Classification(Verdict.RETRY, http_status=status, message=message)

    def scrub(self, text: str) -> str:
        secret = self._own.ga4_api_secret
        return redact_secret(text, secret.get_secret_value() if secret else None)


def _consent_fields(event: NormalizedEvent) -> dict[str, str]:
    # MP's consent field declares only ad_user_data and ad_personalization, upper-case.
    consent = event.consent
    if consent is None:
        return {}
    fields: dict[str, str] = {}
    for key in ("ad_user_data", "ad_personalization"):
        value = getattr(consent, key)
        if value is not None:
            fields[key] = value.upper()
    return fields


def _request_key(payload: Mapping[str, Any]) -> tuple[Any, ...]:
    consent = payload.get("consent") or {}
    return (payload["client_id"], payload.get("user_id"), tuple(sorted(consent.items())))


def _body(payloads: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    first = payloads[0]
    body: dict[str, Any] = {"client_id": first["client_id"]}
    for key in ("user_id", "consent"):
        if key in first:
            body[key] = first[key]
    body["events"] = [p["event"] for p in payloads]
    return body


def _cut_by_size(items: list[Prepared], max_events: int) -> list[list[Prepared]]:
    # Sizes are measured on the exact bytes sent: the request fields once, then each event
    # plus its separating comma.
    base = len(ga4_rules.encode_body(_body([items[0].payload]))) - len(
        ga4_rules.encode_body(items[0].payload["event"])
    )
    batches: list[list[Prepared]] = []
    current: list[Prepared] = []
    size = base
    for item in items:
        event_size = len(ga4_rules.encode_body(item.payload["event"])) + 1
        if current and (
            len(current) >= max_events or size + event_size >= ga4_rules.MAX_BODY_BYTES
        ):
            batches.append(current)
            current, size = [], base
        current.append(item)
        size += event_size
    if current:
        batches.append(current)
    return batches
