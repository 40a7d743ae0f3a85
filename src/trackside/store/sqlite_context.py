"""SQLite access for browser context joins and held browser purchases (trackside.join).

A mixin of :class:`~trackside.store.sqlite.SQLiteStore`, kept in its own module so
``sqlite.py`` stays readable; the methods are part of the Store protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from trackside.context import merge_context
from trackside.events import NormalizedEvent
from trackside.store import NewEvent

# Exactly the expressions of migration 0002, so the planner uses its indexes.
_KEY_EXPRESSIONS = {
    "cart_id": "json_extract(body, '$.cart_id')",
    "customer_id": "json_extract(body, '$.customer_id')",
}


class BrowserContextQueries:
    """Needs the host class's ``_read`` and ``_write`` helpers."""

    _read: Any
    _write: Any

    def browser_events_by_key(
        self, key: Literal["cart_id", "customer_id"], value: str, since: float,
        limit: int = 10,
    ) -> list[NormalizedEvent]:
        """The newest browser events (newest first) carrying ``key == value``, accepted since."""
        expression = _KEY_EXPRESSIONS[key]
        rows = self._read(
            f"SELECT body FROM events WHERE source = 'browser' AND {expression} = ?"
            f" AND accepted_at >= ? ORDER BY {expression}, accepted_at DESC LIMIT ?",
            (value, since, limit),
        )
        return [NormalizedEvent.model_validate_json(row["body"]) for row in rows]

    def has_expired_holds(self, destinations: Sequence[str], hold_until: float,
                          accepted_before: float) -> bool:
        """Whether any held row's event was accepted before ``accepted_before`` (cheap read)."""
        for destination in destinations:
            rows = self._read(
                "SELECT 1 FROM outbox o JOIN events e ON e.pk = o.event_pk"
                " WHERE o.destination = ? AND o.status = 'pending' AND o.next_attempt_at >= ?"
                " AND e.accepted_at < ? LIMIT 1",
                (destination, hold_until, accepted_before),
            )
            if rows:
                return True
        return False

    def finish_expired_holds(self, destinations: Sequence[str], hold_until: float,
                             accepted_before: float, reason: str, now: float) -> int:
        """Held rows whose join window is over end ``suppressed`` with ``reason``."""
        finished = 0
        with self._write() as conn:
            for destination in destinations:
                cursor = conn.execute(
                    "UPDATE outbox SET status = 'suppressed', message = ?, finished_at = ?,"
                    " next_attempt_at = NULL WHERE destination = ? AND status = 'pending'"
                    " AND next_attempt_at >= ?"
                    " AND event_pk IN (SELECT pk FROM events WHERE accepted_at < ?)",
                    (reason, now, destination, hold_until, accepted_before),
                )
                finished += cursor.rowcount
        return finished

    def confirm_held_purchase(
        self, record: NewEvent, unconfirmed_flag: str, seen_flag: str,
        hold_until: float, reason: str, now: float, lends_since: float,
    ) -> list[str] | None:
        """Replace a held browser purchase by the store's copy of the same order.

        The store's order (value, items, hashed customer data) wins. A browser copy accepted at
        or after ``lends_since`` (within the join window) lends its context where the store's
        copy lacks it: fbp, fbc, IP, user agent, GA ids, and consent, combined to the most
        restrictive; its held rows become due now, rows already finished as unconfirmed are due
        again. An older browser copy lends nothing: the event becomes the store's copy, and
        every row the browser copy planned and never sent is planned again from the store's
        copy (``record.outbox``), due now. Returns what the browser's copy added, or None when
        the stored event is not a held browser purchase (an ordinary duplicate, or none).
        """
        incoming = record.event
        # Held purchases are stored as the browser's (``source``); the store's re-sends are not.
        query = ("SELECT pk, body, accepted_at FROM events WHERE event_name = ? AND event_id = ?"
                 " AND source = 'browser'")
        # A read first: almost every store Purchase has no held browser copy.
        found = self._read(query, (incoming.event_name, incoming.event_id))
        if not found or unconfirmed_flag not in NormalizedEvent.model_validate_json(
                found[0]["body"]).flags:
            return None
        with self._write() as conn:
            row = conn.execute(query, (incoming.event_name, incoming.event_id)).fetchone()
            stored = None if row is None else NormalizedEvent.model_validate_json(row["body"])
            if stored is None or unconfirmed_flag not in stored.flags:
                return None
            lends = row["accepted_at"] >= lends_since
            merged, added = merge_context(incoming, stored) if lends else (incoming, [])
            dropped = (unconfirmed_flag, "no_customer_information")
            kept = [f for f in stored.flags if f not in dropped]
            flags = list(dict.fromkeys([*merged.flags, *kept, seen_flag]))
            merged = merged.model_copy(update={"flags": flags})
            conn.execute(
                "UPDATE events SET body = ?, source = ? WHERE pk = ?",
                (merged.model_dump_json(exclude_defaults=True), record.source, row["pk"]),
            )
            if lends:
                conn.execute(
                    "UPDATE outbox SET next_attempt_at = ? WHERE event_pk = ?"
                    " AND status = 'pending' AND next_attempt_at >= ?",
                    (now, row["pk"], hold_until),
                )
                conn.execute(
                    "UPDATE outbox SET status = 'pending', next_attempt_at = ?, finished_at = NULL,"
                    " message = NULL WHERE event_pk = ? AND status = 'suppressed' AND message = ?",
                    (now, row["pk"], reason),
                )
                detail = (f"confirmed by {record.source}: the store's order replaces the "
                          f"browser's; browser context kept: "
                          f"{', '.join(added) if added else 'nothing new'}")
            else:
                # Held rows were never due, so none was ever attempted or sent.
                conn.executemany(
                    "UPDATE outbox SET status = ?, next_attempt_at = ?, message = ?,"
                    " finished_at = ? WHERE event_pk = ? AND destination = ? AND attempts = 0"
                    " AND sent IS NULL AND status IN ('pending', 'suppressed')",
                    [(plan.status, now if plan.status == "pending" else None, plan.reason,
                      None if plan.status == "pending" else now, row["pk"], plan.destination)
                     for plan in record.outbox],
                )
                detail = (f"confirmed by {record.source}: the browser's copy was not used: it "
                          f"arrived {now - row['accepted_at']:.0f} s earlier, outside the join "
                          "window (TRACKSIDE_JOIN_WINDOW_S), and an unconfirmed browser purchase "
                          "lends nothing (fbp, fbc, IP, user agent, consent, GA ids); sent on "
                          "the store's own data")
            conn.execute(
                "INSERT INTO notes (event_pk, at, kind, detail) VALUES (?, ?, 'confirmed', ?)",
                (row["pk"], now, detail),
            )
        return added

    def add_event_notes(self, notes: Sequence[tuple[str, str, str, str]],
                        now: float) -> None:
        """Notes keyed by (event_name, event_id, kind, detail), in one transaction."""
        if not notes:
            return
        with self._write() as conn:
            conn.executemany(
                "INSERT INTO notes (event_pk, at, kind, detail)"
                " SELECT pk, ?, ?, ? FROM events WHERE event_name = ? AND event_id = ?",
                [(now, kind, detail, name, event_id) for name, event_id, kind, detail in notes],
            )
