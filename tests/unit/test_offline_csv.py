"""The offline-sales CSV reader: records cut wherever the chunks end, line numbers, one bad
line never hiding the next, the header and --map rules (sources/offline/)."""

from __future__ import annotations

import pytest

from trackside.sources.offline.columns import ColumnsError, parse_maps, resolve
from trackside.sources.offline.records import Record, RecordSplitter, read_records

FILE = (b"\xef\xbb\xbfreceipt_id,note\r\n"
        b"R1,plain\r\n"
        b'R2,"two\r\nlines, and a ""quote"""\r\n'
        b"\r\n"
        b"R3,\xff\xfe\r\n"
        b"R4,last")


def records(data: bytes, size: int) -> list[Record]:
    return list(read_records(iter([data[i:i + size] for i in range(0, len(data), size)])))


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 10_000])
def test_records_and_their_lines_whatever_the_chunks(size: int) -> None:
    assert records(FILE, size) == [
        Record(1, ["receipt_id", "note"]),
        Record(2, ["R1", "plain"]),
        Record(3, ["R2", 'two\r\nlines, and a "quote"']),
        Record(6, None, "the line is not UTF-8 (byte 4)"),
        Record(7, ["R4", "last"]),
    ]


def test_an_unclosed_quote_is_its_line_error_and_a_long_record_is_cut() -> None:
    assert records(b'h\n"open\nstill open', 4)[-1] == Record(2, None,
                                                             "a quoted field is never closed")
    splitter = RecordSplitter(max_record_bytes=10)
    got = list(splitter.feed(b"h\n" + b"x" * 50 + b"\nR9\n")) + list(splitter.finish())
    assert [r.line for r in got] == [1, 2, 3]
    assert got[1].fields is None and "longer than 10 bytes" in (got[1].problem or "")
    assert got[2] == Record(3, ["R9"])


@pytest.mark.parametrize("size", [1, 5, 1000])
def test_a_quote_inside_an_unquoted_field_is_a_character(size: int) -> None:
    data = b'h,name\nR1,O"Brien\nR2,"Quoted ""x"", fine"\nR3,"ab"c\nR4,last\n'
    assert records(data, size) == [
        Record(1, ["h", "name"]),
        Record(2, ["R1", 'O"Brien']),
        Record(3, ["R2", 'Quoted "x", fine']),
        Record(4, None, "not a CSV record: ',' expected after '\"'"),
        Record(5, ["R4", "last"]),
    ]


def test_header_names_fold_case_and_maps_rename() -> None:
    columns = resolve([" Ticket ", "EVENT_TIME", "value", "currency", "shoe"],
                      parse_maps(["ticket=receipt_id"]))
    assert columns.positions["receipt_id"] == (0, "Ticket")
    assert columns.positions["event_time"] == (1, "EVENT_TIME")
    assert columns.ignored == ("shoe",)


@pytest.mark.parametrize(("maps", "message"), [
    (["ticket"], "COLUMN=field"),
    (["a=shoe_size"], "not a field"),
    (["a=email", "A=phone"], "mapped twice"),
])
def test_bad_maps(maps: list[str], message: str) -> None:
    with pytest.raises(ColumnsError, match=message):
        parse_maps(maps)


def test_infinite_amounts_are_refused() -> None:
    from trackside.sources.offline.mapping import row_event

    columns = resolve(["receipt_id", "event_time", "value", "currency", "email"], {})
    for value in ("inf", "-1", "1e400"):
        errors = row_event(2, ["R1", "2026-11-30T10:00:00Z", value, "EUR", "a@x.fr"], columns,
                           "physical_store", 65536)
        assert isinstance(errors, list) and errors[0].field == "value", value
