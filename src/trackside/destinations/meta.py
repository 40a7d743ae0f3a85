"""Meta Conversions API destination: payload building and response classification.

No I/O here (DESIGN.md "Components"): the worker asks for a prepared payload per event, a
request per batch, and a verdict per response. The request shape follows spec/meta-capi.md §1,
the event shape §2-§4, the verdicts §6.2/§6.3.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
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
    meta_rules,
)
from trackside.destinations.meta_rules import RulesConfig
from trackside.events import NormalizedEvent
from trackside.redact import Redactor
from trackside.retry_after import parse_retry_after

__all__ = ["MetaDestination", "classify_response", "event_payload"]

#: An event this close to Meta's 7-day limit would be refused in flight (§2.2, 2804003) and
#: take its whole batch down with it: give up on it before it is batched.
EXPIRY_MARGIN_S = 60

#: Keys ``custom_data`` may not override: trackside fills them from the order (§4).
_STANDARD_CUSTOM_KEYS = (
    "value",
    "currency",
    "contents",
    "content_ids",
    "content_type",
    "order_id",
    "num_items",
)
_CLEAR_USER_KEYS = frozenset(meta_rules.USER_DATA_KEYS) - set(meta_rules.HASHED_KEYS)

# §6.2: the retry class of each code, by number only (the text is localized, §0.7).
_RETRY_CODES = frozenset({1, 2, 341, 5000})
_THROTTLE_CODES = frozenset({4, 17, 32, 613, *range(80000, 80015)})
#: 2635 (deprecated version), 2500 (unknown path) and 104 (no token) are configuration too.
_DISABLED_CODES = frozenset({10, 102, 104, 190, 368, 2500, 2635, *range(200, 300)})


def _one_or_list(values: Any) -> Any:
    """Hashed keys go as a list, or as a plain string when there is one value (§3.1)."""
    if isinstance(values, list):
        values = [v for v in values if v not in (None, "")]
        if len(values) == 1:
            return values[0]
        return values or None
    return values if values not in (None, "") else None


def _user_data(event: NormalizedEvent) -> dict[str, Any]:
    user: dict[str, Any] = {}
    for key, raw in event.user_data.items():
        if key in meta_rules.HASHED_KEYS or key == "external_id":
            value = _one_or_list(raw)
        elif key in _CLEAR_USER_KEYS:
            value = raw if raw not in (None, "", []) else None
            # Meta types these as integers (§3.1); the store keeps text.
            if key in ("lead_id", "fb_login_id") and isinstance(value, str) and value.isdigit():
                value = int(value)
        else:
            continue  # not a Meta key: never invent fields Meta would refuse (rule 21)
        if value is not None:
            user[key] = value
    return user


def _number(value: float) -> int | float:
    """1.0 → 1, so the JSON matches what a shop owner typed."""
    return int(value) if math.isfinite(value) and value == int(value) else value


def _custom_data(event: NormalizedEvent) -> dict[str, Any]:
    custom: dict[str, Any] = {}
    order = event.order
    if order is not None:
        if order.value is not None:
            custom["value"] = _number(order.value)
        if order.currency:
            custom["currency"] = order.currency
        if order.items:
            contents = []
            for item in order.items:
                content: dict[str, Any] = {"id": item.id, "quantity": item.quantity}
                if item.price is not None:
                    content["item_price"] = _number(item.price)
                contents.append(content)
            custom["contents"] = contents
            custom["content_ids"] = [item.id for item in order.items]
            custom["content_type"] = "product"
            custom["num_items"] = sum(item.quantity for item in order.items)
        if order.reference:
            custom["order_id"] = order.reference
    for key, value in event.custom_data.items():
        # Passthrough, but the order is the source of truth for the standard keys.
        if key in custom or (key in _STANDARD_CUSTOM_KEYS and order is not None):
            continue
        custom[key] = value
    return custom


def event_payload(event: NormalizedEvent, ldu: str = "off") -> dict[str, Any]:
    """The CAPI event dict for one stored event (§2-§4), Limited Data Use per ``ldu``."""
    payload: dict[str, Any] = {
        "event_name": event.event_name,
        "event_time": event.event_time,
        "event_id": event.event_id,
        "action_source": event.action_source,
    }
    if event.event_source_url:
        payload["event_source_url"] = event.event_source_url
    if event.referrer_url:
        payload["referrer_url"] = event.referrer_url
    if event.opt_out:
        payload["opt_out"] = True
    # §2.1 / rule 20: "geo" lets Meta geolocate (0/0); "always-california" pins USA/CA.
    if ldu == "geo":
        payload["data_processing_options"] = ["LDU"]
        payload["data_processing_options_country"] = 0
        payload["data_processing_options_state"] = 0
    elif ldu == "always-california":
        payload["data_processing_options"] = ["LDU"]
        payload["data_processing_options_country"] = 1
        payload["data_processing_options_state"] = 1000
    if event.data_processing_options is not None:
        # The sender decided LDU for this event itself (e.g. Meta's SDK through the
        # Graph-compatible endpoint): its choice wins over the gateway-wide setting.
        for key in ("data_processing_options", "data_processing_options_country",
                    "data_processing_options_state"):
            payload.pop(key, None)
            if getattr(event, key) is not None:
                payload[key] = getattr(event, key)
    payload["user_data"] = _user_data(event)
    custom = _custom_data(event)
    if custom:
        payload["custom_data"] = custom
    return payload


class MetaDestination:
    """Meta CAPI for one pixel: ``MetaDestination(settings)``."""

    name = "meta"
    display_name = "Meta"
    max_batch_size = 1000  # §1.4
    max_event_age_s = 7 * 86400  # §2.2
    #: The worker sends this destination's requests (the dry run sets it to True).
    offline = False

    def __init__(self, settings: Settings, rules: RulesConfig | None = None) -> None:
        if not settings.meta_configured:
            raise ValueError("Meta needs TRACKSIDE_META_PIXEL_ID and TRACKSIDE_META_ACCESS_TOKEN")
        self._settings = settings
        self._redact = Redactor(settings.secret_values())
        # compat by default: local checks mirror what Graph v26.0 really accepts (§12.1), so a
        # server Purchase without a browser user agent is still sent.
        self.rules = rules or RulesConfig(mode="compat", versions=(settings.meta_api_version,))
        self.max_request_bytes = settings.meta_max_request_bytes
        self.node_url = (
            f"{settings.meta_graph_url}/{settings.meta_api_version}/{settings.meta_pixel_id}"
        )
        self.url = f"{self.node_url}/events"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(pixel_id={self._settings.meta_pixel_id!r})"

    # -- per event ------------------------------------------------------------------------------

    def prepare(self, outbox_id: int, event: NormalizedEvent, now: float) -> Prepared | Skip:
        age = now - event.event_time
        if age > self.max_event_age_s - EXPIRY_MARGIN_S:
            return Skip(
                outcome="expired",
                reason=f"event_time is {age / 86400:.1f} days old; Meta refuses events older "
                "than 7 days (100/2804003)",
            )
        payload = event_payload(event, self._settings.meta_ldu)
        prepared = Prepared(outbox_id=outbox_id, event=event, payload=payload)
        # Measured before Meta's rules run: an old stored row may hold megabytes (ingest limits
        # came later), and such an event would make one request of hundreds of megabytes.
        size = prepared.payload_bytes()
        if size + 2 > self.max_request_bytes:
            return Skip(
                outcome="dead",
                reason=f"the event is {size:,} bytes of JSON, more than one request to Meta may "
                f"carry (TRACKSIDE_META_MAX_REQUEST_BYTES = {self.max_request_bytes:,}); "
                "it was never sent",
            )
        # One refused event refuses the whole batch (§0.1): find it now, alone.
        error = meta_rules.check_event(prepared.payload, self.rules, now, warnings=prepared.notes)
        if error is not None:
            return Skip(outcome="dead", reason=self._scrub(error.describe()))
        return prepared

    def batches(self, prepared: Sequence[Prepared]) -> list[list[Prepared]]:
        """≤ 1,000 events (§1.4) and ≤ TRACKSIDE_META_MAX_REQUEST_BYTES of event JSON (§6.1:
        Meta documents no byte limit, so the budget is ours)."""
        return chunk_by_bytes(prepared, self.max_batch_size, self.max_request_bytes)

    # -- per batch ------------------------------------------------------------------------------

    def request_params(self, batch: Sequence[Prepared]) -> dict[str, str]:
        """The form fields of the call (§1.4). Holds the token: never log it."""
        token = self._settings.meta_access_token
        assert token is not None  # checked in __init__
        params = {
            "data": "[" + ",".join(item.payload_json() for item in batch) + "]",
            # A form field, not the query string: URLs end up in proxy and access logs.
            "access_token": token.get_secret_value(),
            "partner_agent": PARTNER_AGENT,
        }
        if self._settings.meta_test_event_code:
            params["test_event_code"] = self._settings.meta_test_event_code
        return params

    def build_request(self, batch: Sequence[Prepared]) -> httpx.Request:
        # multipart/form-data, Meta's own curl example (spec §1.3): unlike form-urlencoding,
        # it needs no percent-encoding of a 1,000-event JSON array, which cost more CPU than
        # everything else the worker does per batch.
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
        """A read of the pixel node (``GET /{version}/{pixel_id}?fields=id``, spec §8 reads the
        same node): it proves token and pixel without creating a conversion. The token goes in
        the Authorization header (§1.2), never in the URL: URLs end up in access logs."""
        token = self._settings.meta_access_token
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
            if isinstance(body, dict) and str(body.get("id")) == self._settings.meta_pixel_id:
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


def _regain_minutes(entry: Any) -> float | None:
    value = entry.get("estimated_time_to_regain_access") if isinstance(entry, dict) else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _usage_header(headers: httpx.Headers, name: str) -> Any:
    raw = headers.get(name)
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _regain_seconds(error: Mapping[str, Any], headers: httpx.Headers) -> float | None:
    """Meta's own estimate of a throttle's end, the longest one it gives, or None.

    ``estimated_time_to_regain_access`` (minutes) may come in ``error_data`` and in the usage
    headers (https://developers.facebook.com/docs/graph-api/overview/rate-limiting/):
    ``X-Business-Use-Case-Usage`` is ``{business_id: [{…, estimated_time_to_regain_access}]}``,
    ``X-App-Usage`` one object; ``X-Ad-Account-Usage`` gives ``reset_time_duration`` in
    seconds; plus a plain ``Retry-After``.
    """
    minutes: list[float] = []
    data = error.get("error_data")
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError:
            data = None
    for entry in (data, _usage_header(headers, "x-app-usage")):
        value = _regain_minutes(entry)
        if value is not None:
            minutes.append(value)
    usage = _usage_header(headers, "x-business-use-case-usage")
    if isinstance(usage, dict):
        for entries in usage.values():
            for entry in entries if isinstance(entries, list) else []:
                value = _regain_minutes(entry)
                if value is not None:
                    minutes.append(value)
    seconds = [m * 60 for m in minutes if m > 0]
    account = _usage_header(headers, "x-ad-account-usage")
    reset = account.get("reset_time_duration") if isinstance(account, dict) else None
    if isinstance(reset, int | float) and not isinstance(reset, bool) and reset > 0:
        seconds.append(float(reset))
    retry_after = parse_retry_after(headers.get("retry-after"), time.time())
    if retry_after:
        seconds.append(retry_after)
    return max(seconds) if seconds else None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _timed_out(error: Exception | None) -> bool:
    # A connect timeout means Meta is unreachable (an outage), not that this request is slow.
    return isinstance(error, httpx.TimeoutException) and not isinstance(
        error, httpx.ConnectTimeout | httpx.PoolTimeout
    )


def _body_kind(response: httpx.Response) -> str:
    if not response.content:
        return "an empty body"
    content_type = response.headers.get("content-type", "").lower()
    if "html" in content_type or response.content.lstrip()[:1] == b"<":
        return "an HTML body"
    return "a non-JSON body"


def classify_response(
    response: httpx.Response | None, error: Exception | None, batch_size: int
) -> Classification:
    """§6.2/§6.3, by numeric code only: Meta localizes its text (§0.7, rule 38)."""
    if response is None:
        # Network error or timeout: Meta may or may not have the batch; the same event ids
        # make a resend safe (§6.3).
        what = type(error).__name__ if error is not None else "no response"
        return Classification(
            Verdict.RETRY,
            message=f"{what}: {error}" if error else what,
            fault=Fault.TIMEOUT if _timed_out(error) else None,
        )
    status = response.status_code
    if status == 413:
        return Classification(
            Verdict.RETRY, http_status=status, fault=Fault.TOO_LARGE,
            message=f"HTTP 413 (request too large) with {_body_kind(response)}",
        )
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return Classification(
            Verdict.RETRY,
            http_status=status,
            message=f"HTTP {status} with {_body_kind(response)} "
            f"({response.headers.get('content-type', '?')})",
            # A 5xx says "my fault" (a storm, not this batch); HTML on a 200 or a 4xx may be
            # something in this batch choking a proxy or the vendor.
            fault=None if status >= 500 else Fault.GARBLED,
        )
    trace = body.get("fbtrace_id") if isinstance(body.get("fbtrace_id"), str) else None
    if 200 <= status < 300 and "events_received" in body:
        received = body.get("events_received")
        counted = received if isinstance(received, int) and not isinstance(received, bool) else 0
        if counted < batch_size:
            return Classification(
                Verdict.SHORT_COUNT, http_status=status, trace_id=trace, events_received=counted,
                message=f"Meta counted {received} of {batch_size} events",
            )
        message = (
            None if counted == batch_size else f"Meta counted {received} of {batch_size} events"
        )
        return Classification(
            Verdict.DELIVERED, http_status=status, message=message, trace_id=trace
        )
    err = body.get("error")
    if not isinstance(err, dict):
        return Classification(
            Verdict.RETRY, http_status=status, message=f"HTTP {status} without an error object"
        )
    code = _int(err.get("code"))
    subcode = _int(err.get("error_subcode"))
    trace = err.get("fbtrace_id") if isinstance(err.get("fbtrace_id"), str) else trace
    message = str(err.get("message") or "")
    title, user_msg = err.get("error_user_title"), err.get("error_user_msg")
    if title or user_msg:
        message = (
            f"{message} [{title or ''}: {user_msg or ''}]" if message else f"{title}: {user_msg}"
        )

    def verdict(kind: Verdict, retry_after_s: float | None = None) -> Classification:
        return Classification(
            kind,
            http_status=status,
            code=code,
            subcode=subcode,
            message=message,
            retry_after_s=retry_after_s,
            trace_id=trace,
        )

    if code in _RETRY_CODES:
        return verdict(Verdict.RETRY)
    if code in _THROTTLE_CODES:
        # Without a hint from Meta the worker picks the pause (escalating, §6.2 "long backoff").
        return verdict(Verdict.THROTTLED, _regain_seconds(err, response.headers))
    if code in _DISABLED_CODES or (code == 100 and subcode == 33):
        return verdict(Verdict.DISABLED)
    if err.get("is_transient") is True or status >= 500:
        return verdict(Verdict.RETRY)
    if code == 100:  # every other 100: the content (2804xxx and friends) — §6.3 "do not retry"
        return verdict(Verdict.REJECTED)
    # An unmapped code: retrying until the event ages out beats dead-lettering on a guess.
    return verdict(Verdict.RETRY)
