"""Limits at the edge: what one raw event may hold before the event model even looks at it.

Every source hands raw events to ``events.parse_event`` (directly or through
``Pipeline.accept``), which calls :func:`check_event` first. An event over a limit is rejected
with the field path and the limit (``custom_data.note: longer than 4096 characters``); nothing is
truncated, and the other events of its batch are judged on their own (docs/api.md "Limits").

The walk runs on the client's own shape (``user_data.em``, ``custom_data.contents``), so the
paths name what the client sent. It stops at ``MAX_DEPTH``, so it never recurses further.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson

#: Default of TRACKSIDE_MAX_EVENT_BYTES (config.py): one event serialized as compact JSON.
DEFAULT_MAX_EVENT_BYTES = 65536
#: Any string (custom_data's nested values and keys included) unless its field says less.
MAX_STRING_CHARS = 4096
#: event_source_url, referrer_url: the de-facto URL limit of browsers and CDNs.
MAX_URL_CHARS = 2048
#: Values per identity key (email, phone, … as lists): a customer has a few, not thousands.
MAX_IDENTITY_VALUES = 20
#: Items of any list (order.items, custom_data.contents, content_ids…): Meta's 1,000 per call.
MAX_LIST_ITEMS = 1000
#: Levels of nesting below the event object (custom_data.contents[0].id is 3).
MAX_DEPTH = 10
#: Integers must fit in 64 bits: the store, Meta and GA4 read numbers as int64 or double.
MAX_INTEGER = 2**63 - 1

_URL_FIELDS = frozenset({"event_source_url", "referrer_url"})
_IDENTITY_CONTAINERS = frozenset({"user", "user_data"})
#: A lone surrogate (JSON's "\ud800" escape): not valid Unicode, and no UTF-8 store takes it.
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
#: C0 controls, DEL, C1 controls and Unicode's line and paragraph separators: none belongs in
#: an identifier, and each can rewrite a terminal or split a log line.
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def serialized_size(raw: Any) -> int:
    """Bytes of ``raw`` as compact UTF-8 JSON (a lone surrogate counts as its 3 bytes)."""
    text = json.dumps(raw, ensure_ascii=False, separators=(",", ":"), default=str)
    return len(text.encode("utf-8", "surrogatepass"))


def check_event(raw: dict[str, Any], max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
                ) -> list[tuple[str, str]]:
    """``(field path, reason)`` for every limit ``raw`` breaks; empty when it keeps them all."""
    # Nearly every event keeps every limit: a walk that builds no paths says so in a quarter
    # of the time (bench/stages.py); anything it is unsure of takes the walk that names paths.
    if _keeps_limits(raw, max_event_bytes):
        return []
    return event_problems(raw, max_event_bytes)


def event_problems(raw: dict[str, Any], max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
                   ) -> list[tuple[str, str]]:
    """check_event's general path: every problem, each with its field path."""
    problems: list[tuple[str, str]] = []
    for key, value in raw.items():
        _check_key(key, "", problems)
        _check(value, _join("", key), 1, _limit_of(key), key in _IDENTITY_CONTAINERS, problems)
    try:
        size = serialized_size(raw)
    except (RecursionError, ValueError):  # too deep for the encoder; the walk said where
        return problems or [("(event)", f"is nested deeper than {MAX_DEPTH} levels")]
    if size > max_event_bytes:
        problems.append(("(event)", f"is {size} bytes as JSON, over the limit of "
                                    f"{max_event_bytes} bytes (TRACKSIDE_MAX_EVENT_BYTES)"))
    return problems


def control_character_reason(value: str) -> str | None:
    """Why ``value`` cannot be an identifier, or None when it can."""
    if CONTROL_CHARACTERS.search(value):
        return ("must not contain control characters (C0, C1, DEL) or line/paragraph "
                "separators")
    return None


def _limit_of(key: str) -> int:
    return MAX_URL_CHARS if key in _URL_FIELDS else MAX_STRING_CHARS


def _join(path: str, key: object) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _check_key(key: object, path: str, problems: list[tuple[str, str]]) -> None:
    if not isinstance(key, str):
        return
    where = _join(path, "(key)") if path else "(key)"
    if len(key) > MAX_STRING_CHARS:
        problems.append((where, f"a key is longer than {MAX_STRING_CHARS} characters"))
    elif LONE_SURROGATE.search(key):
        problems.append((where, "a key is not valid Unicode (lone surrogate)"))


