"""Several shops in one gateway: the ``[shops.<name>]`` tables of ``TRACKSIDE_CONFIG``, and
routing a request to its shop (by API key, by Origin, by Meta pixel id), never by guessing.

Environment-only configuration (or a file without ``[shops.*]`` tables) is one shop named
``default``, with exactly the settings :func:`trackside.config.load_settings` reads.

With shop tables, each shop's settings are the top-level settings overlaid with its table.
Inside a table the keys are the environment names in lower case without ``TRACKSIDE_``
(``meta_pixel_id``, ``api_keys``, …), secrets may come from ``<key>_file``. Two kinds of key
never go in a shop table or never at the top:

- :data:`GLOBAL_KEYS` (database, limits, worker, proxies) are shared by the process: in a shop
  table they are an error naming ``shops.<name>.<key>`` and saying so.
- :data:`IDENTITY_KEYS` (API keys, origins, pixel id and token, GA4 stream, signing key,
  PrestaShop connection) say which shop a request or an event belongs to: at the top level
  they would silently belong to every shop, so they are refused there once shops are declared.

Every other per-shop key set at the top level is a default for every shop.
"""

from __future__ import annotations

import difflib
import hmac
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trackside.config import (
    LIST_KEYS,
    SHOPS_TABLE,
    ConfigError,
    Settings,
    build_settings,
    env_name,
    read_values,
    secret_keys,
    setting_keys,
)
from trackside.shop_names import DEFAULT_SHOP, SHOP_NAME_RULE
from trackside.web.browser import OriginPolicy

__all__ = [
    "DEFAULT_SHOP",
    "GLOBAL_KEYS",
    "IDENTITY_KEYS",
    "Shop",
    "Shops",
    "load_shops",
    "shop_keys",
]


#: Settings shared by the whole process: refused inside a shop table.
GLOBAL_KEYS = frozenset({
    "database_url",
    "database_pool_size",
    "admin_password",
    "trusted_proxies",
    "max_body_bytes",
    "max_import_bytes",
    "max_event_bytes",
    "worker_lease_s",
    "meta_timeout_s",  # the worker's request timeout, for every vendor and shop
    "retention_days",  # `trackside purge` runs over the whole database
})

#: Settings that tell which shop a request or an event is: per shop only, once shops exist.
IDENTITY_KEYS = frozenset({
    "api_keys",
    "allowed_origins",
    "signing_key",
    "meta_pixel_id",
    "meta_access_token",
    "ga4_measurement_id",
    "ga4_api_secret",
    "prestashop_db_url",
    "prestashop_url",
    "prestashop_api_key",
    "shopify_webhook_secret",
    "woocommerce_webhook_secret",
    "stripe_webhook_secret",
})


def shop_keys() -> frozenset[str]:
    """The keys a shop table may hold: every setting that is not global (the registered
    destinations' own settings models included)."""
    return setting_keys() - GLOBAL_KEYS


@dataclass(frozen=True)
class Shop:
    name: str
    #: The shop's effective settings: the global ones overlaid with its table.
    settings: Settings


