"""The README's Quickstart read as commands: what the install-and-run line sets in the
environment, and the API key the README's curl lines send (tests check they are one key)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def section(title: str) -> str:
    """The README's `## title` section, up to the next `## ` heading."""
    text = README.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"README.md has no section {title!r}"
    return match.group(1)


def indented_commands(text: str) -> list[str]:
    """The four-space indented lines (Markdown code blocks) of `text`."""
    return [line[4:] for line in text.splitlines() if line.startswith("    ") and line.strip()]


def serve_command() -> list[str]:
    """The words of the Quickstart's `... && [VAR=value ...] trackside serve` part."""
    [line] = [c for c in indented_commands(section("Quickstart")) if "trackside serve" in c]
    return shlex.split(line.split("&&")[-1])


def serve_environment() -> dict[str, str]:
    """The VAR=value assignments in front of the Quickstart's `trackside serve`."""
    words = serve_command()
    assignments = words[:words.index("trackside")]
    return dict(word.split("=", 1) for word in assignments)


def bearer_keys() -> set[str]:
    """Every key the README's curl lines send as `Authorization: Bearer <key>`."""
    return set(re.findall(r"Authorization: Bearer ([^'\"\s]+)", README.read_text(encoding="utf-8")))
