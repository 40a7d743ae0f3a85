"""limits.check_event's fast path against its general path (the walk that names the fields).

The fast path may only ever say "keeps every limit" when the general walk finds nothing; when
it is unsure it hands over, so check_event's answer is always the general one. Hypothesis
draws events around every limit: long strings and keys, lone surrogates, non-finite floats,
huge integers, long identity lists, deep nesting and big bodies.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from trackside import limits

_TEXT = st.one_of(
    st.text(max_size=8),
    st.sampled_from(["\ud800", "a\udfffb", "x" * limits.MAX_STRING_CHARS,
                     "x" * (limits.MAX_STRING_CHARS + 1), "u" * limits.MAX_URL_CHARS,
                     "u" * (limits.MAX_URL_CHARS + 1)]),
)
_NUMBER = st.one_of(
    st.integers(min_value=-(2**65), max_value=2**65),
    st.sampled_from([limits.MAX_INTEGER, -limits.MAX_INTEGER, limits.MAX_INTEGER + 1,
                     -limits.MAX_INTEGER - 1, 2**64 - 1]),
    st.floats(allow_nan=True, allow_infinity=True),
)
_SCALAR = st.one_of(st.none(), st.booleans(), _NUMBER, _TEXT)
_KEY = st.one_of(st.text(max_size=6), st.sampled_from(
    ["email", "phone", "\udc00", "k" * (limits.MAX_STRING_CHARS + 1)]))
_VALUE = st.recursive(
    _SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(_KEY, inner, max_size=4),
        # At and over the identity and list caps (of scalars: lists of such lists would
        # hold a million values).
        st.builds(lambda item, n: [item] * n, _SCALAR,
                  st.sampled_from([limits.MAX_IDENTITY_VALUES, limits.MAX_IDENTITY_VALUES + 1,
                                   limits.MAX_LIST_ITEMS + 1])),
    ),
    max_leaves=12,
)
_TOP_KEYS = st.sampled_from(["event_name", "event_source_url", "referrer_url", "user",
                             "user_data", "custom_data", "order", "other"])


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"k": value} if depth % 2 else [value]
    return value


_EVENT = st.one_of(
    st.dictionaries(_TOP_KEYS, _VALUE, max_size=5),
    st.builds(lambda key, depth: {key: _nested(depth)}, _TOP_KEYS, st.integers(1, 14)),
)


@settings(max_examples=400, deadline=None)
@given(_EVENT, st.sampled_from([256, 4096, limits.DEFAULT_MAX_EVENT_BYTES]))
def test_the_fast_path_says_ok_only_when_the_general_walk_finds_nothing(
        raw: dict[str, Any], max_bytes: int) -> None:
    general = limits.event_problems(raw, max_bytes)
    if limits._keeps_limits(raw, max_bytes):
        assert general == []
    assert limits.check_event(raw, max_bytes) == general


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_TOP_KEYS, st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**63) + 1, 2**63 - 1),
              st.floats(allow_nan=False, allow_infinity=False),
              st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=6), inner, max_size=4)),
    max_leaves=10), max_size=5))
def test_an_ordinary_event_takes_the_fast_path(raw: dict[str, Any]) -> None:
    """Events within every limit and well under the size (what clients send) never pay for
    the general walk: otherwise the fast path would be dead code."""
    assert limits.event_problems(raw) == []
    assert limits._keeps_limits(raw, limits.DEFAULT_MAX_EVENT_BYTES)


def test_a_body_near_the_size_limit_is_measured_exactly() -> None:
    # Python spells 1e16 as 1e+16: one byte per number more than orjson does.
    raw = {"custom_data": {"values": [1e16] * 150}}
    exact = len(json.dumps(raw, separators=(",", ":")))
    assert limits.check_event(raw, exact) == []
    assert limits.check_event(raw, exact - 1)[0][0] == "(event)"


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["event_source_url", "referrer_url", "event_name", "custom_data",
                        "user", "order"]),
       st.integers(limits.MAX_URL_CHARS - 40, limits.MAX_URL_CHARS + 40),
       st.sampled_from(["x", "é", "\u2028", "\x00", '"']), st.booleans())
def test_strings_around_the_shortest_limit_are_measured(key: str, length: int, char: str,
                                                        as_key: bool) -> None:
    """An event no bigger than the URL limit skips measuring strings; one a byte bigger
    must not, whether the long string is a value, a nested value or a key."""
    text = char * length
    value: Any = text if key.endswith(("_url", "_name")) else (
        {text: 1} if as_key else {"k": [text]})
    raw = {key: value, "event_id": "e1"}
    general = limits.event_problems(raw)
    if limits._keeps_limits(raw, limits.DEFAULT_MAX_EVENT_BYTES):
        assert general == []
    assert limits.check_event(raw) == general
