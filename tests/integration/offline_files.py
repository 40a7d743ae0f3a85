"""Offline-sales CSV files for the import tests: good rows, and bad lines of every kind at
known line numbers (some good rows hold a quoted note over two lines, so line numbers are not
row numbers)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

HEADER = "receipt_id,event_time,value,currency,email,phone,first_name,last_name,zip,country," \
         "item_number,note"

#: (what is wrong, the row's text with {when} for a good event time, the column it names)
BAD_ROWS: list[tuple[str, bytes, str]] = [
    ("not a number", b"B1,{when},abc,EUR,b1@example.com,,,,,,,", "value"),
    ("negative", b"B2,{when},-5,EUR,b2@example.com,,,,,,,", "value"),
    ("currency of 4 letters", b"B3,{when},5,EURO,b3@example.com,,,,,,,", "currency"),
    ("no currency", b"B4,{when},5,,b4@example.com,,,,,,,", "currency"),
    ("no receipt", b",{when},5,EUR,b5@example.com,,,,,,,", "receipt_id"),
    ("a word for a time", b"B6,yesterday,5,EUR,b6@example.com,,,,,,,", "event_time"),
    ("no time", b"B7,,5,EUR,b7@example.com,,,,,,,", "event_time"),
    ("no customer", b"B8,{when},5,EUR,,,,,75001,fr,,", "email"),
    ("too few values", b"B9,{when},5,EUR,b9@example.com", "line"),
    ("too many values", b"B10,{when},5,EUR,b10@example.com,,,,,,,,extra", "line"),
    ("not UTF-8", b"B11,{when},5,EUR,b11\xff@example.com,,,,,,,", "line"),
    ("a control character", b"B\x0112,{when},5,EUR,b12@example.com,,,,,,,", "receipt_id"),
    ("NaN", b"B13,{when},NaN,EUR,b13@example.com,,,,,,,", "value"),
    ("in the future", b"B14,2099-01-01T00:00:00Z,5,EUR,b14@example.com,,,,,,,", "event_time"),
    ("negative time", b"B15,-5,5,EUR,b15@example.com,,,,,,,", "event_time"),
    ("digits for a currency", b"B16,{when},5,12A,b16@example.com,,,,,,,", "currency"),
    ("a receipt id of 300 characters",
     b"B" + b"7" * 300 + b",{when},5,EUR,b17@example.com,,,,,,,", "receipt_id"),
    ("a NUL character", b"B18,{when},5,EUR,b18\x00@example.com,,,,,,,", "line"),
    ("a decimal comma", b'B19,{when},"1,5",EUR,b19@example.com,,,,,,,', "value"),
    ("month 13", b"B20,2026-13-45T00:00:00Z,5,EUR,b20@example.com,,,,,,,", "event_time"),
]


@dataclass
class SalesFile:
    path: Path
    good: int = 0
    #: line number → the column its error names
    bad_lines: dict[int, str] = field(default_factory=dict)
    event_ids: list[str] = field(default_factory=list)


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_sales(path: Path, rows: int = 10_000, *, bad: bool = True,
                age_s: float = 2 * 86400, prefix: str = "R") -> SalesFile:
    """``rows`` lines after the header, 20 of them bad (spread through the file)."""
    when = iso(time.time() - age_s).encode()
    sales = SalesFile(path)
    bad_at = {rows * (k + 1) // 21: k for k in range(len(BAD_ROWS))} if bad else {}
    line = 2
    with path.open("wb") as out:
        out.write(HEADER.encode() + b"\r\n")
        for index in range(rows):
            if index in bad_at:
                _, text, column = BAD_ROWS[bad_at[index]]
                out.write(text.replace(b"{when}", when) + b"\r\n")
                sales.bad_lines[line] = column
                line += 1
                continue
            receipt = f"{prefix}{index // 2}"
            item = str(index % 2 + 1)  # two lines per receipt: item numbers 1 and 2
            note = '"two\nlines"' if index % 997 == 0 else "plain"
            out.write(
                f"{receipt},{when.decode()},{10 + index % 90}.50,EUR,customer{index}@example.com,"
                f"+33 6 12 34 {index % 100:02d} {index // 100 % 100:02d},Jeanne,Dupont,75001,"
                f"fr,{item},{note}\r\n".encode())
            sales.good += 1
            sales.event_ids.append(f"offline:{receipt}:{item}")
            line += 2 if "\n" in note else 1
    return sales