class Shops:
    """The configured shops, in the order of the file, and the routing questions."""

    def __init__(self, shops: Sequence[Shop]) -> None:
        if not shops:
            raise ConfigError("no shop is configured")
        self._shops = list(shops)
        self._origins = [(shop, OriginPolicy(shop.settings.allowed_origins)) for shop in shops]

    def __iter__(self) -> Iterator[Shop]:
        return iter(self._shops)

    def __len__(self) -> int:
        return len(self._shops)

    @property
    def names(self) -> list[str]:
        return [shop.name for shop in self._shops]

    def get(self, name: str) -> Shop | None:
        return next((shop for shop in self._shops if shop.name == name), None)

    def by_api_key(self, candidate: str) -> Shop | None:
        """The shop this key belongs to. Every key of every shop is compared, in constant
        time, so the answer's timing tells nothing about which shop or key was close."""
        found: Shop | None = None
        encoded = candidate.encode()
        for shop in self._shops:
            for key in shop.settings.api_keys:
                if hmac.compare_digest(encoded, key.get_secret_value().encode()):
                    found = shop
        return found

    def by_origin(self, origin: str | None, host: str | None = None) -> Shop | None:
        """The shop whose allowed origins admit this beacon's Origin (origins are unique across
        shops; an exact origin wins over a ``https://*.domain`` pattern)."""
        allowing = [shop for shop, policy in self._origins if policy.allows(origin, host)]
        if len(allowing) <= 1:
            return allowing[0] if allowing else None
        exact = (origin or "").rstrip("/").lower()
        for shop, policy in self._origins:
            if shop in allowing and exact in policy.exact:
                return shop
        return None  # two patterns admit it: refuse rather than guess

    def by_pixel(self, pixel_id: str) -> Shop | None:
        """The shop whose Meta pixel (dataset) id this is."""
        for shop in self._shops:
            if pixel_id and _pixel(shop) == pixel_id:
                return shop
        return None

    def pick(self, name: str | None) -> Shop:
        """The shop a CLI command works on: the named one, or the only one."""
        if name is None:
            if len(self._shops) == 1:
                return self._shops[0]
            raise ConfigError(f"several shops are configured ({', '.join(self.names)}): "
                              "name one with --shop NAME")
        shop = self.get(name)
        if shop is None:
            close = difflib.get_close_matches(name, self.names, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigError(f"--shop {name}: no such shop{hint}; the shops are "
                              f"{', '.join(self.names)}")
        return shop

    def secret_values(self) -> list[str]:
        """Every shop's secrets' clear values, for scrubbing logs and error messages."""
        values: set[str] = set()
        for shop in self._shops:
            values.update(shop.settings.secret_values())
        return sorted(values)


def load_shops(environ: Mapping[str, str] | None = None, **overrides: Any) -> Shops:
    """The shops of the configuration, or ConfigError naming every bad key."""
    environ = os.environ if environ is None else environ
    values = read_values(environ, overrides)
    tables = values.pop(SHOPS_TABLE, None)
    if tables is None:
        return Shops([Shop(DEFAULT_SHOP, build_settings(values))])
    problems: list[str] = []
    if not isinstance(tables, dict) or not tables:
        raise ConfigError("TRACKSIDE_CONFIG: shops must be [shops.<name>] tables, one per shop")
    for key in sorted(IDENTITY_KEYS & values.keys()):
        problems.append(f"{env_name(key)}: identifies one shop: with [shops.<name>] tables, "
                        "set it in each shop's table")
    defaults = {key: value for key, value in values.items() if key not in IDENTITY_KEYS}
    try:
        build_settings(defaults)  # a bad top-level value is named once, by its own name
    except ConfigError as exc:
        problems.append(str(exc))
    shops: list[Shop] = []
    for name, table in tables.items():
        own, table_problems = _read_shop_table(str(name), table)
        problems += table_problems
        if table_problems:
            continue
        try:
            settings = build_settings({**defaults, **own}, _namer(str(name), own))
        except ConfigError as exc:
            problems.append(_prefix_unnamed(str(name), str(exc)))
            continue
        shops.append(Shop(str(name), settings))
    if not problems:
        problems += _uniqueness_problems(shops)
    if problems:
        raise ConfigError("; ".join(dict.fromkeys(problems)))
    return Shops(shops)


def _namer(shop: str, own: Mapping[str, Any]) -> Any:
    def name_of(key: str) -> str:
        return f"{SHOPS_TABLE}.{shop}.{key}" if key in own else env_name(key)

    return name_of


def _prefix_unnamed(shop: str, message: str) -> str:
    # A rule across keys (half a destination) names TRACKSIDE_* keys: say which shop.
    own = f"{SHOPS_TABLE}.{shop}"
    return "; ".join(part if part.startswith(own + ".") else f"{own}: {part}"
                     for part in message.split("; "))


def _read_shop_table(shop: str, table: Any) -> tuple[dict[str, Any], list[str]]:
    """(the table's values by setting key, the problems found)."""
    where = f"{SHOPS_TABLE}.{shop}"
    if not SHOP_NAME_RULE.fullmatch(shop):
        return {}, [f"{where}: a shop name is 1 to 40 lower-case letters, digits, - or _, "
                    "starting with a letter or a digit"]
    if not isinstance(table, dict):
        return {}, [f"{where}: must be a table of settings ([{where}])"]
    allowed, secrets = shop_keys(), secret_keys()
    own: dict[str, Any] = {}
    problems: list[str] = []
    for raw_key, value in table.items():
        key = str(raw_key).lower().removeprefix("trackside_")
        if key.endswith("_file") and key.removesuffix("_file") in secrets:
            try:
                own[key.removesuffix("_file")] = Path(str(value)).read_text(
                    encoding="utf-8").strip()
            except OSError as exc:
                problems.append(f"{where}.{raw_key}: cannot read {value} ({exc.strerror})")
        elif key in GLOBAL_KEYS:
            problems.append(f"{where}.{raw_key}: is global (shared by every shop): set it at "
                            f"the top level of the file or as {env_name(key)}")
        elif key not in allowed:
            close = difflib.get_close_matches(key, sorted(allowed), n=1, cutoff=0.75)
            hint = f" (did you mean {where}.{close[0]}?)" if close else ""
            problems.append(f"{where}.{raw_key}: is not a known shop setting{hint}")
        elif key in LIST_KEYS and isinstance(value, str):
            own[key] = [part.strip() for part in value.split(",") if part.strip()]
        else:
            own[key] = value
    return own, problems


def _pixel(shop: Shop) -> str | None:
    # Imported here: loading the shops (the runtime, the test fakes' fixtures) must not load
    # Meta's package, which the fake Graph API is tested never to share.
    from trackside.destinations.meta.settings import MetaSettings

    return shop.settings.destination("meta", MetaSettings).meta_pixel_id


def _uniqueness_problems(shops: Sequence[Shop]) -> list[str]:
    """An API key, an allowed origin or a pixel id that two shops claim: routing would have
    to guess. The messages name the shops, never a key's value."""
    problems: list[str] = []
    key_owner: dict[str, str] = {}
    origin_owner: dict[str, str] = {}
    pixel_owner: dict[str, str] = {}
    for shop in shops:
        for key in shop.settings.api_keys:
            other = key_owner.setdefault(key.get_secret_value(), shop.name)
            if other != shop.name:
                problems.append(f"{SHOPS_TABLE}.{shop.name}.api_keys: one of its keys is also "
                                f"a key of shops.{other} (a key belongs to one shop)")
        for origin in shop.settings.allowed_origins:
            normal = origin.strip().rstrip("/").lower()
            if normal == "*" and len(shops) > 1:
                problems.append(f"{SHOPS_TABLE}.{shop.name}.allowed_origins: * would admit "
                                "every other shop's pages: list this shop's origins")
                continue
            other = origin_owner.setdefault(normal, shop.name)
            if other != shop.name:
                problems.append(f"{SHOPS_TABLE}.{shop.name}.allowed_origins: {normal} is also "
                                f"an origin of shops.{other} (an origin belongs to one shop)")
        pixel = _pixel(shop)
        if pixel:
            other = pixel_owner.setdefault(pixel, shop.name)
            if other != shop.name:
                problems.append(f"{SHOPS_TABLE}.{shop.name}.meta_pixel_id: is also the pixel "
                                f"of shops.{other} (a pixel belongs to one shop)")
    return problems
