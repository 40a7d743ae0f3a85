"""The tests' polling helper: returns as soon as the condition holds, fails naming it."""

from __future__ import annotations

import time

import pytest

from tests.waiting import wait_until, wait_until_async


def test_returns_the_first_truthy_value_without_waiting_longer() -> None:
    calls: list[int] = []

    def third_call_succeeds() -> str:
        calls.append(1)
        return "ready" if len(calls) == 3 else ""

    started = time.monotonic()
    assert wait_until(third_call_succeeds, timeout_s=10) == "ready"
    assert len(calls) == 3
    assert time.monotonic() - started < 5


def test_times_out_with_what_it_waited_for() -> None:
    started = time.monotonic()
    with pytest.raises(AssertionError, match=r"0\.2s waiting for the moon"):
        wait_until(lambda: False, timeout_s=0.2, what="the moon")
    assert time.monotonic() - started >= 0.2


async def test_the_async_version_lets_the_loop_run_between_checks() -> None:
    import asyncio

    done = asyncio.Event()
    asyncio.get_running_loop().call_later(0.1, done.set)
    assert await wait_until_async(done.is_set, timeout_s=10, what="the timer") is True
    with pytest.raises(AssertionError, match="waiting for never"):
        await wait_until_async(lambda: None, timeout_s=0.1, what="never")
