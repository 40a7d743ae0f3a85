"""What the platform webhook sources (sources/shopify, sources/woocommerce) share.

A webhook source describes itself as a :class:`WebhookSource`: its name (the route is
``/webhooks/<name>``, web/webhooks.py), the setting that holds its secrets, how a delivery is
signed, which header keys it, and how an authentic body becomes raw canonical events. The web
layer does the HTTP: size limit, signature, the delivery record, the answer.

Every authentic delivery is answered 200 so the platform does not retry (Shopify retries 8 times
over 4 hours, https://shopify.dev/changelog/updates-to-webhook-retry-mechanism; WooCommerce
disables a webhook after repeated failures,
https://developer.woocommerce.com/docs/apis/rest-api/v3/webhooks/). One that cannot become an
event is :class:`Conversion` ``ignored`` with an :class:`Unconverted` reason: recorded and counted
(``trackside status``), never an error.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import phonenumbers
from pydantic import SecretStr

from trackside.config import Settings
from trackside.identity.cookies import is_valid_fbclid, parse_fbc, parse_fbp
from trackside.limits import LONE_SURROGATE

__all__ = [
    "Conversion",
    "Delivery",
    "MapContext",
    "Unconverted",
    "WebhookSource",
    "body_digest",
    "e164",
    "money",
    "parse_json_object",
    "verify_base64_hmac",
]


class Unconverted(StrEnum):
    """Why an authentic delivery sent no event (the reason class counted in ``status``)."""

    #: A topic trackside does not turn into events (subscribe only to the documented ones).
    UNKNOWN_TOPIC = "unknown_topic"
    #: The topic is not a payment (Shopify ``orders/create``): the payment's own topic follows.
    NOT_A_PURCHASE = "not_a_purchase"
    #: The order is not paid (pending, on-hold, failed, voided): unpaid orders are never sent.
    UNPAID = "unpaid"
    #: The body is not the documented shape (not JSON, no order id, events refused by index).
    MALFORMED = "malformed"
    #: Triggered longer ago than any configured destination accepts.
    STALE = "stale"
    #: Every event would be refused by every configured destination (trackside/admission.py;
    #: the answer's ``results`` say why, by index).
    UNDELIVERABLE = "undeliverable"
    #: A refund or cancellation that leaves no amount to reverse.
    NOTHING_TO_REFUND = "nothing_to_refund"
    #: A paid invoice of no subscription (Stripe: a one-off invoice is not a renewal).
    NOT_A_SUBSCRIPTION = "not_a_subscription"


@dataclass(frozen=True)
class Delivery:
    """What a delivery's headers say: its dedup key, topic and when it was triggered."""

    delivery_id: str
    topic: str
    #: Unix seconds (Shopify's X-Shopify-Triggered-At), None when the platform does not say.
    triggered_at: float | None = None
    #: The shop's own domain as the platform names it (X-Shopify-Shop-Domain), if any.
    shop_domain: str | None = None


@dataclass(frozen=True)
class MapContext:
    #: TRACKSIDE_EVENT_ID_PREFIX of the shop: ids match the browser tag's.
    prefix: str
    now: float
    #: The longest window of the shop's destinations (seconds): older deliveries are stale.
    max_age_s: float


@dataclass
class Conversion:
    """Raw canonical events (dicts, as parse_batch reads them), or why there are none."""

    events: list[dict[str, Any]] = field(default_factory=list)
    reason: Unconverted | None = None
    #: For a person: the order id, status or field at fault; never personal data.
    detail: str = ""

    @classmethod
    def ignored(cls, reason: Unconverted, detail: str) -> Conversion:
        return cls([], reason, detail)


