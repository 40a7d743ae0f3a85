"""Docs checked by tests: every setting and every CLI command is documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from trackside.cli import app
from trackside.config import env_name, setting_keys

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.mark.parametrize("key", sorted(setting_keys()))
def test_every_setting_is_in_the_configuration_reference(key: str) -> None:
    # A destination's own settings (the webhook's) are documented with the destination.
    reference = (DOCS / "configuration.md").read_text() + (DOCS / "destinations.md").read_text()
    assert f"`{env_name(key)}`" in reference


def _command_paths() -> list[str]:
    import typer.main

    group = typer.main.get_command(app)
    paths = []
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        subcommands = getattr(command, "commands", None)
        if subcommands:
            paths.extend(f"{name} {sub}" for sub in subcommands)
        else:
            paths.append(name)
    return sorted(paths)


@pytest.mark.parametrize("path", _command_paths())
def test_every_command_is_in_the_cli_reference(path: str) -> None:
    assert f"trackside {path}" in (DOCS / "cli.md").read_text()
