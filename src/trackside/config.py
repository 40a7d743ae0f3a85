"""One typed settings object, read from ``TRACKSIDE_*`` variables and an optional TOML file.

Order of precedence: built-in default < ``trackside.toml`` (named by ``TRACKSIDE_CONFIG``) <
environment. A secret may also come from ``TRACKSIDE_<NAME>_FILE`` (Docker/Kubernetes secrets).
Secrets are ``SecretStr`` values: they print as ``**********`` and are only unwrapped at the one
place that sends them to a vendor.

A destination that brings its own settings model (``DestinationSpec.settings_model``, e.g. the
webhook's ``TRACKSIDE_WEBHOOK_*``) is read here too, without this module naming it: its keys
are validated by its model, known to the did-you-mean check, and its ``SecretStr`` fields are
secrets (masked, readable from ``*_FILE``). They land in ``Settings.destination_settings``.

Strict at start: every value is checked here (URLs, CIDRs, origins, ids, half-configured
destinations), so a bad one stops the program with the key and the reason, never a traceback
or a silent dry run later. ``serve`` and ``worker`` also refuse ``TRACKSIDE_*`` variables that no
setting reads (:func:`unknown_variable_problems`: a typo would otherwise be ignored).
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

# Re-exported: callers have always imported ConfigError from here.
from trackside.errors import ConfigError as ConfigError

if TYPE_CHECKING:
    from collections.abc import Iterator

ENV_PREFIX = "TRACKSIDE_"

#: The TOML key whose tables declare several shops (``[shops.<name>]``, trackside/shops.py).
SHOPS_TABLE = "shops"

#: Keys whose values are secrets: masked everywhere, readable from ``*_FILE``.
SECRET_KEYS = frozenset(
    {
        "api_keys",
        "admin_password",
        "signing_key",
        "prestashop_api_key",
        "shopify_webhook_secret",
        "woocommerce_webhook_secret",
        "stripe_webhook_secret",
    }
)

#: Keys given as comma-separated lists in the environment.
LIST_KEYS = frozenset({"api_keys", "allowed_origins", "trusted_proxies", "browser_custom_events",
                       "shopify_webhook_secret", "woocommerce_webhook_secret",
                       "stripe_webhook_secret"})

#: A platform's webhook secret during a rotation: the new one and the one being retired.
MAX_WEBHOOK_SECRETS = 2


#: TRACKSIDE_WORKER_LEASE_S below this is refused.
MIN_WORKER_LEASE_S = 5.0


_Model = TypeVar("_Model", bound=BaseModel)


def env_name_of(key: str) -> str:
    """How a problem names a setting by default: its environment variable."""
    return env_name(key)

#: The Settings field that holds the destinations' own settings (not a TRACKSIDE_* key).
_DESTINATION_SETTINGS = "destination_settings"


def _destination_models() -> dict[str, type[BaseModel]]:
    """Registered destinations that bring their own settings model, by destination name."""
    from trackside.destinations.registry import specs  # the registry imports this module

    return {spec.name: spec.settings_model for spec in specs() if spec.settings_model}


def _is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or SecretStr in get_args(annotation)


def secret_keys() -> frozenset[str]:
    """Settings keys whose values are secrets, the destinations' own included."""
    extra = {key for model in _destination_models().values()
             for key, info in model.model_fields.items() if _is_secret(info.annotation)}
    return SECRET_KEYS | extra


def setting_keys() -> frozenset[str]:
    """Every key a TRACKSIDE_* variable may name (without the prefix)."""
    own = set(Settings.model_fields) - {_DESTINATION_SETTINGS}
    for model in _destination_models().values():
        own |= set(model.model_fields)
    return frozenset(own)


