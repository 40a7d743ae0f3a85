"""[shops.<name>] tables: loading, the errors that name shops.<name>.<key>, and routing."""

from __future__ import annotations

from pathlib import Path

import pytest

from trackside.config import ConfigError, load_settings, setting_keys
from trackside.shops import DEFAULT_SHOP, GLOBAL_KEYS, IDENTITY_KEYS, load_shops, shop_keys

CANARY_A = "EAAshopAcanaryTOKEN-1111111111"
CANARY_B = "EAAshopBcanaryTOKEN-2222222222"
KEY_CANARY = "shared-key-canary-0987654321"

TWO_SHOPS = f"""
database_url = "sqlite:///shops.db"
default_country = "FR"
join_window_s = 5

[shops.alpha]
meta_pixel_id = "111"
meta_access_token = "{CANARY_A}"
api_keys = ["key-alpha"]
allowed_origins = ["https://alpha.example"]
event_id_prefix = "a-"

[shops.beta]
meta_pixel_id = "222"
meta_access_token = "{CANARY_B}"
api_keys = "key-beta-1, key-beta-2"
allowed_origins = ["https://*.beta.example"]
default_country = "DE"
consent_mode = "required"
"""


def _config(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "trackside.toml"
    path.write_text(text, encoding="utf-8")
    return {"TRACKSIDE_CONFIG": str(path)}


def _error(environ: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as info:
        load_shops(environ)
    message = str(info.value)
    for canary in (CANARY_A, CANARY_B, KEY_CANARY):
        assert canary not in message
    return message


def test_environment_only_is_one_shop_named_default() -> None:
    environ = {"TRACKSIDE_API_KEYS": "k1", "TRACKSIDE_JOIN_WINDOW_S": "7"}
    shops = load_shops(environ)
    assert shops.names == [DEFAULT_SHOP]
    assert shops.pick(None).settings == load_settings(environ)


def test_each_shop_is_the_global_settings_overlaid_with_its_table(tmp_path: Path) -> None:
    shops = load_shops(_config(tmp_path, TWO_SHOPS))
    assert shops.names == ["alpha", "beta"]
    alpha, beta = shops.pick("alpha").settings, shops.pick("beta").settings
    assert alpha.database_url == beta.database_url == "sqlite:///shops.db"
    assert (alpha.default_country, beta.default_country) == ("fr", "de")
    assert alpha.join_window_s == beta.join_window_s == 5
    assert (alpha.consent_mode, beta.consent_mode) == ("eea", "required")
    assert alpha.meta_pixel_id == "111" and beta.meta_pixel_id == "222"
    assert alpha.meta_access_token.get_secret_value() == CANARY_A
    assert [k.get_secret_value() for k in beta.api_keys] == ["key-beta-1", "key-beta-2"]
    assert alpha.event_id_prefix == "a-" and beta.event_id_prefix == ""


def test_routing_by_key_origin_and_pixel(tmp_path: Path) -> None:
    shops = load_shops(_config(tmp_path, TWO_SHOPS))
    assert shops.by_api_key("key-alpha").name == "alpha"  # type: ignore[union-attr]
    assert shops.by_api_key("key-beta-2").name == "beta"  # type: ignore[union-attr]
    assert shops.by_api_key("key-alph") is None and shops.by_api_key("") is None
    assert shops.by_origin("https://alpha.example").name == "alpha"  # type: ignore[union-attr]
    assert shops.by_origin("https://www.beta.example").name == "beta"  # type: ignore[union-attr]
    assert shops.by_origin("https://gamma.example") is None
    assert shops.by_origin(None) is None
    assert shops.by_pixel("222").name == "beta"  # type: ignore[union-attr]
    assert shops.by_pixel("333") is None


def test_pick_names_the_shops_when_several_and_none_named(tmp_path: Path) -> None:
    shops = load_shops(_config(tmp_path, TWO_SHOPS))
    with pytest.raises(ConfigError, match=r"several shops .*alpha, beta.*--shop"):
        shops.pick(None)
    with pytest.raises(ConfigError, match=r"--shop alpah: no such shop \(did you mean alpha\?\)"):
        shops.pick("alpah")


def test_a_file_with_shops_is_refused_by_the_one_shop_loader(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="shops"):
        load_settings(_config(tmp_path, TWO_SHOPS))


def test_a_shop_secret_may_come_from_a_file(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text(CANARY_A + "\n", encoding="utf-8")
    text = f'[shops.alpha]\nmeta_pixel_id = "1"\nmeta_access_token_file = "{token}"\n'
    alpha = load_shops(_config(tmp_path, text)).pick("alpha").settings
    assert alpha.meta_access_token.get_secret_value() == CANARY_A
    missing = f'[shops.alpha]\nmeta_access_token_file = "{tmp_path / "nope"}"\n'
    assert "shops.alpha.meta_access_token_file: cannot read" in _error(_config(tmp_path, missing))


@pytest.mark.parametrize(("table", "expected"), [
    ('database_url = "sqlite:///x.db"', "shops.alpha.database_url: is global"),
    ("worker_lease_s = 60", "shops.alpha.worker_lease_s: is global"),
    ('meta_pixelid = "1"', "shops.alpha.meta_pixelid: is not a known shop setting "
                           "(did you mean shops.alpha.meta_pixel_id?)"),
    ('meta_pixel_id = "abc"', "shops.alpha.meta_pixel_id: "),
    ('default_country = "France"', "shops.alpha.default_country: Value error, must be an ISO"),
    ('consent_mode = "maybe"', "shops.alpha.consent_mode: "),
    ('meta_pixel_id = "12"', "shops.alpha: TRACKSIDE_META_PIXEL_ID is set but"),
])
def test_a_bad_shop_table_names_the_shop_and_the_key(
    tmp_path: Path, table: str, expected: str,
) -> None:
    text = f'[shops.alpha]\n{table}\n[shops.beta]\nevent_id_prefix = "b"\n'
    message = _error(_config(tmp_path, text))
    assert expected in message
    assert "shops.beta" not in message


@pytest.mark.parametrize("name", ["Alpha", "-a", "a b", "x" * 41, "été"])
def test_shop_names_are_lower_case_slugs(tmp_path: Path, name: str) -> None:
    message = _error(_config(tmp_path, f'[shops."{name}"]\nevent_id_prefix = "x"\n'))
    assert f"shops.{name}: a shop name is" in message


def test_identity_keys_are_refused_at_the_top_level_once_shops_exist(tmp_path: Path) -> None:
    environ = _config(tmp_path, TWO_SHOPS) | {"TRACKSIDE_API_KEYS": KEY_CANARY}
    assert "TRACKSIDE_API_KEYS: identifies one shop" in _error(environ)


@pytest.mark.parametrize(("second", "expected"), [
    (f'api_keys = ["{KEY_CANARY}"]', "shops.b.api_keys: one of its keys is also a key of "
                                     "shops.a"),
    ('allowed_origins = ["https://A.example/"]', "shops.b.allowed_origins: https://a.example "
                                                 "is also an origin of shops.a"),
    (f'meta_pixel_id = "1"\nmeta_access_token = "{CANARY_B}"',
     "shops.b.meta_pixel_id: is also the pixel of shops.a"),
    ('allowed_origins = ["*"]', "shops.b.allowed_origins: * would admit"),
])
def test_keys_origins_and_pixels_belong_to_one_shop(
    tmp_path: Path, second: str, expected: str,
) -> None:
    first = (f'[shops.a]\napi_keys = ["{KEY_CANARY}"]\nallowed_origins = ["https://a.example"]\n'
             f'meta_pixel_id = "1"\nmeta_access_token = "{CANARY_A}"\n')
    assert expected in _error(_config(tmp_path, f"{first}[shops.b]\n{second}\n"))


def test_shops_must_be_tables(tmp_path: Path) -> None:
    assert "[shops.<name>] tables" in _error(_config(tmp_path, 'shops = "alpha"\n'))
    assert "shops.alpha: must be a table" in _error(_config(tmp_path, '[shops]\nalpha = 1\n'))


def test_every_setting_is_either_global_or_per_shop() -> None:
    # Every name in the two declared lists is a real setting (a renamed setting would
    # otherwise silently become per-shop), and the identity keys are per shop.
    assert setting_keys() >= GLOBAL_KEYS | IDENTITY_KEYS
    assert shop_keys().isdisjoint(GLOBAL_KEYS)
    assert shop_keys() >= IDENTITY_KEYS
    assert {"meta_pixel_id", "ga4_api_secret", "webhook_url", "api_keys", "consent_mode",
            "server_event_consent", "join_window_s", "prestashop_db_url"} <= shop_keys()


def test_secret_values_cover_every_shop(tmp_path: Path) -> None:
    shops = load_shops(_config(tmp_path, TWO_SHOPS))
    assert {CANARY_A, CANARY_B, "key-alpha"} <= set(shops.secret_values())
