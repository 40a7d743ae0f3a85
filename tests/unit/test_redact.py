"""The last line of defence: secrets masked in log records, tracebacks included."""

from __future__ import annotations

import io
import json
import logging

from trackside import logs
from trackside.redact import MASK, Redactor

TOKEN = "EAAcanaryTOKENxyz987"


def test_redactor_masks_every_secret_longest_first() -> None:
    redact = Redactor([TOKEN, TOKEN[:8]])
    assert redact(f"token={TOKEN} prefix={TOKEN[:8]}") == f"token={MASK} prefix={MASK}"
    assert redact(None) is None
    # Secrets shorter than 4 characters are not masked: they would garble ordinary words.
    assert Redactor(["ab"])("about") == "about"


def test_log_lines_and_tracebacks_are_masked() -> None:
    stream = io.StringIO()
    logs.configure(Redactor([TOKEN]), "INFO", stream=stream)
    log = logging.getLogger("trackside.test")
    log.info("calling with %s", TOKEN)
    try:
        raise RuntimeError(f"request failed: access_token={TOKEN}")
    except RuntimeError:
        log.exception("crash while sending")
    logging.getLogger("httpx").info("HTTP Request: POST https://x/?api_secret=%s", TOKEN)
    output = stream.getvalue()
    assert TOKEN not in output
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert lines[0]["msg"] == f"calling with {MASK}"
    assert "crash while sending" in lines[1]["msg"] and "RuntimeError" in output
    assert len(lines) == 2  # httpx's INFO request lines (URLs with GA4's secret) are not logged


def test_request_id_is_in_every_line() -> None:
    stream = io.StringIO()
    logs.configure(Redactor([]), "INFO", stream=stream)
    token = logs.request_id.set("req-123")
    try:
        logging.getLogger("trackside.test").warning("hello")
    finally:
        logs.request_id.reset(token)
    assert json.loads(stream.getvalue().splitlines()[-1])["request_id"] == "req-123"