def split_destination_values(
    values: Mapping[str, Any], name_of: Callable[[str], str] = env_name_of,
) -> tuple[dict[str, Any], dict[str, BaseModel], list[str]]:
    """(the values Settings reads itself, each destination's model built from its keys, the
    problems found): every registered model is built, with its defaults when none is set.
    ``name_of`` names a key in the problems (``TRACKSIDE_X``, or ``shops.<name>.x``)."""
    rest = dict(values)
    built: dict[str, BaseModel] = {}
    problems: list[str] = []
    for name, model in _destination_models().items():
        own = {key: rest.pop(key) for key in list(rest) if key in model.model_fields}
        try:
            built[name] = model(**own)
        except ValidationError as exc:
            problems.append(describe_validation_error(exc, name_of))
    return rest, built, problems


def half_configured(model: BaseModel, first: str, second: str, vendor: str,
                    otherwise: str) -> None:
    """ValueError when one of a destination's two must-go-together settings is set alone."""
    has_first = getattr(model, first) is not None
    if has_first != (getattr(model, second) is not None):
        present, missing = (first, second) if has_first else (second, first)
        raise ValueError(f"{env_name(present)} is set but {env_name(missing)} is not: set both "
                         f"to send to {vendor}, or neither for {otherwise}")


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Storage
    database_url: str = "sqlite:///trackside.db"
    #: Connections a PostgreSQL store keeps at most, per process (SQLite ignores it).
    database_pool_size: int = Field(default=10, ge=1, le=1000)

    # Each destination's own settings (TRACKSIDE_META_*, TRACKSIDE_GA4_*, TRACKSIDE_WEBHOOK_*)
    # are its settings model's (destinations/*/settings.py), in ``destination_settings``.
    #: The timeout of one request to a vendor, any vendor (named when Meta was the only one).
    meta_timeout_s: float = Field(default=10.0, gt=0)

    # HTTP service
    api_keys: list[SecretStr] = Field(default_factory=list)
    admin_password: SecretStr | None = None
    allowed_origins: list[str] = Field(default_factory=list)
    trusted_proxies: list[str] = Field(default_factory=list)
    cookie_domain: str | None = None
    #: Who makes the _fbp/_fbc values /collect sets: Meta's Parameter Builder (with its
    #: appendix) or trackside's hand-written four-part values (docs/browser-tag.md).
    fb_cookie_builder: Literal["meta", "trackside"] = "meta"
    max_body_bytes: int = Field(default=5 * 1024 * 1024, gt=0)
    #: Largest CSV POST /v1/imports/offline reads (it streams: memory does not grow with it).
    max_import_bytes: int = Field(default=100 * 1024 * 1024, gt=0)
    #: One event, serialized as JSON, may not be larger than this (rejected by index above).
    max_event_bytes: int = Field(default=65536, ge=1024)
    #: Custom (non-standard) event names /collect accepts besides Meta's standard events.
    browser_custom_events: list[str] = Field(default_factory=list)

    # Pipeline
    join_window_s: float = Field(default=60.0, ge=0)
    #: A killed worker's rows go out again this long after its last lease renewal.
    worker_lease_s: float = 30.0
    default_country: str | None = None
    date_day_first: bool = True
    hash_external_id: bool = True
    event_id_prefix: str = ""
    signing_key: SecretStr | None = None
    trust_browser_purchases: bool = False

    # Consent and privacy (docs/consent-and-privacy.md)
    consent_mode: Literal["eea", "required", "off"] = "eea"
    server_event_consent: Literal["deny", "grant"] = "deny"
    retention_days: int = Field(default=30, ge=1)
    meta_opt_out: Literal["suppress", "send"] = "suppress"

    # PrestaShop connector (docs/prestashop.md)
    prestashop_db_url: SecretStr | None = None
    prestashop_db_prefix: str = "ps_"
    prestashop_url: str | None = None
    prestashop_api_key: SecretStr | None = None
    prestashop_poll_s: float = Field(default=60.0, gt=0)
    prestashop_tax_included: bool = True

    # Platform webhooks (sources/shopify, sources/woocommerce; docs/sources.md): the secret
    # that signs each delivery, comma-separated "new,old" while a rotation reaches every
    # delivery (Shopify: up to an hour, https://shopify.dev/docs/apps/build/webhooks/verify-deliveries).
    shopify_webhook_secret: list[SecretStr] = Field(default_factory=list)
    woocommerce_webhook_secret: list[SecretStr] = Field(default_factory=list)
    # Stripe (sources/stripe): the endpoint's signing secret (whsec_…), "new,old" while a
    # rolled secret's old one still signs (https://docs.stripe.com/webhooks#roll-endpoint-secrets).
    stripe_webhook_secret: list[SecretStr] = Field(default_factory=list)
    #: The CRM's name sent as Meta's custom_data.lead_event_source on CRM events (trackside/
    #: crm.py) that do not name it themselves, e.g. "HubSpot".
    crm_name: str | None = Field(default=None, min_length=1, max_length=100)

    #: Destinations' own settings models, by destination name, built by load_settings from
    #: their keys (every registered model is present, with its defaults when nothing is set).
    destination_settings: dict[str, BaseModel] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _destinations_own(cls, data: Any) -> Any:
        """``Settings(meta_pixel_id=…)``: each destination's keys go to its own model."""
        if not isinstance(data, dict) or _DESTINATION_SETTINGS in data:
            return data
        rest, built, problems = split_destination_values(data)
        if problems:
            raise ValueError("; ".join(problems))
        return {**rest, _DESTINATION_SETTINGS: built}

    @field_validator("shopify_webhook_secret", "woocommerce_webhook_secret",
                     "stripe_webhook_secret")
    @classmethod
    def _rotation_pair(cls, values: list[SecretStr]) -> list[SecretStr]:
        if len(values) > MAX_WEBHOOK_SECRETS:
            raise ValueError(f"at most {MAX_WEBHOOK_SECRETS} secrets: the new one and the one "
                             "being retired (comma-separated)")
        if any(not value.get_secret_value() for value in values):
            raise ValueError("a secret may not be empty")
        return values

    @field_validator("prestashop_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return check_http_url(value).rstrip("/")

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, values: list[str]) -> list[str]:
        for entry in values:
            try:
                ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or CIDR network "
                                 "(such as 10.0.0.0/8 or 2001:db8::/32)") from None
        return values

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, values: list[str]) -> list[str]:
        for entry in values:
            check_origin(entry)
        return values

    @field_validator("worker_lease_s")
    @classmethod
    def _lease_long_enough(cls, value: float) -> float:
        # Below a few seconds the lease lapses between two heartbeats of a busy worker and
        # another worker sends the same rows again (31,000 sends for 20,000 events at 0.001).
        if not value >= MIN_WORKER_LEASE_S:
            raise ValueError(
                f"must be at least {MIN_WORKER_LEASE_S:g} seconds (a shorter lease expires while "
                "a batch is still being sent, and another worker sends it again)"
            )
        return value

    @field_validator("default_country")
    @classmethod
    def _country_code(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if len(value) != 2 or not value.isalpha():
            raise ValueError("must be an ISO 3166-1 alpha-2 code such as FR or US")
        return value.lower()

    @field_validator("database_url")
    @classmethod
    def _database_scheme(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgresql://", "postgres://")):
            raise ValueError("must start with sqlite:/// or postgresql://")
        return value

    # -- what the rest of the program asks --------------------------------------------------

    def destination(self, name: str, model: type[_Model]) -> _Model:
        """Destination ``name``'s own settings (its defaults when they were not loaded)."""
        value = self.destination_settings.get(name)
        return value if isinstance(value, model) else model()

    if not TYPE_CHECKING:  # untyped on purpose: src reads settings.destination(name, Model)

        def __getattr__(self, name: str) -> Any:
            # Reads from before the destinations had their own models (settings.meta_pixel_id,
            # settings.ga4_configured, in tests and scripts) keep working: the attribute of
            # the destination model that has it.
            for model in (self.__dict__.get(_DESTINATION_SETTINGS) or {}).values():
                if name in type(model).model_fields or hasattr(type(model), name):
                    return getattr(model, name)
            return super().__getattr__(name)

    def _all_values(self) -> Iterator[tuple[str, Any, bool]]:
        """(key, value, is secret) for every setting, the destinations' own included."""
        for key in type(self).model_fields:
            if key != _DESTINATION_SETTINGS:
                yield key, getattr(self, key), key in SECRET_KEYS
        for model in self.destination_settings.values():
            for key, info in type(model).model_fields.items():
                yield key, getattr(model, key), _is_secret(info.annotation)

    def api_key_matches(self, candidate: str) -> bool:
        import hmac

        return any(
            hmac.compare_digest(candidate.encode(), key.get_secret_value().encode())
            for key in self.api_keys
        )

    def secret_values(self) -> list[str]:
        """Every secret's clear value, for scrubbing (logs, error messages)."""
        values: list[str] = []
        for _key, value, secret in self._all_values():
            if not secret:
                continue
            for item in value if isinstance(value, list) else [value]:
                if item is not None and item.get_secret_value():
                    values.append(item.get_secret_value())
        # The store's URL is shown (masked), so it is no SecretStr; its password is a secret.
        from urllib.parse import urlsplit

        database_password = urlsplit(self.database_url).password
        if database_password:
            values.append(database_password)
        return values

    def effective(self) -> dict[str, str]:
        """The configuration as ``TRACKSIDE_*`` names and printable values, secrets masked."""
        shown: dict[str, str] = {}
        for key, value, secret in self._all_values():
            if secret:
                present = bool(value) if isinstance(value, list) else value is not None
                shown[env_name(key)] = "**********" if present else "(not set)"
            elif isinstance(value, list):
                shown[env_name(key)] = ",".join(value) if value else "(not set)"
            elif value is None:
                shown[env_name(key)] = "(not set)"
            elif key == "database_url":
                shown[env_name(key)] = mask_url_password(value)
            else:
                shown[env_name(key)] = str(value)
        return shown


def check_http_url(value: str) -> str:
    """``value`` if it is an absolute http(s) URL with a host; otherwise ValueError saying why."""
    from urllib.parse import urlsplit

    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("must be an http:// or https:// URL without spaces or control characters")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        raise ValueError("must be an http:// or https:// URL")
    try:
        host, _ = parts.hostname, parts.port
    except ValueError:
        raise ValueError("must be an http:// or https:// URL with a valid port") from None
    if not host or not re.fullmatch(r"[A-Za-z0-9.\-_:\[\]]+", parts.netloc.rsplit("@", 1)[-1]):
        raise ValueError("must be an http:// or https:// URL with a host name")
    if parts.query or parts.fragment:
        raise ValueError("must be a base URL, without ?query or #fragment")
    return value


_ORIGIN = re.compile(r"(https?)://(\*\.)?([A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*|\[[0-9A-Fa-f:.]+\])"
                     r"(:[0-9]{1,5})?/?")


def check_origin(entry: str) -> str:
    """One TRACKSIDE_ALLOWED_ORIGINS entry: ``*``, ``scheme://host[:port]`` or
    ``scheme://*.domain[:port]``; otherwise ValueError saying why."""
    if entry.strip() == "*":
        return entry
    if not _ORIGIN.fullmatch(entry.strip()):
        raise ValueError(f"{entry!r} is not an origin: write scheme://host[:port] (such as "
                         "https://shop.example), https://*.shop.example, or *; no path")
    port = entry.strip().rstrip("/").rsplit(":", 1)[-1]
    if port.isdigit() and not 0 < int(port) < 65536:
        raise ValueError(f"{entry!r} has an invalid port")
    return entry


def mask_url_password(url: str) -> str:
    """postgresql://user:pw@host/db → postgresql://user:**********@host/db."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":**********@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def env_name(key: str) -> str:
    return ENV_PREFIX + key.upper()


def _split_list(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"TRACKSIDE_CONFIG: file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"TRACKSIDE_CONFIG: {path} is not valid TOML ({exc})") from None
    values: dict[str, Any] = {}
    for key, value in raw.items():
        name = key.lower()
        if name.startswith(ENV_PREFIX.lower()):
            name = name[len(ENV_PREFIX) :]
        values[name] = value
    return values


def _read_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    known = setting_keys()
    secrets = secret_keys()
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name == "TRACKSIDE_CONFIG":
            continue
        key = name[len(ENV_PREFIX) :].lower()
        if key.endswith("_file") and key[: -len("_file")] in secrets:
            secret_key = key[: -len("_file")]
            try:
                values[secret_key] = Path(value).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"{name}: cannot read {value} ({exc.strerror})") from None
            continue
        if key in known:
            values[key] = value
        # Unknown TRACKSIDE_* variables are not settings: `serve` and `worker` refuse to start
        # with them (unknown_variable_problems), the other commands and doctor warn.
    return values


def read_values(environ: Mapping[str, str], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The raw values: the TOML file (``TRACKSIDE_CONFIG``, its ``shops`` tables included) <
    the environment < ``overrides``, comma-separated lists split."""
    values: dict[str, Any] = {}
    config_path = environ.get("TRACKSIDE_CONFIG")
    if config_path:
        values.update(_read_toml(Path(config_path)))
    values.update(_read_environ(environ))
    values.update(overrides)
    for key in LIST_KEYS & values.keys():
        values[key] = _split_list(values[key])
    return values


def build_settings(values: Mapping[str, Any],
                   name_of: Callable[[str], str] = env_name_of) -> Settings:
    """Settings from raw values, or ConfigError naming each bad key with ``name_of``."""
    values = dict(values)
    problems: list[str] = []
    if _DESTINATION_SETTINGS in values:  # a field, not a setting anyone may write
        problems.append(f"{name_of(_DESTINATION_SETTINGS)}: is not a known setting")
        del values[_DESTINATION_SETTINGS]
    rest, destination_settings, own_problems = split_destination_values(values, name_of)
    problems += own_problems
    try:
        settings = Settings(**rest, destination_settings=destination_settings)
    except ValidationError as exc:
        problems.insert(0, describe_validation_error(exc, name_of))
    if problems:
        raise ConfigError("; ".join(problems))
    return settings


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build the settings from the environment (and ``TRACKSIDE_CONFIG``), or raise ConfigError.

    One shop's settings: a file with ``[shops.<name>]`` tables is read by
    ``trackside.shops.load_shops`` instead (this refuses it rather than pick a shop).
    """
    environ = os.environ if environ is None else environ
    values = read_values(environ, overrides)
    if SHOPS_TABLE in values:
        raise ConfigError("TRACKSIDE_CONFIG: declares [shops.<name>] tables: this command "
                          "reads one shop's settings (load them with trackside.shops.load_shops)")
    return build_settings(values)


def describe_validation_error(exc: ValidationError,
                              name_of: Callable[[str], str] = env_name_of) -> str:
    lines = []
    for error in exc.errors():
        reason = error["msg"]
        if not error["loc"]:  # a rule across settings: its message names the keys
            lines.append(reason.removeprefix("Value error, "))
            continue
        key = str(error["loc"][0])
        if error["type"] == "extra_forbidden":
            reason = "is not a known setting" + _did_you_mean(env_name(key))
        lines.append(f"{name_of(key)}: {reason}")
    return "; ".join(lines)


def _known_variables() -> set[str]:
    known = {env_name(key) for key in setting_keys()}
    known |= {env_name(key) + "_FILE" for key in secret_keys()}
    known.add("TRACKSIDE_CONFIG")
    return known


def _did_you_mean(name: str) -> str:
    # Compared without the shared prefix, which would make every name look close.
    known = {known.removeprefix(ENV_PREFIX): known for known in _known_variables()}
    close = difflib.get_close_matches(name.removeprefix(ENV_PREFIX), sorted(known), n=1,
                                      cutoff=0.75)
    return f" (did you mean {known[close[0]]}?)" if close else ""


def unknown_variable_problems(environ: Mapping[str, str] | None = None) -> list[str]:
    """One message per unknown TRACKSIDE_* variable, with the closest known name."""
    return [f"{name} is not a known setting{_did_you_mean(name)}"
            for name in unknown_variables(environ)]


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """TRACKSIDE_* variables that no setting reads: usually a typo."""
    environ = os.environ if environ is None else environ
    known = _known_variables()
    return sorted(name for name in environ if name.startswith(ENV_PREFIX) and name not in known)
