"""GA4's API secret travels in the query string: masked in request reprs, in httpx's own
request log line and in every message trackside writes.

https://developers.google.com/analytics/devguides/collection/protocol/ga4/reference
"""

from __future__ import annotations

import logging
import re

import httpx

from trackside.redact import MASK

__all__ = ["GA4Request", "redact_secret"]

_SECRET_IN_QUERY = re.compile(r"(api_secret=)[^&\s'\"]*")


def redact_secret(text: str, secret: str | None) -> str:
    text = _SECRET_IN_QUERY.sub(r"\1" + MASK, text)
    if secret:
        text = text.replace(secret, MASK)
    return text


class GA4Request(httpx.Request):
    """An httpx.Request whose repr does not show the API secret carried in its URL."""

    def __repr__(self) -> str:
        return redact_secret(super().__repr__(), None)


class _RedactApiSecret(logging.Filter):
    """Masks ``api_secret=…`` in httpx's INFO line "HTTP Request: POST <url> …".

    httpx logs every request's full URL; GA4 needs the secret in that URL, so without
    this filter ``logging.basicConfig(level=INFO)`` would write the secret to the log.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "api_secret=" in message:
            record.msg = redact_secret(message, None)
            record.args = ()
        return True


def _install_log_filter() -> None:
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactApiSecret) for f in logger.filters):
        logger.addFilter(_RedactApiSecret())


_install_log_filter()