class WebhookSource(Protocol):
    #: The source name events are stored under and the route's last segment.
    name: str
    #: How documents and errors name the platform.
    title: str
    #: The setting with the secrets (``TRACKSIDE_<KEY>``), two during a rotation.
    secret_key: str

    def secrets(self, settings: Settings) -> Sequence[SecretStr]: ...

    def is_ping(self, headers: Mapping[str, str], body: bytes) -> bool:
        """An unsigned hello the platform sends when the webhook is saved (answered 200,
        nothing stored)."""
        ...

    def verify(self, headers: Mapping[str, str], body: bytes,
               secrets: Sequence[SecretStr]) -> bool: ...

    def delivery(self, headers: Mapping[str, str], body: bytes) -> Delivery: ...

    def convert(self, delivery: Delivery, body: bytes, context: MapContext) -> Conversion: ...


def verify_base64_hmac(body: bytes, signature: str | None,
                       secrets: Sequence[SecretStr]) -> bool:
    """Whether ``signature`` is base64(HMAC-SHA256(secret, raw body)) for one of ``secrets``
    (Shopify and WooCommerce sign this way), compared in constant time, before any parsing."""
    if not signature or not secrets:
        return False
    try:
        given = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    matched = False
    for secret in secrets:  # every secret is tried: the time taken does not tell which matched
        expected = hmac.new(secret.get_secret_value().encode("utf-8"), body,
                            hashlib.sha256).digest()
        matched |= hmac.compare_digest(expected, given)
    return matched


def is_text(value: str) -> bool:
    """Whether ``value`` can be stored: JSON's ``\\ud800`` escape decodes to a lone surrogate,
    which no UTF-8 store (SQLite, PostgreSQL) takes (the edge limits' own check)."""
    return LONE_SURROGATE.search(value) is None


def storable(value: str) -> str:
    """``value`` with any lone surrogate replaced (U+FFFD), for a record's free text."""
    return LONE_SURROGATE.sub("\ufffd", value)


def body_digest(body: bytes) -> str:
    """A delivery key for a platform that sent none: the same body is the same delivery."""
    return "sha256:" + hashlib.sha256(body).hexdigest()[:32]


def parse_json_object(body: bytes) -> dict[str, Any] | None:
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return parsed if isinstance(parsed, dict) else None


def money(value: Any) -> Decimal | None:
    """A platform amount ("199.00", 12.5) as a Decimal; None when it is not a finite number."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return amount if amount.is_finite() else None


def as_float(amount: Decimal) -> float:
    return float(amount.quantize(Decimal("0.01")))


def text(value: Any, limit: int = 200) -> str | None:
    """A non-empty string field (numbers as their text), or None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value[:limit] if value else None


def e164(raw: str | None, country: str | None) -> str | None:
    """A national-format number in the address's own country → E.164; else unchanged (the
    pipeline's normalizer drops what it cannot read, with a warning of its own)."""
    if not raw:
        return None
    if raw.startswith(("+", "00")) or not country:
        return raw
    try:
        number = phonenumbers.parse(raw, country.upper())
    except phonenumbers.NumberParseException:
        return raw
    if not phonenumbers.is_possible_number(number):
        return raw
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def click_ids(pairs: Mapping[str, Any], url: str | None) -> dict[str, str]:
    """``fbp``/``fbc``/``fbclid`` from a platform's key-value pairs (cart attributes, order meta:
    ``_fbp``, ``_fbc``, ``fbclid``) and from a landing URL's ``fbclid``; invalid ones left out."""
    found: dict[str, str] = {}
    fbp = parse_fbp(text(pairs.get("_fbp") or pairs.get("fbp")))
    fbc = parse_fbc(text(pairs.get("_fbc") or pairs.get("fbc")))
    if fbp:
        found["fbp"] = fbp
    if fbc:
        found["fbc"] = fbc
    fbclid = text(pairs.get("fbclid"), 500)
    if not fbclid and url:
        try:
            query = parse_qs(urlsplit(url).query)
        except ValueError:
            query = {}
        fbclid = next(iter(query.get("fbclid", [])), None)
    if not fbc and fbclid and is_valid_fbclid(fbclid):
        found["fbclid"] = fbclid
    return found
