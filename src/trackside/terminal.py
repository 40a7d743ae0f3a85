"""Stored text made safe to print on an operator's terminal.

Event ids, names, order references, notes and vendors' messages come from shops, browsers and
vendors: anyone can post an id holding ``ESC [ 2 J`` (clear the screen), an OSC 8 hyperlink, or
a newline that forges a line of a timeline. Every CLI command passes stored text through
:func:`safe` before printing it: control and format characters (C0, DEL, C1, bidirectional
overrides, line and paragraph separators) become visible escapes such as ``\\x1b`` and ``\\n``.
JSON output needs no help: the encoder escapes control characters itself.
"""

from __future__ import annotations

import unicodedata
from typing import Any

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _unsafe(ch: str) -> bool:
    # Cc: C0, DEL and C1 controls; Cf: format characters (bidi overrides, zero-width joiners);
    # Zl/Zp: line and paragraph separators, which some terminals render as a line break.
    return unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")


def safe(value: Any) -> str:
    """``value`` as text with every control or format character shown as an escape.

    A backslash is left as it is: the point is that nothing reaches the terminal as a control,
    not that the output can be parsed back.
    """
    text = "" if value is None else str(value)
    if text.isprintable():  # the common case: nothing to do
        return text
    return "".join(_escape(ch) if _unsafe(ch) else ch for ch in text)
