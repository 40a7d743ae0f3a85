"""Rows of an offline-sales CSV in batches through the pipeline, and the import's summary.

Each batch of :data:`BATCH_ROWS` good rows is one ``Pipeline.accept`` (CLI) or one
``Committer.accept`` (HTTP): one store transaction, one fsync, never one per row. A batch is
durable before the next is read, so a run killed halfway has stored whole batches only; run
again, those rows come back ``duplicate`` (their event ids are stored) and the rest are queued.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from trackside.events import Event
from trackside.pipeline import AcceptResult, Pipeline
from trackside.sources.offline.columns import Columns, ColumnsError, resolve
from trackside.sources.offline.mapping import (
    SOURCE,
    LineError,
    OfflineActionSource,
    row_event,
)
from trackside.sources.offline.records import Record, RecordSplitter

#: Good rows per store transaction: large enough that the fsync is paid rarely, small enough
#: that a killed run loses little work and a progress bar moves.
BATCH_ROWS = 500
#: Per-line errors kept in the summary; beyond, they are counted (``errors_not_listed``).
MAX_ERRORS_LISTED = 1000


@dataclass
class ImportSummary:
    rows: int = 0
    queued: int = 0
    duplicate: int = 0
    rejected: int = 0
    errors: list[LineError] = field(default_factory=list)
    errors_not_listed: int = 0
    ignored_columns: tuple[str, ...] = ()
    dry_run: bool = False

    def refuse(self, errors: Sequence[LineError]) -> None:
        self.rejected += 1
        for error in errors:
            if len(self.errors) < MAX_ERRORS_LISTED:
                self.errors.append(error)
            else:
                self.errors_not_listed += 1

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rows": self.rows, "queued": self.queued, "duplicate": self.duplicate,
            "rejected": self.rejected, "errors": [e.as_dict() for e in self.errors],
        }
        if self.errors_not_listed:
            out["errors_not_listed"] = self.errors_not_listed
        if self.ignored_columns:
            out["ignored_columns"] = list(self.ignored_columns)
        if self.dry_run:
            out["dry_run"] = True
        return out


@dataclass
class Batch:
    events: list[Event]
    lines: list[int]


class OfflineImport:
    """The rows of one file: ``batches(records)`` gives the good rows in batches and counts
    the bad ones; ``count(batch, results)`` adds what the store said of each good row."""

    def __init__(self, renames: dict[str, str], action_source: OfflineActionSource,
                 max_event_bytes: int, *, dry_run: bool = False,
                 batch_rows: int = BATCH_ROWS) -> None:
        self.renames = renames
        self.action_source = action_source
        self.max_event_bytes = max_event_bytes
        self.batch_rows = batch_rows
        self.summary = ImportSummary(dry_run=dry_run)
        self.columns: Columns | None = None
        self._events: list[Event] = []
        self._lines: list[int] = []

    def take(self, record: Record) -> Batch | None:
        """Read one record; a full batch when this record completes one."""
        if self.columns is None:
            if record.fields is None:
                raise ColumnsError(f"line {record.line} (the header): {record.problem}")
            self.columns = resolve(record.fields, self.renames)
            self.summary.ignored_columns = self.columns.ignored
            return None
        self.summary.rows += 1
        if record.fields is None:
            self.summary.refuse([LineError(record.line, "line", record.problem or "unreadable")])
            return None
        parsed = row_event(record.line, record.fields, self.columns, self.action_source,
                           self.max_event_bytes)
        if isinstance(parsed, list):
            self.summary.refuse(parsed)
            return None
        self._events.append(parsed)
        self._lines.append(record.line)
        return self.flush() if len(self._events) >= self.batch_rows else None

    def flush(self) -> Batch | None:
        """The good rows not yet handed out (at the end of the file)."""
        if not self._events:
            return None
        batch = Batch(self._events, self._lines)
        self._events, self._lines = [], []
        return batch

    def finish(self) -> None:
        if self.columns is None:
            raise ColumnsError("the file is empty: it needs a header line and rows")

    def count(self, batch: Batch, results: Sequence[AcceptResult]) -> None:
        for line, result in zip(batch.lines, results, strict=True):
            if result.status == "queued":
                self.summary.queued += 1
            elif result.status == "duplicate":
                self.summary.duplicate += 1
            else:
                self.summary.refuse([LineError(line, _within_event(e.field), e.reason)
                                     for e in result.errors]
                                    or [LineError(line, "line", "rejected")])


def _within_event(field: str) -> str:
    """``events[3].event_time`` (the event's place in its batch) → ``event_time``: a line's
    errors are named by the line, the batch means nothing to whoever reads them."""
    if field.startswith("events["):
        _, _, rest = field.partition(".")
        return rest or "line"
    return field


def import_file(chunks: Iterable[bytes], job: OfflineImport, pipeline: Pipeline,
                progress: Callable[[int, ImportSummary], None] | None = None) -> ImportSummary:
    """The whole import, synchronously (the CLI): ``progress(bytes_read, summary)`` after
    every batch. A dry run prepares every batch (parse, normalize, plan) and stores nothing."""
    splitter = RecordSplitter()
    read = 0

    def handle(batch: Batch | None) -> None:
        if batch is None:
            return
        if job.summary.dry_run:
            # Every check but the store's (rejections included, line by line).
            job.count(batch, pipeline.prepare(batch.events, SOURCE).results)
        else:
            job.count(batch, pipeline.accept(batch.events, SOURCE))
        if progress is not None:
            progress(read, job.summary)

    for chunk in chunks:
        read += len(chunk)
        for record in splitter.feed(chunk):
            handle(job.take(record))
    for record in splitter.finish():
        handle(job.take(record))
    job.finish()
    handle(job.flush())
    return job.summary


def file_chunks(path: str, size: int = 1 << 20) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while chunk := handle.read(size):
            yield chunk
