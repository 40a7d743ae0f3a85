"""Every command's --help reads well in an 80-column terminal: flags shown as flags (no
`--flag <bool>`), no line wider than the terminal, the docstring rewrapped to the width (not
its source line breaks) and shown whole (nothing taken for markup, such as `[shops.NAME]`),
and nothing pointing outside the repository."""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import pairwise
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from trackside.cli import app


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _commands(sub, (*path, name))


COMMANDS = dict(_commands(typer.main.get_command(app)))


def _help(path: tuple[str, ...], width: int) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], prog_name="trackside",
                                env={"COLUMNS": str(width)}, terminal_width=width)
    assert result.exit_code == 0, result.output
    return result.output


def _words(text: str) -> str:
    # click may break a line after a hyphen ("held-" / "purchase"): the same words.
    return re.sub(r"-\s+", "-", " ".join(text.replace("\b", "").split()))


def test_every_command_is_walked() -> None:
    for path in [("serve",), ("worker",), ("status",), ("events", "show"), ("import", "leads"),
                 ("prestashop", "sync"), ("migrate-store",), ("reconcile",)]:
        assert path in COMMANDS


@pytest.mark.parametrize("path", list(COMMANDS), ids=lambda p: " ".join(p) or "trackside")
def test_help_fits_80_columns_and_shows_flags_plainly(path: tuple[str, ...]) -> None:
    text = _help(path, 80)
    assert "<bool>" not in text
    too_wide = [line for line in text.splitlines() if len(line) > 80]
    assert too_wide == []
    # The whole help text is there, word for word: nothing was read as markup and dropped.
    help_text = COMMANDS[path].help or ""
    assert _words(help_text) in _words(text)
    assert not re.search(r"DESIGN\.md|(?<![\w/.-])spec/", text)


@pytest.mark.parametrize("path", [p for p, c in COMMANDS.items() if "\n" in (c.help or "")],
                         ids=lambda p: " ".join(p))
def test_help_paragraphs_are_rewrapped_to_the_terminal(path: tuple[str, ...]) -> None:
    # A docstring broken at ~95 columns in the source, shown at 120: its first paragraph fills
    # the terminal's lines instead of keeping the source's breaks.
    first_paragraph = _words((COMMANDS[path].help or "").split("\n\n")[0])
    text = _help(path, 120)
    description = text.split("\n\n")[1]
    lines = description.splitlines()
    assert _words(description) == first_paragraph
    # Filled: the next line's first word would not have fit on each line.
    for line, following in pairwise(lines):
        assert len(line) + 1 + len(following.split()[0]) > 120, lines
