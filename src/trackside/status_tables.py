"""`trackside status`'s tables, made to fit the terminal (80 columns included).

The outbox table has one row per outcome and one column per destination: a gateway has a few
destinations and seven outcomes, so this way round the numbers keep their width however big
they get. Counts are never cut; a long destination name is (with an ellipsis), and when the
destinations do not fit side by side they go on in a further table.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from trackside.store import STATUSES, DestinationCounts, WebhookCount
from trackside.terminal import safe

#: What rich draws around each column: a space either side and the border (plus the table's
#: left border once).
_COLUMN_FRAME = 3
_OLDEST = "oldest pending"
#: A destination's name is cut (with an ellipsis) beyond this many characters.
_MAX_NAME = 16


def age(seconds: float) -> str:
    """A duration as a short age: 45s, 12m, 5h, 3d."""
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def outbox_tables(counts: Sequence[DestinationCounts], now: float,
                  width: int) -> list[Table]:
    """The outbox by destination, in as many tables as it takes to fit `width` columns."""
    cells = {
        entry.destination: [str(entry.counts.get(status, 0)) for status in STATUSES]
        + ["-" if entry.oldest_pending_accepted_at is None
           else age(now - entry.oldest_pending_accepted_at)]
        for entry in counts
    }
    labels = [str(status) for status in STATUSES] + [_OLDEST]
    label_width = max(map(len, labels))
    widths = {name: max(min(len(safe(name)), _MAX_NAME), *map(len, values))
              for name, values in cells.items()}
    groups: list[list[str]] = [[]]
    used = 1 + label_width + _COLUMN_FRAME
    for name in cells:
        if groups[-1] and used + widths[name] + _COLUMN_FRAME > width:
            groups.append([])
            used = 1 + label_width + _COLUMN_FRAME
        groups[-1].append(name)
        used += widths[name] + _COLUMN_FRAME
    tables = []
    for index, names in enumerate(groups):
        part = f" ({index + 1}/{len(groups)})" if len(groups) > 1 else ""
        table = Table(title="Outbox by destination" + part)
        table.add_column("outcome", no_wrap=True, width=label_width)
        for name in names:
            table.add_column(safe(name), justify="right", no_wrap=True, overflow="ellipsis",
                             width=widths[name])
        for row, label in enumerate(labels):
            table.add_row(label, *(cells[name][row] for name in names))
        tables.append(table)
    return tables


def webhook_table(webhooks: Sequence[WebhookCount], now: float, width: int) -> Table:
    """Platform webhook deliveries: converted, and ignored by reason (an authentic delivery
    that sent no event was answered 200 so the platform would not retry it)."""
    rows = [(safe(entry.source), safe(entry.outcome), safe(entry.reason or "-"),
             str(entry.count), age(now - entry.last_received_at) + " ago") for entry in webhooks]
    headers = ("source", "outcome", "reason", "deliveries", "last")
    natural = [max(len(header), *(len(row[i]) for row in rows))
               for i, header in enumerate(headers)]
    # The outcome and the figures keep their width; source and reason share what is left
    # (cut with an ellipsis), the reason getting the larger part.
    room = width - 1 - _COLUMN_FRAME * len(headers) - natural[1] - natural[3] - natural[4]
    source = min(natural[0], max(len("source"), room // 3))
    reason = min(natural[2], max(len("reason"), room - source))
    table = Table(title="Webhook deliveries")
    for header, column_width in zip(headers, (source, natural[1], reason, *natural[3:]),
                                    strict=True):
        table.add_column(header, justify="right" if header == "deliveries" else "left",
                         no_wrap=True, overflow="ellipsis", width=column_width)
    for row in rows:
        table.add_row(*row)
    return table
