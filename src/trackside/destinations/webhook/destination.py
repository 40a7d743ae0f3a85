"""The signed webhook: each batch POSTed as JSON to the shop's own receiver.

For shops that feed their own warehouse or CRM. The body is
``{"event_ids": [...], "events": [...]}``: the canonical normalized events as stored, hashed
personal data only (no IP address, user agent, click or browser ids; no internal keys). The
request is signed (signature.py); the answers are classified like any vendor's:
2xx delivered; 429 throttled (Retry-After honoured); 408 and 5xx retried (with Retry-After:
a pause that long); no answer in time retried; any other 4xx refused, so the worker splits the
batch until the event is alone and dead-letters it with the status and a body excerpt.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import httpx
import orjson

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
from trackside.destinations.webhook.settings import WebhookSettings
from trackside.destinations.webhook.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from trackside.events import NormalizedEvent
from trackside.identity import is_sha256_hex
from trackside.outcomes import Outcome
from trackside.redact import Redactor
from trackside.retry_after import parse_retry_after

__all__ = ["WebhookDestination", "event_document"]

#: What orjson would encode but json would not (or differently) raises: such events are
#: measured exactly (admission_check).
_ORJSON_STRICT = (orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME
                  | orjson.OPT_PASSTHROUGH_SUBCLASS)
#: How much of a refusing receiver's body the dead letter keeps.
EXCERPT_CHARS = 200
#: NormalizedEvent fields the receiver gets (the rest are ids in clear or trackside's own).
_SENT_FIELDS = ("event_name", "event_id", "event_time", "action_source", "event_source_url",
                "referrer_url", "opt_out", "order", "custom_data", "consent", "source")


def event_document(event: NormalizedEvent) -> dict[str, Any]:
    """One event as the receiver gets it: hashed customer data only."""
    document = event.model_dump(mode="json", include=set(_SENT_FIELDS), exclude_none=True)
    document["custom_data"] = {k: v for k, v in event.custom_data.items()
                               if not k.startswith("_")}  # internal facts stay inside
    document["user_data"] = {key: values for key, values in event.user_data.items()
                             if _all_hashed(values)}
    return document


def _all_hashed(value: Any) -> bool:
    values = value if isinstance(value, list) else [value]
    return bool(values) and all(isinstance(v, str) and is_sha256_hex(v) for v in values)


class WebhookDestination:
    """``WebhookDestination(settings)``: needs TRACKSIDE_WEBHOOK_URL and _SECRET."""

    name = "webhook"
    display_name = "the webhook"
    #: Nothing harmless to read at an arbitrary receiver: every claim is the trial.
    build_probe = None
    expiry_margin_s = 0

    def __init__(self, settings: Settings) -> None:
        own = settings.destination("webhook", WebhookSettings)
        if own.webhook_url is None or own.webhook_secret is None:
            raise ValueError("the webhook needs TRACKSIDE_WEBHOOK_URL and "
                             "TRACKSIDE_WEBHOOK_SECRET")
        self.url = own.webhook_url
        self._secret = own.webhook_secret
        self.max_batch_size = own.webhook_max_batch_events
        self.max_request_bytes = own.webhook_max_batch_bytes
        self.max_event_age_s = own.webhook_max_event_age_s
        self.age_limit = (f"the webhook keeps retrying for "
                          f"{own.webhook_max_event_age_s / 3600:g} hours "
                          "(TRACKSIDE_WEBHOOK_MAX_EVENT_AGE_S)")
        self._redact = Redactor([own.webhook_secret.get_secret_value()])

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self.url!r})"

    def prepare(self, outbox_id: int, event: NormalizedEvent, now: float) -> Prepared | Skip:
        expired = too_old(self, event, now)
        if expired is not None:
            return expired
        prepared = Prepared(outbox_id=outbox_id, event=event, payload=event_document(event))
        size = prepared.payload_bytes()
        if size + 2 > self.max_request_bytes:
            return self._too_large(size)
        return prepared

    def admission_check(self, event: NormalizedEvent, now: float) -> Skip | None:
        """``prepare``'s verdict without the Prepared (trackside/admission.py): the window, then
        the size, bounded from orjson's encoding and measured exactly only near the limit."""
        expired = too_old(self, event, now)
        if expired is not None:
            return expired
        document = event_document(event)
        try:
            # orjson writes a float in at least 3 characters, json in at most 24; strings
            # and integers the same or shorter: json's bytes are at most 8 times orjson's.
            bound = 8 * len(orjson.dumps(document, option=_ORJSON_STRICT))
        except TypeError:  # orjson.JSONEncodeError: what json may encode differently
            bound = None
        if bound is not None and bound + 2 <= self.max_request_bytes:
            return None
        size = Prepared(outbox_id=0, event=event, payload=document).payload_bytes()
        return self._too_large(size) if size + 2 > self.max_request_bytes else None

    def _too_large(self, size: int) -> Skip:
        return Skip(Outcome.DEAD, f"the event is {size:,} bytes of JSON, more than one webhook "
                    f"request may carry (TRACKSIDE_WEBHOOK_MAX_BATCH_BYTES = "
                    f"{self.max_request_bytes:,}); it was never sent")

    def batches(self, prepared: Sequence[Prepared]) -> list[list[Prepared]]:
        return chunk_by_bytes(prepared, self.max_batch_size, self.max_request_bytes)

    def build_request(self, batch: Sequence[Prepared]) -> httpx.Request:
        body = (
            '{"event_ids":' + json.dumps([item.event.event_id for item in batch])
            + ',"events":[' + ",".join(item.payload_json() for item in batch) + "]}"
        ).encode()
        timestamp = int(time.time())
        return httpx.Request(
            "POST",
            self.url,
            content=body,
            headers={
                "content-type": "application/json",
                "user-agent": PARTNER_AGENT,
                TIMESTAMP_HEADER: str(timestamp),
                SIGNATURE_HEADER: sign(self._secret.get_secret_value(), timestamp, body),
            },
        )

    def classify(
        self, response: httpx.Response | None, error: Exception | None, batch_size: int
    ) -> Classification:
        if response is None:
            what = type(error).__name__ if error is not None else "no response"
            timed_out = isinstance(error, httpx.TimeoutException) and not isinstance(
                error, httpx.ConnectTimeout | httpx.PoolTimeout)
            return Classification(Verdict.RETRY, message=self._scrub(f"{what}: {error}"),
                                  fault=Fault.TIMEOUT if timed_out else None)
        status = response.status_code
        if 200 <= status < 300:
            return Classification(Verdict.DELIVERED, http_status=status)
        message = f"HTTP {status} from the webhook: {self._excerpt(response)}"
        retry_after = parse_retry_after(response.headers.get("retry-after"), time.time())
        if status == 429 or (retry_after is not None and (status == 408 or status >= 500)):
            return Classification(Verdict.THROTTLED, http_status=status, message=message,
                                  retry_after_s=retry_after)
        if status == 408 or status >= 500:
            return Classification(Verdict.RETRY, http_status=status, message=message)
        if status == 413:
            return Classification(Verdict.RETRY, http_status=status, message=message,
                                  fault=Fault.TOO_LARGE)
        return Classification(Verdict.REJECTED, http_status=status, message=message)

    def _excerpt(self, response: httpx.Response) -> str:
        text = response.text.strip().replace("\n", " ")
        if len(text) > EXCERPT_CHARS:
            text = text[:EXCERPT_CHARS] + "…"
        return self._scrub(text) or "(empty body)"

    def _scrub(self, text: str) -> str:
        return self._redact(text) or ""
