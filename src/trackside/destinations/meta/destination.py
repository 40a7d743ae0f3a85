"""Meta Conversions API destination for one pixel: prepare, batch, request, probe.

No I/O here (docs/architecture.md, "How to add a destination"): the worker asks for a prepared
payload per event, a request per batch, and a verdict per response. The request follows
https://developers.facebook.com/documentation/ads-commerce/conversions-api/using-the-api, the
event (payload.py) Meta's parameter pages, the verdicts (classify.py) Meta's error codes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import httpx

from trackside import PARTNER_AGENT
from trackside.config import Settings
from trackside.destinations import (
    Classification,
    Fault,
    Prepared,
    Skip,
    Verdict,
    chunk_by_bytes,
    too_old,
)
from trackside.destinations.meta import rules as meta_rules
from trackside.destinations.meta.classify import classify_response
from trackside.destinations.meta.fast import surely_accepted
from trackside.destinations.meta.payload import event_payload
from trackside.destinations.meta.rules import RulesConfig
from trackside.destinations.meta.settings import MetaSettings
from trackside.events import NormalizedEvent
from trackside.redact import Redactor

__all__ = ["MetaDestination"]

_PHYSICAL_STORE = "physical_store"

#: Payload keys (the first one after ``data[i].``) → the canonical event's field.
_CANONICAL = {"user_data": "user", "event_source_url": "event_source_url",
              "event_time": "event_time", "action_source": "action_source",
              "custom_data": "custom_data"}
#: custom_data keys trackside fills from the order (payload.py).
_ORDER_KEYS = frozenset({"value", "currency", "contents", "content_ids", "content_type",
                         "num_items", "order_id"})
#: Rule 33 (a Purchase without value or currency) blames custom_data as a whole.
_ORDER_RULES = frozenset({33})


def canonical_field(blame: str | None, rule: int) -> str | None:
    """The canonical event field a rule blames (``data[0].user_data.em`` → ``user``,
    ``data[0].custom_data.value`` → ``order``), None when it blames the event as a whole."""
    if rule in _ORDER_RULES:
        return "order"
    if not blame or "." not in blame:
        return None
    parts = blame.split(".")[1:]
    field = _CANONICAL.get(parts[0])
    if field == "custom_data" and len(parts) > 1 and parts[1] in _ORDER_KEYS:
        return "order"
    return field


def _compact_json(payload: dict[str, Any]) -> str:
    """The payload as :meth:`Prepared.payload_json` encodes it (the same bytes are sent)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


