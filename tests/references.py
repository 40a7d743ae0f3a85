"""What a page, a module or a test may not cite: the research notes outside the repository
(DESIGN.md, spec/…) and their section numbers (``§3.1``, "spec §13"). A vendor fact cites
the vendor's own documentation URL instead; a section of a public RFC ("RFC 6265 §6.1") is
fine. Used by tests/unit/test_docs_links.py (docs/) and test_source_references.py (code)."""

from __future__ import annotations

import re

OUTSIDE = re.compile(
    r"(?<![\w/.-])(RFC \d+ )?(DESIGN\.md|spec/[\w./-]*|spec §\s?\d[\w.]*|§\s?\d[\w.]*)")


def references_outside(text: str) -> list[str]:
    """Each reference in ``text`` to something outside the repository, in order."""
    return [match.group(2) for match in OUTSIDE.finditer(text) if not match.group(1)]
