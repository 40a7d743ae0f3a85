"""Identity: per-field normalization, hashing, cookies and event ids (Meta's ``user_data``)."""

from __future__ import annotations

from trackside.identity.cookies import (
    build_fbc,
    fbclid_of,
    ga_client_id,
    ga_session_id,
    new_fbp,
    parse_fbc,
    parse_fbp,
)
from trackside.identity.event_id import (
    order_event_id,
    purchase_event_id,
    random_event_id,
    resolve_event_id,
)
from trackside.identity.fields import (
    normalize_city,
    normalize_country,
    normalize_date_of_birth,
    normalize_email,
    normalize_external_id,
    normalize_gender,
    normalize_name,
    normalize_phone,
    normalize_state,
    normalize_zip,
)
from trackside.identity.hashing import is_sha256_hex, sha256_hex
from trackside.identity.network import normalize_ip
from trackside.identity.normalize import HASHED_KEYS, NormalizedUser, normalize_user

__all__ = [
    "HASHED_KEYS",
    "NormalizedUser",
    "build_fbc",
    "fbclid_of",
    "ga_client_id",
    "ga_session_id",
    "is_sha256_hex",
    "new_fbp",
    "normalize_city",
    "normalize_country",
    "normalize_date_of_birth",
    "normalize_email",
    "normalize_external_id",
    "normalize_gender",
    "normalize_ip",
    "normalize_name",
    "normalize_phone",
    "normalize_state",
    "normalize_user",
    "normalize_zip",
    "order_event_id",
    "parse_fbc",
    "parse_fbp",
    "purchase_event_id",
    "random_event_id",
    "resolve_event_id",
    "sha256_hex",
]
