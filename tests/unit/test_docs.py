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


def test_the_several_shops_example_loads(tmp_path: Path) -> None:
    import re

    from trackside.shops import load_shops

    text = (DOCS / "configuration.md").read_text()
    marker = text.index("<!-- shops-example")
    example = re.search(r"```toml\n(.*?)```", text[marker:], re.S)
    assert example is not None
    # The example's secret files, made here with placeholder contents.
    toml = example.group(1)
    for path in sorted(set(re.findall(r'"(/run/secrets/[a-z0-9_]+)"', toml))):
        secret = tmp_path / Path(path).name
        secret.write_text("EAAplaceholder-secret-" + secret.name, encoding="utf-8")
        toml = toml.replace(path, str(secret))
    config = tmp_path / "trackside.toml"
    config.write_text(toml, encoding="utf-8")
    shops = load_shops({"TRACKSIDE_CONFIG": str(config)})
    assert shops.names == ["fr", "de"]
    fr, de = shops.pick("fr").settings, shops.pick("de").settings
    assert fr.database_url == de.database_url
    assert (fr.default_country, de.default_country) == ("fr", "de")
    assert fr.ga4_configured and not de.ga4_configured
    assert shops.by_origin("https://shop.laden.example") is shops.pick("de")
