"""docs/scale-out.md is checked like the other references: every setting it names exists, every
command line it shows is a real command with real options, and every page it links exists."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer.main

from trackside.cli import app
from trackside.config import env_name, secret_keys, setting_keys

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGE = DOCS / "scale-out.md"

def _text() -> str:
    return PAGE.read_text(encoding="utf-8")


def _known_variables() -> set[str]:
    known = {env_name(key) for key in setting_keys()}
    known |= {env_name(key) + "_FILE" for key in secret_keys()}
    return known | {"TRACKSIDE_CONFIG"}


def _code_blocks(text: str) -> list[tuple[str, str]]:
    return re.findall(r"```([a-z]*)\n(.*?)```", text, re.S)


def command_lines(text: str) -> list[str]:
    """The trackside command lines the page shows: shell lines, ExecStart= lines, code spans."""
    lines = []
    for language, body in _code_blocks(text):
        for line in body.splitlines():
            line = line.strip()
            if language == "sh" and line and not line.startswith("#"):
                lines.append(line)
            elif line.startswith("ExecStart="):
                lines.append(line.removeprefix("ExecStart="))
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    lines.extend(span for span in re.findall(r"`([^`]+)`", prose) if span.startswith("trackside "))
    commands = []
    for line in lines:
        for part in re.split(r"[&|;]", line):
            words = shlex.split(part)
            if words and (words[0] == "trackside" or words[0].endswith("/bin/trackside")):
                commands.append(" ".join(words))
    return commands


def test_every_setting_named_exists() -> None:
    known = _known_variables()
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
    group = typer.main.get_command(app)
    words = line.split()[1:]
    command = group.commands.get(words[0])  # type: ignore[attr-defined]
    assert command is not None, f"{line}: no command {words[0]!r}"
    rest = words[1:]
    subcommands = getattr(command, "commands", None)
    if subcommands:
        command = subcommands.get(rest[0]) if rest else None
        assert command is not None, f"{line}: no such subcommand"
        rest = rest[1:]
    options = {opt for param in command.params for opt in param.opts}
    for word in rest:
        if word.startswith("--"):
            assert word.split("=")[0] in options, f"{line}: {word} is not an option of it"


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
