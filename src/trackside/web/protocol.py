"""uvicorn's httptools protocol with a bound on the request head: 431 past 64 KB.

httptools (llhttp) has no header size limit of its own and uvicorn adds none: a client could
send 50 MB of headers to an unauthenticated endpoint and the server would buffer all of it
before the app ever runs. h11 has a bound (``h11_max_incomplete_event_size``) but answers it
with a plain 400 and is slower; so this subclass keeps httptools and counts the bytes
received while a request's head (request line and headers) is incomplete. Past
``MAX_HEADER_BYTES`` it answers 431 and closes the connection (after a short lingering close
that discards what still arrives), so memory per connection stays under the limit plus one
read (asyncio reads at most 256 KiB at a time).

``trackside serve`` and ``trackside demo`` run uvicorn with ``http=HeaderLimitedProtocol``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from trackside.web.errors import error_body

log = logging.getLogger("trackside.http")

#: Request line plus headers, in bytes (docs/api.md "Limits").
MAX_HEADER_BYTES = 64 * 1024
#: How long a refused connection keeps reading (and discarding) so the client sees the 431.
LINGER_S = 2.0


def _response_431(limit: int) -> bytes:
    body = json.dumps(error_body(431, f"The request headers are over the limit of {limit} "
                                      "bytes")).encode()
    return (b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: application/json\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n"
            b"connection: close\r\n\r\n" + body)


class HeaderLimitedProtocol(HttpToolsProtocol):
    max_header_bytes = MAX_HEADER_BYTES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0
        self._in_head = True
        self._refused = False

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # discarded while lingering
        if self._in_head:
            self._head_bytes += len(data)
        # The parser runs first: a chunk that completes a small head and carries a large body
        # leaves the head (on_headers_complete) and is not counted against it.
        super().data_received(data)
        if self.transport.is_closing():  # uvicorn answered it already (400: unparseable)
            return
        if self._in_head and self._head_bytes > self.max_header_bytes:
            self._refused = True  # a head still incomplete past the limit
        if self._refused:
            self._refuse()

    def _refuse(self) -> None:
        log.warning("Request refused: headers over %d bytes.", self.max_header_bytes)
        self.transport.write(_response_431(self.max_header_bytes))
        if not self.transport.can_write_eof():
            self.transport.close()
            return
        # Lingering close: a client still sending would get a reset on an immediate close,
        # and a reset discards the 431 before it reads it. Half-close, keep discarding what
        # arrives (data_received ignores it), close for good after LINGER_S.
        self.transport.write_eof()
        asyncio.get_running_loop().call_later(LINGER_S, self.transport.close)

    def on_headers_complete(self) -> None:
        if self._refused:
            return
        self._in_head = False
        # A head that arrived whole in one read: its size as parsed (request target, and
        # "name: value\r\n" per header).
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > self.max_header_bytes:
            self._refused = True  # answered by data_received; the app never sees it
            return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        super().on_message_complete()
        # The next request on this keep-alive connection starts a new head.
        self._in_head = True
        self._head_bytes = 0
