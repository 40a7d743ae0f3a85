"""TRACKSIDE_META_*: Meta's own settings model (config.load_settings reads it like any
destination's). ``meta_timeout_s`` (the worker's request timeout, for every vendor) and
``meta_opt_out`` (the consent policy's, for every ad destination) keep their historical names
but are not Meta's alone: they stay on ``config.Settings``.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from trackside.config import check_http_url, half_configured

__all__ = ["MetaSettings"]


class MetaSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Meta Conversions API:
    # https://developers.facebook.com/documentation/ads-commerce/conversions-api/using-the-api
    meta_pixel_id: str | None = None
    meta_access_token: SecretStr | None = None
    meta_test_event_code: str | None = None
    meta_api_version: str = "v26.0"
    meta_graph_url: str = "https://graph.facebook.com"
    meta_ldu: Literal["off", "geo", "always-california"] = "off"
    #: One request to Meta never carries more bytes of event JSON than this (and never more
    #: than 1,000 events, Meta's limit per request).
    meta_max_request_bytes: int = Field(default=2 * 1024 * 1024, ge=64 * 1024)

    @field_validator("meta_pixel_id", "meta_access_token", "meta_test_event_code", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("meta_api_version")
    @classmethod
    def _version_shape(cls, value: str) -> str:
        if not re.fullmatch(r"v\d+\.\d+", value):
            raise ValueError("must look like v26.0 (Meta refuses unversioned calls)")
        return value

    @field_validator("meta_graph_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return check_http_url(value).rstrip("/")

    @field_validator("meta_pixel_id")
    @classmethod
    def _pixel_digits(cls, value: str | None) -> str | None:
        # The pixel (dataset) id is the numeric Graph node id of /{pixel_id}/events
        # (https://developers.facebook.com/documentation/ads-commerce/conversions-api/using-the-api);
        # "abc" would only fail at the first send, as a dead letter.
        if value is not None and not re.fullmatch(r"[0-9]{1,20}", value):
            raise ValueError("must be the pixel's (dataset's) numeric id, digits only, as shown "
                             "in Events Manager")
        return value

    @model_validator(mode="after")
    def _whole(self) -> MetaSettings:
        # Half a destination is a mistake, not a choice: without this check Meta silently
        # became the dry run.
        half_configured(self, "meta_pixel_id", "meta_access_token", "Meta", "the dry run")
        return self

    @property
    def meta_configured(self) -> bool:
        return bool(self.meta_pixel_id and self.meta_access_token)
