"""What every endpoint does before its own work: find the API key, read a bounded body."""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request

from trackside.errors import BodyIncomplete as BodyIncomplete
from trackside.errors import BodyTooLarge as BodyTooLarge


def bearer_token(request: Request) -> str | None:
    """The token of ``Authorization: Bearer <token>`` (scheme case-insensitive, RFC 6750)."""
    header = request.headers.get("authorization")
    if not header or header[:7].lower() != "bearer ":
        return None
    token = header[7:].strip()
    return token or None


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refusing early when it is (or announces to be) over ``limit`` bytes.

    A declared Content-Length over the limit is refused before anything is read, so a client
    cannot make us buffer 5 GB; a chunked body is counted as it streams in.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    if request._stream_consumed or hasattr(request, "_body"):
        # Read before (nothing in trackside does): Starlette's stream knows what that means.
        return await _read_stream(request, limit)
    # The ASGI messages themselves rather than request.stream(): its async generator cost
    # three times the rest of this function, for the single message nearly every body is.
    chunks: list[bytes] = []
    size = 0
    receive = request.receive
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge
            if chunk:
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        elif message["type"] == "http.disconnect":
            raise BodyIncomplete
    # As request.stream() leaves it: a second read says the stream is consumed, never waits.
    request._stream_consumed = True
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _read_stream(request: Request, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge
            chunks.append(chunk)
    except ClientDisconnect:
        raise BodyIncomplete from None
    return b"".join(chunks)
