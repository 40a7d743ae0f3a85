"""TRACKSIDE_WEBHOOK_*: the webhook's own settings model (read by config.load_settings)."""

from __future__ import annotations

import ipaddress
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from trackside.config import check_http_url

#: A shorter secret is guessable offline from one signed body.
MIN_SECRET_CHARS = 16


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class WebhookSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Where each batch is POSTed: https, or http on a loopback address (a local relay).
    webhook_url: str | None = None
    #: The HMAC-SHA256 key of X-Trackside-Signature; shared with the receiver only.
    webhook_secret: SecretStr | None = None
    #: Most events per request.
    webhook_max_batch_events: int = Field(default=500, ge=1, le=10_000)
    #: Most bytes of event JSON per request (an event larger than this is dead, never sent).
    webhook_max_batch_bytes: int = Field(default=1024 * 1024, ge=16 * 1024)
    #: Which consent the receiver needs: it gets personal data (hashed), so ad consent by
    #: default; "analytics" for a receiver that only counts.
    webhook_consent: Literal["ads", "analytics"] = "ads"
    #: Retries stop (``expired``) once an event is this old.
    webhook_max_event_age_s: int = Field(default=7 * 86400, ge=3600)

    @field_validator("webhook_url")
    @classmethod
    def _https_or_loopback(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        check_http_url(value)
        parts = urlsplit(value)
        if parts.username or parts.password:
            raise ValueError("must not carry credentials: the receiver checks the signature")
        if parts.scheme != "https" and not _loopback(parts.hostname or ""):
            raise ValueError("must be https:// (http:// only on a loopback address such as "
                             "127.0.0.1, for a relay on the same host)")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if len(value.get_secret_value()) < MIN_SECRET_CHARS:
            raise ValueError(f"must be at least {MIN_SECRET_CHARS} characters")
        return value

    @model_validator(mode="after")
    def _whole(self) -> WebhookSettings:
        if (self.webhook_url is None) != (self.webhook_secret is None):
            present, missing = (("TRACKSIDE_WEBHOOK_URL", "TRACKSIDE_WEBHOOK_SECRET")
                                if self.webhook_url else
                                ("TRACKSIDE_WEBHOOK_SECRET", "TRACKSIDE_WEBHOOK_URL"))
            raise ValueError(f"{present} is set but {missing} is not: set both to send to the "
                             "webhook, or neither for no webhook")
        return self

    @property
    def configured(self) -> bool:
        return self.webhook_url is not None and self.webhook_secret is not None
