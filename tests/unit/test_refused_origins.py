"""The refused-Origin warning of /collect: once per origin per interval, bounded memory."""

from __future__ import annotations

import logging

import pytest

from trackside.web.refusals import SHOWN_CHARS, RefusedOrigins


def _messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "trackside.collect"]


def test_once_per_origin_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="trackside.collect")
    refusals = RefusedOrigins(interval_s=60)
    for second in range(59):
        refusals.refused("https://a.example", now=1000.0 + second)
    refusals.refused("https://b.example", now=1000.0)
    assert len(_messages(caplog)) == 2
    refusals.refused("https://a.example", now=1060.0)  # a minute later: again
    messages = _messages(caplog)
    assert len(messages) == 3 and "https://a.example" in messages[2]
    assert all("TRACKSIDE_ALLOWED_ORIGINS" in m for m in messages)
    assert all(r.levelno == logging.WARNING for r in caplog.records)


def test_a_flood_of_origins_is_one_line_per_interval_and_memory_stays_bounded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="trackside.collect")
    refusals = RefusedOrigins(interval_s=60, max_origins=10)
    for number in range(10_000):
        refusals.refused(f"https://{number}.evil.example", now=1000.0 + number / 1000)
    messages = _messages(caplog)
    assert len(messages) == 11  # ten one by one, then one summary for the rest
    assert "more than 10 distinct origins" in messages[-1]
    assert len(refusals._last) <= 10
    # After the interval, old entries make room again.
    refusals.refused("https://late.example", now=2000.0)
    assert "https://late.example" in _messages(caplog)[-1]


def test_a_huge_or_missing_origin_is_cut(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="trackside.collect")
    refusals = RefusedOrigins()
    refusals.refused("https://" + "x" * 10_000, now=1.0)
    refusals.refused(None, now=1.0)
    long, missing = _messages(caplog)
    assert len(long) < SHOWN_CHARS + 300 and "(none)" in missing
