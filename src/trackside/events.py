"""The canonical event: what every source hands to ``pipeline.accept()``.

Two shapes are accepted at the edge and end up in one model:

- trackside's own (``user``, ``order``, ``consent``; see docs/api.md "POST /v1/events"), and
- Meta's native CAPI shape (``user_data`` with ``em``, ``ph``…, raw or already hashed, and
  ``custom_data``), so an existing CAPI integration can post what it already builds.

``NormalizedEvent`` is what the store keeps after identity normalization: personal data hashed
(Meta's short keys), IP and user agent in clear, the order, consent and the warnings collected
on the way.
"""

from __future__ import annotations

import logging
import math
import re
import time
from datetime import UTC, date, datetime
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from trackside import limits

log = logging.getLogger("trackside.events")

ActionSource = Literal[
    "website",
    "email",
    "app",
    "phone_call",
    "chat",
    "physical_store",
    "system_generated",
    "business_messaging",
    "other",
]
ConsentValue = Literal["granted", "denied"]

#: Values that may be one string or a list of strings, as Meta takes every hashed key and
#: external_id: https://developers.facebook.com/documentation/ads-commerce/conversions-api/parameters/customer-information-parameters
StrOrList = str | list[str]

#: Meta's lead id (leadgen_id): 15 to 17 digits, else 2804036 (rule 18 in
#: destinations/meta/rules/events.py);
#: https://developers.facebook.com/documentation/ads-commerce/conversions-api/conversion-leads-integration/payload-specification
LEAD_ID = re.compile(r"[0-9]{15,17}")

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

#: event_time above this is taken as milliseconds (year 5138 in seconds).
_MILLISECONDS_THRESHOLD = 100_000_000_000

