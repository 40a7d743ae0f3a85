"""Meta's answers to verdicts, by numeric code only.

Meta: "Error handling should be done using only the Error Codes. The Description string is
subject to change" (https://developers.facebook.com/docs/graph-api/guides/error-handling).
Throttling codes and usage headers:
https://developers.facebook.com/docs/marketing-api/overview/rate-limiting
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

import httpx

from trackside.destinations import Classification, Fault, Verdict
from trackside.retry_after import parse_retry_after

__all__ = ["classify_response"]

# The retry class of each code, by number only: Meta localizes error_user_* (French seen).
_RETRY_CODES = frozenset({1, 2, 341, 5000})
_THROTTLE_CODES = frozenset({4, 17, 32, 613, *range(80000, 80015)})
#: 2635 (deprecated version), 2500 (unknown path) and 104 (no token) are configuration too.
_DISABLED_CODES = frozenset({10, 102, 104, 190, 368, 2500, 2635, *range(200, 300)})



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
    """One verdict, by numeric code only: Meta localizes its text (French seen, rule 38)."""
    if response is None:
        # Network error or timeout: Meta may or may not have the batch; the same event ids
        # make a resend safe: Meta dedups on event_name + event_id.
        what = type(error).__name__ if error is not None else "no response"
        return Classification(
            Verdict.RETRY,
            message=f"{what}: {error}" if error else what,
            fault=Fault.TIMEOUT if _timed_out(error) else None,
        )
    status = response.status_code
    # Meta names each request in a header too, also on answers without a JSON body.
    header_trace = response.headers.get("x-fb-trace-id") or None
    if status == 413:
        return Classification(
            Verdict.RETRY, http_status=status, fault=Fault.TOO_LARGE, trace_id=header_trace,
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
            trace_id=header_trace,
        )
    trace = body.get("fbtrace_id") if isinstance(body.get("fbtrace_id"), str) else header_trace
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
        # Without a hint from Meta the worker picks the pause (escalating: a long backoff).
        return verdict(Verdict.THROTTLED, _regain_seconds(err, response.headers))
    if code in _DISABLED_CODES or (code == 100 and subcode == 33):
        return verdict(Verdict.DISABLED)
    if err.get("is_transient") is True or status >= 500:
        return verdict(Verdict.RETRY)
    if code == 100:  # every other 100: the content (2804xxx and friends), a resend fails too
        return verdict(Verdict.REJECTED)
    # An unmapped code: retrying until the event ages out beats dead-lettering on a guess.
    return verdict(Verdict.RETRY)
