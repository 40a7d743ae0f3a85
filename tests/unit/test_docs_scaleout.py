"""docs/scale-out.md is checked like the other references: every setting it names exists, every
command line it shows is a real command with real options, and every page it links exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.docs_checks import command_line_problem, command_lines, known_variables

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGE = DOCS / "scale-out.md"

def _text() -> str:
    return PAGE.read_text(encoding="utf-8")


def test_every_setting_named_exists() -> None:
    known = known_variables()
    named = set(re.findall(r"TRACKSIDE_[A-Z0-9_]*[A-Z0-9](?![A-Z0-9_])", _text()))
    prefixes = set(re.findall(r"(TRACKSIDE_[A-Z0-9_]*_)\*", _text()))
    assert named, "the page names no setting at all"
    assert not named - known, f"not settings: {sorted(named - known)}"
    for prefix in prefixes:
        assert any(name.startswith(prefix) for name in known), f"no setting is {prefix}*"


def test_the_page_shows_the_documented_commands() -> None:
    shown = {" ".join(c.split()[1:2]) for c in command_lines(_text())}
    assert {"serve", "worker", "migrate"} <= shown


@pytest.mark.parametrize("line", sorted(set(command_lines(_text()))))
def test_every_command_line_is_a_real_command_with_real_options(line: str) -> None:
    assert command_line_problem(line) is None, command_line_problem(line)


def test_every_linked_page_exists() -> None:
    links = re.findall(r"\]\(([a-z0-9-]+\.md)(?:#[a-z0-9-]+)?\)", _text())
    assert links
    for link in links:
        assert (DOCS / link).exists(), f"docs/scale-out.md links to missing {link}"


def test_synchronous_commit_is_stated_with_its_default() -> None:
    text = _text()
    assert "`synchronous_commit`" in text
    assert "default is `on`" in text


def test_the_readme_links_it() -> None:
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    assert "docs/scale-out.md" in readme
