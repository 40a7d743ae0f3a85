"""--shop and `trackside shops` on a real store: the default shop, several shops, canaries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trackside.cli import app

TOKEN_CANARY = "EAAcliShopCanaryTOKEN-5555555555"
KEY_CANARY = "cli-shop-key-canary-4444"


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture
def one_shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKSIDE_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("TRACKSIDE_API_KEYS", KEY_CANARY)


@pytest.fixture
def two_shops(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "trackside.toml"
    config.write_text(f"""
database_url = "sqlite:///{tmp_path}/shops.db"

[shops.alpha]
meta_pixel_id = "111"
meta_access_token = "{TOKEN_CANARY}"
api_keys = ["{KEY_CANARY}"]

[shops.beta]
allowed_origins = ["https://beta.example"]
""", encoding="utf-8")
    monkeypatch.setenv("TRACKSIDE_CONFIG", str(config))


def test_shops_lists_the_default_shop(one_shop: None) -> None:
    code, output = invoke("shops", "--json")
    assert code == 0, output
    [listed] = json.loads(output)["shops"]
    assert listed["shop"] == "default" and listed["api_keys"] == 1
    assert listed["destinations"] == ["dryrun"] and listed["health"] == "ok"
    assert KEY_CANARY not in output


def test_shops_lists_every_shop_and_no_secret(two_shops: None) -> None:
    code, output = invoke("shops")
    assert code == 0, output
    assert "│ alpha │ meta" in output and "│ beta  │ dryrun" in output
    assert TOKEN_CANARY not in output and KEY_CANARY not in output
    code, output = invoke("shops", "--json")
    by_name = {row["shop"]: row for row in json.loads(output)["shops"]}
    assert by_name["alpha"]["destinations"] == ["meta"]
    assert by_name["beta"]["destinations"] == ["dryrun"]
    assert by_name["beta"]["allowed_origins"] == ["https://beta.example"]


def test_a_command_on_events_needs_a_shop_when_several(two_shops: None) -> None:
    code, output = invoke("status")
    assert code == 2
    assert "several shops are configured (alpha, beta)" in output and "--shop" in output
    code, output = invoke("status", "--shop", "alpah")
    assert code == 2 and "did you mean alpha?" in output
    code, output = invoke("status", "--shop", "beta", "--json")
    assert code == 0, output
    assert json.loads(output)["destinations"] == []


def test_the_only_shop_needs_no_option(one_shop: None) -> None:
    code, output = invoke("status", "--json")
    assert code == 0, output
    code, output = invoke("status", "--shop", "default", "--json")
    assert code == 0, output


def test_doctor_checks_each_shop(two_shops: None) -> None:
    code, output = invoke("doctor")
    assert "(shop alpha)" in output and "(shop beta)" in output
    assert "shop beta: API: TRACKSIDE_API_KEYS is empty" in output
    assert "shop alpha: API" not in output
    assert TOKEN_CANARY not in output and KEY_CANARY not in output
    assert code in (0, 1), output


def test_a_bad_shop_table_stops_every_command(two_shops: None, tmp_path: Path) -> None:
    config = tmp_path / "trackside.toml"
    config.write_text(config.read_text() + f'\n[shops.gamma]\napi_keys = ["{KEY_CANARY}"]\n')
    for command in (["shops"], ["doctor"], ["status", "--shop", "beta"]):
        code, output = invoke(*command)
        assert code == 2, (command, output)
        assert "shops.gamma.api_keys: one of its keys is also a key of shops.alpha" in output
        assert KEY_CANARY not in output


@pytest.mark.parametrize("command", [["status"], ["events", "show"], ["events", "drop"],
                                     ["replay"], ["send-test"], ["refund"], ["purge"],
                                     ["prestashop", "sync"], ["prestashop", "backfill"]])
def test_every_command_on_events_takes_shop(command: list[str]) -> None:
    code, output = invoke(*command, "--help")
    assert code == 0 and "--shop" in output, output
