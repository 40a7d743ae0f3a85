"""What the docs tests check on every page that names settings, shows command lines or links
headings: one reading of each, so docs/scale-out.md, going-live.md and prestashop.md are held
to the same rules (tests/unit/test_docs_*.py)."""

from __future__ import annotations

import re
import shlex

import typer.main

from trackside.cli import app
from trackside.config import env_name, secret_keys, setting_keys


def known_variables() -> set[str]:
    """Every TRACKSIDE_* variable the loader reads: the settings, ``*_FILE`` for secrets."""
    known = {env_name(key) for key in setting_keys()}
    known |= {env_name(key) + "_FILE" for key in secret_keys()}
    return known | {"TRACKSIDE_CONFIG"}


def heading_anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors, as far as these pages need them: lowercased, punctuation
    dropped, spaces as dashes."""
    headings = re.findall(r"^#+ (.+)$", markdown, re.M)
    return {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in headings}


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


def command_line_problem(line: str) -> str | None:
    """Why ``line`` is not a real trackside command with real options, or None when it is."""
    group = typer.main.get_command(app)
    words = line.split()[1:]
    command = group.commands.get(words[0])  # type: ignore[attr-defined]
    if command is None:
        return f"{line}: no command {words[0]!r}"
    rest = words[1:]
    subcommands = getattr(command, "commands", None)
    if subcommands:
        command = subcommands.get(rest[0]) if rest else None
        if command is None:
            return f"{line}: no such subcommand"
        rest = rest[1:]
    options = {opt for param in command.params for opt in param.opts}
    for word in rest:
        if word.startswith("--") and word.split("=")[0] not in options:
            return f"{line}: {word} is not an option of it"
    return None
