"""The story of one stored event, oldest first: one builder for every reader.

``trackside events show``, ``GET /v1/events/{id}`` and the console (web/console/) tell the same
story: accepted, then the notes (duplicates, joins, replays, drops), the attempts of each
destination (with a marker where bounded attempts were not kept) and each destination's final
outcome. Each reader only formats the entries built here.
"""

from __future__ import annotations

from dataclasses import dataclass

from trackside.store import ATTEMPTS_KEPT_FIRST, AttemptRow, EventView, OutboxRow

ACCEPTED = "accepted"
ATTEMPT = "attempt"
ATTEMPTS_NOT_KEPT = "attempts_not_kept"


@dataclass(frozen=True)
class TimelineEntry:
    at: float
    #: ``accepted``, a note's kind, ``attempt``, ``attempts_not_kept`` or a final status.
    kind: str
    destination: str | None
    #: What happened; for a final outcome the row's message ("" when it has none).
    detail: str
    #: A final outcome's vendor code, as "code" or "code/subcode".
    code: str | None = None
    #: Whether the entry is a destination's final outcome (``kind`` is then its status).
    final: bool = False


def build(view: EventView) -> list[TimelineEntry]:
    """The entries of one event, ordered by time (ties keep the order above)."""
    entries = [TimelineEntry(view.accepted_at, ACCEPTED, None, f"accepted from {view.source}")]
    entries += [TimelineEntry(n.at, n.kind, n.destination, n.detail) for n in view.notes]
    not_kept = {row.destination: row.attempts_not_kept for row in view.outbox}
    seen: dict[str, int] = {}
    for attempt in view.attempts:
        destination = attempt.destination
        seen[destination] = seen.get(destination, 0) + 1
        if seen[destination] == ATTEMPTS_KEPT_FIRST + 1 and not_kept.get(destination):
            # Where the attempts between the first few and the last few would have been.
            entries.append(TimelineEntry(
                attempt.at, ATTEMPTS_NOT_KEPT, destination,
                f"… {not_kept[destination]} earlier attempts not kept"))
        entries.append(TimelineEntry(attempt.at, ATTEMPT, destination, attempt_detail(attempt)))
    for row in view.outbox:
        if row.finished_at is not None:
            entries.append(TimelineEntry(row.finished_at, row.status, row.destination,
                                         row.message or "", _code(row.code, row.subcode),
                                         final=True))
    entries.sort(key=lambda entry: entry.at)
    return entries


def attempt_detail(attempt: AttemptRow) -> str:
    parts = [attempt.verdict]
    if attempt.http_status:
        parts.append(f"HTTP {attempt.http_status}")
    code = _code(attempt.code, attempt.subcode)
    if code is not None:
        parts.append(f"code {code}")
    if attempt.message:
        parts.append(attempt.message)
    if attempt.fbtrace_id:
        parts.append(f"fbtrace_id {attempt.fbtrace_id}")
    return ", ".join(parts)


def outcome_line(row: OutboxRow) -> str:
    """One destination's final outcome on one line, e.g. ``dead [meta] code 100/33: …``."""
    return _final_line(row.status, row.destination, _code(row.code, row.subcode),
                       row.message or "")


def line(entry: TimelineEntry) -> str:
    """The entry as the CLI prints it (without its time)."""
    where = f" [{entry.destination}]" if entry.destination else ""
    if entry.final:
        return _final_line(entry.kind, entry.destination, entry.code, entry.detail)
    if entry.kind in (ATTEMPT, ATTEMPTS_NOT_KEPT):
        return f"attempt{where}: {entry.detail}"
    return f"{entry.kind}{where}: {entry.detail}"


def _final_line(status: str, destination: str | None, code: str | None, message: str) -> str:
    text = f"{status} [{destination}]"
    if code is not None:
        text += f" code {code}"
    if message:
        text += f": {message}"
    return text


def _code(code: int | None, subcode: int | None) -> str | None:
    if code is None:
        return None
    return f"{code}/{subcode}" if subcode else str(code)
