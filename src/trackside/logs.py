"""Structured logs: one JSON object per line, a request id when there is one, secrets masked.

httpx logs every request URL at INFO; GA4's API secret travels in its query string
(``api_secret=``), so httpx and httpcore are held at WARNING. GA4's request:
https://developers.google.com/analytics/devguides/collection/protocol/ga4/reference
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import sys
import time

from trackside.redact import RedactingFilter, Redactor

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

#: The ``extra=`` fields a log call may pass; the JSON formatter writes each present one as its
#: own key, so a log pipeline can filter on them (``log.info("...", extra={"action":
#: "delivered", "destination": "meta", "count": 12})``). Anything else in ``extra`` is not
#: written: a field is added here first, after checking it can never hold a secret.
LOG_FIELDS = (
    "action",        # what happened: accepted, delivered, retry, dead, paused, probe, split, ...
    "destination",   # meta, ga4, dryrun, webhook, ...
    "source",        # api, browser, graph, prestashop, cli, ...
    "shop",          # the shop (several shops in one gateway)
    "count",         # how many events or rows the line is about
    "event_id",
    "event_name",
    "outbox_id",
    "status",        # an HTTP status or an outcome
    "code",          # the vendor's error code
    "subcode",
    "fbtrace_id",    # Meta's trace id of the answer (Meta support asks for it)
    "duration_ms",
)


class JSONFormatter(logging.Formatter):
    def __init__(self, process_id: bool = False) -> None:
        super().__init__()
        #: Write the process id (``pid``): several server processes share one log
        #: (`serve --workers N`).
        self.process_id = process_id

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if self.process_id:
            entry["pid"] = os.getpid()
        rid = request_id.get()
        if rid:
            entry["request_id"] = rid
        for key in LOG_FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(redactor: Redactor, level: str = "INFO", stream: object = None, *,
              process_id: bool = False) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
    handler.setFormatter(JSONFormatter(process_id))
    handler.addFilter(RedactingFilter(redactor, LOG_FIELDS))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
    # uvicorn's access log prints the full request line, query string included.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
