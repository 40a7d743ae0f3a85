"""Secret scrubbing: the last line of defence for text that leaves the process.

Secrets live in ``SecretStr`` values and are unwrapped only where they are sent to a vendor.
Still, a vendor may echo a request back, or an exception may carry a URL: every message the
worker stores, every log record and every error response passes through ``Redactor``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

MASK = "**********"


class Redactor:
    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret that contains another is masked whole.
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str | None) -> str | None:
        if text is None or not self._secrets:
            return text
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text


class RedactingFilter(logging.Filter):
    """Masks secrets in every record that passes the handler it is attached to."""

    def __init__(self, redactor: Redactor, fields: Iterable[str] = ()) -> None:
        super().__init__()
        self.redactor = redactor
        #: ``extra=`` attributes of a record that are masked too (logs.LOG_FIELDS).
        self.fields = tuple(fields)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self.redactor(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        for key in self.fields:
            value = getattr(record, key, None)
            if isinstance(value, str):
                setattr(record, key, self.redactor(value))
        if record.exc_info and record.exc_info[1] is not None:
            # Render the traceback now, masked, instead of letting the formatter do it.
            formatted = logging.Formatter().formatException(record.exc_info)
            record.exc_text = self.redactor(formatted)
            record.exc_info = None
            record.msg = f"{record.msg}\n{record.exc_text}"
            record.exc_text = None
        return True
