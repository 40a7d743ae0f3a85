"""web/requests.read_body: the whole body from the ASGI messages, bounded, as the stream was."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.requests import Request

from trackside.web.requests import BodyIncomplete, BodyTooLarge, read_body


def _request(messages: list[dict[str, Any]], headers: list[tuple[bytes, bytes]] | None = None,
             ) -> Request:
    queue = list(messages)

    async def receive() -> dict[str, Any]:
        return queue.pop(0)

    return Request({"type": "http", "method": "POST", "headers": headers or []}, receive)


def _messages(chunks: list[bytes], noise: bool = False) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for index, chunk in enumerate(chunks):
        if noise:
            out.append({"type": "lifespan.unknown"})  # neither a body nor a disconnect
        out.append({"type": "http.request", "body": chunk,
                    "more_body": index < len(chunks) - 1})
    return out or [{"type": "http.request"}]


async def _starlette_body(chunks: list[bytes]) -> bytes:
    return await _request(_messages(chunks)).body()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=6), st.integers(0, 120), st.booleans())
def test_the_body_is_the_streams_within_the_limit(chunks: list[bytes], limit: int,
                                                  noise: bool) -> None:
    expected = asyncio.run(_starlette_body(chunks))
    request = _request(_messages(chunks, noise))
    if len(expected) > limit:
        with pytest.raises(BodyTooLarge):
            asyncio.run(read_body(request, limit))
        return
    assert asyncio.run(read_body(request, limit)) == expected

    async def again() -> None:
        async for _ in request.stream():
            pass

    with pytest.raises(RuntimeError, match="consumed"):  # never a wait for more
        asyncio.run(again())


async def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    request = _request([], headers=[(b"content-length", b"101")])
    with pytest.raises(BodyTooLarge):
        await read_body(request, 100)


async def test_a_disconnect_before_the_end_is_an_incomplete_body() -> None:
    request = _request([{"type": "http.request", "body": b"{", "more_body": True},
                        {"type": "http.disconnect"}])
    with pytest.raises(BodyIncomplete):
        await read_body(request, 100)


async def test_a_body_read_before_is_read_as_starlette_reads_it() -> None:
    request = _request(_messages([b'{"a":', b"1}"]))
    assert await request.body() == b'{"a":1}'
    assert await read_body(request, 100) == b'{"a":1}'
    with pytest.raises(BodyTooLarge):
        await read_body(request, 3)
    streamed = _request(_messages([b"xy"]))
    async for _ in streamed.stream():
        pass
    with pytest.raises(RuntimeError, match="consumed"):
        await read_body(streamed, 100)