def _check(value: Any, path: str, depth: int, max_chars: int, identity: bool,
           problems: list[tuple[str, str]]) -> None:
    if isinstance(value, str):
        if len(value) > max_chars:
            problems.append((path, f"longer than {max_chars} characters"))
        elif LONE_SURROGATE.search(value):
            problems.append((path, "is not valid Unicode (lone surrogate)"))
        return
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            problems.append((path, "must be a finite number"))
        return
    if isinstance(value, int):
        if abs(value) > MAX_INTEGER:
            problems.append((path, "is larger than a 64-bit integer"))
        return
    if depth >= MAX_DEPTH and isinstance(value, (dict, list)):
        problems.append((path, f"is nested deeper than {MAX_DEPTH} levels"))
        return
    if isinstance(value, dict):
        for key, item in value.items():
            _check_key(key, path, problems)
            # Identity keys are one level down: user.email, user_data.em.
            _check(item, _join(path, key), depth + 1, max_chars, identity and depth == 1,
                   problems)
        return
    if isinstance(value, list):
        limit = MAX_IDENTITY_VALUES if identity and depth == 2 else MAX_LIST_ITEMS
        if len(value) > limit:
            problems.append((path, f"has {len(value)} values, more than {limit}"))
            return
        for index, item in enumerate(value):
            _check(item, _join(path, index), depth + 1, max_chars, False, problems)


# -- the fast path -------------------------------------------------------------------------------


def _keeps_limits(raw: dict[str, Any], max_event_bytes: int) -> bool:
    """True only when :func:`event_problems` would find nothing (tests/unit/test_limits_fast.py
    checks the two against each other); False means "let the general walk decide".

    orjson refuses what the walk would flag as a lone surrogate (in a key or a value) and keys
    that are not strings, so the walk below does not look for them. Its size is the event's
    compact JSON but for number spellings (``1e16`` for ``1e+16``), a few bytes: an event under
    half the limit is under it either way; a bigger one is measured exactly.
    """
    try:
        size = len(orjson.dumps(raw))
    except (orjson.JSONEncodeError, TypeError):
        return False
    if size * 2 > max_event_bytes:
        return False
    # A string has no more characters than its JSON has bytes: in an event no bigger than the
    # shortest string limit, no string or key can be over one, and the walk skips measuring.
    unbounded = size > MAX_URL_CHARS
    for key, value in raw.items():
        kind = type(value)
        if kind is str:
            if unbounded and len(value) > (MAX_URL_CHARS if key in _URL_FIELDS
                                            else MAX_STRING_CHARS):
                return False
        elif kind is dict or kind is list:
            if not _fast_ok(value, 1, MAX_URL_CHARS if key in _URL_FIELDS else MAX_STRING_CHARS,
                            key in _IDENTITY_CONTAINERS, unbounded):
                return False
        elif not _scalar_ok(value, kind):
            return False
        if unbounded and len(key) > MAX_STRING_CHARS:
            return False
    return True


def _scalar_ok(value: Any, kind: type) -> bool:
    if kind is bool or value is None:
        return True
    if kind is float:
        return math.isfinite(value)
    if kind is int:
        return bool(-MAX_INTEGER <= value <= MAX_INTEGER)
    return False  # subclasses, tuples, other types: the general walk knows what they mean


def _fast_ok(value: dict[Any, Any] | list[Any], depth: int, max_chars: int, identity: bool,
             unbounded: bool) -> bool:
    """A container's values, scalars checked in the loop: a call per value was most of the
    walk's time."""
    if depth >= MAX_DEPTH:
        return False
    if type(value) is dict:
        child_identity = identity and depth == 1
        for key, item in value.items():
            kind = type(item)
            if kind is str:
                if unbounded and len(item) > max_chars:
                    return False
            elif kind is dict or kind is list:
                if not _fast_ok(item, depth + 1, max_chars, child_identity, unbounded):
                    return False
            elif not _scalar_ok(item, kind):
                return False
            if unbounded and len(key) > MAX_STRING_CHARS:
                return False
        return True
    if len(value) > (MAX_IDENTITY_VALUES if identity and depth == 2 else MAX_LIST_ITEMS):
        return False
    for item in value:
        kind = type(item)
        if kind is str:
            if unbounded and len(item) > max_chars:
                return False
        elif kind is dict or kind is list:
            if not _fast_ok(item, depth + 1, max_chars, False, unbounded):
                return False
        elif not _scalar_ok(item, kind):
            return False
    return True
