"""One error root for everything trackside raises on purpose.

    TracksideError                      exit 1 unless a subclass says otherwise
     ├── ConfigError                    exit 2: a setting cannot be used (config.py)
     ├── StoreError                     exit 2 at start (store/__init__.py: StoreLocked,
     │                                  StoreFull, StoreUnwritable, StoreUnavailable)
     ├── SourceError                    exit 1: a source cannot be read (PrestaShopError)
     ├── RefundError                    exit 1: a refund cannot be built (refunds.py)
     ├── RequestError                   the web layer's own: a body too large or cut short
     └── ReportError                    exit 2: a report's parameter (period, filter, cursor)
                                        cannot be used; names the parameter

A command's exit code for an error is :func:`exit_code` of it, written in one place, so a
script around ``trackside`` can tell "fix your settings" (2) from "try again later" (1).
Messages name the setting or the input and the reason; they never hold a secret.
"""

from __future__ import annotations


class TracksideError(Exception):
    """Something trackside cannot do; the message says what and why."""

    #: The process exit code of a command that stops on this error.
    exit_code = 1


class ConfigError(TracksideError):
    """The configuration cannot be used; the message names the key and the reason."""

    exit_code = 2


class SourceError(TracksideError):
    """A source (a shop, a file, a webhook sender) cannot be read: what is wrong and the fix."""


class RefundError(TracksideError):
    """The refund cannot be built; the message says what to pass instead."""


class RequestError(TracksideError):
    """An HTTP request the web layer cannot read; each endpoint answers in its own shape."""


class BodyTooLarge(RequestError):
    """The body is over ``settings.max_body_bytes``."""


class BodyIncomplete(RequestError):
    """The client went away before sending the whole body."""


class ReportError(TracksideError):
    """A report's parameter cannot be used: ``field`` names it (``since``, ``until``,
    ``filter``, ``cursor``, ``limit``), ``reason`` says why (never echoing the value)."""

    exit_code = 2

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


def exit_code(exc: BaseException) -> int:
    """The exit code for a command that stops on ``exc``: the error's own, else 1."""
    return exc.exit_code if isinstance(exc, TracksideError) else 1
