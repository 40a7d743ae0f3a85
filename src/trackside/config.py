"""One typed settings object, read from ``TRACKSIDE_*`` variables and an optional TOML file.

Order of precedence: built-in default < ``trackside.toml`` (named by ``TRACKSIDE_CONFIG``) <
environment. A secret may also come from ``TRACKSIDE_<NAME>_FILE`` (Docker/Kubernetes secrets).
Secrets are ``SecretStr`` values: they print as ``**********`` and are only unwrapped at the one
place that sends them to a vendor.

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
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

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

ENV_PREFIX = "TRACKSIDE_"

#: Keys whose values are secrets: masked everywhere, readable from ``*_FILE``.
SECRET_KEYS = frozenset(
    {
        "meta_access_token",
        "ga4_api_secret",
        "api_keys",
        "admin_password",
        "signing_key",
        "prestashop_api_key",
    }
)

#: Keys given as comma-separated lists in the environment.
LIST_KEYS = frozenset({"api_keys", "allowed_origins", "trusted_proxies", "browser_custom_events"})


#: TRACKSIDE_WORKER_LEASE_S below this is refused.
MIN_WORKER_LEASE_S = 5.0


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Storage
    database_url: str = "sqlite:///trackside.db"

    # Meta Conversions API (spec/meta-capi.md §1)
    meta_pixel_id: str | None = None
    meta_access_token: SecretStr | None = None
    meta_test_event_code: str | None = None
    meta_api_version: str = "v26.0"
    meta_graph_url: str = "https://graph.facebook.com"
    meta_timeout_s: float = Field(default=10.0, gt=0)
    meta_ldu: Literal["off", "geo", "always-california"] = "off"
    #: One request to Meta never carries more bytes of event JSON than this (and never more
    #: than 1,000 events, spec/meta-capi.md §1.4).
    meta_max_request_bytes: int = Field(default=2 * 1024 * 1024, ge=64 * 1024)

    # GA4 Measurement Protocol (spec/integrations.md §1)
    ga4_measurement_id: str | None = None
    ga4_api_secret: SecretStr | None = None
    ga4_url: str = "https://www.google-analytics.com"
    ga4_without_client_id: Literal["synthesize", "skip"] = "synthesize"

    # HTTP service
    api_keys: list[SecretStr] = Field(default_factory=list)
    admin_password: SecretStr | None = None
    allowed_origins: list[str] = Field(default_factory=list)
    trusted_proxies: list[str] = Field(default_factory=list)
    cookie_domain: str | None = None
    max_body_bytes: int = Field(default=5 * 1024 * 1024, gt=0)
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

    # Consent and privacy (spec/integrations.md §2)
    consent_mode: Literal["eea", "required", "off"] = "eea"
    server_event_consent: Literal["deny", "grant"] = "deny"
    retention_days: int = Field(default=30, ge=1)
    meta_opt_out: Literal["suppress", "send"] = "suppress"

    # PrestaShop connector (spec/integrations.md §3)
    prestashop_db_url: SecretStr | None = None
    prestashop_db_prefix: str = "ps_"
    prestashop_url: str | None = None
    prestashop_api_key: SecretStr | None = None
    prestashop_poll_s: float = Field(default=60.0, gt=0)
    prestashop_tax_included: bool = True

    @field_validator("meta_api_version")
    @classmethod
    def _version_shape(cls, value: str) -> str:
        import re

        if not re.fullmatch(r"v\d+\.\d+", value):
            raise ValueError("must look like v26.0 (Meta refuses unversioned calls)")
        return value

    @field_validator("meta_graph_url", "ga4_url", "prestashop_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return check_http_url(value).rstrip("/")

    @field_validator("meta_pixel_id")
    @classmethod
    def _pixel_digits(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[0-9]{1,20}", value):
            raise ValueError("must be the pixel's (dataset's) numeric id, digits only, as shown "
                             "in Events Manager")
        return value

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

    @model_validator(mode="after")
    def _destinations_whole(self) -> Settings:
        # Half a destination is a mistake, not a choice: without this check Meta silently
        # became the dry run and GA4 silently stayed off.
        pairs = (("meta_pixel_id", "meta_access_token", "Meta"),
                 ("ga4_measurement_id", "ga4_api_secret", "GA4"))
        for first, second, vendor in pairs:
            has_first = getattr(self, first) is not None
            has_second = getattr(self, second) is not None
            if has_first != has_second:
                present, missing = (first, second) if has_first else (second, first)
                raise ValueError(f"{env_name(present)} is set but {env_name(missing)} is not: "
                                 f"set both to send to {vendor}, or neither for "
                                 f"{'the dry run' if vendor == 'Meta' else 'no ' + vendor}")
        return self

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

    @property
    def meta_configured(self) -> bool:
        return bool(self.meta_pixel_id and self.meta_access_token)

    @property
    def ga4_configured(self) -> bool:
        return bool(self.ga4_measurement_id and self.ga4_api_secret)

    def api_key_matches(self, candidate: str) -> bool:
        import hmac

        return any(
            hmac.compare_digest(candidate.encode(), key.get_secret_value().encode())
            for key in self.api_keys
        )

    def secret_values(self) -> list[str]:
        """Every secret's clear value, for scrubbing (logs, error messages)."""
        values: list[str] = []
        for key in SECRET_KEYS:
            value = getattr(self, key)
            for item in value if isinstance(value, list) else [value]:
                if item is not None and item.get_secret_value():
                    values.append(item.get_secret_value())
        return values

    def effective(self) -> dict[str, str]:
        """The configuration as ``TRACKSIDE_*`` names and printable values, secrets masked."""
        shown: dict[str, str] = {}
        for key in type(self).model_fields:
            value = getattr(self, key)
            if key in SECRET_KEYS:
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
    known = set(Settings.model_fields)
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name == "TRACKSIDE_CONFIG":
            continue
        key = name[len(ENV_PREFIX) :].lower()
        if key.endswith("_file") and key[: -len("_file")] in SECRET_KEYS:
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


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build the settings from the environment (and ``TRACKSIDE_CONFIG``), or raise ConfigError."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    config_path = environ.get("TRACKSIDE_CONFIG")
    if config_path:
        values.update(_read_toml(Path(config_path)))
    values.update(_read_environ(environ))
    values.update(overrides)
    for key in LIST_KEYS & values.keys():
        values[key] = _split_list(values[key])
    for key in ("meta_pixel_id", "meta_test_event_code", "ga4_measurement_id",
                "meta_access_token", "ga4_api_secret"):
        if values.get(key) == "":
            values[key] = None
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None


def describe_validation_error(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        reason = error["msg"]
        if not error["loc"]:  # a rule across settings: its message names the keys
            lines.append(reason.removeprefix("Value error, "))
            continue
        key = str(error["loc"][0])
        if error["type"] == "extra_forbidden":
            reason = "is not a known setting" + _did_you_mean(env_name(key))
        lines.append(f"{env_name(key)}: {reason}")
    return "; ".join(lines)


def _known_variables() -> set[str]:
    known = {env_name(key) for key in Settings.model_fields}
    known |= {env_name(key) + "_FILE" for key in SECRET_KEYS}
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
