"""Waiting for a condition in tests: poll it until a deadline instead of sleeping a fixed time.

A fixed sleep is either too short on a loaded machine (a flaky test) or longer than needed
everywhere else (a slow one); a poll returns as soon as the condition holds and fails with a
message naming what never happened.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

POLL_S = 0.05


def wait_until(check: Callable[[], T], timeout_s: float = 10.0, what: str = "condition") -> T:
    """The first truthy value ``check()`` returns; AssertionError after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g}s waiting for {what}")
        time.sleep(POLL_S)


async def wait_until_async(check: Callable[[], T], timeout_s: float = 10.0,
                           what: str = "condition") -> T:
    """``wait_until`` for code on an event loop: the loop keeps running between checks."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g}s waiting for {what}")
        await asyncio.sleep(POLL_S)