# Meta's user_data keys → trackside's user fields.
META_USER_KEYS = {
    "em": "email",
    "ph": "phone",
    "fn": "first_name",
    "ln": "last_name",
    "db": "date_of_birth",
    "ge": "gender",
    "ct": "city",
    "st": "state",
    "zp": "zip",
    "country": "country",
    "external_id": "external_id",
    "client_ip_address": "ip",
    "client_user_agent": "user_agent",
    "fbc": "fbc",
    "fbp": "fbp",
    "lead_id": "lead_id",
    "subscription_id": "subscription_id",
    "fb_login_id": "fb_login_id",
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _identifier(value: str | None) -> str | None:
    """An id or name that reaches logs, terminals and vendors: no control characters."""
    if value is not None:
        reason = limits.control_character_reason(value)
        if reason:
            raise ValueError(reason)
    return value


class User(_Model):
    email: StrOrList | None = None
    phone: StrOrList | None = None
    first_name: StrOrList | None = None
    last_name: StrOrList | None = None
    date_of_birth: StrOrList | None = None
    gender: StrOrList | None = None
    city: StrOrList | None = None
    state: StrOrList | None = None
    zip: StrOrList | None = None
    country: StrOrList | None = None
    external_id: StrOrList | None = None
    ip: str | None = None
    user_agent: str | None = None
    fbp: str | None = None
    fbc: str | None = None
    fbclid: str | None = None
    ga_client_id: str | None = None
    ga_session_id: str | None = None
    lead_id: str | None = None
    subscription_id: str | None = None
    fb_login_id: str | None = None

    @field_validator("external_id", "lead_id", "subscription_id", "fb_login_id", mode="before")
    @classmethod
    def _ids_as_text(cls, value: Any) -> Any:
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return str(value)
        if isinstance(value, list):
            return [str(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value]
        return value


class Item(_Model):
    id: str = Field(min_length=1)
    name: str | None = None
    price: float | None = None
    quantity: int = Field(default=1, ge=0)
    category: str | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value

    @field_validator("id")
    @classmethod
    def _plain_id(cls, value: str) -> str:
        _identifier(value)
        return value

    @field_validator("price")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value


class Order(_Model):
    reference: str | None = Field(default=None, min_length=1, max_length=200)
    value: float | None = None
    currency: str | None = None
    items: list[Item] = Field(default_factory=list)
    shipping: float | None = None
    tax: float | None = None
    coupon: str | None = None
    #: A subscription charge (docs/api.md "Subscription renewals"): the subscription and the
    #: start of the period paid for; together they make the event id
    #: ``renewal:{subscription_id}:{period}`` (identity/event_id.py).
    subscription_id: str | None = Field(default=None, min_length=1, max_length=200)
    #: The period's first day, YYYY-MM-DD (a date-time or unix seconds is read as its UTC date).
    period: str | None = Field(default=None, validate_default=True)

    @field_validator("reference", "subscription_id", mode="before")
    @classmethod
    def _reference_as_text(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value

    @field_validator("reference", "subscription_id")
    @classmethod
    def _plain_reference(cls, value: str | None) -> str | None:
        return _identifier(value)

    @field_validator("period", mode="before")
    @classmethod
    def _period_date(cls, value: Any, info: ValidationInfo) -> Any:
        subscription = info.data.get("subscription_id")
        if value is None or value == "":
            if subscription:
                raise ValueError("is required with order.subscription_id: the first day of "
                                 "the period paid for, YYYY-MM-DD")
            return None
        if not subscription and "subscription_id" in info.data:
            raise ValueError("needs order.subscription_id: a period belongs to a subscription")
        return period_date(value)

    @field_validator("value", "shipping", "tax")
    @classmethod
    def _finite_amount(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if len(value) != 3 or not value.isascii() or not value.isalpha():
            raise ValueError("must be a 3-letter ISO 4217 code such as EUR")
        return value.upper()


def period_date(value: Any) -> str:
    """YYYY-MM-DD from a date, an ISO 8601 date-time or unix seconds (its UTC date)."""
    if isinstance(value, str) and _DATE.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            raise ValueError("must be a date YYYY-MM-DD (or an ISO 8601 date-time or unix "
                             "seconds)") from None
    try:
        seconds = parse_event_time(value)
    except ValueError:
        raise ValueError("must be a date YYYY-MM-DD (or an ISO 8601 date-time or unix "
                         "seconds)") from None
    return datetime.fromtimestamp(seconds, UTC).date().isoformat()


class Consent(_Model):
    ad_storage: ConsentValue | None = None
    analytics_storage: ConsentValue | None = None
    ad_user_data: ConsentValue | None = None
    ad_personalization: ConsentValue | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _lowercase(cls, value: Any) -> Any:
        if isinstance(value, bool):
            return "granted" if value else "denied"
        return value.lower() if isinstance(value, str) else value


def parse_event_time(value: Any, now: float | None = None) -> int:
    """Unix seconds from seconds, milliseconds, a numeric string or ISO 8601; None → now."""
    if value is None:
        return int(now if now is not None else time.time())
    if isinstance(value, bool):
        raise ValueError("must be unix seconds, unix milliseconds or an ISO 8601 date-time")
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            value = int(text)
        else:
            try:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                raise ValueError(
                    "must be unix seconds, unix milliseconds or an ISO 8601 date-time"
                ) from None
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            return int(parsed.timestamp())
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        value = int(value)
    if not isinstance(value, int):
        raise ValueError("must be unix seconds, unix milliseconds or an ISO 8601 date-time")
    if value < 0:
        raise ValueError("must not be negative")
    seconds: int = value // 1000 if value > _MILLISECONDS_THRESHOLD else value
    if seconds > _MILLISECONDS_THRESHOLD:
        raise ValueError("is too far in the future")
    return seconds


class Event(_Model):
    """One conversion event as a source sends it (raw personal data allowed)."""

    event_name: str = Field(min_length=1, max_length=100)
    event_id: str | None = Field(default=None, min_length=1, max_length=200)
    event_time: int = Field(default_factory=lambda: int(time.time()))
    action_source: ActionSource = "website"
    event_source_url: str | None = None
    referrer_url: str | None = None
    user: User = Field(default_factory=User)
    order: Order | None = None
    custom_data: dict[str, Any] = Field(default_factory=dict)
    consent: Consent | None = None
    opt_out: bool = False
    cart_id: str | None = None
    customer_id: str | None = None
    #: Meta's Limited Data Use, per event; overrides TRACKSIDE_META_LDU.
    #: https://developers.facebook.com/docs/marketing-apis/data-processing-options
    data_processing_options: list[Literal["LDU"]] | None = None
    data_processing_options_country: Literal[0, 1] | None = None
    data_processing_options_state: int | None = Field(default=None, ge=0, le=1013)

    @model_validator(mode="before")
    @classmethod
    def _accept_meta_shape(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        if "user_data" not in data and "custom_data" not in data:
            return data
        return from_meta_shape(data)

    @field_validator("event_id", "cart_id", "customer_id", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value

    @model_validator(mode="after")
    def _backend_events(self) -> Event:
        """A subscription charge and a CRM stage are the backend's word, not a visit: they
        default to ``system_generated`` and carry what Meta reads (trackside/crm.py)."""
        order = self.order
        if order is not None and order.subscription_id:
            if "action_source" not in self.model_fields_set:
                self.action_source = "system_generated"
            self.custom_data.setdefault("subscription_id", order.subscription_id)
            if self.user.subscription_id is None:
                self.user.subscription_id = order.subscription_id
        if self.user.lead_id is not None and self.action_source == "system_generated":
            # https://developers.facebook.com/docs/marketing-api/conversions-api/
            # conversion-leads-integration/payload-specification: CRM events say so.
            self.custom_data.setdefault("event_source", "crm")
        return self

    @field_validator("event_name", "event_id", "cart_id", "customer_id")
    @classmethod
    def _plain_identifier(cls, value: str | None) -> str | None:
        return _identifier(value)

    @field_validator("event_time", mode="before")
    @classmethod
    def _event_time(cls, value: Any) -> int:
        return parse_event_time(value)

    @field_validator("event_source_url", "referrer_url")
    @classmethod
    def _absolute_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an absolute http(s) URL")
        return value


_ORDER_KEYS_FROM_CUSTOM_DATA = ("value", "currency")


def from_meta_shape(data: dict[str, Any]) -> dict[str, Any]:
    """Turn a Meta CAPI event (``user_data``/``custom_data``) into trackside's shape."""
    out = {k: v for k, v in data.items() if k not in ("user_data", "custom_data")}
    user_data = data.get("user_data")
    if user_data is not None:
        existing = out.get("user") or {}
        if not isinstance(user_data, dict):
            # Let the model report it at the right path.
            out["user"] = user_data
        elif isinstance(existing, dict):  # else the model reports `user`
            user: dict[str, Any] = dict(existing)
            for key, value in user_data.items():
                user[META_USER_KEYS.get(key) or key] = value
            out["user"] = user
    custom = data.get("custom_data")
    if custom is not None:
        if not isinstance(custom, dict) or not isinstance(out.get("order") or {}, dict):
            # Not an object (or an order that is not one either): the model names the field.
            out["custom_data"] = custom
            return out
        custom = dict(custom)
        order: dict[str, Any] = dict(out.get("order") or {})
        for key in _ORDER_KEYS_FROM_CUSTOM_DATA:
            if key in custom:
                order[key] = custom.pop(key)
        if "order_id" in custom:
            order["reference"] = custom.pop("order_id")
        contents = custom.pop("contents", None)
        if isinstance(contents, list):
            order["items"] = [
                {
                    "id": c.get("id"),
                    "quantity": c.get("quantity", 1),
                    "price": c.get("item_price"),
                    "name": c.get("title"),
                    "category": c.get("category"),
                }
                if isinstance(c, dict)
                else c
                for c in contents
            ]
        elif contents is not None:
            order["items"] = contents
        if order:
            out["order"] = order
        out["custom_data"] = custom
    return out


class FieldError(BaseModel):
    """One problem with one field of one event, as the API reports it."""

    field: str
    reason: str


def validation_errors(exc: ValidationError, prefix: str = "") -> list[FieldError]:
    errors = []
    for error in exc.errors():
        path = prefix
        for part in error["loc"]:
            if isinstance(part, int):
                path += f"[{part}]"
            else:
                path += f".{part}" if path else str(part)
        reason = error["msg"]
        if error["type"] == "extra_forbidden":
            reason = "is not a known field"
        if reason.startswith("Value error, "):
            reason = reason[len("Value error, ") :]
        errors.append(FieldError(field=path or "(event)", reason=reason))
    return errors


def _at(prefix: str, path: str) -> str:
    if path == "(event)":
        return prefix or path
    return f"{prefix}.{path}" if prefix else path


def parse_event(raw: Any, prefix: str = "",
                max_event_bytes: int = limits.DEFAULT_MAX_EVENT_BYTES) -> Event | list[FieldError]:
    """Validate one raw event; a list of field errors when it cannot be accepted.

    The edge limits (trackside/limits.py: size, string and list lengths, nesting, finite
    numbers, valid Unicode) are checked on the raw event first, then the model's own rules.
    """
    if isinstance(raw, dict):
        problems = limits.check_event(raw, max_event_bytes)
        if problems:
            return [FieldError(field=_at(prefix, path), reason=reason) for path, reason in problems]
    try:
        event = Event.model_validate(raw)
    except ValidationError as exc:
        return validation_errors(exc, prefix)
    except (TypeError, AttributeError, KeyError, IndexError) as exc:
        # A shape the model's own code did not expect is the client's bad input, never a 500
        # that would fail its whole batch; logged as an error because it is our bug too.
        log.error("Event could not be read: %s.", type(exc).__name__, exc_info=exc)
        return [FieldError(field=prefix or "(event)", reason="could not be read as an event")]
    lead_id = event.user.lead_id
    if (event.custom_data.get("event_source") == "crm" and isinstance(lead_id, str)
            and not LEAD_ID.fullmatch(lead_id)):
        # Meta refuses a CRM event whose lead id is not one of its leads (subcode 2804036):
        # refused here, naming the field, rather than dropped as on a website event.
        return [FieldError(field=_at(prefix, "user.lead_id"),
                           reason="must be Meta's lead id (15 to 17 digits, the leadgen_id "
                                  "of the Lead Ads form) for a CRM event")]
    return event


class NormalizedEvent(BaseModel):
    """What the store keeps: personal data hashed, ready for any destination."""

    model_config = ConfigDict(extra="forbid")

    event_name: str
    event_id: str
    event_time: int
    action_source: ActionSource
    event_source_url: str | None = None
    referrer_url: str | None = None
    opt_out: bool = False
    data_processing_options: list[str] | None = None
    data_processing_options_country: int | None = None
    data_processing_options_state: int | None = None
    #: Meta's keys. Hashed keys (em, ph, fn, ln, db, ge, ct, st, zp, country, external_id)
    #: hold lists of SHA-256 hex; client_ip_address, client_user_agent, fbc, fbp, lead_id
    #: hold clear strings.
    user_data: dict[str, Any] = Field(default_factory=dict)
    ga_client_id: str | None = None
    ga_session_id: str | None = None
    order: Order | None = None
    custom_data: dict[str, Any] = Field(default_factory=dict)
    consent: Consent | None = None
    cart_id: str | None = None
    customer_id: str | None = None
    #: Country code (lowercase alpha-2) in clear, for the consent policy; never sent.
    country_hint: str | None = None
    #: Where the event came from ("api", "browser", "prestashop", …).
    source: str | None = None
    #: Where ``consent`` came from: "event" (the source said it) or "browser" (the browser's
    #: beacon said it, possibly joined to a server event).
    consent_source: str | None = None
    warnings: list[str] = Field(default_factory=list)
    #: Machine-readable markers, e.g. ``no_customer_information`` (Meta's 2804050: rule 29 in
    #: destinations/meta/rules/events.py).
    flags: list[str] = Field(default_factory=list)
