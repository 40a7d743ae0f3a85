from __future__ import annotations

from pathlib import Path

import pytest

from trackside.config import ConfigError, load_settings, mask_url_password, unknown_variables

CANARY = "EAAcanaryTOKEN-1234567890"


def test_defaults_need_no_configuration() -> None:
    settings = load_settings(environ={})
    assert settings.database_url == "sqlite:///trackside.db"
    assert settings.meta_graph_url == "https://graph.facebook.com"
    assert settings.ga4_url == "https://www.google-analytics.com"
    assert settings.join_window_s == 60
    assert not settings.meta_configured and not settings.ga4_configured


def test_environment_names_from_design() -> None:
    settings = load_settings(environ={
        "TRACKSIDE_META_PIXEL_ID": "123",
        "TRACKSIDE_META_ACCESS_TOKEN": CANARY,
        "TRACKSIDE_API_KEYS": "k1, k2,",
        "TRACKSIDE_ALLOWED_ORIGINS": "https://shop.example,https://www.shop.example",
        "TRACKSIDE_JOIN_WINDOW_S": "5",
        "TRACKSIDE_DEFAULT_COUNTRY": "FR",
    })
    assert settings.meta_configured
    assert [k.get_secret_value() for k in settings.api_keys] == ["k1", "k2"]
    assert settings.allowed_origins == ["https://shop.example", "https://www.shop.example"]
    assert settings.join_window_s == 5.0
    assert settings.default_country == "fr"
    assert settings.api_key_matches("k2") and not settings.api_key_matches("k3")


def test_secrets_are_masked_everywhere_they_print() -> None:
    settings = load_settings(environ={"TRACKSIDE_META_ACCESS_TOKEN": CANARY,
                                      "TRACKSIDE_META_PIXEL_ID": "123",
                                      "TRACKSIDE_API_KEYS": CANARY + "x"})
    assert CANARY not in repr(settings)
    assert CANARY not in str(settings)
    assert CANARY not in str(settings.effective())
    assert settings.effective()["TRACKSIDE_META_ACCESS_TOKEN"] == "**********"
    assert CANARY in settings.secret_values()


def test_secret_from_file(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(CANARY + "\n")
    settings = load_settings(environ={"TRACKSIDE_META_ACCESS_TOKEN_FILE": str(token_file),
                                      "TRACKSIDE_META_PIXEL_ID": "123"})
    assert settings.meta_access_token is not None
    assert settings.meta_access_token.get_secret_value() == CANARY


def test_unreadable_secret_file_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="TRACKSIDE_GA4_API_SECRET_FILE: cannot read"):
        load_settings(environ={"TRACKSIDE_GA4_API_SECRET_FILE": str(tmp_path / "missing")})


def test_toml_file_with_environment_override(tmp_path: Path) -> None:
    config = tmp_path / "trackside.toml"
    config.write_text('meta_pixel_id = "42"\nmeta_access_token = "token"\n'
                      'TRACKSIDE_JOIN_WINDOW_S = 10\ncookie_domain = "shop.example"\n')
    settings = load_settings(
        environ={"TRACKSIDE_CONFIG": str(config), "TRACKSIDE_JOIN_WINDOW_S": "3"}
    )
    assert settings.meta_pixel_id == "42"
    assert settings.cookie_domain == "shop.example"
    assert settings.join_window_s == 3


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"TRACKSIDE_JOIN_WINDOW_S": "soon"},
         "TRACKSIDE_JOIN_WINDOW_S: Input should be a valid number"),
        ({"TRACKSIDE_JOIN_WINDOW_S": "-1"},
         "TRACKSIDE_JOIN_WINDOW_S: Input should be greater than or equal to 0"),
        ({"TRACKSIDE_META_API_VERSION": "26"},
         "TRACKSIDE_META_API_VERSION: Value error, must look like v26.0"),
        ({"TRACKSIDE_META_GRAPH_URL": "graph.facebook.com"},
         "TRACKSIDE_META_GRAPH_URL: Value error, must be an http"),
        ({"TRACKSIDE_DEFAULT_COUNTRY": "France"},
         "TRACKSIDE_DEFAULT_COUNTRY: Value error, must be an ISO"),
        ({"TRACKSIDE_DATABASE_URL": "mysql://x"},
         "TRACKSIDE_DATABASE_URL: Value error, must start with"),
        ({"TRACKSIDE_CONSENT_MODE": "maybe"},
         "TRACKSIDE_CONSENT_MODE: Input should be 'eea', 'required' or 'off'"),
    ],
)
def test_bad_values_name_the_key_and_reason(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ=environ)
    assert message in str(info.value)


def test_bad_toml_is_reported(tmp_path: Path) -> None:
    config = tmp_path / "trackside.toml"
    config.write_text("meta_pixel_id = \n")
    with pytest.raises(ConfigError, match=r"TRACKSIDE_CONFIG: .* is not valid TOML"):
        load_settings(environ={"TRACKSIDE_CONFIG": str(config)})
    config.write_text('no_such_setting = 1\n')
    with pytest.raises(ConfigError, match="TRACKSIDE_NO_SUCH_SETTING: is not a known setting"):
        load_settings(environ={"TRACKSIDE_CONFIG": str(config)})


def test_unknown_variables_are_listed_as_hints() -> None:
    environ = {"TRACKSIDE_META_PIXEL": "1", "TRACKSIDE_META_PIXEL_ID": "1", "TRACKSIDE_CONFIG": "x"}
    assert unknown_variables(environ) == ["TRACKSIDE_META_PIXEL"]


def test_database_password_is_masked_in_effective_config() -> None:
    assert mask_url_password("postgresql://app:s3cret@db/trackside") == "postgresql://app:**********@db/trackside"
    settings = load_settings(environ={"TRACKSIDE_DATABASE_URL": "postgresql://app:s3cret@db/x"})
    assert "s3cret" not in str(settings.effective())


def test_unknown_variables_get_the_closest_known_name() -> None:
    from trackside.config import unknown_variable_problems

    assert unknown_variable_problems({"TRACKSIDE_META_PIXELID": "1", "TRACKSIDE_ZZZ": "1"}) == [
        "TRACKSIDE_META_PIXELID is not a known setting (did you mean TRACKSIDE_META_PIXEL_ID?)",
        "TRACKSIDE_ZZZ is not a known setting",
    ]


def test_unknown_toml_key_gets_the_closest_known_name(tmp_path: Path) -> None:
    config = tmp_path / "trackside.toml"
    config.write_text('join_windows_s = 1\n')
    with pytest.raises(ConfigError, match=r"TRACKSIDE_JOIN_WINDOWS_S: is not a known setting "
                                          r"\(did you mean TRACKSIDE_JOIN_WINDOW_S\?\)"):
        load_settings(environ={"TRACKSIDE_CONFIG": str(config)})


def test_empty_credentials_count_as_unset() -> None:
    settings = load_settings(
        environ={"TRACKSIDE_META_ACCESS_TOKEN": "", "TRACKSIDE_GA4_API_SECRET": ""}
    )
    assert not settings.meta_configured and not settings.ga4_configured
