"""Configuration is strict at start (issue attack 8): every bad value stops `serve`, `worker`
and the other commands with exit 2 and the key named, never a traceback or a silent dry run;
an unknown TRACKSIDE_* variable stops `serve` and `worker` with a "did you mean"."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from trackside.cli import app

TOKEN = "EAAstrict-canary-token-0123456789"

BAD = [
    ({"TRACKSIDE_META_GRAPH_URL": "http://exa mple/"}, "TRACKSIDE_META_GRAPH_URL",
     "without spaces"),
    ({"TRACKSIDE_GA4_URL": "ftp://collect.example"}, "TRACKSIDE_GA4_URL", "http:// or https://"),
    ({"TRACKSIDE_PRESTASHOP_URL": "https:///shop"}, "TRACKSIDE_PRESTASHOP_URL", "host name"),
    ({"TRACKSIDE_META_GRAPH_URL": "https://graph.example:99999"}, "TRACKSIDE_META_GRAPH_URL",
     "valid port"),
    ({"TRACKSIDE_TRUSTED_PROXIES": "10.0.0.0/8,10.0.0.0/33"}, "TRACKSIDE_TRUSTED_PROXIES",
     "'10.0.0.0/33' is not an IP address or CIDR"),
    ({"TRACKSIDE_TRUSTED_PROXIES": "proxy.local"}, "TRACKSIDE_TRUSTED_PROXIES", "'proxy.local'"),
    ({"TRACKSIDE_ALLOWED_ORIGINS": "shop.example"}, "TRACKSIDE_ALLOWED_ORIGINS",
     "'shop.example' is not an origin"),
    ({"TRACKSIDE_ALLOWED_ORIGINS": "https://shop.example/thanks"}, "TRACKSIDE_ALLOWED_ORIGINS",
     "no path"),
    ({"TRACKSIDE_META_PIXEL_ID": "abc", "TRACKSIDE_META_ACCESS_TOKEN": TOKEN},
     "TRACKSIDE_META_PIXEL_ID", "digits only"),
    ({"TRACKSIDE_META_ACCESS_TOKEN": TOKEN}, "TRACKSIDE_META_PIXEL_ID",
     "TRACKSIDE_META_ACCESS_TOKEN is set but TRACKSIDE_META_PIXEL_ID is not"),
    ({"TRACKSIDE_META_PIXEL_ID": "1234567890"}, "TRACKSIDE_META_ACCESS_TOKEN",
     "TRACKSIDE_META_PIXEL_ID is set but TRACKSIDE_META_ACCESS_TOKEN is not"),
    ({"TRACKSIDE_GA4_MEASUREMENT_ID": "G-TEST123"}, "TRACKSIDE_GA4_API_SECRET", "is not"),
    ({"TRACKSIDE_GA4_API_SECRET": TOKEN}, "TRACKSIDE_GA4_MEASUREMENT_ID", "is not"),
    ({"TRACKSIDE_JOIN_WINDOW_S": "soon"}, "TRACKSIDE_JOIN_WINDOW_S", "valid number"),
]


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = tmp_path / "strict.db"
    monkeypatch.setenv("TRACKSIDE_DATABASE_URL", f"sqlite:///{db}")
    return db


@pytest.mark.parametrize("command", ["serve", "worker", "status"])
@pytest.mark.parametrize(("environ", "key", "reason"), BAD,
                         ids=[f"{key}-{i}" for i, (_, key, _) in enumerate(BAD)])
def test_a_bad_value_stops_the_command_with_the_key_named(
    database: Path, command: str, environ: dict[str, str], key: str, reason: str
) -> None:
    result = CliRunner().invoke(app, [command], env=environ)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)  # typer.Exit, not a crash
    assert "configuration error:" in result.output and key in result.output
    assert reason in result.output
    assert "Traceback" not in result.output and TOKEN not in result.output
    assert not database.exists()  # stopped before opening anything


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_an_unknown_variable_stops_serve_and_worker_with_a_suggestion(
    database: Path, command: str
) -> None:
    result = CliRunner().invoke(app, [command], env={"TRACKSIDE_META_PIXELID": "1234567890"})
    assert result.exit_code == 2, result.output
    assert ("TRACKSIDE_META_PIXELID is not a known setting "
            "(did you mean TRACKSIDE_META_PIXEL_ID?)") in result.output


def test_other_commands_warn_about_an_unknown_variable(database: Path) -> None:
    result = CliRunner().invoke(app, ["status"], env={"TRACKSIDE_RETENTION_DAY": "7"})
    assert result.exit_code == 0, result.output
    assert ("warning: TRACKSIDE_RETENTION_DAY is not a known setting "
            "(did you mean TRACKSIDE_RETENTION_DAYS?)") in result.output


def test_doctor_prints_warnings_as_warn(database: Path) -> None:
    result = CliRunner().invoke(app, ["doctor"], env={"TRACKSIDE_META_PIXELID": "1"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.startswith("warn TRACKSIDE_META_PIXELID is not a known setting (did you "
                               "mean TRACKSIDE_META_PIXEL_ID?)") for line in lines)
    assert any(line.startswith("warn Meta: dry-run") for line in lines)
    assert any(line.startswith("warn API: TRACKSIDE_API_KEYS is empty") for line in lines)
    assert any(line.startswith("ok   GA4: off") for line in lines)
    assert not any(line.startswith("ok   Meta: dry-run") for line in lines)


def test_good_values_of_the_same_settings_are_accepted(database: Path) -> None:
    result = CliRunner().invoke(app, ["status"], env={
        "TRACKSIDE_META_GRAPH_URL": "http://127.0.0.1:8080/",
        "TRACKSIDE_TRUSTED_PROXIES": "10.0.0.0/8, 2001:db8::/32, 192.0.2.7",
        "TRACKSIDE_ALLOWED_ORIGINS": "https://shop.example,https://*.shop.example,"
                                     "http://localhost:8000,http://[::1]:8080",
        "TRACKSIDE_META_PIXEL_ID": "1234567890", "TRACKSIDE_META_ACCESS_TOKEN": TOKEN,
    })
    assert result.exit_code == 0, result.output
