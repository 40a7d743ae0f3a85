"""A CSV file cut into records while it streams in, each with the line it starts on.

A record ends at a newline outside a quoted field. Quotes are read on bytes (``"`` is one byte
in UTF-8 and never part of a multi-byte character) the way the csv module reads them: a quote
opens a quoted field only at the start of a field, ``""`` inside one is a quote, and a quote
inside an unquoted field (``O"Brien``) is just a character, so it never swallows the lines
after it. Each record is decoded on its own: a line that is not UTF-8 is that line's error,
not the file's.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass

#: Longest record (one CSV line, or several joined by quoted newlines) taken; a longer one
#: (an unclosed quote swallowing the file, a binary blob) is refused as that line's error.
MAX_RECORD_BYTES = 64 * 1024

_BOM = b"\xef\xbb\xbf"
_QUOTE = b'"'
_QUOTE_BYTE = ord('"')
#: After these a field starts: the delimiter and the line's end.
_FIELD_ENDS = frozenset(b",\r\n")


@dataclass(frozen=True)
class Record:
    #: The physical line the record starts on (1 = the header).
    line: int
    #: The record's fields, or None when ``problem`` says why it could not be read.
    fields: list[str] | None
    problem: str | None = None


class RecordSplitter:
    """``feed(chunk)`` bytes as they arrive, then ``finish()``; both give complete records."""

    def __init__(self, max_record_bytes: int = MAX_RECORD_BYTES) -> None:
        self.max_record_bytes = max_record_bytes
        self._pending = bytearray()
        self._line = 1  # the line ``_pending`` starts on
        self._lines_in_pending = 0
        self._skipping = False  # inside a record already refused as too long
        self._first = True
        # The quoting state at the end of what was read (see the module's docstring).
        self._in_quotes = False
        self._just_closed = False
        self._at_field_start = True

    def feed(self, chunk: bytes) -> Iterator[Record]:
        start = 0
        while True:
            newline = chunk.find(b"\n", start)
            piece = chunk[start:] if newline < 0 else chunk[start:newline + 1]
            if piece:
                yield from self._add(piece, complete=newline >= 0)
            if newline < 0:
                return
            start = newline + 1

    def finish(self) -> Iterator[Record]:
        if self._skipping:
            self._skipping = False
            return
        if self._pending.strip():
            if self._in_quotes:
                yield Record(self._line, None, "a quoted field is never closed")
            else:
                yield self._record(bytes(self._pending))
        self._pending.clear()

    def _scan(self, piece: bytes) -> None:
        if not self._in_quotes and _QUOTE not in piece:  # the common case: no quotes at all
            self._just_closed = False
            self._at_field_start = piece[-1] in _FIELD_ENDS
            return
        for byte in piece:
            if self._in_quotes:
                if byte == _QUOTE_BYTE:
                    self._in_quotes, self._just_closed = False, True
                continue
            if byte == _QUOTE_BYTE:
                # "" inside a quoted field, or a quote opening one at the start of a field
                self._in_quotes = self._just_closed or self._at_field_start
                self._just_closed = self._at_field_start = False
                continue
            self._just_closed = False
            self._at_field_start = byte in _FIELD_ENDS

    def _add(self, piece: bytes, complete: bool) -> Iterator[Record]:
        self._scan(piece)
        if complete:
            self._lines_in_pending += 1
        ends = complete and not self._in_quotes
        if self._skipping:
            if ends:
                self._skipping = False
                self._next_record()
            return
        self._pending += piece
        if len(self._pending) > self.max_record_bytes:
            yield Record(self._line, None,
                         f"the record is longer than {self.max_record_bytes:,} bytes "
                         "(an unclosed quote?)")
            self._pending.clear()
            self._skipping = not ends
            if ends:
                self._next_record()
            return
        if not ends:
            return  # the line goes on, or a newline inside quotes: the record goes on
        text = bytes(self._pending)
        self._pending.clear()
        if text.strip():
            yield self._record(text)
        self._next_record()

    def _next_record(self) -> None:
        self._line += self._lines_in_pending
        self._lines_in_pending = 0
        self._in_quotes = self._just_closed = False
        self._at_field_start = True

    def _record(self, raw: bytes) -> Record:
        if self._first:
            self._first = False
            raw = raw.removeprefix(_BOM)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return Record(self._line, None, f"the line is not UTF-8 (byte {exc.start + 1})")
        if "\x00" in text:
            return Record(self._line, None, "the line holds a NUL character")
        try:
            rows = list(csv.reader([text], strict=True))
        except csv.Error as exc:
            return Record(self._line, None, f"not a CSV record: {exc}")
        return Record(self._line, rows[0] if rows else [])


def read_records(chunks: Iterator[bytes]) -> Iterator[Record]:
    """Every record of a file read in ``chunks``."""
    splitter = RecordSplitter()
    for chunk in chunks:
        yield from splitter.feed(chunk)
    yield from splitter.finish()