class MetaDestination:
    """Meta CAPI for one pixel: ``MetaDestination(settings)``."""

    name = "meta"
    display_name = "Meta"
    max_batch_size = 1000  # Meta: up to 1,000 events per request
    max_event_age_s = 7 * 86400  # Meta: event_time up to 7 days before sending
    #: An event this close to Meta's 7-day limit would be refused in flight (100/2804003)
    #: and take its whole batch down with it: give up on it before it is batched.
    expiry_margin_s = 60
    age_limit = "Meta refuses events older than 7 days (100/2804003)"
    #: "For offline and physical store events with physical_store as action_source, you
    #: should upload transactions within 62 days of the conversion" (Meta's server event
    #: parameters page,
    #: https://developers.facebook.com/documentation/ads-commerce/conversions-api/parameters/server-event).
    physical_store_max_event_age_s = 62 * 86400
    physical_store_age_limit = "Meta takes physical_store events up to 62 days old"

    def __init__(self, settings: Settings, rules: RulesConfig | None = None) -> None:
        own = settings.destination("meta", MetaSettings)
        if not own.meta_configured:
            raise ValueError("Meta needs TRACKSIDE_META_PIXEL_ID and TRACKSIDE_META_ACCESS_TOKEN")
        self._meta = own
        self._redact = Redactor(settings.secret_values())
        # compat by default: local checks mirror what Graph v26.0 really accepts (a website
        # event without client_user_agent, which the docs call required), so a server Purchase
        # without a browser user agent is still sent.
        self.rules = rules or RulesConfig(mode="compat", versions=(own.meta_api_version,),
                                          allow_physical_store_62d=True)
        self.max_request_bytes = own.meta_max_request_bytes
        self.node_url = (
            f"{own.meta_graph_url}/{own.meta_api_version}/{own.meta_pixel_id}"
        )
        self.url = f"{self.node_url}/events"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(pixel_id={self._meta.meta_pixel_id!r})"

    # -- per event ------------------------------------------------------------------------------

    def window_of(self, event: NormalizedEvent) -> tuple[int, str]:
        """62 days for physical_store events, 7 days for every other (destinations.window)."""
        if event.action_source == "physical_store":
            return self.physical_store_max_event_age_s, self.physical_store_age_limit
        return self.max_event_age_s, self.age_limit

    def prepare(self, outbox_id: int, event: NormalizedEvent, now: float) -> Prepared | Skip:
        expired = too_old(self, event, now)
        if expired is not None:
            return expired
        payload = event_payload(event, self._meta.meta_ldu)
        # "If any event_time in data is greater than 7 days in the past, we return an error for
        # the entire request" (server-event page, above): a physical_store event may be 62
        # days old, so it never shares a request with website (or any other) events.
        prepared = Prepared(outbox_id=outbox_id, event=event, payload=payload,
                            group_key=_PHYSICAL_STORE if event.action_source == _PHYSICAL_STORE
                            else "")
        # Measured before Meta's rules run: an old stored row may hold megabytes (ingest limits
        # came later), and such an event would make one request of hundreds of megabytes.
        size = prepared.payload_bytes()
        if size + 2 > self.max_request_bytes:
            return self._too_large(size)
        refused = self._refused_by_rules(payload, now, prepared.notes)
        return prepared if refused is None else refused

    def admission_check(self, event: NormalizedEvent, now: float) -> Skip | None:
        """``prepare``'s verdict without the Prepared (trackside/admission.py): the same
        window, then the same size and rules on the same payload; None when Meta would take it.

        Most events are judged on the canonical event alone (fast.py: no payload, no JSON);
        what that cannot vouch for, refusals included, goes the general way below."""
        expired = too_old(self, event, now)
        if expired is not None:
            return expired
        if surely_accepted(event, self.rules, now, self.max_request_bytes):
            return None
        return self._general_check(event, now)

    def _general_check(self, event: NormalizedEvent, now: float) -> Skip | None:
        """``admission_check`` past the window on the built payload (the fallback)."""
        payload = event_payload(event, self._meta.meta_ldu)
        encoded = _compact_json(payload)
        # A character is at most 4 bytes of UTF-8: most payloads fit on their length alone.
        if 4 * len(encoded) + 2 > self.max_request_bytes:
            size = len(encoded.encode())
            if size + 2 > self.max_request_bytes:
                return self._too_large(size)
        return self._refused_by_rules(payload, now, [])

    def _too_large(self, size: int) -> Skip:
        return Skip(
            outcome="dead",
            reason=f"the event is {size:,} bytes of JSON, more than one request to Meta may "
            f"carry (TRACKSIDE_META_MAX_REQUEST_BYTES = {self.max_request_bytes:,}); "
            "it was never sent",
        )

    def _refused_by_rules(self, payload: dict[str, Any], now: float,
                          notes: list[str]) -> Skip | None:
        # "If any event you send in a batch is invalid, we reject the entire batch" (Meta's
        # using-the-api page): find it now, alone.
        error = meta_rules.check_event(payload, self.rules, now, warnings=notes)
        if error is not None:
            return Skip(outcome="dead", reason=self._scrub(error.describe()),
                        field=canonical_field(error.blame, error.rule))
        return None

    def batches(self, prepared: Sequence[Prepared]) -> list[list[Prepared]]:
        """≤ 1,000 events (Meta's limit) and ≤ TRACKSIDE_META_MAX_REQUEST_BYTES of event JSON
        (Meta documents no byte limit, so the budget is ours); physical_store events in
        requests of their own (their group key, set in prepare)."""
        return chunk_by_bytes(prepared, self.max_batch_size, self.max_request_bytes)

    # -- per batch ------------------------------------------------------------------------------

    def request_params(self, batch: Sequence[Prepared]) -> dict[str, str]:
        """The form fields of the call (Meta's request parameters). Holds the token: never
        log it."""
        token = self._meta.meta_access_token
        assert token is not None  # checked in __init__
        params = {
            "data": "[" + ",".join(item.payload_json() for item in batch) + "]",
            # A form field, not the query string: URLs end up in proxy and access logs.
            "access_token": token.get_secret_value(),
            "partner_agent": PARTNER_AGENT,
        }
        if self._meta.meta_test_event_code:
            params["test_event_code"] = self._meta.meta_test_event_code
        return params

    def build_request(self, batch: Sequence[Prepared]) -> httpx.Request:
        # multipart/form-data, the curl example on Meta's using-the-api page: unlike
        # form-urlencoding, it needs no percent-encoding of a 1,000-event JSON array, which
        # cost more CPU than everything else the worker does per batch.
        fields = {name: (None, value) for name, value in self.request_params(batch).items()}
        return httpx.Request(
            "POST",
            self.url,
            files=fields,
            headers={"accept": "application/json", "user-agent": PARTNER_AGENT},
        )

    def classify(
        self, response: httpx.Response | None, error: Exception | None, batch_size: int
    ) -> Classification:
        return self._scrubbed(classify_response(response, error, batch_size))

    # -- probe ----------------------------------------------------------------------------------

    def build_probe(self) -> httpx.Request:
        """A read of the pixel node (``GET /{version}/{pixel_id}?fields=id``; Meta's offline
        events page reads the same node for ``is_consolidated_container``): it proves token and
        pixel without creating a conversion. The token goes in the Authorization header (Bearer,
        observed working on Graph v26.0), never in the URL: URLs end up in access logs."""
        token = self._meta.meta_access_token
        assert token is not None  # checked in __init__
        return httpx.Request(
            "GET",
            self.node_url,
            params={"fields": "id"},
            headers={
                "accept": "application/json",
                "user-agent": PARTNER_AGENT,
                "authorization": f"Bearer {token.get_secret_value()}",
            },
        )

    def classify_probe(
        self, response: httpx.Response | None, error: Exception | None
    ) -> Classification:
        """DELIVERED when the pixel node answers with its own id; else the error's verdict."""
        if response is not None and response.status_code == 200:
            try:
                body = response.json()
            except ValueError:
                body = None
            if isinstance(body, dict) and str(body.get("id")) == self._meta.meta_pixel_id:
                return Classification(Verdict.DELIVERED, http_status=200,
                                      message="the pixel is readable with this token")
        result = classify_response(response, error, 0)
        if result.verdict in (Verdict.DELIVERED, Verdict.SHORT_COUNT):
            result = Classification(
                Verdict.RETRY, http_status=result.http_status, fault=Fault.GARBLED,
                message="the pixel node answered without its id",
            )
        return self._scrubbed(result)

    def _scrubbed(self, result: Classification) -> Classification:
        if result.message:
            scrubbed = self._scrub(result.message)
            if scrubbed != result.message:
                result = Classification(**{**result.__dict__, "message": scrubbed})
        return result

    def _scrub(self, text: str) -> str:
        return self._redact(text) or ""
