"""TRACKSIDE_GA4_*: GA4's own settings model (config.load_settings reads it like any
destination's)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, SecretStr, field_validator, model_validator

from trackside.config import check_http_url, half_configured

__all__ = ["GA4Settings"]


class GA4Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # GA4 Measurement Protocol (https://developers.google.com/analytics/devguides/collection/protocol/ga4/reference)
    ga4_measurement_id: str | None = None
    ga4_api_secret: SecretStr | None = None
    ga4_url: str = "https://www.google-analytics.com"
    ga4_without_client_id: Literal["synthesize", "skip"] = "synthesize"

    @field_validator("ga4_measurement_id", "ga4_api_secret", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("ga4_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return check_http_url(value).rstrip("/")

    @model_validator(mode="after")
    def _whole(self) -> GA4Settings:
        # Half a destination is a mistake, not a choice: GA4 silently stayed off.
        half_configured(self, "ga4_measurement_id", "ga4_api_secret", "GA4", "no GA4")
        return self

    @property
    def ga4_configured(self) -> bool:
        return bool(self.ga4_measurement_id and self.ga4_api_secret)
